//! The authoring checks: what every lesson's exercises and graded tests must
//! be, each problem a sentence that says how to fix it. `cargo test` runs
//! them (tests/tests/authoring.rs) and `cargo xtask verify` runs them first.

use std::fs;

use super::solutions::{count_stubs, has_solutions, strip_solutions};
use super::{EXERCISES, GRADED_TESTS, Lesson, exercises};

/// Each lesson hands out at least this many exercises.
pub const MIN_EXERCISES: usize = 2;

/// What is wrong with `lesson`'s exercises and graded tests; empty when
/// nothing is.
pub fn problems(lesson: &Lesson) -> Vec<String> {
    let mut problems = Vec::new();
    let exercises_path = lesson.dir.join(EXERCISES);
    let tests_path = lesson.dir.join(GRADED_TESTS);
    let Ok(source) = fs::read_to_string(&exercises_path) else {
        return vec![format!(
            "{}: missing; every lesson has exercises",
            exercises_path.display()
        )];
    };
    if !has_solutions(&source) {
        problems.push(format!(
            "{}: no '// SOLUTION BEGIN' region, so nothing to hand out; this looks like a \
             student copy (run this in the instructor's repository)",
            exercises_path.display()
        ));
    }
    if let Err(e) = strip_solutions(&source) {
        problems.push(format!("{}: {e}", exercises_path.display()));
    }
    let stubs = count_stubs(&source);
    if stubs < MIN_EXERCISES {
        problems.push(format!(
            "{}: {stubs} stub(s); add exercises until there are at least {MIN_EXERCISES}, \
             each with a '// STUB:' line above its '// SOLUTION BEGIN'",
            exercises_path.display()
        ));
    }
    let tests_source = fs::read_to_string(&tests_path).unwrap_or_default();
    match lesson.graded_tests() {
        Ok(tests) if tests.len() < stubs => problems.push(format!(
            "{}: {} graded test(s) for {stubs} exercises; give every exercise a test",
            tests_path.display(),
            tests.len()
        )),
        Ok(tests) => {
            for test in tests.iter().filter(|t| t.points == 0) {
                problems.push(format!(
                    "{}: '{}' is worth 0 points; give it at least 1",
                    tests_path.display(),
                    test.name
                ));
            }
            for test in &tests {
                if !body_of(&tests_source, &test.name).contains("graded(|| {") {
                    problems.push(format!(
                        "{}: '{}' does not wrap its body in `graded(|| {{ ... }})` \
                         (test_support::grading::graded), so the grader can never see it pass",
                        tests_path.display(),
                        test.name
                    ));
                }
            }
        }
        Err(e) => problems.push(e),
    }
    match exercises::of_lesson(lesson) {
        Ok(all) => {
            for exercise in all {
                let name =
                    format!("{}: `{}`", exercises_path.display(), exercise.function);
                if !exercise.title.starts_with("Exercise ") {
                    problems.push(format!(
                        "{name}: its doc comment should open with 'Exercise N.M: what to do'"
                    ));
                }
                if exercise.hint.is_none() {
                    problems.push(format!(
                        "{name}: its doc comment has no 'Hint:' paragraph for `cargo xtask hint`"
                    ));
                }
                if exercise.tests.is_empty() {
                    problems.push(format!(
                        "{name}: no graded test calls it; add one to {GRADED_TESTS}"
                    ));
                }
            }
        }
        Err(e) => problems.push(e),
    }
    problems
}

/// The text of test `name` in a graded test file, up to the next test.
fn body_of<'a>(source: &'a str, name: &str) -> &'a str {
    let Some(start) = source.find(&format!("fn {name}(")) else {
        return "";
    };
    let rest = &source[start..];
    let end = rest[1..].find("#[test]").map_or(rest.len(), |at| at + 1);
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_body_ends_where_the_next_test_begins() {
        let source = "#[test]\nfn a() { graded(|| { x(); }); }\n// points: 1\n#[test]\nfn b() {}\n";
        assert!(body_of(source, "a").contains("graded(|| {"));
        assert!(!body_of(source, "b").contains("graded"));
        assert_eq!(body_of(source, "c"), "");
    }
}
