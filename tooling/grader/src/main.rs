//! The instructor's grader: the trusted part of the workbook's tooling.
//!
//! `cargo xtask` hands these commands to this program (`grader NAME ARGS`):
//! `grade` (a tree, or a student's files against a template), `grade-all`,
//! `gradescope`, `classroom50`, `verify`, and the author's `handout`,
//! `new-lesson` and `timings`. It grades through the grading core
//! (`tooling::grade`) and adds what only it needs: the sandbox around code
//! it did not write ([`sandbox`], [`confine`], [`view`]) and the route that
//! lays a submission into a template ([`submission`]).

// The instructor's material, left out of a learner's copy (`cargo xtask
// init`), which builds this program with the `instructor` feature off.
#[cfg(feature = "instructor")]
mod class;
mod confine;
mod grade;
#[cfg(feature = "instructor")]
mod handout;
mod new_lesson;
#[cfg(feature = "instructor")]
mod platforms;
mod sandbox;
// Without `instructor`, grade-all's use of it is gone.
#[cfg_attr(not(feature = "instructor"), allow(dead_code))]
mod submission;
mod timings;
#[cfg(feature = "instructor")]
mod verify;
mod view;
#[cfg(feature = "instructor")]
mod zip;

use std::ffi::OsString;
use std::process::ExitCode;

use tooling::commands::Run;
use tooling::{COLUMNS, note, wrap};

/// The commands this program runs; their help is in `tooling::commands`.
const RUNS: &[(&str, Run)] = &[
    ("grade", grade::cmd_grade),
    #[cfg(feature = "instructor")]
    ("grade-all", class::cmd_grade_all),
    #[cfg(feature = "instructor")]
    ("gradescope", platforms::cmd_gradescope),
    #[cfg(feature = "instructor")]
    ("classroom50", platforms::cmd_classroom50),
    #[cfg(feature = "instructor")]
    ("verify", verify::cmd_verify),
    #[cfg(feature = "instructor")]
    ("handout", handout::cmd_handout),
    ("new-lesson", new_lesson::cmd_new_lesson),
    ("timings", timings::cmd_timings),
];

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let name = args.first().map(|a| a.to_string_lossy().into_owned());
    let Some(&(_, run)) = RUNS.iter().find(|(n, _)| Some(*n) == name.as_deref()) else {
        let names: Vec<&str> = RUNS.iter().map(|(n, _)| *n).collect();
        let said = wrap(
            &format!(
                "error: the grader runs {}; run it as `cargo xtask NAME` (cargo xtask \
                 --help lists every command)",
                names.join(", ")
            ),
            COLUMNS,
            "",
        );
        note!("{said}");
        return ExitCode::from(2);
    };
    args.remove(0);
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
