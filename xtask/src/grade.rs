//! `cargo xtask grade`: run each lesson's graded tests and score them.
//!
//! A lesson's graded tests are `lessons/NN-name/tests/graded.rs`. Each
//! `#[test]` there carries its points on the line above it: `// points: N`.
//! The grader runs that test target with cargo, reads libtest's report, and
//! gives a test its points only if libtest says `ok`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::lessons::{self, Lesson};
use crate::{Result, cargo, workspace_root};

/// The most a lesson's graded tests may take, compilation included.
const LESSON_LIMIT: Duration = Duration::from_secs(600);

/// The graded tests' file, relative to a lesson's directory.
pub const GRADED_TESTS: &str = "tests/graded.rs";

#[derive(Debug, Clone)]
pub struct TestResult {
    pub lesson: String,
    pub test: String,
    pub points: u32,
    pub passed: bool,
    /// Whether libtest reported a verdict at all (false: it did not compile,
    /// timed out, or no test of that name ran).
    pub ran: bool,
    /// Why it failed: the panic message, or what stopped it from running.
    pub message: String,
}

impl TestResult {
    pub fn score(&self) -> u32 {
        if self.passed { self.points } else { 0 }
    }
}

pub fn cmd_grade(args: Vec<OsString>) -> Result<ExitCode> {
    let mut json: Option<PathBuf> = None;
    let mut only: Option<String> = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--json") => match args.next() {
                Some(path) => json = Some(path.into()),
                None => {
                    return Err(
                        "--json needs a file to write, for example: --json grade.json".into(),
                    );
                }
            },
            Some(flag) if flag.starts_with('-') => {
                return Err(format!(
                    "unknown flag '{flag}'. See: cargo xtask grade --help"
                ));
            }
            _ if only.is_none() => only = Some(arg.to_string_lossy().into_owned()),
            _ => {
                return Err("grade takes at most one lesson. See: cargo xtask grade --help".into());
            }
        }
    }
    let root = workspace_root();
    let chosen = match &only {
        Some(wanted) => vec![lessons::find(&root, wanted)?],
        None => lessons::discover(&root)?,
    };
    // Each test alone: a test whose code crashes the process (SIGBUS, say)
    // then costs its own points only.
    let results = grade_lessons(&root, &chosen, None, Isolation::EachAlone, &mut |line| {
        eprintln!("{line}")
    })?;
    print!("{}", table(&results));
    if let Some(path) = json {
        fs::write(&path, classroom_json(&results)).map_err(|e| {
            format!(
                "cannot write {}: {e}. Choose a writable path for --json.",
                path.display()
            )
        })?;
        eprintln!("Wrote the GitHub Classroom report to {}", path.display());
    }
    let (score, max) = totals(&results);
    Ok(if score == max {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// How the graded tests of a lesson are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// One `cargo test` for the lesson: what a learner runs.
    Together,
    /// One `cargo test --exact NAME` per test, so that each verdict is the
    /// test's own and not a side effect of another test in the same process.
    EachAlone,
}

/// Runs the graded tests of `chosen` (lessons of the workspace at `root`).
/// `target_dir` overrides cargo's target directory; `progress` hears what runs.
pub fn grade_lessons(
    root: &Path,
    chosen: &[Lesson],
    target_dir: Option<&Path>,
    isolation: Isolation,
    progress: &mut dyn FnMut(String),
) -> Result<Vec<TestResult>> {
    let mut results = Vec::new();
    for lesson in chosen {
        let graded = lesson.dir.join(GRADED_TESTS);
        let Ok(source) = fs::read_to_string(&graded) else {
            continue; // a lesson without exercises yet
        };
        let points = parse_points(&source).map_err(|e| format!("{}: {e}", graded.display()))?;
        progress(format!(
            "grading {:02} {} ({} tests)",
            lesson.number,
            lesson.name,
            points.len()
        ));
        match isolation {
            Isolation::Together => {
                let run = run_graded_tests(root, &lesson.name, target_dir, None)?;
                results.extend(score_lesson(&lesson.name, &points, &run)?);
            }
            Isolation::EachAlone => {
                for one in &points {
                    let run = run_graded_tests(root, &lesson.name, target_dir, Some(&one.0))?;
                    results.extend(score_lesson(&lesson.name, std::slice::from_ref(one), &run)?);
                }
            }
        }
    }
    if results.is_empty() {
        return Err("no lesson has graded tests (lessons/NN-name/tests/graded.rs)".into());
    }
    Ok(results)
}

/// What one `cargo test --test graded` printed.
pub struct GradedRun {
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

fn run_graded_tests(
    root: &Path,
    package: &str,
    target_dir: Option<&Path>,
    only: Option<&str>,
) -> Result<GradedRun> {
    let mut command = cargo();
    command
        .args([
            "test",
            "--package",
            package,
            "--test",
            "graded",
            "--no-fail-fast",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .args(["--", "--color", "never"])
        .args(only.map(|name| ["--exact", name]).into_iter().flatten())
        .current_dir(root)
        .env("RUST_BACKTRACE", "0")
        .env("CARGO_TERM_COLOR", "never");
    if let Some(dir) = target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    let captured = support::child::output_bounded(&mut command, LESSON_LIMIT)
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    Ok(GradedRun {
        stdout: captured.stdout,
        stderr: captured.stderr,
        timed_out: matches!(captured.outcome, support::ChildOutcome::TimedOut(_)),
    })
}

/// The `(test name, points)` pairs of a graded test file, in file order.
pub fn parse_points(source: &str) -> Result<Vec<(String, u32)>> {
    let mut found = Vec::new();
    let mut points: Option<u32> = None;
    let mut is_test = false;
    for (index, line) in source.lines().enumerate() {
        let line = line.trim();
        if let Some(value) = line.strip_prefix("// points:") {
            let value = value.trim();
            points = Some(value.parse().map_err(|_| {
                format!(
                    "line {}: '// points: {value}' is not a whole number of points",
                    index + 1
                )
            })?);
        } else if line == "#[test]" {
            is_test = true;
        } else if let Some(rest) = line.strip_prefix("fn ").filter(|_| is_test) {
            let name = rest.split('(').next().unwrap_or_default().trim().to_owned();
            let Some(value) = points.take() else {
                return Err(format!(
                    "line {}: graded test '{name}' has no '// points: N' line above its #[test]",
                    index + 1
                ));
            };
            found.push((name, value));
            is_test = false;
        } else if line.starts_with("fn ") {
            points = None;
        }
    }
    Ok(found)
}

/// libtest's verdicts (`test NAME ... ok`) and panic messages, by test name.
fn parse_libtest(stdout: &str) -> (HashMap<String, bool>, HashMap<String, String>) {
    let mut verdicts = HashMap::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("test ")
            && let Some((name, verdict)) = rest.rsplit_once(" ... ")
        {
            verdicts.insert(name.to_owned(), verdict.trim() == "ok");
        }
    }
    let mut messages = HashMap::new();
    let mut blocks = stdout.split("\n---- ").skip(1);
    for block in blocks.by_ref() {
        let Some((header, body)) = block.split_once('\n') else {
            continue;
        };
        let name = header.trim_end_matches(" stdout ----").trim();
        messages.insert(name.to_owned(), panic_message(body));
    }
    (verdicts, messages)
}

/// The panic message in a failed test's captured output, without the
/// `thread '...' panicked at` line and the backtrace note.
fn panic_message(body: &str) -> String {
    let mut lines = body.lines().skip_while(|l| !l.contains("panicked at"));
    lines.next();
    let message: Vec<&str> = lines
        .take_while(|l| !l.starts_with("note:") && !l.is_empty() && !l.starts_with("failures:"))
        .take(6)
        .collect();
    if message.is_empty() {
        "the test failed".to_owned()
    } else {
        message.join("\n")
    }
}

/// Scores one lesson's run against its points table.
pub fn score_lesson(
    lesson: &str,
    points: &[(String, u32)],
    run: &GradedRun,
) -> Result<Vec<TestResult>> {
    let (verdicts, messages) = parse_libtest(&run.stdout);
    if let Some(stray) = verdicts
        .keys()
        .find(|name| !points.iter().any(|(p, _)| p == *name))
    {
        return Err(format!(
            "{lesson}: graded test '{stray}' ran but has no points"
        ));
    }
    let killed = run.stderr.lines().find_map(|l| {
        let start = l.find("(signal: ")?;
        Some(format!("the test process was killed {}", &l[start..]))
    });
    let compile_error = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error"))
        .map(|l| {
            format!("did not compile: {l} (run `cargo test -p {lesson} --test graded` to see why)")
        });
    Ok(points
        .iter()
        .map(|(test, value)| {
            let verdict = verdicts.get(test).copied();
            let message = match verdict {
                Some(true) => String::new(),
                Some(false) => messages
                    .get(test)
                    .cloned()
                    .unwrap_or_else(|| "the test failed".into()),
                None if run.timed_out => {
                    format!("did not finish within {} s", LESSON_LIMIT.as_secs())
                }
                None => killed
                    .clone()
                    .or_else(|| compile_error.clone())
                    .unwrap_or_else(|| "the test did not run".into()),
            };
            TestResult {
                lesson: lesson.to_owned(),
                test: test.clone(),
                points: *value,
                passed: verdict == Some(true),
                ran: verdict.is_some(),
                message,
            }
        })
        .collect())
}

pub fn totals(results: &[TestResult]) -> (u32, u32) {
    (
        results.iter().map(TestResult::score).sum(),
        results.iter().map(|r| r.points).sum(),
    )
}

/// The human report: a table per lesson, then the score.
pub fn table(results: &[TestResult]) -> String {
    let mut out = String::new();
    let mut lesson = "";
    for result in results {
        if result.lesson != lesson {
            lesson = &result.lesson;
            let _ = writeln!(out, "\n{lesson}\n  result  points  test");
        }
        let verdict = if result.passed { "pass" } else { "FAIL" };
        let _ = writeln!(
            out,
            "  {verdict:<6}  {:>2}/{:<2}   {}",
            result.score(),
            result.points,
            result.test
        );
        for line in result.message.lines().take(3) {
            let _ = writeln!(out, "                  {line}");
        }
    }
    let (score, max) = totals(results);
    let _ = writeln!(out, "\nScore: {score}/{max}");
    out
}

/// GitHub Classroom's reporter format.
pub fn classroom_json(results: &[TestResult]) -> String {
    let (score, max) = totals(results);
    let status = |passed: bool| if passed { "pass" } else { "fail" };
    let tests: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{{\"name\":{},\"status\":\"{}\",\"score\":{},\"message\":{}}}",
                json_string(&format!("{}::{}", r.lesson, r.test)),
                status(r.passed),
                r.score(),
                json_string(&r.message)
            )
        })
        .collect();
    format!(
        "{{\"version\":1,\"status\":\"{}\",\"max_score\":{max},\"tests\":[{}]}}\n",
        status(score == max),
        tests.join(",")
    )
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRADED: &str = "\
// points: 2
#[test]
fn first() {}

fn helper() {}

// points: 3
#[test]
fn second() {}
";

    #[test]
    fn points_are_read_from_the_line_above_each_test() {
        assert_eq!(
            parse_points(GRADED).unwrap(),
            [("first".into(), 2), ("second".into(), 3)]
        );
    }

    #[test]
    fn a_test_without_points_is_an_authoring_error() {
        let error = parse_points("#[test]\nfn lonely() {}\n").unwrap_err();
        assert!(error.contains("'lonely' has no '// points: N'"), "{error}");
        assert!(parse_points("// points: many\n#[test]\nfn x() {}\n").is_err());
    }

    const LIBTEST: &str = "\
running 2 tests
test first ... ok
test second ... FAILED

failures:

---- second stdout ----

thread 'second' panicked at lessons/x/src/exercises.rs:9:5:
not yet implemented: write 3 values
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    second

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out
";

    fn run(stdout: &str, stderr: &str) -> GradedRun {
        GradedRun {
            stdout: stdout.into(),
            stderr: stderr.into(),
            timed_out: false,
        }
    }

    #[test]
    fn libtest_verdicts_and_messages_become_scores() {
        let points = parse_points(GRADED).unwrap();
        let results = score_lesson("x", &points, &run(LIBTEST, "")).unwrap();
        assert!(results[0].passed && results[0].score() == 2);
        assert!(!results[1].passed && results[1].score() == 0);
        assert_eq!(results[1].message, "not yet implemented: write 3 values");
        assert_eq!(totals(&results), (2, 5));
        let table = table(&results);
        assert!(table.contains("FAIL     0/3    second"), "{table}");
        assert!(table.ends_with("Score: 2/5\n"), "{table}");
    }

    #[test]
    fn code_that_does_not_compile_fails_every_test() {
        let points = parse_points(GRADED).unwrap();
        let results =
            score_lesson("x", &points, &run("", "error[E0308]: mismatched types\n")).unwrap();
        assert!(results.iter().all(|r| !r.passed));
        assert!(
            results[0]
                .message
                .starts_with("did not compile: error[E0308]")
        );
    }

    #[test]
    fn a_test_process_killed_by_a_signal_says_so() {
        let points = vec![("first".to_owned(), 1)];
        let stderr = "error: test failed, to rerun pass `--test graded`\n\nCaused by:\n  process didn't \
                      exit successfully: `/t/graded-1 --exact first` (signal: 7, SIGBUS: access to undefined address)\n";
        let results = score_lesson("x", &points, &run("running 1 test\n", stderr)).unwrap();
        assert_eq!(
            results[0].message,
            "the test process was killed (signal: 7, SIGBUS: access to undefined address)"
        );
    }

    #[test]
    fn a_test_that_ran_without_points_is_an_error() {
        let points = vec![("first".to_owned(), 1)];
        assert!(score_lesson("x", &points, &run(LIBTEST, "")).is_err());
    }

    #[test]
    fn the_classroom_report_has_the_reporter_format() {
        let points = parse_points(GRADED).unwrap();
        let results = score_lesson("x", &points, &run(LIBTEST, "")).unwrap();
        assert_eq!(
            classroom_json(&results),
            "{\"version\":1,\"status\":\"fail\",\"max_score\":5,\"tests\":[\
             {\"name\":\"x::first\",\"status\":\"pass\",\"score\":2,\"message\":\"\"},\
             {\"name\":\"x::second\",\"status\":\"fail\",\"score\":0,\
             \"message\":\"not yet implemented: write 3 values\"}]}\n"
        );
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}
