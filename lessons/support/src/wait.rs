//! How a child process ended, and the one bounded wait for it.
//!
//! Forked children ([`crate::fork`]) and spawned programs ([`crate::spawn`])
//! are waited for the same way: sleep on a pidfd until the child ends or
//! the limit passes, then kill and reap it, so no zombie is left.

use std::fmt;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildOutcome {
    /// It returned from its work or called `exit` with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(Signal),
    /// It was still running when the bounded wait ran out, so it was killed.
    TimedOut(Duration),
}

impl ChildOutcome {
    /// True for a child that exited with code 0.
    pub fn is_success(self) -> bool {
        self == ChildOutcome::Exited(0)
    }

    /// Reads a status as `waitpid` reports it; `None` for a child that is
    /// still running, stopped or continued (not an ending).
    pub fn from_wait_status(status: WaitStatus) -> Option<ChildOutcome> {
        match status {
            WaitStatus::Exited(_, code) => Some(ChildOutcome::Exited(code)),
            WaitStatus::Signaled(_, signal, _) => {
                Some(ChildOutcome::Signaled(signal))
            }
            _ => None,
        }
    }
}

impl From<ExitStatus> for ChildOutcome {
    fn from(status: ExitStatus) -> ChildOutcome {
        if let Some(code) = status.code() {
            return ChildOutcome::Exited(code);
        }
        match status.signal().map(Signal::try_from) {
            Some(Ok(signal)) => ChildOutcome::Signaled(signal),
            // A real-time signal nix has no name for: keep the number visible.
            _ => ChildOutcome::Exited(128 + status.signal().unwrap_or(0)),
        }
    }
}

impl fmt::Display for ChildOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildOutcome::Exited(0) => write!(f, "exited normally (code 0)"),
            ChildOutcome::Exited(code) => write!(f, "exited with code {code}"),
            ChildOutcome::Signaled(signal) => {
                write!(
                    f,
                    "killed by {} (signal {})",
                    signal.as_str(),
                    *signal as i32
                )
            }
            ChildOutcome::TimedOut(limit) => write!(
                f,
                "still running after {} ms, so it was killed",
                limit.as_millis()
            ),
        }
    }
}

/// Waits for the child `pid` to end, at most `limit`. `ended` reaps it if
/// it has ended (without blocking); `kill_and_reap` ends it after the limit.
/// Between checks, sleeps in `poll` on a pidfd, which becomes readable when
/// the child ends (Linux 5.3+); without pidfds, checks every millisecond.
pub fn bounded<E>(
    pid: Pid,
    limit: Duration,
    mut ended: impl FnMut() -> Result<Option<ChildOutcome>, E>,
    kill_and_reap: impl FnOnce(),
) -> Result<ChildOutcome, E> {
    let started = Instant::now();
    let pidfd = pidfd_open(pid);
    loop {
        if let Some(outcome) = ended()? {
            return Ok(outcome);
        }
        let Some(left) = limit
            .checked_sub(started.elapsed())
            .filter(|l| !l.is_zero())
        else {
            kill_and_reap();
            return Ok(ChildOutcome::TimedOut(limit));
        };
        match &pidfd {
            Some(fd) => {
                let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
                let _ =
                    poll(&mut [PollFd::new(fd.as_fd(), PollFlags::POLLIN)], timeout);
            }
            None => std::thread::sleep(left.min(Duration::from_millis(1))),
        }
    }
}

/// A pidfd for `pid`, or `None` where the kernel has no pidfd_open.
fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // or -1; it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    // SAFETY: a non-negative result is a fresh descriptor that only we own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_that_are_not_endings_are_ignored() {
        let pid = Pid::from_raw(1);
        assert_eq!(ChildOutcome::from_wait_status(WaitStatus::StillAlive), None);
        assert_eq!(
            ChildOutcome::from_wait_status(WaitStatus::Exited(pid, 5)),
            Some(ChildOutcome::Exited(5))
        );
        assert_eq!(
            ChildOutcome::from_wait_status(WaitStatus::Signaled(
                pid,
                Signal::SIGKILL,
                false
            )),
            Some(ChildOutcome::Signaled(Signal::SIGKILL))
        );
    }
}
