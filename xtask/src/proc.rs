//! Long-running children (wrangler + workerd, the node test runner) run in
//! process groups of their own, and xtask stops every one of those groups
//! when it is told to stop: SIGINT (Ctrl-C), SIGTERM, or SIGHUP (a closed
//! terminal). Each group gets SIGTERM, then SIGKILL if anything in it is
//! still there after a grace period; then xtask exits. Nothing it started is
//! left listening.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, ExitStatus};
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
}

/// A child leading a process group of its own, stopped with its whole group
/// when xtask is told to stop or when this value is dropped.
pub struct GroupChild {
    child: Child,
    pgid: i32,
}

impl GroupChild {
    pub fn wait(&mut self) -> Result<ExitStatus> {
        let status = self.child.wait().map_err(|e| format!("wait: {e}"))?;
        // The child ended because xtask is stopping: let the handler finish
        // stopping the groups (workerd may outlive wrangler) and exit.
        while STOPPING.load(Ordering::SeqCst) {
            std::thread::park();
        }
        Ok(status)
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        // The leader may be gone while its children (workerd) live on.
        if group_alive(self.pgid) {
            stop_groups(&[self.pgid]);
        }
        let _ = self.child.try_wait();
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
    Ok(GroupChild { child, pgid })
}

/// Like [`crate::run`], in a process group of its own.
pub fn run_group(cmd: &mut Command) -> Result {
    let desc = format!("{cmd:?}");
    let status = spawn_group(cmd)?.wait()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{desc} failed with {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_group_leaves_nothing_running() {
        // A shell whose child outlives it, as wrangler's workerd would.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & echo started; wait"]).stdout(std::process::Stdio::piped());
        let child = spawn_group(&mut cmd).unwrap();
        let pgid = child.pgid;
        assert!(group_alive(pgid));
        drop(child);
        assert!(!group_alive(pgid), "the whole group is gone");
        assert!(!GROUPS.lock().unwrap().contains(&pgid));
    }

    #[test]
    fn stat_lines_are_read_past_odd_names() {
        assert!(stat_in_group("412 (work (er) x) S 1 400 400 0", 400));
        assert!(!stat_in_group("412 (workerd) Z 1 400 400 0", 400));
        assert!(!stat_in_group("412 (workerd) S 1 401 401 0", 400));
    }
}
