//! `cargo xtask bench sim`: the sync loop in the deterministic simulation,
//! per scenario: drift percentiles, seeks per minute, time off rate and
//! convergence after seeks — next to a naive baseline (no clock filtering,
//! no rate control, seek when over 1 s: the approach of most peers).
//! Figures go to stdout and `target/bench/sim.json`.

use std::fmt::Write as _;
use std::path::Path;

use sync_core::client::ClientConfig;
use sync_core::clock::ClockConfig;
use sync_core::drift::DriftConfig;
use sync_core::protocol::Command;
use sync_core::room::RoomConfig;
use sync_core::sim::{percentile_abs, EdgeProfile, Path as NetPath, PeerProfile, PlayerModel, Rng, Sim};

use crate::Result;

struct Figures {
    name: &'static str,
    peers: usize,
    minutes: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    seeks_per_min: f64,
    off_rate_pct: f64,
    convergence_p50_ms: Option<f64>,
    convergence_max_ms: Option<f64>,
}

fn naive() -> ClientConfig {
    ClientConfig {
        clock: ClockConfig { burst: 1, round: 1, period_ms: 1.0e12, warmup_period_ms: 1.0e12, ..ClockConfig::default() },
        drift: DriftConfig { seek_threshold_without_rate: 1.0, ..DriftConfig::default() },
        rate_control: false,
        ..ClientConfig::default()
    }
}

/// The naive peer on an embed: reads the last report as the position,
/// seeks to where the room is (no lead) when 1 s off, never nudges.
fn naive_embed() -> ClientConfig {
    let mut c = naive();
    c.drift.learn_landing = false;
    c.drift.initial_seek_landing_ms = 0.0;
    c
}

/// How the members reach the room.
#[derive(Clone, Copy)]
enum Paths {
    /// Drawn per member: symmetric or not (`Steady::symmetric`).
    Drawn,
    /// Each member its own path with different, asymmetric least delays
    /// (20 ms up / 80 ms down, the opposite, 50/30, 30/50, 60/20), jitter
    /// and bursts on top; with `edge`, also an edge time endpoint a few ms
    /// away whose clock is that many ms off the room's, the sign
    /// alternating between members (each at its own point of presence).
    Own { edge: Option<f64> },
}

fn profiles(seed: u64, n: usize, symmetric: bool, stalls: f64, player: PlayerModel) -> Vec<PeerProfile> {
    profiles_on(seed, n, symmetric, stalls, player, Paths::Drawn)
}

fn profiles_on(seed: u64, n: usize, symmetric: bool, stalls: f64, player: PlayerModel, paths: Paths) -> Vec<PeerProfile> {
    let mut rng = Rng::new(seed ^ 0x5EED);
    (0..n)
        .map(|k| {
            let mut p = if symmetric { PeerProfile::random_symmetric(&mut rng) } else { PeerProfile::random(&mut rng) };
            p.stall_chance_per_s = stalls;
            p.player = player;
            if matches!(player, PlayerModel::Embed { .. }) {
                // An embed's seeks wait for its own network: 200–1500 ms.
                p.seek_ms = (200.0, 1_500.0);
                p.stall_ms = (3_000.0, 6_000.0); // an ad
            }
            if let Paths::Own { edge } = paths {
                let (up, down) = [(20.0, 80.0), (80.0, 20.0), (50.0, 30.0), (30.0, 50.0), (60.0, 20.0)][k % 5];
                p.up = NetPath { base_ms: up, jitter_ms: 15.0, burst_chance: 0.02, burst_ms: 100.0 };
                p.down = NetPath { base_ms: down, jitter_ms: 15.0, burst_chance: 0.02, burst_ms: 100.0 };
                p.edge = edge.map(|e| EdgeProfile::near(if k % 2 == 0 { e } else { -e }));
            }
            p
        })
        .collect()
}

/// The YouTube-like embed, told apart from a naive peer reading it raw.
fn embed(estimate: bool, rate_applies: bool) -> PlayerModel {
    match PlayerModel::youtube() {
        PlayerModel::Embed { report_ms, delay_ms, stepped, .. } => PlayerModel::Embed { report_ms, delay_ms, stepped, rate_applies, estimate },
        other => other,
    }
}

/// One steady-state scenario of `bench sim`.
struct Steady {
    name: &'static str,
    seed: u64,
    n: usize,
    minutes: f64,
    symmetric: bool,
    stalls: f64,
    client: ClientConfig,
    reconnect_every_s: Option<f64>,
    player: PlayerModel,
    paths: Paths,
}

/// Join everyone, play, warm up two minutes, then measure `minutes`.
fn steady(s: Steady) -> Figures {
    let Steady { name, seed, n, minutes, symmetric, stalls, client, reconnect_every_s, player, paths } = s;
    let mut sim = Sim::with_config(seed, profiles_on(seed, n, symmetric, stalls, player, paths), client, RoomConfig::default());
    sim.step_ms = 10.0;
    for i in 0..n {
        sim.connect(i);
    }
    sim.run(2_000.0);
    sim.command(0, Command::Play { position: Some(0.0) });
    sim.run(120_000.0);
    let seeks0: u64 = sim.peers.iter().map(|p| p.counters.seeks).sum();
    for p in sim.peers.iter_mut() {
        p.counters.off_rate_ms = 0.0;
        p.counters.playing_ms = 0.0;
    }
    sim.sample(true);
    let total = minutes * 60_000.0;
    let mut t = 0.0;
    let mut next_drop = reconnect_every_s.map(|s| s * 1000.0);
    let mut victim = 1 % n;
    while t < total {
        sim.run(1_000.0);
        t += 1_000.0;
        if let Some(at) = next_drop.filter(|at| t >= *at) {
            sim.disconnect(victim);
            sim.run(3_000.0);
            t += 3_000.0;
            sim.connect(victim);
            victim = (victim + 1) % n;
            next_drop = Some(at + reconnect_every_s.unwrap_or(60.0) * 1000.0);
        }
    }
    let drift: Vec<f64> = sim.peers.iter().flat_map(|p| p.counters.drift_ms.iter().copied()).collect();
    let seeks: u64 = sim.peers.iter().map(|p| p.counters.seeks).sum::<u64>() - seeks0;
    let off: f64 = sim.peers.iter().map(|p| p.counters.off_rate_ms).sum();
    let playing: f64 = sim.peers.iter().map(|p| p.counters.playing_ms).sum();
    Figures {
        name,
        peers: n,
        minutes,
        p50: percentile_abs(&drift, 50.0),
        p95: percentile_abs(&drift, 95.0),
        p99: percentile_abs(&drift, 99.0),
        max: percentile_abs(&drift, 100.0),
        seeks_per_min: seeks as f64 / n as f64 / minutes,
        off_rate_pct: if playing > 0.0 { off / playing * 100.0 } else { 0.0 },
        convergence_p50_ms: None,
        convergence_max_ms: None,
    }
}

/// Seek convergence: time from a member's seek command until every member
/// is within 20 ms (an embed: 50 ms) of the room at the room's rate.
fn seeks(name: &'static str, seeds: u64, n: usize, client: ClientConfig, player: PlayerModel) -> Figures {
    let mut times = Vec::new();
    let mut failures = 0;
    for seed in 0..seeds {
        let mut sim = Sim::with_config(seed, profiles(seed, n, true, 0.0, player), client.clone(), RoomConfig::default());
        for i in 0..n {
            sim.connect(i);
        }
        sim.run(2_000.0);
        sim.command(0, Command::Play { position: Some(0.0) });
        sim.run(5_000.0);
        let target = 100.0 + seed as f64;
        sim.command(1, Command::Seek { position: target });
        // Within 20 ms of the room (50 ms on an embed, whose reads are only that good).
        let tol = if matches!(player, PlayerModel::Element) { 0.02 } else { 0.05 };
        match sim.run_until(20_000.0, |s| s.room.state().playback.position == target && s.converged(tol)) {
            Some(ms) => times.push(ms),
            None => failures += 1,
        }
    }
    let max = if failures > 0 { f64::INFINITY } else { percentile_abs(&times, 100.0) };
    Figures {
        name,
        peers: n,
        minutes: 0.0,
        p50: 0.0,
        p95: 0.0,
        p99: 0.0,
        max: 0.0,
        seeks_per_min: 0.0,
        off_rate_pct: 0.0,
        convergence_p50_ms: Some(percentile_abs(&times, 50.0)),
        convergence_max_ms: Some(max),
    }
}

/// Issue 26's topology: every member its own asymmetric path to the room,
/// with or without an edge time endpoint close by.
fn own_paths(name: &'static str, edge: Option<f64>) -> Figures {
    steady(Steady {
        name,
        seed: 8,
        n: 5,
        minutes: 10.0,
        symmetric: false,
        stalls: 0.0,
        client: ClientConfig::default(),
        reconnect_every_s: None,
        player: PlayerModel::Element,
        paths: Paths::Own { edge },
    })
}

pub fn sim(root: &Path) -> Result {
    crate::step("bench sim: the sync loop in the seeded simulation (10 ms steps)");
    let started = std::time::Instant::now();
    let ours = ClientConfig::default;
    let rows = [
        steady(Steady {
            name: "steady, symmetric paths",
            seed: 1,
            n: 5,
            minutes: 10.0,
            symmetric: true,
            stalls: 0.0,
            client: ours(),
            reconnect_every_s: None,
            player: PlayerModel::Element,
            paths: Paths::Drawn,
        }),
        steady(Steady {
            name: "steady, symmetric paths (naive baseline)",
            seed: 1,
            n: 5,
            minutes: 10.0,
            symmetric: true,
            stalls: 0.0,
            client: naive(),
            reconnect_every_s: None,
            player: PlayerModel::Element,
            paths: Paths::Drawn,
        }),
        steady(Steady {
            name: "steady, asymmetric 20-200 ms paths",
            seed: 2,
            n: 5,
            minutes: 10.0,
            symmetric: false,
            stalls: 0.0,
            client: ours(),
            reconnect_every_s: None,
            player: PlayerModel::Element,
            paths: Paths::Drawn,
        }),
        steady(Steady {
            name: "steady, asymmetric (naive baseline)",
            seed: 2,
            n: 5,
            minutes: 10.0,
            symmetric: false,
            stalls: 0.0,
            client: naive(),
            reconnect_every_s: None,
            player: PlayerModel::Element,
            paths: Paths::Drawn,
        }),
        steady(Steady {
            name: "buffering stalls (1 per ~3 min each)",
            seed: 3,
            n: 5,
            minutes: 10.0,
            symmetric: true,
            stalls: 0.005,
            client: ours(),
            reconnect_every_s: None,
            player: PlayerModel::Element,
            paths: Paths::Drawn,
        }),
        steady(Steady {
            name: "reconnect every 60 s",
            seed: 4,
            n: 3,
            minutes: 10.0,
            symmetric: true,
            stalls: 0.0,
            client: ours(),
            reconnect_every_s: Some(60.0),
            player: PlayerModel::Element,
            paths: Paths::Drawn,
        }),
        own_paths("own asymmetric paths, room pings only", None),
        own_paths("own asymmetric paths + edge probes", Some(0.0)),
        own_paths("  + edge clocks 1 ms off (alternating)", Some(1.0)),
        own_paths("  + edge clocks 5 ms off (alternating)", Some(5.0)),
        own_paths("  + edge clocks 20 ms off (alternating)", Some(20.0)),
        seeks("seek convergence, 50 seeds", 50, 3, ours(), PlayerModel::Element),
        seeks("seek convergence, 50 seeds (naive baseline)", 50, 3, naive(), PlayerModel::Element),
        steady(Steady {
            name: "embed: coarse reports, async seeks, steps",
            seed: 5,
            n: 5,
            minutes: 10.0,
            symmetric: true,
            stalls: 0.0,
            client: ours(),
            reconnect_every_s: None,
            player: embed(true, true),
            paths: Paths::Drawn,
        }),
        steady(Steady {
            name: "embed (naive baseline: raw reads, seek at 1 s)",
            seed: 5,
            n: 5,
            minutes: 10.0,
            symmetric: true,
            stalls: 0.0,
            client: naive_embed(),
            reconnect_every_s: None,
            player: embed(false, true),
            paths: Paths::Drawn,
        }),
        steady(Steady {
            name: "embed: ads (a 3-6 s freeze per ~3 min each)",
            seed: 6,
            n: 5,
            minutes: 10.0,
            symmetric: true,
            stalls: 0.005,
            client: ours(),
            reconnect_every_s: None,
            player: embed(true, true),
            paths: Paths::Drawn,
        }),
        steady(Steady {
            name: "embed: ads (naive baseline)",
            seed: 6,
            n: 5,
            minutes: 10.0,
            symmetric: true,
            stalls: 0.005,
            client: naive_embed(),
            reconnect_every_s: None,
            player: embed(false, true),
            paths: Paths::Drawn,
        }),
        steady(Steady {
            name: "embed: rates reported set, never applied",
            seed: 7,
            n: 5,
            minutes: 10.0,
            symmetric: true,
            stalls: 0.0,
            client: ours(),
            reconnect_every_s: None,
            player: embed(true, false),
            paths: Paths::Drawn,
        }),
        seeks("embed: seek convergence, 50 seeds", 50, 3, ours(), embed(true, true)),
        seeks("embed: seek convergence (naive baseline)", 50, 3, naive_embed(), embed(false, true)),
    ];
    println!(
        "\n    {:<44} {:>5} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>10} {:>10}",
        "scenario", "peers", "p50 ms", "p95 ms", "p99 ms", "max ms", "seeks/min", "off-rate", "conv p50", "conv max"
    );
    let mut json = String::from("{\n  \"benchmark\": \"sim\",\n");
    let _ = writeln!(json, "  \"machine\": {:?},", machine());
    let _ = writeln!(json, "  \"date\": {:?},", today());
    json.push_str("  \"scenarios\": [\n");
    for (i, r) in rows.iter().enumerate() {
        let conv = |v: Option<f64>| v.map_or("-".to_string(), |x| if x.is_finite() { format!("{x:.0} ms") } else { "timeout".into() });
        println!(
            "    {:<44} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.3} {:>7.2}% {:>10} {:>10}",
            r.name,
            r.peers,
            r.p50,
            r.p95,
            r.p99,
            r.max,
            r.seeks_per_min,
            r.off_rate_pct,
            conv(r.convergence_p50_ms),
            conv(r.convergence_max_ms)
        );
        let num = |v: Option<f64>| v.map_or("null".to_string(), |x| if x.is_finite() { format!("{x:.1}") } else { "null".into() });
        let _ = write!(
            json,
            "    {{\"name\": {:?}, \"peers\": {}, \"minutes\": {}, \"drift_ms\": {{\"p50\": {:.3}, \"p95\": {:.3}, \"p99\": {:.3}, \"max\": {:.3}}}, \"seeks_per_min\": {:.4}, \"off_rate_pct\": {:.3}, \"convergence_ms\": {{\"p50\": {}, \"max\": {}}}}}",
            r.name, r.peers, r.minutes, r.p50, r.p95, r.p99, r.max, r.seeks_per_min, r.off_rate_pct, num(r.convergence_p50_ms), num(r.convergence_max_ms)
        );
        json.push_str(if i + 1 < rows.len() { ",\n" } else { "\n" });
    }
    json.push_str("  ]\n}\n");
    let out = root.join("target/bench/sim.json");
    std::fs::create_dir_all(out.parent().unwrap_or(root)).map_err(|e| e.to_string())?;
    std::fs::write(&out, json).map_err(|e| e.to_string())?;
    println!("\n    wrote {} ({:.1} s)", out.strip_prefix(root).unwrap_or(&out).display(), started.elapsed().as_secs_f64());
    Ok(())
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cpu}, {cores} cores")
}

pub fn today() -> String {
    std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// `cargo xtask bench rewrite`, native half: the rewriters' throughput in a
/// release build (`media-core/examples/rewrite_bench.rs`) with machine and
/// date, into `target/bench/rewrite.json`.
pub fn rewrite(root: &Path) -> Result {
    crate::step("bench rewrite: manifest rewriting throughput (release build), then a 1 MB MPD on workerd");
    let json = root.join("target/bench/rewrite.json");
    crate::run(
        std::process::Command::new("cargo")
            .args(["run", "--release", "--quiet", "-p", "media-core", "--example", "rewrite_bench", "--"])
            .arg(&json)
            .current_dir(root),
    )?;
    let native = std::fs::read_to_string(&json).map_err(|e| format!("{}: {e}", json.display()))?;
    let body = native.trim().trim_start_matches('{').trim_end_matches('}').trim_end();
    let text = format!("{{\n  \"benchmark\": \"rewrite\",\n  \"machine\": \"{}\",\n  \"date\": \"{}\",\n{body}\n}}\n", machine(), today());
    std::fs::write(&json, text).map_err(|e| e.to_string())
}
