//! The runner's side of grading: the only place learner code runs.
//!
//! A lesson binary started as `LESSON --exercises` is a *runner*. It reads
//! requests on stdin until EOF, calls the learner's exercise for each, and
//! says on stdout what each call returned, or that it panicked. It decides
//! nothing and knows no expected value: the *checker* (a graded test, which
//! links the lesson's library but never its exercises, see `test_support::judge`)
//! sent the inputs and compares the replies in its own process.
//!
//! Before any exercise runs, the runner moves its stdout to a private
//! descriptor and points descriptor 1 at stderr, so a learner's `println!`
//! lands in the output the checker shows, not among the replies. Code that
//! writes to the reply descriptor anyway can only forge replies, and a forged
//! reply is just another answer: it still has to be the expected one.
//!
//! The wire is one line per request and per reply, every field in hex
//! (`name xARG xARG …` and `returned|panicked|refused HEX`): a format this
//! small needs no serialisation crate in every lesson's dependencies.

use std::ffi::OsString;
use std::fmt::Debug;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::str::FromStr;

/// The flag that turns a lesson binary into a runner.
pub const FLAG: &str = "--exercises";

/// The line a runner says first, before it reads its requests.
pub const READY: &str = "ready\n";

/// The most request bytes a runner reads (requests are inputs, not data).
const MAX_REQUESTS: u64 = 64 << 20;

/// An exercise's entry in a runner's table: reads its arguments, calls the
/// learner's function, and returns what it returned as text (usually
/// [`returned`] or [`io_result`]), or why the arguments make no sense.
pub type Handler = fn(&mut Args) -> Result<String, String>;

/// True when this process was started as a runner (`LESSON --exercises`).
pub fn asked() -> bool {
    std::env::args_os().nth(1).as_deref() == Some(FLAG.as_ref())
}

/// The first line of every lesson's `main`: when started as a runner
/// (`LESSON --exercises`), serves the requests with `table` and exits;
/// otherwise returns, and the story goes on.
pub fn serve_if_asked(table: &[(&str, Handler)]) {
    if asked() {
        serve(table);
    }
}

/// Serves the requests on stdin with `table` (exercise name, handler), then
/// exits: 0 when every request got a reply, 2 on a broken request stream.
pub fn serve(table: &[(&str, Handler)]) -> ! {
    let code = match serve_with(table) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{FLAG}: {e}");
            2
        }
    };
    std::process::exit(code)
}

/// Where replies go: the runner's original stdout, taken by [`serve`].
static REPLIES: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);

fn write_reply(line: &str) -> io::Result<()> {
    let mut replies = REPLIES.lock().unwrap_or_else(|e| e.into_inner());
    let file = replies
        .as_mut()
        .ok_or_else(|| io::Error::other("not serving requests"))?;
    file.write_all(line.as_bytes())?;
    file.flush()
}

/// For a handler whose result a checker inspects from outside while it
/// lives (a mapping in this process's maps): tells the checker `note` (an
/// address, say) and stops this process with `SIGSTOP` until the checker
/// resumes it (`judge::Running::wait_stopped`, then `resume`).
pub fn stop_for_checker(note: &str) -> io::Result<()> {
    write_reply(&format!("stopped {}\n", hex(note.as_bytes())))?;
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP)
        .map_err(io::Error::from)
}

fn serve_with(table: &[(&str, Handler)]) -> io::Result<()> {
    *REPLIES.lock().unwrap_or_else(|e| e.into_inner()) = Some(take_stdout()?);
    // A panic of an exercise on this thread is its reply; the default hook
    // would repeat it in what the learner's code printed. Other threads'
    // panics are still reported as usual.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() != Some("main") {
            report(info);
        }
    }));
    // The checker may look at this process from now on (its maps, say):
    // the program and its libraries are loaded, and it waits for requests.
    write_reply(READY)?;
    let mut input = Vec::new();
    io::stdin()
        .lock()
        .take(MAX_REQUESTS)
        .read_to_end(&mut input)?;
    // Panics are replies; the default hook's report still goes to stderr.
    for line in input.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let reply = match parse_request(line) {
            Err(why) => Reply::Refused(why),
            Ok((name, args)) => match table.iter().find(|(n, _)| *n == name) {
                None => Reply::Refused(format!("no exercise named {name:?}")),
                Some((_, handler)) => call(handler, Args::new(&name, args)),
            },
        };
        write_reply(&reply.line())?;
    }
    Ok(())
}

fn call(handler: &Handler, mut args: Args) -> Reply {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        handler(&mut args)
    })) {
        Ok(Ok(text)) => Reply::Returned(text),
        Ok(Err(why)) => Reply::Refused(why),
        Err(payload) => Reply::Panicked(panic_text(payload.as_ref())),
    }
}

/// A panic's message, as the panic hook prints it.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Moves stdout to a private close-on-exec descriptor for the replies, and
/// sends what the learner's code prints to stderr instead.
fn take_stdout() -> io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    let stdout = io::stdout();
    let private = stdout.as_fd().try_clone_to_owned()?;
    // Rust's `Stdout` keeps using descriptor 1, which now means stderr.
    nix::unistd::dup2_stdout(io::stderr())?;
    Ok(std::fs::File::from(private))
}

/// What a runner says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The exercise returned; its value as text.
    Returned(String),
    /// The exercise panicked (a `todo!()` too); the panic's message.
    Panicked(String),
    /// The request made no sense to this runner.
    Refused(String),
}

impl Reply {
    /// The reply as one line of the wire format.
    pub fn line(&self) -> String {
        let (word, text) = match self {
            Reply::Returned(t) => ("returned", t),
            Reply::Panicked(t) => ("panicked", t),
            Reply::Refused(t) => ("refused", t),
        };
        format!("{word} {}\n", hex(text.as_bytes()))
    }

    /// Reads one line of the wire format; `None` when it is not one.
    pub fn parse(line: &str) -> Option<Reply> {
        let (word, text) = line.strip_suffix('\n').unwrap_or(line).split_once(' ')?;
        let text = String::from_utf8(unhex(text)?).ok()?;
        match word {
            "returned" => Some(Reply::Returned(text)),
            "panicked" => Some(Reply::Panicked(text)),
            "refused" => Some(Reply::Refused(text)),
            _ => None,
        }
    }
}

/// One request as a line: the exercise's name, then each argument.
pub fn request_line(name: &str, args: &[Vec<u8>]) -> String {
    let mut line = name.to_owned();
    for arg in args {
        line.push_str(" x");
        line.push_str(&hex(arg));
    }
    line.push('\n');
    line
}

fn parse_request(line: &[u8]) -> Result<(String, Vec<Vec<u8>>), String> {
    let line =
        std::str::from_utf8(line).map_err(|_| "a request is not text".to_owned())?;
    let mut words = line.split(' ');
    let name = words.next().unwrap_or_default().to_owned();
    let args = words
        .map(|w| w.strip_prefix('x').and_then(unhex))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("request {name:?}: an argument is not xHEX"))?;
    Ok((name, args))
}

/// Lower-case hex, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes from [`hex`]; `None` for anything else.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// A request's arguments, taken in order by the handler.
#[derive(Debug)]
pub struct Args {
    name: String,
    values: std::vec::IntoIter<Vec<u8>>,
    taken: usize,
}

impl Args {
    fn new(name: &str, values: Vec<Vec<u8>>) -> Args {
        Args {
            name: name.to_owned(),
            values: values.into_iter(),
            taken: 0,
        }
    }

    /// The next argument's raw bytes.
    pub fn bytes(&mut self) -> Result<Vec<u8>, String> {
        self.taken += 1;
        self.values.next().ok_or_else(|| {
            format!("{}: argument {} is missing", self.name, self.taken)
        })
    }

    /// The next argument as UTF-8 text.
    pub fn text(&mut self) -> Result<String, String> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes).map_err(|_| {
            format!("{}: argument {} is not text", self.name, self.taken)
        })
    }

    /// The next argument as a path (any bytes but NUL).
    pub fn path(&mut self) -> Result<PathBuf, String> {
        Ok(PathBuf::from(OsString::from_vec(self.bytes()?)))
    }

    /// The next argument as a number (or anything else `FromStr` reads).
    pub fn num<T: FromStr>(&mut self) -> Result<T, String> {
        let text = self.text()?;
        text.parse().map_err(|_| {
            format!(
                "{}: argument {} ({text:?}) does not parse",
                self.name, self.taken
            )
        })
    }

    /// The next argument as a comma-separated list (empty text: no items).
    pub fn list<T: FromStr>(&mut self) -> Result<Vec<T>, String> {
        let text = self.text()?;
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let (name, taken) = (&self.name, self.taken);
        text.split(',')
            .map(|item| {
                item.parse().map_err(|_| {
                    format!("{name}: argument {taken}: item {item:?} does not parse")
                })
            })
            .collect()
    }
}

/// What a handler returns for a plain value: its `Debug` text, which the
/// checker compares with its expected value's.
pub fn returned(value: impl Debug) -> Result<String, String> {
    Ok(format!("{value:?}"))
}

/// What a handler returns for an `io::Result`: `Ok(VALUE)` with the value's
/// `Debug` text, or `Err(KIND): MESSAGE`.
pub fn io_result<T: Debug>(result: io::Result<T>) -> Result<String, String> {
    Ok(match result {
        Ok(value) => format!("Ok({value:?})"),
        Err(e) => format!("Err({:?}): {e}", e.kind()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_survive_the_wire() {
        let line = request_line("f", &[b"".to_vec(), b"a b\n\xff".to_vec()]);
        assert_eq!(line, "f x x6120620aff\n");
        let (name, args) = parse_request(line.trim_end().as_bytes()).unwrap();
        assert_eq!((name.as_str(), args.len()), ("f", 2));
        assert_eq!(args[1], b"a b\n\xff");
        for reply in [
            Reply::Returned("Ok(\"x\ny\")".into()),
            Reply::Panicked(String::new()),
            Reply::Refused("é".into()),
        ] {
            assert_eq!(Reply::parse(&reply.line()), Some(reply));
        }
        assert_eq!(Reply::parse("returned 4"), None);
        assert_eq!(Reply::parse("won 00"), None);
        assert!(parse_request(b"f 00").is_err());
    }

    #[test]
    fn arguments_are_taken_in_order_and_named_when_wrong() {
        let mut args = Args::new(
            "f",
            vec![
                b"40".to_vec(),
                b"1,2,3".to_vec(),
                b"".to_vec(),
                b"x".to_vec(),
            ],
        );
        assert_eq!(args.num::<usize>(), Ok(40));
        assert_eq!(args.list::<u32>(), Ok(vec![1, 2, 3]));
        assert_eq!(args.list::<u32>(), Ok(vec![]));
        assert!(args.num::<u8>().unwrap_err().contains("argument 4"));
        assert!(args.bytes().unwrap_err().contains("argument 5 is missing"));
    }

    #[test]
    fn io_results_keep_the_kind_and_the_message() {
        assert_eq!(io_result(Ok(3)), Ok("Ok(3)".to_owned()));
        let e = io::Error::new(io::ErrorKind::InvalidInput, "empty pattern");
        assert_eq!(
            io_result::<()>(Err(e)),
            Ok("Err(InvalidInput): empty pattern".to_owned())
        );
    }
}
