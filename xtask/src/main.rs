//! `cargo xtask`: the workbook's one entry point for people.
//!
//! The learner's commands run here: `list`, `run-lesson`, `init`, `watch`,
//! `progress`, `hint`; they grade through the grading core
//! (`tooling::grade`), without the instructor's sandbox. The others are
//! other programs of the workspace, built on first use and run in this
//! one's place: `book` (the book's tooling, `tooling/book`) and the
//! instructor's and author's commands (the grader, `tooling/grader`).

mod init;
mod progress;
mod watch;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use support::say;
use test_support::layout as lessons;
use tooling::commands::{Audience, COMMANDS, Command, Run};
use tooling::{
    COLUMNS, Result, announce_first_build, args, cargo, closest, no_arguments, note, target_dir,
    workspace_root, wrap,
};

/// The commands that run in this program.
const RUNS: &[(&str, Run)] = &[
    ("list", cmd_list),
    ("run-lesson", cmd_run_lesson),
    ("init", init::cmd_init),
    ("watch", watch::cmd_watch),
    ("progress", progress::cmd_progress),
    ("hint", progress::cmd_hint),
];

/// Runs command `name` of another program of the workspace in this one's
/// place (exec): `book` in the book's tooling (`book`, or `book-check` for
/// `--check`, so that a reader never builds the browser check), every other
/// command in the grader. Cargo builds it first when it must (the first time, a minute or
/// so, with cargo's progress); its exit status and its signals are then the
/// command's own.
fn forward(name: &str, args: Vec<OsString>) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let check = args.iter().any(|a| a == "--check");
    let (package, program, what) = match name {
        "book" if check => (
            "workbook-book",
            "book-check",
            "the book's check (mdBook's library and a DevTools client)",
        ),
        "book" => (
            "workbook-book",
            "book",
            "the book's tooling (mdBook's library)",
        ),
        _ => ("workbook-grader", "grader", "the grader"),
    };
    let built = workspace_root().and_then(|root| {
        build_program(
            &root,
            package,
            program,
            what,
            "a minute or two on 2 cores",
            true,
        )
    });
    let error = match built {
        Ok(path) => {
            let error = std::process::Command::new(&path)
                .arg(name)
                .args(args)
                .exec();
            format!("cannot run {}: {error}", path.display())
        }
        Err(message) => message,
    };
    note!("error: {error}");
    ExitCode::from(2)
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
        note!("{}", wrap(&format!("error: {why}"), COLUMNS, ""));
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
        note!("error: unknown command '{name}'.{hint}\n{listing}");
        return ExitCode::from(2);
    };
    args.remove(0);
    // Each command reads its arguments with clap (`tooling::args`), `--help`
    // included; an error comes back here.
    let run = match RUNS.iter().find(|(n, _)| *n == command.name) {
        Some(&(_, run)) => run,
        None => return forward(command.name, args),
    };
    match run(args) {
        Ok(code) => code,
        Err(message) => {
            // One line, unwrapped: scripts (the Gradescope runner, CI) read
            // the reason from the `error:` line; a terminal wraps it.
            note!("error: {message}");
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
    build_program(
        root,
        name,
        name,
        &format!("the lesson {name}"),
        "seconds once xtask is built (up to a minute on a slow machine)",
        false,
    )
}

/// Builds program `bin` of `package` and returns its path, as cargo
/// reported it. The first time (no such program in the target yet) it says
/// what is built and roughly for how long (`first_time`), and cargo shows
/// its progress; after that too, unless `quiet_once_built` (a tool, whose
/// rebuilds are rare, keeps the command's output its own).
fn build_program(
    root: &std::path::Path,
    package: &str,
    bin: &str,
    what: &str,
    first_time: &str,
    quiet_once_built: bool,
) -> Result<PathBuf> {
    let built_before = target_dir(root).join("debug").join(bin);
    announce_first_build(
        &built_before,
        &format!("{what} and what it uses"),
        first_time,
    );
    let mut build = cargo();
    build.args(["build", "--message-format=json-render-diagnostics"]);
    if quiet_once_built && built_before.is_file() {
        build.arg("--quiet");
    }
    let mut build = build
        .args(["--package", package, "--bin", bin, "--manifest-path"])
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
        return Err(format!("{what} did not build (cargo's errors are above)"));
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
                == Some(bin)
        })
        .find_map(|m| {
            m.get("executable")
                .and_then(serde_json::Value::as_str)
                .map(PathBuf::from)
        })
        .ok_or_else(|| format!("cargo built {bin} but named no program to run"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
