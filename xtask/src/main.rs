//! `cargo xtask` — build, run and test Watch Together with nothing installed
//! beforehand but Rust, node/npm and git.
//!
//! - `cargo xtask dev`   install what is missing, build, serve on http://127.0.0.1:8787
//! - `cargo xtask test`  install what is missing, build, run every test stage
//!   (`cargo xtask test e2e engine`: one stage, only files whose name has "engine")
//! - `cargo xtask build` install what is missing and build the player, worker and demo
//! - `cargo xtask tidy`  check the cores stay pure (no platform crates, no clocks)
//! - `cargo xtask codegen` write what comes from the player's event list
//!   (`www/events.js`, the `.d.ts` event maps, the READMEs' tables)
//! - `cargo xtask bench sim` sync figures from the seeded simulation
//! - `cargo xtask deploy` build, then `wrangler deploy`

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime};

mod bench;
mod bundle;
mod codegen;
mod gates;
mod proc;
mod setup;
mod tally;
mod tidy;

type Result<T = ()> = std::result::Result<T, String>;

pub const WORKER_BUILD_VERSION: &str = "0.8.7";
pub const DEV_ADDR: &str = "127.0.0.1";
pub const DEV_PORT: u16 = 8787;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    proc::install_stop_handler();
    let result = match args.first().map(String::as_str) {
        Some("dev") => dev(&root),
        Some("test") => test(&root, &args[1..]),
        Some("build") => build(&root),
        Some("pack") => {
            setup::ensure(&root).and_then(|tools| bundle::build_player(&root, &tools)).and_then(|_| pack(&root)).map(|tgz| println!("    {}", tgz.display()))
        }
        Some("tidy") => setup::ensure(&root).and_then(|_| match tidy::run(&root) {
            (_, 0) => Ok(()),
            (_, failed) => Err(format!("{failed} tidy check(s) failed")),
        }),
        Some("codegen") => {
            step("codegen: from player-wasm/src/events.rs");
            codegen::write(&root)
        }
        Some("bench") => match args.get(1).map(String::as_str) {
            Some("sim") | None => bench::sim(&root),
            Some("room") => build(&root).and_then(|_| {
                step("bench room: what one command costs a room of 5,000 in storage and wire bytes (native core)");
                run(Command::new("cargo")
                    .args(["run", "--release", "--quiet", "-p", "sync-core", "--example", "room_bench", "--", "target/bench/room-core.json"])
                    .current_dir(&root))?;
                step("bench room: one room, 5,000 real WebSocket clients on workerd");
                let mut cmd = Command::new("node");
                cmd.arg("tests/bench/room.mjs").current_dir(&root);
                run(wrangler_env(&mut cmd))
            }),
            Some("rewrite") => build(&root).and_then(|_| bench::rewrite(&root)).and_then(|_| {
                let mut cmd = Command::new("node");
                cmd.arg("tests/bench/rewrite.mjs").current_dir(&root);
                run(wrangler_env(&mut cmd))
            }),
            Some("player") => build(&root).and_then(|_| build_test_media(&root)).and_then(|_| {
                step("bench player: bundle sizes next to dash.js, Shaka Player and hls.js (npm); first frame against dash.js in Chromium, Firefox and WebKit");
                let peers = root.join("target/bench-peers");
                std::fs::create_dir_all(&peers).map_err(|e| e.to_string())?;
                run(Command::new("npm")
                    .args(["install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", "."])
                    .args(["dashjs@5.2.1", "shaka-player@5.2.12", "hls.js@1.7.4"])
                    .current_dir(&peers))?;
                let mut cmd = Command::new("node");
                cmd.arg("tests/bench/player.mjs").current_dir(&root);
                run(&mut cmd)
            }),
            Some("sync") => build(&root).and_then(|_| build_media(&root, true)).and_then(|_| {
                step("bench sync: 4 pages in one room behind a latency proxy (Chromium on profiles A, B and Y; Firefox F, WebKit W (four pages) and V (two), mixed K and M; own paths per page P, and with an edge time endpoint E)");
                let mut cmd = Command::new("node");
                cmd.arg("tests/bench/sync.mjs").current_dir(&root);
                run(wrangler_env(&mut cmd))
            }),
            Some(other) => Err(format!("unknown benchmark {other:?}; try `cargo xtask bench sim|room|rewrite|player|sync`")),
        },
        Some("deploy") => build(&root).and_then(|_| run_interactive(Command::new(root.join("node_modules/.bin/wrangler")).arg("deploy").current_dir(&root))),
        _ => {
            eprintln!("usage: cargo xtask <dev|test|build|pack|tidy|codegen|bench|deploy>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An empty message: already reported (the test totals line stays last).
            if !e.is_empty() {
                eprintln!("\nxtask: error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Print a stage heading.
pub fn step(msg: &str) {
    println!("\n==> {msg}");
}

/// Run a command, inheriting output; fail with its description.
/// Run a command to its end, inheriting output, in a process group of its
/// own (stopped with xtask); fail with its description.
pub fn run(cmd: &mut Command) -> Result {
    proc::run_group(cmd)
}

/// Like [`run`], in xtask's own process group, with the terminal (for what
/// may ask its user a question: `wrangler deploy`).
fn run_interactive(cmd: &mut Command) -> Result {
    let desc = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("could not start {desc}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{desc} failed with {status}"))
    }
}

/// Newest modification time of the files under `paths` (recursively).
pub fn newest_mtime(paths: &[PathBuf]) -> Option<SystemTime> {
    fn walk(p: &Path, newest: &mut Option<SystemTime>) {
        let Ok(meta) = std::fs::metadata(p) else { return };
        if meta.is_dir() {
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    walk(&e.path(), newest);
                }
            }
        } else if let Ok(m) = meta.modified() {
            if newest.is_none_or(|n| m > n) {
                *newest = Some(m);
            }
        }
    }
    let mut newest = None;
    for p in paths {
        walk(p, &mut newest);
    }
    newest
}

/// True if `output` exists and is newer than every input.
pub fn up_to_date(output: &Path, inputs: &[PathBuf]) -> bool {
    let Ok(out) = std::fs::metadata(output).and_then(|m| m.modified()) else { return false };
    newest_mtime(inputs).is_some_and(|i| i <= out)
}

fn build(root: &Path) -> Result {
    let tools = setup::ensure(root)?;
    bundle::build_player(root, &tools)?;
    build_worker(root, &tools)?;
    build_demo(root)?;
    Ok(())
}

fn core_inputs(root: &Path) -> Vec<PathBuf> {
    ["decimal", "sync-core", "media-core", "Cargo.lock", "Cargo.toml"].iter().map(|p| root.join(p)).collect()
}

/// The npm package `@watch-together/player`: the JS API and the embed from
/// www/, the wasm-bindgen output, and player-wasm/npm/{package.json,README.md,CHANGELOG.md}
/// with the workspace version, packed by `npm pack` into target/npm/.
fn pack(root: &Path) -> Result<PathBuf> {
    step("packing the npm package @watch-together/player (npm pack)");
    let dir = root.join("target/npm/player");
    let _ = std::fs::remove_dir_all(&dir);
    // Only this build's tarball is left for the consumer test to find.
    for old in std::fs::read_dir(root.join("target/npm")).into_iter().flatten().flatten() {
        if old.path().extension().is_some_and(|e| e == "tgz") {
            let _ = std::fs::remove_file(old.path());
        }
    }
    std::fs::create_dir_all(dir.join("pkg/media")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = |from: &str, to: &str| std::fs::copy(root.join(from), dir.join(to)).map(|_| ()).map_err(|e| format!("{from}: {e}"));
    for f in ["watch-together.js", "watch-together.d.ts", "events.js", "embed.js", "embed.d.ts", "player-ui.js", "media-player.js", "media-player.d.ts"] {
        copy(&format!("www/{f}"), f)?;
    }
    for f in ["player_wasm.js", "player_wasm.d.ts", "player_wasm_bg.wasm", "player_wasm_bg.wasm.d.ts"] {
        copy(&format!("www/pkg/{f}"), &format!("pkg/{f}"))?;
        copy(&format!("www/pkg/media/{f}"), &format!("pkg/media/{f}"))?;
    }
    copy("player-wasm/npm/README.md", "README.md")?;
    copy("player-wasm/npm/CHANGELOG.md", "CHANGELOG.md")?;
    // xtask is versioned with the workspace too.
    let version = env!("CARGO_PKG_VERSION");
    let manifest = std::fs::read_to_string(root.join("player-wasm/npm/package.json")).map_err(|e| format!("player-wasm/npm/package.json: {e}"))?;
    if !manifest.contains(r#""version": "workspace""#) {
        return Err(r#"player-wasm/npm/package.json must say "version": "workspace" (xtask sets the crate's version)"#.into());
    }
    let manifest = manifest.replace(r#""version": "workspace""#, &format!(r#""version": "{version}""#));
    std::fs::write(dir.join("package.json"), manifest).map_err(|e| e.to_string())?;
    let out = proc::output(Command::new("npm").args(["pack", "--pack-destination", "..", "--loglevel=warn"]).current_dir(&dir))
        .map_err(|e| format!("npm pack: {e}"))?;
    if !out.status.success() {
        return Err(format!("npm pack failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let name = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_string();
    let tgz = root.join("target/npm").join(&name);
    let size = std::fs::metadata(&tgz).map_err(|e| format!("npm pack wrote no {}: {e}", tgz.display()))?.len();
    println!("    target/npm/{name}: {size} bytes");
    Ok(tgz)
}

fn build_worker(root: &Path, tools: &setup::Tools) -> Result {
    step("building edge-worker (worker-build, release)");
    let t = Instant::now();
    let mut inputs = core_inputs(root);
    inputs.push(root.join("edge-worker/src"));
    inputs.push(root.join("edge-worker/Cargo.toml"));
    if up_to_date(&root.join("edge-worker/build/worker/shim.mjs"), &inputs) {
        println!("    up to date");
        return Ok(());
    }
    // The worker is built for speed (the workspace's release profile is for
    // the browser bundle's size): a manifest rewrite runs in the request's
    // CPU time.
    run(Command::new(&tools.worker_build)
        .arg("--release")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
        .current_dir(root.join("edge-worker"))
        .env("WASM_BINDGEN_BIN", &tools.wasm_bindgen)
        .env("WASM_OPT_BIN", &tools.wasm_opt)
        .env("ESBUILD_BIN", root.join("node_modules/.bin/esbuild")))?;
    println!("    edge-worker/build ({:.1} s)", t.elapsed().as_secs_f64());
    Ok(())
}

/// The offline demo: 60 s of DASH (H.264 + AAC, 2 s segments) made by ffmpeg.
fn build_demo(root: &Path) -> Result {
    step("preparing the demo DASH stream");
    let dir = root.join("www/media/demo");
    let manifest = dir.join("manifest.mpd");
    if manifest.exists() {
        println!("    www/media/demo/manifest.mpd present");
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let status = proc::status(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(["-f", "lavfi", "-i", "testsrc2=size=426x240:rate=24:duration=60"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=60"])
            .args(["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p"])
            .args(["-b:v", "140k", "-maxrate", "170k", "-bufsize", "340k", "-g", "48", "-keyint_min", "48", "-sc_threshold", "0"])
            .args(["-c:a", "aac", "-b:a", "48k", "-ac", "2"])
            .args(["-f", "dash", "-seg_duration", "2", "-use_template", "1", "-use_timeline", "1"])
            .args(["-adaptation_sets", "id=0,streams=v id=1,streams=a"])
            .arg(&manifest),
    )
    .map_err(|e| format!("ffmpeg: {e}"))?;
    if !status.success() {
        let _ = std::fs::remove_file(&manifest);
        return Err(format!("ffmpeg failed ({status})"));
    }
    let size: u64 = std::fs::read_dir(&dir).map_err(|e| e.to_string())?.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum();
    println!("    made www/media/demo ({size} bytes)");
    Ok(())
}

/// The fuzz targets of `media-core/fuzz`, each for `WT_FUZZ_SECONDS`
/// (default 15) from the shared corpus: a target passes when libFuzzer
/// finds no crash, panic or leak. Returns (passed, failed).
fn fuzz_smoke(root: &Path) -> (u64, u64) {
    if let Err(e) = setup::ensure_fuzz() {
        eprintln!("    cannot fuzz: {e}");
        return (0, 1);
    }
    let seconds = std::env::var("WT_FUZZ_SECONDS").ok().and_then(|s| s.parse::<u32>().ok()).unwrap_or(15);
    let shared = root.join("../shared/corpus");
    let (mut passed, mut failed) = (0, 0);
    // (The transmuxer starts from ffmpeg's TS segments, made for the native stage.)
    let _ = build_ts_media(root);
    let ts = root.join("target/test-media/ts/avc-aac");
    for (target, seeds) in [
        ("rewrite_dash", Some(shared.join("dash"))),
        ("rewrite_hls", Some(shared.join("hls"))),
        ("url_guard", None),
        ("proxy_path", None),
        ("parse_manifest", Some(shared.join("dash"))),
        ("transmux", Some(ts)),
        ("subtitles", Some(root.join("target/test-media/subs"))),
    ] {
        // New inputs go to the first directory; the shared corpus is read only.
        let work = root.join("target/fuzz-corpus").join(target);
        let _ = std::fs::create_dir_all(&work);
        let mut cmd = Command::new("cargo");
        cmd.args(["+nightly", "fuzz", "run", "-O", target]).arg(&work);
        if let Some(dir) = seeds.filter(|d| d.is_dir()) {
            cmd.arg(dir);
        }
        cmd.arg("--").arg(format!("-max_total_time={seconds}")).arg("-print_final_stats=1").current_dir(root.join("media-core"));
        let t = Instant::now();
        let out = proc::output(&mut cmd);
        match out {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stderr);
                let runs = text.lines().find_map(|l| l.strip_prefix("stat::number_of_executed_units:")).map(str::trim).unwrap_or("?");
                println!("    ok   {target}: {runs} inputs in {:.0} s, no crash", t.elapsed().as_secs_f64());
                passed += 1;
            }
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stderr);
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                eprintln!("    FAIL {target}:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
                failed += 1;
            }
            Err(e) => {
                eprintln!("    FAIL {target}: cargo fuzz: {e}");
                failed += 1;
            }
        }
    }
    (passed, failed)
}

/// Test media made by ffmpeg into `target/test-media/` (once): HLS fMP4
/// (master + media playlist, audio muxed; and with a separate audio
/// rendition) for the proxy and player tests; for the player tests a
/// 3-rung H.264 ladder (SegmentTemplate + SegmentTimeline), VP9/Opus WebM
/// DASH, and one-file-per-track MP4 with a global sidx (SegmentList with
/// mediaRange; the tests also address it through SegmentBase indexRange).
/// The demo stream covers the plain case.
fn build_test_media(root: &Path) -> Result {
    build_media(root, false)
}

/// ffmpeg's arguments for a test pattern and a sine tone of `secs` seconds.
fn lavfi(size: &str, secs: u32, hz: u32) -> Vec<String> {
    vec![
        "-hide_banner".into(),
        "-loglevel".into(),
        "error".into(),
        "-y".into(),
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("testsrc2=size={size}:rate=24:duration={secs}"),
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("sine=frequency={hz}:sample_rate=48000:duration={secs}"),
    ]
}

const H264: [&str; 12] = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "48", "-keyint_min", "48", "-sc_threshold", "0"];

type MediaJob = (&'static str, &'static str, Vec<String>);

/// HLS with MPEG-TS segments (ffmpeg's default), for the transmuxer's
/// native tests and the player: H.264 + AAC; another stream (640x360,
/// timestamps 1000 s on) to splice in after a discontinuity; a 33-bit PTS
/// rollover inside the second segment; 1 s segments cut between keyframes
/// (every other one starts on a non-keyframe); audio only; H.265 + AAC; H.264 + MP3; H.264 +
/// AC-3 5.1 and + E-AC-3; raw H.264 for captions; a
/// 90 s stream the test origin publishes as live; a 3-rung ladder.
fn ts_jobs() -> Vec<MediaJob> {
    let hls = |dir: &str, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"].map(String::from).into();
        a.extend(extra.iter().map(|s| s.to_string())); // (after: an -hls_time here wins)
        a.extend(["-hls_segment_filename".to_string(), format!("{dir}/seg-%03d.ts"), format!("{dir}/media.m3u8")]);
        a
    };
    let av = ["-b:v", "120k", "-c:a", "aac", "-b:a", "48k"];
    // (Each in a folder of target/test-media/ts, its playlist the marker.)
    let job = |marker: &'static str, size: &str, secs: u32, hz: u32, extra: &[&str]| -> MediaJob {
        let mut a = lavfi(size, secs, hz);
        a.extend(hls(marker.split('/').next().unwrap_or(marker), extra));
        ("ts", marker, a)
    };
    vec![
        job("avc-aac/media.m3u8", "320x180", 12, 660, &[&H264[..], &av[..]].concat()),
        job("other/media.m3u8", "640x360", 6, 880, &[&H264[..], &av[..], &["-output_ts_offset", "1000"][..]].concat()),
        // 2^33 / 90 kHz = 95443.72 s; ffmpeg starts at 1.4 s: the wrap comes 2.3 s in.
        job("rollover/media.m3u8", "320x180", 8, 440, &[&H264[..], &av[..], &["-output_ts_offset", "95440"][..]].concat()),
        job("nonkey/media.m3u8", "320x180", 8, 550, &[&H264[..], &av[..], &["-hls_flags", "split_by_time", "-hls_time", "1"][..]].concat()),
        job("audio/media.m3u8", "320x180", 8, 770, &["-vn", "-c:a", "aac", "-b:a", "48k"]),
        job(
            "hevc/media.m3u8",
            "320x180",
            8,
            500,
            &[
                "-c:v",
                "libx265",
                "-preset",
                "ultrafast",
                "-x265-params",
                "log-level=error:keyint=48:min-keyint=48:scenecut=0",
                "-b:v",
                "150k",
                "-c:a",
                "aac",
                "-b:a",
                "48k",
            ],
        ),
        job("mp3/media.m3u8", "320x180", 8, 600, &[&H264[..], &["-b:v", "120k", "-c:a", "libmp3lame", "-b:a", "64k"][..]].concat()),
        // Raw H.264 without B-frames, an AUD per access unit: the captions
        // test adds CEA-608 SEI to it and has ffmpeg mux it to TS.
        ("ts", "cc/source.h264", {
            let mut a = lavfi("320x180", 8, 440);
            a.extend(
                [
                    "-map",
                    "0:v",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-pix_fmt",
                    "yuv420p",
                    "-bf",
                    "0",
                    "-g",
                    "48",
                    "-x264-params",
                    "aud=1",
                    "-f",
                    "h264",
                    "cc/source.h264",
                ]
                .map(String::from),
            );
            a
        }),
        // AC-3 (5.1, as broadcast TS carries it) and E-AC-3 (mono, as the source): passed through.
        job(
            "ac3/media.m3u8",
            "320x180",
            6,
            500,
            &[&H264[..], &["-b:v", "120k", "-c:a", "ac3", "-b:a", "192k", "-af", "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"][..]].concat(),
        ),
        job("eac3/media.m3u8", "320x180", 6, 520, &[&H264[..], &["-b:v", "120k", "-c:a", "eac3", "-b:a", "96k"][..]].concat()),
        // The source of the live TS stream the test origin publishes over time.
        job("live/media.m3u8", "320x180", 90, 415, &[&H264[..], &av[..]].concat()),
        // A 3-rung ladder, each variant muxed with its own audio (as most TS
        // packagers write them), under a master playlist.
        ("ts", "ladder/master.m3u8", {
            let mut a = lavfi("640x360", 20, 440);
            a.extend(["-map", "0:v", "-map", "0:v", "-map", "0:v", "-map", "1:a", "-map", "1:a", "-map", "1:a"].map(String::from));
            a.extend(H264.map(String::from));
            a.extend(
                [
                    "-s:v:0",
                    "256x144",
                    "-b:v:0",
                    "150k",
                    "-s:v:1",
                    "426x240",
                    "-b:v:1",
                    "400k",
                    "-s:v:2",
                    "640x360",
                    "-b:v:2",
                    "900k",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "64k",
                    "-f",
                    "hls",
                    "-hls_time",
                    "2",
                    "-hls_playlist_type",
                    "vod",
                    "-master_pl_name",
                    "master.m3u8",
                    "-var_stream_map",
                    "v:0,a:0 v:1,a:1 v:2,a:2",
                    "-hls_segment_filename",
                    "ladder/v%v/seg-%03d.ts",
                    "ladder/v%v/media.m3u8",
                ]
                .map(String::from),
            );
            a
        }),
    ]
}

/// The TS test media alone (the fuzz stage seeds the transmuxer with them).
fn build_ts_media(root: &Path) -> Result {
    run_media_jobs(&root.join("target/test-media"), ts_jobs())
}

/// The test media, and with `bench` also the long stream of `bench sync`.
fn build_media(root: &Path, bench: bool) -> Result {
    let base = root.join("target/test-media");
    let h264 = H264;
    let dash = ["-f", "dash", "-seg_duration", "2", "-adaptation_sets", "id=0,streams=v id=1,streams=a"];
    let jobs: Vec<(&str, &str, Vec<String>)> = vec![
        ("hls", "master.m3u8", {
            let mut a = lavfi("320x180", 12, 660);
            a.extend(h264.iter().map(|s| s.to_string()));
            a.extend(
                [
                    "-b:v",
                    "120k",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "48k",
                    "-f",
                    "hls",
                    "-hls_time",
                    "2",
                    "-hls_playlist_type",
                    "vod",
                    "-hls_segment_type",
                    "fmp4",
                    "-hls_fmp4_init_filename",
                    "init.mp4",
                    "-hls_segment_filename",
                    "seg-%03d.m4s",
                    "-master_pl_name",
                    "master.m3u8",
                    "media.m3u8",
                ]
                .map(String::from),
            );
            a
        }),
        ("hls-audio", "master.m3u8", {
            let mut a = lavfi("320x180", 12, 880);
            a.extend(["-map", "0:v", "-map", "1:a"].map(String::from));
            a.extend(h264.iter().map(|s| s.to_string()));
            a.extend(
                [
                    "-b:v",
                    "150k",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "48k",
                    "-f",
                    "hls",
                    "-hls_time",
                    "2",
                    "-hls_playlist_type",
                    "vod",
                    "-hls_segment_type",
                    "fmp4",
                    "-hls_fmp4_init_filename",
                    "init.mp4",
                    "-master_pl_name",
                    "master.m3u8",
                    "-var_stream_map",
                    "v:0,agroup:aud a:0,agroup:aud,default:yes",
                    "-hls_segment_filename",
                    "stream_%v/seg-%03d.m4s",
                    "stream_%v/media.m3u8",
                ]
                .map(String::from),
            );
            a
        }),
        ("ladder", "manifest.mpd", {
            let mut a = lavfi("640x360", 20, 440);
            a.extend(["-map", "0:v", "-map", "0:v", "-map", "0:v", "-map", "1:a"].map(String::from));
            a.extend(h264.iter().map(|s| s.to_string()));
            a.extend(
                [
                    "-s:v:0",
                    "256x144",
                    "-b:v:0",
                    "150k",
                    "-s:v:1",
                    "426x240",
                    "-b:v:1",
                    "400k",
                    "-s:v:2",
                    "640x360",
                    "-b:v:2",
                    "900k",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "64k",
                    "-use_template",
                    "1",
                    "-use_timeline",
                    "1",
                ]
                .map(String::from),
            );
            a.extend(dash.iter().map(|s| s.to_string()));
            a.push("manifest.mpd".into());
            a
        }),
        ("webm", "manifest.mpd", {
            let mut a = lavfi("320x180", 12, 550);
            a.extend(
                [
                    "-c:v",
                    "libvpx-vp9",
                    "-deadline",
                    "realtime",
                    "-cpu-used",
                    "8",
                    "-b:v",
                    "200k",
                    "-g",
                    "48",
                    "-keyint_min",
                    "48",
                    "-c:a",
                    "libopus",
                    "-b:a",
                    "48k",
                    "-dash_segment_type",
                    "webm",
                    "-use_template",
                    "1",
                    "-use_timeline",
                    "1",
                ]
                .map(String::from),
            );
            a.extend(dash.iter().map(|s| s.to_string()));
            a.push("manifest.mpd".into());
            a
        }),
        // The source of the live stream the test origin publishes over time
        // (a dynamic MPD whose timeline grows; tests/support/upstream.mjs).
        ("live", "manifest.mpd", {
            let mut a = lavfi("320x180", 90, 350);
            a.extend(h264.iter().map(|s| s.to_string()));
            a.extend(["-b:v", "120k", "-c:a", "aac", "-b:a", "48k", "-use_template", "1", "-use_timeline", "1"].map(String::from));
            a.extend(dash.iter().map(|s| s.to_string()));
            a.push("manifest.mpd".into());
            a
        }),
        // The source of the live HLS stream the test origin publishes over
        // time (a sliding window of this playlist; tests/support/upstream.mjs).
        ("live-hls", "media.m3u8", {
            let mut a = lavfi("320x180", 90, 415);
            a.extend(h264.iter().map(|s| s.to_string()));
            a.extend(
                [
                    "-b:v",
                    "120k",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "48k",
                    "-f",
                    "hls",
                    "-hls_time",
                    "2",
                    "-hls_playlist_type",
                    "vod",
                    "-hls_segment_type",
                    "fmp4",
                    "-hls_fmp4_init_filename",
                    "init.mp4",
                    "-hls_segment_filename",
                    "seg-%03d.m4s",
                    "media.m3u8",
                ]
                .map(String::from),
            );
            a
        }),
        // One plain MP4 that Shaka Packager packages below.
        ("shaka", "src.mp4", {
            let mut a = lavfi("320x180", 12, 330);
            a.extend(h264.iter().map(|s| s.to_string()));
            a.extend(["-b:v", "150k", "-c:a", "aac", "-b:a", "48k", "src.mp4"].map(String::from));
            a
        }),
        ("single", "manifest.mpd", {
            let mut a = lavfi("320x180", 12, 770);
            a.extend(h264.iter().map(|s| s.to_string()));
            a.extend(["-c:a", "aac", "-b:a", "48k", "-single_file", "1", "-global_sidx", "1"].map(String::from));
            a.extend(dash.iter().map(|s| s.to_string()));
            a.push("manifest.mpd".into());
            a
        }),
    ];
    let mut jobs = jobs;
    // Progressive MP4s for the embed stand-ins and the local-file tests: the
    // clip, another encode of it (same length, other bytes) and another video.
    for (marker, secs, hz, rate) in [("clip.mp4", 60, 500, "150k"), ("version.mp4", 60, 500, "90k"), ("other.mp4", 30, 620, "150k")] {
        let mut a = lavfi("320x180", secs, hz);
        a.extend(h264.iter().map(|s| s.to_string()));
        a.extend(["-b:v", rate, "-c:a", "aac", "-b:a", "48k", "-movflags", "+faststart", marker].map(String::from));
        jobs.push(("clip", marker, a));
    }
    if bench {
        // 150 s, so that bench sync measures ≥ 60 s after convergence on each profile.
        let mut a = lavfi("320x180", 150, 500);
        a.extend(h264.iter().map(|s| s.to_string()));
        a.extend(["-b:v", "100k", "-c:a", "aac", "-b:a", "48k", "-use_template", "1", "-use_timeline", "1"].map(String::from));
        a.extend(dash.iter().map(|s| s.to_string()));
        a.push("manifest.mpd".into());
        jobs.push(("long", "manifest.mpd", a));
        // The same length as a progressive file, for the YouTube stand-in profile (its video id names it).
        let mut a = lavfi("320x180", 150, 500);
        a.extend(h264.iter().map(|s| s.to_string()));
        a.extend(["-b:v", "100k", "-c:a", "aac", "-b:a", "48k", "-movflags", "+faststart", "benchLong01.mp4"].map(String::from));
        jobs.push(("clip", "benchLong01.mp4", a));
    }
    jobs.extend(ts_jobs());
    run_media_jobs(&base, jobs)?;
    // Shaka Packager: the on-demand profile (one file per track, SegmentBase
    // indexRange into its sidx), and the live profile (SegmentTemplate +
    // SegmentTimeline) with HLS fMP4 playlists (separate audio) from the same run.
    let dir = base.join("shaka");
    if !dir.join("master.m3u8").exists() {
        let packager = setup::ensure_packager(root)?;
        step("preparing test media: shaka (Shaka Packager)");
        run(Command::new(&packager)
            .args(["--quiet", "in=src.mp4,stream=video,output=od-video.mp4", "in=src.mp4,stream=audio,output=od-audio.mp4", "--mpd_output", "ondemand.mpd"])
            .current_dir(&dir))?;
        run(Command::new(&packager)
            .args([
                "--quiet",
                "in=src.mp4,stream=video,init_segment=video/init.mp4,segment_template=video/$Number$.m4s,playlist_name=video.m3u8",
                "in=src.mp4,stream=audio,init_segment=audio/init.mp4,segment_template=audio/$Number$.m4s,playlist_name=audio.m3u8,hls_group_id=audio,hls_name=English",
                "--generate_static_live_mpd", "--segment_duration", "2", "--mpd_output", "live-profile.mpd", "--hls_master_playlist_output", "master.m3u8",
            ])
            .current_dir(&dir))?;
        println!("    made target/test-media/shaka (ondemand.mpd, live-profile.mpd, master.m3u8)");
    }
    build_subtitle_media(root, &base)
}

/// Subtitles of the 12 s Shaka source, in two languages: SubRip written
/// here (the hand-checked source), ffmpeg's WebVTT, ASS and TTML of it,
/// and Shaka Packager's DASH (fMP4 `wvtt` text in each language) and HLS
/// (segmented WebVTT in a `SUBTITLES` group) with the video and audio.
fn build_subtitle_media(root: &Path, base: &Path) -> Result {
    let dir = base.join("subs");
    if dir.join("hls.m3u8").exists() {
        return Ok(());
    }
    step("preparing test media: subs (SRT here; ffmpeg WebVTT/ASS/TTML; Shaka Packager DASH + HLS)");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for (lang, text) in [("en", subtitle_source("EN")), ("fr", subtitle_source("FR"))] {
        std::fs::write(dir.join(format!("{lang}.srt")), text).map_err(|e| e.to_string())?;
    }
    for (from, to, extra) in [("en.srt", "en.vtt", None), ("en.srt", "en.ass", None), ("en.srt", "en.ttml", Some("ttml")), ("fr.srt", "fr.vtt", None)] {
        let mut ffmpeg = Command::new("ffmpeg");
        ffmpeg.args(["-v", "error", "-y", "-i", from]);
        if let Some(format) = extra {
            ffmpeg.args(["-f", format]);
        }
        run(ffmpeg.arg(to).current_dir(&dir))?;
    }
    let packager = setup::ensure_packager(root)?;
    let src = "../shaka/src.mp4";
    let text = |lang: &str, template: &str, hls: &str| format!("in={lang}.vtt,stream=text,language={lang},{template}{hls}");
    run(Command::new(&packager)
        .args([
            "--quiet".to_string(),
            format!("in={src},stream=video,init_segment=video/init.mp4,segment_template=video/$Number$.m4s"),
            format!("in={src},stream=audio,init_segment=audio/init.mp4,segment_template=audio/$Number$.m4s"),
        ])
        .arg(text("en", "init_segment=text-en/init.mp4,segment_template=text-en/$Number$.m4s", ""))
        .arg(text("fr", "init_segment=text-fr/init.mp4,segment_template=text-fr/$Number$.m4s", ""))
        .args(["--generate_static_live_mpd", "--segment_duration", "2", "--mpd_output", "dash.mpd"])
        .current_dir(&dir))?;
    run(Command::new(&packager)
        .args([
            "--quiet".to_string(),
            format!("in={src},stream=video,init_segment=hls-video/init.mp4,segment_template=hls-video/$Number$.m4s,playlist_name=video.m3u8"),
            format!("in={src},stream=audio,init_segment=hls-audio/init.mp4,segment_template=hls-audio/$Number$.m4s,playlist_name=audio.m3u8,hls_group_id=audio,hls_name=Main"),
        ])
        .arg(text("en", "segment_template=hls-en/$Number$.vtt,playlist_name=en.m3u8", ",hls_group_id=subs,hls_name=English"))
        .arg(text("fr", "segment_template=hls-fr/$Number$.vtt,playlist_name=fr.m3u8", ",hls_group_id=subs,hls_name=Français"))
        .args(["--segment_duration", "2", "--hls_master_playlist_output", "hls.m3u8"])
        .current_dir(&dir))?;
    println!("    made target/test-media/subs (en/fr .srt, en .vtt/.ass/.ttml, dash.mpd, hls.m3u8)");
    Ok(())
}

/// The hand-checked subtitle source: a cue each second from 1 s to 11 s,
/// 0.8 s long, its language's tag and number first; some with the markup
/// and characters every format must carry (italics, `&`, `<`, accents,
/// two lines).
pub fn subtitle_source(tag: &str) -> String {
    let mut srt = String::new();
    for i in 1..=11 {
        let body = match i {
            2 => format!("{tag} {i}: <i>hello</i> & welcome"),
            5 => format!("{tag} {i}: café < crème >\nsecond line"),
            _ => format!("{tag} {i}"),
        };
        srt.push_str(&format!("{i}\n00:00:{i:02},000 --> 00:00:{i:02},800\n{body}\n\n"));
    }
    srt
}

/// Run each ffmpeg job whose marker file is missing (in `base/<name>`).
fn run_media_jobs(base: &Path, jobs: Vec<MediaJob>) -> Result {
    for (name, marker, args) in jobs {
        let dir = base.join(name);
        if dir.join(marker).exists() {
            continue;
        }
        step(&format!("preparing test media: {name}/{} (ffmpeg)", marker.split('/').next().unwrap_or(marker)));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        if let Some((sub, _)) = marker.split_once('/') {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
        }
        let status = proc::status(Command::new("ffmpeg").args(&args).current_dir(&dir)).map_err(|e| format!("ffmpeg: {e}"))?;
        if !status.success() {
            let _ = std::fs::remove_file(dir.join(marker));
            return Err(format!("ffmpeg ({name}) failed ({status})"));
        }
        println!("    made target/test-media/{name}/{marker}");
    }
    Ok(())
}

fn wrangler_env(cmd: &mut Command) -> &mut Command {
    cmd.env("WRANGLER_SEND_METRICS", "false")
        .env("WRANGLER_SEND_ERROR_REPORTS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("WRANGLER_HIDE_BANNER", "true")
}

fn dev(root: &Path) -> Result {
    build(root)?;
    // WT_DEV_PORT: another port (the test of this command uses a free one).
    let port = std::env::var("WT_DEV_PORT").ok().and_then(|p| p.parse::<u16>().ok()).unwrap_or(DEV_PORT);
    step(&format!("starting the edge worker on workerd at http://{DEV_ADDR}:{port}"));
    println!("    open http://{DEV_ADDR}:{port}/ and press \"Create room\"; share the room link with a second tab");
    println!("    Ctrl-C stops everything");
    let mut cmd = Command::new(root.join("node_modules/.bin/wrangler"));
    let secret = dev_proxy_secret(root)?;
    cmd.args(["dev", "--ip", DEV_ADDR, "--port", &port.to_string(), "--show-interactive-dev-session=false"])
        .arg("--var")
        .arg(format!("PROXY_SECRET:{secret}"))
        .stdin(Stdio::null())
        .current_dir(root);
    wrangler_env(&mut cmd);
    // wrangler and workerd in a group of their own, stopped as one on SIGINT, SIGTERM and SIGHUP.
    proc::run_group(&mut cmd)
}

/// The media proxy's secret for local dev: generated once (32 random bytes
/// from the OS) into `target/dev-proxy-secret`. Deployments set their own
/// with `wrangler secret put PROXY_SECRET`.
fn dev_proxy_secret(root: &Path) -> Result<String> {
    let path = root.join("target/dev-proxy-secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if s.trim().len() >= 32 {
            return Ok(s.trim().to_string());
        }
    }
    let mut bytes = [0u8; 32];
    use std::io::Read as _;
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).map_err(|e| format!("/dev/urandom: {e}"))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(root.join("target")).map_err(|e| e.to_string())?;
    std::fs::write(&path, &secret).map_err(|e| e.to_string())?;
    Ok(secret)
}

fn test(root: &Path, args: &[String]) -> Result {
    let started = Instant::now();
    let only: Option<&str> = args.first().map(String::as_str);
    let mut tally = tally::Tally::default();
    let want = |stage: &str| only.is_none_or(|o| o == stage);

    if want("tidy") {
        step("stage 1/5: tidy (cores stay pure; rustfmt, clippy, biome)");
        let (passed, failed) = match setup::ensure(root) {
            Ok(_) => tidy::run(root),
            Err(e) => {
                eprintln!("    FAIL setup: {e}");
                (0, 1)
            }
        };
        tally.add("tidy", passed, failed, 0);
    }
    if want("native") {
        step("stage 2/5: native cargo test (decimal, sync-core, media-core, xtask)");
        // The real-world manifests live beside the checkout, not in it.
        let corpus = root.join("../shared/corpus");
        if !corpus.join("dash").is_dir() || !corpus.join("hls").is_dir() {
            eprintln!("    warning: no manifest corpus at {}: the corpus tests of media-core will fail (check out beside ../shared)", corpus.display());
        }
        // The transmuxer's tests read TS segments made by ffmpeg, the
        // subtitle tests files made by ffmpeg and Shaka Packager.
        if let Err(e) = setup::ensure(root).and_then(|_| build_test_media(root)) {
            eprintln!("    FAIL test media: {e}");
            tally.add("native", 0, 1, 0);
        }
        let out =
            tally::run_capture(Command::new("cargo").args(["test", "-p", "decimal", "-p", "sync-core", "-p", "media-core", "-p", "xtask"]).current_dir(root))?;
        let (p, f, s) = tally::parse_cargo(&out.text);
        tally.add("native", p, f + u64::from(!out.success && f == 0), s);
    }
    let needs_stack = want("worker") || want("e2e");
    let built = if needs_stack { build(root).and_then(|_| build_test_media(root)).map_err(|e| eprintln!("\nxtask: build failed: {e}")).is_ok() } else { true };
    if !built {
        tally.add("build", 0, 1, 0);
    }
    // The e2e stage installs the npm tarball into a throwaway consumer project.
    let package_test = args.get(1).is_none_or(|f| "tests/e2e/package.test.mjs".contains(f.as_str()));
    let tarball = if built && want("e2e") && package_test {
        let t = pack(root).map_err(|e| eprintln!("\nxtask: npm pack failed: {e}")).ok();
        if t.is_none() {
            tally.add("pack", 0, 1, 0);
        }
        t
    } else {
        None
    };
    for (stage, n, dir) in [("worker", 3, "tests/worker"), ("e2e", 4, "tests/e2e")] {
        if !want(stage) || !built {
            continue;
        }
        step(&format!("stage {n}/5: {stage} tests (node --test, real workerd{})", if stage == "e2e" { " + headless Chromium" } else { "" }));
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .map_err(|e| format!("{dir}: {e}"))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
            .filter(|p| args.get(1).is_none_or(|f| p.to_string_lossy().contains(f.as_str())))
            .collect();
        files.sort();
        let tap = format!("target/test-results/{stage}.tap");
        let (p, f, s) = node_test(root, &tap, &files, None, tarball.as_deref())?;
        tally.add(stage, p, f, s);
        tally.add_failures(stage, &std::fs::read_to_string(root.join(&tap)).unwrap_or_default());
        if stage != "e2e" {
            continue;
        }
        // The files that say so run again in Firefox and WebKit.
        for engine in ["firefox", "webkit"] {
            let mine: Vec<PathBuf> = files.iter().filter(|f| engines_of(f).contains(&engine)).cloned().collect();
            if mine.is_empty() {
                continue;
            }
            let names: Vec<String> = mine.iter().filter_map(|f| f.file_name()).map(|n| n.to_string_lossy().into_owned()).collect();
            step(&format!("stage {n}/5, again in {engine}: {}", names.join(", ")));
            let (tap, name) = (format!("target/test-results/e2e-{engine}.tap"), format!("e2e {engine}"));
            let (p, f, s) = node_test(root, &tap, &mine, Some(engine), tarball.as_deref())?;
            tally.add(&name, p, f, s);
            tally.add_failures(&name, &std::fs::read_to_string(root.join(&tap)).unwrap_or_default());
        }
    }
    if want("fuzz") {
        step("stage 5/5: fuzz smoke (cargo fuzz: both rewriters, the URL guard, the proxy's decisions, the manifest parsers, the transmuxer)");
        let (p, f) = fuzz_smoke(root);
        tally.add("fuzz", p, f, 0);
    }
    if tally.passed() == 0 && tally.failed() == 0 {
        println!("    no test ran");
        tally.add("nothing", 0, 1, 0);
    }
    tally.print(started.elapsed());
    if tally.failed() > 0 {
        Err(String::new())
    } else {
        Ok(())
    }
}

/// The engines a test file runs in, from its `// engines: chromium firefox webkit` line (Chromium alone without one).
fn engines_of(file: &Path) -> Vec<&'static str> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let listed = text.lines().take(40).find_map(|l| l.strip_prefix("// engines:")).unwrap_or("chromium");
    ["chromium", "firefox", "webkit"].into_iter().filter(|e| listed.split_whitespace().any(|w| w == *e)).collect()
}

/// `node --test` over `files` (one process per file, one after another), in
/// `engine` (`WT_ENGINE`; Chromium when None): (passed, failed, skipped)
/// from their TAP, written together to `tap`.
fn node_test(root: &Path, tap: &str, files: &[PathBuf], engine: Option<&str>, tarball: Option<&Path>) -> Result<(u64, u64, u64)> {
    let tap = root.join(tap);
    std::fs::create_dir_all(tap.parent().unwrap_or(root)).map_err(|e| e.to_string())?;
    let one = tap.with_extension("file.tap");
    let (mut all, mut total) = (String::new(), (0, 0, 0));
    for file in files {
        let _ = std::fs::remove_file(&one);
        let mut cmd = Command::new("node");
        cmd.arg("--test")
            .arg("--test-concurrency=1")
            .arg("--test-reporter=spec")
            .arg("--test-reporter-destination=stdout")
            .arg("--test-reporter=tap")
            .arg(format!("--test-reporter-destination={}", one.display()))
            .arg(file)
            .current_dir(root);
        wrangler_env(&mut cmd);
        if let Some(t) = tarball {
            cmd.env("WT_NPM_TARBALL", t);
        }
        if let Some(e) = engine {
            cmd.env("WT_ENGINE", e);
        }
        // A file takes at most a few minutes, even in WebKit on a busy
        // machine; one still running at this limit is hung (a WebKit
        // WebDriver session once held a finished file for 30 minutes):
        // stopped, and a failure, so that a hang cannot hold CI.
        let limit = std::time::Duration::from_secs(FILE_LIMIT_S);
        let status = proc::spawn_group(cmd.stdin(Stdio::null()))?.wait_until(std::time::Instant::now() + limit)?;
        let mut text = std::fs::read_to_string(&one).unwrap_or_default();
        if status.is_none() {
            let why = format!("{}: node --test still running after {FILE_LIMIT_S} s (a hung browser or driver): stopped", file.display());
            println!("    FAIL {why}");
            // (Named with the failed tests; not counted twice: the totals come from the `# fail` lines.)
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n'); // (cut off mid-line)
            }
            text.push_str(&format!("not ok 0 - {why}\n"));
        }
        let (p, f, s) = tally::parse_tap(&text);
        total = (total.0 + p, total.1 + f + u64::from(!status.is_some_and(|s| s.success()) && f == 0), total.2 + s);
        all.push_str(&text);
    }
    let _ = std::fs::remove_file(&one);
    std::fs::write(&tap, all).map_err(|e| format!("{}: {e}", tap.display()))?;
    Ok(total)
}

/// How long (s) one test file may run before it is taken for hung.
const FILE_LIMIT_S: u64 = 900;
