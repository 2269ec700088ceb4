//! The learner's front door, driven as a learner drives it: `init` writes a
//! copy of lesson 1 with its exercises stubbed and builds it; in that copy
//! `grade`, `progress` and `hint` agree on the stubs; `watch` (spawned,
//! stdin a pipe) grades exercise 1.1 when its file is saved, by a rename as
//! editors save, and its verdict changes when the solution is saved; then
//! all four agree on the solutions. Every wait is bounded. Tests never
//! fork; they spawn.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::ChildOutcome;
use support::spawn::{Captured, output_bounded};
use test_support::layout::{self, exercises, solutions};

/// A cold build of a lesson and its graded tests on a busy 2-CPU machine.
const BUILD_LIMIT: Duration = Duration::from_secs(1200);
/// One command in an already built copy.
const COMMAND_LIMIT: Duration = Duration::from_secs(300);

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The reference's xtask, as `cargo xtask` runs it here.
fn reference_xtask(args: &[&str], limit: Duration) -> Captured {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .args(args)
        .current_dir(workspace())
        .env("CARGO_MANIFEST_DIR", workspace().join("xtask"))
        .env_remove("CARGO_TARGET_DIR");
    output_bounded(&mut command, limit).unwrap()
}

/// `cargo xtask ARGS` in the learner's copy, as the learner types it.
fn in_copy(copy: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
    command
        .arg("xtask")
        .args(args)
        .current_dir(copy)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MANIFEST_DIR");
    command
}

fn run_in_copy(copy: &Path, args: &[&str]) -> Captured {
    let run = output_bounded(&mut in_copy(copy, args), COMMAND_LIMIT).unwrap();
    // Cargo has nothing to say against the copy before xtask starts: no
    // warning (of a profile naming a lesson the copy left out, say).
    let cargo_said = run.stderr.split("Running `").next().unwrap_or_default();
    assert!(
        !cargo_said.lines().any(|l| l.starts_with("warning")),
        "cargo xtask {args:?}: cargo warned in the copy:\n{}",
        run.stderr
    );
    run
}

/// Every line of `text` fits 80 columns.
fn assert_fits(what: &str, text: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "{what}: a line of {} columns:\n{line}",
            line.chars().count()
        );
    }
}

/// `grade --json`'s score and maximum.
fn graded_score(copy: &Path) -> (u32, u32) {
    let report = copy.join("target/learner-grade.json");
    let run = run_in_copy(
        copy,
        &["grade", "file-mapping", "--json", report.to_str().unwrap()],
    );
    assert!(
        matches!(run.outcome, ChildOutcome::Exited(0 | 1)),
        "grade: {run:?}"
    );
    let json = fs::read_to_string(&report).unwrap();
    let number = |key: &str| -> u32 {
        let at = json.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
        json[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    (number("score"), number("max_score"))
}

/// `progress`'s "E/M points", as printed.
fn progress_points(copy: &Path) -> String {
    let run = run_in_copy(copy, &["progress"]);
    assert!(
        matches!(run.outcome, ChildOutcome::Exited(0 | 1)),
        "progress: {run:?}"
    );
    assert_fits("progress", &run.stdout);
    let at = run
        .stdout
        .find(" points.")
        .unwrap_or_else(|| panic!("no points in progress:\n{}", run.stdout));
    run.stdout[..at].rsplit(' ').next().unwrap().to_owned()
}

/// Saves `text` as `path` the way editors do: a new file renamed over it.
fn save_by_rename(path: &Path, text: &str) {
    let temp = path.with_extension("rs.swap");
    fs::write(&temp, text).unwrap();
    fs::rename(&temp, path).unwrap();
}

/// `watch`, spawned with stdin a pipe; its stdout lines arrive on a channel.
struct Watch {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    /// Waits, at most `limit`, for a line that starts with `prefix`.
    fn expect(&mut self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "watch never printed '{prefix}' in {limit:?}; it printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn init_then_watch_progress_hint_and_grade_agree() {
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("exercises");
    let started = Instant::now();
    let init = reference_xtask(
        &["init", copy.to_str().unwrap(), "--lessons", "file-mapping"],
        BUILD_LIMIT,
    );
    eprintln!(
        "init (lesson 1) took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(init.outcome.is_success(), "init: {init:?}");
    assert_fits("init", &init.stdout);
    for next in [
        "cd ",
        "cargo xtask run-lesson file-mapping",
        "cargo xtask watch",
    ] {
        assert!(init.stdout.contains(next), "{next}: {}", init.stdout);
    }
    // The learner's copy: stubs, no instructor's material, not a repository.
    let exercise_file = copy.join("lessons/01-file-mapping").join(layout::EXERCISES);
    let stub = fs::read_to_string(&exercise_file).unwrap();
    assert!(!solutions::has_solutions(&stub) && stub.contains("todo!("));
    for gone in [
        "tooling/grader/tests",
        "tooling/grader/src/class",
        "tooling/grader/src/verify.rs",
        ".ci",
        "book/src/teaching.md",
        "lessons/03-sigbus",
        ".git",
    ] {
        assert!(!copy.join(gone).exists(), "{gone} was copied");
    }
    let summary = fs::read_to_string(copy.join("book/src/SUMMARY.md")).unwrap();
    assert!(!summary.contains("instructors"), "{summary}");

    // The learner's commands, and none of the instructor's.
    let usage = run_in_copy(&copy, &["--help"]);
    assert!(usage.outcome.is_success(), "{usage:?}");
    assert!(usage.stdout.contains("  watch "), "{}", usage.stdout);
    for absent in ["grade-all", "gradescope", "verify", "  init ", "handout"] {
        assert!(!usage.stdout.contains(absent), "{absent}: {}", usage.stdout);
    }
    let refused = run_in_copy(&copy, &["grade-all", "x"]);
    assert_eq!(refused.outcome, ChildOutcome::Exited(2), "{refused:?}");

    // On the stubs: grade, progress and hint agree.
    let (score, maximum) = graded_score(&copy);
    assert_eq!(score, 0, "the stubs earn nothing");
    assert!(maximum > 0);
    assert_eq!(progress_points(&copy), format!("0/{maximum}"));
    let lesson = layout::find(&copy, "file-mapping").unwrap();
    let all = exercises::of_lesson(&lesson).unwrap();
    let hint = run_in_copy(&copy, &["hint", "01-file-mapping"]);
    assert!(hint.outcome.is_success(), "hint: {hint:?}");
    assert_fits("hint", &hint.stdout);
    assert!(
        hint.stdout.starts_with("Exercise 1.1:"),
        "hint names the first unsolved exercise:\n{}",
        hint.stdout
    );

    // watch: the stub saved again is graded and fails; the solution passes.
    let mut child = in_copy(&copy, &["watch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut watch = Watch {
        child,
        lines,
        seen: Vec::new(),
    };
    let started = Instant::now();
    watch.expect("── watch: 01-file-mapping", COMMAND_LIMIT);
    watch.expect("Exercise 1.1:", COMMAND_LIMIT);
    watch.expect("Not solved yet: 0 of its", COMMAND_LIMIT);
    let bar = watch.expect("Progress [", COMMAND_LIMIT);
    eprintln!(
        "first watch screen after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        bar.contains(&format!("0/{} exercises, 0/{maximum} points", all.len())),
        "{bar}"
    );
    save_by_rename(&exercise_file, &stub);
    let failing = watch.expect("Not yet: ", COMMAND_LIMIT);
    assert!(failing.contains("tests fail"), "{failing}");
    let solved =
        fs::read_to_string(lesson.in_tree(workspace()).dir.join(layout::EXERCISES)).unwrap();
    let saved = Instant::now();
    save_by_rename(&exercise_file, &solved);
    let passed = watch.expect("Passed: all ", COMMAND_LIMIT);
    eprintln!(
        "save -> verdict: {:.1} s ({passed})",
        saved.elapsed().as_secs_f64()
    );
    watch.expect("Progress [#", COMMAND_LIMIT);
    watch.expect("Next: Exercise 1.2:", COMMAND_LIMIT);
    watch
        .child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"h\nq\n")
        .unwrap();
    watch.expect("Hint:", COMMAND_LIMIT);
    let ended = support::spawn::wait_bounded(&mut watch.child, COMMAND_LIMIT).unwrap();
    assert!(ended.is_success(), "watch ended {ended:?}");
    assert_fits("watch", &watch.seen.join("\n"));

    // On the solutions: grade and progress agree, full marks.
    let (score, maximum) = graded_score(&copy);
    assert_eq!(score, maximum, "the solutions earn every point");
    assert_eq!(progress_points(&copy), format!("{maximum}/{maximum}"));
}

#[test]
fn init_refuses_a_place_inside_the_workbook_or_a_full_directory() {
    let inside: PathBuf = workspace().join("target/learner-inside");
    let refused = reference_xtask(&["init", inside.to_str().unwrap()], COMMAND_LIMIT);
    assert_eq!(refused.outcome, ChildOutcome::Exited(2), "{refused:?}");
    assert!(
        refused.stderr.contains("inside the workbook"),
        "{refused:?}"
    );
    assert!(!inside.exists());
    let full = tempfile::tempdir().unwrap();
    fs::write(full.path().join("notes.txt"), "mine").unwrap();
    let refused = reference_xtask(&["init", full.path().to_str().unwrap()], COMMAND_LIMIT);
    assert_eq!(refused.outcome, ChildOutcome::Exited(2), "{refused:?}");
    assert!(refused.stderr.contains("is not empty"), "{refused:?}");
    assert_eq!(fs::read_dir(full.path()).unwrap().count(), 1);
}

#[test]
fn ctrl_c_during_init_leaves_no_half_copy() {
    use std::os::unix::process::CommandExt;
    // From at once to well into the copy (about 0.1-1 s here): each run
    // ends with nothing beside DIR, and DIR either absent or whole.
    for delay_ms in [0, 15, 30, 60, 100, 150, 250, 400] {
        let scratch = tempfile::tempdir().unwrap();
        let copy = scratch.path().join("mine");
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"));
        child
            .args(["init", copy.to_str().unwrap(), "--lessons", "file-mapping"])
            .current_dir(workspace())
            .env("CARGO_MANIFEST_DIR", workspace().join("xtask"))
            .env_remove("CARGO_TARGET_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group, as a terminal's foreground job: Ctrl-C reaches
            // xtask and the cargo it runs alike.
            .process_group(0);
        let mut child = child.spawn().unwrap();
        let group = nix::unistd::Pid::from_raw(child.id() as i32);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGINT);
        let ended = support::spawn::wait_bounded(&mut child, COMMAND_LIMIT).unwrap();
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let left: Vec<String> = fs::read_dir(scratch.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            left.is_empty() || left == ["mine"],
            "after Ctrl-C at {delay_ms} ms ({ended:?}), left beside the copy: {left:?}"
        );
        if copy.exists() {
            assert!(
                copy.join(".workbook/manifest").is_file()
                    && copy.join("lessons/01-file-mapping/src").is_dir(),
                "after Ctrl-C at {delay_ms} ms, a half copy"
            );
        }
    }
}

#[test]
fn init_refuses_what_is_not_a_directory_before_copying() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("notes.txt");
    fs::write(&file, "mine").unwrap();
    let dangling = scratch.path().join("gone");
    std::os::unix::fs::symlink(scratch.path().join("nowhere"), &dangling).unwrap();
    let long = scratch.path().join("x".repeat(300));
    for (dest, said) in [
        (&file, "is not a directory"),
        (&dangling, "symbolic link to nothing"),
        (&long, "at most 255"),
    ] {
        let refused = reference_xtask(&["init", dest.to_str().unwrap()], COMMAND_LIMIT);
        assert_eq!(refused.outcome, ChildOutcome::Exited(2), "{refused:?}");
        let one_line = refused.stderr.replace('\n', " ");
        assert!(one_line.contains(said), "{said}: {refused:?}");
        // An error is one unwrapped line (scripts read the reason from
        // it; a terminal wraps it), so its width is not held to 80.
        assert_eq!(
            refused
                .stderr
                .lines()
                .filter(|l| l.starts_with("error: "))
                .count(),
            1,
            "{refused:?}"
        );
    }
    let mut left: Vec<String> = fs::read_dir(scratch.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["gone", "notes.txt"], "nothing written beside them");
}

#[test]
fn watch_in_the_reference_points_to_init_without_grading() {
    let run = reference_xtask(&["watch"], COMMAND_LIMIT);
    assert!(run.outcome.is_success(), "{run:?}");
    assert!(run.stdout.contains("cargo xtask init"), "{run:?}");
    assert!(!run.stderr.contains("Checking where you stand"), "{run:?}");
    assert_fits("watch", &run.stdout);
}

#[test]
fn learner_commands_fit_80_columns() {
    for args in [
        &["--help"][..],
        &["list"],
        &["hint", "1", "1.1"],
        &["hint", "3", "3.1"],
        &["init", "--help"],
        &["watch", "--help"],
    ] {
        let run = reference_xtask(args, COMMAND_LIMIT);
        assert!(!run.stdout.is_empty(), "{args:?}: {run:?}");
        assert_fits(&format!("{args:?}"), &run.stdout);
        assert_fits(&format!("{args:?}"), &run.stderr);
    }
}

#[test]
fn a_closed_pipe_ends_xtask_quietly() {
    // `cargo xtask list | head -1`, with the reader gone before the write.
    // The read end is closed before the spawn: closed after it, a process
    // another test forks meanwhile may hold it open, and the write succeeds.
    let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    drop(reader);
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--help")
        .current_dir(workspace())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let ended = support::spawn::wait_bounded(&mut child, COMMAND_LIMIT).unwrap();
    let mut said = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut said).unwrap();
    assert_eq!(
        ended,
        ChildOutcome::Signaled(nix::sys::signal::Signal::SIGPIPE),
        "{said}"
    );
    assert_eq!(said, "");
}
