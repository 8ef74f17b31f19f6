//! Counting tests across stages and printing the closing totals line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::Result;

#[derive(Default)]
pub struct Tally {
    stages: Vec<(String, u64, u64, u64)>,
    /// One line per failed test (stage, name, its error), repeated just
    /// above the summary: a long run's log is often read from its end.
    failures: Vec<String>,
}

impl Tally {
    pub fn add(&mut self, stage: &str, passed: u64, failed: u64, skipped: u64) {
        println!("    {stage}: {passed} passed, {failed} failed, {skipped} skipped");
        self.stages.push((stage.to_string(), passed, failed, skipped));
    }
    /// Failed tests of `stage`, with their errors, read off their TAP.
    pub fn add_failures(&mut self, stage: &str, tap: &str) {
        self.failures.extend(tap_failures(tap).into_iter().map(|f| format!("{stage}: {f}")));
    }
    pub fn passed(&self) -> u64 {
        self.stages.iter().map(|s| s.1).sum()
    }
    pub fn failed(&self) -> u64 {
        self.stages.iter().map(|s| s.2).sum()
    }
    pub fn skipped(&self) -> u64 {
        self.stages.iter().map(|s| s.3).sum()
    }
    /// The summary; its last line is the plain totals line.
    pub fn print(&self, elapsed: Duration) {
        if !self.failures.is_empty() {
            println!("\n==> failed tests");
            for f in &self.failures {
                println!("    {f}");
            }
        }
        println!("\n==> summary ({:.0} s)", elapsed.as_secs_f64());
        for (name, p, f, s) in &self.stages {
            let mark = if *f > 0 { "FAIL" } else { "ok  " };
            println!("    {mark} {name:<12} {p:>4} passed {f:>4} failed {s:>4} skipped");
        }
        println!("{} passed, {} failed, {} skipped", self.passed(), self.failed(), self.skipped());
    }
}

pub struct Captured {
    pub text: String,
    pub success: bool,
}

/// Run a command, streaming its stdout while keeping a copy.
pub fn run_capture(cmd: &mut Command) -> Result<Captured> {
    let mut child = crate::proc::spawn_group(cmd.stdin(Stdio::null()).stdout(Stdio::piped()))?;
    let mut text = String::new();
    if let Some(out) = child.stdout() {
        for line in BufReader::new(out).lines().map_while(std::result::Result::ok) {
            println!("{line}");
            text.push_str(&line);
            text.push('\n');
        }
    }
    let status = child.wait()?;
    Ok(Captured { text, success: status.success() })
}

/// The number just before `word` in each `;`/`,`-separated part, summed.
fn number_before(s: &str, word: &str) -> u64 {
    s.split([';', ','])
        .filter_map(|part| {
            let tokens: Vec<&str> = part.split_whitespace().collect();
            let i = tokens.iter().position(|t| *t == word)?;
            tokens.get(i.checked_sub(1)?)?.parse::<u64>().ok()
        })
        .sum()
}

/// Sum the `test result:` lines of `cargo test`: (passed, failed, ignored).
pub fn parse_cargo(text: &str) -> (u64, u64, u64) {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("test result:"))
        .fold((0, 0, 0), |acc, l| (acc.0 + number_before(l, "passed"), acc.1 + number_before(l, "failed"), acc.2 + number_before(l, "ignored")))
}

/// Read the totals of node's TAP reporter: (passed, failed + cancelled, skipped + todo).
pub fn parse_tap(text: &str) -> (u64, u64, u64) {
    let field =
        |name: &str| -> u64 { text.lines().filter_map(|l| l.trim().strip_prefix(&format!("# {name} "))).filter_map(|n| n.trim().parse::<u64>().ok()).sum() };
    (field("pass"), field("fail") + field("cancelled"), field("skipped") + field("todo"))
}

/// Each failed test in a TAP text: its name and the first line of its
/// error (at most 300 characters).
pub fn tap_failures(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim_start().strip_prefix("not ok ").and_then(|r| r.split_once(" - ")).map(|(_, n)| n) else { continue };
        let mut error = String::new();
        let mut parent = false;
        while let Some(next) = lines.peek() {
            let t = next.trim();
            if t.starts_with("not ok ") || t.starts_with("ok ") || t.starts_with("# Subtest") {
                break;
            }
            if let Some(e) = t.strip_prefix("error: ") {
                // A multi-line error is `|-` followed by its lines; one line is quoted.
                error = if e.starts_with('|') {
                    lines.clone().nth(1).map(str::trim).unwrap_or_default().to_string()
                } else {
                    e.trim_matches(['\'', '"', '`']).to_string()
                };
            }
            // (A parent that failed only by its subtests: they are listed.)
            parent |= t == "failureType: 'subtestsFailed'";
            lines.next();
        }
        if parent {
            continue;
        }
        let error: String = error.chars().take(300).collect();
        out.push(if error.is_empty() { name.to_string() } else { format!("{name}: {error}") });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_results_are_summed() {
        let out = "test result: ok. 28 passed; 0 failed; 1 ignored; 0 measured\nnoise\ntest result: FAILED. 3 passed; 2 failed; 0 ignored;\n";
        assert_eq!(parse_cargo(out), (31, 2, 1));
    }

    #[test]
    fn tap_totals_are_read() {
        let tap = "TAP version 13\nok 1 - a\n# tests 5\n# pass 3\n# fail 1\n# cancelled 1\n# skipped 0\n# todo 0\n";
        assert_eq!(parse_tap(tap), (3, 2, 0));
    }

    #[test]
    fn failed_tests_are_named_with_their_errors() {
        let tap = "TAP version 13\n# Subtest: a\nok 1 - a\n  ---\n  duration_ms: 1\n  ...\n# Subtest: b\nnot ok 2 - b\n  ---\n  error: 'webkit evaluate: took over 30000 ms'\n  code: 'ERR_TEST_FAILURE'\n  ...\nnot ok 3 - c\n  ---\n  error: |-\n    joined with media loaded (within 15000 ms)\n    more\n  ...\n";
        assert_eq!(tap_failures(tap), ["b: webkit evaluate: took over 30000 ms", "c: joined with media loaded (within 15000 ms)"]);
        let nested = "# Subtest: outer\n    not ok 1 - inner\n      ---\n      error: \"it's late\"\n      ...\nnot ok 1 - outer\n  ---\n  failureType: 'subtestsFailed'\n  error: '1 subtest failed'\n  ...\n";
        assert_eq!(tap_failures(nested), ["inner: it's late"]);
    }
}
