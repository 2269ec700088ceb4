//! `cargo xtask grade`: score the exercises, in a way a class cannot fake.
//!
//! - `test_support::layout`: which tests are graded, for how many points.
//! - [`scan`]: what an exercise file may contain, read with a Rust parser.
//! - [`build`]: compile each lesson's graded tests once, before any learner
//!   code runs.
//! - [`run`]: run one test alone, in its own process session, with a time
//!   limit and a one-time secret.
//! - [`verdict`]: judge the run from how it ended and whether it proved its
//!   verdict, never from what it printed.
//! - [`report`]: the table and the JSON.
//! - [`environment`]: what the machine must offer before any test runs.
//! - [`submission`]: grading a student's files against a template.
//!
//! What the grader resists and what it cannot is written down in
//! ARCHITECTURE.md ("Grading").

pub mod build;
mod confine;
mod environment;
mod leftovers;
mod report;
pub mod run;
pub mod scan;
pub mod session;
pub(crate) mod submission;
mod verdict;
mod view;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use environment::{EnvironmentError, check_environment};
pub use report::{Format, emit, markdown, one_line, table, totals};
pub use test_support::layout::GradedTest;
pub use verdict::Verdict;

use crate::manifest::Manifest;
use crate::{Result, workspace_root};
use submission::{canonical, grade_against_template, run_template_grader};
use test_support::layout::{self as lessons, Lesson};

/// How long one graded test may run unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest exercise file a submission may hand in.
const MAX_EXERCISE_BYTES: u64 = 1 << 20;

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
    /// A learner grading their own work on their own machine (`watch`,
    /// `progress`, `hint`): the tests run as the learner, even as root,
    /// since the code's author and the person it runs for are the same.
    /// Otherwise (`grade`, `grade-all`, `verify`, the platforms) a root
    /// grader runs every test as a throwaway user, never as root.
    pub own_work: bool,
}

impl Limits {
    /// The limits of a learner's own commands (see [`Limits::own_work`]).
    pub fn own_work() -> Limits {
        Limits {
            own_work: true,
            ..Limits::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout: DEFAULT_TIMEOUT,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            own_work: false,
        }
    }
}

pub struct Options {
    lesson: Option<String>,
    json: Option<PathBuf>,
    format: Format,
    summary: Option<PathBuf>,
    template: Option<PathBuf>,
    submission: Option<PathBuf>,
    limits: Limits,
    verbose: bool,
}

/// What grading reports while it runs.
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

/// `grade`'s command line (clap); `None` when `--help` was printed.
fn parse_options(args: &[OsString]) -> Result<Option<Options>> {
    /// `grade [LESSON] [--timeout SECS] [--jobs N] [--json FILE [--format F]]
    /// [--summary FILE] [--template DIR [--submission DIR]]`.
    #[derive(Debug, clap::Parser)]
    struct Grade {
        /// Grade only this lesson (by name or number).
        lesson: Option<String>,
        /// Seconds a test may take, 0.1 to 3600 (default 10).
        #[arg(long, value_name = "SECS", value_parser = timeout)]
        timeout: Option<Duration>,
        /// How many tests run at once, from 1 to 64.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=64))]
        jobs: Option<u8>,
        /// Also write the result as JSON to FILE.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// workbook (the default), gradescope or classroom50.
        #[arg(long, value_name = "F", value_parser = format)]
        format: Option<Format>,
        /// Write (or append to) a Markdown summary in FILE.
        #[arg(long, value_name = "FILE")]
        summary: Option<PathBuf>,
        /// Grade with DIR's graded tests and grader.
        #[arg(long, value_name = "DIR")]
        template: Option<PathBuf>,
        /// With --template: the copy to grade (default: here).
        #[arg(long, value_name = "DIR")]
        submission: Option<PathBuf>,
        /// A line per test as it ends.
        #[arg(short, long)]
        verbose: bool,
    }
    fn timeout(text: &str) -> std::result::Result<Duration, String> {
        text.parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 3600.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| "seconds per test, from 0.1 to 3600".to_owned())
    }
    fn format(name: &str) -> std::result::Result<Format, String> {
        Format::parse(name).ok_or_else(|| format!("--format takes {}", Format::NAMES))
    }
    let Some(parsed) = crate::args::parse::<Grade>("grade", args.to_vec())? else {
        return Ok(None);
    };
    let mut limits = Limits::default();
    if let Some(timeout) = parsed.timeout {
        limits.timeout = timeout;
    }
    if let Some(jobs) = parsed.jobs {
        limits.jobs = jobs.into();
    }
    Ok(Some(Options {
        lesson: parsed.lesson,
        json: parsed.json,
        format: parsed.format.unwrap_or(Format::Workbook),
        summary: parsed.summary,
        template: parsed.template,
        submission: parsed.submission,
        limits,
        verbose: parsed.verbose,
    }))
}

pub fn cmd_grade(args: Vec<OsString>) -> Result<ExitCode> {
    let Some(options) = parse_options(&args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let root = workspace_root()?;
    if let Some(template) = &options.template {
        let template = canonical(template, "--template")?;
        if template != root {
            // The grader that runs must be the template's, not the one in
            // the tree being graded: hand over to it.
            return run_template_grader(&template, &args, &root);
        }
    }
    // A broken machine is not a score: one line, exit code 2, no table;
    // for grade-all, a report that says so.
    // (Gradescope's and Classroom 50's runners see no report and say so:
    // Classroom 50 shows an infrastructure error, never a score.)
    if let Err(problem) = check_environment() {
        if let (Some(path), Format::Workbook) = (&options.json, options.format) {
            let _ = write_atomically(path, report::environment_json(&problem).as_bytes());
        }
        return Err(problem.into());
    }
    let mut shown = Shown::new(options.verbose);
    let graded = match &options.template {
        Some(template) => {
            let template = canonical(template, "--template")?;
            let submission = match &options.submission {
                Some(dir) => fs::canonicalize(dir)
                    .ok()
                    .filter(|d| d.is_dir())
                    .ok_or_else(|| {
                        format!(
                            "--submission {}: not a directory; name a student's copy of the handout",
                            dir.display()
                        )
                    })?,
                None => root.clone(),
            };
            grade_against_template(&template, &submission, &options, &mut |e| shown.show(e))?
        }
        None => {
            if let Some(submission) = &options.submission {
                return Err(format!(
                    "--submission {} needs --template: name the pristine copy to grade it \
                     against, for example: cargo xtask grade --template . --submission {}",
                    submission.display(),
                    submission.display()
                ));
            }
            grade_own_tree(&root, &options, &mut |e| shown.show(e))?
        }
    };
    shown.done();
    let Graded { results, changed } = graded;
    if !changed.is_empty() {
        let mut warning = String::from(
            "warning: these graded files differ from the handout, so this score is not\n\
             the one your instructor will see (they grade with the original files):",
        );
        for change in &changed {
            warning.push_str(&format!("\n  {change}"));
        }
        shown.show(Event::Warning(warning));
    }
    if let Some(path) = &options.json {
        write_atomically(path, options.format.render(&results, &changed).as_bytes()).map_err(
            |e| {
                format!(
                    "cannot write {}: {e}. Choose a writable path for --json.",
                    path.display()
                )
            },
        )?;
        shown.show(Event::Warning(format!(
            "Wrote the JSON report to {}",
            path.display()
        )));
    }
    if let Some(path) = &options.summary {
        let exercises = all_exercises(&root);
        let summary = markdown("Exercise results", &results, &exercises);
        append_or_write(path, &summary).map_err(|e| {
            format!(
                "cannot write {}: {e}. Choose a writable path for --summary.",
                path.display()
            )
        })?;
    }
    emit(&table(&results))?;
    let (score, max) = totals(&results);
    Ok(if score == max {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// How `grade` shows its progress on stderr: with `--verbose`, a line per
/// test as it ends; on a terminal, one line rewritten in place; otherwise a
/// line per lesson built. Warnings always. A closed stderr is ignored.
struct Shown {
    verbose: bool,
    terminal: bool,
    /// A progress line is on the screen, to be cleared.
    dirty: bool,
}

impl Shown {
    fn new(verbose: bool) -> Shown {
        use std::io::IsTerminal;
        Shown {
            verbose,
            terminal: std::io::stderr().is_terminal(),
            dirty: false,
        }
    }

    fn show(&mut self, event: Event<'_>) {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        let (line, transient) = match event {
            Event::Warning(text) => (text, false),
            Event::Building(lesson) => {
                let text = format!("building the graded tests of {lesson}...");
                (text, self.terminal && !self.verbose)
            }
            Event::Ran { result, .. } if self.verbose => (
                format!(
                    "  {:<11} {}::{} ({:.2} s)",
                    result.verdict.status(),
                    result.test.lesson,
                    result.test.name,
                    result.elapsed.as_secs_f64()
                ),
                false,
            ),
            Event::Ran { done, of, .. } if self.terminal => {
                (format!("ran {done} of {of} graded tests..."), true)
            }
            Event::Ran { .. } => return,
        };
        if self.dirty {
            let _ = write!(err, "\r\x1b[K");
            self.dirty = false;
        }
        if transient {
            let _ = write!(err, "{}", one_line(&line, 79));
            self.dirty = true;
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// Clears the progress line (also when grading stops with an error).
    fn done(&mut self) {
        use std::io::Write;
        if self.dirty {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
            self.dirty = false;
        }
    }
}

impl Drop for Shown {
    fn drop(&mut self) {
        self.done();
    }
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

/// Appends to a file that exists and is not empty (GitHub's job summary
/// collects every step's), else writes it whole.
fn append_or_write(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if path.metadata().is_ok_and(|m| m.len() > 0) {
        fs::OpenOptions::new()
            .append(true)
            .open(path)?
            .write_all(text.as_bytes())
    } else {
        write_atomically(path, text.as_bytes())
    }
}

/// What grading produced: the results, and the graded files that changed.
pub struct Graded {
    pub results: Vec<TestResult>,
    pub changed: Vec<String>,
}

/// Grades the tree the grader belongs to. In a handout, the graded tests and
/// the maximum come from its manifest, and changed graded files are named.
fn grade_own_tree(
    root: &Path,
    options: &Options,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<Graded> {
    let all = lessons::discover(root)?;
    let chosen = choose(root, &all, options.lesson.as_deref())?;
    let (tests, changed) = match Manifest::read(root) {
        Some(manifest) => {
            let manifest = manifest?;
            let mut changed = manifest.changes(root);
            changed.extend(manifest.additions(root));
            let tests = manifest
                .tests
                .into_iter()
                .filter(|t| chosen.iter().any(|l| l.name == t.lesson))
                .collect();
            (tests, changed)
        }
        None => (tests_of(&chosen)?, Vec::new()),
    };
    let results = grade_tree(
        root,
        &all,
        &tests,
        &HashMap::new(),
        options.limits,
        progress,
    )?;
    Ok(Graded { results, changed })
}

/// The lessons to grade: one by name or number, or all.
fn choose(root: &Path, all: &[Lesson], wanted: Option<&str>) -> Result<Vec<Lesson>> {
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
/// run, for the reason given. Every test is run alone (see [`run`]).
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
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<Vec<TestResult>> {
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
                prepare(&lesson, &target).map(|binary| (binary, lesson.dir.clone()))
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
    // As root, every test runs as a throwaway user, never as root: through
    // a readable copy of the tree where such a user cannot read the tree
    // itself. Where that cannot be done, grading stops before any test ran.
    let sandboxed = !limits.own_work && run::Sandbox::for_job(0) != run::Sandbox::NONE;
    let view = match binaries.iter().next() {
        Some((name, (_, dir))) if sandboxed => {
            let names: Vec<&str> = binaries.keys().map(String::as_str).collect();
            let view = run::View::for_tree(root, &target, &names).map_err(refuse_as_root)?;
            let mut needed = vec![dir.join("Cargo.toml")];
            needed.extend(
                names
                    .iter()
                    .map(|name| target.join("debug").join(name))
                    .filter(|path| path.is_file()),
            );
            run::probe(dir, run::Sandbox::for_job(0), view.as_ref(), &needed).map_err(|e| {
                refuse_as_root(format!(
                    "the tests of {name} must run as an unprivileged user, and {e}"
                ))
            })?;
            view
        }
        _ => None,
    };
    let sandbox_for = |job: usize| {
        if sandboxed {
            run::Sandbox::for_job(job)
        } else {
            run::Sandbox::NONE
        }
    };
    // Which tests the binaries really contain.
    let mut listed: HashMap<&str, Vec<String>> = HashMap::new();
    for (name, (binary, dir)) in &binaries {
        match binary.list(dir, sandbox_for(0), view.as_ref()) {
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
            let (queue, next, binaries, view) = (&queue, &next, &binaries, view.as_ref());
            let sandbox = sandbox_for(job);
            scope.spawn(move || {
                loop {
                    let slot = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&index) = queue.get(slot) else { break };
                    let test = &tests[index];
                    let Some((binary, dir)) = binaries.get(&test.lesson) else {
                        continue;
                    };
                    let started = Instant::now();
                    let run = run::run_test(binary, &test.name, dir, limits.timeout, sandbox, view);
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
    if sandboxed {
        let ids: Vec<u32> = (0..limits.jobs.max(1))
            .filter_map(|job| run::Sandbox::for_job(job).uid)
            .collect();
        run::remove_leftovers_of(&ids);
    }
    // Tests that ran as this user and were killed could not unlink their
    // shared-memory objects: remove what appeared while grading. (A
    // throwaway user's are removed after each of its tests.)
    if !sandboxed {
        let me = nix::unistd::geteuid().as_raw();
        run::remove_shm_objects(|owner, name| owner == me && !shm_before.contains(name));
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
fn refuse_as_root(why: String) -> String {
    format!(
        "cannot grade here: {why}. Learner code never runs as root. \
         (No test ran: this is not a score.)"
    )
}

/// Checks a lesson's exercise file, builds its graded tests and seals the
/// binary; or says why its tests cannot run.
fn prepare(lesson: &Lesson, target: &Path) -> std::result::Result<run::SealedBinary, String> {
    let root = lesson
        .dir
        .parent()
        .and_then(Path::parent)
        .ok_or("a lesson directory without a workspace")?;
    // Its own exercise file, and those of the lessons it builds on.
    scan::check_lesson(root, lesson)?;
    match build::build_graded(root, target, &lesson.name)? {
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
