//! The gates the tidy stage keeps besides purity: rustfmt (the house style
//! of `rustfmt.toml`), clippy with warnings denied (native crates and both
//! wasm32 shells, each feature set that ships), and Biome over the JS/TS,
//! CSS and HTML of `www/` and `tests/` (`biome.jsonc`).
//!
//! Each gate also proves it can fail: each of [`SELF_TESTS`] plants a violation in a
//! scratch project that carries the project's own configuration, and checks
//! that the gate refuses it and accepts the same project without it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;

/// One gate over the tree: a name and its check.
pub struct Gate {
    pub name: &'static str,
    pub check: fn(&Path) -> Result,
}

pub const GATES: &[Gate] = &[
    Gate { name: "rustfmt --check (workspace and fuzz crate)", check: fmt_tree },
    Gate { name: "clippy -D warnings (native crates, all targets)", check: clippy_native },
    Gate { name: "clippy -D warnings (player-wasm, edge-worker, wasm32)", check: clippy_wasm },
    Gate { name: "clippy -D warnings (player-wasm without the room, wasm32)", check: clippy_wasm_media },
    Gate { name: "biome lint (www/, tests/; warnings fail)", check: lint_js },
];

/// Run a command quietly; on failure, its output is the error.
fn quiet(cmd: &mut Command) -> Result {
    let desc = format!("{cmd:?}");
    let out = crate::proc::output(cmd).map_err(|e| format!("{desc}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Enough to act on; the whole report is one command away.
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let shown = lines.iter().take(60).copied().collect::<Vec<_>>().join("\n      ");
    let more = if lines.len() > 60 { format!("\n      … {} more lines", lines.len() - 60) } else { String::new() };
    Err(format!("{desc} failed ({}):\n      {shown}{more}", out.status))
}

/// `cargo fmt --check` of the Cargo project (workspace) in `dir`.
pub fn fmt_check(dir: &Path) -> Result {
    quiet(Command::new("cargo").args(["fmt", "--all", "--check", "--", "--color", "never"]).current_dir(dir))
}

fn fmt_tree(root: &Path) -> Result {
    fmt_check(root)?;
    fmt_check(&root.join("media-core/fuzz"))
}

/// `cargo clippy` with warnings denied, in `dir`, with `args` (packages,
/// targets, features) and an optional target directory of its own.
pub fn clippy(dir: &Path, args: &[&str], target_dir: Option<&Path>) -> Result {
    let mut cmd = Command::new("cargo");
    cmd.arg("clippy").args(args).args(["--", "-D", "warnings"]).current_dir(dir);
    if let Some(t) = target_dir {
        cmd.env("CARGO_TARGET_DIR", t);
    }
    quiet(&mut cmd)
}

fn clippy_native(root: &Path) -> Result {
    let mut args = Vec::new();
    for c in crate::tidy::CORES.iter().chain(&["xtask"]) {
        args.extend(["-p", c]);
    }
    args.push("--all-targets");
    clippy(root, &args, None)
}

fn clippy_wasm(root: &Path) -> Result {
    clippy(root, &["-p", "player-wasm", "-p", "edge-worker", "--target", "wasm32-unknown-unknown", "--all-targets"], None)
}

fn clippy_wasm_media(root: &Path) -> Result {
    clippy(root, &["-p", "player-wasm", "--no-default-features", "--target", "wasm32-unknown-unknown"], None)
}

/// Biome (pinned in package.json) with the configuration in `dir`.
pub fn biome(root: &Path, dir: &Path) -> Result {
    let bin = root.join("node_modules/.bin/biome");
    quiet(Command::new(bin).args(["lint", "--error-on-warnings", "--colors=off", "--max-diagnostics=30"]).current_dir(dir))
}

fn lint_js(root: &Path) -> Result {
    biome(root, root)
}

/// A scratch directory for one self-test, emptied first.
fn scratch(name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("wt-tidy-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

fn write(path: &Path, text: &str) -> Result {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A one-file crate (its own workspace) with the project's rustfmt and clippy settings.
fn planted_crate(root: &Path, name: &str, lib: &str) -> Result<PathBuf> {
    let dir = scratch(name)?;
    write(&dir.join("Cargo.toml"), "[package]\nname = \"planted\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n")?;
    for f in ["rustfmt.toml", "clippy.toml"] {
        std::fs::copy(root.join(f), dir.join(f)).map_err(|e| format!("{f}: {e}"))?;
    }
    write(&dir.join("src/lib.rs"), lib)?;
    Ok(dir)
}

/// The gate accepts the clean version and refuses the planted violation
/// for the reason planted: its report names `reason` (a tool that merely
/// failed to start does not count as a refusal).
fn refuses(what: &str, reason: &str, clean: Result, planted: Result) -> Result {
    clean.map_err(|e| format!("{what}: the clean scratch project was refused:\n{e}"))?;
    match planted {
        Err(e) if e.contains(reason) => Ok(()),
        Err(e) => Err(format!("{what}: the planted violation was refused, but not for `{reason}`:\n{e}")),
        Ok(()) => Err(format!("{what}: the planted violation passed")),
    }
}

/// Self-tests of the gates: each plants a violation its gate must refuse.
pub const SELF_TESTS: &[Gate] = &[
    Gate { name: "rustfmt refuses an unformatted file", check: fmt_refuses },
    Gate { name: "clippy refuses a warning", check: clippy_refuses },
    Gate { name: "biome refuses a lint error", check: biome_refuses },
];

/// Run `gate` on a clean and on a planted version of a one-file crate, each
/// in a scratch directory of its own (no build cache can mix them up).
fn crate_refuses(root: &Path, what: &str, reason: &str, clean: &str, planted: &str, gate: impl Fn(&Path) -> Result) -> Result {
    let good = planted_crate(root, &format!("{what}-clean"), clean)?;
    let bad = planted_crate(root, &format!("{what}-planted"), planted)?;
    let r = refuses(what, reason, gate(&good), gate(&bad));
    let _ = std::fs::remove_dir_all(&good);
    let _ = std::fs::remove_dir_all(&bad);
    r
}

fn fmt_refuses(root: &Path) -> Result {
    crate_refuses(root, "rustfmt", "Diff in", "pub fn answer() -> u8 {\n    42\n}\n", "pub fn answer( )->u8{42}\n", fmt_check)
}

fn clippy_refuses(root: &Path) -> Result {
    // clippy::ptr_arg: `&Vec<u8>` where `&[u8]` would do.
    let (clean, planted) = ("pub fn len(v: &[u8]) -> usize {\n    v.len()\n}\n", "pub fn len(v: &Vec<u8>) -> usize {\n    v.len()\n}\n");
    crate_refuses(root, "clippy", "clippy::ptr_arg", clean, planted, |dir| clippy(dir, &[], Some(&dir.join("target"))))
}

fn biome_refuses(root: &Path) -> Result {
    let dir = scratch("biome")?;
    std::fs::copy(root.join("biome.jsonc"), dir.join("biome.jsonc")).map_err(|e| format!("biome.jsonc: {e}"))?;
    let file = dir.join("tests/planted.test.mjs");
    write(&file, "export function same(a, b) {\n  return a === b;\n}\n")?;
    let clean = biome(root, &dir);
    // suspicious/noDoubleEquals and suspicious/noDebugger.
    write(&file, "export function same(a, b) {\n  debugger;\n  return a == b;\n}\n")?;
    let r = refuses("biome", "lint/suspicious/noDebugger", clean, biome(root, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    r
}
