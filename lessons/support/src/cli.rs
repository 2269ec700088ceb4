//! The lessons' command lines: one way to ask for help, one way to fail.
//!
//! Parsing never exits: it returns a lesson's mode or an error, and `main`
//! hands the run's result to [`Cli::finish`], the one place where an error
//! becomes a message on stderr and exit code 2 (the convention for a usage
//! error). Every message names the thing, the reason and what to do next.

use std::ffi::{OsStr, OsString};
use std::fmt::{self, Display};
use std::io::Write;

use crate::errors::{Error, Result};

/// A lesson's command-line identity: its name, its question and its
/// `--help` text.
#[derive(Debug, Clone, Copy)]
pub struct Cli {
    /// The lesson's name, as `cargo xtask run-lesson` knows it (its package's
    /// name).
    pub lesson: &'static str,
    /// The lesson's question: its package's description
    /// (`env!("CARGO_PKG_DESCRIPTION")`), which `--help` opens with.
    pub question: &'static str,
    /// What `--help` prints after the question and the usage line: the
    /// flags and notes.
    pub usage: &'static str,
    /// The flags the lesson accepts, for "did you mean" suggestions.
    pub flags: &'static [&'static str],
}

/// The [`Cli`] of the lesson whose `main.rs` writes it: its name and its
/// question are its package's name and description, so neither is written
/// twice; the lesson gives its `--help` text and its flags.
///
/// ```text
/// const CLI: Cli = support::lesson_cli! {
///     usage: "Flags:\n  -h, --help   print this help\n",
///     flags: &["--help"],
/// };
/// ```
#[macro_export]
macro_rules! lesson_cli {
    { usage: $usage:expr, flags: $flags:expr $(,)? } => {
        $crate::cli::Cli {
            lesson: env!("CARGO_PKG_NAME"),
            question: env!("CARGO_PKG_DESCRIPTION"),
            usage: $usage,
            flags: $flags,
        }
    };
}

/// A refusal of what the learner asked for (a flag, its value, a `--keep`
/// directory), already worded: [`Cli::finish`] shows it as it is, where a
/// step's error is shown after "the walkthrough stopped:".
#[derive(Debug)]
pub struct Refusal(String);

impl Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

impl Cli {
    /// Call first in `main`: serves as the grader's runner when started as
    /// one (`LESSON --exercises`, see [`crate::exercise`]), with the
    /// lesson's `exercises`; otherwise installs the handlers that clean up
    /// on Ctrl-C, SIGTERM and SIGHUP ([`crate::cleanup`]).
    pub fn begin(&self, exercises: &[(&str, crate::exercise::Handler)]) {
        crate::exercise::serve_if_asked(exercises);
        crate::cleanup::install();
    }

    /// The command line's arguments, after the program's name, with
    /// `--flag=value` given as `--flag`, `value` (for a flag of
    /// [`Cli::flags`]), so a lesson's parser sees one form.
    pub fn args(&self) -> impl Iterator<Item = OsString> {
        split_flag_values(self.flags, std::env::args_os().skip(1)).into_iter()
    }

    /// True for `-h` and `--help`.
    pub fn is_help(&self, arg: &OsStr) -> bool {
        matches!(arg.to_str(), Some("-h" | "--help"))
    }

    /// For a lesson whose only flag is `--help`: true when it was given,
    /// false for no argument, a refusal for anything else.
    pub fn help_asked(&self) -> Result<bool> {
        match self.args().next() {
            None => Ok(false),
            Some(arg) if self.is_help(&arg) => Ok(true),
            Some(arg) => Err(self.unknown_argument(&arg)),
        }
    }

    /// Prints the usage text to stdout: what `--help` runs.
    pub fn help(&self) -> Result {
        crate::out::text(&self.help_text());
        Ok(())
    }

    /// What `--help` prints: `LESSON: question`, the usage line, then
    /// [`Cli::usage`].
    pub fn help_text(&self) -> String {
        let mut question = self.question.to_owned();
        if let Some(first) = question.get(..1) {
            question.replace_range(..1, &first.to_ascii_lowercase());
        }
        let flags = if self.flags.len() > 1 {
            "FLAGS"
        } else {
            "--help"
        };
        let lesson = self.lesson;
        let mut text = format!(
            "{lesson}: {question}\n\nUsage: cargo xtask run-lesson {lesson} [-- {flags}]\n"
        );
        if !self.usage.is_empty() {
            text.push('\n');
            text.push_str(self.usage);
        }
        text
    }

    /// A refusal worded by the lesson, shown as it is.
    pub fn refuse(&self, message: impl Display) -> Error {
        Box::new(Refusal(message.to_string()))
    }

    /// The refusal of an argument the lesson does not know, suggesting the
    /// closest flag.
    pub fn unknown_argument(&self, arg: &OsStr) -> Error {
        let shown = arg.to_string_lossy();
        let closest = self
            .flags
            .iter()
            .min_by_key(|flag| edit_distance(flag, &shown))
            .filter(|flag| edit_distance(flag, &shown) <= 3);
        match closest {
            Some(flag) => self.refuse(format_args!(
                "unknown argument '{shown}'; did you mean '{flag}'?"
            )),
            None => self.refuse(format_args!(
                "unknown argument '{shown}'; this lesson accepts {}",
                self.flags.join(", ")
            )),
        }
    }

    /// The value after a flag such as `--keep DIR`, or a clear refusal.
    pub fn value_for(&self, flag: &str, value: Option<OsString>) -> Result<OsString> {
        match value {
            Some(value)
                if !value.is_empty()
                    && !value.to_string_lossy().starts_with("--") =>
            {
                Ok(value)
            }
            _ => Err(self.refuse(format_args!(
                "{flag} needs a value after it, for example: {flag} ./out"
            ))),
        }
    }

    /// The end of every lesson's `main`: on success, returns (exit code 0);
    /// on an error, prints it and exits with code 2. A [`Refusal`] is shown
    /// as it is; a step's error after "the walkthrough stopped:", an errno
    /// with its reason and fix ([`crate::errors::explain_any`]).
    pub fn finish(&self, result: Result) {
        if let Err(error) = result {
            match error.downcast_ref::<Refusal>() {
                Some(refusal) => self.fail(refusal),
                None => self.fail(format_args!(
                    "the walkthrough stopped: {}",
                    crate::errors::explain_any(&*error)
                )),
            }
        }
    }

    /// Prints `error: MESSAGE` and a pointer to `--help`, removes what the
    /// lesson registered for cleanup (`exit` skips destructors), then exits
    /// with code 2. In a forked child, leaves with `_exit` instead.
    fn fail(&self, message: impl Display) -> ! {
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
}

/// `args` with each `--flag=value` of a known flag split into `--flag` and
/// `value`, up to a lone `--`; anything else is left as it is (an unknown
/// `--x=1` is refused whole, as typed).
pub fn split_flag_values(
    flags: &[&str],
    args: impl IntoIterator<Item = OsString>,
) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut args = args.into_iter();
    for arg in args.by_ref() {
        if arg == "--" {
            out.push(arg);
            break;
        }
        let split = arg.to_str().and_then(|text| text.split_once('='));
        match split {
            Some((flag, value))
                if flag.starts_with("--") && flags.contains(&flag) =>
            {
                out.push(flag.into());
                out.push(value.into());
            }
            _ => out.push(arg),
        }
    }
    out.extend(args);
    out
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
    use super::{edit_distance, split_flag_values};
    use std::ffi::OsString;

    fn words(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_flag_takes_its_value_after_an_equals_sign_too() {
        let flags = ["--keep", "--force", "--bench"];
        let split = |args: &[&str]| split_flag_values(&flags, words(args));
        assert_eq!(split(&["--keep=./out"]), words(&["--keep", "./out"]));
        assert_eq!(split(&["--keep", "./out"]), words(&["--keep", "./out"]));
        // The value keeps any further '=', and may be empty (then refused
        // by value_for as a missing value).
        assert_eq!(split(&["--keep=a=b"]), words(&["--keep", "a=b"]));
        assert_eq!(split(&["--keep="]), words(&["--keep", ""]));
        // Unknown flags, plain words and what follows `--` stay whole.
        assert_eq!(split(&["--kep=x"]), words(&["--kep=x"]));
        assert_eq!(split(&["a=b", "--force"]), words(&["a=b", "--force"]));
        assert_eq!(split(&["--", "--keep=x"]), words(&["--", "--keep=x"]));
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("--keep", "--keep"), 0);
        assert_eq!(edit_distance("--keep", "--kep"), 1);
        assert_eq!(edit_distance("--force", "--froce"), 2);
        assert_eq!(edit_distance("abc", ""), 3);
    }
}
