//! Decimal text ⇄ `f64`, written for size.
//!
//! `str::parse::<f64>` and `f64`'s `Display` are exact but bring ~25 KB of
//! tables and algorithms (dec2flt, Grisu/Dragon) into the browser build. The
//! numbers Watch Together reads and writes are media times, rates, bitrates
//! and millisecond clocks: this crate reads them to within one rounding
//! (exact for up to 15 significant digits and exponents within ±22, which
//! covers every one of them) and writes them with at most six decimals.
#![no_std]
extern crate alloc;

use alloc::string::String;

/// Exact powers of ten as `f64` (10^22 is the largest exact one).
const POW10: [f64; 23] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/// Parses a decimal number: optional sign, digits with an optional
/// fraction, optional exponent (`-1.5`, `.5`, `3.`, `2e-3`, `+4`). No
/// surrounding space, no `inf`/`nan`, no hex. `None` on anything else or on
/// overflow to infinity.
pub fn parse_f64(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let (mut mant, mut exp, mut digits) = (0u64, 0i32, 0usize);
    let mut push = |d: u8, exp: &mut i32, frac: bool| {
        // 19 digits always fit a u64; later digits only shift the exponent.
        if mant < 1_000_000_000_000_000_000 {
            mant = mant * 10 + u64::from(d - b'0');
            if frac {
                *exp -= 1;
            }
        } else if !frac {
            *exp += 1;
        }
    };
    while let Some(&d @ b'0'..=b'9') = b.get(i) {
        push(d, &mut exp, false);
        digits += 1;
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&d @ b'0'..=b'9') = b.get(i) {
            push(d, &mut exp, true);
            digits += 1;
            i += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e = 0i32;
        while let Some(&d @ b'0'..=b'9') = b.get(i) {
            e = e.saturating_mul(10).saturating_add(i32::from(d - b'0'));
            i += 1;
        }
        if i == start {
            return None;
        }
        exp = exp.saturating_add(if eneg { -e } else { e });
    }
    if i != b.len() {
        return None;
    }
    let v = scale(mant as f64, exp);
    if !v.is_finite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// `m × 10^exp`: one correctly rounded step when |exp| ≤ 22.
fn scale(mut m: f64, mut exp: i32) -> f64 {
    if m == 0.0 {
        return 0.0;
    }
    while exp > 22 {
        m *= 1e22;
        exp -= 22;
        if !m.is_finite() {
            return m;
        }
    }
    while exp < -22 {
        m /= 1e22;
        exp += 22;
        if m == 0.0 {
            return 0.0;
        }
    }
    if exp >= 0 {
        m * POW10[exp as usize]
    } else {
        m / POW10[(-exp) as usize]
    }
}

/// Parses an unsigned decimal integer (digits only: no sign, no space),
/// `None` on overflow. Stricter than `str::parse::<u64>`, which takes `+`.
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |n, d| if d.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(d - b'0')) } else { None })
}

/// Appends `v` in decimal: integers as integers (`3`, `-12`), others with
/// at most six decimals, trailing zeros trimmed (`1.5`, `0.000001`).
/// Values beyond ±9.2e12 that are not integers are rounded to integers;
/// NaN and infinities, which have no decimal form, are written as `0`.
pub fn write_f64(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push('0');
        return;
    }
    if v.abs() < 9.0e15 && v == (v as i64) as f64 {
        write_i64(out, v as i64);
        return;
    }
    if v.abs() >= 9.2e12 {
        write_i64(out, round(v) as i64);
        return;
    }
    let micros = round(v * 1e6) as i64;
    if micros < 0 {
        out.push('-');
    }
    let m = micros.unsigned_abs();
    write_u64(out, m / 1_000_000);
    let mut frac = m % 1_000_000;
    if frac != 0 {
        out.push('.');
        let mut width = 6;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        let mut buf = [b'0'; 6];
        for slot in buf[..width].iter_mut().rev() {
            *slot = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        out.extend(buf[..width].iter().map(|&c| char::from(c)));
    }
}

/// Round half away from zero without `f64::round` (which is std-only).
fn round(v: f64) -> f64 {
    let t = v as i64 as f64; // truncates toward zero
    let d = v - t;
    if d >= 0.5 {
        t + 1.0
    } else if d <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

/// Appends a signed integer.
pub fn write_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    write_u64(out, v.unsigned_abs());
}

/// Appends an unsigned integer.
pub fn write_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend(buf[i..].iter().map(|&c| char::from(c)));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    extern crate std;
    use super::*;
    use alloc::string::ToString;

    fn w(v: f64) -> String {
        let mut s = String::new();
        write_f64(&mut s, v);
        s
    }

    #[test]
    fn parses_what_std_parses_exactly_for_media_numbers() {
        for s in [
            "0",
            "1",
            "-1",
            "29.97",
            "23.976",
            "0.5",
            ".5",
            "3.",
            "4.004",
            "1e3",
            "2E-3",
            "-0.000001",
            "+7",
            "1732470000123.456",
            "48000",
            "0.04",
            "6.006",
            "9007199254740991",
        ] {
            assert_eq!(parse_f64(s), Some(s.parse::<f64>().unwrap()), "{s}");
        }
    }

    #[test]
    fn long_and_extreme_inputs_stay_within_a_rounding() {
        for s in ["3.14159265358979323846264338327950288", "123456789012345678901234567890", "1e-30", "4.9e-324", "0.1e-5", "1.7976931348623157e308"] {
            let (ours, std) = (parse_f64(s).unwrap(), s.parse::<f64>().unwrap());
            assert!((ours - std).abs() <= std.abs() * 1e-15, "{s}: {ours} vs {std}");
        }
        assert_eq!(parse_f64("1e400"), None);
        assert_eq!(parse_f64("1e-400"), Some(0.0));
    }

    #[test]
    fn rejects_what_is_not_a_decimal() {
        for s in ["", "-", ".", "e3", "1e", "1e+", "1.2.3", " 1", "1 ", "inf", "NaN", "0x10", "1,5", "--1"] {
            assert_eq!(parse_f64(s), None, "{s:?}");
        }
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64("18446744073709551616"), None);
        assert_eq!(parse_u64("+1"), None);
        assert_eq!(parse_u64(""), None);
    }

    #[test]
    fn writes_integers_plainly_and_fractions_with_six_decimals_at_most() {
        assert_eq!(w(0.0), "0");
        assert_eq!(w(-0.0), "0");
        assert_eq!(w(3.0), "3");
        assert_eq!(w(-12.0), "-12");
        assert_eq!(w(1.5), "1.5");
        assert_eq!(w(-0.25), "-0.25");
        assert_eq!(w(0.000001), "0.000001");
        assert_eq!(w(1e-9), "0");
        assert_eq!(w(12.3456789), "12.345679");
        assert_eq!(w(1732470000123.456), "1732470000123.456");
        assert_eq!(w(1e13 + 0.5), "10000000000001");
        assert_eq!(w(f64::NAN), "0");
        assert_eq!(w(9007199254740991.0), "9007199254740991");
        assert_eq!(w(1e300), "9223372036854775807", "saturates: no decimal form is sent for such values");
    }

    #[test]
    fn writing_then_reading_is_exact_to_the_microsecond() {
        let mut x = 0.123_456_7_f64;
        for _ in 0..2000 {
            x = x * 1.37 + 0.001;
            if x > 1e12 {
                x /= 1e11;
            }
            let back = parse_f64(&w(x)).unwrap();
            assert!((back - x).abs() <= 0.5e-6 + x.abs() * 1e-15, "{x} -> {} -> {back}", w(x));
            assert_eq!(w(back), w(x), "a written value reads back to the same text");
            let _ = x.to_string();
        }
    }
}
