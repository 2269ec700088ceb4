//! `cargo xtask grade`: score the exercises, in a way a class cannot fake.
//!
//! - `support::layout`: which tests are graded, for how many points; what
//!   an exercise file may not contain.
//! - [`build`]: compile each lesson's graded tests once, before any learner
//!   code runs.
//! - [`run`]: run one test alone, in its own process group, with a time
//!   limit and a one-time secret.
//! - [`verdict`]: judge the run from how it ended and whether it proved its
//!   verdict, never from what it printed.
//! - [`report`]: the table and the JSON.
//!
//! What the grader resists and what it cannot is written down in
//! ARCHITECTURE.md ("Grading").

pub mod build;
mod report;
pub mod run;
mod verdict;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use report::{Format, markdown, table, totals};
pub use support::layout::{GradedTest, forbidden_constructs};
pub use verdict::Verdict;

use crate::manifest::Manifest;
use crate::{Result, files, workspace_root};
use support::layout::{self as lessons, EXERCISES, Lesson};

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
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout: DEFAULT_TIMEOUT,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
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
}

fn parse_options(args: &[OsString]) -> Result<Options> {
    let mut options = Options {
        lesson: None,
        json: None,
        format: Format::Workbook,
        summary: None,
        template: None,
        submission: None,
        limits: Limits::default(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str, example: &str| {
            args.next().cloned().ok_or_else(|| {
                format!("{flag} needs a value, for example: cargo xtask grade {flag} {example}")
            })
        };
        match arg.to_str() {
            Some("--json") => options.json = Some(value("--json", "grade.json")?.into()),
            Some("--summary") => {
                options.summary = Some(value("--summary", "summary.md")?.into());
            }
            Some("--format") => {
                let name = value("--format", "gradescope")?;
                options.format = name.to_str().and_then(Format::parse).ok_or_else(|| {
                    format!(
                        "--format takes {}, not '{}'",
                        Format::NAMES,
                        name.to_string_lossy()
                    )
                })?;
            }
            Some("--template") => {
                options.template = Some(value("--template", "../handout")?.into());
            }
            Some("--submission") => {
                options.submission = Some(value("--submission", "../alice")?.into());
            }
            Some("--timeout") => {
                let text = value("--timeout", "10")?;
                let seconds: f64 = text
                    .to_str()
                    .and_then(|t| t.parse().ok())
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                    .ok_or_else(|| {
                        format!(
                            "--timeout takes seconds per test, from 0.1 to 3600, not '{}'",
                            text.to_string_lossy()
                        )
                    })?;
                options.limits.timeout = Duration::from_secs_f64(seconds);
            }
            Some("--jobs") => {
                let text = value("--jobs", "2")?;
                options.limits.jobs = text
                    .to_str()
                    .and_then(|t| t.parse().ok())
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "--jobs takes how many tests run at once, from 1 to 64, not '{}'",
                            text.to_string_lossy()
                        )
                    })?;
            }
            Some(flag) if flag.starts_with('-') => {
                return Err(format!(
                    "unknown flag '{flag}'. See: cargo xtask grade --help"
                ));
            }
            _ if options.lesson.is_none() => {
                options.lesson = Some(arg.to_string_lossy().into_owned());
            }
            _ => {
                return Err("grade takes at most one lesson. See: cargo xtask grade --help".into());
            }
        }
    }
    Ok(options)
}

pub fn cmd_grade(args: Vec<OsString>) -> Result<ExitCode> {
    let options = parse_options(&args)?;
    let root = workspace_root()?;
    let graded = match &options.template {
        Some(template) => {
            let template = canonical(template, "--template")?;
            if template != root {
                // The grader that runs must be the template's, not the one in
                // the tree being graded: hand over to it.
                return run_template_grader(&template, &args, &root);
            }
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
            grade_against_template(&template, &submission, &options)?
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
            grade_own_tree(&root, &options)?
        }
    };
    let Graded { results, changed } = graded;
    if !changed.is_empty() {
        eprintln!(
            "warning: these graded files differ from the handout, so this score is not the \
             one your instructor will see (they grade with the original files):"
        );
        for change in &changed {
            eprintln!("  {change}");
        }
    }
    print!("{}", table(&results));
    if let Some(path) = &options.json {
        write_atomically(path, options.format.render(&results, &changed).as_bytes()).map_err(
            |e| {
                format!(
                    "cannot write {}: {e}. Choose a writable path for --json.",
                    path.display()
                )
            },
        )?;
        eprintln!("Wrote the JSON report to {}", path.display());
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
    let (score, max) = totals(&results);
    Ok(if score == max {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every exercise of the workbook at `root`, for hints; none where unreadable.
pub fn all_exercises(root: &Path) -> Vec<support::layout::exercises::Exercise> {
    lessons::discover(root)
        .unwrap_or_default()
        .iter()
        .filter_map(|lesson| support::layout::exercises::of_lesson(lesson).ok())
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
fn grade_own_tree(root: &Path, options: &Options) -> Result<Graded> {
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
        &mut |line| eprintln!("{line}"),
    )?;
    Ok(Graded { results, changed })
}

/// Grades the exercise files of `submission` with the graded tests, grader
/// and manifests of `template` (this grader's own tree): a copy of the
/// template, with only the submission's exercise files put in.
pub fn grade_against_template(
    template: &Path,
    submission: &Path,
    options: &Options,
) -> Result<Graded> {
    let all = lessons::discover(template)?;
    let chosen = choose(template, &all, options.lesson.as_deref())?;
    let tests = tests_of(&chosen)?;
    if let Some(manifest) = Manifest::read(template) {
        let changes = manifest?.changes(template);
        if !changes.is_empty() {
            return Err(format!(
                "the template differs from the handout it was written as (edited by hand, or \
                 by code a test ran?), so it cannot be trusted to grade:\n  {}\n\
                 Restore it (git checkout, or a fresh `cargo xtask handout`) and grade again.",
                changes.join("\n  ")
            ));
        }
    }
    let workspace = template.join("target/workbook-grade");
    fs::create_dir_all(&workspace)
        .map_err(|e| format!("cannot create {}: {e}", workspace.display()))?;
    let _lock = lock(&workspace.join("lock"))?;
    // Cargo reads `.cargo/config.toml` in every directory above the one it
    // builds in: nothing but the build cache may survive from an earlier
    // grading, and no configuration may sit in the template's build output.
    for entry in fs::read_dir(&workspace)
        .map_err(|e| format!("cannot read {}: {e}", workspace.display()))?
        .flatten()
    {
        if entry.file_name() != "tree" && entry.file_name() != "lock" {
            remove_any(&entry.path())?;
        }
    }
    let planted = template.join("target/.cargo");
    if planted.symlink_metadata().is_ok() {
        eprintln!(
            "warning: removed {}: a cargo configuration there would change how submissions \
             are built",
            planted.display()
        );
        remove_any(&planted)?;
    }
    let tree = workspace.join("tree");
    let skip = lay_out_pristine_tree(template, submission, &tree, &chosen)?;
    // The submission's files, against the template's own manifest (never
    // the submission's, which the student controls).
    let changed = match Manifest::read(template) {
        Some(Ok(manifest)) => manifest.changes(submission),
        _ => Vec::new(),
    };
    let results = grade_tree(&tree, &all, &tests, &skip, options.limits, &mut |line| {
        eprintln!("{line}")
    })?;
    Ok(Graded { results, changed })
}

/// Makes `tree` a copy of `template` with the submission's exercise files.
/// Returns the lessons that cannot be graded, with the reason.
fn lay_out_pristine_tree(
    template: &Path,
    submission: &Path,
    tree: &Path,
    lessons: &[Lesson],
) -> Result<HashMap<String, String>> {
    // Start clean every time, keeping only the build cache.
    if tree.exists() {
        for entry in
            fs::read_dir(tree).map_err(|e| format!("cannot read {}: {e}", tree.display()))?
        {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", tree.display()))?;
            if entry.file_name() != "target" {
                remove_any(&entry.path())?;
            }
        }
    }
    let files: Vec<PathBuf> = files::of_tree(template)?
        .into_iter()
        .filter(|p| !p.starts_with("target"))
        .collect();
    files::copy(template, &files, tree)?;
    let mut skip = HashMap::new();
    for lesson in lessons {
        let relative = Path::new("lessons").join(lesson.dir_name()).join(EXERCISES);
        let ours = tree.join(&relative);
        match read_submitted(submission, &relative) {
            Ok(bytes) => {
                fs::write(&ours, bytes)
                    .map_err(|e| format!("cannot write {}: {e}", ours.display()))?;
            }
            Err(reason) => {
                // Never leave the template's own file (it may hold the
                // solutions) where the submission's should be.
                let _ = fs::remove_file(&ours);
                skip.insert(lesson.name.clone(), reason);
            }
        }
    }
    Ok(skip)
}

/// A submitted exercise file, `relative` to the submission: a regular file
/// of a sane size, reached through real directories. No link anywhere on
/// the way (`lessons -> ../alice/lessons`, or a link to the instructor's
/// solutions) is followed.
fn read_submitted(submission: &Path, relative: &Path) -> std::result::Result<Vec<u8>, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = submission.join(relative);
    let mut walked = submission.to_path_buf();
    let parts: Vec<_> = relative.components().collect();
    for (index, part) in parts.iter().enumerate() {
        walked.push(part);
        let meta = walked
            .symlink_metadata()
            .map_err(|e| format!("the submission has no {} ({e})", path.display()))?;
        let last = index + 1 == parts.len();
        let fine = if last {
            meta.file_type().is_file()
        } else {
            meta.file_type().is_dir()
        };
        if !fine {
            return Err(format!(
                "{} in the submission is not a {} (a link?): hand in the file itself, \
                 in the lesson's own directory",
                walked.display(),
                if last { "regular file" } else { "directory" }
            ));
        }
        if last && meta.len() > MAX_EXERCISE_BYTES {
            return Err(format!(
                "{} is {} bytes, more than the {MAX_EXERCISE_BYTES} an exercise file may have",
                path.display(),
                meta.len()
            ));
        }
    }
    let mut bytes = Vec::new();
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .and_then(|f| {
            use std::io::Read;
            f.take(MAX_EXERCISE_BYTES + 1).read_to_end(&mut bytes)
        })
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(bytes)
}

/// Hands grading over to the template's own grader, built from its sources.
fn run_template_grader(template: &Path, args: &[OsString], submission: &Path) -> Result<ExitCode> {
    let mut forwarded: Vec<OsString> = Vec::new();
    let mut has_submission = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--template" {
            iter.next();
            continue;
        }
        has_submission |= arg == "--submission";
        forwarded.push(arg.clone());
    }
    if !has_submission {
        forwarded.push("--submission".into());
        forwarded.push(submission.into());
    }
    eprintln!(
        "Grading with the template's grader, in {}",
        template.display()
    );
    let status = std::process::Command::new(crate::cargo_program())
        .args(["run", "--quiet", "--manifest-path"])
        .arg(template.join("Cargo.toml"))
        .args(["--package", "xtask", "--", "grade", "--template"])
        .arg(template)
        .args(&forwarded)
        .current_dir(template)
        .env("CARGO_TARGET_DIR", template.join("target"))
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
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
pub fn grade_tree(
    root: &Path,
    all: &[Lesson],
    tests: &[GradedTest],
    skip: &HashMap<String, String>,
    limits: Limits,
    progress: &mut dyn FnMut(String),
) -> Result<Vec<TestResult>> {
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
                progress(format!(
                    "building the graded tests of {}",
                    lesson.dir_name()
                ));
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
    // As root, tests run as throwaway users, if they can reach the tree.
    let sandboxed = match binaries.values().next() {
        Some((binary, dir)) if run::Sandbox::for_job(0) != run::Sandbox::NONE => {
            let reachable = binary.list(dir, run::Sandbox::for_job(0)).is_ok();
            if !reachable {
                progress(format!(
                    "warning: the tests run as root, because an unprivileged user cannot read \
                     {}: grade from a directory that others can read (for example under /srv) \
                     so that each test runs as a throwaway user",
                    dir.display()
                ));
            }
            reachable
        }
        _ => false,
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
        match binary.list(dir, sandbox_for(0)) {
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
                    let run = run::run_test(binary, &test.name, dir, limits.timeout, sandbox);
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
        for (index, result) in receiver {
            progress(format!(
                "  {:<11} {}::{} ({:.2} s)",
                result.verdict.status(),
                result.test.lesson,
                result.test.name,
                result.elapsed.as_secs_f64()
            ));
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

/// Checks a lesson's exercise file, builds its graded tests and seals the
/// binary; or says why its tests cannot run.
fn prepare(lesson: &Lesson, target: &Path) -> std::result::Result<run::SealedBinary, String> {
    let exercises = lesson.dir.join(EXERCISES);
    let source = fs::read_to_string(&exercises)
        .map_err(|e| format!("cannot read {}: {e}", exercises.display()))?;
    let problems = forbidden_constructs(&source);
    if !problems.is_empty() {
        return Err(format!(
            "{} breaks the grading rules:\n{}",
            exercises.display(),
            problems.join("\n")
        ));
    }
    let root = lesson
        .dir
        .parent()
        .and_then(Path::parent)
        .ok_or("a lesson directory without a workspace")?;
    match build::build_graded(root, target, &lesson.name)? {
        build::Built::Binary(path) => run::SealedBinary::seal(&path),
        build::Built::DoesNotCompile(error) => Err(format!("does not compile:\n{error}")),
    }
}

/// Removes a file, a link or a whole directory.
fn remove_any(path: &Path) -> Result {
    let is_dir = path.symlink_metadata().is_ok_and(|m| m.is_dir());
    let removed = if is_dir {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    removed.map_err(|e| format!("cannot remove {}: {e}", path.display()))
}

/// The real path of an existing directory given on the command line.
fn canonical(path: &Path, flag: &str) -> Result<PathBuf> {
    let real = fs::canonicalize(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    if !real.join("Cargo.toml").is_file() {
        return Err(format!(
            "{flag} {}: not a workbook (no Cargo.toml there)",
            path.display()
        ));
    }
    Ok(real)
}

/// An exclusive lock on `path`, held while the guard lives: two graders
/// must not share one pristine tree.
fn lock(path: &Path) -> Result<nix::fcntl::Flock<fs::File>> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|_| {
        format!(
            "another grader is using {}; wait for it to finish, then run this again",
            path.display()
        )
    })
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
