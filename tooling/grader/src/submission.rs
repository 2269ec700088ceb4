//! Grading a submission against a template: a pristine copy of the
//! template with only the submission's exercise files put in, graded by the
//! template's own grader.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::sandbox::Sandbox;
use test_support::layout::{self as lessons, EXERCISES, Lesson};
use tooling::grade::{Event, Graded, Limits, choose, grade_tree, tests_of};
use tooling::manifest::Manifest;
use tooling::{Result, files};

/// The largest exercise file a submission may hand in.
const MAX_EXERCISE_BYTES: u64 = 1 << 20;

/// Grades the exercise files of `submission` with the graded tests, grader
/// and manifests of `template` (this grader's own tree): a copy of the
/// template, with only the submission's exercise files put in.
pub fn grade_against_template(
    template: &Path,
    submission: &Path,
    lesson: Option<&str>,
    limits: Limits,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<Graded> {
    let submission = &find_workbook(submission)?;
    let all = lessons::discover(template)?;
    let chosen = choose(template, &all, lesson)?;
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
        progress(Event::Warning(format!(
            "warning: removed {}: a cargo configuration there would change how \
             submissions are built",
            planted.display()
        )));
        remove_any(&planted)?;
    }
    let tree = workspace.join("tree");
    let skip = lay_out_pristine_tree(template, submission, &tree, &chosen)?;
    // The submission's files, against the template's own manifest (never
    // the submission's, which the student controls). A file the submission
    // lacks is not named: an upload may hold its exercise files only.
    let changed = match Manifest::read(template) {
        Some(Ok(manifest)) => manifest
            .changes(submission)
            .into_iter()
            .filter(|change| !change.starts_with("missing: "))
            .collect(),
        _ => Vec::new(),
    };
    let sandbox = Sandbox::new();
    let results = grade_tree(
        &tree,
        &all,
        &tests,
        &skip,
        limits,
        tooling::grade::Guards {
            check_files: scan::check_lesson,
            isolation: Some(&sandbox),
        },
        progress,
    )?;
    Ok(Graded { results, changed })
}

/// Where the workbook is in a submission: the directory itself when it
/// holds `lessons/`, or its one top-level folder that does (GitHub's
/// "Download ZIP" puts everything in `NAME-main/`). Otherwise an error that
/// says where it looked.
pub fn find_workbook(submission: &Path) -> Result<PathBuf> {
    // Anything named `lessons` counts: a link there is refused later, with
    // its own reason.
    let has_lessons = |dir: &Path| dir.join("lessons").symlink_metadata().is_ok();
    if has_lessons(submission) {
        return Ok(submission.to_owned());
    }
    let folders: Vec<PathBuf> = fs::read_dir(submission)
        .map_err(|e| format!("cannot read the submission {}: {e}", submission.display()))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with(['.', '_']))
        .map(|e| e.path())
        .collect();
    let found: Vec<&PathBuf> = folders.iter().filter(|f| has_lessons(f)).collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let looked: Vec<String> = folders
                .iter()
                .filter_map(|f| f.file_name().map(|n| format!("{}/", n.to_string_lossy())))
                .collect();
            Err(format!(
                "the submission holds no workbook: there is no lessons/ folder in {}{}. \
                 Hand in the workbook itself (its top folder holds lessons/ and Cargo.toml).",
                submission.display(),
                if looked.is_empty() {
                    String::from(" (which has no folders)")
                } else {
                    format!(" nor in its folders {}", looked.join(", "))
                }
            ))
        }
        many => Err(format!(
            "the submission holds {} workbooks ({}): hand in one",
            many.len(),
            many.iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
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

/// Copies the exercise files of the workbook `from` to the same places
/// under `to`, a private copy for its grader. A path that is not a real
/// directory or a regular file on the way is copied as it is (a link stays
/// a link) and no further, so the grader refuses it with its own reason.
pub fn copy_exercises(
    from: &Path,
    lessons: &[Lesson],
    to: &Path,
) -> std::result::Result<(), String> {
    fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for lesson in lessons {
        let relative = Path::new("lessons").join(lesson.dir_name()).join(EXERCISES);
        let mut walked = PathBuf::new();
        let parts: Vec<_> = relative.components().collect();
        for (index, part) in parts.iter().enumerate() {
            walked.push(part);
            let Ok(meta) = from.join(&walked).symlink_metadata() else {
                break; // missing: the grader says so
            };
            let last = index + 1 == parts.len();
            if meta.is_dir() && !last {
                continue;
            }
            if meta.is_file() || meta.file_type().is_symlink() {
                files::copy(from, std::slice::from_ref(&walked), to)?;
            }
            break;
        }
    }
    Ok(())
}

/// Hands grading over to the template's own grader, built from its sources.
pub fn run_template_grader(
    template: &Path,
    args: &[OsString],
    submission: &Path,
) -> Result<ExitCode> {
    let mut forwarded: Vec<OsString> = Vec::new();
    let mut has_submission = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--template" {
            iter.next();
            continue;
        }
        let text = arg.to_string_lossy();
        if text.starts_with("--template=") {
            continue;
        }
        has_submission |= arg == "--submission" || text.starts_with("--submission=");
        forwarded.push(arg.clone());
    }
    if !has_submission {
        forwarded.push("--submission".into());
        forwarded.push(submission.into());
    }
    // A closed stderr must not stop the grading: the line is dropped.
    let _ = writeln!(
        std::io::stderr(),
        "Grading with the template's grader, in {}",
        template.display()
    );
    // The template's grader: its own program, or in a template made before
    // the grader was a crate of its own, xtask.
    let program: &[&str] = if template.join("tooling/grader/Cargo.toml").is_file() {
        &["--package", "workbook-grader", "--bin", "grader"]
    } else {
        &["--package", "xtask"]
    };
    let status = std::process::Command::new(tooling::cargo_program())
        .args(["run", "--quiet", "--manifest-path"])
        .arg(template.join("Cargo.toml"))
        .args(program)
        .args(["--", "grade", "--template"])
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

/// Removes a file, a link or a whole directory.
pub fn remove_any(path: &Path) -> Result {
    let is_dir = path.symlink_metadata().is_ok_and(|m| m.is_dir());
    let removed = if is_dir {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    removed.map_err(|e| format!("cannot remove {}: {e}", path.display()))
}

/// The real path of an existing directory given on the command line.
pub fn canonical(path: &Path, flag: &str) -> Result<PathBuf> {
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
