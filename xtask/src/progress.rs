//! `cargo xtask progress`: where a learner stands, one line per lesson; and
//! `cargo xtask hint`, the nudge for the next exercise that does not pass.
//!
//! Each lesson's graded tests are built (cargo does nothing when nothing
//! changed) and the test binary is recognised by its size and modification
//! time: a lesson whose binary is the one of the last run keeps that run's
//! results, and only the others are graded again. The results are kept in
//! `target/workbook-progress`, a cache: deleting it costs one full run.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use support::say;
use test_support::layout::exercises::{self, Exercise};
use test_support::layout::{self as lessons, GradedTest, Lesson};

use crate::{Result, init, workspace_root};
use tooling::grade::Verdict;
use tooling::grade::{self, build};

/// What one lesson's graded binary was, and which of its tests passed.
#[derive(Debug, Clone, PartialEq)]
struct Recorded {
    binary: String,
    passed: Vec<String>,
    failed: Vec<String>,
}

/// Where one lesson stands: its exercises and graded tests, and which
/// passed (or its first compiler error).
#[derive(Debug, Clone)]
pub struct LessonState {
    pub lesson: Lesson,
    pub exercises: Vec<Exercise>,
    pub tests: Vec<GradedTest>,
    /// The tests that passed and failed, or why none ran (it does not
    /// compile, or a test cannot be set up).
    pub outcome: std::result::Result<Vec<String>, String>,
}

impl LessonState {
    /// True when every graded test of `exercise` passed.
    pub fn solved(&self, exercise: &Exercise) -> bool {
        match &self.outcome {
            Ok(passed) => {
                !exercise.tests.is_empty() && exercise.tests.iter().all(|t| passed.contains(t))
            }
            Err(_) => false,
        }
    }

    /// The points of the tests that passed.
    pub fn earned(&self) -> u32 {
        match &self.outcome {
            Ok(passed) => self
                .tests
                .iter()
                .filter(|t| passed.contains(&t.name))
                .map(|t| t.points)
                .sum(),
            Err(_) => 0,
        }
    }

    /// Records the verdicts of `results` (some or all of this lesson's
    /// tests), as `watch` does after grading one exercise again.
    pub fn record(&mut self, results: &[grade::TestResult]) {
        let mut passed = self.outcome.clone().unwrap_or_default();
        for result in results {
            passed.retain(|name| *name != result.test.name);
            if result.verdict.passed() {
                passed.push(result.test.name.clone());
            }
        }
        self.outcome = Ok(passed);
    }
}

/// Grades `tests` of `lesson` as the learner's own work, through the one
/// grading core ([`grade::grade_tree`], without a sandbox: the code's author
/// and the person it runs for are the same): what `progress`, `hint` and
/// `watch` see.
pub fn grade_own_work(
    root: &Path,
    lesson: &Lesson,
    tests: &[grade::GradedTest],
) -> Result<Vec<grade::TestResult>> {
    grade::grade_tree(
        root,
        std::slice::from_ref(lesson),
        tests,
        &Default::default(),
        grade::Limits::default(),
        tooling::grade::Guards {
            check_files: scan::check_lesson,
            isolation: None,
        },
        &mut |_| {},
    )
}

/// Builds and grades every lesson of the workbook at `root` that changed
/// since the last survey (see the module documentation); `log` hears which
/// lessons are graded again. The second value counts the lessons that kept
/// the last run's results.
pub fn survey(root: &Path, log: &mut dyn FnMut(&str)) -> Result<(Vec<LessonState>, usize)> {
    // A broken machine is said as such, even when every result is cached.
    tooling::grade::check_environment()?;
    let target = root.join("target");
    let cache_path = target.join("workbook-progress");
    let mut cache = read_cache(&cache_path);
    let mut unchanged = 0;
    let mut states = Vec::new();
    for lesson in lessons::discover(root)? {
        let tests = lesson.graded_tests()?;
        let list = exercises::of_lesson(&lesson)?;
        let outcome = match build::build_graded(root, &target, &lesson.name, None)? {
            build::Built::DoesNotCompile(error) => Err(error),
            build::Built::Binary(binary) => {
                // The graded tests of some lessons run the lesson's program
                // (CARGO_BIN_EXE_...), which can change while they do not.
                let program = binary
                    .parent()
                    .and_then(Path::parent)
                    .map(|dir| dir.join(&lesson.name));
                let identity = match program.filter(|p| p.is_file()) {
                    Some(program) => format!("{} {}", identity(&binary), identity(&program)),
                    None => identity(&binary),
                };
                match cache.get(&lesson.name).filter(|r| r.binary == identity) {
                    Some(recorded) => {
                        unchanged += 1;
                        Ok(recorded.passed.clone())
                    }
                    None => {
                        log(&format!("checking {} ...", lesson.dir_name()));
                        let results = grade_own_work(root, &lesson, &tests)?;
                        let (passed, failed): (Vec<_>, Vec<_>) =
                            results.iter().partition(|r| r.verdict.passed());
                        let recorded = Recorded {
                            binary: identity,
                            passed: passed.iter().map(|r| r.test.name.clone()).collect(),
                            failed: failed.iter().map(|r| r.test.name.clone()).collect(),
                        };
                        // A test that timed out (a busy machine) or did not
                        // run may pass next time with the same binary.
                        if results.iter().all(|r| {
                            !matches!(r.verdict, Verdict::TimedOut(_) | Verdict::DidNotRun(_))
                        }) {
                            cache.insert(lesson.name.clone(), recorded.clone());
                        } else {
                            cache.remove(&lesson.name);
                        }
                        // Kept at once: an interrupted run loses nothing graded.
                        write_cache(&cache_path, &cache);
                        Ok(recorded.passed)
                    }
                }
            }
        };
        states.push(LessonState {
            lesson,
            exercises: list,
            tests,
            outcome,
        });
    }
    write_cache(&cache_path, &cache);
    Ok((states, unchanged))
}

/// The first line of a compiler error and where it points, short.
fn first_error(error: &str) -> String {
    let first = error
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or_else(|| error.lines().next().unwrap_or(""));
    let at = error
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .map(|at| format!(" ({at})"))
        .unwrap_or_default();
    format!("{first}{at}")
}

pub fn cmd_progress(args: Vec<OsString>) -> Result<ExitCode> {
    // No arguments: it checks every lesson, and only grades again what
    // changed.
    if !tooling::no_arguments("progress", args)? {
        return Ok(ExitCode::SUCCESS);
    }
    let root = workspace_root()?;
    let (states, unchanged) = survey(&root, &mut |line| tooling::note!("{line}"))?;
    let (mut done, mut total, mut earned, mut maximum) = (0, 0, 0, 0);
    let mut next: Option<String> = None;
    let mut lines = Vec::new();
    for state in &states {
        let lesson = &state.lesson;
        let list = &state.exercises;
        maximum += state.tests.iter().map(|t| t.points).sum::<u32>();
        total += list.len();
        earned += state.earned();
        let line = match &state.outcome {
            Err(error) => {
                next.get_or_insert_with(|| lesson.name.clone());
                format!(
                    "{}  does not compile: {}",
                    label(lesson),
                    first_error(error)
                )
            }
            Ok(_) => {
                let solved_here = list.iter().filter(|e| state.solved(e)).count();
                done += solved_here;
                let marks: String = list
                    .iter()
                    .map(|e| if state.solved(e) { '#' } else { '.' })
                    .collect();
                let todo = list.iter().find(|e| !state.solved(e));
                if todo.is_some() {
                    next.get_or_insert_with(|| lesson.name.clone());
                }
                let status = match todo {
                    None => "done".to_owned(),
                    Some(exercise) => format!("next: {}", short_title(exercise)),
                };
                format!(
                    "{}  [{marks:<6}] {solved_here}/{}  {status}",
                    label(lesson),
                    list.len()
                )
            }
        };
        lines.push(line);
    }
    say!("Progress: exercises solved per lesson (# solved, . to do)\n");
    for line in &lines {
        say!(
            "{}",
            crate::wrap(&format!("  {line}"), crate::COLUMNS, &" ".repeat(24))
        );
    }
    say!(
        "\n{done}/{total} exercises solved, {earned}/{maximum} points.{}",
        if unchanged > 0 {
            format!("\n({unchanged} lessons unchanged since the last run, not graded again.)")
        } else {
            String::new()
        }
    );
    let lessons: Vec<Lesson> = states.iter().map(|s| s.lesson.clone()).collect();
    if init::holds_solutions(&lessons) {
        say!("\n{}", init::reference_note());
        if let Some(lesson) = &next {
            // The note says every exercise passes here: this one did not.
            say!(
                "\n{}",
                crate::wrap(
                    &format!(
                        "But a reference solution of {lesson} did not pass this time: \
                         cargo xtask grade {lesson} shows why (on a busy machine, a \
                         test may run out of time)."
                    ),
                    crate::COLUMNS,
                    ""
                )
            );
        }
        return Ok(if next.is_none() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    match next {
        None => {
            say!("Every exercise passes. Well done.");
            Ok(ExitCode::SUCCESS)
        }
        Some(lesson) => {
            say!("Stuck? cargo xtask hint {lesson}   Working on it? cargo xtask watch");
            Ok(ExitCode::FAILURE)
        }
    }
}

pub fn cmd_hint(args: Vec<OsString>) -> Result<ExitCode> {
    /// `hint LESSON [EXERCISE]`.
    #[derive(Debug, clap::Parser)]
    struct Hint {
        /// The lesson, by name (sigbus) or number (3).
        lesson: Option<String>,
        /// The exercise, by function (store_at) or number (3.2).
        exercise: Option<String>,
    }
    let Some(Hint { lesson, exercise }) = tooling::args::parse("hint", args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let Some(wanted) = lesson else {
        return Err(
            "hint takes a lesson and, if you like, an exercise: cargo xtask hint sigbus [store_at]"
                .into(),
        );
    };
    let root = tooling::workspace_root()?;
    let lesson = lessons::find(&root, &wanted)?;
    let all = exercises::of_lesson(&lesson)?;
    let chosen = match exercise {
        Some(name) => all
            .iter()
            .find(|e| e.function == name || e.title.starts_with(&format!("Exercise {name}:")))
            .ok_or_else(|| {
                let names: Vec<&str> = all.iter().map(|e| e.function.as_str()).collect();
                format!(
                    "{} has no exercise '{name}'; its exercises are: {}",
                    lesson.name,
                    names.join(", ")
                )
            })?,
        None if init::holds_solutions(std::slice::from_ref(&lesson)) => {
            say!("{}", init::reference_note());
            let number = all
                .first()
                .and_then(|e| e.title.strip_prefix("Exercise "))
                .and_then(|t| t.split(':').next())
                .unwrap_or("1.1");
            say!(
                "\nFor one exercise's hint, name it: cargo xtask hint {} {number}",
                lesson.name
            );
            return Ok(ExitCode::SUCCESS);
        }
        None => {
            tooling::note!("Grading {} to find your next exercise...", lesson.name);
            let tests = grade::tests_of(std::slice::from_ref(&lesson))?;
            let results = grade_own_work(&root, &lesson, &tests)?;
            let failing = |e: &&Exercise| {
                results
                    .iter()
                    .any(|r| e.tests.contains(&r.test.name) && !r.verdict.passed())
            };
            match all.iter().find(failing) {
                Some(exercise) => exercise,
                None => {
                    say!("Every exercise of {} passes. Well done.", lesson.name);
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
    };
    say!("{}", hint_text(&lesson, chosen));
    Ok(ExitCode::SUCCESS)
}

/// An exercise's title, hint and file, wrapped to 80 columns: what `hint`
/// prints and what `watch` shows for `h`.
pub fn hint_text(lesson: &Lesson, exercise: &Exercise) -> String {
    let hint = exercise
        .hint
        .as_deref()
        .unwrap_or("(This exercise has no hint; its doc comment says what it must do.)");
    format!(
        "{}\n\n{}\n\n{}",
        crate::wrap(&exercise.title, crate::COLUMNS, "  "),
        crate::wrap(hint, crate::COLUMNS, ""),
        crate::wrap(
            &format!(
                "Its file: lessons/{}/{}, function `{}`.",
                lesson.dir_name(),
                lessons::EXERCISES,
                exercise.function
            ),
            crate::COLUMNS,
            "  "
        )
    )
}

fn label(lesson: &Lesson) -> String {
    format!("{:<21}", lesson.dir_name())
}

/// "Exercise 1.4: find every occurrence ..." → "1.4 find every occurrence ...",
/// cut after a whole word to at most 35 characters.
pub fn short_title(exercise: &Exercise) -> String {
    const WIDTH: usize = 35;
    let title = exercise
        .title
        .strip_prefix("Exercise ")
        .unwrap_or(&exercise.title);
    let title = title.replacen(':', "", 1);
    if title.chars().count() <= WIDTH {
        return title;
    }
    let mut short = String::new();
    for word in title.split_whitespace() {
        if short.chars().count() + word.chars().count() + 1 > WIDTH - 3 {
            break;
        }
        if !short.is_empty() {
            short.push(' ');
        }
        short.push_str(word);
    }
    format!("{short}...")
}

/// A binary's identity for the cache: its path, size and modification time.
fn identity(binary: &Path) -> String {
    match std::fs::metadata(binary) {
        Ok(m) => format!(
            "{}:{}:{}.{}",
            binary.display(),
            m.len(),
            m.mtime(),
            m.mtime_nsec()
        ),
        Err(_) => String::new(),
    }
}

/// The cache: one line per lesson, `name<TAB>binary<TAB>passed,..<TAB>failed,..`.
fn read_cache(path: &PathBuf) -> HashMap<String, Recorded> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let names = |list: &str| -> Vec<String> {
        list.split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    };
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (lesson, binary) = (fields.next()?, fields.next()?);
            let (passed, failed) = (fields.next()?, fields.next()?);
            Some((
                lesson.to_owned(),
                Recorded {
                    binary: binary.to_owned(),
                    passed: names(passed),
                    failed: names(failed),
                },
            ))
        })
        .collect()
}

fn write_cache(path: &Path, cache: &HashMap<String, Recorded>) {
    let mut lessons: Vec<_> = cache.iter().collect();
    lessons.sort_by(|a, b| a.0.cmp(b.0));
    let text: String = lessons
        .into_iter()
        .map(|(lesson, r)| {
            format!(
                "{lesson}\t{}\t{}\t{}\n",
                r.binary,
                r.passed.join(","),
                r.failed.join(",")
            )
        })
        .collect();
    // A cache that cannot be written costs the next run time, nothing else.
    let _ = grade::write_atomically(path, text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::{Recorded, read_cache, write_cache};
    use std::collections::HashMap;

    #[test]
    fn short_titles_end_on_a_whole_word() {
        let exercise = test_support::layout::exercises::Exercise {
            lesson: "x".into(),
            function: "f".into(),
            title: "Exercise 1.4: find every occurrence of `pattern` in the file".into(),
            hint: None,
            tests: vec![],
        };
        let short = super::short_title(&exercise);
        assert_eq!(short, "1.4 find every occurrence of...");
        assert!(short.chars().count() <= 35);
    }

    #[test]
    fn the_cache_reads_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress");
        let mut cache = HashMap::new();
        cache.insert(
            "sigbus".to_owned(),
            Recorded {
                binary: "/t/graded-1:10:5.7".into(),
                passed: vec!["a".into(), "b".into()],
                failed: vec![],
            },
        );
        write_cache(&path, &cache);
        assert_eq!(read_cache(&path), cache);
        std::fs::write(&path, "garbage\n").unwrap();
        assert!(read_cache(&path).is_empty());
    }
}
