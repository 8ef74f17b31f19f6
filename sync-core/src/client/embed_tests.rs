//! The sync loop on an embed (YouTube-like): position reported every
//! 250 ms, each report 0–100 ms late; seeks landing in 200–1500 ms; rates
//! rounded to YouTube's list; ads that freeze one member.

use super::*;
use crate::sim::{percentile_abs, PeerProfile, PlayerModel, Rng, Sim};

fn embed_profiles(seed: u64, n: usize, player: PlayerModel) -> Vec<PeerProfile> {
    let mut rng = Rng::new(seed ^ 0xE3B);
    (0..n)
        .map(|_| {
            let mut p = PeerProfile::random_symmetric(&mut rng);
            p.player = player;
            p.seek_ms = (200.0, 1_500.0);
            p
        })
        .collect()
}

fn playing_sim(seed: u64, n: usize, player: PlayerModel, client: ClientConfig) -> Sim {
    let mut sim = Sim::with_config(seed, embed_profiles(seed, n, player), client, crate::room::RoomConfig::default());
    for i in 0..n {
        sim.connect(i);
    }
    sim.run(2_000.0);
    sim.command(0, Command::Play { position: Some(0.0) });
    sim
}

/// Drift samples (ms) and corrective seeks per peer-minute over `minutes`
/// after a minute of warm-up.
fn measure(sim: &mut Sim, minutes: f64) -> (Vec<f64>, f64) {
    sim.run(60_000.0);
    let seeks0: u64 = sim.peers.iter().map(|p| p.counters.seeks).sum();
    sim.sample(true);
    sim.run(minutes * 60_000.0);
    let drift: Vec<f64> = sim.peers.iter().flat_map(|p| p.counters.drift_ms.iter().copied()).collect();
    let seeks = (sim.peers.iter().map(|p| p.counters.seeks).sum::<u64>() - seeks0) as f64 / sim.peers.len() as f64 / minutes;
    (drift, seeks)
}

#[test]
fn on_a_youtube_like_embed_drift_stays_within_50ms_p95_without_seeks() {
    let mut sim = playing_sim(5, 5, PlayerModel::youtube(), ClientConfig::default());
    sim.step_ms = 10.0;
    let (drift, seeks) = measure(&mut sim, 5.0);
    let p95 = percentile_abs(&drift, 95.0);
    assert!(p95 < 50.0, "drift p95 {p95:.1} ms");
    assert!(seeks < 0.1, "{seeks:.2} seeks per minute");
    assert!(sim.peers.iter().all(|p| p.client.stats().rate_applies), "YouTube's rates apply: nudges stay on");
}

#[test]
fn an_embed_that_takes_rates_without_playing_them_is_found_out_and_seeked_instead() {
    let player = match PlayerModel::youtube() {
        PlayerModel::Embed { report_ms, delay_ms, stepped, estimate, .. } => PlayerModel::Embed { report_ms, delay_ms, stepped, rate_applies: false, estimate },
        other => other,
    };
    let mut sim = playing_sim(7, 4, player, ClientConfig::default());
    sim.step_ms = 10.0;
    // Put every member 150 ms off: only a nudge that applies, or a seek, removes it.
    for i in 0..4 {
        let p = &mut sim.peers[i];
        p.element.position -= 0.15 * if i % 2 == 0 { 1.0 } else { -1.0 };
    }
    let (drift, seeks) = measure(&mut sim, 3.0);
    let nudged_in_vain = sim.peers.iter().filter(|p| !p.client.stats().rate_applies).count();
    assert!(nudged_in_vain >= 3, "{nudged_in_vain} of 4 found their rates do nothing");
    let p95 = percentile_abs(&drift, 95.0);
    // Without rates only seeks are left, and an embed's seek lands 200–1500 ms
    // late: drift under the 250 ms seek threshold is left alone.
    assert!(p95 < 300.0, "drift p95 {p95:.1} ms after falling back to seeks");
    assert!(seeks < 1.0, "no seek storm: {seeks:.2} per minute");
}

#[test]
fn after_a_seek_every_embed_converges_though_seeks_land_late_and_at_random() {
    for seed in 0..8 {
        let mut sim = playing_sim(seed, 3, PlayerModel::youtube(), ClientConfig::default());
        sim.run(10_000.0);
        let target = 300.0 + seed as f64;
        sim.command(1, Command::Seek { position: target });
        let took = sim.run_until(15_000.0, |s| s.room.state().playback.position == target && s.converged(0.05));
        assert!(took.is_some(), "seed {seed}: still {:.0} ms off after 15 s", sim.max_drift() * 1000.0);
    }
}

#[test]
fn an_ad_on_one_member_holds_the_room_and_everyone_resumes_together() {
    let mut sim = playing_sim(9, 3, PlayerModel::youtube(), ClientConfig::default());
    sim.run(20_000.0);
    let before = sim.expected();
    sim.stall(2, 5_000.0); // the ad: time frozen, reported as buffering
    sim.run(2_000.0);
    assert!(!sim.room.state().playback.playing || sim.room.state().hold.is_some(), "the room waits for the member in an ad");
    sim.run(8_000.0);
    assert!(sim.room.state().playback.playing, "and plays on after it");
    assert!(sim.expected() - before < 9.0, "the room did not run on without the member ({:.1} s)", sim.expected() - before);
    let took = sim.run_until(10_000.0, |s| s.converged(0.05));
    assert!(took.is_some(), "together again; {:.0} ms apart", sim.max_drift() * 1000.0);
}

/// Drift (ms, element's true position minus the room's) of each peer
/// after a minute's warm-up, over `minutes`, for a room of these players.
fn mixed_room(seed: u64, players: &[PlayerModel], minutes: f64) -> Vec<Vec<f64>> {
    let mut sim = playing_room(seed ^ 0x5EB, seed, players);
    sim.run(60_000.0);
    sim.sample(true);
    sim.run(minutes * 60_000.0);
    sim.peers.iter().map(|p| p.counters.drift_ms.clone()).collect()
}

/// A room of these players (random symmetric paths drawn from `paths`),
/// all joined, playing from 0 s (sim seed `seed`).
fn playing_room(paths: u64, seed: u64, players: &[PlayerModel]) -> Sim {
    playing_room_with(paths, seed, players, |_, p| p)
}

/// The same, each member's profile (the `i`th) changed by `tweak`.
fn playing_room_with(paths: u64, seed: u64, players: &[PlayerModel], tweak: impl Fn(usize, PeerProfile) -> PeerProfile) -> Sim {
    let mut rng = Rng::new(paths);
    let profiles = players.iter().enumerate().map(|(i, player)| tweak(i, PeerProfile { player: *player, ..PeerProfile::random_symmetric(&mut rng) })).collect();
    let mut sim = Sim::with_config(seed, profiles, ClientConfig::default(), crate::room::RoomConfig::default());
    for i in 0..players.len() {
        sim.connect(i);
    }
    sim.run(2_000.0);
    sim.command(0, Command::Play { position: Some(0.0) });
    sim
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

/// A room of two exact readers (Chromium) and two whose readings move in
/// 41 ms steps (Firefox). Told nothing, the stepped pages read half a step
/// behind on average and settle ~20 ms ahead of the others; told (as the
/// shell's measurement tells them), they correct the reading and stay
/// within a few ms; so do pages that read the picture instead (the shell's
/// requestVideoFrameCallback, jittery by ±17 ms).
#[test]
fn an_element_read_in_41ms_steps_is_corrected_when_told_and_20ms_off_when_not() {
    let run = |told: bool, picture: bool| {
        let stepped = PlayerModel::SteppedElement { step_ms: 40.8, told, picture };
        let drift = mixed_room(11, &[PlayerModel::Element, stepped, PlayerModel::Element, stepped], 3.0);
        let exact = mean(&[drift[0].clone(), drift[2].clone()].concat());
        let steps = mean(&[drift[1].clone(), drift[3].clone()].concat());
        let all: Vec<f64> = drift.concat();
        (steps - exact, percentile_abs(&all, 95.0))
    };
    let (bias_naive, p95_naive) = run(false, false);
    let (bias_told, p95_told) = run(true, false);
    let (bias_pic, p95_pic) = run(true, true);
    println!(
        "stepped reads: naive bias {bias_naive:.1} ms (p95 {p95_naive:.1}), told {bias_told:.1} ms (p95 {p95_told:.1}), picture {bias_pic:.1} ms (p95 {p95_pic:.1})"
    );
    assert!(bias_naive > 12.0, "untold, the stepped pages run ahead by about half a step: {bias_naive:.1} ms");
    assert!(bias_told.abs() < 5.0, "told, the bias is gone: {bias_told:.1} ms");
    assert!(p95_told < 12.0, "and the room's drift p95 stays small: {p95_told:.1} ms");
    // Read from the picture (frames shown with ±17 ms of display-time
    // jitter, the last second of them fitted: `backend::PictureFit`),
    // better: the fit's error (~3 ms) is the dead band, not the step's 8 ms,
    // and in a browser it is also what is on screen, where a stepped
    // reading's true lag is only modelled.
    assert!(bias_pic.abs() < 4.0 && p95_pic < 6.0 && p95_pic < p95_told, "from the picture: bias {bias_pic:.1} ms, p95 {p95_pic:.1} ms");
}

/// A room of two exact readers and two WebKitGTK-like pages whose
/// `currentTime` leaps ~1 s ahead of what they show half a second after
/// every start, keeps the lead while paused, and whose picture jumps by
/// that lead at every rate change (measured; see `read_lead` and
/// `drift::RATE_JUMP_S`). Read naively, those pages seek back and forth;
/// reading the picture where `currentTime` disagrees with it, and giving up
/// rates once a rate change is seen to make the picture jump, they stay
/// with the room through a pause, a seek and the restarts.
#[test]
fn an_element_whose_currenttime_leaps_ahead_of_its_picture_reads_the_picture() {
    let run = |picture: bool| {
        let leading = PlayerModel::LeadingElement { lead_ms: 1_030.0, picture, keeps_lead: false };
        let mut sim = playing_room(0x1EAD, 13, &[PlayerModel::Element, leading, PlayerModel::Element, leading]);
        sim.run(30_000.0);
        sim.sample(true);
        sim.run(60_000.0);
        // Pause, seek while paused, play; then a seek while playing.
        sim.command(2, Command::Pause { position: None });
        sim.run(3_000.0);
        sim.command(0, Command::Seek { position: 600.0 });
        sim.run(2_000.0);
        sim.command(2, Command::Play { position: None });
        sim.run(30_000.0);
        sim.command(2, Command::Seek { position: 1_200.0 });
        sim.run(60_000.0);
        let seeks: u64 = [1, 3].iter().map(|&i| sim.peers[i].counters.seeks).sum();
        let leads: Vec<Option<f64>> = sim.peers.iter().map(|p| p.client.stats().read_lead_ms).collect();
        let rates: Vec<bool> = sim.peers.iter().map(|p| p.client.stats().rate_applies).collect();
        let drift = |i: usize| sim.peers[i].counters.drift_ms.clone();
        let all: Vec<f64> = (0..4).flat_map(drift).collect();
        let led = [drift(1), drift(3)].concat();
        (mean(&led), percentile_abs(&all, 95.0), seeks, leads, rates)
    };
    let (bias_naive, p95_naive, seeks_naive, ..) = run(false);
    let (bias, p95, seeks, leads, rates) = run(true);
    println!(
        "currentTime 1030 ms ahead of the picture: naive bias {bias_naive:.1} ms (p95 {p95_naive:.1}, {seeks_naive} seeks), from the picture {bias:.1} ms (p95 {p95:.1}, {seeks} seeks); leads {leads:?}; rates apply {rates:?}"
    );
    assert!(
        // (Its p95 may be lower for it: 31 seeks in 3 minutes keep it close.)
        seeks_naive >= 3 * seeks.max(2),
        "read naively, the leading pages seek over and over: {seeks_naive} seeks, p95 {p95_naive:.1} ms"
    );
    // (Given up at the lead, before a rate change has made the picture jump.)
    assert!(rates[0] && rates[2] && !rates[1] && !rates[3], "rates are given up on leading pages only, on both: {rates:?}");
    assert!(leads[1].is_some_and(|l| (l - 1_030.0).abs() < 60.0) && leads[0].is_none(), "the lead is found on the leading pages only: {leads:?}");
    // Without rates, drift under the no-rate seek threshold (80 ms) stays
    // where a seek landed it (one version of the fit: a page 35 ms off).
    assert!(bias.abs() < 20.0 && p95 < 40.0, "read from the picture they keep with the room: bias {bias:.1} ms, p95 {p95:.1} ms");
    assert!(seeks <= 6, "and hardly seek: {seeks} corrective seeks on the two pages in 3 minutes");
}

/// A WebKitGTK-like page whose `currentTime` leaps ahead at its first
/// start before it has shown a frame (software rendering on busy cores,
/// 2026-12-06: 1.04 s within 50 ms of `play`). The element tells the frames
/// it shows, so the leap is taken as a lead, not as a second of drift
/// seeked away (which left a page ~1 s off for the seek's 3 s cool-down).
#[test]
fn a_leap_before_the_first_frame_is_a_lead_where_frames_will_come() {
    let leading = PlayerModel::LeadingElement { lead_ms: 1_030.0, picture: true, keeps_lead: false };
    let mut sim = playing_room_with(0xF1F, 23, &[PlayerModel::Element, leading], |i, p| PeerProfile {
        first_frame_ms: if i == 1 { 1_500.0 } else { 0.0 },
        seek_ms: (40.0, 60.0),
        ..p
    });
    sim.sample(true);
    sim.run(12_000.0);
    let seeks = sim.peers[1].counters.seeks;
    let lead = sim.peers[1].client.stats().read_lead_ms;
    println!("a leap before the first frame: {seeks} corrective seeks, lead {lead:?} ms, drift {:.3} s", sim.max_drift());
    assert!(lead.is_some_and(|l| (l - 1_030.0).abs() < 60.0), "the lead is found: {lead:?}");
    assert_eq!(seeks, 0, "no seek for the start's leap");
    assert!(sim.converged(0.03), "in sync: {:.3}", sim.max_drift());
}

/// A WebKitGTK-like page paused while its `currentTime` leads the picture
/// by ~1 s, and keeps that lead while paused: read less its lead it is in
/// place, but its `currentTime` says 1 s ahead (a page of the sync test,
/// 2026-12-06, compared by `currentTime`, and what it resumes from is not
/// known). Seeked to the room's position while paused, it reads and shows
/// one place; it plays on from there in sync.
#[test]
fn a_paused_page_holding_its_lead_is_seeked_to_the_rooms_position() {
    let leading = PlayerModel::LeadingElement { lead_ms: 1_030.0, picture: true, keeps_lead: false };
    let mut sim = playing_room(0x9A0, 19, &[PlayerModel::Element, leading]);
    sim.run(20_000.0);
    assert!(sim.peers[1].client.stats().read_lead_ms.is_some(), "the lead is found while playing");
    // Its viewer pauses it: the room pauses where it reads itself, its
    // position less its lead.
    sim.user(1, MediaAction::Pause);
    sim.run(2_000.0);
    assert!(!sim.room.state().playback.playing, "the room paused");
    let at = sim.room.state().playback.position;
    let read: Vec<f64> = sim.peers.iter().map(|p| p.element.current_time()).collect();
    assert!(read.iter().all(|t| (t - at).abs() < 0.002), "both read the room's position {at:.3} while paused: {read:?}");
    sim.command(0, Command::Play { position: None });
    sim.run(10_000.0);
    assert!(sim.converged(0.03), "in sync after playing again: {:.3}", sim.max_drift());
}

/// WebKitGTK-like pages that play 4.5–5 % slow from the start (a starved
/// page): they drift past the act-at-once bound (20 ms) after `currentTime`
/// took its lead and before fresh frames confirmed it (at 8 % slow they
/// cross it before the lead appears; at 3 % only after the confirmation). A nudge then (and the return to 1× after it) would make the picture
/// jump ~1 s (a page read 0.9 s ahead for a second, 2026-12-05): the lead,
/// once seen, holds rates, and they never leave the room's rate.
#[test]
fn a_leading_page_drifting_as_it_takes_its_lead_is_not_nudged() {
    let leading = PlayerModel::LeadingElement { lead_ms: 1_030.0, picture: true, keeps_lead: false };
    let players = [PlayerModel::Element, leading, PlayerModel::Element, leading];
    let mut sim = playing_room_with(0x51_0E, 5, &players, |i, p| PeerProfile { speed: [1.0, 0.955, 1.0, 0.95][i], ..p });
    sim.run(30_000.0);
    let off_rate: Vec<f64> = [1, 3].iter().map(|&i| sim.peers[i].counters.off_rate_ms).collect();
    let rates: Vec<bool> = [1, 3].iter().map(|&i| sim.peers[i].client.stats().rate_applies).collect();
    assert_eq!(rates, [false, false], "rates given up on the leading pages");
    assert_eq!(off_rate, [0.0, 0.0], "and never used on them (ms spent off the room's rate)");
}

/// WebKitGTK pages (seek-only) that stall now and then (a starved page
/// falls behind, and is seeked back), whose seeks land in 40–45 ms, and whose
/// `currentTime` at `seeked` reads the target plus the lead they had
/// (some of its landings: 2026-12-05). Such a `seeked` is taken as landing
/// on the target: the landing time is learned from where the picture then
/// is, and a miss is seeked once more, so the pages settle near the room
/// rather than wherever the first guess of 150 ms put them (a page stayed
/// 65 ms ahead for good; read as landing 1 s off, nothing was learned).
#[test]
fn a_seek_only_page_whose_seeked_reads_its_lead_learns_its_landing() {
    let leading = PlayerModel::LeadingElement { lead_ms: 1_030.0, picture: true, keeps_lead: true };
    let players = [PlayerModel::Element, leading, PlayerModel::Element, leading];
    let mut sim = playing_room_with(0x5EE, 17, &players, |_, p| PeerProfile {
        seek_ms: (40.0, 45.0),
        stall_chance_per_s: if matches!(p.player, PlayerModel::LeadingElement { .. }) { 0.05 } else { 0.0 },
        stall_ms: (150.0, 400.0),
        ..p
    });
    sim.run(20_000.0);
    // A seek while playing: every page lands and is measured from here.
    sim.command(0, Command::Seek { position: 300.0 });
    sim.run(10_000.0);
    sim.sample(true);
    sim.run(60_000.0);
    let landing: Vec<f64> = [1, 3].iter().map(|&i| sim.peers[i].client.stats().seek_landing_ms).collect();
    let rates: Vec<bool> = [1, 3].iter().map(|&i| sim.peers[i].client.stats().rate_applies).collect();
    let led = [sim.peers[1].counters.drift_ms.clone(), sim.peers[3].counters.drift_ms.clone()].concat();
    let seeks: u64 = [1, 3].iter().map(|&i| sim.peers[i].counters.seeks).sum();
    // (The stalls' moments are in the p95: the median tells where the pages sit.)
    let (bias, p50, p95) = (mean(&led), percentile_abs(&led, 50.0), percentile_abs(&led, 95.0));
    println!("seeked reading the lead: landing learned {landing:?} ms, bias {bias:.1} ms, |drift| p50 {p50:.1} ms, p95 {p95:.1} ms, {seeks} corrective seeks; rates {rates:?}");
    assert_eq!(rates, [false, false], "seek-only pages");
    assert!(landing.iter().all(|l| (*l - 42.5).abs() < 25.0), "the landing time is learned: {landing:?} ms");
    assert!(p50 < 20.0, "the pages settle near the room: |drift| p50 {p50:.1} ms (bias {bias:.1} ms)");
    // (About nine stalls on the two pages in the 90 s, each seeked back,
    // some followed up once: no chain of follow-ups.)
    assert!(seeks <= 20, "{seeks} corrective seeks on the two pages in 90 s");
}

/// A page whose element plays 1.5 % slower than its rate asks (a loaded
/// machine: Firefox measured 0.983–0.994 in `bench sync`), read exactly and
/// read as Firefox is (41 ms steps, the fitted picture). Without a trim,
/// each nudge is undone within seconds and the page keeps falling behind
/// between nudges; with the learned trim it runs at a base rate that makes
/// up the speed error, and the other pages never trim.
#[test]
fn an_element_that_plays_slower_than_asked_is_trimmed() {
    let run = |max_trim: f64, player: PlayerModel, speed: f64| {
        let mut rng = Rng::new(0x7A1);
        let profiles = (0..3)
            .map(|i| {
                let mut p = PeerProfile::random_symmetric(&mut rng);
                p.speed = if i == 1 { speed } else { 1.0 };
                if i == 1 {
                    p.player = player;
                }
                p
            })
            .collect();
        let mut cfg = ClientConfig::default();
        cfg.drift.max_trim = max_trim;
        let mut sim = Sim::with_config(7, profiles, cfg, crate::room::RoomConfig::default());
        for i in 0..3 {
            sim.connect(i);
        }
        sim.run(2_000.0);
        sim.command(0, Command::Play { position: Some(0.0) });
        sim.run(60_000.0);
        sim.sample(true);
        sim.run(3.0 * 60_000.0);
        let trims: Vec<f64> = sim.peers.iter().map(|p| p.client.stats().speed_trim).collect();
        let slow = sim.peers[1].counters.drift_ms.clone();
        let all: Vec<f64> = sim.peers.iter().flat_map(|p| p.counters.drift_ms.clone()).collect();
        (mean(&slow), percentile_abs(&all, 95.0), trims)
    };
    let (bias_off, p95_off, _) = run(0.0, PlayerModel::Element, 0.985);
    let (bias_on, p95_on, trims) = run(0.03, PlayerModel::Element, 0.985);
    println!("1.5 % slow element: untrimmed mean {bias_off:.1} ms (room p95 {p95_off:.1}), trimmed {bias_on:.1} ms (p95 {p95_on:.1}); trims {trims:?}");
    // The same page read as Firefox is: 41 ms steps, the fitted picture.
    let firefox = PlayerModel::SteppedElement { step_ms: 40.8, told: true, picture: true };
    let (ff_off, ff_p95_off, _) = run(0.0, firefox, 0.985);
    let (ff_on, ff_p95_on, ff_trims) = run(0.03, firefox, 0.985);
    println!("  read as Firefox: untrimmed mean {ff_off:.1} ms (room p95 {ff_p95_off:.1}), trimmed {ff_on:.1} ms (p95 {ff_p95_on:.1}); trims {ff_trims:?}");

    assert!((trims[1] - 0.015).abs() < 0.004, "the slow page learned its speed error: {:?}", trims);
    assert!(trims[0] == 0.0 && trims[2] == 0.0, "the others did not trim: {trims:?}");
    assert!(p95_on < p95_off / 2.0, "and the room is much tighter: p95 {p95_on:.1} vs {p95_off:.1} ms");
    assert!(bias_on.abs() < 3.0, "the slow page is not behind on average: {bias_on:.1} ms");
    // Read from its picture, the fit learns the element's own speed: a fit
    // at the nominal slope read 7.5 ms ahead and kept the page -8.6 ms behind.
    assert!((ff_trims[1] - 0.015).abs() < 0.004, "read as Firefox, the slow page learned its speed error: {ff_trims:?}");
    assert!(ff_on.abs() < 3.0 && ff_p95_on < ff_p95_off / 1.5, "and is not behind on average: {ff_on:.1} ms, p95 {ff_p95_on:.1} vs {ff_p95_off:.1}");
}
