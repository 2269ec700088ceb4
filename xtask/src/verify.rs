//! `cargo xtask verify`: prove the grader honest.
//!
//! 1. Every lesson with exercises is well formed: at least two stubs, and a
//!    graded test file whose every test carries points.
//! 2. On the reference solutions, every graded test passes: full marks.
//! 3. The handout is clean under `clippy -D warnings`, and on it every
//!    graded test fails, each one on its own: a score of 0.

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::grade::{self, GRADED_TESTS, Isolation, TestResult};
use crate::handout::{count_stubs, has_solutions, write_handout};
use crate::lessons::{self, Lesson};
use crate::{Result, cargo, no_arguments, workspace_root};

/// The exercise file a learner edits, relative to a lesson's directory.
pub const EXERCISES: &str = "src/exercises.rs";

/// Each lesson hands out at least this many exercises.
const MIN_EXERCISES: usize = 2;

pub fn cmd_verify(args: Vec<OsString>) -> Result<ExitCode> {
    no_arguments("verify", &args)?;
    let root = workspace_root();
    let all = lessons::discover(&root)?;
    let graded = check_content(&all)?;
    let target = root.join("target");

    println!(
        "verify 1/3: {} lessons have well-formed exercises",
        graded.len()
    );

    let mut progress = |line: String| println!("  {line}");
    let reference = grade::grade_lessons(&root, &graded, None, Isolation::Together, &mut progress)?;
    let (score, max) = grade::totals(&reference);
    let failing: Vec<&TestResult> = reference.iter().filter(|r| !r.passed).collect();
    if !failing.is_empty() {
        print!("{}", grade::table(&reference));
        return Err(format!(
            "the reference solutions score {score}/{max}: {} graded test(s) fail on them. \
             Fix the solution (or the test) until `cargo xtask grade` gives full marks.",
            failing.len()
        ));
    }
    println!("verify 2/3: the reference solutions score {score}/{max}");

    let scratch = target.join("xtask-verify");
    let _ = fs::remove_dir_all(&scratch);
    let handout = scratch.join("handout");
    let result = check_handout(&handout, &target, &graded, max);
    let _ = fs::remove_dir_all(&scratch);
    result?;
    println!("verify: the grader is honest");
    Ok(ExitCode::SUCCESS)
}

/// Checks each lesson's exercises and graded tests; returns the lessons that have them.
fn check_content(all: &[Lesson]) -> Result<Vec<Lesson>> {
    let mut problems = Vec::new();
    let mut graded = Vec::new();
    for lesson in all {
        let exercises = lesson.dir.join(EXERCISES);
        let tests = lesson.dir.join(GRADED_TESTS);
        let Ok(source) = fs::read_to_string(&exercises) else {
            problems.push(format!(
                "{}: missing; every lesson has exercises",
                exercises.display()
            ));
            continue;
        };
        if !has_solutions(&source) {
            return Err(format!(
                "{} has no solution regions: this looks like a student copy, and verify needs \
                 the reference solutions. Run verify in the instructor's repository.",
                exercises.display()
            ));
        }
        let stubs = count_stubs(&source);
        if stubs < MIN_EXERCISES {
            problems.push(format!(
                "{}: {stubs} stub(s); add exercises until there are at least {MIN_EXERCISES}, \
                 each with a '// STUB:' line above its '// SOLUTION BEGIN'",
                exercises.display()
            ));
        }
        match fs::read_to_string(&tests)
            .map_err(|e| e.to_string())
            .and_then(|s| grade::parse_points(&s))
        {
            Ok(points) if points.len() >= stubs => graded.push(lesson.clone()),
            Ok(points) => problems.push(format!(
                "{}: {} graded test(s) for {stubs} exercises; give every exercise a test",
                tests.display(),
                points.len()
            )),
            Err(e) => problems.push(format!("{}: {e}", tests.display())),
        }
    }
    if problems.is_empty() {
        Ok(graded)
    } else {
        Err(format!(
            "the exercises are not ready:\n  {}",
            problems.join("\n  ")
        ))
    }
}

fn check_handout(handout: &Path, target: &Path, graded: &[Lesson], max: u32) -> Result {
    let root = workspace_root();
    write_handout(&root, handout)?;
    // Build in the workspace's own target directory: the handout's lesson
    // crates get their own artifacts (their paths differ), and the compiled
    // dependencies are shared instead of built a second time.
    let clippy = support::child::output_bounded(
        cargo()
            .args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--quiet",
                "--manifest-path",
            ])
            .arg(handout.join("Cargo.toml"))
            .args(["--", "-D", "warnings"])
            .env("CARGO_TARGET_DIR", target),
        Duration::from_secs(900),
    )
    .map_err(|e| format!("cannot start cargo clippy: {e}"))?;
    if !clippy.outcome.is_success() {
        return Err(format!(
            "the handout is not clean under clippy -D warnings (clippy {}):\n{}\n\
             Make the stubs compile without warnings, for example by using every parameter \
             in the todo!() message.",
            clippy.outcome, clippy.stderr
        ));
    }
    println!("verify 3/3: the handout builds cleanly under clippy -D warnings");

    let in_handout: Vec<Lesson> = graded
        .iter()
        .map(|l| {
            let dir_name = l.dir.file_name().unwrap_or_default();
            Lesson {
                dir: handout.join("lessons").join(dir_name),
                ..l.clone()
            }
        })
        .collect();
    let mut progress = |line: String| println!("  {line} in the handout");
    let results = grade::grade_lessons(
        handout,
        &in_handout,
        Some(target),
        Isolation::EachAlone,
        &mut progress,
    )?;
    let (score, handout_max) = grade::totals(&results);
    let passing: Vec<String> = results
        .iter()
        .filter(|r| r.passed)
        .map(|r| format!("{}::{}", r.lesson, r.test))
        .collect();
    if !passing.is_empty() {
        return Err(format!(
            "on the handout's stubs these graded tests pass, so they give points for no work: {}. \
             Make each test call the exercise it grades and check its result.",
            passing.join(", ")
        ));
    }
    let silent: Vec<String> = results
        .iter()
        .filter(|r| !r.ran)
        .map(|r| format!("{}::{} ({})", r.lesson, r.test, r.message))
        .collect();
    if !silent.is_empty() {
        return Err(format!(
            "on the handout these graded tests did not run, so their failure proves nothing: {}",
            silent.join(", ")
        ));
    }
    if handout_max != max {
        return Err(format!(
            "the handout has {handout_max} points to win, the reference {max}"
        ));
    }
    for result in &results {
        let first = result.message.lines().next().unwrap_or_default();
        println!(
            "  fails as it should: {}::{} ({first})",
            result.lesson, result.test
        );
    }
    println!("verify 3/3: on the handout every graded test fails on its own: {score}/{max}");
    Ok(())
}
