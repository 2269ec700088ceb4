//! The grader under attack: each way a student could fake or break a score,
//! tried on a scratch handout as a student would, in the handout's own
//! directory. The grader's commands run this build's grader there, as
//! `cargo xtask` runs it (the code is the same) but without first building
//! each tree's own copy of xtask and the grader (about 10 s of CPU a tree);
//! `cargo xtask` itself, the way to the grader, is taken by xtask's own
//! commands (`progress`) and by the moved checkout, whose point it is.
//!
//! Handouts are written once and shared: one per test thread, so that a
//! test seldom waits for another's turn, and each test has a handout to
//! itself while it uses it. Only lesson 1 (file-mapping) is graded, to keep
//! the builds small.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use support::ChildOutcome;
use support::spawn::{Captured, output_bounded};

const EXERCISES: &str = "lessons/01-file-mapping/src/exercises.rs";
const GRADED: &str = "lessons/01-file-mapping/tests/graded.rs";
/// The stub the attacks replace: exercise 1.2, worth 2 + 1 + 1 points.
const HEXDUMP_STUB: &str = "todo!(\"map {} read-only and hexdump it\", path.display())";
/// Exercise 1.3's stub: a pure function, whose runner has no seccomp
/// filter (1.1, 1.2 and 1.4 may not read or write files but through a
/// mapping), so an attack planted here may do all that a process can.
const ROUND_STUB: &str = "todo!(\"round {len} up to a multiple of {page_size}\")";
/// How long any one grading may take before the test calls it hung.
const GRADE_LIMIT: Duration = Duration::from_secs(300);

struct Scratch {
    handout: PathBuf,
    stub_source: String,
}

/// How many handouts the tests share: one per test thread (`cargo test`
/// runs two here). A handout costs builds of its lessons (and of xtask, in
/// the one `progress` runs in), so not one per test.
const HANDOUTS: usize = 2;

/// The shared handouts, each written on its first turn.
static HANDOUT_SLOTS: [Mutex<Option<Scratch>>; HANDOUTS] = [const { Mutex::new(None) }; HANDOUTS];

/// The shared handouts' directories. They are removed when the test
/// program exits (`atexit`): each run would otherwise leave handouts with
/// their builds, over a gigabyte each, in TMPDIR.
static SHARED_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" fn remove_shared_dirs() {
    let dirs = SHARED_DIRS.lock().unwrap_or_else(|e| e.into_inner());
    for dir in dirs.iter() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// A test's turn on one shared handout: the handout is the test's alone
/// until the turn is dropped.
struct Turn(MutexGuard<'static, Option<Scratch>>);

impl std::ops::Deref for Turn {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        self.0.as_ref().expect("a turn always holds a handout")
    }
}

/// A shared handout no other test is using (or, with more test threads
/// than handouts, the next one to come free), pristine: hold the turn while
/// using it.
fn handout() -> Turn {
    let free = HANDOUT_SLOTS.iter().find_map(|slot| match slot.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    });
    let mut guard = free.unwrap_or_else(|| {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let next = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % HANDOUTS;
        HANDOUT_SLOTS[next]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    });
    let scratch = guard.get_or_insert_with(write_handout);
    // Every test starts from the pristine handout.
    fs::write(scratch.handout.join(EXERCISES), &scratch.stub_source).unwrap();
    Turn(guard)
}

/// Writes a handout in a directory of its own (some tests plant files in,
/// or close, the directory above it), with warm build caches for its own
/// gradings and for the submissions graded against it.
fn write_handout() -> Scratch {
    let dir = tempfile::tempdir().unwrap().keep();
    {
        let mut dirs = SHARED_DIRS.lock().unwrap_or_else(|e| e.into_inner());
        if dirs.is_empty() {
            // SAFETY: atexit only records a function pointer; the function
            // takes nothing and touches only a static.
            unsafe {
                libc::atexit(remove_shared_dirs);
            }
        }
        dirs.push(dir.clone());
    }
    let handout = dir.join("handout");
    let run = output_bounded(
        Command::new(env!("CARGO_BIN_EXE_grader"))
            .args(["handout"])
            .arg(&handout),
        GRADE_LIMIT,
    )
    .unwrap();
    assert!(run.outcome.is_success(), "handout failed: {}", run.stderr);
    warm::target_of(&handout);
    warm::submissions_of(&handout);
    let stub_source = fs::read_to_string(handout.join(EXERCISES)).unwrap();
    assert!(
        stub_source.contains(HEXDUMP_STUB),
        "the stub to attack moved"
    );
    Scratch {
        handout,
        stub_source,
    }
}

/// The grader, to run in `tree` as `cargo xtask` runs it there: the
/// workbook it finds from there, no target directory of ours.
fn grader(tree: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_grader"));
    command
        .current_dir(tree)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MANIFEST_DIR");
    command
}

/// `cargo xtask ARGS` in `tree`, as a student runs it, with
/// `CARGO_TARGET_DIR` set to `target_dir` if given; the grader's commands
/// (`grade`, `grade-all`) go to the grader directly, unless a target
/// directory is given (see the module's comment).
fn xtask(tree: &Path, args: &[&str], target_dir: Option<&Path>) -> Captured {
    let mut command =
        if target_dir.is_none() && matches!(args.first(), Some(&"grade" | &"grade-all")) {
            grader(tree)
        } else {
            let mut cargo = Command::new(env!("CARGO"));
            cargo
                .arg("xtask")
                .current_dir(tree)
                .env_remove("CARGO_TARGET_DIR")
                .env_remove("CARGO_MANIFEST_DIR");
            cargo
        };
    command.args(args);
    if let Some(dir) = target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    let run = output_bounded(&mut command, GRADE_LIMIT).unwrap();
    assert!(
        !matches!(run.outcome, ChildOutcome::TimedOut(_)),
        "the grader did not finish in {GRADE_LIMIT:?}: it hangs"
    );
    run
}

/// `cargo xtask grade file-mapping --template HANDOUT --submission DIR
/// EXTRA…`: a student's copy graded against the handout, as an instructor
/// grades it.
fn grade_against_handout(scratch: &Scratch, submission: &Path, extra: &[&str]) -> Captured {
    let template = scratch.handout.to_str().unwrap();
    let submission = submission.to_str().unwrap();
    let mut args = vec!["grade", "file-mapping", "--template", template];
    args.extend(["--submission", submission]);
    args.extend_from_slice(extra);
    xtask(&scratch.handout, &args, None)
}

/// Grades lesson 1 in `tree` with a short time limit; returns the run and
/// the score line.
fn grade(tree: &Path, extra: &[&str]) -> (Captured, String) {
    let mut args = vec!["grade", "file-mapping", "--timeout", "2"];
    args.extend_from_slice(extra);
    let run = xtask(tree, &args, None);
    let score = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Score: "))
        .unwrap_or_else(|| panic!("no score:\n{}\n{}", run.stdout, run.stderr))
        .to_owned();
    (run, score)
}

/// The table row of `test`, then the lines under it as one (the table wraps
/// a long message at spaces).
fn row(stdout: &str, test: &str) -> String {
    let mut lines = stdout
        .lines()
        .skip_while(|l| !(l.starts_with("  ") && l.ends_with(&format!("  {test}"))));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no row for {test}:\n{stdout}"));
    let detail: Vec<&str> = lines
        .take_while(|l| l.starts_with("               "))
        .map(str::trim)
        .collect();
    format!("{first}\n{}", detail.join(" "))
}

/// Lesson 1's maximum, from its graded tests' `// points:` lines.
fn lesson_1_max() -> u32 {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap();
    let lesson = test_support::layout::find(root, "file-mapping").unwrap();
    lesson
        .graded_tests()
        .unwrap()
        .iter()
        .map(|t| t.points)
        .sum()
}

/// The handout's exercise file with exercise 1.3 (2 points) solved.
fn solve_exercise_1_3(stubs: &str) -> String {
    stubs.replace(ROUND_STUB, "len.div_ceil(page_size) * page_size")
}

/// A student's clone of the handout at `to`, with exercise 1.3 solved.
fn solved_copy(scratch: &Scratch, to: &Path) {
    copy_sources(&scratch.handout, to);
    fs::write(to.join(EXERCISES), solve_exercise_1_3(&scratch.stub_source)).unwrap();
}

/// The command lines of running processes that contain `marker`.
fn running_with(marker: &str) -> Vec<String> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(marker))
        .collect()
}

fn attack(scratch: &Scratch, code: &str) {
    let path = scratch.handout.join(EXERCISES);
    fs::write(&path, scratch.stub_source.replace(ROUND_STUB, code)).unwrap();
}

#[test]
fn the_handout_scores_zero_and_says_why() {
    let scratch = handout();
    let (run, score) = grade(&scratch.handout, &[]);
    assert_eq!(
        score,
        format!("Score: 0/{}", lesson_1_max()),
        "{}",
        run.stdout
    );
    assert!(row(&run.stdout, "hexdump_matches_the_files_bytes").contains("not yet implemented"));
}

/// Exercise 1.1's stub, replaced in [`misbehaving`].
const WRITE_STUB: &str =
    "todo!(\"write {} values into {} through a mapping\", values.len(), path.display())";
/// Exercise 1.4's stub, replaced in [`misbehaving`].
const FIND_STUB: &str = "todo!(\"map {} read-only and find every {pattern:?}\", path.display())";

/// What grading one submission that misbehaves in every way but one said,
/// and what it left running: graded once, for the tests below.
struct Misbehaved {
    stdout: String,
    /// Processes still running after grading, by their command lines: the
    /// escaped `sleep`, and copies of the runner.
    survivors: Vec<String>,
}

/// Exercise 1.1 crashes (`abort`) on one test's input and floods stdout on
/// the others'; 1.2 loops forever; 1.4 stays a stub; 1.3 (whose runner
/// has no filter, so it may start a program) starts a process in a group
/// of its own, and on its first request forks a chain of 150
/// processes, each the parent of the next, each in a group of its own (a
/// sweep that killed one level a round for a fixed number of rounds, or
/// only the test's group, would leave most of them running).
fn misbehaving() -> &'static Misbehaved {
    static GRADED: OnceLock<Misbehaved> = OnceLock::new();
    GRADED.get_or_init(|| {
        let scratch = handout();
        // A marker no other process on the machine has in its command line.
        let marker = format!("{}.{}", 600 + std::process::id() % 100, std::process::id());
        let crash_or_flood = "{ let _ = path; if values.first() == Some(&1) { std::process::abort() } \
            loop { let _ = std::io::Write::write_all(&mut std::io::stdout(), &[b'x'; 65536]); } }";
        let escape_or_chain = format!(
            "{{ use std::os::unix::process::CommandExt as _; let _ = page_size; \
             let _ = std::process::Command::new(\"sleep\").arg(\"{marker}\").process_group(0)\
             .stdout(std::process::Stdio::null()).spawn(); \
             if len == 40 {{ unsafe {{ for _ in 0..150 {{ let pid = libc::fork(); \
             if pid != 0 {{ libc::setpgid(0, 0); loop {{ libc::pause(); }} }} }} \
             loop {{ libc::pause(); }} }} }} \
             0 }}"
        );
        let source = scratch
            .stub_source
            .replace(WRITE_STUB, crash_or_flood)
            .replace(HEXDUMP_STUB, "loop { std::hint::black_box(0); }")
            .replace(ROUND_STUB, &escape_or_chain);
        for stub in [WRITE_STUB, HEXDUMP_STUB, ROUND_STUB] {
            assert!(!source.contains(stub), "a stub to attack moved: {stub}");
        }
        fs::write(scratch.handout.join(EXERCISES), source).unwrap();
        let (run, _) = grade(&scratch.handout, &[]);
        // The runner's command line: its path in this handout, and the flag.
        let runner = format!(
            "{} --exercises",
            scratch.handout.join("target/debug/file-mapping").display()
        );
        let mut survivors = running_with(&marker);
        survivors.extend(running_with(&runner));
        Misbehaved {
            stdout: run.stdout,
            survivors,
        }
    })
}

#[test]
fn an_endless_loop_a_crash_and_a_flood_cost_only_their_own_points() {
    let graded = misbehaving();
    for test in [
        "hexdump_matches_the_files_bytes",
        "hexdump_of_an_empty_file_is_empty",
        "hexdump_of_a_missing_file_is_not_found",
    ] {
        let looped = row(&graded.stdout, test);
        assert!(looped.contains("FAIL    0/"), "{looped}");
        assert!(looped.contains("did not finish in 2 s"), "{looped}");
    }
    let crashed = row(&graded.stdout, "write_u32s_sizes_the_file_exactly");
    assert!(crashed.contains("killed by SIGABRT"), "{crashed}");
    let flooded = row(
        &graded.stdout,
        "write_u32s_stores_values_in_native_byte_order",
    );
    assert!(flooded.contains("did not finish in 2 s"), "{flooded}");
    // The exercise left alone still fails the ordinary way.
    let stub = row(&graded.stdout, "find_all_counts_overlapping_matches");
    assert!(stub.contains("not yet implemented"), "{stub}");
}

#[test]
fn processes_that_leave_the_group_even_a_chain_are_killed_with_the_test() {
    let graded = misbehaving();
    let chained = row(&graded.stdout, "mmap_covers_whole_pages");
    assert!(chained.contains("did not finish"), "{chained}");
    for test in [
        "find_all_sees_matches_across_page_boundaries_and_at_the_very_end",
        "find_all_agrees_with_a_naive_search_on_random_files",
    ] {
        assert!(
            row(&graded.stdout, test).contains("FAIL"),
            "{}",
            graded.stdout
        );
    }
    assert!(
        graded.survivors.is_empty(),
        "{} left running: {:?}",
        graded.survivors.len(),
        graded.survivors.iter().take(3).collect::<Vec<_>>()
    );
}

#[test]
fn printing_a_verdict_and_exiting_earns_nothing() {
    let scratch = handout();
    let fake = "{ use std::io::Write as _; \
        let names = [\"hexdump_matches_the_files_bytes\", \"hexdump_of_an_empty_file_is_empty\", \
                     \"hexdump_of_a_missing_file_is_not_found\"]; \
        let mut out = String::new(); \
        for n in names { out.push_str(&format!(\"test {n} ... ok\\n\")); } \
        out.push_str(\"\\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\\n\"); \
        out.push_str(&format!(\"pass {}\\n\", \"0\".repeat(64))); \
        let _ = std::io::stdout().write_all(out.as_bytes()); \
        for fd in 3..10 { if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(format!(\"/proc/self/fd/{fd}\")) { let _ = f.write_all(out.as_bytes()); } } \
        std::process::exit(0) }";
    attack(&scratch, fake);
    let (run, score) = grade(&scratch.handout, &["--json", "grade.json"]);
    assert_eq!(
        score,
        format!("Score: 0/{}", lesson_1_max()),
        "{}",
        run.stdout
    );
    // The exercise runs in the runner, whose early exit leaves the checker
    // without a reply: the checker says so, and the test fails.
    let row = row(&run.stdout, "mmap_covers_whole_pages");
    assert!(
        row.contains("yours: no reply (the process running your code exited normally (code 0))"),
        "{row}"
    );
    let json = fs::read_to_string(scratch.handout.join("grade.json")).unwrap();
    fs::remove_file(scratch.handout.join("grade.json")).unwrap();
    assert!(
        json.contains(&format!("\"score\":0,\"max_score\":{}", lesson_1_max())),
        "{json}"
    );
    assert!(!json.contains("\"verdict\":\"passed\""), "{json}");
}

#[test]
fn code_that_would_run_before_main_is_refused() {
    let scratch = handout();
    let path = scratch.handout.join(EXERCISES);
    let evil = format!(
        "{}\n#[used]\n#[unsafe(link_section = \".init_array\")]\nstatic EARLY: extern \"C\" fn() = early;\nextern \"C\" fn early() {{}}\n",
        scratch.stub_source
    );
    fs::write(&path, evil).unwrap();
    let (run, score) = grade(&scratch.handout, &[]);
    assert_eq!(
        score,
        format!("Score: 0/{}", lesson_1_max()),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("`link_section` is not allowed in an exercise file"),
        "{}",
        run.stdout
    );
}

#[test]
fn edited_graded_tests_are_named_and_cannot_change_the_maximum() {
    let scratch = handout();
    let graded = scratch.handout.join(GRADED);
    let original = fs::read_to_string(&graded).unwrap();
    // Empty one test's body, drop another's #[test], inflate a third's points.
    let edited = original
        .replacen(
            "fn hexdump_matches_the_files_bytes() {",
            "fn hexdump_matches_the_files_bytes() {}\nfn _was() {",
            1,
        )
        .replacen(
            "#[test]\nfn hexdump_of_an_empty_file_is_empty",
            "fn hexdump_of_an_empty_file_is_empty",
            1,
        )
        .replacen(
            "// points: 1\n#[test]\nfn hexdump_of_a_missing_file_is_not_found",
            "// points: 50\n#[test]\nfn hexdump_of_a_missing_file_is_not_found",
            1,
        );
    assert_ne!(edited, original);
    fs::write(&graded, &edited).unwrap();
    let (run, score) = grade(&scratch.handout, &[]);
    fs::write(&graded, &original).unwrap();
    assert_eq!(
        score,
        format!("Score: 0/{}", lesson_1_max()),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stderr
            .contains("changed: lessons/01-file-mapping/tests/graded.rs"),
        "{}",
        run.stderr
    );
    let emptied = row(&run.stdout, "hexdump_matches_the_files_bytes");
    assert!(emptied.contains("FAIL    0/2"), "{emptied}");
    let deleted = row(&run.stdout, "hexdump_of_an_empty_file_is_empty");
    assert!(deleted.contains("was it deleted or renamed?"), "{deleted}");
}

#[test]
fn grading_against_the_template_ignores_everything_but_the_exercises() {
    let scratch = handout();
    // The student's copy: the solution to exercise 1.3 only, and a graded
    // test file rigged so that every test passes.
    let student_dir = tempfile::tempdir().unwrap();
    let student = student_dir.path().join("alice");
    solved_copy(&scratch, &student);
    let rigged = fs::read_to_string(student.join(GRADED))
        .unwrap()
        .replace("graded(|| {", "graded(|| { return;");
    fs::write(student.join(GRADED), rigged).unwrap();
    let run = grade_against_handout(&scratch, &student, &["--timeout", "5"]);
    assert!(
        run.stdout.contains(&format!("Score: 2/{}", lesson_1_max())),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(row(&run.stdout, "mmap_covers_whole_pages").contains("pass    2/2"));
    assert!(
        run.stderr
            .contains("changed: lessons/01-file-mapping/tests/graded.rs")
    );
}

#[test]
fn a_moved_checkout_grades_itself_and_a_shared_target_dir_changes_nothing() {
    let scratch = handout();
    // Build once where it is, then move a copy (with its target/) away.
    // (Not the build cache of the submissions graded against the handout:
    // a learner's checkout has none.)
    let _ = grade(&scratch.handout, &[]);
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("moved");
    let cache = scratch.handout.join("target/workbook-grade");
    copy_except(&scratch.handout, &moved, &[cache]);
    let broken = scratch.stub_source.replace(
        "todo!(\"round {len} up to a multiple of {page_size}\")",
        "this does not compile",
    );
    fs::write(moved.join(EXERCISES), broken).unwrap();
    let (run, score) = grade(&moved, &[]);
    assert_eq!(
        score,
        format!("Score: 0/{}", lesson_1_max()),
        "{}",
        run.stdout
    );
    // The reason every test did not run, once, under the lesson's score.
    assert_eq!(
        run.stdout.matches("did not run: does not compile").count(),
        1,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "file-mapping: 0/{}\n  did not run: does not compile",
            lesson_1_max()
        )),
        "{}",
        run.stdout
    );
    assert!(row(&run.stdout, "mmap_covers_whole_pages").contains("FAIL"));

    // One CARGO_TARGET_DIR for everything (a common setup): grading the
    // stubs, then a solved copy, gives each its own score.
    let shared = elsewhere.path().join("shared-target");
    warm::target_dir(&shared);
    let solved = solve_exercise_1_3(&scratch.stub_source);
    fs::write(moved.join(EXERCISES), &solved).unwrap();
    let stubs = xtask(&scratch.handout, &["grade", "file-mapping"], Some(&shared));
    assert!(
        stubs
            .stdout
            .contains(&format!("Score: 0/{}", lesson_1_max())),
        "{}",
        stubs.stdout
    );
    let solved_run = xtask(&moved, &["grade", "file-mapping"], Some(&shared));
    assert!(
        solved_run
            .stdout
            .contains(&format!("Score: 2/{}", lesson_1_max())),
        "{}\n{}",
        solved_run.stdout,
        solved_run.stderr
    );
}

/// `cp -a` of everything but `target/`, as a student's clone holds: the
/// handout's build (most of a gigabyte) is never read from a submission,
/// and copying it cost seconds of disk writes per copy.
fn copy_sources(from: &Path, to: &Path) {
    copy_except(from, to, &[from.join("target")]);
}

/// `cp -a` of the tree `from` to `to`, but for the paths in `skip`.
fn copy_except(from: &Path, to: &Path, skip: &[PathBuf]) {
    fs::create_dir(to).unwrap();
    fs::set_permissions(to, fs::metadata(from).unwrap().permissions()).unwrap();
    let mut command = Command::new("cp");
    command.arg("-a");
    let mut whole = 0;
    for entry in fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if skip.contains(&path) {
            continue;
        }
        if skip.iter().any(|s| s.starts_with(&path)) {
            copy_except(&path, &to.join(entry.file_name()), skip);
        } else {
            command.arg(path);
            whole += 1;
        }
    }
    if whole > 0 {
        let status = command.arg(to).status().unwrap();
        assert!(status.success());
    }
}

#[test]
fn a_test_run_as_root_cannot_change_what_grades_the_next_one() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: only a grader running as root gives each test a throwaway user");
        return;
    }
    let scratch = handout();
    // The test's directory is the lesson's; its graded tests are one level up.
    let tamper = "{ use std::io::Write as _; \
        let _ = std::fs::OpenOptions::new().append(true).open(\"tests/graded.rs\")\
        .and_then(|mut f| f.write_all(b\"// tampered\\n\")); \
        let _ = std::fs::write(\"../../planted.rs\", \"// planted\\n\"); \
        unsafe { libc::kill(libc::getppid(), libc::SIGSTOP); } \
        0 }";
    attack(&scratch, tamper);
    let graded = fs::read_to_string(scratch.handout.join(GRADED)).unwrap();
    let (run, _) = grade(&scratch.handout, &[]);
    assert_eq!(
        fs::read_to_string(scratch.handout.join(GRADED)).unwrap(),
        graded
    );
    assert!(!scratch.handout.join("planted.rs").exists());
    // The grader was not stopped: it finished and printed its table.
    assert!(run.stdout.contains("Score: "), "{}", run.stdout);
}

#[test]
fn a_linked_lesson_directory_in_a_submission_is_not_followed() {
    let scratch = handout();
    // The student's `lessons` is a link to someone else's finished work.
    let class = tempfile::tempdir().unwrap();
    let other = class.path().join("other");
    solved_copy(&scratch, &other);
    let mallory = class.path().join("mallory");
    fs::create_dir(&mallory).unwrap();
    std::os::unix::fs::symlink(other.join("lessons"), mallory.join("lessons")).unwrap();
    let run = grade_against_handout(&scratch, &mallory, &[]);
    assert!(
        run.stdout.contains(&format!("Score: 0/{}", lesson_1_max())),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    // Said once for the lesson, perhaps wrapped.
    let words = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("is not a directory (a link?)"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_cargo_configuration_planted_above_the_tree_stops_grading() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: planting a file as another user needs root");
        return;
    }
    let scratch = handout();
    // As a test run as a throwaway user could, in a directory above the tree.
    let above = scratch.handout.parent().unwrap().join(".cargo");
    fs::create_dir_all(&above).unwrap();
    // (Harmless here, so that cargo still builds the grader itself.)
    fs::write(above.join("config.toml"), "# planted\n").unwrap();
    for path in [above.join("config.toml"), above.clone()] {
        nix::unistd::chown(&path, Some(nix::unistd::Uid::from_raw(12345)), None).unwrap();
    }
    let run = xtask(&scratch.handout, &["grade", "file-mapping"], None);
    fs::remove_dir_all(&above).unwrap();
    assert!(!run.outcome.is_success(), "{}", run.stdout);
    assert!(
        run.stdout.contains("belongs to user 12345, not to you"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn progress_counts_solved_exercises_and_grades_again_only_what_changed() {
    let scratch = handout();
    let lesson_line = |out: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with("01-file-mapping"))
            .unwrap_or_else(|| panic!("no line for lesson 1:\n{out}"))
            .to_owned()
    };
    let first = xtask(&scratch.handout, &["progress"], None);
    assert_eq!(first.outcome, ChildOutcome::Exited(1), "{}", first.stderr);
    assert!(
        lesson_line(&first.stdout).contains("] 0/"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("Stuck? cargo xtask hint"),
        "{}",
        first.stdout
    );

    fs::write(
        scratch.handout.join(EXERCISES),
        solve_exercise_1_3(&scratch.stub_source),
    )
    .unwrap();
    let second = xtask(&scratch.handout, &["progress"], None);
    assert!(
        lesson_line(&second.stdout).contains("] 1/"),
        "{}",
        second.stdout
    );
    // Lesson 1 changed and was graded again; every other lesson was not.
    let graded: Vec<&str> = second
        .stderr
        .lines()
        .filter(|l| l.starts_with("checking "))
        .collect();
    assert_eq!(
        graded,
        ["checking 01-file-mapping ..."],
        "{}",
        second.stderr
    );
    assert!(
        second.stdout.contains("unchanged since the last run"),
        "{}",
        second.stdout
    );
}

mod builds;
mod judge;
mod sandbox;
mod scanner;
#[path = "../warm/mod.rs"]
mod warm;
