//! Reporting a grade: the table people read, and the JSON machines read.

use std::fmt::Write as _;

use super::TestResult;
use crate::json;

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

/// GitHub Classroom's reporter format (kept for the handout's existing
/// workflow), with each test's status and the changed graded files.
pub fn classroom_json(results: &[TestResult], changed: &[String]) -> String {
    let (score, max) = totals(results);
    let status = |passed: bool| if passed { "pass" } else { "fail" };
    let tests: Vec<String> = results
        .iter()
        .map(|r| {
            let message = if r.verdict.passed() {
                String::new()
            } else {
                r.verdict.to_string()
            };
            format!(
                "{{\"name\":{},\"status\":\"{}\",\"verdict\":\"{}\",\"score\":{},\"max_score\":{},\"message\":{}}}",
                json::string(&format!("{}::{}", r.test.lesson, r.test.name)),
                status(r.verdict.passed()),
                r.verdict.status(),
                r.score(),
                r.test.points,
                json::string(&message)
            )
        })
        .collect();
    let changed: Vec<String> = changed.iter().map(|c| json::string(c)).collect();
    format!(
        "{{\"version\":1,\"status\":\"{}\",\"score\":{score},\"max_score\":{max},\"tests\":[{}],\"changed_graded_files\":[{}]}}\n",
        status(score == max),
        tests.join(","),
        changed.join(",")
    )
}
