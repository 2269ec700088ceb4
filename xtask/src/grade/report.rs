//! Reporting a grade: the table people read, a Markdown summary, and the
//! JSON that machines read, in three shapes:
//!
//! - `workbook`: everything the grader knows (verdicts, messages, times);
//! - `gradescope`: Gradescope's `results.json`;
//! - `classroom50`: Classroom 50's `result.json` (`classroom50/result/v1`).

use std::fmt::Write as _;

use super::TestResult;
use crate::json;
use support::layout::exercises::Exercise;

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

/// The human report: a table per lesson, then the score.
pub fn table(results: &[TestResult]) -> String {
    let mut out = String::new();
    let mut lesson = "";
    for result in results {
        if result.test.lesson != lesson {
            lesson = &result.test.lesson;
            let _ = writeln!(out, "\n{lesson}\n  result  points  test");
        }
        let verdict = if result.verdict.passed() {
            "pass"
        } else {
            "FAIL"
        };
        let _ = writeln!(
            out,
            "  {verdict:<6}  {:>2}/{:<2}   {}",
            result.score(),
            result.test.points,
            result.test.name
        );
        if !result.verdict.passed() {
            for line in result.verdict.to_string().lines().take(4) {
                let _ = writeln!(out, "                  {line}");
            }
        }
    }
    let (score, max) = totals(results);
    let _ = writeln!(out, "\nScore: {score}/{max}");
    out
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
    let tests: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{{\"lesson\":{},\"name\":{},\"points\":{},\"score\":{},\"verdict\":\"{}\",\"message\":{},\"seconds\":{:.3}}}",
                json::string(&r.test.lesson),
                json::string(&r.test.name),
                r.test.points,
                r.score(),
                r.verdict.status(),
                json::string(&message(r)),
                r.elapsed.as_secs_f64()
            )
        })
        .collect();
    let changed: Vec<String> = changed.iter().map(|c| json::string(c)).collect();
    format!(
        "{{\"schema\":\"mmap-workbook/grade/v1\",\"status\":\"graded\",\"score\":{score},\"max_score\":{max},\"tests\":[{}],\"changed_graded_files\":[{}]}}\n",
        tests.join(","),
        changed.join(",")
    )
}

/// Gradescope's `results.json`: a test per graded test, visible to students.
pub fn gradescope_json(results: &[TestResult], changed: &[String]) -> String {
    let (score, max) = totals(results);
    let tests: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{{\"name\":{},\"score\":{},\"max_score\":{},\"status\":\"{}\",\"output\":{},\"visibility\":\"visible\"}}",
                json::string(&full_name(r)),
                r.score(),
                r.test.points,
                if r.verdict.passed() { "passed" } else { "failed" },
                json::string(&message(r))
            )
        })
        .collect();
    let mut output = format!("Score: {score}/{max}");
    if !changed.is_empty() {
        let _ = write!(
            output,
            "\nThese graded files differ from the handout and were not used: {}",
            changed.join(", ")
        );
    }
    format!(
        "{{\"score\":{score},\"output\":{},\"tests\":[{}]}}\n",
        json::string(&output),
        tests.join(",")
    )
}

/// Classroom 50's `result.json`. `env` reads the variables its runner sets.
pub fn classroom50_json(results: &[TestResult], env: &dyn Fn(&str) -> String) -> String {
    let (score, max) = totals(results);
    let tests: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{{\"test-name\":{},\"passed\":{},\"score\":{},\"max-score\":{}}}",
                json::string(&full_name(r)),
                r.verdict.passed(),
                r.score(),
                r.test.points
            )
        })
        .collect();
    let field = |name: &str| json::string(&env(name));
    format!(
        "{{\"schema\":\"classroom50/result/v1\",\"classroom\":{},\"assignment\":{},\"submission\":{},\"commit\":{},\"release\":{},\"review\":{},\"score\":{score},\"max-score\":{max},\"tests\":[{}]}}\n",
        field("CLASSROOM"),
        field("ASSIGNMENT"),
        field("SUBMISSION_TAG"),
        field("COMMIT_URL"),
        field("RELEASE_URL"),
        field("REVIEW_URL"),
        tests.join(",")
    )
}

/// A Markdown summary: the score, a table, and for each failure why, with
/// the exercise's hint. Serves as a job summary, Classroom 50's
/// `release-body.md`, and `grade-all --feedback`.
pub fn markdown(title: &str, results: &[TestResult], exercises: &[Exercise]) -> String {
    let (score, max) = totals(results);
    let mut out = format!("# {title}\n\n**Score: {score}/{max}**\n\n");
    out.push_str("| result | points | test |\n| --- | --- | --- |\n");
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {}/{} | `{}` |",
            if r.verdict.passed() { "pass" } else { "FAIL" },
            r.score(),
            r.test.points,
            full_name(r)
        );
    }
    let failed: Vec<&TestResult> = results.iter().filter(|r| !r.verdict.passed()).collect();
    if failed.is_empty() {
        out.push_str("\nEvery graded test passes.\n");
        return out;
    }
    out.push_str("\n## What to look at\n");
    for r in failed {
        // A fence longer than any run of backticks in the message, so the
        // message cannot close it and write Markdown of its own.
        let text = message(r);
        let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        let _ = write!(
            out,
            "\n### `{}`\n\n{fence}text\n{text}\n{fence}\n",
            full_name(r)
        );
        let exercise = exercises
            .iter()
            .find(|e| e.lesson == r.test.lesson && e.tests.contains(&r.test.name));
        if let Some(exercise) = exercise {
            let _ = writeln!(out, "\n{}", exercise.title);
            if let Some(hint) = &exercise.hint {
                let _ = writeln!(out, "\n> {}", hint.replace('\n', "\n> "));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::{GradedTest, Verdict};
    use crate::json::{Value, parse};
    use std::time::Duration;

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
        assert!(table.contains("FAIL     0/3    second"), "{table}");
        assert!(table.ends_with("Score: 2/5\n"), "{table}");
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
    fn the_summary_gives_the_hint_of_each_failure() {
        let exercises = vec![Exercise {
            lesson: "sigbus".into(),
            function: "store_at".into(),
            title: "Exercise 3.2: store.".into(),
            hint: Some("Hint: grow it first.\nThen map.".into()),
            tests: vec!["second".into()],
        }];
        let summary = markdown("Grade", &results(), &exercises);
        assert!(summary.contains("**Score: 2/5**"), "{summary}");
        assert!(
            summary.contains("> Hint: grow it first.\n> Then map."),
            "{summary}"
        );
        assert!(!summary.contains("### `sigbus::first`"), "{summary}");
        // A message cannot close its fence and write a score of its own.
        let mut sneaky = results();
        sneaky[1].verdict = Verdict::Failed("x\n```\n**Score: 5/5**".into());
        let summary = markdown("Grade", &sneaky, &exercises);
        assert!(
            summary.contains("````text\nx\n```\n**Score: 5/5**\n````"),
            "{summary}"
        );
    }
}
