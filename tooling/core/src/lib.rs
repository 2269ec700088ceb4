//! The tooling's support: what the learner's commands (xtask), the
//! instructor's grader and the book's tooling share.
//!
//! - [`grade`]: the grading core: build each lesson's graded tests, run
//!   each test alone, judge how it ended, report. The instructor's side
//!   adds its sandbox through [`grade::Isolation`].
//! - [`copy`]: a copy of the workbook with every solution replaced by its
//!   stub (what `init` and `handout` both write).
//! - [`manifest`]: the graded tests and the hashes of the files a handout
//!   watches.
//! - [`seed`]: a new target directory warmed with the registry's crates as
//!   the workbook's own builds compiled them.
//! - [`files`]: which files make up a tree, and copying them.
//! - [`commands`]: every command's summary and help; [`args`]: reading a
//!   command's arguments with clap.

pub mod args;
pub mod commands;
pub mod copy;
pub mod files;
pub mod grade;
pub mod manifest;
pub mod seed;

use std::ffi::OsString;
use std::path::PathBuf;

pub use test_support::layout as lessons;

/// Like `eprintln!`, for what a command says on stderr, but never panics:
/// with stderr closed (`cargo xtask progress 2>&1 | head -1`) there is
/// nobody left to tell, and the command goes on (or ends by SIGPIPE at its
/// next line on stdout).
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// The widest line a learner-facing command prints: an 80-column terminal.
pub const COLUMNS: usize = 80;

/// An error that ends the command: printed as `error: MESSAGE`, exit code 2.
pub type Result<T = ()> = std::result::Result<T, String>;

/// `text` wrapped at `width` columns, continuation lines indented by
/// `indent`, never cutting a word (a word wider than a line stays whole).
/// Blank lines separate paragraphs and are kept; a line that starts with
/// white space, `-`, `|` or a fence is kept on a line of its own, as it is
/// when it fits.
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    let flush = |line: &mut String, out: &mut Vec<String>| {
        if !line.is_empty() {
            out.push(std::mem::take(line));
        }
    };
    for source in text.lines() {
        let own_line = source.starts_with([' ', '-', '`', '|']);
        if source.trim().is_empty() || own_line {
            flush(&mut line, &mut out);
            if source.trim().is_empty() {
                out.push(String::new());
                continue;
            }
        }
        if own_line && source.chars().count() <= width {
            out.push(source.to_owned());
            continue;
        }
        let lead: String = source.chars().take_while(|c| *c == ' ').collect();
        for word in source.split_whitespace() {
            let room = line.chars().count() + 1 + word.chars().count() <= width;
            if line.is_empty() {
                line = format!("{lead}{word}");
            } else if room {
                line.push(' ');
                line.push_str(word);
            } else {
                flush(&mut line, &mut out);
                line = format!("{indent}{lead}{word}");
            }
        }
        if own_line {
            flush(&mut line, &mut out);
        }
    }
    flush(&mut line, &mut out);
    out.join("\n")
}

/// Where cargo puts what it builds for the workbook at `root`: as cargo
/// reads it from the environment (a `target-dir` in a configuration file
/// is not read: a first build is then announced more than once).
pub fn target_dir(root: &std::path::Path) -> PathBuf {
    ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR"]
        .iter()
        .find_map(std::env::var_os)
        .map_or_else(|| root.join("target"), PathBuf::from)
}

/// Before a build that may be the first: unless `built_before` exists,
/// says on stderr what is being built and roughly how long the first build
/// takes, so that nobody takes a silent compiler for a hung command. Cargo's
/// own progress follows. `book` calls it too (`target/book` as the mark).
pub fn announce_first_build(built_before: &std::path::Path, what: &str, first_time: &str) {
    if !built_before.exists() {
        note!(
            "{}",
            wrap(
                &format!(
                    "Building {what}. The first build takes {first_time}; \
                     after that it starts at once."
                ),
                COLUMNS,
                ""
            )
        );
    }
}

/// The root of the workbook this command works on, found when it runs,
/// never fixed when it was compiled: a checkout that was moved or copied
/// (with its `target/`) works on itself, not on where it was built.
///
/// `cargo run` (and so `cargo xtask`) tells the program where its package
/// (xtask, the grader, the book) is now in `CARGO_MANIFEST_DIR`; run any other way, cargo is asked for
/// the workspace around the current directory.
pub fn workspace_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) {
        // The package's directory (xtask/, tooling/grader/...): the
        // workbook is the nearest directory above it with a workspace.
        let is_workspace = |d: &std::path::Path| {
            std::fs::read_to_string(d.join("Cargo.toml"))
                .is_ok_and(|m| m.lines().any(|l| l.trim() == "[workspace]"))
        };
        if let Some(root) = dir.ancestors().skip(1).find(|d| is_workspace(d)) {
            return Ok(root.to_owned());
        }
    }
    let output = std::process::Command::new(cargo_program())
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .output()
        .map_err(|e| format!("cannot start cargo to find the workbook: {e}"))?;
    let manifest = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    match PathBuf::from(&manifest).parent() {
        Some(root) if output.status.success() && !manifest.is_empty() => Ok(root.to_owned()),
        _ => Err(format!(
            "cannot find the workbook from {}: run this inside a checkout of the workbook \
             ({})",
            std::env::current_dir().unwrap_or_default().display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}

/// The cargo that started us, so toolchain overrides carry through.
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A command for that cargo.
pub fn cargo() -> std::process::Command {
    std::process::Command::new(cargo_program())
}

/// The compiler beside that cargo (its toolchain's), if there is one: the
/// graded tests are built with it whatever toolchain file a directory above
/// the tree may name.
pub fn rustc_beside_cargo() -> Option<PathBuf> {
    std::path::Path::new(&cargo_program())
        .parent()
        .map(|bin| bin.join("rustc"))
        .filter(|rustc| rustc.is_file())
}

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    lessons::closest(word, candidates)
}

/// Fails when a command that takes no arguments is given some; false when
/// they asked for `--help`, which was printed.
pub fn no_arguments(command: &'static str, args: Vec<OsString>) -> Result<bool> {
    Ok(args::parse::<args::NoArguments>(command, args)?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_never_cuts_a_word_and_keeps_paragraphs() {
        let text = "Hint: open it with read and write access, size it with \
                    File::set_len, then map it.\n\n  code stays\nlast";
        let wrapped = wrap(text, 20, "  ");
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 20),
            "{wrapped}"
        );
        let words = |t: &str| t.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(words(&wrapped), words(text));
        assert!(wrapped.contains("\n\n  code stays\nlast"), "{wrapped}");
        assert!(
            wrapped.lines().nth(1).unwrap().starts_with("  "),
            "{wrapped}"
        );
        assert_eq!(
            wrap("averyveryverylongword x", 5, ""),
            "averyveryverylongword\nx"
        );
    }
}
