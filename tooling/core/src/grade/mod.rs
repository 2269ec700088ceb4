//! The grading core: score the exercises, in a way a class cannot fake.
//! The commands (`grade`, `grade-all`, `verify`, the platforms) are the
//! instructor's grader's; the learner's `watch`, `progress` and `hint` grade
//! their own work through [`grade_tree`] too, without a sandbox.
//!
//! - `test_support::layout`: which tests are graded, for how many points.
//! - [`CheckFiles`]: what an exercise file may contain, checked before
//!   anything is built (the scanner, `workbook-scan`, which the callers
//!   hand in: the core does not wait for `syn` to build).
//! - [`build`]: compile each lesson's graded tests once, before any learner
//!   code runs.
//! - [`run`]: run one test alone, in its own process session, with a time
//!   limit and a one-time secret.
//! - [`verdict`]: judge the run from how it ended and whether it proved its
//!   verdict, never from what it printed.
//! - [`report`]: the table and the JSON.
//! - [`environment`]: what the machine must offer before any test runs.
//! - [`Isolation`]: what the instructor's grader adds around code it did
//!   not write (its sandbox: Landlock, throwaway users); none for a
//!   learner's own work.
//!
//! What the grader resists and what it cannot is written down in
//! ARCHITECTURE.md ("Grading").

pub mod build;
mod environment;
mod isolation;
pub mod leftovers;
pub mod report;
pub mod run;
pub mod session;
pub mod verdict;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use environment::{EnvironmentError, check_environment};
pub use isolation::Isolation;
pub use report::{Format, emit, markdown, one_line, table, totals};
pub use test_support::layout::GradedTest;
pub use verdict::Verdict;

use crate::Result;
use test_support::layout::{self as lessons, Lesson};

/// Checks the exercise files a lesson's graded tests compile (its own and
/// those of the lessons it builds on) before anything is built: the
/// scanner, `scan::check_lesson`, in every caller.
pub type CheckFiles = fn(&Path, &Lesson) -> std::result::Result<(), String>;

/// What a grading puts around the learner's code: the file check every
/// grading makes, and the instructor's sandbox where there is one (none for
/// a learner's own work).
#[derive(Clone, Copy)]
pub struct Guards<'a> {
    pub check_files: CheckFiles,
    pub isolation: Option<&'a dyn Isolation>,
}

impl std::fmt::Debug for Guards<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guards")
            .field("sandboxed", &self.isolation.is_some())
            .finish_non_exhaustive()
    }
}

/// How long one graded test may run unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One graded test's result.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub test: GradedTest,
    pub verdict: Verdict,
    pub elapsed: Duration,
}

impl TestResult {
    pub fn score(&self) -> u32 {
        if self.verdict.passed() {
            self.test.points
        } else {
            0
        }
    }
}

/// How tests are run: the time each may take, and how many run at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub jobs: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout: DEFAULT_TIMEOUT,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        }
    }
}

/// What grading reports while it runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// The graded tests of this lesson (its directory name) are being built.
    Building(String),
    /// Something the person grading should know (printed whatever the mode).
    Warning(String),
    /// A test ended: the `done`th of `of`.
    Ran {
        done: usize,
        of: usize,
        result: &'a TestResult,
    },
}

/// Every exercise of the workbook at `root`, for hints; none where unreadable.
pub fn all_exercises(root: &Path) -> Vec<test_support::layout::exercises::Exercise> {
    lessons::discover(root)
        .unwrap_or_default()
        .iter()
        .filter_map(|lesson| test_support::layout::exercises::of_lesson(lesson).ok())
        .flatten()
        .collect()
}

/// What grading produced: the results, and the graded files that changed.
#[derive(Debug)]
pub struct Graded {
    pub results: Vec<TestResult>,
    pub changed: Vec<String>,
}

/// The lessons to grade: one by name or number, or all.
pub fn choose(root: &Path, all: &[Lesson], wanted: Option<&str>) -> Result<Vec<Lesson>> {
    Ok(match wanted {
        Some(wanted) => vec![lessons::find(root, wanted)?],
        None => all.to_vec(),
    })
}

/// The graded tests of `lessons`, from their graded test files.
pub fn tests_of(lessons: &[Lesson]) -> Result<Vec<GradedTest>> {
    let mut tests = Vec::new();
    for lesson in lessons {
        tests.extend(lesson.graded_tests()?);
    }
    if tests.is_empty() {
        return Err("no lesson has graded tests (lessons/NN-name/tests/graded.rs)".into());
    }
    Ok(tests)
}

/// Grades `tests` in the workbook tree at `root` (lessons `all`), building
/// in `root/target`. Lessons in `skip` are not built; their tests did not
/// run, for the reason given. Every test is run alone (see [`run`]), in
/// `guards.isolation` when given: the instructor's grader gives its
/// sandbox, a learner grading their own work none (the tests run as the
/// learner, since the code's author and the person it runs for are the
/// same).
///
/// First of all, before anything is built, it checks that the machine can
/// run tests ([`check_environment`]): when it cannot, the error is that one
/// line ([`EnvironmentError`]), never a result per test.
pub fn grade_tree(
    root: &Path,
    all: &[Lesson],
    tests: &[GradedTest],
    skip: &HashMap<String, String>,
    limits: Limits,
    guards: Guards<'_>,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<Vec<TestResult>> {
    let Guards {
        check_files,
        isolation,
    } = guards;
    check_environment()?;
    run::become_subreaper();
    let shm_before = run::shm_names();
    let target = root.join("target");
    let mut results: Vec<Option<TestResult>> = vec![None; tests.len()];
    let did_not_run = |test: &GradedTest, reason: String| TestResult {
        test: test.clone(),
        verdict: Verdict::DidNotRun(reason),
        elapsed: Duration::ZERO,
    };
    // Build everything first: no learner code runs until every graded
    // binary is built and sealed, so no test can change another's build.
    let mut binaries: HashMap<String, (run::SealedBinary, PathBuf)> = HashMap::new();
    let mut lesson_names: Vec<&str> = Vec::new();
    for test in tests {
        if !lesson_names.contains(&test.lesson.as_str()) {
            lesson_names.push(&test.lesson);
        }
    }
    for name in lesson_names {
        let prepared = match (all.iter().find(|l| l.name == name), skip.get(name)) {
            (None, _) => Err(format!(
                "the lesson '{name}' is missing from {}",
                root.join("lessons").display()
            )),
            (Some(_), Some(reason)) => Err(reason.clone()),
            (Some(lesson), None) => {
                let lesson = lesson.in_tree(root);
                progress(Event::Building(lesson.dir_name()));
                prepare(&lesson, &target, check_files, isolation)
                    .map(|binary| (binary, lesson.dir.clone()))
            }
        };
        match prepared {
            Ok(binary) => {
                binaries.insert(name.to_owned(), binary);
            }
            Err(reason) => {
                for (slot, test) in results.iter_mut().zip(tests) {
                    if test.lesson == name {
                        *slot = Some(did_not_run(test, reason.clone()));
                    }
                }
            }
        }
    }
    // As root, the sandbox runs every test as a throwaway user, never as
    // root (through a readable copy of the tree where such a user cannot
    // read the tree itself). Where that cannot be done, grading stops
    // before any test ran.
    let isolation = isolation.filter(|i| i.user(0).is_some());
    if let Some(isolation) = isolation
        && !binaries.is_empty()
    {
        let lessons: Vec<(&str, &Path)> = binaries
            .iter()
            .map(|(name, (_, dir))| (name.as_str(), dir.as_path()))
            .collect();
        isolation
            .prepare(root, &target, &lessons)
            .map_err(refuse_as_root)?;
    }
    let job_of = |index: usize| run::Job { index, isolation };
    // Which tests the binaries really contain.
    let mut listed: HashMap<&str, Vec<String>> = HashMap::new();
    for (name, (binary, dir)) in &binaries {
        match binary.list(dir, job_of(0)) {
            Ok(names) => {
                listed.insert(name.as_str(), names);
            }
            Err(reason) => {
                for (slot, test) in results.iter_mut().zip(tests) {
                    if test.lesson == *name {
                        *slot = Some(did_not_run(test, reason.clone()));
                    }
                }
            }
        }
    }
    let mut queue: Vec<usize> = Vec::new();
    for (index, test) in tests.iter().enumerate() {
        if results[index].is_some() {
            continue;
        }
        let present = listed
            .get(test.lesson.as_str())
            .is_some_and(|names| names.contains(&test.name));
        if present {
            queue.push(index);
        } else {
            results[index] = Some(did_not_run(
                test,
                format!(
                    "there is no test '{}' in {}'s tests/graded.rs: was it deleted or renamed?",
                    test.name, test.lesson
                ),
            ));
        }
    }
    // Run the queue, `jobs` tests at a time; report each as it ends.
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel::<(usize, TestResult)>();
    std::thread::scope(|scope| {
        for job in 0..limits.jobs.max(1).min(queue.len().max(1)) {
            let sender = sender.clone();
            let (queue, next, binaries) = (&queue, &next, &binaries);
            let job = job_of(job);
            scope.spawn(move || {
                loop {
                    let slot = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&index) = queue.get(slot) else { break };
                    let test = &tests[index];
                    let Some((binary, dir)) = binaries.get(&test.lesson) else {
                        continue;
                    };
                    let started = Instant::now();
                    let run = run::run_test(binary, &test.name, dir, limits.timeout, job);
                    let verdict = match run {
                        Ok(record) => verdict::judge(&test.name, &record),
                        Err(reason) => Verdict::DidNotRun(reason),
                    };
                    let result = TestResult {
                        test: test.clone(),
                        verdict,
                        elapsed: started.elapsed(),
                    };
                    if sender.send((index, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for (done, (index, result)) in receiver.into_iter().enumerate() {
            progress(Event::Ran {
                done: done + 1,
                of: queue.len(),
                result: &result,
            });
            results[index] = Some(result);
        }
    });
    run::sweep_escapees();
    if let Some(isolation) = isolation {
        let ids: Vec<u32> = (0..limits.jobs.max(1))
            .filter_map(|job| isolation.user(job))
            .collect();
        run::remove_leftovers_of(&ids);
    }
    // Tests that ran as this user and were killed could not unlink their
    // shared-memory objects: remove what appeared while grading and no
    // process holds open or mapped (every test has ended by now; a lesson
    // this user runs meanwhile, in another terminal, holds its own). (A
    // throwaway user's are removed after each of its tests.)
    if isolation.is_none() {
        let me = nix::unistd::geteuid().as_raw();
        let held = run::shm_names_in_use();
        run::remove_shm_objects(|owner, name| {
            owner == me && !shm_before.contains(name) && !held.contains(name)
        });
    }
    Ok(results
        .into_iter()
        .zip(tests)
        .map(|(result, test)| {
            result.unwrap_or_else(|| did_not_run(test, "the grader lost this test".into()))
        })
        .collect())
}

/// Grading as root stops here rather than run learner code as root: `why`
/// and what to do, one line, exit code 2, not a score.
pub fn refuse_as_root(why: String) -> String {
    format!(
        "cannot grade here: {why}. Learner code never runs as root. \
         (No test ran: this is not a score.)"
    )
}

/// Checks a lesson's exercise file, builds its graded tests and seals the
/// binary; or says why its tests cannot run.
fn prepare(
    lesson: &Lesson,
    target: &Path,
    check_files: CheckFiles,
    isolation: Option<&dyn Isolation>,
) -> std::result::Result<run::SealedBinary, String> {
    let root = lesson
        .dir
        .parent()
        .and_then(Path::parent)
        .ok_or("a lesson directory without a workspace")?;
    // Its own exercise file, and those of the lessons it builds on.
    check_files(root, lesson)?;
    match build::build_graded(root, target, &lesson.name, isolation)? {
        build::Built::Binary(path) => run::SealedBinary::seal(&path),
        build::Built::DoesNotCompile(error) => Err(format!("does not compile:\n{error}")),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory,
/// so a reader sees the old file or the whole new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
