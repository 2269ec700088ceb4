//! Process sessions: a build or a test starts in a session of its own
//! (`setsid`), and the grader kills every member of that session when it is
//! done with it, whatever process groups the members made for themselves.
//!
//! A process group is not enough: cargo puts each rustc in a group of its
//! own, and a test may call `setpgid`. A process can leave its session only
//! by `setsid`, which a grader that is a child subreaper then catches as an
//! orphan (see `run::sweep_escapees`).
//!
//! grade-all runs each grader here ([`output_in_session`]): when it ends or
//! its time is up, its session and every process left below grade-all (a
//! subreaper too: builds and tests in sessions of their own) are killed.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// What `/proc/PID/stat` says of a process that matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// `R`, `S`, `D`, `Z` (a zombie, already dead), ...
    pub state: char,
    pub parent: i32,
    pub group: i32,
    pub session: i32,
}

/// The stat of `pid`, or `None` when it is gone or unreadable.
pub fn stat_of(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses a `/proc/PID/stat` line. The command name may hold spaces and
/// parentheses, so the fields are read after the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let mut number = || fields.next()?.parse::<i32>().ok();
    Some(Stat {
        state,
        parent: number()?,
        group: number()?,
        session: number()?,
    })
}

/// Every process now on the machine, with its stat.
pub fn processes() -> Vec<(i32, Stat)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, stat_of(pid)?)))
        .collect()
}

/// The live (not zombie) members of session `session`.
pub fn members(session: i32) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|(_, s)| s.session == session && s.state != 'Z')
        .map(|(pid, _)| pid)
        .collect()
}

/// Kills every member of session `session` (its leader included), round
/// after round, since a member may fork while it is being killed; gives up
/// after `within`. Returns how many members were still alive then (0 on
/// success). Zombies are dead already: their parent reaps them.
pub fn kill_session(session: i32, within: Duration) -> usize {
    if session <= 1 {
        return 0;
    }
    let until = Instant::now() + within;
    loop {
        let alive = members(session);
        if alive.is_empty() || Instant::now() >= until {
            return alive.len();
        }
        for pid in alive {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills every descendant of this process (what a child started, and what
/// was re-parented to us as a subreaper), round after round, reaping those
/// that become our children; gives up after `within`. Returns how many were
/// still alive then. Call it only when no child of ours should live.
pub fn kill_descendants(within: Duration) -> usize {
    let me = std::process::id() as i32;
    let until = Instant::now() + within;
    loop {
        let all = processes();
        let mut ours: Vec<i32> = Vec::new();
        let mut frontier = vec![me];
        while let Some(parent) = frontier.pop() {
            for (pid, stat) in &all {
                if stat.parent == parent && !ours.contains(pid) {
                    ours.push(*pid);
                    frontier.push(*pid);
                }
            }
        }
        let alive: Vec<i32> = ours
            .iter()
            .copied()
            .filter(|pid| all.iter().any(|(p, s)| p == pid && s.state != 'Z'))
            .collect();
        for &pid in &alive {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        // Reap our own children (dead ones, and those just killed).
        for (pid, stat) in &all {
            if stat.parent == me {
                let _ = nix::sys::wait::waitpid(
                    Pid::from_raw(*pid),
                    Some(
                        nix::sys::wait::WaitPidFlag::WNOHANG | nix::sys::wait::WaitPidFlag::__WALL,
                    ),
                );
            }
        }
        if ours.is_empty() || Instant::now() >= until {
            return alive.len();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `command` (grade-all's grader) to its end in a session of its own,
/// at most `limit`, with stdout and stderr captured; it dies with us. When it ends or we give up on it, every process of its session and
/// every process it left behind (ours to reap, as we are a subreaper) is
/// killed, builds and tests included: nothing of one submission outlives
/// its row.
pub fn output_in_session(
    command: &mut std::process::Command,
    limit: Duration,
) -> std::io::Result<support::spawn::Captured> {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setsid and prctl are async-signal-safe and take integers.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()?;
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    let session = child.id() as i32;
    let drained = support::spawn::Drained::from(&mut child);
    let deadline = Instant::now() + limit;
    let mut status = None;
    while Instant::now() < deadline {
        match child.try_wait()? {
            Some(ended) => {
                status = Some(ended);
                break;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    kill_session(session, Duration::from_secs(10));
    kill_descendants(Duration::from_secs(10));
    let outcome = match status {
        Some(status) => support::ChildOutcome::from(status),
        None => support::ChildOutcome::TimedOut(limit),
    };
    Ok(drained.finish(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_spaces_and_parentheses_is_skipped() {
        let stat = parse_stat("42 (a (b) c) S 7 42 40 0 -1 4194560").unwrap();
        assert_eq!(
            stat,
            Stat {
                state: 'S',
                parent: 7,
                group: 42,
                session: 40
            }
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_a_member_of_its_own_session() {
        let me = std::process::id() as i32;
        let session = stat_of(me).unwrap().session;
        assert!(members(session).contains(&me));
    }

    #[test]
    fn a_session_and_what_it_forked_are_killed_whole() {
        use std::os::unix::process::CommandExt;
        // A shell in a session of its own starts two children, then waits.
        let mut child = std::process::Command::new("sh");
        child.args(["-c", "sleep 30 & sleep 30 & wait"]);
        // SAFETY: setsid is async-signal-safe and touches no memory.
        unsafe {
            child.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(Into::into));
        }
        let mut child = child.spawn().unwrap();
        let session = child.id() as i32;
        let until = Instant::now() + Duration::from_secs(5);
        while members(session).len() < 3 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            members(session).len() >= 3,
            "the shell did not start its children"
        );
        assert_eq!(kill_session(session, Duration::from_secs(5)), 0);
        let _ = child.wait();
    }
}
