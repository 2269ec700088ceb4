//! `cargo xtask progress`: where a learner stands, one line per lesson.
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

use support::layout::exercises::{self, Exercise};
use support::layout::{self as lessons, Lesson};

use crate::grade::Verdict;
use crate::grade::{self, build};
use crate::{Result, workspace_root};

/// What one lesson's graded binary was, and which of its tests passed.
#[derive(Debug, Clone, PartialEq)]
struct Recorded {
    binary: String,
    passed: Vec<String>,
    failed: Vec<String>,
}

pub fn cmd_progress(args: Vec<OsString>) -> Result<ExitCode> {
    if let Some(arg) = args.first() {
        return Err(format!(
            "progress takes no arguments, not '{}': it checks every lesson, and only \
             grades again what changed",
            arg.to_string_lossy()
        ));
    }
    let root = workspace_root()?;
    let target = root.join("target");
    let cache_path = target.join("workbook-progress");
    let mut cache = read_cache(&cache_path);
    let all = lessons::discover(&root)?;
    let (mut done, mut total, mut earned, mut maximum, mut unchanged) = (0, 0, 0, 0, 0);
    let mut next: Option<(String, String)> = None;
    let mut lines = Vec::new();
    for lesson in &all {
        let tests = lesson.graded_tests()?;
        let list = exercises::of_lesson(lesson)?;
        let outcome = match build::build_graded(&root, &target, &lesson.name)? {
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
                        Ok(recorded.clone())
                    }
                    None => {
                        eprintln!("checking {} ...", lesson.dir_name());
                        let results = grade::grade_tree(
                            &root,
                            std::slice::from_ref(lesson),
                            &tests,
                            &Default::default(),
                            grade::Limits::default(),
                            &mut |_| {},
                        )?;
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
                        Ok(recorded)
                    }
                }
            }
        };
        maximum += tests.iter().map(|t| t.points).sum::<u32>();
        total += list.len();
        let line = match outcome {
            Err(error) => {
                let first = error.lines().find(|l| l.starts_with("error")).unwrap_or("");
                let at = error
                    .lines()
                    .find_map(|l| l.trim_start().strip_prefix("--> "))
                    .map(|at| format!(" ({at})"))
                    .unwrap_or_default();
                if next.is_none() {
                    next = Some((lesson.name.clone(), String::new()));
                }
                format!("{}  does not compile: {first}{at}", label(lesson))
            }
            Ok(recorded) => {
                let solved = |e: &Exercise| {
                    !e.tests.is_empty() && e.tests.iter().all(|t| recorded.passed.contains(t))
                };
                earned += tests
                    .iter()
                    .filter(|t| recorded.passed.contains(&t.name))
                    .map(|t| t.points)
                    .sum::<u32>();
                let solved_here = list.iter().filter(|e| solved(e)).count();
                done += solved_here;
                let marks: String = list
                    .iter()
                    .map(|e| if solved(e) { '#' } else { '.' })
                    .collect();
                let todo = list.iter().find(|e| !solved(e));
                if let (None, Some(exercise)) = (&next, todo) {
                    next = Some((lesson.name.clone(), exercise.function.clone()));
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
    write_cache(&cache_path, &cache);
    println!("Progress: exercises solved per lesson (# solved, . to do)\n");
    for line in &lines {
        println!("  {line}");
    }
    println!(
        "\n{done}/{total} exercises solved, {earned}/{maximum} points.{}",
        if unchanged > 0 {
            format!(" ({unchanged} lessons unchanged since the last run, not graded again.)")
        } else {
            String::new()
        }
    );
    match next {
        None => {
            println!("Every exercise passes. Well done.");
            Ok(ExitCode::SUCCESS)
        }
        Some((lesson, _)) => {
            println!("Stuck? cargo xtask hint {lesson}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn label(lesson: &Lesson) -> String {
    format!("{:<24}", lesson.dir_name())
}

/// "Exercise 1.4: find every occurrence ..." → "1.4 find every occurrence ...",
/// at most 40 characters.
fn short_title(exercise: &Exercise) -> String {
    let title = exercise
        .title
        .strip_prefix("Exercise ")
        .unwrap_or(&exercise.title);
    let title = title.replacen(':', "", 1);
    if title.chars().count() > 40 {
        format!("{}...", title.chars().take(37).collect::<String>())
    } else {
        title
    }
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
