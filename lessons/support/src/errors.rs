//! Errors in words: the reason, with the errno's name, and what to do next.
//!
//! System calls fail for reasons a learner can fix (a full disk, a tight
//! `ulimit`, a missing `/proc`). These functions turn an errno into the
//! reason and the fix, so every lesson words them the same way.

use std::io;
use std::path::Path;

use nix::errno::Errno;

/// The error of every lesson's steps: an I/O error that names its path
/// ([`AtPath`]), an errno, a refusal ([`crate::cli::Refusal`]) or a
/// sentence. `main` turns it into words and an exit code in one place
/// ([`crate::cli::Cli::finish`]).
pub type Error = Box<dyn std::error::Error>;

/// What a lesson's step returns.
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// The reason in words with the errno's name: `No space left on device (ENOSPC)`.
pub fn reason(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => {
            let errno = Errno::from_raw(code);
            format!("{} ({errno:?})", errno.desc())
        }
        None => error.to_string(),
    }
}

/// What to do about `errno`, for the errors a learner's situation causes
/// rather than the lesson: resources, limits, space, permissions, paths.
pub fn advice(errno: Errno) -> Option<&'static str> {
    Some(match errno {
        Errno::ENOSPC => {
            "the filesystem is full. Free some space there, or set TMPDIR to a directory on \
             a filesystem with room"
        }
        Errno::EDQUOT => {
            "your disk quota there is used up. Free some space, or ask for more"
        }
        Errno::EMFILE => {
            "this process has as many files open as its limit allows (`ulimit -n`). \
             Raise it, for example `ulimit -n 1024`, and run again"
        }
        Errno::ENFILE => {
            "the whole system has as many files open as it allows (`sysctl fs.file-max`). \
             Close some programs and run again"
        }
        Errno::ENOMEM => {
            "there is not enough memory for this process: its address-space limit \
             (`ulimit -v`) may be too low, or the machine is out of memory. Raise the limit, \
             for example `ulimit -v unlimited`, or free some memory"
        }
        Errno::EROFS => {
            "the filesystem is mounted read-only. Choose a writable directory"
        }
        Errno::ENAMETOOLONG => {
            "the path is too long (a name may have 255 bytes, a whole path 4095). \
             Choose a shorter path"
        }
        Errno::ELOOP => {
            "it is a symbolic link, or a loop of them. Name the real directory"
        }
        // Permissions and missing paths depend on what was asked: the caller
        // says what to do (see `explain_or`).
        _ => return None,
    })
}

/// What to do when a process cannot be started (fork or spawn).
pub fn advice_for_fork(errno: Errno) -> Option<&'static str> {
    match errno {
        Errno::EAGAIN => Some(
            "this user runs as many processes as its limit allows (`ulimit -u`), or the \
             system as many as it can. Raise the limit, for example `ulimit -u 4096`, or end \
             some processes, and run again",
        ),
        _ => advice(errno),
    }
}

/// Why a program could not be started, with the fix: for EAGAIN, the
/// process limit (`ulimit -u`).
pub fn explain_spawn(program: &str, error: &io::Error) -> String {
    match error
        .raw_os_error()
        .map(Errno::from_raw)
        .and_then(advice_for_fork)
    {
        Some(advice) => {
            format!("cannot start {program}: {}: {advice}.", reason(error))
        }
        None => format!("cannot start {program}: {}", reason(error)),
    }
}

/// The reason and, where there is one, the fix: `No space left on device
/// (ENOSPC): the filesystem is full. ...`.
pub fn explain(error: &io::Error) -> String {
    match error.raw_os_error().map(Errno::from_raw).and_then(advice) {
        Some(advice) => format!("{}: {advice}.", reason(error)),
        None => reason(error),
    }
}

/// The reason and the fix: the errno's own advice where there is one,
/// `fix` otherwise. `Permission denied (EACCES). Choose a directory ...`
pub fn explain_or(error: &io::Error, fix: &str) -> String {
    match error.raw_os_error().map(Errno::from_raw).and_then(advice) {
        Some(advice) => format!("{}: {advice}.", reason(error)),
        None => format!("{}. {fix}", reason(error)),
    }
}

/// Any error a lesson's step returned, in words: an errno gets its reason
/// and fix ([`explain`]); other errors (already worded) are shown as they are.
pub fn explain_any(error: &(dyn std::error::Error + 'static)) -> String {
    if let Some(io_error) = error.downcast_ref::<io::Error>() {
        if io_error.raw_os_error().is_some() {
            return explain(io_error);
        }
    } else if let Some(errno) = error.downcast_ref::<Errno>() {
        return explain(&io::Error::from(*errno));
    }
    error.to_string()
}

/// A path as a message shows it: whole when short, otherwise its start and
/// end with its length, so a 4000-byte path does not bury the reason.
pub fn shown(path: &Path) -> String {
    let text = path.display().to_string();
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 120 {
        return text;
    }
    let head: String = chars[..50].iter().collect();
    let tail: String = chars[chars.len() - 50..].iter().collect();
    format!("{head}...{tail} ({} bytes)", path.as_os_str().len())
}

/// `error` about `thing`, as a new error of the same kind whose message
/// names the thing, the reason and the fix.
pub fn about(thing: &Path, error: io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("{}: {}", shown(thing), explain(&error)),
    )
}

/// Adds the path to an I/O error: `file.write_all(b)
/// .at(&path)?`.
pub trait AtPath<T> {
    /// Names `path` in the error, with the reason and the fix.
    fn at(self, path: &Path) -> io::Result<T>;
}

impl<T> AtPath<T> for io::Result<T> {
    fn at(self, path: &Path) -> io::Result<T> {
        self.map_err(|e| about(path, e))
    }
}

impl<T> AtPath<T> for nix::Result<T> {
    fn at(self, path: &Path) -> io::Result<T> {
        self.map_err(|e| about(path, io::Error::from(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_names_the_path_the_errno_and_a_fix() {
        let error = about(
            Path::new("/tmp/x/data"),
            io::Error::from_raw_os_error(libc::ENOSPC),
        );
        let text = error.to_string();
        assert!(text.starts_with("/tmp/x/data: No space left on device (ENOSPC): "));
        assert!(text.contains("set TMPDIR"), "{text}");
    }

    #[test]
    fn resource_limits_name_the_ulimit_to_raise() {
        let text = explain(&io::Error::from_raw_os_error(libc::EMFILE));
        assert!(
            text.contains("(EMFILE)") && text.contains("ulimit -n"),
            "{text}"
        );
        assert!(
            advice_for_fork(Errno::EAGAIN)
                .unwrap()
                .contains("ulimit -u")
        );
        assert!(
            explain(&io::Error::from_raw_os_error(libc::ENOMEM))
                .contains("ulimit -v")
        );
    }
}
