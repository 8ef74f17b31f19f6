//! Segment scheduling for one track: which segment to fetch next.
//!
//! Pure: the shell passes the element's position and what it appended, and
//! gets back what to do. Seeks need no special case: after a seek the next
//! segment is the first one not yet appended that ends after the position.

use crate::mpd::Segment;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Next {
    /// Fetch and append segment `i`.
    Fetch(usize),
    /// Enough is buffered ahead: ask again later.
    Wait,
    /// Every segment is appended.
    Done,
}

/// Decide the next step for a track.
///
/// `position` is the element's current time, `goal` how many seconds ahead
/// of it to keep buffered.
pub fn next_segment(segments: &[Segment], appended: &[bool], position: f64, goal: f64) -> Next {
    if appended.len() == segments.len() && appended.iter().all(|a| *a) {
        return Next::Done;
    }
    let candidate = segments
        .iter()
        .enumerate()
        .find(|(i, s)| !appended.get(*i).copied().unwrap_or(false) && s.start + s.duration > position);
    match candidate {
        Some((i, s)) if s.start <= position + goal => Next::Fetch(i),
        Some(_) => Next::Wait,
        // Only segments behind the position are missing (skipped by a seek).
        None => Next::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(n: usize) -> Vec<Segment> {
        (0..n).map(|i| Segment { url: format!("s{i}"), start: i as f64 * 2.0, duration: 2.0 }).collect()
    }

    #[test]
    fn fills_ahead_up_to_the_goal_then_waits() {
        let s = segs(30);
        let mut appended = vec![false; 30];
        let mut fetched = vec![];
        while let Next::Fetch(i) = next_segment(&s, &appended, 0.0, 10.0) {
            appended[i] = true;
            fetched.push(i);
        }
        assert_eq!(fetched, [0, 1, 2, 3, 4, 5]);
        assert_eq!(next_segment(&s, &appended, 0.0, 10.0), Next::Wait);
        assert_eq!(next_segment(&s, &appended, 2.5, 10.0), Next::Fetch(6));
    }

    #[test]
    fn a_seek_starts_at_the_segment_holding_the_target() {
        let s = segs(30);
        let mut appended = vec![false; 30];
        appended[0] = true;
        assert_eq!(next_segment(&s, &appended, 41.0, 10.0), Next::Fetch(20));
        appended[20] = true;
        assert_eq!(next_segment(&s, &appended, 41.0, 10.0), Next::Fetch(21));
    }

    #[test]
    fn done_when_everything_is_appended() {
        let s = segs(3);
        assert_eq!(next_segment(&s, &[true, true, true], 0.0, 10.0), Next::Done);
        assert_eq!(next_segment(&s, &[true, false, true], 5.5, 10.0), Next::Wait);
        assert_eq!(next_segment(&[], &[], 0.0, 10.0), Next::Done);
    }
}
