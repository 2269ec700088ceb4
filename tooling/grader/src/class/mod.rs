//! `cargo xtask grade-all`: grade a class's submissions, one clone each,
//! against the template's pristine tests.
//!
//! Each submission is graded by a separate grader process (this program,
//! `grade --template`), so a submission that kills its grader, or anything
//! else that goes wrong with one, costs that row only: the batch goes on.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use test_support::layout::exercises::Exercise;
use test_support::layout::{self as lessons, EXERCISES, Lesson};
use tooling::grade::{self, GradedTest, TestResult, Verdict};
use tooling::{Result, workspace_root};

/// The most one submission's grading may take, builds included.
const SUBMISSION_LIMIT: Duration = Duration::from_secs(30 * 60);

struct Options {
    submissions: PathBuf,
    template: PathBuf,
    at: Option<String>,
    csv: Option<PathBuf>,
    feedback: Option<PathBuf>,
    timeout: Option<String>,
    jobs: Option<String>,
    /// The most one submission's grading may take.
    limit: Duration,
}

/// `grade-all`'s command line (clap); `None` when `--help` was printed.
fn parse_options(args: &[OsString]) -> Result<Option<Options>> {
    /// `grade-all SUBMISSIONS_DIR --template DIR [--at DEADLINE] [--csv FILE]
    /// [--feedback DIR] [--timeout SECS] [--jobs N] [--submission-timeout SECS]`.
    #[derive(Debug, clap::Parser)]
    struct GradeAll {
        /// One clone per student.
        #[arg(value_name = "SUBMISSIONS_DIR")]
        submissions: Option<PathBuf>,
        /// Your pristine copy of the handout: run from it (--template .).
        #[arg(long, value_name = "DIR")]
        template: Option<PathBuf>,
        /// Grade each clone at its last commit before DEADLINE.
        #[arg(long, value_name = "DEADLINE")]
        at: Option<String>,
        /// Write the rows to FILE (else to stdout).
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Write STUDENT.md for each student in DIR.
        #[arg(long, value_name = "DIR")]
        feedback: Option<PathBuf>,
        /// Seconds each test may take (grade's --timeout).
        #[arg(long, value_name = "SECS")]
        timeout: Option<String>,
        /// How many tests run at once (grade's --jobs).
        #[arg(long, value_name = "N")]
        jobs: Option<String>,
        /// Seconds one submission's grading may take, 1 to 86400 (default 1800).
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=24 * 3600))]
        submission_timeout: Option<u64>,
    }
    let Some(parsed) = tooling::args::parse::<GradeAll>("grade-all", args.to_vec())? else {
        return Ok(None);
    };
    Ok(Some(Options {
        submissions: parsed.submissions.ok_or(
            "grade-all needs the directory of submissions (one clone per student): \
             cargo xtask grade-all SUBMISSIONS_DIR --template DIR",
        )?,
        template: parsed.template.ok_or(
            "grade-all needs --template DIR, your pristine copy of the handout: \
             every submission is graded with its tests",
        )?,
        at: parsed.at,
        csv: parsed.csv,
        feedback: parsed.feedback,
        timeout: parsed.timeout,
        jobs: parsed.jobs,
        limit: parsed
            .submission_timeout
            .map_or(SUBMISSION_LIMIT, Duration::from_secs),
    }))
}

/// One row of the class's results.
#[derive(Debug)]
pub struct Row {
    pub student: String,
    pub commit: String,
    pub results: Vec<TestResult>,
    /// "graded" (every test ran), "partly-graded" (some lessons could not
    /// run), "did-not-run" (none could), "environment-error" (the grading
    /// machine could not run tests: no score), or what kept the submission
    /// from being graded at all ("error", "no-commit").
    pub status: String,
    pub reason: String,
}

/// The status of a row the grading machine could not grade: not a score.
const ENVIRONMENT_ERROR: &str = "environment-error";

pub fn cmd_grade_all(args: Vec<OsString>) -> Result<ExitCode> {
    let Some(options) = parse_options(&args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let root = workspace_root()?;
    let template = fs::canonicalize(&options.template)
        .map_err(|e| format!("--template {}: {e}", options.template.display()))?;
    if template != root {
        return Err(format!(
            "run grade-all from the template itself, so that its own grader grades the \
             class: cd {} && cargo xtask grade-all ... --template .",
            template.display()
        ));
    }
    let submissions = fs::canonicalize(&options.submissions)
        .map_err(|e| format!("{}: {e}", options.submissions.display()))?;
    let mut students: Vec<PathBuf> = fs::read_dir(&submissions)
        .map_err(|e| format!("cannot read {}: {e}", submissions.display()))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    students.sort();
    if students.is_empty() {
        return Err(format!(
            "{} holds no submissions: it should hold one directory (a clone) per student",
            submissions.display()
        ));
    }
    // As root each test runs as a throwaway user, who must not be able to
    // read the classmates' submissions (reaching one takes only the right to
    // pass through every directory on the way; the class is named on this
    // command line, readable in /proc).
    if let Some(dir) = &options.feedback {
        // New, it is private: only this user may read the feedback.
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    // (The CSV and the feedback are written 0600, in a new folder 0700.)
    if nix::unistd::geteuid().is_root() && test_support::reach::reachable_by_others(&submissions) {
        return Err(format!(
            "{} can be reached by every user, so a student's tests (run as a throwaway user) \
             could read the other submissions in it. Make it private, then grade again: \
             chmod 700 {}",
            submissions.display(),
            submissions.display()
        ));
    }
    // Each grader and whatever it started, even what escaped its session,
    // is ours to kill when we give up on it.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    // A machine that cannot run tests grades no one: one line, exit code 2,
    // and no column of zeros. (Should it break halfway, the submissions it
    // could not grade are recorded as "environment-error", never as 0.)
    grade::check_environment()?;
    let all = lessons::discover(&template)?;
    let tests = grade::tests_of(&all)?;
    let exercises = grade::all_exercises(&template);
    // Each submission's private copy (its exercise files, from the working
    // tree or the commit before --at), outside the template (whose grading
    // area is cleared before every submission), in a directory only this
    // user can enter: no other student's tests can read it.
    let staging = tempfile::Builder::new()
        .prefix("workbook-class-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let mut rows = Vec::new();
    let count = students.len();
    for (index, dir) in students.iter().enumerate() {
        let started = Instant::now();
        let place = staging.path().join((index + 1).to_string());
        let row = grade_one(dir, &template, &all, &tests, &place, &options);
        let _ = fs::remove_dir_all(&place);
        let (score, max) = grade::totals(&row.results);
        let score = if row.status == ENVIRONMENT_ERROR {
            "-".to_owned()
        } else {
            score.to_string()
        };
        // A closed stderr must not stop the grading: the line is dropped.
        let _ = writeln!(
            std::io::stderr(),
            "[{}/{count}] {:<24} {score:>3}/{max:<3} {:<10} {:.1} s{}",
            index + 1,
            row.student,
            row.status,
            started.elapsed().as_secs_f64(),
            if row.reason.is_empty() {
                String::new()
            } else {
                format!("  ({})", first_line(&row.reason))
            }
        );
        if let Some(dir) = &options.feedback {
            let path = dir.join(format!("{}.md", row.student));
            let text = feedback(&row, &exercises);
            grade::write_atomically(&path, text.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        rows.push(row);
        // Rewritten after every submission: a batch stopped halfway keeps
        // the rows it has.
        if let Some(path) = &options.csv {
            grade::write_atomically(path, csv(&rows, &exercises).as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    if options.csv.is_none() {
        grade::emit(&csv(&rows, &exercises))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Grades the submission in `dir` from a private copy at `place`; never
/// fails, whatever it holds.
fn grade_one(
    dir: &Path,
    template: &Path,
    all: &[Lesson],
    tests: &[GradedTest],
    place: &Path,
    options: &Options,
) -> Row {
    let student = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ungraded = |commit: String, status: &str, reason: String| Row {
        student: student.clone(),
        commit,
        results: tests
            .iter()
            .map(|t| TestResult {
                test: t.clone(),
                verdict: Verdict::DidNotRun(reason.clone()),
                elapsed: Duration::ZERO,
            })
            .collect(),
        status: status.to_owned(),
        reason,
    };
    // Which files to grade: the working tree, or the last commit before --at.
    let (original, commit) = match &options.at {
        None => match crate::submission::find_workbook(dir) {
            Ok(workbook) => match crate::submission::copy_exercises(&workbook, all, place) {
                Ok(()) => (workbook, head_commit(dir)),
                Err(reason) => return ungraded(head_commit(dir), "error", reason),
            },
            Err(reason) => return ungraded(head_commit(dir), "error", reason),
        },
        Some(deadline) => match commit_before(dir, deadline) {
            Err(reason) => return ungraded(String::new(), "no-commit", reason),
            Ok(commit) => match extract_at(dir, &commit, all, place) {
                Ok(()) => (dir.to_owned(), commit),
                Err(reason) => return ungraded(commit, "error", reason),
            },
        },
    };
    let submission = place.to_owned();
    // The report goes to a directory only this process can write: a test
    // must not be able to plant one (and a normal exit is required too).
    let private = match tempfile::Builder::new()
        .prefix("workbook-report-")
        .tempdir()
    {
        Ok(dir) => dir,
        Err(e) => {
            return ungraded(
                commit,
                ENVIRONMENT_ERROR,
                format!("cannot create a directory for the report: {e}"),
            );
        }
    };
    let report = private.path().join("report.json");
    let mut command = Command::new(std::env::current_exe().unwrap_or_else(|_| "grader".into()));
    command
        .arg("grade")
        .arg("--template")
        .arg(template)
        .arg("--submission")
        .arg(&submission)
        .arg("--json")
        .arg(&report)
        .current_dir(template);
    if let Some(timeout) = &options.timeout {
        command.args(["--timeout", timeout]);
    }
    if let Some(jobs) = &options.jobs {
        command.args(["--jobs", jobs]);
    }
    let run = grade::session::output_in_session(&mut command, options.limit);
    let text = fs::read_to_string(&report).unwrap_or_default();
    drop(private);
    // `grade` exits 0 at full marks and 1 below; anything else means it did
    // not finish, whatever file may be there.
    let finished = run.as_ref().is_ok_and(|r| {
        matches!(
            r.outcome,
            support::ChildOutcome::Exited(0) | support::ChildOutcome::Exited(1)
        )
    });
    // The machine, not the submission, could not run tests: the grader
    // checked before any of the submission's code ran, said so in its report
    // and exited with 2. Not a score.
    let environment = run
        .as_ref()
        .is_ok_and(|r| r.outcome == support::ChildOutcome::Exited(2))
        .then(|| environment_problem(&text))
        .flatten();
    if let Some(problem) = environment {
        return ungraded(commit, ENVIRONMENT_ERROR, problem);
    }
    let report = if finished {
        read_report(&text, tests)
    } else {
        Err("the grader did not finish".into())
    };
    let results = match (run, report) {
        (_, Ok(results)) => results,
        (Ok(run), Err(_)) => {
            let last = run.stderr.lines().last().unwrap_or_default().to_owned();
            return ungraded(
                commit,
                "error",
                format!("the grader {}: {last}", run.outcome),
            );
        }
        (Err(e), Err(_)) => {
            return ungraded(commit, "error", format!("cannot start the grader: {e}"));
        }
    };
    // What the grader said of the copy, it says of the submission.
    let copy = place.display().to_string();
    let named = original.display().to_string();
    let results = results
        .into_iter()
        .map(|mut result| {
            result.verdict = match result.verdict {
                Verdict::DidNotRun(reason) => Verdict::DidNotRun(reason.replace(&copy, &named)),
                Verdict::Reported(status, message) => {
                    Verdict::Reported(status, message.replace(&copy, &named))
                }
                other => other,
            };
            result
        })
        .collect::<Vec<_>>();
    let (status, reason) = status_of(&results);
    Row {
        student,
        commit,
        results,
        status,
        reason,
    }
}

/// Reads a `grade --json` report (workbook format) back into results, in the
/// order of `tests`; a test the report lacks did not run.
pub fn read_report(text: &str, tests: &[GradedTest]) -> Result<Vec<TestResult>> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the report is not JSON: {e}"))?;
    let entries = value
        .get("tests")
        .and_then(serde_json::Value::as_array)
        .ok_or("the report has no tests")?;
    Ok(tests
        .iter()
        .map(|test| {
            let entry = entries.iter().find(|e| {
                e.get("lesson").and_then(serde_json::Value::as_str) == Some(&test.lesson)
                    && e.get("name").and_then(serde_json::Value::as_str) == Some(&test.name)
            });
            let text = |key: &str| {
                entry
                    .and_then(|e| e.get(key))
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let verdict = match (entry, text("verdict").as_str()) {
                (None, _) => Verdict::DidNotRun("the grader did not report this test".into()),
                (Some(_), "passed") => Verdict::Passed,
                (Some(_), status) => Verdict::Reported(status.to_owned(), text("message")),
            };
            TestResult {
                test: test.clone(),
                verdict,
                elapsed: Duration::ZERO,
            }
        })
        .collect())
}

/// The message of a report that says the grading machine could not run
/// tests (`status` `environment-error`), if `text` is one.
fn environment_problem(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    (value.get("status").and_then(serde_json::Value::as_str) == Some(ENVIRONMENT_ERROR)).then(
        || {
            value
                .get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("the grading machine cannot run tests")
                .to_owned()
        },
    )
}

/// The lessons of `results`, in order.
fn lessons_of(results: &[TestResult]) -> Vec<&str> {
    let mut lessons: Vec<&str> = Vec::new();
    for result in results {
        if !lessons.contains(&result.test.lesson.as_str()) {
            lessons.push(&result.test.lesson);
        }
    }
    lessons
}

/// One lesson's status: "graded" when every test ended passed or failed;
/// else the first thing that went wrong ("did-not-compile", "did-not-run",
/// "timed-out", "crashed", "exited-early"), with the reason in words.
pub fn lesson_status(results: &[TestResult], lesson: &str) -> (String, String) {
    for result in results.iter().filter(|r| r.test.lesson == lesson) {
        let name = format!("{}::{}", result.test.lesson, result.test.name);
        let (status, message) = match &result.verdict {
            Verdict::Passed | Verdict::Failed(_) => continue,
            Verdict::Reported(status, _) if status == "failed" => continue,
            Verdict::Reported(status, message) => (status.as_str(), message.clone()),
            other => (other.status(), other.to_string()),
        };
        return match status {
            "did-not-run" if message.contains("does not compile") => (
                "did-not-compile".into(),
                format!("{lesson} does not compile"),
            ),
            "did-not-run" => (
                status.into(),
                format!("{lesson}: {}", message.trim_start_matches("did not run: ")),
            ),
            "timed-out" => (
                status.into(),
                format!(
                    "test {name} {}",
                    message.split(" (").next().unwrap_or_default()
                ),
            ),
            "exited-early" => (
                status.into(),
                format!("test {name} exited before its checks finished"),
            ),
            _ => (status.into(), format!("test {name}: {message}")),
        };
    }
    ("graded".into(), String::new())
}

/// The row's status, from its lessons': "graded" when every test ran (a
/// test that timed out or crashed ran, and that is its verdict), else
/// "partly-graded" or, when no test ran, "did-not-run". The reason names
/// every lesson that is not "graded", so one broken lesson does not hide
/// the others.
fn status_of(results: &[TestResult]) -> (String, String) {
    let problems: Vec<(String, String)> = lessons_of(results)
        .into_iter()
        .map(|lesson| lesson_status(results, lesson))
        .filter(|(status, _)| status != "graded")
        .collect();
    let ran = |r: &&TestResult| r.verdict.status() != "did-not-run";
    let ran_count = results.iter().filter(ran).count();
    let status = if ran_count == results.len() {
        "graded"
    } else if ran_count > 0 {
        "partly-graded"
    } else {
        "did-not-run"
    };
    let reasons: Vec<String> = problems.into_iter().map(|(_, reason)| reason).collect();
    (status.into(), reasons.join("; "))
}

/// The CSV: a row per submission, a column per exercise.
pub fn csv(rows: &[Row], exercises: &[Exercise]) -> String {
    let mut out = String::from("student,commit");
    for exercise in exercises {
        let _ = write!(out, ",{}::{}", exercise.lesson, exercise.function);
    }
    out.push_str(",other,total,max,status,reason");
    let lessons: Vec<&str> = {
        let mut names: Vec<&str> = Vec::new();
        for exercise in exercises {
            if !names.contains(&exercise.lesson.as_str()) {
                names.push(&exercise.lesson);
            }
        }
        names
    };
    for lesson in &lessons {
        let _ = write!(out, ",status:{lesson}");
    }
    out.push('\n');
    for row in rows {
        let (score, max) = grade::totals(&row.results);
        let _ = write!(out, "{},{}", field(&row.student), field(&row.commit));
        if row.status == ENVIRONMENT_ERROR {
            // Not a score: every points field stays empty.
            let _ = write!(out, "{}", ",".repeat(exercises.len() + 2));
            let _ = write!(
                out,
                ",{max},{ENVIRONMENT_ERROR},{}",
                field(&first_line(&row.reason))
            );
            for _ in &lessons {
                let _ = write!(out, ",{ENVIRONMENT_ERROR}");
            }
            out.push('\n');
            continue;
        }
        let mut counted = 0;
        for exercise in exercises {
            let points: u32 = row
                .results
                .iter()
                .filter(|r| {
                    r.test.lesson == exercise.lesson && exercise.tests.contains(&r.test.name)
                })
                .map(TestResult::score)
                .sum();
            counted += points;
            let _ = write!(out, ",{points}");
        }
        let _ = write!(
            out,
            ",{},{score},{max},{},{}",
            score - counted,
            field(&row.status),
            field(&first_line(&row.reason))
        );
        for lesson in &lessons {
            let status = if matches!(row.status.as_str(), "error" | "no-commit") {
                row.status.clone()
            } else {
                lesson_status(&row.results, lesson).0
            };
            let _ = write!(out, ",{}", field(&status));
        }
        out.push('\n');
    }
    out
}

/// A CSV field, quoted when it needs to be; a leading `=`, `+`, `-`, `@`,
/// tab or carriage return is escaped so that a spreadsheet never runs a
/// student's text as a formula (OWASP's list for CSV injection).
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

/// A student's feedback: what passed, what failed and why, and the hint.
fn feedback(row: &Row, exercises: &[Exercise]) -> String {
    if row.status == ENVIRONMENT_ERROR {
        return format!(
            "# Feedback for {}\n\nNot graded yet: the grading machine could not run tests \
             ({}). This is not a score; your instructor will grade it again.\n",
            row.student,
            first_line(&row.reason)
        );
    }
    let mut out = grade::markdown(
        &format!("Feedback for {}", row.student),
        &row.results,
        exercises,
    );
    let _ = write!(out, "\nGraded at commit `{}`.", row.commit);
    if !row.reason.is_empty() {
        let _ = write!(out, " Not every test ran to the end: {}.", row.reason);
    }
    out.push('\n');
    out
}

/// The commit checked out in `dir`, or nothing where it is not a git clone.
fn head_commit(dir: &Path) -> String {
    git(dir, &["rev-parse", "HEAD"]).unwrap_or_default()
}

/// The last commit of `dir`'s current branch made before `deadline`.
fn commit_before(dir: &Path, deadline: &str) -> std::result::Result<String, String> {
    let commit = git(
        dir,
        &[
            "rev-list",
            "-n",
            "1",
            "--first-parent",
            &format!("--before={deadline}"),
            "HEAD",
        ],
    )?;
    if commit.is_empty() {
        Err(format!("no commit before {deadline}"))
    } else {
        Ok(commit)
    }
}

/// Writes the exercise files of `commit` (regular files only) under `place`.
fn extract_at(
    dir: &Path,
    commit: &str,
    lessons: &[Lesson],
    place: &Path,
) -> std::result::Result<(), String> {
    let _ = fs::remove_dir_all(place);
    for lesson in lessons {
        let relative = format!("lessons/{}/{EXERCISES}", lesson.dir_name());
        let entry = git(dir, &["ls-tree", commit, "--", &relative])?;
        // "<mode> blob <hash>\t<path>"; a link (120000) is left out.
        let mode = entry.split_whitespace().next().unwrap_or_default();
        if mode != "100644" && mode != "100755" {
            continue;
        }
        let output = Command::new("git")
            .args(["cat-file", "blob", &format!("{commit}:{relative}")])
            .current_dir(dir)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        let target = place.join(&relative);
        fs::create_dir_all(target.parent().unwrap_or(place))
            .and_then(|()| fs::write(&target, &output.stdout))
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> std::result::Result<String, String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{} is not a git clone, or git {} failed: {}",
            dir.display(),
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests;
