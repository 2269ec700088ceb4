//! `cargo xtask watch`: the learner's loop, in the spirit of rustlings'
//! watch mode. It finds the first exercise that does not pass yet and
//! grades it again each time a file under `lessons/*/src` is saved, with
//! the grader's own core ([`grade::grade_tree`]), that exercise's tests only.
//!
//! It watches the directories, not the files (inotify, through the `notify`
//! crate): editors save by writing a new file and renaming it over the old
//! one, which a watch on the old file would miss.
//!
//! Commands are read as lines (`h`, `n`, `q`, then Enter), on a terminal
//! as from a pipe: the terminal stays in its normal mode, so there is no
//! mode to restore after Ctrl-C. At the end of piped input it keeps
//! watching until interrupted; on a terminal, Ctrl-D quits like `q`.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::Watcher;
use support::say;
use test_support::layout::exercises::Exercise;

use crate::init;
use crate::progress::{self, LessonState};
use tooling::grade::{self, Verdict};
use tooling::{COLUMNS, Result, wrap};

/// What wakes the loop up.
enum Input {
    /// A file under a watched directory was written, created or renamed.
    Saved,
    /// A line typed or piped in.
    Command(String),
    /// Standard input ended.
    Closed,
    /// A grading started on a save has finished: the lesson's state with
    /// its verdicts recorded, and the outcome (or why it could not grade).
    Graded(Box<Graded>),
}

/// What a grading in the background hands back to the loop.
struct Graded {
    at: (usize, usize),
    state: LessonState,
    outcome: Result<Outcome>,
    took: Duration,
}

/// How long to wait after a save for the editor's other writes (a backup,
/// the rename) before grading.
const SETTLE: Duration = Duration::from_millis(60);

pub fn cmd_watch(args: Vec<OsString>) -> Result<ExitCode> {
    if !tooling::no_arguments("watch", args)? {
        return Ok(ExitCode::SUCCESS);
    }
    let root = tooling::workspace_root()?;
    let lessons = test_support::layout::discover(&root)?;
    // Every exercise passes here: nothing to watch, and no reason to build
    // and grade every lesson (minutes, the first time) to say so.
    if init::holds_solutions(&lessons) {
        say!("{}", init::reference_note());
        return Ok(ExitCode::SUCCESS);
    }
    let (sender, inputs) = mpsc::channel::<Input>();
    let saves = sender.clone();
    let sender_for_grading = sender.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let relevant = !event.kind.is_access()
            && event
                .paths
                .iter()
                .any(|p| p.extension().is_some_and(|e| e == "rs"));
        if relevant {
            let _ = saves.send(Input::Saved);
        }
    })
    .map_err(|e| format!("cannot watch files: {e}"))?;
    for lesson in &lessons {
        let src = lesson.dir.join("src");
        watcher
            .watch(&src, notify::RecursiveMode::Recursive)
            .map_err(|e| format!("cannot watch {}: {e}", src.display()))?;
    }
    let terminal = std::io::stdin().is_terminal();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if sender.send(Input::Command(line.trim().to_owned())).is_err() {
                return;
            }
        }
        let _ = sender.send(Input::Closed);
    });

    tooling::announce_first_build(
        // The grader always builds in the tree's own target/ (init did).
        &root.join("target/debug"),
        "every lesson's graded tests, to see where you stand",
        "a few minutes",
    );
    tooling::note!("Checking where you stand (only lessons that changed are graded again)...");
    let (mut states, _) = progress::survey(&root, &mut |line| tooling::note!("{line}"))?;
    let mut screen = Screen {
        root: root.clone(),
        terminal,
        current: first_unsolved(&states, None),
    };
    if screen.current.is_none() {
        say!("Every exercise passes: there is nothing left to watch. Well done.");
        return Ok(ExitCode::SUCCESS);
    }
    screen.show(&states, None);

    // Grading runs in a thread of its own, so that `h` and `q` are answered
    // at once, even while a test that loops forever runs out its time. A
    // save during a grading is graded when it ends. `q` (or Ctrl-C) during
    // a grading ends the tests too: they die with the grader (SIGKILL, by
    // PR_SET_PDEATHSIG).
    let graders = sender_for_grading;
    let mut grading = false;
    let mut saved_meanwhile = false;
    let mut pending: VecDeque<Input> = VecDeque::new();
    loop {
        let input = match pending.pop_front() {
            Some(input) => input,
            None => inputs
                .recv()
                .map_err(|_| "the file watcher stopped".to_owned())?,
        };
        match input {
            Input::Saved => {
                std::thread::sleep(SETTLE);
                while let Ok(more) = inputs.try_recv() {
                    if !matches!(more, Input::Saved) {
                        pending.push_back(more);
                    }
                }
                if grading {
                    saved_meanwhile = true;
                    continue;
                }
                let Some(at) = screen.current else {
                    continue;
                };
                grading = true;
                start_grading(&root, &states[at.0], at, graders.clone());
                say!("Saved: grading {} ...", exercise_number(&states, at));
            }
            Input::Graded(graded) => {
                grading = false;
                let Graded {
                    at: (l, e),
                    state,
                    outcome,
                    took,
                } = *graded;
                // A grader that cannot grade (the environment, not the
                // code) is said, and the next save tries again.
                let verdict = match outcome {
                    Ok(verdict) => verdict,
                    Err(message) => {
                        say!(
                            "{}",
                            wrap(&format!("Cannot grade: {message}"), COLUMNS, "  ")
                        );
                        continue;
                    }
                };
                states[l] = state;
                let shown = screen.current;
                screen.current = Some((l, e));
                screen.show(&states, Some((verdict, took)));
                if states[l].solved(&states[l].exercises[e]) {
                    screen.current = first_unsolved(&states, Some((l, e)));
                    match screen.current {
                        Some(next) => screen.announce_next(&states, next),
                        None => {
                            say!("Every exercise passes. Well done!");
                            return Ok(ExitCode::SUCCESS);
                        }
                    }
                } else if shown != Some((l, e)) {
                    // `n` was typed while it was graded: stay on that choice.
                    screen.current = shown;
                    screen.show(&states, None);
                }
                if std::mem::take(&mut saved_meanwhile) {
                    pending.push_back(Input::Saved);
                }
            }
            Input::Command(command) => match command.as_str() {
                "h" | "hint" => {
                    if let Some((l, e)) = screen.current {
                        let state = &states[l];
                        say!(
                            "\n{}\n",
                            progress::hint_text(&state.lesson, &state.exercises[e])
                        );
                    }
                }
                "n" | "next" => {
                    screen.current = first_unsolved(&states, screen.current).or(screen.current);
                    screen.show(&states, None);
                }
                "q" | "quit" => return Ok(ExitCode::SUCCESS),
                "" => {}
                other => {
                    say!("'{other}'? Type h (hint), n (next exercise) or q (quit), then Enter.")
                }
            },
            Input::Closed if terminal => return Ok(ExitCode::SUCCESS),
            Input::Closed => {} // keep watching until interrupted
        }
    }
}

/// Grades exercise `at` of `state`'s lesson again in a thread of its own;
/// the result arrives on `done` as [`Input::Graded`].
fn start_grading(root: &Path, state: &LessonState, at: (usize, usize), done: mpsc::Sender<Input>) {
    let root = root.to_owned();
    let mut state = state.clone();
    std::thread::spawn(move || {
        let started = Instant::now();
        let outcome = regrade(&root, &mut state, at.1);
        let _ = done.send(Input::Graded(Box::new(Graded {
            at,
            state,
            outcome,
            took: started.elapsed(),
        })));
    });
}

/// "1.1", the number an exercise's title gives it (or its function's name).
fn exercise_number(states: &[LessonState], (l, e): (usize, usize)) -> String {
    let exercise = &states[l].exercises[e];
    exercise
        .title
        .strip_prefix("Exercise ")
        .and_then(|t| t.split(':').next())
        .map_or_else(|| exercise.function.clone(), |n| format!("exercise {n}"))
}

/// The first exercise after `after` (from the start for `None`, wrapping
/// round) that does not pass yet.
fn first_unsolved(states: &[LessonState], after: Option<(usize, usize)>) -> Option<(usize, usize)> {
    let all: Vec<(usize, usize)> = states
        .iter()
        .enumerate()
        .flat_map(|(l, s)| (0..s.exercises.len()).map(move |e| (l, e)))
        .collect();
    let start = after
        .and_then(|at| all.iter().position(|x| *x == at))
        .map_or(0, |i| i + 1);
    (0..all.len())
        .map(|i| all[(start + i) % all.len()])
        .find(|&(l, e)| after != Some((l, e)) && !states[l].solved(&states[l].exercises[e]))
}

/// What grading one exercise again gave: each test's verdict, or the
/// lesson's first compiler error.
enum Outcome {
    Tests(Vec<grade::TestResult>),
    DoesNotCompile(String),
}

/// Grades exercise `e` of `state`'s lesson again (its tests only) through
/// the grader's core, and records the verdicts in `state`.
fn regrade(root: &Path, state: &mut LessonState, e: usize) -> Result<Outcome> {
    let exercise: &Exercise = &state.exercises[e];
    let mut tests: Vec<grade::GradedTest> = state
        .tests
        .iter()
        .filter(|t| exercise.tests.contains(&t.name))
        .cloned()
        .collect();
    if tests.is_empty() {
        tests = state.tests.clone();
    }
    let results = crate::progress::grade_own_work(root, &state.lesson, &tests)?;
    let compile_error = results.iter().find_map(|r| match &r.verdict {
        Verdict::DidNotRun(reason) if reason.starts_with("does not compile") => Some(
            reason
                .split_once('\n')
                .map_or(reason.as_str(), |(_, rest)| rest)
                .to_owned(),
        ),
        _ => None,
    });
    if let Some(error) = compile_error {
        state.outcome = Err(error.clone());
        return Ok(Outcome::DoesNotCompile(error));
    }
    state.record(&results);
    Ok(Outcome::Tests(results))
}

/// The watch screen: which exercise, its verdict, the progress bar.
struct Screen {
    root: std::path::PathBuf,
    terminal: bool,
    /// The exercise being worked on: (lesson, exercise) indexes.
    current: Option<(usize, usize)>,
}

impl Screen {
    fn show(&self, states: &[LessonState], verdict: Option<(Outcome, Duration)>) {
        let Some((l, e)) = self.current else { return };
        let state = &states[l];
        let exercise = &state.exercises[e];
        if self.terminal {
            support::out::text("\x1b[2J\x1b[H");
        }
        let lesson = state.lesson.dir_name();
        say!("{}", rule(&format!("watch: {lesson} ")));
        say!("{}", wrap(&exercise.title, COLUMNS, "  "));
        let file = state
            .lesson
            .dir
            .join(test_support::layout::EXERCISES)
            .strip_prefix(&self.root)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        say!(
            "{}",
            wrap(
                &format!("in {file}, fn {}", exercise.function),
                COLUMNS,
                "  "
            )
        );
        say!();
        match verdict {
            None => match &state.outcome {
                Err(error) => {
                    say!("Does not compile:");
                    for line in short_error(error) {
                        say!("  {line}");
                    }
                }
                Ok(passed) => {
                    let passing = exercise.tests.iter().filter(|t| passed.contains(t)).count();
                    say!(
                        "Not solved yet: {passing} of its {} tests pass. Save to grade it again.",
                        exercise.tests.len()
                    );
                }
            },
            Some((Outcome::DoesNotCompile(error), took)) => {
                say!("Does not compile (checked in {:.1} s):", took.as_secs_f64());
                for line in short_error(&error) {
                    say!("  {line}");
                }
            }
            Some((Outcome::Tests(results), took)) => {
                let failed = results.iter().filter(|r| !r.verdict.passed()).count();
                if failed == 0 {
                    say!(
                        "Passed: all {} of its tests (graded in {:.1} s).",
                        results.len(),
                        took.as_secs_f64()
                    );
                } else {
                    say!(
                        "Not yet: {failed} of its {} tests fail (graded in {:.1} s).",
                        results.len(),
                        took.as_secs_f64()
                    );
                }
                // One reason for several tests (a missing file, an exit())
                // is said once: what is shown of it is its first line.
                let mut said_before = String::new();
                for result in results.iter().filter(|r| !r.verdict.passed()) {
                    let reason = result.verdict.to_string();
                    let first = first_line(&reason).to_owned();
                    let (status, name) = (result.verdict.status(), &result.test.name);
                    if first == said_before {
                        say!("{}", clip(&format!("  {status} {name}: the same"), COLUMNS));
                    } else {
                        say!("{}", failure_lines(status, name, &reason));
                        said_before = first;
                    }
                }
            }
        }
        say!();
        say!("{}", bar(states));
        say!("Save to grade again.  h hint   n next exercise   q quit   (then Enter)");
    }

    fn announce_next(&self, states: &[LessonState], (l, e): (usize, usize)) {
        let title = &states[l].exercises[e].title;
        say!("{}", wrap(&format!("\nNext: {title}"), COLUMNS, "  "));
        say!("Save a file to grade it, or type n for another.");
    }
}

/// `── text ─────…` across the 80 columns.
fn rule(text: &str) -> String {
    let used = 3 + text.chars().count();
    format!("── {text}{}", "─".repeat(COLUMNS.saturating_sub(used)))
}

/// The progress bar: exercises solved of all, and points.
fn bar(states: &[LessonState]) -> String {
    const WIDTH: usize = 30;
    let total: usize = states.iter().map(|s| s.exercises.len()).sum();
    let solved: usize = states
        .iter()
        .map(|s| s.exercises.iter().filter(|e| s.solved(e)).count())
        .sum();
    let earned: u32 = states.iter().map(LessonState::earned).sum();
    let maximum: u32 = states.iter().flat_map(|s| &s.tests).map(|t| t.points).sum();
    let filled = (solved * WIDTH).checked_div(total).unwrap_or(0);
    format!(
        "Progress [{}{}] {solved}/{total} exercises, {earned}/{maximum} points",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled)
    )
}

/// The compiler's first error, short: as rustc shows it (its message,
/// where, the source line it points at), at most 8 lines, each cut to fit.
fn short_error(error: &str) -> Vec<String> {
    let start = error.lines().position(|l| l.starts_with("error"));
    error
        .lines()
        .skip(start.unwrap_or(0))
        .take_while(|l| !l.trim().is_empty())
        .take(8)
        .map(|l| clip(l, COLUMNS - 2))
        .collect()
}

/// A failing test as watch shows it: its status and name, then the first
/// line of the reason, wrapped (never cut mid-word) in at most 3 lines.
fn failure_lines(status: &str, test: &str, reason: &str) -> String {
    let first = first_line(reason);
    let wrapped = wrap(first.trim(), COLUMNS - 6, "");
    let mut lines: Vec<String> = vec![clip(&format!("  {status} {test}:"), COLUMNS)];
    for (i, line) in wrapped.lines().enumerate() {
        if i == 3 {
            lines[3].push_str(" …");
            break;
        }
        lines.push(clip(&format!("    {line}"), COLUMNS));
    }
    lines.join("\n")
}

/// The first line of `reason` that is not blank.
fn first_line(reason: &str) -> &str {
    reason.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// `line` cut to `width` characters, with `…` when cut.
fn clip(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        line.to_owned()
    } else {
        let mut short: String = line.chars().take(width - 1).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_clipped_to_the_width() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        assert_eq!(rule("x ").chars().count(), COLUMNS);
    }

    #[test]
    fn a_failure_reason_is_wrapped_not_cut() {
        let reason = "did not finish in 10 s (an endless loop, or waiting for something \
                      that never happens)\nmore";
        let shown = failure_lines("timed-out", "write_u32s_truncates_a_longer_file", reason);
        assert!(
            shown.lines().all(|l| l.chars().count() <= COLUMNS),
            "{shown}"
        );
        assert!(shown.contains("never happens)"), "{shown}");
        assert!(!shown.contains("more"), "{shown}");
        let long = "word ".repeat(100);
        let shown = failure_lines("failed", "t", &long);
        assert_eq!(shown.lines().count(), 4, "{shown}");
        assert!(shown.ends_with(" …"), "{shown}");
    }

    #[test]
    fn the_first_compile_error_is_short() {
        let error = "error[E0308]: mismatched types\n  --> lessons/01-x/src/exercises.rs:3:5\n   |\n3  |     1u8\n   |     ^^^ expected `u32`\n\nerror: aborting\n";
        let short = short_error(&format!("does not compile:\n{error}"));
        assert_eq!(short[0], "error[E0308]: mismatched types");
        assert_eq!(short[1], "  --> lessons/01-x/src/exercises.rs:3:5");
        assert_eq!(short.len(), 5, "{short:?}");
        assert!(short.iter().all(|l| l.chars().count() <= COLUMNS - 2));
    }
}
