//! What lesson 4's checkers see from outside the runner: a Unix socket the
//! workers of `parallel_sum` report to (the kernel names each caller,
//! `SO_PEERCRED`), and the runner's processes in `/proc`.
//!
//! Every wait here is bounded: an accept by `poll` with a deadline, a read
//! by a timeout.

use std::io::Read;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::getsockopt;
use nix::sys::socket::sockopt::PeerCredentials;
use nix::unistd::Pid;

/// How long one connection may take to say its line.
const SAY_LIMIT: Duration = Duration::from_secs(2);

/// The state letter (`R`, `S`, `Z`, …) and the parent of process `pid`,
/// from `/proc/PID/stat`; `None` when there is no such process.
pub fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold anything; the fields follow its last ')'.
    let (_, rest) = text.rsplit_once(") ")?;
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// Every process whose parent is `parent`, with its state letter (`Z`: a
/// zombie nobody waited for).
pub fn children_of(parent: i32) -> Vec<(i32, char)> {
    std::fs::read_dir("/proc")
        .expect("/proc can be listed")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let (state, ppid) = stat(pid)?;
            (ppid == parent).then_some((pid, state))
        })
        .collect()
}

/// True once `pid` (a child of this process) has ended.
fn ended(pid: i32) -> bool {
    stat(pid).is_none_or(|(state, _)| state == 'Z' || state == 'X')
}

/// When the checker answers the workers of one `parallel_sum` call (each
/// waits for the answer before its `sum_slice` returns).
#[derive(Debug, Clone, Copy)]
pub enum Release {
    /// Each worker as soon as the checker has looked at it.
    AtOnce,
    /// Each worker this long after it reported.
    After(Duration),
    /// All at once when this many are waiting together; after `wait` from
    /// the first report, whoever came, and any later one at once.
    Together { workers: usize, wait: Duration },
}

/// One call of `sum_slice`, as its worker reported it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The calling process, as the kernel names it (`SO_PEERCRED`).
    pub pid: i32,
    /// Its parent, read from `/proc` while the call waited for the checker.
    pub parent: Option<i32>,
    /// Where its part starts in the data (in numbers), and its length.
    pub offset: usize,
    pub len: usize,
    /// The call that kills its own process after reporting.
    pub dying: bool,
    /// What the checker answered: the call returns its part's sum plus
    /// this (`None`: it never answered).
    pub extra: Option<u64>,
}

/// What the checker saw of one `parallel_sum` request.
#[derive(Debug, Default)]
pub struct Seen {
    pub calls: Vec<Call>,
    /// The runner's children when it said your function had returned
    /// (`None`: it never said so).
    pub children_at_return: Option<Vec<(i32, char)>>,
    /// The most calls that were waiting for the checker at one time.
    pub most_waiting: usize,
}

/// The socket the workers report to, in a directory of its own.
pub struct Post {
    listener: UnixListener,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

struct Held {
    stream: UnixStream,
    request: usize,
    /// Its place in its request's `Seen::calls`.
    call: usize,
    at: Instant,
}

impl Post {
    pub fn new() -> Post {
        // A socket's path holds at most 107 bytes: past that, /tmp.
        let dir = match tempfile::tempdir() {
            Ok(dir) if dir.path().as_os_str().len() < 90 => dir,
            _ => tempfile::tempdir_in("/tmp").expect("a temporary directory in /tmp"),
        };
        let path = dir.path().join("post");
        let listener = UnixListener::bind(&path).unwrap_or_else(|e| {
            panic!("cannot make a Unix socket {}: {e}", path.display())
        });
        listener
            .set_nonblocking(true)
            .expect("a non-blocking socket");
        Post {
            listener,
            path,
            _dir: dir,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the reports of the runner `runner` working on requests tagged
    /// `tags` (released as `release` says), until it has said every request
    /// returned, it has ended, or `limit` has passed. Unknown reports are
    /// returned as text.
    pub fn serve(
        &self,
        runner: Pid,
        tags: &[(u64, Release)],
        limit: Duration,
    ) -> (Vec<Seen>, Vec<String>) {
        let runner = runner.as_raw();
        let deadline = Instant::now() + limit;
        let mut seen: Vec<Seen> = tags.iter().map(|_| Seen::default()).collect();
        let mut first: Vec<Option<Instant>> = vec![None; tags.len()];
        let mut held: Vec<Held> = Vec::new();
        let mut strays = Vec::new();
        loop {
            let now = Instant::now();
            // Whoever is due goes on.
            let go: Vec<bool> = held
                .iter()
                .map(|h| due(tags[h.request].1, h, &held, first[h.request], now))
                .collect();
            let mut go = go.into_iter();
            held.retain(|h| {
                let going = go.next().unwrap_or(true);
                if going {
                    let extra = fastrand::u64(..);
                    if (&h.stream).write_all(&extra.to_ne_bytes()).is_ok() {
                        seen[h.request].calls[h.call].extra = Some(extra);
                    }
                }
                !going
            });
            let done = seen.iter().all(|s| s.children_at_return.is_some());
            if done || now >= deadline || ended(runner) {
                break;
            }
            let wake = now + Duration::from_millis(20);
            let timeout = PollTimeout::try_from(wake.min(deadline) - now)
                .unwrap_or(PollTimeout::ZERO);
            let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
            if poll(&mut fds, timeout).unwrap_or(0) == 0 {
                continue;
            }
            // Each connection may take SAY_LIMIT to speak: the deadline is
            // checked between them.
            while Instant::now() < deadline
                && let Ok((stream, _)) = self.listener.accept()
            {
                let Some((pid, line)) = hear(&stream) else {
                    strays.push("a connection that said nothing".to_owned());
                    continue;
                };
                let words: Vec<&str> = line.split(' ').collect();
                let request = words
                    .get(1)
                    .and_then(|t| t.parse::<u64>().ok())
                    .and_then(|tag| tags.iter().position(|(t, _)| *t == tag));
                let (Some(request), Some(&kind)) = (request, words.first()) else {
                    strays.push(format!("pid {pid}: {line:?}"));
                    continue;
                };
                match (kind, &words[2..]) {
                    ("R", []) if pid == runner => {
                        seen[request].children_at_return = Some(children_of(runner));
                        answer(stream);
                    }
                    ("W", [offset, len, dying]) => {
                        let call = seen[request].calls.len();
                        seen[request].calls.push(Call {
                            pid,
                            parent: stat(pid).map(|(_, parent)| parent),
                            offset: offset.parse().unwrap_or(usize::MAX),
                            len: len.parse().unwrap_or(usize::MAX),
                            dying: *dying == "1",
                            extra: None,
                        });
                        first[request].get_or_insert(Instant::now());
                        held.push(Held {
                            stream,
                            request,
                            call,
                            at: Instant::now(),
                        });
                        let waiting =
                            held.iter().filter(|h| h.request == request).count();
                        let most = &mut seen[request].most_waiting;
                        *most = (*most).max(waiting);
                    }
                    _ => strays.push(format!("pid {pid}: {line:?}")),
                }
            }
        }
        // Whoever is still waiting goes on: the runner ends as it will.
        drop(held);
        (seen, strays)
    }
}

/// True when `held` may go on now under `release`.
fn due(
    release: Release,
    held: &Held,
    all: &[Held],
    first: Option<Instant>,
    now: Instant,
) -> bool {
    match release {
        Release::AtOnce => true,
        Release::After(wait) => now >= held.at + wait,
        Release::Together { workers, wait } => {
            let waiting = all.iter().filter(|h| h.request == held.request).count();
            waiting >= workers || first.is_some_and(|t| now >= t + wait)
        }
    }
}

/// The caller's pid and its one line (bounded by [`SAY_LIMIT`]).
fn hear(stream: &UnixStream) -> Option<(i32, String)> {
    let pid = getsockopt(stream, PeerCredentials).ok()?.pid();
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(SAY_LIMIT)).ok()?;
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    let deadline = Instant::now() + SAY_LIMIT;
    while bytes.len() < 200 && Instant::now() < deadline {
        match (&*stream).read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => {
                return Some((pid, String::from_utf8_lossy(&bytes).into_owned()));
            }
            Ok(1) => bytes.push(byte[0]),
            _ => break,
        }
    }
    None
}

/// Lets the process at the other end go on.
fn answer(mut stream: UnixStream) {
    let _ = stream.write_all(&0u64.to_ne_bytes());
}
