//! The exercises of a lesson, read from its exercise file: each public
//! function's title and hint (from its doc comment), and which graded tests
//! grade it. Feedback, the CSV's columns and `hint` come from here.

use std::fs;

use super::{EXERCISES, GRADED_TESTS, Lesson, Result, parse_points};

/// One exercise: a function for the learner to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exercise {
    pub lesson: String,
    pub function: String,
    /// The doc comment's first line, e.g. "Exercise 1.1: write `values` ...".
    pub title: String,
    /// The doc comment from its `Hint:` on, if it has one.
    pub hint: Option<String>,
    /// The graded tests that grade it: those whose first runner request
    /// names it (`Request::new("NAME")`, see `test_support::judge`).
    pub tests: Vec<String>,
}

/// The exercises of `lesson`, in file order, each with its graded tests.
pub fn of_lesson(lesson: &Lesson) -> Result<Vec<Exercise>> {
    let path = lesson.dir.join(EXERCISES);
    let source = fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut exercises = parse_exercises(&lesson.name, &source);
    let graded = lesson.dir.join(GRADED_TESTS);
    if let Ok(tests) = fs::read_to_string(&graded) {
        let names: Vec<String> =
            exercises.iter().map(|e| e.function.clone()).collect();
        for (test, function) in tests_to_exercises(&tests, &names)? {
            if let Some(exercise) =
                exercises.iter_mut().find(|e| e.function == function)
            {
                exercise.tests.push(test);
            }
        }
    }
    Ok(exercises)
}

/// The public functions of an exercise file with their doc comments.
pub fn parse_exercises(lesson: &str, source: &str) -> Vec<Exercise> {
    let mut exercises = Vec::new();
    let mut doc: Vec<String> = Vec::new();
    for line in source.lines() {
        let trimmed = line.trim();
        if let Some(text) = trimmed.strip_prefix("///") {
            doc.push(text.strip_prefix(' ').unwrap_or(text).to_owned());
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("pub fn ") {
            let function: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let title = doc
                .iter()
                .take_while(|l| !l.trim().is_empty())
                .map(|l| l.trim())
                .collect::<Vec<_>>()
                .join(" ");
            let hint = doc
                .iter()
                .position(|l| l.starts_with("Hint:"))
                .map(|at| doc[at..].join("\n").trim().to_owned());
            exercises.push(Exercise {
                lesson: lesson.to_owned(),
                function,
                title,
                hint,
                tests: Vec::new(),
            });
        }
        if !trimmed.starts_with("#[") {
            doc.clear();
        }
    }
    exercises
}

/// For each graded test, the first of `exercises` its body names in a
/// runner request: the first `"NAME"` string among them.
fn tests_to_exercises(
    source: &str,
    exercises: &[String],
) -> Result<Vec<(String, String)>> {
    let tests = parse_points(source)?;
    let mut pairs = Vec::new();
    for (index, (test, _)) in tests.iter().enumerate() {
        let start = source
            .find(&format!("fn {test}("))
            .ok_or_else(|| format!("graded test '{test}' has no body"))?;
        let end = tests
            .get(index + 1)
            .and_then(|(next, _)| source.find(&format!("fn {next}(")))
            .unwrap_or(source.len());
        let body = &source[start..end.max(start)];
        let first = exercises
            .iter()
            .filter_map(|name| {
                find_word(body, &format!("\"{name}\"")).map(|at| (at, name))
            })
            .min();
        if let Some((_, name)) = first {
            pairs.push((test.clone(), name.clone()));
        }
    }
    Ok(pairs)
}

/// Where `word` first stands in `text` as a whole identifier.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).map(|(at, _)| at).find(|&at| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXERCISES_RS: &str = "\
/// Exercise 1.1: add.
///
/// Hint: use `+`.
/// Really.
pub fn add(a: u32, b: u32) -> u32 {
    a + b
}

/// Exercise 1.2: no hint here.
#[must_use]
pub fn add_all(values: &[u32]) -> u32 {
    values.iter().sum()
}
";

    const GRADED_RS: &str = r#"
// points: 1
#[test]
fn adds() {
    // add_all is not requested here: only a request counts.
    runner().ask(Request::new("add").arg(1).arg(2)).expect(3);
}

// points: 2
#[test]
fn adds_all_of_them() {
    let add = Request::new("add_all").list(&[1, 2]);
    runner().ask(add).expect(3);
}
"#;

    #[test]
    fn titles_hints_and_tests_are_found() {
        let exercises = parse_exercises("x", EXERCISES_RS);
        assert_eq!(exercises.len(), 2);
        assert_eq!(exercises[0].title, "Exercise 1.1: add.");
        assert_eq!(
            exercises[0].hint.as_deref(),
            Some("Hint: use `+`.\nReally.")
        );
        assert_eq!(exercises[1].function, "add_all");
        assert_eq!(exercises[1].hint, None);
        let names = ["add".to_owned(), "add_all".to_owned()];
        assert_eq!(
            tests_to_exercises(GRADED_RS, &names).unwrap(),
            [
                ("adds".to_owned(), "add".to_owned()),
                ("adds_all_of_them".to_owned(), "add_all".to_owned())
            ]
        );
    }

    #[test]
    fn every_lesson_exercise_has_a_title_a_hint_and_a_test() {
        let root = super::super::workbook_root();
        for lesson in super::super::discover(&root).unwrap() {
            for exercise in of_lesson(&lesson).unwrap() {
                let name = format!("{}::{}", lesson.name, exercise.function);
                assert!(exercise.title.starts_with("Exercise "), "{name}: no title");
                assert!(
                    exercise.hint.is_some(),
                    "{name}: no 'Hint:' in its doc comment"
                );
                assert!(
                    !exercise.tests.is_empty(),
                    "{name}: no graded test requests it"
                );
            }
        }
    }
}
