//! Running a step in a child process, and saying how it ended.
//!
//! A lesson that faults (SIGBUS, SIGSEGV), forks or races does that work in a
//! child, so the walkthrough itself never dies: the parent waits a bounded
//! time and reports the ending in words, with the signal's name.

use std::fmt;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::thread::sleep;
use std::time::{Duration, Instant};

use std::os::fd::{AsFd, FromRawFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

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
            WaitStatus::Signaled(_, signal, _) => Some(ChildOutcome::Signaled(signal)),
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
                    None => write!(f, "cannot start a child process: {call} failed: {errno}"),
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
            let watched = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } == 0;
            // The parent may have died before prctl: then we were already
            // reparented, and no death signal will come.
            if !watched || nix::unistd::getppid() != parent {
                // SAFETY: _exit ends the process at once; nothing of the
                // parent's runs.
                unsafe { libc::_exit(1) }
            }
            // A panic must not unwind into the parent's frames: their
            // destructors (a TempDir, a Drop that unlinks) belong to the parent.
            let code =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or(PANICKED);
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

/// Waits for `pid` to end, at most `limit`; kills and reaps it after that.
pub fn wait_bounded(pid: Pid, limit: Duration) -> Result<ChildOutcome, ChildError> {
    let started = Instant::now();
    // A pidfd becomes readable when the child ends (Linux 5.3+): sleep in
    // poll until then instead of checking every millisecond.
    let pidfd = pidfd_open(pid);
    loop {
        let status =
            waitpid(pid, Some(WaitPidFlag::WNOHANG)).map_err(|e| ChildError::Sys("waitpid", e))?;
        if let Some(outcome) = ChildOutcome::from_wait_status(status) {
            return Ok(outcome);
        }
        if started.elapsed() >= limit {
            let _ = kill(pid, Signal::SIGKILL);
            // Reap it, so no zombie outlives the lesson.
            let _ = waitpid(pid, None);
            return Ok(ChildOutcome::TimedOut(limit));
        }
        let left = limit.saturating_sub(started.elapsed());
        match &pidfd {
            Some(fd) => {
                let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
                let _ = poll(&mut [PollFd::new(fd.as_fd(), PollFlags::POLLIN)], timeout);
            }
            None => sleep(left.min(Duration::from_millis(1))),
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

/// Waits for a spawned `std::process::Child`, at most `limit`; kills and reaps
/// it after that.
pub fn wait_child_bounded(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::io::Result<ChildOutcome> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.into());
        }
        if started.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(ChildOutcome::TimedOut(limit));
        }
        sleep(Duration::from_millis(1));
    }
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

/// Runs `command` to its end with stdout and stderr captured, killing it if it
/// runs past `limit`. This is how tests run lesson binaries: never by fork.
pub fn output_bounded(
    command: &mut std::process::Command,
    limit: Duration,
) -> std::io::Result<Captured> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let outcome = wait_child_bounded(&mut child, limit)?;
    Ok(Captured {
        outcome,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    // The test harness is multi-threaded, so these spawn /bin/sh rather than fork.
    fn outcome_of(script: &str) -> ChildOutcome {
        let mut child = Command::new("/bin/sh")
            .args(["-c", script])
            .spawn()
            .unwrap();
        wait_child_bounded(&mut child, Duration::from_secs(10)).unwrap()
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
        let outcome = wait_child_bounded(&mut child, Duration::from_millis(50)).unwrap();
        assert_eq!(outcome, ChildOutcome::TimedOut(Duration::from_millis(50)));
        // Reaped: a second wait finds the status already collected.
        assert!(child.try_wait().unwrap().is_some());
    }

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
        let no_proc = ChildError::ThreadsUnknown(std::io::Error::from_raw_os_error(libc::ENOENT));
        let text = no_proc.to_string();
        assert!(!text.contains("0 threads"), "{text}");
        assert!(
            text.contains("/proc/self/task") && text.contains("mount -t proc"),
            "{text}"
        );
        let fds = ChildError::ThreadsUnknown(std::io::Error::from_raw_os_error(libc::EMFILE));
        assert!(fds.to_string().contains("ulimit -n"), "{fds}");
        let fork = ChildError::Sys("fork", nix::errno::Errno::EAGAIN).to_string();
        assert!(
            fork.contains("(EAGAIN)") && fork.contains("ulimit -u"),
            "{fork}"
        );
    }

    #[test]
    fn wait_statuses_that_are_not_endings_are_ignored() {
        let pid = Pid::from_raw(1);
        assert_eq!(ChildOutcome::from_wait_status(WaitStatus::StillAlive), None);
        assert_eq!(
            ChildOutcome::from_wait_status(WaitStatus::Exited(pid, 5)),
            Some(ChildOutcome::Exited(5))
        );
        assert_eq!(
            ChildOutcome::from_wait_status(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            Some(ChildOutcome::Signaled(Signal::SIGKILL))
        );
    }
}
