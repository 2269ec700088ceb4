//! Each command's arguments, read by clap (derive) from the words after
//! the command's name. The command table (`commands`) keeps what clap does
//! not: each command's help, and (in xtask) the usage grouped by audience.
//!
//! `--help` is printed through `support::out` (a closed pipe ends it by
//! SIGPIPE, quietly); its texts are written to fit 80 columns, which
//! `tests/help.rs` checks for every command (clap's `wrap_help` is off: it
//! would build terminal_size, and rustix a second time). An error is
//! handed back to `main`, the one exit point, as one unwrapped line.

use std::ffi::OsString;

use clap::Parser;
use clap::error::ErrorKind;
use support::say;

use crate::{COLUMNS, Result, commands};

/// The arguments of `cargo xtask NAME ARGS` as `T`, or `None` when they
/// asked for `--help`, which is then printed.
pub fn parse<T: Parser>(name: &'static str, args: Vec<OsString>) -> Result<Option<T>> {
    let command = command::<T>(name);
    let words = std::iter::once(OsString::from(name)).chain(args);
    let matches = match command.try_get_matches_from(words) {
        Ok(matches) => matches,
        Err(e) if e.kind() == ErrorKind::DisplayHelp => {
            say!("{}", e.render().to_string().trim_end());
            return Ok(None);
        }
        Err(e) => return Err(one_line(&e, name)),
    };
    T::from_arg_matches(&matches)
        .map(Some)
        .map_err(|e| one_line(&e, name))
}

/// The clap command of `cargo xtask NAME`: its help from the command table.
fn command<T: Parser>(name: &'static str) -> clap::Command {
    let help = commands::named(name).map_or("", |c| c.help);
    T::command()
        .name(name)
        .bin_name(format!("cargo xtask {name}"))
        .about(help)
        // Wraps only with clap's `wrap_help`; the texts fit without it.
        .max_term_width(COLUMNS)
        .disable_version_flag(true)
}

/// A clap error as one line: what is wrong and clap's tip (`; ` between
/// them), then where the help is. (Scripts read the reason from the `error:` line.)
fn one_line(error: &clap::Error, name: &str) -> String {
    let rendered = error.render().to_string();
    let said: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let said = said.join("; ");
    let said = said.strip_prefix("error: ").unwrap_or(&said);
    format!("{said}. See: cargo xtask {name} --help")
}

/// The arguments of a command that takes none.
#[derive(Debug, Parser)]
pub struct NoArguments {}

/// Reads a whole positive number (of runs, jobs, seconds).
pub fn positive(text: &str) -> std::result::Result<u64, String> {
    text.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| "not a whole number above 0".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[derive(Debug, Parser)]
    struct Example {
        dir: Option<PathBuf>,
        #[arg(long, value_name = "SECS", value_parser = positive)]
        timeout: Option<u64>,
        #[arg(last = true)]
        passed: Vec<OsString>,
    }

    fn words(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn flags_take_their_value_either_way() {
        for args in [&["--timeout=5"][..], &["--timeout", "5"]] {
            let parsed: Example = parse("grade", words(args)).unwrap().unwrap();
            assert_eq!(parsed.timeout, Some(5), "{args:?}");
        }
        let parsed: Example = parse("grade", words(&["d", "--", "--help", "x"]))
            .unwrap()
            .unwrap();
        assert_eq!(parsed.dir, Some(PathBuf::from("d")));
        assert_eq!(parsed.passed, words(&["--help", "x"]));
    }

    #[test]
    fn help_fits_80_columns() {
        for text in [
            command::<Example>("grade").render_long_help().to_string(),
            command::<Example>("grade-all").render_help().to_string(),
        ] {
            assert!(text.contains("Usage: cargo xtask grade"), "{text}");
            assert!(text.lines().all(|l| l.chars().count() <= COLUMNS), "{text}");
        }
        assert_eq!(
            parse::<Example>("grade", words(&["--help"]))
                .unwrap()
                .map(|_| ()),
            None
        );
    }

    #[test]
    fn an_error_is_one_line_that_names_the_help() {
        for (args, says) in [
            (&["--timeout=0"][..], "--timeout"),
            (&["--nope"], "'--nope'"),
            (&["a", "b"], "'b'"),
            (&["--timeout"], "--timeout"),
        ] {
            let error = parse::<Example>("grade", words(args)).unwrap_err();
            assert!(!error.contains('\n'), "{error}");
            assert!(error.contains(says), "{args:?}: {error}");
            assert!(error.ends_with("See: cargo xtask grade --help"), "{error}");
        }
    }
}
