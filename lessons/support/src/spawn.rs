//! Running a program to its end, bounded: how tests and xtask run lesson
//! binaries and cargo, and how a walkthrough waits for a helper it started.
//! Never by fork (see [`crate::fork`]).

use std::cell::RefCell;
use std::process::Child;
use std::time::Duration;

use nix::unistd::Pid;

use crate::wait::ChildOutcome;

/// Waits for a spawned `child`, at most `limit`; kills and reaps it after
/// that.
pub fn wait_bounded(
    child: &mut Child,
    limit: Duration,
) -> std::io::Result<ChildOutcome> {
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let child = RefCell::new(child);
    crate::wait::bounded(
        pid,
        limit,
        || Ok(child.borrow_mut().try_wait()?.map(ChildOutcome::from)),
        || {
            let mut child = child.borrow_mut();
            let _ = child.kill();
            let _ = child.wait();
        },
    )
}

/// What a bounded run of a program printed, and how it ended.
#[derive(Debug)]
pub struct Captured {
    /// How the program ended.
    pub outcome: ChildOutcome,
    /// Everything it wrote to stdout (lossily decoded as UTF-8).
    pub stdout: String,
    /// Everything it wrote to stderr (lossily decoded as UTF-8).
    pub stderr: String,
}

/// Spawns `command`, trying again for a moment while its program is "busy"
/// (`ETXTBSY`): a program a test has just copied may still be open for
/// writing in a child that another thread of the test forked meanwhile (the
/// descriptor is close-on-exec, so it goes as soon as that child execs).
pub fn spawn_past_text_busy(
    command: &mut std::process::Command,
) -> std::io::Result<std::process::Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            spawned => return spawned,
        }
    }
}

/// Runs `command` to its end with stdout and stderr captured, killing it if it
/// runs past `limit`. This is how tests run lesson binaries: never by fork.
pub fn output_bounded(
    command: &mut std::process::Command,
    limit: Duration,
) -> std::io::Result<Captured> {
    use std::process::Stdio;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn_past_text_busy(command)?;
    let drained = Drained::from(&mut child);
    let outcome = wait_bounded(&mut child, limit)?;
    Ok(drained.finish(outcome))
}

/// A child's stdout and stderr, each read to its end by a thread of its own
/// (so neither pipe fills while the other is read).
#[derive(Debug)]
pub struct Drained {
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Drained {
    /// Starts reading `child`'s piped stdout and stderr (what was not piped
    /// reads as empty).
    pub fn from(child: &mut std::process::Child) -> Drained {
        fn drain(
            pipe: Option<impl std::io::Read + Send + 'static>,
        ) -> std::thread::JoinHandle<String> {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                String::from_utf8_lossy(&bytes).into_owned()
            })
        }
        Drained {
            stdout: drain(child.stdout.take()),
            stderr: drain(child.stderr.take()),
        }
    }

    /// What the child wrote, once both pipes are closed, with how it ended.
    pub fn finish(self, outcome: ChildOutcome) -> Captured {
        Captured {
            outcome,
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use std::process::Command;

    // The test harness is multi-threaded, so these spawn /bin/sh rather than fork.
    fn outcome_of(script: &str) -> ChildOutcome {
        let mut child = Command::new("/bin/sh")
            .args(["-c", script])
            .spawn()
            .unwrap();
        wait_bounded(&mut child, Duration::from_secs(10)).unwrap()
    }

    #[test]
    fn a_normal_exit_is_success() {
        let outcome = outcome_of("exit 0");
        assert_eq!(outcome, ChildOutcome::Exited(0));
        assert!(outcome.is_success());
        assert_eq!(outcome.to_string(), "exited normally (code 0)");
    }

    #[test]
    fn an_exit_code_is_reported() {
        let outcome = outcome_of("exit 3");
        assert_eq!(outcome, ChildOutcome::Exited(3));
        assert!(!outcome.is_success());
        assert_eq!(outcome.to_string(), "exited with code 3");
    }

    #[test]
    fn death_by_signal_is_named() {
        let outcome = outcome_of("kill -BUS $$");
        assert_eq!(outcome, ChildOutcome::Signaled(Signal::SIGBUS));
        assert_eq!(outcome.to_string(), "killed by SIGBUS (signal 7)");
        assert_eq!(
            outcome_of("kill -SEGV $$").to_string(),
            "killed by SIGSEGV (signal 11)"
        );
    }

    #[test]
    fn a_child_past_its_limit_is_killed_and_reaped() {
        let mut child = Command::new("/bin/sh")
            .args(["-c", "sleep 30"])
            .spawn()
            .unwrap();
        let outcome = wait_bounded(&mut child, Duration::from_millis(50)).unwrap();
        assert_eq!(outcome, ChildOutcome::TimedOut(Duration::from_millis(50)));
        // Reaped: a second wait finds the status already collected.
        assert!(child.try_wait().unwrap().is_some());
    }
}
