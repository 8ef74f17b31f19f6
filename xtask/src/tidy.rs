//! The cores (`decimal`, `sync-core`, `media-core`) must stay sans-IO: no platform
//! crates in their dependency trees, no clock reads, sleeps or sockets in
//! their code, no file access outside their tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;

pub const CORES: &[&str] = &["decimal", "sync-core", "media-core"];

/// Crates that would tie a core to a platform or to real time.
pub const FORBIDDEN_CRATES: &[&str] =
    &["wasm-bindgen", "web-sys", "js-sys", "worker", "worker-sys", "gloo-timers", "wasm-bindgen-futures", "getrandom", "tokio", "async-std"];

/// Code that reads a clock, sleeps, or does I/O.
const FORBIDDEN_CALLS: &[&str] = &["Instant::now", "SystemTime", "UNIX_EPOCH", "std::time", "Date::now", "thread::sleep", "std::net", "std::env::var"];
/// Allowed in test files only.
const FORBIDDEN_OUTSIDE_TESTS: &[&str] = &["std::fs", "std::io::stdin"];

/// Violations of the call rules in one source file.
pub fn scan_source(text: &str, is_test_file: bool) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for pat in FORBIDDEN_CALLS.iter().chain(if is_test_file { [].iter() } else { FORBIDDEN_OUTSIDE_TESTS.iter() }) {
            if code.contains(pat) {
                found.push(format!("line {}: `{pat}`", n + 1));
            }
        }
    }
    found
}

/// Forbidden crates in a `cargo tree --prefix none` listing.
pub fn scan_tree(tree: &str) -> Vec<String> {
    let mut found: Vec<String> =
        tree.lines().filter_map(|l| l.split_whitespace().next()).filter(|name| FORBIDDEN_CRATES.contains(name)).map(String::from).collect();
    found.sort();
    found.dedup();
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
}

/// The purity checks: how many passed, or the list of violations.
pub fn purity(root: &Path) -> Result<u64> {
    let mut problems = Vec::new();
    let mut checks = 0;
    for core in CORES {
        checks += 2;
        let tree = crate::proc::output(
            Command::new("cargo").args(["tree", "-p", core, "-e", "normal,build", "--prefix", "none", "--target", "all"]).current_dir(root),
        )
        .map_err(|e| format!("cargo tree: {e}"))?;
        if !tree.status.success() {
            problems.push(format!("{core}: cargo tree failed: {}", String::from_utf8_lossy(&tree.stderr)));
        }
        for c in scan_tree(&String::from_utf8_lossy(&tree.stdout)) {
            problems.push(format!("{core} depends on platform crate `{c}`"));
        }
        let mut files = Vec::new();
        rust_files(&root.join(core).join("src"), &mut files);
        if files.is_empty() {
            problems.push(format!("{core}: no sources found"));
        }
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let is_test = f.file_name().is_some_and(|n| n == "tests.rs") || f.components().any(|c| c.as_os_str() == "tests");
            for v in scan_source(&text, is_test) {
                problems.push(format!("{}: {v}", f.strip_prefix(root).unwrap_or(&f).display()));
            }
        }
    }
    checks += 1;
    problems.extend(room_id_rule(root));
    if problems.is_empty() {
        println!("    ok   {} cores depend on no platform crate and read no clock; one room-id rule ({checks} checks)", CORES.len());
        Ok(checks)
    } else {
        Err(format!("tidy found {} problem(s):\n  {}", problems.len(), problems.join("\n  ")))
    }
}

/// The room-id rule lives in `sync_core::protocol::valid_room_id`; the
/// pages' patterns (`[A-Za-z0-9_-]{N}`) must say the same length.
fn room_id_rule(root: &Path) -> Vec<String> {
    let protocol = std::fs::read_to_string(root.join("sync-core/src/protocol.rs")).unwrap_or_default();
    let Some(len) = protocol.lines().find_map(|l| l.trim().strip_prefix("pub const ROOM_ID_LEN: usize = ")?.strip_suffix(';')?.parse::<usize>().ok()) else {
        return vec!["sync-core/src/protocol.rs: no ROOM_ID_LEN".into()];
    };
    let mut problems = Vec::new();
    let mut seen = 0;
    for page in ["www/watch-together.js", "www/index.js"] {
        let text = std::fs::read_to_string(root.join(page)).unwrap_or_default();
        for (i, _) in text.match_indices("[A-Za-z0-9_-]{") {
            seen += 1;
            let rest = &text[i + "[A-Za-z0-9_-]{".len()..];
            let n = rest.split('}').next().unwrap_or("");
            if n != len.to_string() {
                problems.push(format!("{page}: a room id pattern says {{{n}}}, the rule is {len} characters"));
            }
        }
    }
    if seen == 0 {
        problems.push("www: no room id pattern found to check".into());
    }
    problems
}

/// Every tidy check: purity, the generated files, the gates over the
/// tree, and the gates' self-tests. Returns (passed, failed); failures are printed.
pub fn run(root: &Path) -> (u64, u64) {
    let (mut passed, mut failed) = (0, 0);
    match purity(root) {
        Ok(n) => passed += n,
        Err(e) => {
            eprintln!("    FAIL purity: {e}");
            failed += 1;
        }
    }
    let mut report = |name: &str, t: std::time::Instant, r: Result| match r {
        Ok(()) => {
            println!("    ok   {name} ({:.1} s)", t.elapsed().as_secs_f64());
            passed += 1;
        }
        Err(e) => {
            eprintln!("    FAIL {name}: {e}");
            failed += 1;
        }
    };
    let t = std::time::Instant::now();
    report("generated files say what player-wasm/src/events.rs says (cargo xtask codegen)", t, crate::codegen::check(root));
    // Each gate first shows it can fail, then looks at the tree.
    for gate in crate::gates::SELF_TESTS.iter().chain(crate::gates::GATES) {
        let t = std::time::Instant::now();
        report(gate.name, t, (gate.check)(root));
    }
    (passed, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_reads_are_caught_but_comments_are_not() {
        assert_eq!(scan_source("let t = std::time::Instant::now();", false).len(), 2);
        assert!(scan_source("// never call Instant::now here", false).is_empty());
        assert_eq!(scan_source("let f = std::fs::read(p);", false).len(), 1);
        assert!(scan_source("let f = std::fs::read(p);", true).is_empty());
    }

    #[test]
    fn platform_crates_are_caught() {
        let tree = "sync-core v0.1.0 (/x)\nserde v1.0.0\njs-sys v0.3.0\nwasm-bindgen v0.2.130\njs-sys v0.3.0 (*)\n";
        assert_eq!(scan_tree(tree), ["js-sys", "wasm-bindgen"]);
        assert!(scan_tree("media-core v0.1.0\nquick-xml v0.38.4\nmemchr v2\n").is_empty());
    }
}
