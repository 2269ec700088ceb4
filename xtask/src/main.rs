//! `cargo xtask`: the workbook's one entry point for people.
//!
//! A command table (who each command is for, its summary and help) picks the
//! command; clap reads its arguments (`args.rs`).

mod args;
mod book;
#[cfg(feature = "instructor")]
mod class;
mod files;
// In a learner's copy the class's side of the grader (reports read back
// from JSON) has no caller: it stays, unused.
#[cfg_attr(not(feature = "instructor"), allow(dead_code))]
mod grade;
mod handout;
mod init;
mod manifest;
mod new_lesson;
#[cfg(feature = "instructor")]
mod platforms;
mod progress;
#[cfg(feature = "instructor")]
mod verify;
mod watch;
#[cfg(feature = "instructor")]
mod zip;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use support::say;
use test_support::layout as lessons;

/// Like `eprintln!`, for what a command says on stderr, but never panics:
/// with stderr closed (`cargo xtask progress 2>&1 | head -1`) there is
/// nobody left to tell, and the command goes on (or ends by SIGPIPE at its
/// next line on stdout).
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
pub(crate) use note;

/// The widest line a learner-facing command prints: an 80-column terminal.
pub const COLUMNS: usize = 80;

/// An error that ends the command: printed as `error: MESSAGE`, exit code 2.
type Result<T = ()> = std::result::Result<T, String>;

/// Who a command is for: the usage lists learners' commands first, and a
/// learner's copy (`cargo xtask init`, feature `instructor` off) has no
/// instructor's commands at all.
#[derive(Clone, Copy, PartialEq)]
enum Audience {
    Learner,
    Author,
    Instructor,
}

struct Command {
    audience: Audience,
    name: &'static str,
    summary: &'static str,
    help: &'static str,
    run: fn(Vec<OsString>) -> Result<ExitCode>,
}

const COMMANDS: &[Command] = &[
    Command {
        audience: Audience::Learner,
        name: "list",
        summary: "list the lessons, one line each",
        help: "Prints each lesson's number, name and question.",
        run: cmd_list,
    },
    Command {
        audience: Audience::Learner,
        name: "run-lesson",
        summary: "build and run a lesson's walkthrough",
        help: "\
Builds the lesson's binary and runs it in your current directory, passing
ARGS through. Name a lesson by its name (file-mapping) or number (1 or 01).
Example: cargo xtask run-lesson file-mapping -- --keep ./out",
        run: cmd_run_lesson,
    },
    Command {
        audience: Audience::Learner,
        name: "init",
        summary: "start your own copy of the exercises, ready to solve",
        help: "\
Writes your personal workbook to DIR (default ../mmap-workbook-exercises):
the lessons, the book and the learner's commands, with every exercise
replaced by its todo!() stub. DIR must be new or empty, and outside this
workbook; the copy appears whole or not at all. Then builds it once, and
says what to run next. --lessons a,b copies only those lessons.",
        run: init::cmd_init,
    },
    Command {
        audience: Audience::Learner,
        name: "watch",
        summary: "grade the exercise you are on each time you save",
        help: "\
Finds your first unsolved exercise and grades it again whenever a file
under lessons/*/src is saved: its verdict, the first compiler error, and a
progress bar. Type a command and Enter: h (hint), n (next exercise),
q (quit). With a file or pipe as input, it reads the same commands, one per
line, and keeps watching after the last one until interrupted (Ctrl-C).",
        run: watch::cmd_watch,
    },
    Command {
        audience: Audience::Learner,
        name: "grade",
        summary: "score exercise work",
        help: "\
Builds the graded tests of every lesson (or of LESSON) once, then runs each
test alone, in its own process group, for at most --timeout seconds (default
10), --jobs at a time (default: the number of CPUs, at most 4). Prints a table
per test and the score; exits 1 below full marks. --json FILE also writes the
result as JSON, in the --format workbook (the default), gradescope (its
results.json) or classroom50 (its result.json, with the submission's details
from the CLASSROOM, ASSIGNMENT, SUBMISSION_TAG, COMMIT_URL, RELEASE_URL and
REVIEW_URL variables). --summary FILE writes (or appends to) a Markdown
summary with the hint for every failure.

A test earns its points only if its body returned: printing libtest's \"ok\",
exiting early, looping or crashing earns nothing, and the table says which
happened. In a handout, the tests and the maximum come from its manifest, and
graded files that were changed are named.

Instructors: --template DIR grades the exercise files of --submission DIR
(default: this checkout) with DIR's own graded tests and grader, whatever the
submission changed. Run it from your pristine copy, for example:
  cargo xtask grade --template . --submission ../alice",
        run: grade::cmd_grade,
    },
    Command {
        audience: Audience::Instructor,
        name: "grade-all",
        summary: "grade a class's submissions against your pristine copy",
        help: "\
Run from your pristine copy of the handout (the template). SUBMISSIONS_DIR
holds one clone per student; each is graded with the template's tests and
grader (only its exercise files are taken), by a grader process of its own,
so a submission that does not compile, hangs, crashes or deletes its tests
gets its row and the batch goes on. A line per submission shows progress.

--at DEADLINE grades each clone at its last commit before DEADLINE (any date
git understands, e.g. '2026-12-01 23:59'), and names that commit. It trusts
commit dates, which students set (git commit --date): for a deadline that
holds, check out each clone yourself at the commit that reached your host
in time (the hosting service's push events or tag times), then grade
without --at. --csv FILE
writes a row per student: commit, points per exercise, total, maximum, and a
status with its reason (printed to stdout without --csv). --feedback DIR
writes STUDENT.md for each: what passed, what failed and why, and the hint.
--submission-timeout SECS bounds one submission's grading (default 1800);
then its grader, builds and tests are killed and its row says so. As root,
SUBMISSIONS_DIR must be private (chmod 700): tests run as other users.
Example: cargo xtask grade-all ../class --template . --csv grades.csv",
        run: instructor::cmd_grade_all,
    },
    Command {
        audience: Audience::Instructor,
        name: "gradescope",
        summary: "write a Gradescope autograder package to DIR",
        help: "\
Writes DIR (new or empty): autograder.zip to upload to Gradescope, and what it
holds: setup.sh (installs the pinned toolchain and builds everything once),
run_autograder (grades /autograder/submission's exercise files with the
pristine handout in /autograder/source and writes results/results.json), and
workbook/, that handout. `grade --format gradescope` writes the same JSON
anywhere.",
        run: instructor::cmd_gradescope,
    },
    Command {
        audience: Audience::Instructor,
        name: "classroom50",
        summary: "write a Classroom 50 grader to DIR",
        help: "\
Writes DIR (new or empty): autograder.py for the assignment's configuration
repository, and workbook/, the pristine handout it grades with. Classroom 50
runs autograder.py in the student's checkout; it writes result.json
(classroom50/result/v1) and release-body.md, the summary shown with it.",
        run: instructor::cmd_classroom50,
    },
    Command {
        audience: Audience::Learner,
        name: "progress",
        summary: "which exercises you have solved, one line per lesson",
        help: "\
Builds each lesson's graded tests and shows, one line per lesson, which
exercises pass (# solved, . to do), the next one to do, and the total. A
lesson whose graded tests did not change since the last run keeps that run's
results; only the others are graded again. Exits 1 until every exercise
passes. `cargo xtask hint LESSON` then gives a nudge for the next one.",
        run: progress::cmd_progress,
    },
    Command {
        audience: Audience::Learner,
        name: "hint",
        summary: "the hint for your next unsolved exercise",
        help: "\
Grades LESSON's exercises and prints the hint of the first one that does not
pass yet, from its doc comment: a nudge, never the solution. Name EXERCISE
(its function, e.g. store_at, or its number, e.g. 3.2) for that one's hint.",
        run: progress::cmd_hint,
    },
    Command {
        audience: Audience::Author,
        name: "handout",
        summary: "write the student copy to DIR",
        help: "\
Copies the files git tracks to DIR (new or empty, outside the workbook), with
every solution region replaced by its stub, a README for students, a manifest
of the graded tests and files (.workbook/manifest), and a GitHub workflow that
grades each push and needs no service. --lessons a,b hands out only those
lessons (by name or number), with their chapters; the maximum follows.
The copy appears whole or not at all.",
        run: handout::cmd_handout,
    },
    Command {
        audience: Audience::Author,
        name: "new-lesson",
        summary: "scaffold the next lesson, ready to fill",
        help: "\
Writes lessons/NN-NAME/ (NN: the next number) in the one lesson shape: the
crate, whose description is QUESTION; a walkthrough with one step; its story
snapshot; tests (walkthrough, bad input, hostile, interrupt, graded); two
exercises; and book/src/NN-NAME.md, listed in SUMMARY.md. Then runs the
new crate's tests as CI does. NAME is kebab-case (page-cache). Nothing is
left behind on failure.
Example: cargo xtask new-lesson page-cache \"What does the page cache keep?\"",
        run: new_lesson::cmd_new_lesson,
    },
    Command {
        audience: Audience::Instructor,
        name: "verify",
        summary: "prove the grader honest",
        help: "\
Checks that every graded test passes on the reference solutions (full marks,
each test run alone as a student's is), then writes a handout to a temporary
directory and checks that it is clean under clippy -D warnings, that every
graded test fails there (score 0), and that stubs which loop forever or fake
libtest's verdict and exit also score 0.",
        run: instructor::cmd_verify,
    },
    Command {
        audience: Audience::Author,
        name: "timings",
        summary: "time each lesson's walkthrough",
        help: "\
Builds every lesson (release profile) and runs each walkthrough RUNS times
(default 20) with its output discarded, then prints the median and the
slowest run. This is how the run times in the README were measured.",
        run: cmd_timings,
    },
    Command {
        audience: Audience::Learner,
        name: "book",
        summary: "serve (default), build or check the book in a browser",
        help: "\
Builds the book into target/book with mdBook's library (nothing to install),
then serves it on 127.0.0.1 (default port 3000) under its site path. Saving
a chapter or a lesson's file rebuilds it, and the open pages reload.

--check opens every page in headless Chromium (Debian: apt-get install
chromium; or set CHROMIUM) at a 1280-pixel window and fails on: a status
other than 200, a console error or dialog, an unresolved {{# directive, an
ANCHOR line or an empty code block (an include's anchor missing), an image
that does not load, a link to a missing page or anchor, a code block
wider than a lesson chapter's column, or a search for SIGBUS that misses the
sigbus chapter. Failing pages are saved as screenshots in target/book-check/;
--screenshots DIR saves every page there instead.",
        run: book::cmd_book,
    },
];

/// The instructor's commands, or, in a learner's copy, a clear refusal.
#[cfg(feature = "instructor")]
mod instructor {
    pub use crate::class::cmd_grade_all;
    pub use crate::platforms::{cmd_classroom50, cmd_gradescope};
    pub use crate::verify::cmd_verify;
}

#[cfg(not(feature = "instructor"))]
mod instructor {
    use std::ffi::OsString;
    use std::process::ExitCode;

    fn left_out() -> crate::Result<ExitCode> {
        Err(
            "this is a learner's copy (cargo xtask init): it has no instructor's \
             commands. Run this in the original workbook."
                .into(),
        )
    }
    pub fn cmd_grade_all(_: Vec<OsString>) -> crate::Result<ExitCode> {
        left_out()
    }
    pub fn cmd_gradescope(_: Vec<OsString>) -> crate::Result<ExitCode> {
        left_out()
    }
    pub fn cmd_classroom50(_: Vec<OsString>) -> crate::Result<ExitCode> {
        left_out()
    }
    pub fn cmd_verify(_: Vec<OsString>) -> crate::Result<ExitCode> {
        left_out()
    }
}

/// The commands this build offers: without the `instructor` feature (a
/// learner's copy), the instructor's commands are not there, nor the two
/// that copy a workbook holding solutions (`init`, `handout`).
fn offered() -> impl Iterator<Item = &'static Command> {
    COMMANDS
        .iter()
        .filter(|c| is_offered(c, cfg!(feature = "instructor")))
}

/// True when a build with (or without) the `instructor` feature offers `c`.
fn is_offered(c: &Command, instructor: bool) -> bool {
    instructor || (c.audience != Audience::Instructor && !matches!(c.name, "init" | "handout"))
}

/// Why a learner's copy (`instructor` off) refuses `name`, a command of the
/// original workbook: the README's steps, followed in the copy, say `init`.
fn left_out_of_copy(name: &str, instructor: bool) -> Option<String> {
    let command = COMMANDS.iter().find(|c| c.name == name)?;
    if is_offered(command, instructor) {
        return None;
    }
    Some(if name == "init" {
        "this is already your own copy of the workbook, made by init: work here \
         (cargo xtask watch). For a fresh copy, run init in the original workbook."
            .to_owned()
    } else {
        format!(
            "'{name}' is not part of a learner's copy (made by cargo xtask init); \
             run it in the original workbook."
        )
    })
}

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let Some(first) = args.first().cloned() else {
        print_usage();
        return ExitCode::from(2);
    };
    let name = first.to_string_lossy();
    if matches!(&*name, "-h" | "--help" | "help") {
        print_usage();
        return ExitCode::SUCCESS;
    }
    if let Some(why) = left_out_of_copy(&name, cfg!(feature = "instructor")) {
        crate::note!("{}", wrap(&format!("error: {why}"), COLUMNS, ""));
        return ExitCode::from(2);
    }
    let Some(command) = offered().find(|c| c.name == name) else {
        let names: Vec<&str> = offered().map(|c| c.name).collect();
        let hint =
            closest(&name, &names).map_or(String::new(), |c| format!(" Did you mean '{c}'?"));
        let listing = wrap(
            &format!(
                "Commands: {}. Run `cargo xtask --help` for more.",
                names.join(", ")
            ),
            COLUMNS,
            "",
        );
        crate::note!("error: unknown command '{name}'.{hint}\n{listing}");
        return ExitCode::from(2);
    };
    args.remove(0);
    // Each command reads its arguments with clap (`args::parse`), `--help`
    // included; an error comes back here.
    match (command.run)(args) {
        Ok(code) => code,
        Err(message) => {
            // One line, unwrapped: scripts (the Gradescope runner, CI) read
            // the reason from the `error:` line; a terminal wraps it.
            crate::note!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn print_usage() {
    say!("cargo xtask COMMAND [ARGS]");
    for (audience, heading) in [
        (Audience::Learner, "Learning"),
        (Audience::Author, "Writing lessons and handing out"),
        (Audience::Instructor, "Grading a class"),
    ] {
        let mut commands = offered().filter(|c| c.audience == audience).peekable();
        if commands.peek().is_some() {
            say!("\n{heading}:");
        }
        for c in commands {
            say!("  {:<12} {}", c.name, c.summary);
        }
    }
    say!("\nEvery command takes --help. Start with: cargo xtask run-lesson 1");
}

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

/// Where cargo puts what it builds for the workbook at `root`.
pub fn target_dir(root: &std::path::Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Before a build that may be the first: unless `built_before` exists,
/// says on stderr what is being built and roughly how long the first build
/// takes, so that nobody takes a silent compiler for a hung command. Cargo's
/// own progress follows. `book` calls it too (`target/book` as the mark).
pub fn announce_first_build(built_before: &std::path::Path, what: &str, first_time: &str) {
    if !built_before.exists() {
        crate::note!(
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
/// is now in `CARGO_MANIFEST_DIR`; run any other way, cargo is asked for
/// the workspace around the current directory.
fn workspace_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) {
        let is_xtask = std::fs::read_to_string(dir.join("Cargo.toml"))
            .is_ok_and(|m| m.lines().any(|l| l.trim() == "name = \"xtask\""));
        if let Some(root) = dir.parent().filter(|_| is_xtask) {
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
fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A command for that cargo.
fn cargo() -> std::process::Command {
    std::process::Command::new(cargo_program())
}

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    lessons::closest(word, candidates)
}

/// Fails when a command that takes no arguments is given some; false when
/// they asked for `--help`, which was printed.
fn no_arguments(command: &'static str, args: Vec<OsString>) -> Result<bool> {
    Ok(args::parse::<args::NoArguments>(command, args)?.is_some())
}

fn cmd_list(args: Vec<OsString>) -> Result<ExitCode> {
    if !no_arguments("list", args)? {
        return Ok(ExitCode::SUCCESS);
    }
    let all = lessons::discover(&workspace_root()?)?;
    let width = all.iter().map(|l| l.name.len()).max().unwrap_or(0);
    let indent = " ".repeat(4 + width + 2);
    for lesson in all {
        let question = wrap(&lesson.question, COLUMNS - indent.len(), "");
        say!(
            "{:02}  {:<width$}  {}",
            lesson.number,
            lesson.name,
            question.replace('\n', &format!("\n{indent}"))
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `run-lesson`: builds the lesson with cargo (its progress shown), then
/// becomes the lesson's program (exec), so that the lesson's exit, its
/// death by SIGPIPE under `| head` included, is the command's own.
fn cmd_run_lesson(args: Vec<OsString>) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    /// `run-lesson NAME|NUMBER [-- ARGS]`.
    #[derive(Debug, clap::Parser)]
    struct RunLesson {
        /// The lesson: its name (file-mapping) or number (1 or 01).
        #[arg(value_name = "NAME|NUMBER")]
        lesson: Option<String>,
        /// Passed to the lesson's program (after --).
        #[arg(last = true, value_name = "ARGS")]
        passed: Vec<OsString>,
    }
    let Some(RunLesson { lesson, passed }) = args::parse("run-lesson", args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let Some(wanted) = lesson else {
        return Err(
            "which lesson? Name one, for example: cargo xtask run-lesson file-mapping \
                    (cargo xtask list shows them all)"
                .into(),
        );
    };
    let root = workspace_root()?;
    let lesson = lessons::find(&root, &wanted)?;
    let program = build_lesson(&root, &lesson.name)?;
    let error = std::process::Command::new(&program).args(passed).exec();
    Err(format!("cannot run {}: {error}", program.display()))
}

/// Builds the lesson `name`'s program (cargo's progress on stderr) and
/// returns its path, as cargo reported it.
fn build_lesson(root: &std::path::Path, name: &str) -> Result<PathBuf> {
    announce_first_build(
        &target_dir(root).join("debug").join(name),
        &format!("the lesson {name} and what it uses"),
        "seconds once xtask is built (up to a minute on a slow machine)",
    );
    let mut build = cargo()
        .args([
            "build",
            "--message-format=json-render-diagnostics",
            "--package",
            name,
            "--bin",
            name,
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    let mut messages = String::new();
    if let Some(mut stdout) = build.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut messages)
            .map_err(|e| format!("cannot read cargo's messages: {e}"))?;
    }
    let status = build
        .wait()
        .map_err(|e| format!("cannot wait for cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "the lesson {name} did not build (cargo's errors are above)"
        ));
    }
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| {
            m.get("reason").and_then(serde_json::Value::as_str) == Some("compiler-artifact")
        })
        .filter(|m| {
            m.get("target")
                .and_then(|t| t.get("name"))
                .and_then(serde_json::Value::as_str)
                == Some(name)
        })
        .find_map(|m| {
            m.get("executable")
                .and_then(serde_json::Value::as_str)
                .map(PathBuf::from)
        })
        .ok_or_else(|| format!("cargo built {name} but named no program to run"))
}

fn cmd_timings(args: Vec<OsString>) -> Result<ExitCode> {
    /// `timings [RUNS]`.
    #[derive(Debug, clap::Parser)]
    struct Timings {
        /// How many times each walkthrough runs (default 20).
        #[arg(value_parser = args::positive)]
        runs: Option<u64>,
    }
    let Some(Timings { runs }) = args::parse("timings", args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let runs = usize::try_from(runs.unwrap_or(20)).map_err(|e| e.to_string())?;
    let root = workspace_root()?;
    let lessons = lessons::discover(&root)?;
    let mut build = cargo();
    build
        .args(["build", "--quiet", "--release", "--manifest-path"])
        .arg(root.join("Cargo.toml"));
    for lesson in &lessons {
        build.args(["--package", &lesson.name]);
    }
    if !build
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?
        .success()
    {
        return Err("the lessons did not build".into());
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let scratch = std::env::temp_dir();
    say!(
        "{:<20} {:>10} {:>10}   ({runs} runs each, release build)",
        "lesson",
        "median",
        "slowest"
    );
    for lesson in &lessons {
        let binary = target.join("release").join(&lesson.name);
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = std::time::Instant::now();
            let status = std::process::Command::new(&binary)
                .current_dir(&scratch)
                .stdout(std::process::Stdio::null())
                .status()
                .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
            times.push(started.elapsed());
            if !status.success() {
                return Err(format!(
                    "{} {}",
                    lesson.name,
                    support::ChildOutcome::from(status)
                ));
            }
        }
        times.sort();
        let ms = |d: std::time::Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        say!(
            "{:<20} {:>10} {:>10}",
            lesson.name,
            ms(times[runs / 2]),
            ms(times[runs - 1])
        );
    }
    Ok(ExitCode::SUCCESS)
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

    #[test]
    fn a_learners_copy_explains_the_commands_it_leaves_out() {
        let init = left_out_of_copy("init", false).unwrap();
        assert!(init.contains("already your own copy"), "{init}");
        let verify = left_out_of_copy("grade-all", false).unwrap();
        assert!(verify.contains("original workbook"), "{verify}");
        assert!(left_out_of_copy("handout", false).is_some());
        for offered in ["watch", "progress", "hint", "grade", "list", "book"] {
            assert_eq!(left_out_of_copy(offered, false), None, "{offered}");
        }
        assert_eq!(left_out_of_copy("init", true), None);
        assert_eq!(left_out_of_copy("no-such-command", false), None);
    }

    #[test]
    fn the_usage_fits_80_columns() {
        // (Each command's --help, made by clap, is wrapped at 80 columns:
        // args.rs and the learner test check it.)
        for c in COMMANDS {
            assert!(2 + 12 + 1 + c.summary.len() <= COLUMNS, "{}", c.name);
            for line in c.help.lines() {
                assert!(line.chars().count() <= COLUMNS, "{}: {line}", c.name);
            }
        }
    }
}
