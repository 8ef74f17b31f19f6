//! Long-running children (wrangler + workerd, the node test runner) run in
//! process groups of their own, and xtask stops every one of those groups
//! when it is told to stop: SIGINT (Ctrl-C), SIGTERM, or SIGHUP (a closed
//! terminal). Each group gets SIGTERM, then SIGKILL if anything in it is
//! still there after a grace period; then xtask exits. Nothing it started is
//! left listening.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::Result;

/// Process groups started by [`spawn_group`] and not yet reaped.
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Set once a stop signal came: the handler owns the rest of the exit.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// How long a group has to stop on SIGTERM before it gets SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// Install the handler once, at start.
pub fn install_stop_handler() {
    let installed = ctrlc::set_handler(|| {
        STOPPING.store(true, Ordering::SeqCst);
        let groups: Vec<i32> = GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
        if !groups.is_empty() {
            eprintln!("\nxtask: stopping {} process group(s)", groups.len());
        }
        stop_groups(&groups);
        // ctrlc does not say which signal came; 130 is the shell's Ctrl-C code.
        std::process::exit(130);
    });
    if let Err(e) = installed {
        eprintln!("xtask: warning: cannot handle SIGINT/SIGTERM/SIGHUP ({e}); stop children by hand");
    }
}

/// True while some live (not zombie) process of group `pgid` exists. A
/// zombie leader waiting to be reaped by xtask itself does not count.
pub fn group_alive(pgid: i32) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        // No procfs (not Linux): any member, zombies included.
        return killpg(Pid::from_raw(pgid), None).is_ok();
    };
    procs.flatten().any(|e| {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { return false };
        stat_in_group(&stat, pgid)
    })
}

/// `/proc/PID/stat` is "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
fn stat_in_group(stat: &str, pgid: i32) -> bool {
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { return false };
    let mut f = rest.split_whitespace();
    let (state, _ppid, pgrp) = (f.next(), f.next(), f.next());
    state.is_some_and(|s| s != "Z" && s != "X") && pgrp.and_then(|p| p.parse::<i32>().ok()) == Some(pgid)
}

/// The state letter of a `/proc/PID/stat` line.
#[cfg(test)]
fn stat_state(stat: &str) -> Option<&str> {
    stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next())
}

/// SIGTERM each group, wait for them to empty, SIGKILL what is left.
pub fn stop_groups(groups: &[i32]) {
    for &g in groups {
        let _ = killpg(Pid::from_raw(g), Signal::SIGTERM);
    }
    let deadline = Instant::now() + GRACE;
    while groups.iter().any(|&g| group_alive(g)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for &g in groups {
        if group_alive(g) {
            let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
        }
    }
    // SIGKILL is not instant either: wait for the groups to be gone.
    let deadline = Instant::now() + Duration::from_secs(2);
    while groups.iter().any(|&g| group_alive(g)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child leading a process group of its own, stopped with its whole group
/// when xtask is told to stop or when this value is dropped.
pub struct GroupChild {
    child: Option<Child>,
    pgid: i32,
}

impl GroupChild {
    /// After the child ends: hold still while a stop signal is being handled.
    fn settle_stop() {
        // The child ended because xtask is stopping: let the handler finish
        // stopping the groups (workerd may outlive wrangler) and exit.
        while STOPPING.load(Ordering::SeqCst) {
            std::thread::park();
        }
    }

    pub fn wait(&mut self) -> Result<ExitStatus> {
        let child = self.child.as_mut().ok_or("child already waited for")?;
        let status = child.wait().map_err(|e| format!("wait: {e}"))?;
        Self::settle_stop();
        Ok(status)
    }

    /// Wait until `deadline` at the latest: `None` if the child still ran
    /// then (its group is stopped: a hung browser session must not hold
    /// the test command until CI's limit).
    pub fn wait_until(&mut self, deadline: Instant) -> Result<Option<ExitStatus>> {
        let child = self.child.as_mut().ok_or("child already waited for")?;
        loop {
            if let Some(status) = child.try_wait().map_err(|e| format!("wait: {e}"))? {
                Self::settle_stop();
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                stop_groups(&[self.pgid]);
                let _ = child.wait();
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Wait, collecting piped stdout and stderr.
    pub fn wait_with_output(mut self) -> Result<Output> {
        let child = self.child.take().ok_or("child already waited for")?;
        let out = child.wait_with_output().map_err(|e| format!("wait: {e}"))?;
        Self::settle_stop();
        Ok(out)
    }

    /// The child's stdout, if piped.
    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut()?.stdout.take()
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        // The leader may be gone while its children (workerd) live on.
        if group_alive(self.pgid) {
            stop_groups(&[self.pgid]);
        }
        if let Some(c) = self.child.as_mut() {
            let _ = c.try_wait();
        }
        if let Ok(mut g) = GROUPS.lock() {
            g.retain(|&p| p != self.pgid);
        }
    }
}

/// Spawn `cmd` as the leader of a new process group.
pub fn spawn_group(cmd: &mut Command) -> Result<GroupChild> {
    let desc = format!("{cmd:?}");
    // Hold the lock across the spawn, so a signal arriving meanwhile still
    // finds the new group once the handler can read the list.
    let mut groups = GROUPS.lock().map_err(|_| "process registry poisoned".to_string())?;
    let child = cmd.process_group(0).spawn().map_err(|e| format!("could not start {desc}: {e}"))?;
    let pgid = child.id() as i32;
    groups.push(pgid);
    Ok(GroupChild { child: Some(child), pgid })
}

/// Run `cmd` to its end in a process group of its own (stdin closed: a
/// background group must not read the terminal); its status.
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    spawn_group(cmd.stdin(Stdio::null()))?.wait()
}

/// Like [`Command::output`], in a process group of its own.
pub fn output(cmd: &mut Command) -> Result<Output> {
    spawn_group(cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()))?.wait_with_output()
}

/// Like [`crate::run`] (which uses it), in a process group of its own.
pub fn run_group(cmd: &mut Command) -> Result {
    let desc = format!("{cmd:?}");
    let status = status(cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{desc} failed with {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::{BufRead, BufReader};

    /// Spawn `script` under sh in a group of its own and wait for its "started" line.
    fn started(script: &str) -> GroupChild {
        let mut child = spawn_group(Command::new("sh").args(["-c", script]).stdout(Stdio::piped())).unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "started");
        child
    }

    #[test]
    fn a_dropped_group_leaves_nothing_running() {
        // A shell whose child outlives the wait, as workerd under wrangler.
        let child = started("sleep 30 & echo started; wait");
        let pgid = child.pgid;
        assert!(group_alive(pgid));
        drop(child);
        assert!(!group_alive(pgid), "the whole group is gone");
        assert!(!GROUPS.lock().unwrap().contains(&pgid));
    }

    #[test]
    fn a_group_whose_leader_is_gone_is_still_stopped() {
        let child = started("sleep 30 & echo started");
        let pgid = child.pgid;
        // The leader exits at once; its child lives on in the group.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !std::fs::read_to_string(format!("/proc/{pgid}/stat")).map_or(true, |s| stat_state(&s) == Some("Z")) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(group_alive(pgid), "the orphan still runs");
        drop(child);
        assert!(!group_alive(pgid));
    }

    #[test]
    fn what_ignores_sigterm_gets_sigkill() {
        let child = started("trap '' TERM; sleep 30 & echo started; wait");
        let pgid = child.pgid;
        let t = Instant::now();
        drop(child);
        assert!(!group_alive(pgid), "killed after the grace period");
        assert!(t.elapsed() >= GRACE, "SIGTERM was given its grace first: {:?}", t.elapsed());
    }

    #[test]
    fn stat_lines_are_read_past_odd_names() {
        assert!(stat_in_group("412 (work (er) x) S 1 400 400 0", 400));
        assert!(!stat_in_group("412 (workerd) Z 1 400 400 0", 400));
        assert!(!stat_in_group("412 (workerd) S 1 401 401 0", 400));
    }
}
