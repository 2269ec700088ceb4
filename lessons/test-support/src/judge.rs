//! The checker's side of grading: a graded test sends inputs to a runner
//! (the lesson binary as `LESSON --exercises`, see [`support::exercise`]),
//! and judges the replies in its own process.
//!
//! The checker never links the learner's code and never sends it an
//! expected value, so the learner's code cannot read one, change the
//! verdict, or print it. Before it starts a runner, the checker makes itself
//! non-dumpable (other processes of its user can no longer read its memory
//! or take its descriptors). The runner starts in a process group of its
//! own, with only descriptors 0 to 2 and those the test hands it, no core
//! dumps, files capped at 1 GiB, and a time limit; when it ends or the limit
//! passes, its whole process group is killed.
//!
//! All of a test's requests go to one runner at once, and are judged only
//! after it has answered them all: a runner learns nothing from the order
//! of what it is asked.

use std::fmt::{Debug, Display};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub use support::exercise::Reply as Said;
use support::exercise::{FLAG, request_line};
use support::wait::ChildOutcome;

/// How long a runner may take by default, for all of a test's requests.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(10);

/// The most a runner's replies (stdout) and its other output (stderr) may
/// take; the rest is read and dropped.
const REPLIES_CAP: u64 = 16 << 20;
const OUTPUT_CAP: u64 = 64 << 10;

/// The most descriptors a test may hand its runner (the child between fork
/// and exec counts them on its stack: it may not allocate).
pub const MAX_KEPT: usize = 16;

/// The most reply lines a checker keeps (a test asks far fewer questions).
const REPLY_LINES_CAP: usize = 1 << 16;

/// One call of an exercise: its name and its arguments.
#[derive(Debug, Clone)]
pub struct Request {
    name: String,
    args: Vec<Vec<u8>>,
    shown: Vec<String>,
}

impl Request {
    /// A call of the exercise `name` (the function's name in `exercises.rs`).
    pub fn new(name: &str) -> Request {
        Request {
            name: name.to_owned(),
            args: Vec::new(),
            shown: Vec::new(),
        }
    }

    /// Adds an argument the runner reads with `Args::num` or `Args::text`.
    pub fn arg(mut self, value: impl Display) -> Request {
        let text = value.to_string();
        self.shown.push(text.clone());
        self.args.push(text.into_bytes());
        self
    }

    /// Adds a path (`Args::path`).
    pub fn path(mut self, path: &Path) -> Request {
        self.shown.push(format!("{:?}", path.display().to_string()));
        self.args.push(path.as_os_str().as_bytes().to_vec());
        self
    }

    /// Adds raw bytes (`Args::bytes`).
    pub fn bytes(mut self, bytes: &[u8]) -> Request {
        self.shown
            .push(format!("b{:?}", String::from_utf8_lossy(bytes)));
        self.args.push(bytes.to_vec());
        self
    }

    /// Adds a list (`Args::list`).
    pub fn list<T: Display>(mut self, items: &[T]) -> Request {
        let text: Vec<String> = items.iter().map(ToString::to_string).collect();
        self.shown.push(format!("[{}]", text.join(", ")));
        self.args.push(text.join(",").into_bytes());
        self
    }

    /// The call as a reader sees it: `bytes_really_mapped(40, 4096)`.
    pub fn call(&self) -> String {
        format!("{}({})", self.name, self.shown.join(", "))
    }
}

/// What came back for one request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The call, as [`Request::call`] shows it.
    pub call: String,
    /// What the runner said, or `None` when it said nothing for this call.
    pub said: Option<Said>,
    /// How the runner ended.
    pub outcome: ChildOutcome,
    /// The last lines the runner printed (your own output, panic reports).
    pub printed: String,
}

impl Reply {
    /// The text of the value the exercise returned; fails the test, saying
    /// what happened instead, when it did not return.
    #[track_caller]
    pub fn returned(&self) -> &str {
        match &self.said {
            Some(Said::Returned(text)) => text,
            Some(Said::Panicked(message)) => {
                panic!(
                    "{}\nyours panicked: {message}{}{}",
                    self.call,
                    refusal_note(message),
                    self.printed
                )
            }
            Some(Said::Refused(why)) => {
                panic!("{}\nthe runner refused the call: {why}", self.call)
            }
            None => panic!(
                "{}\nyours: no reply (the process running your code {}){}",
                self.call, self.outcome, self.printed
            ),
        }
    }

    /// Passes when the exercise returned `expected` (compared as `Debug`
    /// text); else fails with "yours" and "expected".
    #[track_caller]
    pub fn expect(&self, expected: impl Debug) {
        self.expect_text(&format!("{expected:?}"));
    }

    /// Passes when the exercise returned `Ok(expected)`.
    #[track_caller]
    pub fn expect_ok(&self, expected: impl Debug) {
        self.expect_text(&format!("Ok({expected:?})"));
    }

    /// Passes when the exercise returned an `io::Error` of `kind`; returns
    /// the error's message.
    #[track_caller]
    pub fn expect_err(&self, kind: io::ErrorKind) -> &str {
        let text = self.returned();
        let prefix = format!("Err({kind:?}): ");
        match text.strip_prefix(&prefix) {
            Some(message) => message,
            None => self.differs(text, &format!("Err({kind:?})")),
        }
    }

    /// Passes when the exercise returned exactly the text `expected`.
    #[track_caller]
    pub fn expect_text(&self, expected: &str) {
        self.expect_one_of(&[expected]);
    }

    /// Passes when the exercise returned one of the texts `expected` (where
    /// several answers are right); else fails showing them all.
    #[track_caller]
    pub fn expect_one_of(&self, expected: &[&str]) {
        let yours = self.returned();
        if !expected.contains(&yours) {
            self.differs(yours, &expected.join("\n       or: "));
        }
    }

    /// Fails the test: the call, then "yours" and "expected" as given.
    #[track_caller]
    pub fn differs(&self, yours: &str, expected: &str) -> ! {
        let context = format!("{}{}", self.call, refusal_note(yours));
        crate::grading::values_differ(&Shown(yours), &Shown(expected), Some(context))
    }
}

/// A sentence for an answer that shows the runner's seccomp filter refused
/// a system call (`support::seccomp::install_mapping_only` answers
/// `EOPNOTSUPP`, errno 95); empty for any other answer.
fn refusal_note(yours: &str) -> &'static str {
    if yours.contains("os error 95") {
        "\n(the runner refuses, with \"Operation not supported\", the system calls \
         that read, copy or write a file's bytes other than through a mapping: \
         map the file and use the mapped bytes)"
    } else {
        ""
    }
}

/// Text shown as it is in "yours / expected" (its `Debug` is the text).
pub struct Shown<'a>(pub &'a str);

impl Debug for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A lesson binary, ready to run as a runner.
#[derive(Debug, Clone)]
pub struct Runner {
    program: String,
    limit: Duration,
    kept: Vec<RawFd>,
}

impl Runner {
    /// The runner `program` (a test's `env!("CARGO_BIN_EXE_LESSON")`).
    pub fn new(program: &str) -> Runner {
        Runner {
            program: program.to_owned(),
            limit: DEFAULT_LIMIT,
            kept: Vec::new(),
        }
    }

    /// Allows the runner `limit` for all of a test's requests.
    pub fn limit(mut self, limit: Duration) -> Runner {
        self.limit = limit;
        self
    }

    /// Hands the runner `fd` too: the first kept descriptor is 3 in the
    /// runner, the next 4, and so on. The caller keeps it open until the
    /// runner has started.
    ///
    /// # Panics
    /// When more than [`MAX_KEPT`] descriptors are kept.
    pub fn keep(mut self, fd: BorrowedFd<'_>) -> Runner {
        assert!(
            self.kept.len() < MAX_KEPT,
            "a runner takes at most {MAX_KEPT} descriptors"
        );
        self.kept.push(fd.as_raw_fd());
        self
    }

    /// Asks for one call.
    pub fn ask(&self, request: Request) -> Reply {
        self.ask_all(vec![request]).remove(0)
    }

    /// Asks for every call at once; one reply per request, in order.
    pub fn ask_all(&self, requests: Vec<Request>) -> Vec<Reply> {
        self.start(requests).finish()
    }

    /// Asks for every call of `cases` at once, then checks that each
    /// returned its expected value ([`Reply::expect`]).
    #[track_caller]
    pub fn expect_all<T: Debug>(
        &self,
        cases: impl IntoIterator<Item = (Request, T)>,
    ) {
        let (requests, expected): (Vec<Request>, Vec<T>) = cases.into_iter().unzip();
        for (reply, expected) in self.ask_all(requests).iter().zip(expected) {
            reply.expect(expected);
        }
    }

    /// Asks for every call of `cases` at once, then checks that each
    /// returned `Ok` of its expected value ([`Reply::expect_ok`]).
    #[track_caller]
    pub fn expect_all_ok<T: Debug>(
        &self,
        cases: impl IntoIterator<Item = (Request, T)>,
    ) {
        let (requests, expected): (Vec<Request>, Vec<T>) = cases.into_iter().unzip();
        for (reply, expected) in self.ask_all(requests).iter().zip(expected) {
            reply.expect_ok(expected);
        }
    }

    /// Starts the runner on `requests` and returns at once, for a test that
    /// watches the runner while it works.
    pub fn start(&self, requests: Vec<Request>) -> Running {
        let mut running = self.spawn();
        running.send(requests);
        running
    }

    /// Starts the runner and sends it nothing yet: when this returns, the
    /// runner has loaded its program and libraries and waits for its
    /// requests until [`Running::send`], so a test can read its maps or its
    /// descriptors first and choose its inputs from them.
    pub fn open(&self) -> Running {
        let mut running = self.spawn();
        // Its first line says it is ready; anything else is kept as a reply
        // (and a runner that never says it fails its test by its replies).
        running.early = running
            .replies
            .recv_timeout(self.limit)
            .ok()
            .filter(|line| line != support::exercise::READY)
            .into_iter()
            .collect();
        running
    }

    /// Starts the runner, without waiting for it.
    fn spawn(&self) -> Running {
        // Nothing of the learner's may read this process or take its
        // descriptors: it holds the expected values and the verdict.
        nix::sys::prctl::set_dumpable(false)
            .expect("cannot make the checker non-dumpable");
        let mut command = Command::new(&self.program);
        command
            .arg(FLAG)
            // A panic's message, not a backtrace, ends "your code printed".
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let kept = self.kept.clone();
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe system calls (setpgid, prctl, dup2, fcntl,
        // close_range, setrlimit) on values copied before the fork.
        unsafe {
            command.pre_exec(move || confine(&kept));
        }
        let mut child = support::spawn::spawn_past_text_busy(&mut command)
            .unwrap_or_else(|e| {
                panic!("cannot start the runner {}: {e}", self.program)
            });
        let stdin = child.stdin.take();
        let replies = reply_lines(child.stdout.take());
        let output = drain(child.stderr.take(), OUTPUT_CAP);
        Running {
            early: Vec::new(),
            held: Vec::new(),
            child,
            limit: self.limit,
            stdin,
            requests: Vec::new(),
            writer: None,
            replies,
            output,
        }
    }
}

/// The runner's side of the fork: a process group of its own, only the
/// kept descriptors, no core dumps, files at most 1 GiB.
fn confine(kept: &[RawFd]) -> io::Result<()> {
    let check = |r: libc::c_long| {
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // Kept descriptors move out of the way first (to free numbers above
    // 3 + their count, so none is overwritten), then into 3, 4, ….
    let above = 3 + kept.len() as RawFd;
    let mut moved: [RawFd; MAX_KEPT] = [-1; MAX_KEPT];
    let first_closed = 3 + kept.len() as libc::c_uint;
    let none = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let gib = libc::rlimit {
        rlim_cur: 1 << 30,
        rlim_max: 1 << 30,
    };
    // SAFETY: plain system calls on integers and on two rlimit values that
    // live on this stack; all are async-signal-safe, as a child between
    // fork and exec requires.
    unsafe {
        check(libc::setpgid(0, 0).into())?;
        // The runner dies with its checker's thread: a grader stopped by
        // Ctrl-C takes its checkers with it (they have the same signal),
        // and an endless loop must not spin on without them.
        check(
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
                .into(),
        )?;
        for (slot, &fd) in moved.iter_mut().zip(kept) {
            *slot = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, above);
            check((*slot).into())?;
        }
        for (i, &fd) in moved.iter().take(kept.len()).enumerate() {
            let to = 3 + i as RawFd;
            check(libc::dup2(fd, to).into())?;
        }
        check(libc::syscall(
            libc::SYS_close_range,
            first_closed,
            libc::c_uint::MAX,
            0,
        ))?;
        check(libc::setrlimit(libc::RLIMIT_CORE, &none).into())?;
        check(libc::setrlimit(libc::RLIMIT_FSIZE, &gib).into())?;
    }
    Ok(())
}

fn drain(
    pipe: Option<impl Read + Send + 'static>,
    cap: u64,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = (&mut pipe).take(cap).read_to_end(&mut bytes);
            let _ = io::copy(&mut pipe, &mut io::sink());
        }
        bytes
    })
}

/// The runner's reply lines, as they come (at most [`REPLIES_CAP`] bytes in
/// all); the channel closes when the runner closes its stdout.
fn reply_lines(
    pipe: Option<std::process::ChildStdout>,
) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Some(pipe) = pipe else { return };
        let mut lines = io::BufReader::new(pipe.take(REPLIES_CAP));
        let mut line = String::new();
        // A runner that floods its replies with empty lines costs at most
        // this many strings; what follows is read and dropped.
        let mut kept = 0;
        while kept < REPLY_LINES_CAP
            && lines.read_line(&mut line).is_ok_and(|n| n > 0)
        {
            kept += 1;
            if sender.send(std::mem::take(&mut line)).is_err() {
                break;
            }
        }
        let _ = io::copy(lines.get_mut().get_mut(), &mut io::sink());
    });
    receiver
}

/// A runner at work.
#[derive(Debug)]
pub struct Running {
    /// Lines that came before the requests were sent, other than "ready".
    early: Vec<String>,
    /// Replies read while waiting for a stop note, in order.
    held: Vec<String>,
    child: std::process::Child,
    limit: Duration,
    stdin: Option<std::process::ChildStdin>,
    requests: Vec<Request>,
    writer: Option<std::thread::JoinHandle<()>>,
    replies: std::sync::mpsc::Receiver<String>,
    output: std::thread::JoinHandle<Vec<u8>>,
}

impl Running {
    /// The runner's process id (it leads its own process group).
    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    /// Waits (within the runner's limit) until the runner's handler stops
    /// itself with `support::exercise::stop_for_checker(note)`, and returns
    /// the note; `None` when the runner ended first. Replies that come
    /// before the note are kept for [`Running::finish`]. The runner stays
    /// stopped, its mappings in place, until [`Running::resume`].
    pub fn wait_stopped(&mut self) -> Option<String> {
        let deadline = std::time::Instant::now() + self.limit;
        let note = loop {
            let line = match self.early.is_empty() {
                false => self.early.remove(0),
                true => {
                    let left =
                        deadline.saturating_duration_since(std::time::Instant::now());
                    self.replies.recv_timeout(left).ok()?
                }
            };
            match line
                .strip_suffix('\n')
                .and_then(|l| l.strip_prefix("stopped "))
            {
                Some(hex) => {
                    break String::from_utf8(support::exercise::unhex(hex)?).ok()?;
                }
                None => self.held.push(line),
            }
        };
        self.paused().then_some(note)
    }

    /// Waits (within the runner's limit) until the runner is stopped (by
    /// `SIGSTOP`, however it got there), reading nothing it said; false when
    /// it ended or the limit passed first.
    pub fn paused(&self) -> bool {
        let stat = format!("/proc/{}/stat", self.child.id());
        let deadline = std::time::Instant::now() + self.limit;
        while std::time::Instant::now() < deadline {
            let state = std::fs::read_to_string(&stat).unwrap_or_default();
            // The state follows the command name's closing parenthesis.
            match state
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next())
            {
                Some('T') => return true,
                Some('Z' | 'X') | None => return false,
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        false
    }

    /// Lets a stopped runner go on.
    pub fn resume(&self) {
        let _ = nix::sys::signal::kill(self.pid(), nix::sys::signal::Signal::SIGCONT);
    }

    /// Sends `requests` (once; later calls add nothing) and closes the
    /// runner's stdin, after which it answers them all.
    pub fn send(&mut self, requests: Vec<Request>) {
        let Some(mut stdin) = self.stdin.take() else {
            return;
        };
        let input: String = requests
            .iter()
            .map(|r| request_line(&r.name, &r.args))
            .collect();
        self.requests = requests;
        self.writer = Some(std::thread::spawn(move || {
            // A runner that stops reading only loses its own requests.
            let _ = stdin.write_all(input.as_bytes());
        }));
    }

    /// Sends `requests` and waits for the replies: [`Running::send`], then
    /// [`Running::finish`].
    pub fn ask_all(mut self, requests: Vec<Request>) -> Vec<Reply> {
        self.send(requests);
        self.finish()
    }

    /// Waits for the runner (at most its limit), kills its process group,
    /// and returns one reply per request sent.
    pub fn finish(mut self) -> Vec<Reply> {
        drop(self.stdin.take());
        let outcome = support::spawn::wait_bounded(&mut self.child, self.limit)
            .unwrap_or(ChildOutcome::Exited(-1));
        // Whatever the learner's code left running goes with it.
        let _ =
            nix::sys::signal::killpg(self.pid(), nix::sys::signal::Signal::SIGKILL);
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        // A process that left the group (setsid) may still hold the pipes:
        // what has not come within a moment is not waited for.
        let grace = std::time::Instant::now() + Duration::from_secs(1);
        let mut replies = std::mem::take(&mut self.held);
        replies.append(&mut self.early);
        while let Ok(line) = self
            .replies
            .recv_timeout(grace.saturating_duration_since(std::time::Instant::now()))
        {
            replies.push(line);
        }
        // A runner says it is ready before any reply (`open` has read that
        // line already; `start` did not wait for it): it is no reply.
        replies.retain(|line| line != support::exercise::READY);
        while !self.output.is_finished() && std::time::Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(1));
        }
        let output = if self.output.is_finished() {
            String::from_utf8_lossy(&self.output.join().unwrap_or_default())
                .into_owned()
        } else {
            String::new()
        };
        let printed = last_lines(&output);
        let mut said = replies.iter().map(|line| Said::parse(line));
        self.requests
            .iter()
            .map(|request| Reply {
                call: request.call(),
                said: said.next().flatten(),
                outcome,
                printed: printed.clone(),
            })
            .collect()
    }
}

/// The last lines the runner printed (the learner's own output and panic
/// reports), for a failure message; empty when it printed nothing.
fn last_lines(output: &str) -> String {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(6)..];
    if tail.is_empty() {
        return String::new();
    }
    let mut text = "\nyour code printed (the end):".to_owned();
    for line in tail {
        text.push_str("\n  ");
        text.push_str(&line.chars().take(200).collect::<String>());
    }
    text
}
