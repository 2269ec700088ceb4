//! Reporting a grade: the table people read, a Markdown summary, and the
//! JSON that machines read, in three shapes:
//!
//! - `workbook`: everything the grader knows (verdicts, messages, times);
//! - `gradescope`: Gradescope's `results.json`;
//! - `classroom50`: Classroom 50's `result.json` (`classroom50/result/v1`).

use std::fmt::Write as _;

use super::TestResult;
use serde::Serialize;
use test_support::layout::exercises::Exercise;

/// The JSON shapes `grade --format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Workbook,
    Gradescope,
    Classroom50,
}

impl Format {
    pub const NAMES: &'static str = "workbook, gradescope or classroom50";

    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "workbook" => Some(Format::Workbook),
            "gradescope" => Some(Format::Gradescope),
            "classroom50" => Some(Format::Classroom50),
            _ => None,
        }
    }

    pub fn render(self, results: &[TestResult], changed: &[String]) -> String {
        match self {
            Format::Workbook => workbook_json(results, changed),
            Format::Gradescope => gradescope_json(results, changed),
            Format::Classroom50 => {
                classroom50_json(results, &|name| std::env::var(name).unwrap_or_default())
            }
        }
    }
}

pub fn totals(results: &[TestResult]) -> (u32, u32) {
    (
        results.iter().map(TestResult::score).sum(),
        results.iter().map(|r| r.test.points).sum(),
    )
}

/// The widest line `grade` prints: an 80-column terminal.
pub const WIDTH: usize = 80;

/// Where a failure's message starts under its test in the table.
const MESSAGE_INDENT: usize = 15;

/// The most lines of one failure's message the table shows, once wrapped.
const MESSAGE_LINES: usize = 6;

/// The human report, within [`WIDTH`] columns: per lesson, its score and a
/// line per test, each failure's message under it (once, when every test of
/// the lesson failed for the same reason, as when it does not compile),
/// then the total.
pub fn table(results: &[TestResult]) -> String {
    let mut out = String::new();
    let mut lessons: Vec<&str> = Vec::new();
    for result in results {
        if !lessons.contains(&result.test.lesson.as_str()) {
            lessons.push(&result.test.lesson);
        }
    }
    let indent = " ".repeat(MESSAGE_INDENT);
    for lesson in lessons {
        let of_lesson: Vec<&TestResult> =
            results.iter().filter(|r| r.test.lesson == lesson).collect();
        let (score, max) = totals_of(&of_lesson);
        let _ = writeln!(out, "\n{}: {score}/{max}", fit(lesson, WIDTH - 12));
        let shared = shared_failure(&of_lesson);
        if let Some(message) = &shared {
            for line in wrap(message, WIDTH - 2) {
                let _ = writeln!(out, "  {line}");
            }
        }
        let mut previous = String::new();
        for result in of_lesson {
            let verdict = if result.verdict.passed() {
                "pass"
            } else {
                "FAIL"
            };
            let points = format!("{}/{}", result.score(), result.test.points);
            let _ = writeln!(
                out,
                "  {verdict}  {points:>5}  {}",
                fit(&result.test.name, WIDTH - MESSAGE_INDENT)
            );
            let text = message(result);
            // A reason why tests did not run is said once in a row of them;
            // a failure's own message under every test.
            let repeated = text == previous && result.verdict.status() == "did-not-run";
            if shared.is_none() && !text.is_empty() && !repeated {
                for line in wrap(&text, WIDTH - MESSAGE_INDENT) {
                    let _ = writeln!(out, "{indent}{line}");
                }
            }
            previous = text;
        }
    }
    let (score, max) = totals(results);
    let _ = writeln!(out, "\nScore: {score}/{max}");
    out
}

/// The score and maximum of some results.
fn totals_of(results: &[&TestResult]) -> (u32, u32) {
    (
        results.iter().map(|r| r.score()).sum(),
        results.iter().map(|r| r.test.points).sum(),
    )
}

/// The one reason every test of a lesson did not run (it does not compile,
/// its exercise file is missing), when there is one and more than one test.
fn shared_failure(results: &[&TestResult]) -> Option<String> {
    let first = results.first()?;
    // Read back from a report (grade-all), a verdict is `Reported`: compare
    // by status and words.
    let first_message = message(first);
    let all_same = results.len() > 1
        && results
            .iter()
            .all(|r| r.verdict.status() == "did-not-run" && message(r) == first_message);
    all_same.then_some(first_message)
}

/// A message's lines wrapped at spaces to `width` columns (a word longer
/// than that is cut), at most [`MESSAGE_LINES`] of them; `…` ends the last
/// one when there was more.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        // A line that fits is kept as it is (its alignment too).
        if line.chars().count() <= width {
            lines.push(line.to_owned());
            continue;
        }
        // A continued line keeps the indentation of its first.
        let indent: String = line.chars().take_while(|c| *c == ' ').collect();
        let mut current = indent.clone();
        let mut has_word = false;
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            if has_word && current.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::replace(&mut current, indent.clone()));
                has_word = false;
            }
            if has_word {
                current.push(' ');
            }
            current.push_str(word);
            has_word = true;
        }
        lines.push(current);
    }
    let more = lines.len() > MESSAGE_LINES;
    lines.truncate(MESSAGE_LINES);
    let mut lines: Vec<String> = lines.into_iter().map(|l| fit(&l, width)).collect();
    if more && let Some(last) = lines.last_mut() {
        *last = format!("{} …", fit(last, width - 2));
    }
    lines
}

/// `text` cut to `width` characters, with `…` where it was cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let kept: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

/// A message on one line: its lines trimmed and joined with " / ", cut to
/// `width` characters.
pub fn one_line(text: &str, width: usize) -> String {
    let joined: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    fit(&joined.join(" / "), width)
}

/// `println!` for xtask's commands, through the lessons' own output
/// ([`support::out`]): a reader that went away (`grade | head`) ends the
/// command quietly by SIGPIPE, like `cat`; any other failure (a full disk)
/// is one line and exit code 2, never a panic. Use as `outln!(...)?`.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::grade::emit(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes `text` to stdout as [`outln!`] does.
pub fn emit(text: &str) -> crate::Result {
    support::out::text(text);
    Ok(())
}

/// The report of a grading that could not start: the machine, not the
/// submission, is at fault (`grade-all` records `environment-error`).
pub fn environment_json(problem: &super::EnvironmentError) -> String {
    to_json(&WorkbookReport {
        schema: WORKBOOK_SCHEMA,
        status: "environment-error",
        message: Some(problem.to_string()),
        score: None,
        max_score: None,
        tests: Vec::new(),
        changed_graded_files: None,
    })
}

/// The schema `grade --json` names in its default shape.
const WORKBOOK_SCHEMA: &str = "mmap-workbook/grade/v1";

/// A report as one line of JSON text, ended by a newline.
fn to_json(report: &impl Serialize) -> String {
    // Serialising plain structs of strings and numbers cannot fail.
    let mut text = serde_json::to_string(report).expect("a report serialises");
    text.push('\n');
    text
}

/// The `workbook` shape: everything the grader knows.
#[derive(Debug, Serialize)]
struct WorkbookReport<'a> {
    schema: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_score: Option<u32>,
    tests: Vec<WorkbookTest<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    changed_graded_files: Option<&'a [String]>,
}

#[derive(Debug, Serialize)]
struct WorkbookTest<'a> {
    lesson: &'a str,
    name: &'a str,
    points: u32,
    score: u32,
    verdict: &'a str,
    message: String,
    /// Rounded to the millisecond.
    seconds: f64,
}

/// Gradescope's `results.json` (its documented autograder schema).
#[derive(Debug, Serialize)]
struct GradescopeReport {
    score: u32,
    output: String,
    tests: Vec<GradescopeTest>,
}

#[derive(Debug, Serialize)]
struct GradescopeTest {
    name: String,
    score: u32,
    max_score: u32,
    status: &'static str,
    output: String,
    visibility: &'static str,
}

/// Classroom 50's `result.json` (`classroom50/result/v1`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct Classroom50Report {
    schema: &'static str,
    classroom: String,
    assignment: String,
    submission: String,
    commit: String,
    release: String,
    review: String,
    score: u32,
    max_score: u32,
    tests: Vec<Classroom50Test>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct Classroom50Test {
    test_name: String,
    passed: bool,
    score: u32,
    max_score: u32,
}

/// Why a test did not pass, as text; empty for a pass.
fn message(result: &TestResult) -> String {
    if result.verdict.passed() {
        String::new()
    } else {
        result.verdict.to_string()
    }
}

fn full_name(result: &TestResult) -> String {
    format!("{}::{}", result.test.lesson, result.test.name)
}

/// Everything the grader knows, for tools (`grade-all` reads it back).
pub fn workbook_json(results: &[TestResult], changed: &[String]) -> String {
    let (score, max) = totals(results);
    to_json(&WorkbookReport {
        schema: WORKBOOK_SCHEMA,
        status: "graded",
        message: None,
        score: Some(score),
        max_score: Some(max),
        tests: results
            .iter()
            .map(|r| WorkbookTest {
                lesson: &r.test.lesson,
                name: &r.test.name,
                points: r.test.points,
                score: r.score(),
                verdict: r.verdict.status(),
                message: message(r),
                seconds: (r.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            })
            .collect(),
        changed_graded_files: Some(changed),
    })
}

/// Gradescope's `results.json`: a test per graded test, visible to students.
pub fn gradescope_json(results: &[TestResult], changed: &[String]) -> String {
    let (score, max) = totals(results);
    let mut output = format!("Score: {score}/{max}");
    if !changed.is_empty() {
        let _ = write!(
            output,
            "\nThese graded files differ from the handout and were not used: {}",
            changed.join(", ")
        );
    }
    to_json(&GradescopeReport {
        score,
        output,
        tests: results
            .iter()
            .map(|r| GradescopeTest {
                name: full_name(r),
                score: r.score(),
                max_score: r.test.points,
                status: if r.verdict.passed() {
                    "passed"
                } else {
                    "failed"
                },
                output: message(r),
                visibility: "visible",
            })
            .collect(),
    })
}

/// Classroom 50's `result.json`. `env` reads the variables its runner sets.
pub fn classroom50_json(results: &[TestResult], env: &dyn Fn(&str) -> String) -> String {
    let (score, max) = totals(results);
    to_json(&Classroom50Report {
        schema: "classroom50/result/v1",
        classroom: env("CLASSROOM"),
        assignment: env("ASSIGNMENT"),
        submission: env("SUBMISSION_TAG"),
        commit: env("COMMIT_URL"),
        release: env("RELEASE_URL"),
        review: env("REVIEW_URL"),
        score,
        max_score: max,
        tests: results
            .iter()
            .map(|r| Classroom50Test {
                test_name: full_name(r),
                passed: r.verdict.passed(),
                score: r.score(),
                max_score: r.test.points,
            })
            .collect(),
    })
}

/// A Markdown summary for students, grouped per lesson and exercise: the
/// score, then for each exercise its title, points, each failing test's
/// one-line reason, and the hint once. A lesson whose tests all did not run
/// for one reason (it does not compile) shows that reason once. Serves as a
/// job summary, Classroom 50's `release-body.md`, and `grade-all --feedback`.
pub fn markdown(title: &str, results: &[TestResult], exercises: &[Exercise]) -> String {
    let (score, max) = totals(results);
    let mut out = format!("# {title}\n\n**Score: {score}/{max}**\n");
    if results.iter().all(|r| r.verdict.passed()) {
        out.push_str("\nEvery graded test passes.\n");
        return out;
    }
    let mut lessons: Vec<&str> = Vec::new();
    for result in results {
        if !lessons.contains(&result.test.lesson.as_str()) {
            lessons.push(&result.test.lesson);
        }
    }
    for lesson in lessons {
        let of_lesson: Vec<&TestResult> =
            results.iter().filter(|r| r.test.lesson == lesson).collect();
        let (score, max) = totals_of(&of_lesson);
        let _ = writeln!(out, "\n## {lesson}: {score}/{max}");
        let shared = shared_failure(&of_lesson);
        if let Some(reason) = &shared {
            let _ = writeln!(
                out,
                "\nNo test of this lesson ran:\n\n{}",
                fenced(&reason.lines().take(12).collect::<Vec<_>>().join("\n"))
            );
        }
        let mut groups: Vec<(Option<&Exercise>, Vec<&TestResult>)> = Vec::new();
        for r in &of_lesson {
            let exercise = exercises
                .iter()
                .find(|e| e.lesson == r.test.lesson && e.tests.contains(&r.test.name));
            match groups
                .iter_mut()
                .find(|(e, _)| e.map(|e| &e.title) == exercise.map(|e| &e.title))
            {
                Some((_, members)) => members.push(r),
                None => groups.push((exercise, vec![r])),
            }
        }
        for (exercise, members) in groups {
            let (score, max) = totals_of(&members);
            let heading = exercise.map_or("Other graded tests", |e| e.title.as_str());
            let _ = writeln!(out, "\n### {heading} ({score}/{max} points)\n");
            for r in &members {
                let verdict = if r.verdict.passed() { "pass" } else { "FAIL" };
                let _ = write!(
                    out,
                    "- {verdict} `{}` ({}/{})",
                    r.test.name,
                    r.score(),
                    r.test.points
                );
                if !r.verdict.passed() && shared.is_none() {
                    let _ = write!(out, ": {}", inline_code(&one_line(&message(r), 200)));
                }
                out.push('\n');
            }
            let failed = members.iter().any(|r| !r.verdict.passed());
            if let Some(hint) = exercise.and_then(|e| e.hint.as_ref()).filter(|_| failed) {
                let _ = writeln!(out, "\n> {}", hint.replace('\n', "\n> "));
            }
        }
    }
    out
}

/// Text in a fenced block whose fence is longer than any run of backticks
/// in it, so the text cannot close it and write Markdown of its own.
fn fenced(text: &str) -> String {
    let fence = "`".repeat(longest_backticks(text).max(2) + 1);
    format!("{fence}text\n{text}\n{fence}\n")
}

/// Text as inline code, safe in the same way as [`fenced`].
fn inline_code(text: &str) -> String {
    let ticks = "`".repeat(longest_backticks(text) + 1);
    format!("{ticks} {text} {ticks}")
}

fn longest_backticks(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::{GradedTest, Verdict};
    use serde_json::Value;
    use std::time::Duration;

    fn parse(text: &str) -> serde_json::Result<Value> {
        serde_json::from_str(text)
    }

    /// The reader every JSON the tooling reads goes through (cargo's
    /// messages, reports read back, Chromium's answers) is serde_json's:
    /// strict where the hand-written one was not.
    #[test]
    fn the_json_reader_is_strict() {
        for bad in [
            "+1",
            ".5",
            "01",
            "-01",
            "1.",
            "\"a\u{1}b\"",
            "\"tab\there\"",
            "[1,]",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        // A lone high surrogate is refused, never turned into U+FFFD while
        // the character after it is dropped.
        if let Ok(value) = parse(r#""\ud800\u0041""#) {
            assert!(value.as_str().unwrap().ends_with('A'), "{value}");
        }
        // Integers above 2^53 are kept exactly, not rounded through f64.
        let big = (1u64 << 53) + 1;
        assert_eq!(parse(&big.to_string()).unwrap().as_u64(), Some(big));
        assert_eq!(
            parse(&u64::MAX.to_string()).unwrap().as_u64(),
            Some(u64::MAX)
        );
        // What it accepts reads right.
        assert_eq!(parse("-1.5e2").unwrap().as_f64(), Some(-150.0));
        assert_eq!(parse(r#""\ud83d\ude00é""#).unwrap().as_str(), Some("😀é"));
    }

    #[test]
    fn every_shape_is_one_line_of_json_with_escaped_strings() {
        let mut results = results();
        results[1].verdict = Verdict::Failed("a\u{1}\"b\"\n\\c".into());
        for text in [
            workbook_json(&results, &[]),
            gradescope_json(&results, &[]),
            classroom50_json(&results, &|_| "x\ty".into()),
        ] {
            assert!(text.ends_with('\n') && text.lines().count() == 1, "{text}");
            let value = parse(&text).unwrap();
            assert!(value.get("tests").and_then(Value::as_array).is_some());
        }
        let value = parse(&workbook_json(&results, &[])).unwrap();
        assert_eq!(value["tests"][0]["seconds"].as_f64(), Some(0.012));
        let said = results[1].verdict.to_string();
        assert!(said.contains("\"b\"\n\\c"), "{said:?}");
        assert_eq!(value["tests"][1]["message"].as_str(), Some(said.as_str()));
        let value = parse(&classroom50_json(&results, &|_| "x\u{1}\ty".into())).unwrap();
        assert_eq!(value["classroom"].as_str(), Some("x\u{1}\ty"));
    }

    fn results() -> Vec<TestResult> {
        let test = |name: &str, points| GradedTest {
            lesson: "sigbus".into(),
            name: name.into(),
            points,
        };
        vec![
            TestResult {
                test: test("first", 2),
                verdict: Verdict::Passed,
                elapsed: Duration::from_millis(12),
            },
            TestResult {
                test: test("second", 3),
                verdict: Verdict::Failed("not yet \"implemented\"".into()),
                elapsed: Duration::from_millis(7),
            },
        ]
    }

    #[test]
    fn the_table_ends_with_the_score() {
        let table = table(&results());
        assert!(table.contains("\nsigbus: 2/5\n"), "{table}");
        assert!(table.contains("  FAIL    0/3  second\n"), "{table}");
        assert!(table.ends_with("Score: 2/5\n"), "{table}");
    }

    #[test]
    fn the_table_fits_80_columns_and_says_a_shared_reason_once() {
        let mut results = results();
        results[0].test.name = "a".repeat(100);
        results[1].verdict = Verdict::Failed(format!("yours:    {}\nexpected: 1", "9".repeat(90)));
        let table = table(&results);
        assert!(table.lines().all(|l| l.chars().count() <= WIDTH), "{table}");
        assert!(table.contains("\n               yours:"), "{table}");
        // Every test of a lesson that does not compile: its error once.
        let broken = Verdict::DidNotRun("does not compile:\nerror[E0308]: mismatched types".into());
        for r in &mut results {
            r.verdict = broken.clone();
        }
        let table = super::table(&results);
        assert_eq!(table.matches("error[E0308]").count(), 1, "{table}");
        assert!(
            table.contains("\n  did not run: does not compile:\n  error[E0308]"),
            "{table}"
        );
        let summary = markdown("Grade", &results, &[]);
        assert_eq!(summary.matches("error[E0308]").count(), 1, "{summary}");
        // The same, read back from a report by grade-all.
        for r in &mut results {
            r.verdict = Verdict::Reported("did-not-run".into(), broken.to_string());
        }
        let summary = markdown("Grade", &results, &[]);
        assert_eq!(summary.matches("error[E0308]").count(), 1, "{summary}");
    }

    #[test]
    fn long_lines_wrap_at_spaces_and_short_ones_keep_their_alignment() {
        let text = "yours:    1\nthere is no test 'a' in lesson's tests/graded.rs: was it deleted or renamed?";
        assert_eq!(
            wrap(text, 40),
            [
                "yours:    1",
                "there is no test 'a' in lesson's",
                "tests/graded.rs: was it deleted or",
                "renamed?"
            ]
        );
        let long: String = (0..20).map(|i| format!("line {i}\n")).collect();
        let wrapped = wrap(&long, 40);
        assert_eq!(wrapped.len(), MESSAGE_LINES);
        assert!(wrapped[MESSAGE_LINES - 1].ends_with(" …"), "{wrapped:?}");
        assert_eq!(wrap(&"x".repeat(50), 40), [format!("{}…", "x".repeat(39))]);
    }

    #[test]
    fn one_line_joins_and_cuts() {
        assert_eq!(
            one_line("ctx\n  yours: 1\nexpected: 2\n", 80),
            "ctx / yours: 1 / expected: 2"
        );
        assert_eq!(one_line("abcdef", 4), "abc…");
    }

    /// Gradescope's documented schema: top-level `score` and `tests[]`, each
    /// with `name`, `score`, `max_score`, `status` (passed|failed), `output`.
    #[test]
    fn gradescope_results_follow_the_documented_schema() {
        let value = parse(&gradescope_json(&results(), &[])).unwrap();
        assert_eq!(value.get("score").and_then(Value::as_f64), Some(2.0));
        let tests = value.get("tests").and_then(Value::as_array).unwrap();
        assert_eq!(tests.len(), 2);
        for test in tests {
            for key in ["name", "output", "visibility"] {
                assert!(test.get(key).and_then(Value::as_str).is_some(), "{key}");
            }
            for key in ["score", "max_score"] {
                assert!(test.get(key).and_then(Value::as_f64).is_some(), "{key}");
            }
            let status = test.get("status").and_then(Value::as_str).unwrap();
            assert!(status == "passed" || status == "failed");
        }
        assert_eq!(
            tests[1].get("output").and_then(Value::as_str),
            Some("not yet \"implemented\"")
        );
    }

    /// Classroom 50's `classroom50/result/v1`: every required field, integer
    /// scores, and the submission and links taken from its environment.
    #[test]
    fn classroom50_results_have_every_required_field() {
        let env = |name: &str| match name {
            "SUBMISSION_TAG" => "submit/1".to_owned(),
            other => format!("value of {other}"),
        };
        let value = parse(&classroom50_json(&results(), &env)).unwrap();
        assert_eq!(
            value.get("schema").and_then(Value::as_str),
            Some("classroom50/result/v1")
        );
        for key in [
            "classroom",
            "assignment",
            "submission",
            "commit",
            "release",
            "review",
        ] {
            assert!(value.get(key).and_then(Value::as_str).is_some(), "{key}");
        }
        assert!(
            value
                .get("submission")
                .and_then(Value::as_str)
                .unwrap()
                .starts_with("submit/")
        );
        assert_eq!(
            value.get("commit").and_then(Value::as_str),
            Some("value of COMMIT_URL")
        );
        for key in ["score", "max-score"] {
            let n = value.get(key).and_then(Value::as_f64).unwrap();
            assert_eq!(n.fract(), 0.0, "{key} is an integer");
        }
        let tests = value.get("tests").and_then(Value::as_array).unwrap();
        assert_eq!(tests[0].get("passed").and_then(Value::as_bool), Some(true));
        assert_eq!(tests[1].get("passed").and_then(Value::as_bool), Some(false));
        assert_eq!(tests[1].get("max-score").and_then(Value::as_f64), Some(3.0));
        assert_eq!(
            tests[1].get("test-name").and_then(Value::as_str),
            Some("sigbus::second")
        );
    }

    #[test]
    fn the_workbook_json_reads_back() {
        let value = parse(&workbook_json(&results(), &["changed: x".into()])).unwrap();
        assert_eq!(value.get("max_score").and_then(Value::as_f64), Some(5.0));
        let tests = value.get("tests").and_then(Value::as_array).unwrap();
        assert_eq!(
            tests[1].get("verdict").and_then(Value::as_str),
            Some("failed")
        );
    }

    #[test]
    fn the_summary_groups_by_exercise_with_each_hint_once() {
        let exercises = vec![Exercise {
            lesson: "sigbus".into(),
            function: "store_at".into(),
            title: "Exercise 3.2: store.".into(),
            hint: Some("Hint: grow it first.\nThen map.".into()),
            tests: vec!["second".into(), "third".into()],
        }];
        let mut results = results();
        let mut third = results[1].clone();
        third.test.name = "third".into();
        third.verdict = Verdict::Failed("ctx\nyours:    1\nexpected: 2".into());
        results.push(third);
        let summary = markdown("Grade", &results, &exercises);
        assert!(summary.contains("**Score: 2/8**"), "{summary}");
        assert!(summary.contains("\n## sigbus: 2/8\n"), "{summary}");
        assert!(
            summary.contains("\n### Exercise 3.2: store. (0/6 points)\n"),
            "{summary}"
        );
        assert!(
            summary.contains("\n### Other graded tests (2/2 points)\n"),
            "{summary}"
        );
        assert!(
            summary.contains("- FAIL `third` (0/3): ` ctx / yours: 1 / expected: 2 `"),
            "{summary}"
        );
        assert_eq!(
            summary
                .matches("> Hint: grow it first.\n> Then map.")
                .count(),
            1,
            "{summary}"
        );
        // A message cannot close its code span and write a score of its own.
        let mut sneaky = results.clone();
        sneaky[1].verdict = Verdict::Failed("x ``` **Score: 5/5**".into());
        let summary = markdown("Grade", &sneaky, &exercises);
        assert!(
            summary.contains("```` x ``` **Score: 5/5** ````"),
            "{summary}"
        );
    }
}
