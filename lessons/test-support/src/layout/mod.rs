//! The workbook's layout, known here and nowhere else: where the lessons
//! are, their names and questions, the exercise and graded-test files, how
//! points and solutions are marked, and the rules an exercise file keeps.
//! xtask and the cross-cutting tests both read the workbook through it.
//!
//! - a lesson is a directory `lessons/NN-name/` with a Cargo.toml; the
//!   number orders the lessons, and the crate is named without it, so
//!   renumbering a lesson renames nothing ([`discover`], [`find`]);
//! - [`points`]: the graded tests and their `// points: N` lines;
//! - [`solutions`]: `// STUB:` lines and `// SOLUTION BEGIN/END` regions;
//! - [`exercises`]: each exercise's title, hint and graded tests;
//! - [`checks`]: the authoring checks every lesson must pass.

pub mod checks;
pub mod exercises;
pub mod points;
pub mod solutions;

use std::fs;
use std::path::{Path, PathBuf};

pub use points::{GradedTest, parse_points};

/// Errors are sentences for people: what, why, and what to do.
pub type Result<T = ()> = std::result::Result<T, String>;

/// The exercise file a learner edits, relative to a lesson's directory: the
/// only file of a submission that grading against a template takes.
pub const EXERCISES: &str = "src/exercises.rs";

/// The graded tests, relative to a lesson's directory.
pub const GRADED_TESTS: &str = "tests/graded.rs";

#[derive(Debug, Clone)]
pub struct Lesson {
    pub number: u32,
    /// The crate's name, which is also its binary's name.
    pub name: String,
    /// The question the lesson answers (the crate's `description`).
    pub question: String,
    pub dir: PathBuf,
}

impl Lesson {
    /// The lesson's directory name, `NN-name`.
    pub fn dir_name(&self) -> String {
        format!("{:02}-{}", self.number, self.name)
    }

    /// The same lesson in the workbook tree at `root`.
    pub fn in_tree(&self, root: &Path) -> Lesson {
        Lesson {
            dir: root.join("lessons").join(self.dir_name()),
            ..self.clone()
        }
    }

    /// The lesson's graded tests and their points, from its graded test file;
    /// none for a lesson without one.
    pub fn graded_tests(&self) -> Result<Vec<GradedTest>> {
        let path = self.dir.join(GRADED_TESTS);
        let Ok(source) = fs::read_to_string(&path) else {
            return Ok(Vec::new());
        };
        let points =
            parse_points(&source).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(points
            .into_iter()
            .map(|(name, points)| GradedTest {
                lesson: self.name.clone(),
                name,
                points,
            })
            .collect())
    }
}

/// True for `lessons/NN-name/src/exercises.rs` (relative to the root).
pub fn is_exercise_file(relative: &Path) -> bool {
    let mut parts = relative.components();
    parts.next().is_some_and(|c| c.as_os_str() == "lessons")
        && parts
            .next()
            .is_some_and(|c| split_number(&c.as_os_str().to_string_lossy()).is_some())
        && parts.as_path() == Path::new(EXERCISES)
}

/// All lessons under `root/lessons`, in order.
pub fn discover(root: &Path) -> Result<Vec<Lesson>> {
    let lessons_dir = root.join("lessons");
    let entries = fs::read_dir(&lessons_dir)
        .map_err(|e| format!("cannot read {}: {e}", lessons_dir.display()))?;
    let mut lessons = Vec::new();
    for entry in entries.flatten() {
        let dir_name = entry.file_name().to_string_lossy().into_owned();
        let Some((number, name)) = split_number(&dir_name) else {
            continue; // support, test-support, or anything else that is not a lesson
        };
        let manifest_path = entry.path().join("Cargo.toml");
        let Ok(manifest) = fs::read_to_string(&manifest_path) else {
            continue;
        };
        let crate_name = manifest_value(&manifest, "name").unwrap_or_default();
        if crate_name != name {
            return Err(format!(
                "{} names the crate '{crate_name}', but its directory says '{name}'. \
                 A lesson's crate is named like its directory, without the number.",
                manifest_path.display()
            ));
        }
        lessons.push(Lesson {
            number,
            name: name.to_owned(),
            question: manifest_value(&manifest, "description").unwrap_or_default(),
            dir: entry.path(),
        });
    }
    lessons.sort_by_key(|l| l.number);
    Ok(lessons)
}

/// The lesson named `wanted` in any form the tools show it: its name
/// (`file-mapping`), its directory (`01-file-mapping`, or
/// `lessons/01-file-mapping/` as a shell completes it) or its number (`1`,
/// `01`); or an error that lists the lessons and suggests the closest name.
pub fn find(root: &Path, wanted: &str) -> Result<Lesson> {
    let lessons = discover(root)?;
    let bare = wanted.trim().trim_end_matches('/');
    let bare = bare.strip_prefix("lessons/").unwrap_or(bare);
    let by_number = bare.parse::<u32>().ok();
    if let Some(lesson) = lessons.iter().find(|l| {
        l.name == bare || l.dir_name() == bare || Some(l.number) == by_number
    }) {
        return Ok(lesson.clone());
    }
    let names: Vec<&str> = lessons.iter().map(|l| l.name.as_str()).collect();
    let hint = closest(wanted, &names)
        .map_or(String::new(), |c| format!(" Did you mean '{c}'?"));
    let listing: Vec<String> = lessons
        .iter()
        .map(|l| format!("{:02} {}", l.number, l.name))
        .collect();
    Err(format!(
        "there is no lesson '{wanted}'.{hint}\nThe lessons are: {}",
        listing.join(", ")
    ))
}

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (support::cli::edit_distance(word, c), *c))
        .min()
        .filter(|(distance, candidate)| *distance <= 3.max(candidate.len() / 3))
        .map(|(_, c)| c)
}

/// The workbook's root, for tests: the directory above `lessons/test-support`.
pub fn workbook_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `01-file-mapping` -> `(1, "file-mapping")`.
pub fn split_number(dir_name: &str) -> Option<(u32, &str)> {
    let (number, name) = dir_name.split_once('-')?;
    if number.len() != 2 || name.is_empty() {
        return None;
    }
    Some((number.parse().ok()?, name))
}

/// The string value of `key` in the manifest's `[package]` table, read by
/// the `toml` crate: comments, any quoting and escapes as cargo reads them.
/// `None` when it is absent, not a string (`description.workspace = true`)
/// or the manifest is not TOML.
fn manifest_value(manifest: &str, key: &str) -> Option<String> {
    let table: toml::Table = manifest.parse().ok()?;
    let value = table.get("package")?.get(key)?;
    value.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesson_directories_split_into_number_and_name() {
        assert_eq!(split_number("01-file-mapping"), Some((1, "file-mapping")));
        assert_eq!(split_number("12-x"), Some((12, "x")));
        assert_eq!(split_number("support"), None);
        assert_eq!(split_number("test-support"), None);
        assert_eq!(split_number("1-file"), None);
        assert_eq!(split_number("ab-file"), None);
    }

    #[test]
    fn exercise_files_are_known_by_their_place() {
        assert!(is_exercise_file(Path::new("lessons/01-x/src/exercises.rs")));
        assert!(!is_exercise_file(Path::new(
            "lessons/support/src/exercises.rs"
        )));
        assert!(!is_exercise_file(Path::new("lessons/01-x/src/lib.rs")));
        assert!(!is_exercise_file(Path::new("x/01-x/src/exercises.rs")));
        assert!(!is_exercise_file(Path::new(
            "lessons/01-x/src/exercises.rs~"
        )));
    }

    #[test]
    fn manifest_values_come_from_the_package_table() {
        let manifest = "[package]\nname = \"sigbus\"\ndescription = \"What happens?\"\n\n[dependencies]\nname = \"x\"\n";
        assert_eq!(manifest_value(manifest, "name").as_deref(), Some("sigbus"));
        assert_eq!(
            manifest_value(manifest, "description").as_deref(),
            Some("What happens?")
        );
        assert_eq!(manifest_value(manifest, "version"), None);
    }

    /// What the hand-written reader got wrong: a comment after a value,
    /// a value inherited from the workspace, and TOML's own quoting.
    #[test]
    fn manifest_values_are_read_as_cargo_reads_them() {
        let manifest = "[package]\n\
            name = \"sigbus\" # the crate\n\
            description = 'What \"happens\"? # not a comment'\n\
            version.workspace = true\n\
            edition = { workspace = true }\n\
            [lints]\nworkspace = true\n";
        assert_eq!(manifest_value(manifest, "name").as_deref(), Some("sigbus"));
        assert_eq!(
            manifest_value(manifest, "description").as_deref(),
            Some("What \"happens\"? # not a comment")
        );
        // Inherited: not a string here, so no value rather than a wrong one.
        assert_eq!(manifest_value(manifest, "version"), None);
        assert_eq!(manifest_value(manifest, "edition"), None);
        let escaped = "[package]\nname = \"a\\u0062c\"\n";
        assert_eq!(manifest_value(escaped, "name").as_deref(), Some("abc"));
        assert_eq!(manifest_value("[package\nname = \"x\"", "name"), None);
    }

    #[test]
    fn closest_finds_a_typo_and_ignores_nonsense() {
        let names = ["file-mapping", "process-maps", "sigbus"];
        assert_eq!(closest("file-maping", &names), Some("file-mapping"));
        assert_eq!(closest("sigbsu", &names), Some("sigbus"));
        assert_eq!(closest("zzzzzzzzzzzzzzzzzzzz", &names), None);
    }

    #[test]
    fn the_workspace_lessons_are_found_in_order() {
        let lessons = discover(&workbook_root()).unwrap();
        assert!(!lessons.is_empty());
        assert!(lessons.windows(2).all(|w| w[0].number < w[1].number));
        assert_eq!(lessons[0].name, "file-mapping");
        for form in [
            "1",
            "01",
            "file-mapping",
            "01-file-mapping",
            "lessons/01-file-mapping/",
        ] {
            let found = find(&workbook_root(), form).unwrap();
            assert_eq!(found.name, "file-mapping", "{form}");
        }
        assert!(find(&workbook_root(), "02-file-mapping").is_err());
        let error = find(&workbook_root(), "file-maping").unwrap_err();
        assert!(error.contains("Did you mean 'file-mapping'?"), "{error}");
    }
}
