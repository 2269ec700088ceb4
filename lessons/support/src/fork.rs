//! Running a step in a forked child, for walkthroughs only.
//!
//! A lesson that faults (SIGBUS, SIGSEGV), forks or races does that work in a
//! child, so the walkthrough itself never dies: the parent waits a bounded
//! time and reports the ending in words, with the signal's name. Forking is
//! refused in a multi-threaded process, so tests, which run in libtest's
//! threads, cannot use this module: they spawn ([`crate::spawn`]).

use std::fmt;
use std::io::Write;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::wait::ChildOutcome;

/// Why a child could not be run.
#[derive(Debug)]
pub enum ChildError {
    /// The process has more than one thread; `fork` would copy only the
    /// calling one, and any lock another thread held stays locked forever.
    NotSingleThreaded(usize),
    /// `/proc/self/task` could not be read, so the threads could not be
    /// counted (is `/proc` mounted?).
    ThreadsUnknown(std::io::Error),
    /// A system call failed.
    Sys(&'static str, nix::Error),
}

impl fmt::Display for ChildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildError::NotSingleThreaded(n) => write!(
                f,
                "refusing to fork: this process has {n} threads, and a forked child of a \
                 multi-threaded process may only call async-signal-safe functions; \
                 spawn a binary instead"
            ),
            ChildError::ThreadsUnknown(e) => write!(
                f,
                "refusing to fork: cannot count this process's threads (a forked child of a \
                 multi-threaded process could deadlock), because /proc/self/task is not \
                 readable: {}",
                crate::errors::explain_or(
                    e,
                    "Mount /proc (`mount -t proc proc /proc`) and run again."
                )
            ),
            ChildError::Sys(call @ ("fork" | "pidfd_open"), errno) => {
                match crate::errors::advice_for_fork(*errno) {
                    Some(advice) => write!(
                        f,
                        "cannot start a child process: {call} failed with {} ({errno:?}): {advice}.",
                        errno.desc()
                    ),
                    None => write!(
                        f,
                        "cannot start a child process: {call} failed: {errno}"
                    ),
                }
            }
            ChildError::Sys(call, errno) => match crate::errors::advice(*errno) {
                Some(advice) => write!(
                    f,
                    "{call} failed with {} ({errno:?}): {advice}",
                    errno.desc()
                ),
                None => write!(f, "{call} failed: {errno}"),
            },
        }
    }
}

impl std::error::Error for ChildError {}

/// Counts this process's threads from `/proc/self/task`.
pub fn thread_count() -> std::io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

/// Runs `work` in a forked child and waits at most `limit` for it to end.
///
/// The child's return value becomes its exit code. A child still running at
/// `limit` is killed with SIGKILL and reaped: no zombie is left behind.
/// See [`fork_child`] for the rules, and for a child to talk to meanwhile.
pub fn run_in_child<F: FnOnce() -> i32>(
    limit: Duration,
    work: F,
) -> Result<ChildOutcome, ChildError> {
    fork_child(work)?.wait(limit)
}

/// A forked child that is still running. Wait for it with [`Forked::wait`];
/// dropping it unwaited kills and reaps it.
#[derive(Debug)]
pub struct Forked {
    pid: Pid,
    reaped: bool,
}

impl Forked {
    /// The child's process id.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Waits at most `limit` for the child to end; kills and reaps it after that.
    pub fn wait(mut self, limit: Duration) -> Result<ChildOutcome, ChildError> {
        self.reaped = true;
        wait_bounded(self.pid, limit)
    }
}

impl Drop for Forked {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
        }
    }
}

/// Forks a child that runs `work` and leaves with its return value as the
/// exit code, and returns at once in the parent, so the two can take turns.
///
/// The child leaves with `_exit`, after flushing stdout, so nothing the
/// parent had buffered is printed twice and nothing the child printed is
/// lost. A panic in `work` is caught in the child, which then exits with
/// [`PANICKED`]: the parent's destructors never run in the child. The child
/// dies with its parent (`PR_SET_PDEATHSIG`). Refuses (without forking) when the process has more than one
/// thread: the walkthrough binaries are single-threaded, test harnesses are
/// not, so tests must spawn a lesson binary instead of calling this.
pub fn fork_child<F: FnOnce() -> i32>(work: F) -> Result<Forked, ChildError> {
    let threads = thread_count().map_err(ChildError::ThreadsUnknown)?;
    if threads != 1 {
        return Err(ChildError::NotSingleThreaded(threads));
    }
    // Anything still buffered would otherwise be written by both processes.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let parent = nix::unistd::getpid();
    // SAFETY: we just checked that this process has exactly one thread, so no
    // other thread can be holding a lock (malloc's, stdout's) that the child
    // would inherit locked. The child runs `work` and leaves through `_exit`.
    match unsafe { fork() }.map_err(|e| ChildError::Sys("fork", e))? {
        ForkResult::Child => {
            crate::cleanup::forget_in_child();
            // If the parent dies, the kernel kills the child: no orphan keeps
            // running (or holding a mapping) after an interrupted lesson.
            // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and
            // touches no memory of ours.
            let watched =
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } == 0;
            // The parent may have died before prctl: then we were already
            // reparented, and no death signal will come.
            if !watched || nix::unistd::getppid() != parent {
                // SAFETY: _exit ends the process at once; nothing of the
                // parent's runs.
                unsafe { libc::_exit(1) }
            }
            // A panic must not unwind into the parent's frames: their
            // destructors (a TempDir, a Drop that unlinks) belong to the parent.
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or(PANICKED);
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().flush();
            // SAFETY: _exit ends the process at once without running atexit
            // handlers or destructors that belong to the parent's copy of state.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Ok(Forked {
            pid: child,
            reaped: false,
        }),
    }
}

/// The exit code of a forked child whose work panicked (as Rust's own).
pub const PANICKED: i32 = 101;

/// Waits for the forked child `pid` to end, at most `limit`; kills and
/// reaps it after that.
pub fn wait_bounded(pid: Pid, limit: Duration) -> Result<ChildOutcome, ChildError> {
    crate::wait::bounded(
        pid,
        limit,
        || {
            let status = waitpid(pid, Some(WaitPidFlag::WNOHANG))
                .map_err(|e| ChildError::Sys("waitpid", e))?;
            Ok(ChildOutcome::from_wait_status(status))
        },
        || {
            let _ = kill(pid, Signal::SIGKILL);
            // Reap it, so no zombie outlives the lesson.
            let _ = waitpid(pid, None);
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forking_is_refused_in_a_multithreaded_process() {
        // Make sure of a second thread even under `--test-threads=1`, where
        // libtest may run the test on the main thread.
        let (release, parked) = std::sync::mpsc::channel::<()>();
        let helper = std::thread::spawn(move || parked.recv());
        let result = run_in_child(Duration::from_secs(1), || 0);
        release.send(()).unwrap();
        helper.join().unwrap().unwrap();
        assert!(matches!(result, Err(ChildError::NotSingleThreaded(n)) if n > 1));
    }

    #[test]
    fn refusals_name_the_reason_and_the_fix() {
        let no_proc = ChildError::ThreadsUnknown(std::io::Error::from_raw_os_error(
            libc::ENOENT,
        ));
        let text = no_proc.to_string();
        assert!(!text.contains("0 threads"), "{text}");
        assert!(
            text.contains("/proc/self/task") && text.contains("mount -t proc"),
            "{text}"
        );
        let fds = ChildError::ThreadsUnknown(std::io::Error::from_raw_os_error(
            libc::EMFILE,
        ));
        assert!(fds.to_string().contains("ulimit -n"), "{fds}");
        let fork = ChildError::Sys("fork", nix::errno::Errno::EAGAIN).to_string();
        assert!(
            fork.contains("(EAGAIN)") && fork.contains("ulimit -u"),
            "{fork}"
        );
    }
}
