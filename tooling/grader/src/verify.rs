//! `cargo xtask verify`: prove the grader honest.
//!
//! 1. Every lesson with exercises is well formed: at least two stubs, a
//!    graded test file whose every test carries points; and both its
//!    solutions and its stubs pass the grader's scanner (`grade::scan`).
//! 2. On the reference solutions, every graded test passes, each run alone
//!    exactly as a student's are: full marks.
//! 3. A handout (outside the workbook, with its own target directory, which
//!    starts with the workbook's own builds of the registry's crates only)
//!    is clean under `clippy -D warnings`, and on it every graded test fails
//!    with a real verdict: a score of 0.
//! 4. Attacks on the handout score 0 too: every stub an endless loop (each
//!    test is stopped at the time limit); every stub printing libtest's
//!    "ok" lines and a fake proof, then exiting with code 0; and every stub
//!    forging the runner's replies (well-formed `returned`, `panicked`,
//!    `stopped` and `refused` lines on stdout, stderr and every descriptor
//!    up to 64), then exiting with code 0.
//! 5. The learner's code is linked into the runners only: a `#[used]`
//!    marker planted in each handout `exercises.rs` is in the lesson's
//!    binary (the runner, `LESSON --exercises`) and in no graded test
//!    binary (the checker). Lessons whose checkers hold it are named.

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::handout::write_handout;
use test_support::layout::solutions::{has_solutions, strip_solutions};
use test_support::layout::{self as lessons, EXERCISES, Lesson, checks};
use tooling::grade::{self, GradedTest, Limits, TestResult, Verdict, build};
use tooling::{Result, cargo, no_arguments, workspace_root};

/// The time limit per test for the endless-loop attack: long enough for a
/// test to reach its exercise on a loaded machine, and well below the
/// limits the checkers give their runners (see `loop_jobs`).
const LOOP_LIMIT: Duration = Duration::from_secs(1);

/// A stub that never returns.
const LOOPING_STUB: &str = "loop { std::hint::black_box(0); }";

/// A stub that prints what a naive grader believes (libtest's verdict
/// lines, and a proof-shaped line on stdout, stderr and the verdict pipe),
/// then exits with code 0.
const FAKING_STUB: &str = "{ use std::io::Write as _; \
    let fake = format!(\"test {0} ... ok\\n\\ntest result: ok. 1 passed; 0 failed; 0 ignored; \
    0 measured; 0 filtered out\\npass {1}\\n\", std::thread::current().name().unwrap_or(\"main\"), \
    \"0\".repeat(64)); \
    let _ = std::io::stdout().write_all(fake.as_bytes()); \
    let _ = std::io::stderr().write_all(fake.as_bytes()); \
    if let Ok(mut verdict) = std::fs::OpenOptions::new().write(true).open(\"/proc/self/fd/4\") \
    { let _ = verdict.write_all(fake.as_bytes()); } \
    std::process::exit(0) }";

/// A stub that forges the runner's replies (`support::exercise`'s wire:
/// a word and hex text a line), libtest's verdict lines and a proof-shaped
/// line on stdout, stderr and every descriptor up to 64, both by number and
/// reopened through `/proc/self/fd`, then exits with code 0. The values it
/// forges are ones no test expects: a forged reply is only an answer.
const FORGING_STUB: &str = "{ use std::io::Write as _; \
    let hex = |t: &str| t.bytes().map(|b| format!(\"{b:02x}\")).collect::<String>(); \
    let (reply, panic) = (hex(\"forged reply\"), hex(\"forged panic\")); \
    let mut forged = format!(\"returned {reply}\\npanicked {panic}\\nstopped {}\\nrefused {panic}\\n\", \
    hex(\"0\")); \
    forged.push_str(&format!(\"test {} ... ok\\n\\n\", std::thread::current().name().unwrap_or(\"main\"))); \
    forged.push_str(\"test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\\n\"); \
    forged.push_str(&format!(\"pass {}\\nreturned {reply}\\n\", \"0\".repeat(64))); \
    for fd in 0..64 { \
    unsafe { libc::write(fd, forged.as_ptr().cast(), forged.len()) }; \
    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(format!(\"/proc/self/fd/{fd}\")) \
    { let _ = f.write_all(forged.as_bytes()); } } \
    std::process::exit(0) }";

/// What verify plants in each exercise file to find the binaries that hold
/// the learner's code; the lesson's name and a word of this run follow.
const MARKER_PREFIX: &str = "workbook-exercise-marker-";

pub fn cmd_verify(args: Vec<OsString>) -> Result<ExitCode> {
    if !no_arguments("verify", args)? {
        return Ok(ExitCode::SUCCESS);
    }
    let started = Instant::now();
    let root = workspace_root()?;
    let all = lessons::discover(&root)?;
    let graded = check_content(&all)?;
    let tests = grade::tests_of(&graded)?;
    tooling::outln!(
        "verify 1/7: {} lessons have well-formed exercises ({} graded tests), solutions \
         and stubs pass the scanner ({:.1} s)",
        graded.len(),
        tests.len(),
        started.elapsed().as_secs_f64()
    )?;

    let started = Instant::now();
    let reference = grade_quietly(&root, &all, &tests, Limits::default())?;
    let (score, max) = grade::totals(&reference);
    let failing: Vec<&TestResult> = reference.iter().filter(|r| !r.verdict.passed()).collect();
    if !failing.is_empty() {
        grade::emit(&grade::table(&reference))?;
        return Err(format!(
            "the reference solutions score {score}/{max}: {} graded test(s) fail on them, \
             each run alone as a student's would be. Fix the solution (or the test) until \
             `cargo xtask grade` gives full marks; a test must wrap its body in \
             test_support::grading::graded.",
            failing.len()
        ));
    }
    tooling::outln!(
        "verify 2/7: the reference solutions score {score}/{max}, each test alone ({:.1} s, \
         builds included)",
        started.elapsed().as_secs_f64()
    )?;

    // The scratch handout and its build (gigabytes) go however verify ends:
    // dropped, or removed by the cleanup handler on Ctrl-C, SIGTERM or
    // SIGHUP (registered as it is made, with those signals held back).
    let (scratch, registration) = support::cleanup::protected(|| -> Result<_> {
        let scratch = tempfile::Builder::new()
            .prefix("workbook-verify-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let registration =
            support::cleanup::register(scratch.path(), support::cleanup::Removal::Tree)
                .map_err(|e| format!("cannot register {}: {e}", scratch.path().display()))?;
        Ok((scratch, registration))
    })?;
    let handout = scratch.path().join("handout");
    let checked = check_handout(&root, &handout, &graded, &tests, max);
    support::cleanup::protected(|| {
        drop(scratch);
        drop(registration);
    });
    checked?;
    tooling::outln!("verify: the grader is honest")?;
    Ok(ExitCode::SUCCESS)
}

/// Grades without a line per test: verify prints its own summary.
fn grade_quietly(
    root: &Path,
    all: &[Lesson],
    tests: &[GradedTest],
    limits: Limits,
) -> Result<Vec<TestResult>> {
    grade::grade_tree(
        root,
        all,
        tests,
        &Default::default(),
        limits,
        tooling::grade::Guards {
            check_files: scan::check_lesson,
            isolation: Some(&crate::sandbox::Sandbox::new()),
        },
        &mut |event| match event {
            grade::Event::Building(lesson) => {
                let _ = grade::emit(&format!("  building the graded tests of {lesson}\n"));
            }
            grade::Event::Warning(text) => {
                let _ = grade::emit(&format!("  {text}\n"));
            }
            grade::Event::Ran { .. } => {}
        },
    )
}

/// Runs the authoring checks (`test_support::layout::checks`) on every lesson.
fn check_content(all: &[Lesson]) -> Result<Vec<Lesson>> {
    for lesson in all {
        let source = fs::read_to_string(lesson.dir.join(EXERCISES)).unwrap_or_default();
        if !source.is_empty() && !has_solutions(&source) {
            return Err(format!(
                "{} has no solution regions: this looks like a student copy, and verify needs \
                 the reference solutions. Run verify in the instructor's repository.",
                lesson.dir.join(EXERCISES).display()
            ));
        }
    }
    let mut problems: Vec<String> = all.iter().flat_map(checks::problems).collect();
    problems.extend(all.iter().flat_map(scan_problems));
    if problems.is_empty() {
        Ok(all.to_vec())
    } else {
        Err(format!(
            "the exercises are not ready:\n  {}",
            problems.join("\n  ")
        ))
    }
}

/// What the grader's scanner refuses in `lesson`'s exercise file, as the
/// instructor writes it (the solutions) and as a student gets it (the
/// stubs): both must pass, or the reference would score 0, or no student
/// could hand in the file they were given.
fn scan_problems(lesson: &Lesson) -> Vec<String> {
    let path = lesson.dir.join(EXERCISES);
    let Ok(source) = fs::read_to_string(&path) else {
        return Vec::new(); // checks::problems says it is missing
    };
    let mut problems: Vec<String> = scan::problems(&source)
        .into_iter()
        .map(|p| format!("{} (the solutions): {p}", path.display()))
        .collect();
    if let Ok(stubs) = strip_solutions(&source) {
        problems.extend(
            scan::problems(&stubs)
                .into_iter()
                .map(|p| format!("{} (the stubs): {p}", path.display())),
        );
    }
    problems
}

fn check_handout(
    root: &Path,
    handout: &Path,
    graded: &[Lesson],
    tests: &[GradedTest],
    max: u32,
) -> Result {
    let started = Instant::now();
    write_handout(root, handout)?;
    let seeded =
        tooling::seed::registry_builds(handout, &root.join("target"), &handout.join("target"))?
            .len();
    let mut clippy = cargo();
    clippy
        .args(["clippy", "--all-targets", "--quiet", "--manifest-path"])
        .arg(handout.join("Cargo.toml"));
    for lesson in graded {
        clippy.args(["--package", &lesson.name]);
    }
    clippy
        .args(["--", "-D", "warnings"])
        .env("CARGO_TARGET_DIR", handout.join("target"));
    let clippy = support::spawn::output_bounded(&mut clippy, Duration::from_secs(900))
        .map_err(|e| format!("cannot start cargo clippy: {e}"))?;
    if !clippy.outcome.is_success() {
        return Err(format!(
            "the handout is not clean under clippy -D warnings (clippy {}):\n{}\n\
             Make the stubs compile without warnings, for example by using every parameter \
             in the todo!() message.",
            clippy.outcome, clippy.stderr
        ));
    }
    let clippy_took = started.elapsed();
    let in_handout: Vec<Lesson> = graded.iter().map(|l| l.in_tree(handout)).collect();
    let stubs = in_handout
        .iter()
        .map(|lesson| {
            let path = lesson.dir.join(EXERCISES);
            fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        })
        .collect::<Result<Vec<String>>>()?;

    // The stubs: every test fails, with a real verdict.
    let started = Instant::now();
    let stub_limits = Limits::default();
    let results = grade_quietly(handout, &in_handout, tests, stub_limits)?;
    expect_zero(&results, max, "stubs", |v| matches!(v, Verdict::Failed(_)))?;
    for result in &results {
        let first = result.verdict.to_string();
        let first = first.lines().next().unwrap_or_default();
        tooling::outln!(
            "  fails as it should: {}::{} ({first}; {:.2} s)",
            result.test.lesson,
            result.test.name,
            result.elapsed.as_secs_f64()
        )?;
    }
    // How long each test takes to reach its verdict when its exercise
    // returns at once: what the endless-loop attack's pace is derived from.
    let stub_times: Vec<(GradedTest, Duration)> = results
        .iter()
        .map(|r| (r.test.clone(), r.elapsed))
        .collect();
    let slowest = stub_times.iter().map(|(_, t)| *t).max().unwrap_or_default();
    tooling::outln!(
        "verify 3/7: the handout is clippy-clean, and on its stubs every graded test fails \
         on its own: 0/{max} (handout, {seeded} registry builds seeded, and clippy {:.1} s; \
         stubs {:.1} s, builds included, slowest test {:.2} s)",
        clippy_took.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        slowest.as_secs_f64()
    )?;

    // The attacks.
    let started = Instant::now();
    let shm_before = grade::run::shm_names();
    replace_stubs(&in_handout, LOOPING_STUB)?;
    let groups = loop_groups(&stub_times, stub_limits.jobs);
    let mut results = Vec::new();
    for (group, jobs) in &groups {
        let limits = Limits {
            timeout: LOOP_LIMIT,
            jobs: *jobs,
        };
        results.extend(grade_quietly(handout, &in_handout, group, limits)?);
    }
    expect_zero(&results, max, "endless loops", |v| {
        matches!(v, Verdict::TimedOut(_))
    })?;
    // Tests killed at their limit could not clean up; the grader must have.
    // As root, only the objects of this grader's throwaway users count:
    // other work on the machine (another grader, CI's other lane) may make
    // and remove its own meanwhile.
    let ours: Option<std::collections::HashSet<u32>> = {
        use tooling::grade::Isolation as _;
        let sandbox = crate::sandbox::Sandbox::new();
        (0..64).map(|job| sandbox.user(job)).collect()
    };
    let left: Vec<String> = grade::run::shm_names()
        .difference(&shm_before)
        .filter(|name| {
            use std::os::unix::fs::MetadataExt as _;
            let Some(ours) = &ours else { return true };
            fs::symlink_metadata(Path::new("/dev/shm").join(name))
                .is_ok_and(|m| ours.contains(&m.uid()))
        })
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    if !left.is_empty() {
        return Err(format!(
            "grading stubs that loop left shared-memory objects in /dev/shm: {}",
            left.join(", ")
        ));
    }
    let how: Vec<String> = groups
        .iter()
        .map(|(group, jobs)| format!("{} at {jobs} at a time", group.len()))
        .collect();
    tooling::outln!(
        "verify 4/7: stubs that loop forever score 0/{max}, each stopped after {:.1} s \
         ({} tests: {}, as their times on the stubs allow; {:.1} s in all, builds included)",
        LOOP_LIMIT.as_secs_f64(),
        results.len(),
        how.join(", "),
        started.elapsed().as_secs_f64()
    )?;
    let started = Instant::now();
    replace_stubs(&in_handout, FAKING_STUB)?;
    let results = grade_quietly(handout, &in_handout, tests, Limits::default())?;
    // A test ends early with the fake; one whose exercise runs in a helper
    // process (tests never fork) sees the helper end early instead, and fails.
    expect_zero(&results, max, "fake verdicts", |v| {
        matches!(v, Verdict::ExitedEarly(0) | Verdict::Failed(_))
    })?;
    tooling::outln!(
        "verify 5/7: stubs that print libtest's \"ok\" and a fake proof, then exit(0), \
         score 0/{max} ({:.1} s, builds included)",
        started.elapsed().as_secs_f64()
    )?;
    let started = Instant::now();
    // From the handout's own stubs again.
    for (lesson, stub) in in_handout.iter().zip(&stubs) {
        let path = lesson.dir.join(EXERCISES);
        fs::write(&path, stub).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    replace_stubs(&in_handout, FORGING_STUB)?;
    let results = grade_quietly(handout, &in_handout, tests, Limits::default())?;
    // A checker judges the forged lines as the runner's answers, and fails;
    // a test that still runs the exercise in its own process ends early.
    expect_zero(&results, max, "forged replies", |v| {
        matches!(v, Verdict::Failed(_) | Verdict::ExitedEarly(0))
    })?;
    tooling::outln!(
        "verify 6/7: stubs that forge the runner's replies on every descriptor, then exit(0), \
         score 0/{max} ({:.1} s, builds included)",
        started.elapsed().as_secs_f64()
    )?;
    let started = Instant::now();
    let held = exercises_only_in_runners(handout, &in_handout, &stubs)?;
    tooling::outln!(
        "verify 7/7: a #[used] marker planted in each exercise file is in the lesson's runner \
         and in no checker: {} ({:.1} s)",
        held.join(", "),
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}

/// How many tests at a time may run with `slowest` as the slowest of them
/// on the stubs. The limit per test stays [`LOOP_LIMIT`]: it must stay well
/// below the limits the checkers give their own runners (5 s and more), or
/// a test would fail by its own watchdog before the grader stops it. But a
/// test that does not wait for its exercise must still reach its own
/// verdict before that limit, or the attack would not catch it, and more
/// tests at a time mean more spinning stubs sharing the processors. On the
/// stubs, a test took its time with `stub_jobs` tests at a time; with
/// `jobs` at a time it could take up to `jobs / stub_jobs` times as long.
/// So `jobs` is the most for which that stays within half the limit; never
/// fewer than `stub_jobs`, as before, nor more than 64, the sandbox's
/// throwaway users per grader.
fn loop_jobs(slowest: Duration, stub_jobs: usize) -> usize {
    let stub_jobs = stub_jobs.max(1);
    let fits = (LOOP_LIMIT.as_secs_f64() / 2.0 / slowest.as_secs_f64().max(1e-3)) as usize;
    (stub_jobs * fits).clamp(stub_jobs, 64)
}

/// The endless-loop attack in one or two gradings: the tests that were
/// quick on the stubs, many at a time, then the others, fewer at a time
/// ([`loop_jobs`] for the slowest of each), so that the phase costs a few
/// limits rather than one per pair of tests. Of every split (and none), the
/// one with the fewest rounds of limits, a second grading counted as one
/// more. Each group's tests at a time are spread evenly over its rounds.
fn loop_groups(
    times: &[(GradedTest, Duration)],
    stub_jobs: usize,
) -> Vec<(Vec<GradedTest>, usize)> {
    let mut sorted = times.to_vec();
    sorted.sort_by_key(|(_, t)| *t);
    // Rounds and tests at a time for `group`, sorted by time.
    let pace = |group: &[(GradedTest, Duration)]| -> (usize, usize) {
        let slowest = group.last().map(|(_, t)| *t).unwrap_or_default();
        let rounds = group.len().div_ceil(loop_jobs(slowest, stub_jobs));
        (rounds, group.len().div_ceil(rounds.max(1)).max(1))
    };
    let cost = |split: usize| {
        let (quick, slow) = sorted.split_at(split);
        let (rounds, _) = pace(quick);
        let (more, _) = pace(slow);
        rounds + more + usize::from(more > 0)
    };
    let split = (1..=sorted.len())
        .min_by_key(|&k| (cost(k), std::cmp::Reverse(k)))
        .unwrap_or(sorted.len());
    let (quick, slow) = sorted.split_at(split);
    [quick, slow]
        .into_iter()
        .filter(|group| !group.is_empty())
        .map(|group| {
            let tests = group.iter().map(|(test, _)| test.clone()).collect();
            (tests, pace(group).1)
        })
        .collect()
}

/// Plants a `#[used]` marker in each of `lessons`' exercise files (their
/// `stubs`, as handed out), builds every lesson's graded tests exactly as
/// grading does (the same command, in the same target, so that only the
/// runners are built again), and checks that the marker is in the lesson's
/// binary (the runner: `target/debug/LESSON`, the one the checker runs)
/// and not in the graded test binary that build named (the checker): the
/// judge never links learner code. Returns the lessons that pass; an error
/// names those that do not.
fn exercises_only_in_runners(
    handout: &Path,
    lessons: &[Lesson],
    stubs: &[String],
) -> Result<Vec<String>> {
    let word = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        ^ u128::from(std::process::id());
    let mut markers = Vec::new();
    for (lesson, stub) in lessons.iter().zip(stubs) {
        let marker = format!("{MARKER_PREFIX}{}-{word:x}", lesson.name);
        let path = lesson.dir.join(EXERCISES);
        let planted = format!(
            "{stub}\n#[used]\nstatic WORKBOOK_MARKER: [u8; {}] = *b\"{marker}\";\n",
            marker.len()
        );
        fs::write(&path, planted).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        markers.push(marker);
    }
    let target = handout.join("target");
    let sandbox = crate::sandbox::Sandbox::new();
    let mut passed = Vec::new();
    let mut problems = Vec::new();
    for (lesson, marker) in lessons.iter().zip(&markers) {
        let name = lesson.dir_name();
        let checker = match build::build_graded(handout, &target, &lesson.name, Some(&sandbox))? {
            build::Built::Binary(path) => path,
            build::Built::DoesNotCompile(error) => {
                return Err(format!(
                    "the handout with a marker in each exercise file does not build \
                     ({name}):\n{error}"
                ));
            }
        };
        let runner = target.join("debug").join(&lesson.name);
        // Whether the binary at `path` holds the marker; `None` when there
        // is no such binary.
        let holds = |path: &Path| -> Option<bool> {
            let bytes = fs::read(path).ok()?;
            Some(build::contains(&bytes, marker.as_bytes()))
        };
        match (holds(&runner), holds(&checker)) {
            (Some(true), Some(false)) => passed.push(name),
            (Some(true), Some(true)) => problems.push(format!(
                "{name}: its graded tests (the checker) link the exercises; move \
                 exercises.rs out of the library into the lesson binary, the runner"
            )),
            (Some(false), _) => problems.push(format!(
                "{name}: its binary (the runner) does not hold the exercises' code"
            )),
            (None, _) => problems.push(format!(
                "{name}: cargo built no lesson binary at {}",
                runner.display()
            )),
            (_, None) => problems.push(format!(
                "{name}: cannot read its graded test binary {}",
                checker.display()
            )),
        }
    }
    if problems.is_empty() {
        Ok(passed)
    } else {
        Err(format!(
            "the learner's code must run only in the lesson binaries (LESSON --exercises), \
             never in a graded test's process. Passed: {}. Not yet:\n  {}",
            if passed.is_empty() {
                "none".to_owned()
            } else {
                passed.join(", ")
            },
            problems.join("\n  ")
        ))
    }
}

/// Checks that `results` score 0 out of `max`, each with the verdict `expected`.
fn expect_zero(
    results: &[TestResult],
    max: u32,
    what: &str,
    expected: impl Fn(&Verdict) -> bool,
) -> Result {
    let (score, handout_max) = grade::totals(results);
    let wrong: Vec<String> = results
        .iter()
        .filter(|r| r.verdict.passed() || !expected(&r.verdict))
        .map(|r| format!("{}::{} ({})", r.test.lesson, r.test.name, r.verdict))
        .collect();
    if score != 0 || !wrong.is_empty() {
        return Err(format!(
            "on the handout with {what}, the grader gave {score}/{handout_max}; these tests \
             did not end as they should: {}. Make each test call the exercise it grades and \
             check its result, inside test_support::grading::graded.",
            wrong.join(", ")
        ));
    }
    if handout_max != max {
        return Err(format!(
            "the handout has {handout_max} points to win, the reference {max}"
        ));
    }
    Ok(())
}

/// Replaces each stub (`todo!(...)` lines) of the handout's exercise files with `code`.
fn replace_stubs(lessons: &[Lesson], code: &str) -> Result {
    for lesson in lessons {
        let path = lesson.dir.join(EXERCISES);
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut replaced = 0;
        let out: Vec<String> = text
            .lines()
            .map(|line| {
                let trimmed = line.trim_start();
                let is_stub = trimmed.starts_with("todo!(") || trimmed.starts_with(LOOPING_STUB);
                if is_stub {
                    replaced += 1;
                    let indent = &line[..line.len() - trimmed.len()];
                    format!("{indent}{code}")
                } else {
                    line.to_owned()
                }
            })
            .collect();
        if replaced == 0 {
            return Err(format!("{}: no stub to replace", path.display()));
        }
        fs::write(&path, out.join("\n") + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(name: &str) -> GradedTest {
        GradedTest {
            lesson: "tiny".into(),
            name: name.into(),
            points: 1,
        }
    }

    #[test]
    fn the_endless_loop_attack_runs_more_at_a_time_only_when_tests_are_quick() {
        let ms = Duration::from_millis;
        // Slow tests: as many at a time as on the stubs, never fewer.
        assert_eq!(loop_jobs(ms(800), 2), 2);
        assert_eq!(loop_jobs(ms(3000), 2), 2);
        // Quick ones: 2 × 5 fit in half the limit; never more than 64.
        assert_eq!(loop_jobs(ms(100), 2), 10);
        assert_eq!(loop_jobs(Duration::ZERO, 2), 64);
        // All quick: one grading, in as few rounds as 64 at a time allow.
        let quick: Vec<_> = (0..82).map(|i| (test(&format!("t{i}")), ms(1))).collect();
        let groups = loop_groups(&quick, 2);
        let shape: Vec<(usize, usize)> = groups.iter().map(|(g, j)| (g.len(), *j)).collect();
        assert_eq!(shape, [(82, 41)]);
        // A few slow ones run apart, 2 at a time; the rest many at a time.
        let mut mixed = quick[..78].to_vec();
        mixed.extend((0..4).map(|i| (test(&format!("slow{i}")), ms(600))));
        let groups = loop_groups(&mixed, 2);
        let shape: Vec<(usize, usize)> = groups.iter().map(|(g, j)| (g.len(), *j)).collect();
        assert_eq!(shape, [(78, 39), (4, 2)]);
        assert!(groups[1].0.iter().all(|t| t.name.starts_with("slow")));
    }
}
