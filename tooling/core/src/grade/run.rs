//! Running one graded test: its own process group, a time limit, a secret.
//!
//! The test binary was built before any learner code ran, and is executed
//! from a sealed in-memory copy, so nothing a test does can change the binary
//! the next test runs. Each run:
//!
//! 1. hands the test a one-time secret on a Unix socket (descriptor 3) and a
//!    verdict socket (descriptor 4); see `test_support::grading`. Sockets, unlike
//!    pipes, cannot be reopened by another process through `/proc/PID/fd`;
//! 2. starts it in a process session of its own (`setsid`), with
//!    `PR_SET_PDEATHSIG`, no core dumps, files capped at 1 GiB, a `TMPDIR`
//!    of its own, and no descriptor but 0 to 4; when the instructor's
//!    grader runs as root, as a throwaway user of its own, set up by its
//!    sandbox ([`Isolation`]);
//! 3. waits on a pidfd and the sockets together, until the test ends or its
//!    time is up, keeping at most [`OUTPUT_CAP`] bytes of each stream;
//! 4. kills every member of the session and the whole group, and any
//!    process that escaped them (the grader is a child subreaper, so
//!    escapees become its children; a throwaway user's processes are all
//!    killed at once), reaps them, and removes what a throwaway user left
//!    where anyone may write ([`remove_leftovers_of`]).

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use support::ChildOutcome;
use test_support::grading::{GRADER_FDS, PASS_PREFIX, SECRET_LEN, to_hex};

use super::Isolation;
use super::leftovers::kill_everything_of;
pub use super::leftovers::{remove_leftovers_of, remove_shm_objects, shm_names, shm_names_in_use};

/// The most of each output stream a run keeps; the rest is read and dropped,
/// so a test that floods its output cannot fill the grader's memory.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// How long a test's output pipes may stay open after the test ended.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// What one run of one graded test produced.
#[derive(Debug)]
pub struct RunRecord {
    pub outcome: ChildOutcome,
    /// The verdict pipe held the secret: the test's body returned.
    pub proved: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A test binary the tests cannot change: a sealed memfd, or where the
/// kernel will not execute one, a private copy checked before every run.
#[derive(Debug)]
pub struct SealedBinary {
    /// What the kernel executes: `/proc/self/fd/N` or the private copy.
    exec_path: PathBuf,
    _fd: Option<OwnedFd>,
    fallback: Option<(tempfile::TempDir, String)>,
}

impl SealedBinary {
    /// Seals a copy of the binary at `path`.
    pub fn seal(path: &Path) -> Result<SealedBinary, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the test binary {}: {e}", path.display()))?;
        // Where there is no memfd, or it may not be executed, fall through
        // to a private copy.
        if let Ok(fd) = seal_in_memfd(&bytes) {
            let exec_path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            let sealed = SealedBinary {
                exec_path,
                _fd: Some(fd),
                fallback: None,
            };
            if sealed.runs() {
                return Ok(sealed);
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("workbook-grader-")
            .tempdir()
            .map_err(|e| format!("cannot create a private directory for the test binary: {e}"))?;
        let copy = dir.path().join("graded");
        std::fs::write(&copy, &bytes)
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o500))
            })
            .map_err(|e| format!("cannot copy the test binary to {}: {e}", copy.display()))?;
        Ok(SealedBinary {
            exec_path: copy,
            _fd: None,
            fallback: Some((dir, crate::files::hex_digest(&bytes))),
        })
    }

    /// Whether the kernel will execute it: `vm.memfd_noexec` 2 forbids
    /// executable memfds altogether (the memfd was asked for with
    /// `MFD_EXEC`, which 1 allows). The test binary itself is never run to
    /// find out: code in it could run before `main`, as the grader.
    fn runs(&self) -> bool {
        std::fs::read_to_string("/proc/sys/vm/memfd_noexec")
            .map_or(true, |value| value.trim() != "2")
    }

    /// The path to execute, after checking that a private copy is unchanged.
    fn path_to_run(&self) -> Result<&Path, String> {
        if let Some((_, digest)) = &self.fallback {
            let now = std::fs::read(&self.exec_path).unwrap_or_default();
            if crate::files::hex_digest(&now) != *digest {
                return Err(format!(
                    "the test binary was changed while grading (by code a test ran): {}",
                    self.exec_path.display()
                ));
            }
        }
        Ok(&self.exec_path)
    }

    /// The names of the tests in this binary (`--list --format terse`),
    /// listed as `job`'s user would run them.
    pub fn list(&self, cwd: &Path, job: Job<'_>) -> Result<Vec<String>, String> {
        let path = self.path_to_run()?;
        let mut command = Command::new(path);
        command
            .args(["--list", "--format", "terse"])
            .current_dir(cwd);
        confine(&mut command, None, job, cwd);
        let captured = support::spawn::output_bounded(&mut command, Duration::from_secs(30))
            .map_err(|e| format!("cannot list the graded tests: {e}"))?;
        if !captured.outcome.is_success() {
            return Err(format!(
                "listing the graded tests failed: the test binary {}",
                captured.outcome
            ));
        }
        Ok(captured
            .stdout
            .lines()
            .filter_map(|l| l.strip_suffix(": test"))
            .map(str::to_owned)
            .collect())
    }
}

/// The binary's bytes in a memfd sealed against every change, reopened
/// read-only (the kernel refuses to execute a file that is open for writing).
fn seal_in_memfd(bytes: &[u8]) -> nix::Result<OwnedFd> {
    use nix::fcntl::{FcntlArg, SealFlag, fcntl, open};
    use nix::sys::memfd::{MFdFlags, memfd_create};
    use nix::sys::stat::Mode;
    // MFD_EXEC (Linux 6.3): executable even where `vm.memfd_noexec` 1 makes
    // memfds non-executable by default; older kernels reject the flag.
    const MFD_EXEC: libc::c_uint = 0x0010;
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let writable = memfd_create(
        c"workbook-graded-test",
        flags | MFdFlags::from_bits_retain(MFD_EXEC),
    )
    .or_else(|e| match e {
        nix::Error::EINVAL => memfd_create(c"workbook-graded-test", flags),
        other => Err(other),
    })?;
    File::from(writable.try_clone().map_err(|_| nix::Error::EBADF)?)
        .write_all(bytes)
        .map_err(|_| nix::Error::EIO)?;
    fcntl(
        &writable,
        FcntlArg::F_ADD_SEALS(
            SealFlag::F_SEAL_WRITE
                | SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_SEAL,
        ),
    )?;
    // Executable but not readable by others: a test (another user when the
    // grader is root) is then non-dumpable from its first instruction.
    nix::sys::stat::fchmod(&writable, Mode::from_bits_truncate(0o711))?;
    let path = format!("/proc/self/fd/{}", writable.as_raw_fd());
    let readonly = open(
        path.as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // A high number, so that placing the test's descriptors on 3 and 4
    // never overwrites the binary the child is about to execute.
    let high = fcntl(&readonly, FcntlArg::F_DUPFD_CLOEXEC(100))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a fresh descriptor that only we own.
    Ok(unsafe { OwnedFd::from_raw_fd(high) })
}

/// Test processes running now, by pid: the sweep leaves these alone.
pub(super) fn running() -> &'static Mutex<HashSet<i32>> {
    static RUNNING: OnceLock<Mutex<HashSet<i32>>> = OnceLock::new();
    RUNNING.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Makes this process the reaper of its orphaned descendants, so a test
/// process that escapes its group (setsid, double fork) is still ours to
/// kill; and non-dumpable, so no test can read the grader's memory.
pub fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let _ = nix::sys::prctl::set_dumpable(false);
}

/// One of the grader's parallel jobs, and the sandbox its tests run in
/// (none for a learner's own work).
#[derive(Clone, Copy)]
pub struct Job<'a> {
    pub index: usize,
    pub isolation: Option<&'a dyn Isolation>,
}

impl std::fmt::Debug for Job<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("index", &self.index)
            .field("user", &self.user())
            .finish()
    }
}

impl Job<'_> {
    /// The throwaway user this job's tests run as, if any.
    pub fn user(&self) -> Option<u32> {
        self.isolation.and_then(|i| i.user(self.index))
    }
}

/// Runs test `name` of `binary` in `cwd` for at most `limit`, in `job`'s
/// sandbox when it has one.
pub fn run_test(
    binary: &SealedBinary,
    name: &str,
    cwd: &Path,
    limit: Duration,
    job: Job<'_>,
) -> Result<RunRecord, String> {
    let path = binary.path_to_run()?;
    let secret = random_secret()?;
    let (secret_read, secret_write) = socket_pair()?;
    File::from(secret_write)
        .write_all(&secret)
        .map_err(|e| format!("cannot write the secret: {e}"))?;
    let (verdict_read, verdict_write) = socket_pair()?;
    let tmp = private_tmp(job.user())?;

    let mut command = Command::new(path);
    command
        .args([
            OsString::from("--exact"),
            name.into(),
            "--test-threads=1".into(),
            "--color".into(),
            "never".into(),
        ])
        .current_dir(cwd)
        // Nothing of the grader's environment (CI tokens, say) reaches the
        // learner's code: only what a test needs.
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("LANG", "C.UTF-8")
        .env("HOME", tmp.path())
        .env(GRADER_FDS, "3,4")
        .env("RUST_BACKTRACE", "0")
        .env("CARGO_MANIFEST_DIR", cwd)
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let fds = (secret_read.as_raw_fd(), verdict_write.as_raw_fd());
    confine(&mut command, Some(fds), job, cwd);
    let started = Instant::now();
    // Spawn and register under one lock, so a sweep in another thread never
    // mistakes this fresh test for an escapee.
    let mut child = {
        let mut running = running().lock().unwrap_or_else(|e| e.into_inner());
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start the test binary: {e}"))?;
        running.insert(child.id() as i32);
        child
    };
    let pid = Pid::from_raw(child.id() as i32);
    drop(secret_read);
    drop(verdict_write);
    let stdout = child.stdout.take().map(OwnedFd::from);
    let stderr = child.stderr.take().map(OwnedFd::from);

    let mut streams = [
        Stream::new(stdout),
        Stream::new(stderr),
        Stream::new(Some(verdict_read)),
    ];
    let pidfd = pidfd_open(pid);
    let deadline = started + limit;
    let mut ended = false;
    let mut timed_out = false;
    while !ended {
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            break;
        }
        ended = wait_step(pidfd.as_ref(), &mut streams, deadline - now);
        if pidfd.is_none() {
            ended = matches!(child.try_wait(), Ok(Some(_)));
        }
    }
    // Whatever is left of the session and the group (children the test
    // started, in groups of their own or not) dies now, so no pipe stays
    // open behind it.
    super::session::kill_session(pid.as_raw(), Duration::from_secs(5));
    let _ = killpg(pid, Signal::SIGKILL);
    let status = if timed_out {
        let _ = kill(pid, Signal::SIGKILL);
        child.wait().ok();
        None
    } else {
        child.wait().ok()
    };
    running()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&pid.as_raw());
    let drain_until = Instant::now() + DRAIN_GRACE;
    while streams.iter().any(|s| s.fd.is_some()) && Instant::now() < drain_until {
        wait_step(None, &mut streams, drain_until - Instant::now());
    }
    if let Some(uid) = job.user() {
        kill_everything_of(uid);
    }
    // (After that kill, so that the sweep reaps what it killed.)
    sweep_escapees();
    if let Some(uid) = job.user() {
        // Nothing of this test is left for the next one of the same user.
        remove_leftovers_of(&[uid]);
    }
    remove_tree(tmp);
    let [stdout, stderr, verdict] = streams;
    let outcome = match status {
        None => ChildOutcome::TimedOut(limit),
        Some(status) => ChildOutcome::from(status),
    };
    let expected = format!("{PASS_PREFIX}{}\n", to_hex(&secret));
    Ok(RunRecord {
        outcome,
        proved: !timed_out && verdict.bytes == expected.as_bytes(),
        stdout: stdout.text(),
        stderr: stderr.text(),
    })
}

/// Sets `command` up to run confined: `fds` (the secret and the verdict
/// socket) placed on 3 and 4, see [`child_setup`]; then, for a throwaway
/// user, what `job`'s sandbox does in the child ([`Isolation::confine_test`]);
/// last, death with the grader (after `setuid`, which clears it).
pub fn confine(command: &mut Command, fds: Option<(RawFd, RawFd)>, job: Job<'_>, cwd: &Path) {
    // SAFETY: the closure runs in the forked child before exec and makes
    // only async-signal-safe system calls on integers and locals (see
    // `child_setup`).
    unsafe {
        command.pre_exec(move || child_setup(fds));
    }
    if let Some(isolation) = job.isolation.filter(|_| job.user().is_some()) {
        isolation.confine_test(job.index, command, cwd);
    }
    // SAFETY: prctl takes two integers; async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// In the child, before exec: a session of its own; the secret on 3 and
/// the verdict socket on 4, every other descriptor above 2 closed at exec;
/// no core file, files capped at 1 GiB.
fn child_setup(fds: Option<(RawFd, RawFd)>) -> std::io::Result<()> {
    let check = |result: libc::c_int| {
        if result < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: setsid, fcntl(F_DUPFD_CLOEXEC), dup2, close_range, getrlimit
    // and setrlimit take plain integers or pointers to locals; all are
    // async-signal-safe system calls. Duplicating above 10 first keeps the
    // two dup2 calls from overwriting each other's source when a source is
    // 3 or 4.
    unsafe {
        // A session of its own: the grader kills every member afterwards,
        // whatever process groups they made.
        check(libc::setsid())?;
        let first_closed = match fds {
            Some((secret, verdict)) => {
                let high_secret = libc::fcntl(secret, libc::F_DUPFD_CLOEXEC, 10);
                let high_verdict = libc::fcntl(verdict, libc::F_DUPFD_CLOEXEC, 10);
                check(high_secret)?;
                check(high_verdict)?;
                check(libc::dup2(high_secret, 3))?;
                check(libc::dup2(high_verdict, 4))?;
                5
            }
            None => 3,
        };
        close_others_at_exec(first_closed);
        // A crash leaves no core file in the learner's lesson directory, and
        // a runaway write stops at 1 GiB (SIGXFSZ) instead of filling the disk.
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        check(libc::setrlimit(libc::RLIMIT_CORE, &no_core))?;
        let one_gib = libc::rlimit {
            rlim_cur: 1 << 30,
            rlim_max: 1 << 30,
        };
        check(libc::setrlimit(libc::RLIMIT_FSIZE, &one_gib))?;
    }
    Ok(())
}

/// Marks every descriptor from `first` up close-on-exec, so that the test
/// gets none that the grader inherited (from its parent, say). Marked, not
/// closed: the standard library reports a failed exec on a descriptor of
/// its own. `close_range(CLOSE_RANGE_CLOEXEC)` (Linux 5.11); before that, one
/// `fcntl` per possible descriptor, up to the descriptor limit.
///
/// # Safety
/// Called in the child between fork and exec; makes only system calls.
unsafe fn close_others_at_exec(first: libc::c_int) {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range, getrlimit and fcntl(F_SETFD) take integers and a
    // pointer to a local; a descriptor that is not open gives EBADF.
    unsafe {
        let done = libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        );
        if done == 0 {
            return;
        }
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let top = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur.min(1 << 20) as libc::c_int
        } else {
            1 << 16
        };
        for fd in first..top {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}

/// A connected pair of Unix stream sockets, close-on-exec.
fn socket_pair() -> Result<(OwnedFd, OwnedFd), String> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("socketpair: {e}"))
}

/// A directory for one test's files, owned by its user, who can reach it.
fn private_tmp(user: Option<u32>) -> Result<tempfile::TempDir, String> {
    let reachable = user.and(test_support::reach::temp_base_for_others());
    let base = reachable.unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("workbook-test-")
        .tempdir_in(&base)
        .map_err(|e| format!("cannot create a temporary directory for the test: {e}"))?;
    if let Some(id) = user {
        nix::unistd::chown(
            dir.path(),
            Some(nix::unistd::Uid::from_raw(id)),
            Some(nix::unistd::Gid::from_raw(id)),
        )
        .map_err(|e| {
            format!(
                "cannot hand {} to the test's user: {e}",
                dir.path().display()
            )
        })?;
    }
    Ok(dir)
}

/// Removes a test's temporary directory, even parts it made unwritable or
/// nested deeper than a recursive removal could go: by `chmod` and `rm`,
/// which walk a tree without recursing, in processes of their own.
fn remove_tree(dir: tempfile::TempDir) {
    let path = dir.keep();
    for args in [&["-R", "u+rwx", "--"][..], &["-rf", "--"][..]] {
        let program = if args[0] == "-R" { "chmod" } else { "rm" };
        let _ = support::spawn::output_bounded(
            Command::new(program).args(args).arg(&path),
            Duration::from_secs(60),
        );
    }
}

/// One output stream of a test: read until EOF, keep at most [`OUTPUT_CAP`].
struct Stream {
    fd: Option<OwnedFd>,
    bytes: Vec<u8>,
    dropped: usize,
    cap: usize,
}

impl Stream {
    fn new(fd: Option<OwnedFd>) -> Stream {
        Stream {
            fd,
            bytes: Vec::new(),
            dropped: 0,
            cap: OUTPUT_CAP,
        }
    }

    /// Reads what is there; closes the stream at EOF or on error.
    fn read_some(&mut self) {
        let Some(fd) = &self.fd else { return };
        let mut buffer = [0u8; 16 * 1024];
        match nix::unistd::read(fd.as_fd(), &mut buffer) {
            Ok(0) | Err(_) => self.fd = None,
            Ok(n) => {
                let room = self.cap.saturating_sub(self.bytes.len());
                self.bytes.extend_from_slice(&buffer[..n.min(room)]);
                self.dropped += n.saturating_sub(room);
            }
        }
    }

    fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!("\n[... {} more bytes not kept]\n", self.dropped));
        }
        text
    }
}

/// Sleeps until the child ends or a stream has data (at most `left`), then
/// reads what arrived. Returns true when the pidfd says the child ended.
fn wait_step(pidfd: Option<&OwnedFd>, streams: &mut [Stream], left: Duration) -> bool {
    let mut fds: Vec<PollFd> = Vec::with_capacity(4);
    let mut which: Vec<Option<usize>> = Vec::with_capacity(4);
    if let Some(fd) = pidfd {
        fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        which.push(None);
    }
    for (index, stream) in streams.iter().enumerate() {
        if let Some(fd) = &stream.fd {
            // SAFETY: the descriptor lives in `streams` until after the poll
            // and the reads below; the borrow ends with this function.
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd.as_raw_fd()) };
            fds.push(PollFd::new(borrowed, PollFlags::POLLIN));
            which.push(Some(index));
        }
    }
    // Without a pidfd, wake up now and then to check on the child.
    let left = if pidfd.is_none() {
        left.min(Duration::from_millis(20))
    } else {
        left
    };
    let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
    if fds.is_empty() {
        std::thread::sleep(left);
        return false;
    }
    if poll(&mut fds, timeout).is_err() {
        return false;
    }
    let ready: Vec<(Option<usize>, bool)> = fds
        .iter()
        .zip(&which)
        .map(|(fd, index)| (*index, fd.any().unwrap_or(false)))
        .collect();
    drop(fds);
    let mut ended = false;
    for (index, is_ready) in ready {
        match (index, is_ready) {
            (None, true) => ended = true,
            (Some(i), true) => streams[i].read_some(),
            _ => {}
        }
    }
    ended
}

/// Kills and reaps every child of the grader that is not a running test:
/// processes that left their test's group and were re-parented to us.
pub fn sweep_escapees() {
    let me = std::process::id() as i32;
    // A chain of processes dies a level a round (each death re-parents the
    // next level to us): go on until none is left, for at most 10 s.
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let running = running().lock().unwrap_or_else(|e| e.into_inner());
        let orphans: Vec<i32> = children_of(me)
            .into_iter()
            .filter(|pid| !running.contains(pid))
            .collect();
        if orphans.is_empty() {
            return;
        }
        for pid in orphans {
            let pid = Pid::from_raw(pid);
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, Some(WaitPidFlag::__WALL));
        }
    }
}

/// The pids whose parent is `parent`.
fn children_of(parent: i32) -> Vec<i32> {
    super::session::processes()
        .into_iter()
        .filter(|(_, stat)| stat.parent == parent)
        .map(|(pid, _)| pid)
        .collect()
}

fn random_secret() -> Result<[u8; SECRET_LEN], String> {
    let mut secret = [0u8; SECRET_LEN];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut secret))
        .map_err(|e| format!("cannot read /dev/urandom for the grader's secret: {e}"))?;
    Ok(secret)
}

/// A pidfd for `pid`, or `None` where the kernel has none (before 5.3).
fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // or -1; it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    // SAFETY: a non-negative result is a fresh descriptor that only we own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
