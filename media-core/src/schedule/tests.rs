//! The engine driven through a simulated network, SourceBuffers and
//! playhead: start-up, seeks, stalls and retries, bandwidth changes, quota
//! errors, live edge tracking, end of stream, gap jumps.

use super::*;
use crate::mpd::parse;

const LADDER_240: &str = r#"<Representation id="240" bandwidth="400000" codecs="avc1.4d401e" width="426" height="240"/>"#;
const LADDER_480: &str = r#"<Representation id="480" bandwidth="1200000" codecs="avc1.4d401e" width="854" height="480"/>"#;
const LADDER_720: &str = r#"<Representation id="720" bandwidth="3000000" codecs="avc1.4d401f" width="1280" height="720"/>"#;

/// A VOD MPD: 120 s, 2 s segments, video ladder 400k/1.2M/3M, audio 128k.
fn vod(seconds: u32) -> Manifest {
    vod_listing(seconds, &[LADDER_240, LADDER_480, LADDER_720])
}

/// The same VOD with its video representations written in this order.
fn vod_listing(seconds: u32, video: &[&str]) -> Manifest {
    let video = video.join("\n    ");
    let mpd = format!(
        r#"<MPD type="static" mediaPresentationDuration="PT{seconds}S"><Period>
  <AdaptationSet contentType="video" mimeType="video/mp4">
    <SegmentTemplate timescale="1000" duration="2000" startNumber="1" media="v/$RepresentationID$/$Number$.m4s" initialization="v/$RepresentationID$/init.mp4"/>
    {video}
  </AdaptationSet>
  <AdaptationSet contentType="audio" mimeType="audio/mp4">
    <SegmentTemplate timescale="1000" duration="2000" media="a/$Number$.m4s" initialization="a/init.mp4"/>
    <Representation id="a" bandwidth="128000" codecs="mp4a.40.2"/>
  </AdaptationSet></Period></MPD>"#
    );
    parse(&mpd, "https://cdn.example/vod/manifest.mpd").expect("vod mpd")
}

fn all(_: &str) -> bool {
    true
}

struct Fetching {
    id: FetchId,
    track: usize,
    url: String,
    bytes: u64,
    started: f64,
    done_at: f64,
    span: Option<(f64, f64)>,
}

/// The world around the engine.
/// A fetch done, not yet appended: (id, track, span, bytes).
type Fetched = (FetchId, usize, Option<(f64, f64)>, u64);

struct Sim {
    e: Engine,
    now: f64,
    /// Bandwidth (bit/s) at a time (ms).
    bw: Box<dyn Fn(f64) -> f64>,
    /// Fail fetches that start in this window (ms).
    outage: Option<(f64, f64)>,
    rtt_ms: f64,
    fetching: Vec<Fetching>,
    /// Fetched, not yet appended: id → (track, span, bytes).
    fetched: Vec<Fetched>,
    buffered: Vec<Vec<(f64, f64)>>,
    bytes_in_buffer: Vec<u64>,
    quota: Option<u64>,
    time: f64,
    paused: bool,
    log: Vec<Output>,
    fetch_log: Vec<(f64, String)>,
    stalled_ms: f64,
    started_at: Option<f64>,
    ended: bool,
}

impl Sim {
    fn new(m: Manifest, cfg: EngineConfig, bw: impl Fn(f64) -> f64 + 'static) -> Sim {
        Sim::supporting(m, cfg, bw, &all)
    }

    /// A sim whose browser plays only the types `supported` accepts.
    fn supporting(m: Manifest, cfg: EngineConfig, bw: impl Fn(f64) -> f64 + 'static, supported: &dyn Fn(&str) -> bool) -> Sim {
        let mut s = Sim {
            e: Engine::new(cfg),
            now: 0.0,
            bw: Box::new(bw),
            outage: None,
            rtt_ms: 40.0,
            fetching: Vec::new(),
            fetched: Vec::new(),
            buffered: vec![Vec::new(), Vec::new()],
            bytes_in_buffer: vec![0, 0],
            quota: None,
            time: 0.0,
            paused: false,
            log: Vec::new(),
            fetch_log: Vec::new(),
            stalled_ms: 0.0,
            started_at: None,
            ended: false,
        };
        s.e.handle_manifest(0.0, m, supported);
        s.drain();
        s
    }

    fn rep_bandwidth(url: &str) -> u64 {
        if url.contains("/720/") {
            3_000_000
        } else if url.contains("/480/") {
            1_200_000
        } else if url.contains("/240/") {
            400_000
        } else {
            128_000
        }
    }

    fn drain(&mut self) {
        while let Some(o) = self.e.poll_output() {
            self.log.push(o.clone());
            match o {
                Output::Fetch { id, track, url, purpose, .. } => {
                    self.fetch_log.push((self.now, url.clone()));
                    let bytes = match purpose {
                        Purpose::Media => Self::rep_bandwidth(&url) * 2 / 8,
                        _ => 1_000,
                    };
                    let failed = self.outage.is_some_and(|(a, b)| self.now >= a && self.now < b);
                    let active = self.fetching.len() as f64 + 1.0;
                    let secs = bytes as f64 * 8.0 / ((self.bw)(self.now) / active);
                    let done_at = self.now + self.rtt_ms + if failed { 0.0 } else { secs * 1000.0 };
                    let span = if purpose == Purpose::Media { segment_span(&url) } else { None };
                    self.fetching.push(Fetching { id, track, url, bytes: if failed { u64::MAX } else { bytes }, started: self.now, done_at, span });
                }
                Output::Abort { id } => self.fetching.retain(|f| f.id != id),
                Output::Append { track, id, .. } => {
                    let Some(pos) = self.fetched.iter().position(|f| f.0 == id) else { continue };
                    let (_, _, span, bytes) = self.fetched[pos];
                    if self.quota.is_some_and(|q| self.bytes_in_buffer[track] + bytes > q) {
                        self.e.handle_append_failed(self.now, track, id, true);
                        continue;
                    }
                    self.fetched.remove(pos);
                    if let Some((s, e)) = span {
                        add_range(&mut self.buffered[track], s, e);
                        self.bytes_in_buffer[track] += bytes;
                    }
                    self.e.handle_appended(self.now, track);
                }
                Output::Remove { track, start, end } => {
                    let before = covered(&self.buffered[track]);
                    remove_range(&mut self.buffered[track], start, end);
                    let removed = before - covered(&self.buffered[track]);
                    let per_s = self.bytes_in_buffer[track] as f64 / before.max(1e-9);
                    self.bytes_in_buffer[track] = self.bytes_in_buffer[track].saturating_sub((removed * per_s) as u64);
                }
                Output::Flush { .. } => self.fetched.clear(),
                Output::Seek(t) => self.time = t,
                Output::EndOfStream => self.ended = true,
                _ => {}
            }
        }
    }

    /// Run for `ms` of simulated time in 50 ms steps.
    fn run(&mut self, ms: f64) {
        let end = self.now + ms;
        while self.now < end {
            self.now += 50.0;
            // Finished fetches.
            let (done, rest): (Vec<Fetching>, Vec<Fetching>) = std::mem::take(&mut self.fetching).into_iter().partition(|f| f.done_at <= self.now);
            self.fetching = rest;
            for f in done {
                if f.bytes == u64::MAX {
                    self.e.handle_fetch_failed(self.now, f.id, None);
                } else {
                    self.fetched.push((f.id, f.track, f.span, f.bytes));
                    let _ = &f.url;
                    self.e.handle_fetched(self.now, f.id, f.bytes, self.now - f.started, None);
                }
                self.drain();
            }
            // The playhead moves when every track has media here.
            let playable = self.buffered.iter().all(|r| r.iter().any(|(s, e)| *s <= self.time + 1e-6 && self.time + 0.05 <= *e));
            if !self.paused && !self.ended_here() {
                if playable {
                    self.time += 0.05;
                    self.started_at.get_or_insert(self.now);
                } else if self.started_at.is_some() {
                    self.stalled_ms += 50.0;
                }
            }
            let ph = Playhead { time: self.time, paused: self.paused, buffered: self.buffered.clone(), display_height: None, seeking: false, ready: true };
            self.e.handle_tick(self.now, ph);
            self.drain();
        }
    }

    fn ended_here(&self) -> bool {
        self.e.manifest().and_then(|m| m.end()).is_some_and(|end| self.time >= end - 0.06)
    }

    fn seek(&mut self, t: f64) {
        self.time = t;
        self.e.handle_seek(self.now, t);
        self.drain();
    }

    fn events(&self) -> Vec<&EngineEvent> {
        self.log.iter().filter_map(|o| if let Output::Event(e) = o { Some(e) } else { None }).collect()
    }

    fn ahead(&self, track: usize) -> f64 {
        self.buffered[track].iter().find(|(s, e)| *s <= self.time + 1e-6 && self.time < *e).map_or(0.0, |(_, e)| e - self.time)
    }

    fn qualities(&self) -> Vec<String> {
        self.events().into_iter().filter_map(|e| if let EngineEvent::Quality { id, .. } = e { Some(id.clone()) } else { None }).collect()
    }
}

/// `…/N.m4s` of a 2 s segment → its span.
fn segment_span(url: &str) -> Option<(f64, f64)> {
    let n: f64 = url.rsplit('/').next()?.strip_suffix(".m4s")?.parse().ok()?;
    Some(((n - 1.0) * 2.0, n * 2.0))
}

fn add_range(r: &mut Vec<(f64, f64)>, s: f64, e: f64) {
    r.push((s, e));
    r.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for (s, e) in r.drain(..) {
        match merged.last_mut() {
            Some(last) if s <= last.1 + 1e-6 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *r = merged;
}

fn remove_range(r: &mut Vec<(f64, f64)>, s: f64, e: f64) {
    let mut out = Vec::new();
    for &(a, b) in r.iter() {
        if b <= s || a >= e {
            out.push((a, b));
        } else {
            if a < s {
                out.push((a, s));
            }
            if b > e {
                out.push((e, b));
            }
        }
    }
    *r = out;
}

fn covered(r: &[(f64, f64)]) -> f64 {
    r.iter().map(|(s, e)| e - s).sum()
}

#[test]
fn start_up_fills_to_the_goal_and_plays_without_stalls() {
    let mut sim = Sim::new(vod(120), EngineConfig::default(), |_| 8_000_000.0);
    assert!(matches!(sim.log.iter().find(|o| matches!(o, Output::SetDuration(_))), Some(Output::SetDuration(d)) if (*d - 120.0).abs() < 1e-9));
    sim.run(20_000.0);
    let started = sim.started_at.expect("playback started");
    assert!(started < 1_500.0, "first frame after {started} ms");
    assert_eq!(sim.stalled_ms, 0.0);
    for track in 0..2 {
        let ahead = sim.ahead(track);
        assert!((28.0..=34.0).contains(&ahead), "track {track}: {ahead:.1} s ahead (goal 30)");
    }
    // Init segments come before media on each track, fetched once.
    let inits = sim.fetch_log.iter().filter(|(_, u)| u.ends_with("init.mp4")).count();
    assert!((2..=4).contains(&inits), "{inits} init fetches");
    assert!(sim.fetch_log[0].1.ends_with("init.mp4"));
}

#[test]
fn a_seek_aborts_and_refills_from_the_target_and_a_seek_into_the_buffer_fetches_nothing() {
    let mut sim = Sim::new(vod(120), EngineConfig::default(), |_| 8_000_000.0);
    sim.run(10_000.0);
    let first_after = sim.fetch_log.len();
    sim.seek(71.0);
    assert!(sim.log.iter().any(|o| matches!(o, Output::Flush { .. })));
    sim.run(3_000.0);
    let first_media =
        sim.fetch_log[first_after..].iter().find(|(_, u)| u.starts_with("https://cdn.example/vod/v/") && !u.ends_with("init.mp4")).map(|(_, u)| u.clone());
    assert!(first_media.as_deref().is_some_and(|u| u.ends_with("/36.m4s")), "segment 36 holds 71 s: {first_media:?}");
    // The shell resets each SourceBuffer's parser at the flush: every
    // track's init segment goes again before its first media segment
    // (WebKitGTK's audio takes nothing earlier than what it holds otherwise).
    for track in ["/v/", "/a/"] {
        let after: Vec<&str> = sim.fetch_log[first_after..].iter().map(|(_, u)| u.as_str()).filter(|u| u.contains(track)).collect();
        assert!(after.first().is_some_and(|u| u.ends_with("init.mp4")), "{track}: init first after the flush: {after:?}");
    }
    assert!(sim.time > 71.5, "playing again after the seek: {}", sim.time);
    // Back into what is buffered: no fetch of the segments already there.
    let t = sim.time;
    sim.seek(t + 4.0);
    let before = sim.fetch_log.len();
    sim.run(200.0);
    let refetched = sim.fetch_log[before..].iter().filter(|(_, u)| segment_span(u).is_some_and(|(s, _)| s < t + 6.0)).count();
    assert_eq!(refetched, 0, "{:?}", &sim.fetch_log[before..]);
}

#[test]
fn an_outage_stalls_reports_buffering_retries_with_backoff_and_recovers() {
    let cfg = EngineConfig { buffer_goal_s: 6.0, ..EngineConfig::default() };
    let mut sim = Sim::new(vod(120), cfg, |_| 4_000_000.0);
    sim.run(5_000.0);
    sim.outage = Some((5_000.0, 14_000.0));
    sim.run(20_000.0);
    let ev = sim.events();
    let retries: Vec<f64> = ev.iter().filter_map(|e| if let EngineEvent::Retrying { delay_ms, track: 0, .. } = e { Some(*delay_ms) } else { None }).collect();
    assert!(retries.len() >= 3, "retries {retries:?}");
    assert!(retries.windows(2).all(|w| w[1] >= w[0]), "backoff grows: {retries:?}");
    let b: Vec<bool> = ev.iter().filter_map(|e| if let EngineEvent::Buffering(b) = e { Some(*b) } else { None }).collect();
    assert_eq!(b.first(), Some(&true), "buffering reported: {b:?}");
    assert_eq!(b.last(), Some(&false), "and over: {b:?}");
    assert!(!ev.iter().any(|e| matches!(e, EngineEvent::Error(_))), "no fatal error");
    assert!(sim.time > 15.0, "playing again: {}", sim.time);
}

#[test]
fn a_track_fails_cleanly_after_the_last_attempt() {
    let cfg = EngineConfig { max_attempts: 3, retry_base_ms: 100.0, ..EngineConfig::default() };
    let mut sim = Sim::new(vod(60), cfg, |_| 4_000_000.0);
    sim.outage = Some((0.0, 1e12));
    sim.run(5_000.0);
    let errors = sim.events().into_iter().filter(|e| matches!(e, EngineEvent::Error(EngineError::FetchFailed { .. }))).count();
    assert_eq!(errors, 2, "one per track, once");
}

#[test]
fn a_bandwidth_drop_switches_down_fast_and_a_rise_climbs_back() {
    // 8 Mbit/s, then 900 kbit/s from 30 s to 80 s, then 8 Mbit/s again.
    let mut sim = Sim::new(vod(300), EngineConfig::default(), |t| if (30_000.0..80_000.0).contains(&t) { 900_000.0 } else { 8_000_000.0 });
    sim.run(30_000.0);
    assert_eq!(sim.qualities().last().map(String::as_str), Some("720"), "top quality on a fast network: {:?}", sim.qualities());
    // The 720p segment in flight at the drop takes ~13 s to finish; the
    // next choice is already down, straight to the bottom.
    sim.run(20_000.0);
    assert_eq!(sim.qualities().last().map(String::as_str), Some("240"), "down after the drop: {:?}", sim.qualities());
    // Up again one step at a time once the slow average has forgotten the
    // drop (downloads are weighted by their duration: the long slow ones
    // weigh more, so the climb is deliberately cautious).
    sim.run(90_000.0);
    assert_eq!(sim.qualities().last().map(String::as_str), Some("720"), "back up: {:?}", sim.qualities());
    let q = sim.qualities();
    let ranks: Vec<usize> = q.iter().map(|id| ["240", "480", "720"].iter().position(|x| x == id).unwrap_or(0)).collect();
    let after_drop = ranks.iter().rposition(|r| *r == 0).unwrap_or(0);
    assert!(ranks[after_drop..].windows(2).all(|w| w[1] == w[0] + 1), "one step at a time: {q:?}");
    assert!(sim.stalled_ms < 2_000.0, "stalled {} ms", sim.stalled_ms);
}

#[test]
fn quota_exceeded_evicts_and_retries_smaller() {
    let mut sim = Sim::new(vod(300), EngineConfig::default(), |_| 8_000_000.0);
    // Room for about 12 s of the top quality.
    sim.quota = Some(3_000_000 / 8 * 12);
    sim.run(120_000.0);
    assert!(sim.log.iter().any(|o| matches!(o, Output::Remove { .. })), "evicted");
    // The quota path itself: the refused bytes are appended again, under a smaller goal.
    let appends: Vec<FetchId> = sim.log.iter().filter_map(|o| if let Output::Append { id, .. } = o { Some(*id) } else { None }).collect();
    assert!(appends.iter().enumerate().any(|(i, id)| appends[..i].contains(id)), "a refused append is retried with the same bytes");
    assert!(sim.e.cfg.buffer_goal_s < EngineConfig::default().buffer_goal_s, "the buffer goal shrank: {}", sim.e.cfg.buffer_goal_s);
    assert!(sim.time > 100.0, "kept playing: {}", sim.time);
    assert!(!sim.events().iter().any(|e| matches!(e, EngineEvent::Error(_))));
}

#[test]
fn the_back_buffer_is_evicted() {
    let mut sim = Sim::new(vod(300), EngineConfig::default(), |_| 8_000_000.0);
    sim.run(100_000.0);
    let first = sim.buffered[0].first().map_or(0.0, |r| r.0);
    assert!(first > sim.time - 45.0, "kept from {first} at {}", sim.time);
}

#[test]
fn end_of_stream_comes_once_after_the_last_append() {
    let mut sim = Sim::new(vod(20), EngineConfig::default(), |_| 8_000_000.0);
    sim.run(30_000.0);
    assert_eq!(sim.log.iter().filter(|o| matches!(o, Output::EndOfStream)).count(), 1);
    let last_append = sim.log.iter().rposition(|o| matches!(o, Output::Append { .. }));
    let eos = sim.log.iter().position(|o| matches!(o, Output::EndOfStream));
    assert!(eos > last_append);
}

#[test]
fn a_small_gap_is_jumped() {
    let mut e = Engine::new(EngineConfig::default());
    e.handle_manifest(0.0, vod(60), &all);
    while e.poll_output().is_some() {}
    let buffered = vec![vec![(0.0, 10.0), (10.3, 30.0)], vec![(0.0, 30.0)]];
    e.handle_tick(0.0, Playhead { time: 9.99, paused: false, buffered: buffered.clone(), display_height: None, seeking: false, ready: true });
    e.handle_tick(1_500.0, Playhead { time: 9.99, paused: false, buffered, display_height: None, seeking: false, ready: true });
    let outs: Vec<Output> = std::iter::from_fn(|| e.poll_output()).collect();
    assert!(outs.iter().any(|o| matches!(o, Output::Seek(t) if (*t - 10.31).abs() < 1e-6)), "{outs:?}");
}

/// The seeks a tick asked for.
fn seeks(e: &mut Engine) -> Vec<f64> {
    std::iter::from_fn(|| e.poll_output()).filter_map(|o| if let Output::Seek(t) = o { Some(t) } else { None }).collect()
}

/// An engine with a VOD loaded, its first outputs drained.
fn loaded() -> Engine {
    let mut e = Engine::new(EngineConfig::default());
    e.handle_manifest(0.0, vod(60), &all);
    while e.poll_output().is_some() {}
    e
}

/// Ticks every 500 ms over `from..=to` (ms); each seek asked for is
/// started by the element, as the shell reports it (`seeking`); all the
/// seeks asked for.
fn ticks(e: &mut Engine, from: u32, to: u32, ph: &Playhead) -> Vec<f64> {
    let mut all = Vec::new();
    for now in (from..=to).step_by(500) {
        e.handle_tick(f64::from(now), ph.clone());
        for t in seeks(e) {
            e.handle_seek(f64::from(now), t);
            all.push(t);
        }
    }
    all
}

/// WebKitGTK's live HLS start on busy cores: at 24.147 s, 24.137–40 in both tracks.
fn held_at_live_start(paused: bool, seeking: bool, ready: bool) -> Playhead {
    Playhead { time: 24.147, paused, buffered: vec![vec![(24.137, 40.0)], vec![(24.137, 40.0)]], display_height: None, seeking, ready }
}

#[test]
fn a_paused_element_without_the_frame_inside_its_media_is_seeked_where_it_stands_three_times() {
    // WebKitGTK stood paused (its `autoplay` waiting) with readyState at
    // HAVE_METADATA.
    let mut e = loaded();
    let held = held_at_live_start(true, false, false);
    assert_eq!(ticks(&mut e, 0, 500, &held), Vec::<f64>::new(), "not before a second");
    // Its own seeks, started by the element, do not start the count again.
    assert_eq!(ticks(&mut e, 1_000, 9_000, &held), vec![24.147; 3], "where it stands, three times in all");
    // With its frame again, and then without: the count starts over.
    assert_eq!(ticks(&mut e, 9_500, 9_500, &held_at_live_start(true, false, true)), Vec::<f64>::new());
    assert_eq!(ticks(&mut e, 10_000, 11_000, &held), vec![24.147]);
    // So does a seek of someone else's (the viewer's, the room's).
    let mut e = loaded();
    assert_eq!(ticks(&mut e, 0, 5_000, &held), vec![24.147; 3]);
    e.handle_seek(5_200.0, 24.5);
    let moved = Playhead { time: 24.5, ..held };
    assert_eq!(ticks(&mut e, 5_500, 6_500, &moved), vec![24.5]);
}

#[test]
fn a_paused_seek_that_does_not_end_with_media_at_its_target_is_started_again() {
    let mut e = loaded();
    let seeking = held_at_live_start(true, true, false);
    assert_eq!(ticks(&mut e, 0, 4_500, &seeking), Vec::<f64>::new(), "a seek is waited for");
    assert_eq!(ticks(&mut e, 5_000, 5_000, &seeking), vec![24.147]);
    // The new seek is given its time too.
    assert_eq!(ticks(&mut e, 5_500, 10_000, &seeking), Vec::<f64>::new());
    assert_eq!(ticks(&mut e, 10_500, 10_500, &seeking), vec![24.147]);
}

#[test]
fn a_playing_element_stuck_or_seeking_with_media_ahead_is_not_moved() {
    // In a room, a seek of the engine's there would be taken for the
    // viewer's: the room sent back to where this element stands.
    for (ready, seeking) in [(false, false), (true, false), (false, true)] {
        let mut e = loaded();
        assert_eq!(ticks(&mut e, 0, 12_000, &held_at_live_start(false, seeking, ready)), Vec::<f64>::new(), "ready {ready}, seeking {seeking}");
    }
}

#[test]
fn a_held_element_is_left_alone_with_its_frame_in_a_hole_or_without_media_ahead() {
    let full = vec![vec![(0.0, 40.0)], vec![(0.0, 40.0)]];
    let cases = [
        ("paused with its frame", Playhead { time: 12.0, paused: true, buffered: full.clone(), display_height: None, seeking: false, ready: true }),
        // Audio runs out at 12.2: no media ahead.
        (
            "starved",
            Playhead { time: 12.0, paused: true, buffered: vec![vec![(0.0, 40.0)], vec![(0.0, 12.2)]], display_height: None, seeking: false, ready: false },
        ),
        // In a hole a frame long, before the media: seeking there again lands there again.
        ("in a hole", Playhead { time: 24.13, ..held_at_live_start(true, false, false) }),
    ];
    for (what, ph) in cases {
        let mut e = loaded();
        assert_eq!(ticks(&mut e, 0, 4_500, &ph), Vec::<f64>::new(), "{what}");
    }
}

#[test]
fn live_starts_behind_the_edge_and_tracks_it() {
    // availabilityStartTime = Unix 0 + 1000 s; "now" is 1 100 s.
    let mpd = r#"<MPD type="dynamic" availabilityStartTime="1970-01-01T00:16:40Z" minimumUpdatePeriod="PT4S" suggestedPresentationDelay="PT6S" timeShiftBufferDepth="PT60S"><Period start="PT0S">
      <AdaptationSet contentType="video" mimeType="video/mp4"><SegmentTemplate timescale="1" duration="2" startNumber="1" media="v/$RepresentationID$/$Number$.m4s" initialization="v/$RepresentationID$/init.mp4"/>
        <Representation id="240" bandwidth="400000" codecs="avc1.4d401e" height="240"/></AdaptationSet>
      <AdaptationSet contentType="audio" mimeType="audio/mp4"><SegmentTemplate timescale="1" duration="2" media="a/$Number$.m4s" initialization="a/init.mp4"/>
        <Representation id="a" bandwidth="128000" codecs="mp4a.40.2"/></AdaptationSet></Period></MPD>"#;
    let now0 = 1_100_000.0;
    let m = crate::mpd::parse(mpd, "https://cdn.example/live/manifest.mpd").expect("live mpd");
    let mut e = Engine::new(EngineConfig::default());
    e.handle_manifest(now0, m, &all);
    let outs: Vec<Output> = std::iter::from_fn(|| e.poll_output()).collect();
    let seek = outs.iter().find_map(|o| if let Output::Seek(t) = o { Some(*t) } else { None }).expect("a start position");
    assert!((seek - 94.0).abs() < 1e-6, "100 s of presentation minus the 6 s delay: {seek}");
    let first_media = outs.iter().find_map(|o| match o {
        Output::Fetch { url, purpose: Purpose::Media, .. } => Some(url.clone()),
        _ => None,
    });
    assert!(first_media.is_none(), "init first: {outs:?}");
    // Walk 20 s of real time: fetches follow the edge and never run ahead of it.
    let mut t = now0;
    let mut fetched = Vec::new();
    let mut refreshes = 0;
    let mut pos = seek;
    while t < now0 + 20_000.0 {
        t += 100.0;
        pos += 0.1;
        e.handle_tick(
            t,
            Playhead {
                time: pos,
                paused: false,
                buffered: vec![vec![(seek, pos + 4.0)], vec![(seek, pos + 4.0)]],
                display_height: None,
                seeking: false,
                ready: true,
            },
        );
        while let Some(o) = e.poll_output() {
            match o {
                Output::Fetch { id, url, purpose, .. } => {
                    if purpose == Purpose::Media {
                        let n: u64 = url.rsplit('/').next().and_then(|f| f.strip_suffix(".m4s")).and_then(|n| n.parse().ok()).unwrap_or(0);
                        fetched.push((t, n));
                    }
                    e.handle_fetched(t, id, 10_000, 20.0, None);
                }
                Output::RefreshManifest => refreshes += 1,
                _ => {}
            }
        }
    }
    for (at, n) in &fetched {
        let live_p = (at - 1_000_000.0) / 1000.0;
        let seg_end = *n as f64 * 2.0;
        assert!(seg_end <= live_p + 1e-6, "segment {n} (ends {seg_end}) fetched at presentation {live_p}: not yet available");
    }
    assert!(fetched.len() >= 8, "media was fetched: {fetched:?}");
    let (last_at, last_n) = *fetched.last().expect("fetched");
    let edge_n = ((last_at - 1_000_000.0) / 1000.0 / 2.0).floor() as u64;
    assert!(edge_n - last_n <= 1, "keeps up with the edge: fetched {last_n}, edge {edge_n}");
    assert!((4..=6).contains(&refreshes), "refresh every 4 s over 20 s: {refreshes}");
}

#[test]
fn the_manual_quality_override_pins_the_choice() {
    let mut sim = Sim::new(vod(120), EngineConfig::default(), |_| 8_000_000.0);
    sim.e.set_quality(Some(0));
    sim.run(20_000.0);
    assert!(sim.qualities().iter().all(|q| q == "240"), "{:?}", sim.qualities());
    assert_eq!(sim.e.qualities().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["240", "480", "720"]);
}

#[test]
fn the_quality_menu_is_the_playable_ladder_its_index_pins() {
    // The browser cannot play the 720 rung (other codecs): the menu must not
    // offer it, and menu index 1 is the 480 rung ABR also calls 1.
    let no_720 = |t: &str| !t.contains("4d401f");
    let mut sim = Sim::supporting(vod(120), EngineConfig::default(), |_| 8_000_000.0, &no_720);
    assert_eq!(sim.e.qualities().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["240", "480"]);
    sim.e.set_quality(Some(1));
    sim.run(20_000.0);
    let q = sim.qualities();
    assert!(q.last().is_some_and(|l| l == "480") && !q.iter().any(|x| x == "720"), "{q:?}");
}

#[test]
fn the_first_representation_with_other_codecs_than_the_sourcebuffer_changes_type_first() {
    // Listed first (so the SourceBuffer is made with its type) is 720, but ABR starts low.
    let mut sim = Sim::new(vod_listing(60, &[LADDER_720, LADDER_480, LADDER_240]), EngineConfig::default(), |_| 8_000_000.0);
    sim.run(3_000.0);
    let first_append = sim.log.iter().position(|o| matches!(o, Output::Append { track: 0, .. })).expect("video appended");
    let change = sim.log.iter().position(|o| matches!(o, Output::ChangeType { track: 0, content_type } if content_type.contains("4d401e")));
    assert!(sim.log.iter().any(|o| matches!(o, Output::Event(EngineEvent::Tracks(t)) if t[0].1.contains("4d401f"))));
    assert!(change.is_some_and(|c| c < first_append), "changeType before the first append: {:?}", &sim.log[..first_append + 1]);
}

#[test]
fn a_pinned_quality_replaces_what_is_buffered_ahead() {
    let mut sim = Sim::new(vod(120), EngineConfig::default(), |_| 8_000_000.0);
    sim.run(30_000.0);
    assert_eq!(sim.qualities().last().map(String::as_str), Some("720"));
    let t = sim.time;
    let logged = sim.log.len();
    let before = sim.fetch_log.len();
    sim.e.set_quality(Some(0));
    sim.run(3_000.0);
    let refetched: Vec<&String> = sim.fetch_log[before..].iter().map(|(_, u)| u).filter(|u| u.contains("/v/240/") && !u.ends_with("init.mp4")).collect();
    let first = refetched.first().and_then(|u| segment_span(u));
    assert!(first.is_some_and(|(s, e)| s <= t + 2.0 && t + 2.0 < e), "refetch from the segment at the playhead + 2 s: {first:?} at {t}");
    // What lies past that segment is removed, not from the playhead + 2 s:
    // the media of the segment before may run past its listed end
    // (B-frames), and nothing would fill a hole cut there.
    let removes: Vec<(f64, f64)> = sim.log[logged..]
        .iter()
        .filter_map(|o| if let Output::Remove { track: 0, start, end } = o { Some((*start, *end)) } else { None })
        .filter(|r| r.1 > t)
        .collect();
    let (_, first_end) = first.unwrap_or_default();
    assert!(matches!(removes[..], [(s, e)] if (s - first_end).abs() < 1e-9 && e.is_infinite()), "{removes:?}, first segment fetched again ends at {first_end}");
    assert_eq!(sim.stalled_ms, 0.0);
}

#[test]
fn two_periods_play_in_order_each_with_its_offset_and_window() {
    let mpd = r#"<MPD type="static" mediaPresentationDuration="PT20S">
      <Period id="p1" start="PT0S" duration="PT8S"><AdaptationSet contentType="video" mimeType="video/mp4">
        <SegmentTemplate timescale="1000" duration="2000" media="v/$RepresentationID$/$Number$.m4s" initialization="v/$RepresentationID$/init.mp4"/>
        <Representation id="240" bandwidth="400000" codecs="avc1.4d401e"/></AdaptationSet>
        <AdaptationSet contentType="audio" mimeType="audio/mp4"><SegmentTemplate timescale="1000" duration="2000" media="a/$Number$.m4s" initialization="a/init.mp4"/>
        <Representation id="a" bandwidth="128000" codecs="mp4a.40.2"/></AdaptationSet></Period>
      <Period id="p2" start="PT8S" duration="PT12S"><AdaptationSet contentType="video" mimeType="video/mp4">
        <SegmentTemplate timescale="1000" duration="2000" presentationTimeOffset="4000" media="v/$RepresentationID$/$Number$.m4s" initialization="v/$RepresentationID$/init.mp4"/>
        <Representation id="240" bandwidth="400000" codecs="avc1.4d401e"/></AdaptationSet>
        <AdaptationSet contentType="audio" mimeType="audio/mp4"><SegmentTemplate timescale="1000" duration="2000" presentationTimeOffset="4000" media="a/$Number$.m4s" initialization="a/init.mp4"/>
        <Representation id="a" bandwidth="128000" codecs="mp4a.40.2"/></AdaptationSet></Period></MPD>"#;
    let m = parse(mpd, "https://cdn.example/two/manifest.mpd").expect("two periods");
    let mut e = Engine::new(EngineConfig::default());
    e.handle_manifest(0.0, m, &all);
    let mut appends = Vec::new();
    for step in 0..200 {
        let now = step as f64 * 50.0;
        e.handle_tick(now, Playhead { time: 0.0, paused: true, buffered: vec![vec![], vec![]], display_height: None, seeking: false, ready: true });
        while let Some(o) = e.poll_output() {
            match o {
                Output::Fetch { id, .. } => e.handle_fetched(now, id, 50_000, 100.0, None),
                Output::Append { track: 0, timestamp_offset, window, .. } => appends.push((timestamp_offset, window)),
                _ => {}
            }
        }
    }
    // Period 1: 4 segments + init, offset 0, window [0, 8); period 2: init +
    // 6 segments, offset 8 − 4 = 4, window [8, 20).
    let p1 = appends.iter().filter(|(o, w)| *o == 0.0 && *w == (0.0, 8.0)).count();
    let p2 = appends.iter().filter(|(o, w)| *o == 4.0 && *w == (8.0, 20.0)).count();
    assert_eq!((p1, p2, appends.len()), (5, 7, 12), "{appends:?}");
    assert!(appends.iter().position(|(o, _)| *o == 4.0) > appends.iter().rposition(|(o, _)| *o == 0.0), "period 1 first");
}

#[test]
fn a_retried_webm_init_fetch_still_hands_its_bytes_to_the_engine() {
    // WebM on demand: the init segment's header locates the Cues, so the
    // engine reads it — on every attempt, not only the first.
    let mpd = r#"<MPD type="static" mediaPresentationDuration="PT10S"><Period>
      <AdaptationSet contentType="video" mimeType="video/webm"><Representation id="v" bandwidth="400000" codecs="vp9">
        <BaseURL>v.webm</BaseURL><SegmentBase indexRange="900-999"><Initialization range="0-899"/></SegmentBase></Representation></AdaptationSet></Period></MPD>"#;
    let mut e = Engine::new(EngineConfig { retry_base_ms: 10.0, ..EngineConfig::default() });
    e.handle_manifest(0.0, parse(mpd, "https://cdn.example/od/manifest.mpd").expect("mpd"), &all);
    let mut init_fetches = Vec::new();
    for step in 1..40 {
        let now = step as f64 * 50.0;
        e.handle_tick(now, Playhead::default());
        while let Some(o) = e.poll_output() {
            if let Output::Fetch { id, purpose: Purpose::Init, inspect, .. } = o {
                init_fetches.push(inspect);
                e.handle_fetch_failed(now, id, None);
            }
        }
    }
    assert!(init_fetches.len() >= 2, "retried: {init_fetches:?}");
    assert!(init_fetches.iter().all(|i| *i), "every attempt inspected: {init_fetches:?}");
}

#[test]
fn live_hls_starts_three_targets_behind_the_edge_places_each_segment_at_its_start_and_follows_reloads() {
    use crate::hls::{parse_playlist, single_variant, to_manifest, LiveTimes, Playlist};
    let url = "https://live.example/v.m3u8";
    let playlist = |first: u64| {
        let mut text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-MAP:URI=\"init.mp4\"\n");
        for i in first..first + 10 {
            text.push_str(&format!("#EXTINF:2.0,\nseg-{i}.m4s\n"));
        }
        match parse_playlist(&text, url) {
            Ok(Playlist::Media(m)) => m,
            other => panic!("{other:?}"),
        }
    };
    let master = single_variant(url);
    let mut times = LiveTimes::default();
    // Segments 100..110 listed at Unix ms 1_000_000: 0..20 s, edge 20 s.
    let mut first = playlist(100);
    times.place(0, &mut first, 1_000_000.0);
    let mut e = Engine::new(EngineConfig::default());
    e.handle_manifest(1_000_000.0, to_manifest(&master, &[Some(first)], None, Some(&times)), &all);
    let mut fetched = Vec::new();
    let mut appends = Vec::new();
    let mut seek = None;
    let mut refreshes = 0;
    let mut quota_once = true;
    for step in 0..160 {
        let now = 1_000_000.0 + f64::from(step) * 50.0;
        e.handle_tick(now, Playhead { time: seek.unwrap_or(0.0), paused: true, buffered: vec![vec![]], display_height: None, seeking: false, ready: true });
        while let Some(o) = e.poll_output() {
            match o {
                Output::Seek(t) => seek = Some(t),
                Output::Fetch { id, url, .. } => {
                    fetched.push(url.rsplit('/').next().unwrap_or_default().to_string());
                    e.handle_fetched(now, id, 50_000, 100.0, None);
                }
                Output::Append { id, timestamp_offset, placed, .. } => {
                    appends.push((timestamp_offset, placed));
                    if quota_once && appends.len() == 3 {
                        // The same bytes again after a QuotaExceededError: same place.
                        quota_once = false;
                        e.handle_append_failed(now, 0, id, true);
                    } else {
                        e.handle_appended(now, 0);
                    }
                }
                Output::RefreshManifest => {
                    // The window slid by one segment a reload (2 s).
                    refreshes += 1;
                    let mut next = playlist(100 + refreshes);
                    times.place(0, &mut next, now);
                    e.handle_manifest(now, to_manifest(&master, &[Some(next)], None, Some(&times)), &all);
                }
                _ => {}
            }
        }
    }
    // Edge 20 s, three target durations back: 14 s, in segment 107 (14–16 s).
    assert_eq!(seek, Some(14.0));
    assert_eq!(fetched.first().map(String::as_str), Some("init.mp4"));
    assert_eq!(fetched.get(1).map(String::as_str), Some("seg-107.m4s"), "{fetched:?}");
    // 8 s of simulated time: reloads every target duration list 110.., and they are fetched.
    assert!(refreshes >= 3, "{refreshes}");
    assert!(fetched.iter().any(|f| f == "seg-111.m4s"), "segments listed by later reloads: {fetched:?}");
    // Media appends are placed at their starts: 14, 16, 16 again (the quota retry), 18, 20, …
    let media: Vec<f64> = appends.iter().skip(1).map(|(o, p)| if *p { *o } else { -1.0 }).collect();
    assert_eq!(&media[..5], &[14.0, 16.0, 16.0, 18.0, 20.0], "{appends:?}");
    // The event ends (EXT-X-ENDLIST): the presentation gets its length and
    // the reloads stop.
    let mut last = playlist(100 + refreshes);
    last.endlist = true;
    times.place(0, &mut last, 1_008_000.0);
    e.handle_manifest(1_008_000.0, to_manifest(&master, &[Some(last)], None, Some(&times)), &all);
    let mut outs = Vec::new();
    for step in 0..200 {
        e.handle_tick(
            1_008_000.0 + f64::from(step) * 50.0,
            Playhead { time: 20.0, paused: true, buffered: vec![vec![]], display_height: None, seeking: false, ready: true },
        );
        while let Some(o) = e.poll_output() {
            if let Output::Fetch { id, .. } = o {
                e.handle_fetched(1_008_000.0, id, 50_000, 100.0, None);
            } else if matches!(o, Output::SetDuration(_) | Output::RefreshManifest) {
                outs.push(o);
            }
        }
    }
    let end = 2.0 * (10.0 + refreshes as f64);
    assert_eq!(outs, vec![Output::SetDuration(end)], "a length once, no more reloads");
}

/// HLS fMP4 driven with real init and media bytes (video 90 kHz, audio
/// 48 kHz) whose own timestamps are `media(n)` for segment `n`: the media
/// appends as `(timestampOffset, placed)`, by segment number.
fn hls_fmp4_appends(playlist: &str, media: &dyn Fn(u64) -> f64, seek: Option<f64>) -> Vec<(u64, f64, bool)> {
    use crate::fmp4::{fragment, init_segment, Run, Sample, SampleEntry, Track};
    use crate::hls::{parse_playlist, single_variant, to_manifest, LiveTimes, Playlist};
    let url = "https://cdn.example/v.m3u8";
    let Ok(Playlist::Media(mut m)) = parse_playlist(playlist, url) else { panic!("playlist") };
    let tracks = [
        Track { id: 1, timescale: 90_000, entry: SampleEntry::Avc { avcc: vec![1, 0x64, 0, 0x1e, 0xff, 0xe0, 0x01, 0x00], width: 320, height: 180 } },
        Track { id: 2, timescale: 48_000, entry: SampleEntry::Mp4a { object_type: 0x40, config: vec![0x11, 0x90], channels: 2, sample_rate: 48_000 } },
    ];
    let init = init_segment(&tracks);
    let segment = |n: u64| {
        let t = media(n);
        if t.is_nan() {
            return vec![0xff; 64]; // no moof
        }
        let run = |track: u32, scale: f64, lead: f64| Run {
            track,
            base_time: ((t + lead) * scale).round() as u64,
            samples: vec![Sample { duration: 1024, size: 4, keyframe: true, cts: 0 }],
            data: vec![0; 4],
        };
        // Video a frame after the audio, as ffmpeg writes it.
        fragment(n as u32, &[run(1, 90_000.0, 0.04), run(2, 48_000.0, 0.0)])
    };
    let mut times = LiveTimes::default();
    let live = !m.endlist;
    if live {
        times.place(0, &mut m, 1_000_000.0);
    }
    let mut e = Engine::new(EngineConfig::default());
    e.handle_manifest(1_000_000.0, to_manifest(&single_variant(url), &[Some(m)], None, live.then_some(&times)), &all);
    let mut numbers = std::collections::HashMap::new();
    let mut appends = Vec::new();
    let mut at = seek;
    for step in 0..100 {
        let now = 1_000_000.0 + f64::from(step) * 50.0;
        e.handle_tick(now, Playhead { time: at.unwrap_or(0.0), paused: true, buffered: vec![vec![]], display_height: None, seeking: false, ready: true });
        if step == 0 {
            if let Some(t) = seek {
                e.handle_seek(now, t);
            }
        }
        while let Some(o) = e.poll_output() {
            match o {
                Output::Seek(t) => at = Some(t),
                Output::Fetch { id, url, inspect, .. } => {
                    let name = url.rsplit('/').next().unwrap_or_default();
                    let bytes = match name.strip_prefix("seg-").and_then(|n| n.strip_suffix(".m4s")).and_then(|n| n.parse().ok()) {
                        Some(n) => {
                            numbers.insert(id, n);
                            segment(n)
                        }
                        None => init.clone(),
                    };
                    e.handle_fetched(now, id, bytes.len() as u64, 10.0, inspect.then_some(&bytes[..]));
                }
                Output::Append { id, timestamp_offset, placed, .. } => {
                    if let Some(n) = numbers.get(&id) {
                        appends.push((*n, timestamp_offset, placed));
                    }
                    e.handle_appended(now, 0);
                }
                _ => {}
            }
        }
    }
    appends
}

fn hls_playlist(first: u64, count: u64, discontinuity_at: Option<u64>, endlist: bool) -> String {
    let mut text = format!("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-MAP:URI=\"init.mp4\"\n");
    for n in first..first + count {
        if discontinuity_at == Some(n) {
            text.push_str("#EXT-X-DISCONTINUITY\n");
        }
        text.push_str(&format!("#EXTINF:2.000000,\nseg-{n}.m4s\n"));
    }
    if endlist {
        text.push_str("#EXT-X-ENDLIST\n");
    }
    text
}

#[test]
fn hls_fmp4_keeps_its_own_timestamps_one_offset_per_timeline() {
    // VOD whose media is on the listed timeline, each segment 5 ms longer
    // than its rounded EXTINF: every segment keeps its own timestamps
    // (offset 0, segments mode), so nothing opens a hole between them —
    // and a viewer starting at 20 s puts frames where one from 0 does.
    let vod = hls_playlist(0, 30, None, true);
    let longer = |n: u64| n as f64 * 2.005;
    let from_start = hls_fmp4_appends(&vod, &longer, None);
    assert!(from_start.len() >= 5, "{from_start:?}");
    assert!(from_start.iter().all(|&(_, o, placed)| o == 0.0 && !placed), "{from_start:?}");
    let from_20 = hls_fmp4_appends(&vod, &longer, Some(20.0));
    assert_eq!(from_20.first().map(|a| a.0), Some(10), "{from_20:?}");
    assert!(from_20.iter().all(|&(_, o, placed)| o == 0.0 && !placed), "{from_20:?}");

    // A recording from 1000 s (media time) listed from 0: one offset.
    let late = hls_fmp4_appends(&vod, &|n| 1000.0 + longer(n), None);
    assert!(late.len() >= 5, "{late:?}");
    assert!(late.iter().all(|&(_, o, placed)| o == -1000.0 && !placed), "{late:?}");

    // A discontinuity at segment 3: the media restarts at 0 there, and
    // from there on it is offset to its listed start (6 s).
    let cut = hls_playlist(0, 30, Some(3), true);
    let restarts = hls_fmp4_appends(&cut, &|n| if n < 3 { 1000.0 + longer(n) } else { longer(n - 3) }, None);
    let offsets: Vec<(u64, f64)> = restarts.iter().map(|&(n, o, _)| (n, o)).take(5).collect();
    assert_eq!(offsets, vec![(0, -1000.0), (1, -1000.0), (2, -1000.0), (3, 6.0), (4, 6.0)], "{restarts:?}");

    // Segments whose start cannot be read go at their listed starts in
    // sequence mode, as before.
    let garbage = hls_fmp4_appends(&vod, &|_| f64::NAN, None);
    assert!(garbage.iter().all(|&(n, o, placed)| placed && o == n as f64 * 2.0), "{garbage:?}");
}

#[test]
fn a_live_start_before_the_first_frame_moves_onto_it_even_paused_and_only_once() {
    let mpd = r#"<MPD type="dynamic" availabilityStartTime="1970-01-01T00:16:40Z" minimumUpdatePeriod="PT4S" suggestedPresentationDelay="PT6S" timeShiftBufferDepth="PT60S"><Period start="PT0S">
      <AdaptationSet contentType="video" mimeType="video/mp4"><SegmentTemplate timescale="1" duration="2" startNumber="1" media="v/$Number$.m4s" initialization="v/init.mp4"/>
        <Representation id="240" bandwidth="400000" codecs="avc1.4d401e" height="240"/></AdaptationSet></Period></MPD>"#;
    let start = |buffered: Vec<(f64, f64)>, seek_elsewhere: bool| {
        let mut e = Engine::new(EngineConfig::default());
        e.handle_manifest(1_100_000.0, crate::mpd::parse(mpd, "https://cdn.example/live/manifest.mpd").expect("mpd"), &all);
        let mut jumps = Vec::new();
        let mut at = 94.0;
        if seek_elsewhere {
            at = 80.0;
            e.handle_seek(1_100_000.0, at);
        }
        for step in 0..30 {
            let now = 1_100_000.0 + f64::from(step) * 100.0;
            // What is appended by step 10 is buffered from then on.
            let b = if step >= 10 { buffered.clone() } else { Vec::new() };
            e.handle_tick(now, Playhead { time: at, paused: true, buffered: vec![b], display_height: None, seeking: false, ready: true });
            while let Some(o) = e.poll_output() {
                match o {
                    Output::Fetch { id, .. } => e.handle_fetched(now, id, 10_000, 20.0, None),
                    Output::Append { .. } => e.handle_appended(now, 0),
                    Output::Seek(t) if step > 0 => {
                        jumps.push(t);
                        at = t;
                        e.handle_seek(now, t);
                    }
                    _ => {}
                }
            }
        }
        jumps
    };
    // The element sits at 94 s (a segment's listed start), paused (an
    // engine that cannot start there never plays): moved to the first frame.
    let jumps = start(vec![(94.117, 100.0)], false);
    assert!(jumps.len() == 1 && (jumps[0] - 94.127).abs() < 1e-9, "{jumps:?}");
    // On media already: nothing. A hole longer than a gap: nothing.
    assert_eq!(start(vec![(93.9, 100.0)], false), Vec::<f64>::new());
    assert_eq!(start(vec![(95.0, 100.0)], false), Vec::<f64>::new());
    // The viewer (or the room) sought elsewhere first: that position stands.
    assert_eq!(start(vec![(80.05, 100.0)], true), Vec::<f64>::new());
}
