//! The story's output: stdout that fails like `cat`, never with a panic.
//!
//! `println!` panics when stdout is a closed pipe (`lesson | head -3`) or a
//! full device (`> /dev/full`). Lessons print with [`say!`](crate::say)
//! instead, which writes through [`line`]:
//!
//! - a closed pipe ends the lesson quietly, by SIGPIPE, as `cat` ends;
//! - any other write error ends it with a one-line error on stderr and
//!   exit code 2.
//!
//! Either way what the lesson registered for cleanup is removed first
//! ([`crate::cleanup`]). In a forked child the same errors end only the
//! child, silently: the parent's next line meets the same error and reports it.

use std::fmt;
use std::io::{self, Write};

/// Prints a line of the story to stdout, like `println!`, but never panics.
#[macro_export]
macro_rules! say {
    () => {
        $crate::out::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}

/// Writes `args` and a newline to stdout; see the module documentation.
pub fn line(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| out.write_all(b"\n"));
    drop(out);
    if let Err(error) = written {
        stdout_failed(&error);
    }
}

/// Writes `text` to stdout as it is (no newline added), flushed.
pub fn text(text: &str) {
    let mut out = io::stdout().lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    drop(out);
    if let Err(error) = written {
        stdout_failed(&error);
    }
}

/// Ends the process after a failed write to stdout: quietly for a closed
/// pipe, with one line on stderr otherwise.
pub fn stdout_failed(error: &io::Error) -> ! {
    if error.kind() == io::ErrorKind::BrokenPipe {
        crate::cleanup::die_of(libc::SIGPIPE)
    }
    if crate::cleanup::is_owner() {
        let _ = writeln!(
            io::stderr(),
            "{}: error: cannot write to standard output: {}. Send the output somewhere \
             that can take it, such as a file on a disk with room.",
            program_name(),
            crate::errors::reason(error),
        );
    }
    crate::cleanup::exit(2)
}

/// This program's name, as the user started it (`file-mapping`).
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "lesson".to_owned())
}

/// True when stdout is a pipe whose reading end is closed: the story has
/// no reader left, so a refusal should end the lesson as quietly as a
/// failed write would ([`stdout_failed`]).
pub fn stdout_is_closed_pipe() -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let stdout = io::stdout();
    let mut fds = [PollFd::new(
        std::os::fd::AsFd::as_fd(&stdout),
        PollFlags::POLLOUT,
    )];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1))
        && fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLERR))
}

/// "yes" or "no", for a story line that states a fact the lesson checked.
pub fn yes_no(condition: bool) -> &'static str {
    if condition { "yes" } else { "no" }
}
