//! The lessons' command lines: one way to ask for help, one way to fail.
//!
//! Every error names the thing, the reason and what to do next, goes to
//! stderr, and exits with code 2, the convention for a usage error.

use std::ffi::OsString;
use std::fmt::Display;
use std::io::Write;

/// A lesson's command-line identity: its name and its `--help` text.
#[derive(Debug, Clone, Copy)]
pub struct Cli {
    /// The lesson's name, as `cargo xtask run-lesson` knows it.
    pub lesson: &'static str,
    /// The text `--help` prints.
    pub usage: &'static str,
    /// The flags the lesson accepts, for "did you mean" suggestions.
    pub flags: &'static [&'static str],
}

impl Cli {
    /// Call first in `main`: installs the handlers that clean up on Ctrl-C,
    /// SIGTERM and SIGHUP ([`crate::cleanup`]).
    pub fn begin(&self) {
        crate::cleanup::install();
    }

    /// Prints the usage text to stdout and exits successfully.
    pub fn print_help_and_exit(&self) -> ! {
        crate::out::text(self.usage);
        crate::cleanup::exit(0)
    }

    /// Prints `error: MESSAGE` and a pointer to `--help`, removes what the
    /// lesson registered for cleanup (`exit` skips destructors), then exits
    /// with code 2. In a forked child, leaves with `_exit` instead.
    pub fn fail(&self, message: impl Display) -> ! {
        // A reader that went away (`lesson | head`) often makes a child fail
        // first; the lesson then ends as quietly as `cat` would.
        if crate::out::stdout_is_closed_pipe() {
            crate::cleanup::die_of(libc::SIGPIPE)
        }
        // A closed or full stderr must not turn a refusal into a panic.
        let _ = writeln!(
            std::io::stderr(),
            "{}: error: {message}\nFor the accepted flags, run: cargo xtask run-lesson {} -- --help",
            self.lesson,
            self.lesson
        );
        crate::cleanup::exit(2)
    }

    /// For a lesson whose only flag is `--help`: handles the command line.
    pub fn parse_help_only(&self) {
        if let Some(arg) = std::env::args_os().nth(1) {
            match arg.to_str() {
                Some("-h" | "--help") => self.print_help_and_exit(),
                _ => self.unknown_argument(&arg),
            }
        }
    }

    /// Fails for an argument the lesson does not know, suggesting the closest flag.
    pub fn unknown_argument(&self, arg: &OsString) -> ! {
        let shown = arg.to_string_lossy();
        let closest = self
            .flags
            .iter()
            .min_by_key(|flag| edit_distance(flag, &shown))
            .filter(|flag| edit_distance(flag, &shown) <= 3);
        match closest {
            Some(flag) => self.fail(format_args!(
                "unknown argument '{shown}'; did you mean '{flag}'?"
            )),
            None => self.fail(format_args!(
                "unknown argument '{shown}'; this lesson accepts {}",
                self.flags.join(", ")
            )),
        }
    }

    /// The value after a flag such as `--keep DIR`, or a clear failure.
    pub fn value_for(&self, flag: &str, value: Option<OsString>) -> OsString {
        match value {
            Some(value) if !value.is_empty() && !value.to_string_lossy().starts_with("--") => value,
            _ => self.fail(format_args!(
                "{flag} needs a value after it, for example: {flag} ./out"
            )),
        }
    }
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("--keep", "--keep"), 0);
        assert_eq!(edit_distance("--keep", "--kep"), 1);
        assert_eq!(edit_distance("--force", "--froce"), 2);
        assert_eq!(edit_distance("abc", ""), 3);
    }
}
