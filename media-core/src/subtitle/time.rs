//! Clock times as subtitle formats write them: `[h:]mm:ss[.fff]` (WebVTT,
//! TTML), `hh:mm:ss,mmm` (SubRip), `h:mm:ss.cc` (ASS).

/// `[hours:]minutes:seconds[(.|,)fraction]`, every field digits only,
/// minutes and seconds under 60; `None` for anything else. Hours may have
/// any number of digits (up to a billion), the fraction up to 9.
pub fn clock(s: &str) -> Option<f64> {
    let s = s.trim();
    let (whole, fraction) = match s.find(['.', ',']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let mut fields = [0u64; 3];
    let mut n = 0;
    for part in whole.split(':') {
        if n == 3 {
            return None;
        }
        fields[n] = digits(part, 10)?;
        n += 1;
    }
    let (h, m, sec) = match n {
        2 => (0, fields[0], fields[1]),
        3 => (fields[0], fields[1], fields[2]),
        _ => return None,
    };
    if m >= 60 || sec >= 60 {
        return None;
    }
    let frac = match fraction {
        Some(f) => digits(f, 9)? as f64 / 10f64.powi(f.len() as i32),
        None => 0.0,
    };
    Some((h * 3600 + m * 60 + sec) as f64 + frac)
}

/// A non-empty run of at most `max` ASCII digits.
pub fn digits(s: &str, max: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| n.checked_mul(10)?.checked_add(u64::from(b - b'0')))
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn clock_times_of_every_format() {
        assert_eq!(clock("00:01.500"), Some(1.5));
        assert_eq!(clock("01:02:03.250"), Some(3723.25));
        assert_eq!(clock("00:00:02,040"), Some(2.04));
        assert_eq!(clock("0:00:05.12"), Some(5.12));
        assert_eq!(clock("123:00:00.000"), Some(442_800.0));
        assert_eq!(clock(" 00:00:01 "), Some(1.0));
        for bad in ["", "1", "00:60.000", "00:00:61", "aa:00:00", "1:2:3:4", "00:01.", "00:01.1234567890", "-1:00", "00:00:01.5x", "１:00"] {
            assert_eq!(clock(bad), None, "{bad:?}");
        }
    }
}
