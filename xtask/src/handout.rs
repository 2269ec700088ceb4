//! `cargo xtask handout DIR`: the student copy.
//!
//! The reference solution and the stub come from one source. In an exercise
//! file, the solution sits between two marker lines, and the stub sits just
//! above it as a comment:
//!
//! ```text
//!     // STUB: todo!("map the file")
//!     // SOLUTION BEGIN
//!     let file = File::open(path)?;
//!     // SOLUTION END
//! ```
//!
//! The handout drops every solution region and uncomments every stub line.
//! A region with no stub (imports only the solution needs) simply disappears.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::lessons::{self, is_exercise_file};
use crate::manifest::{MANIFEST, Manifest};
use crate::{Result, files, workspace_root};

const STUB: &str = "// STUB:";
const BEGIN: &str = "// SOLUTION BEGIN";
const END: &str = "// SOLUTION END";

/// Top-level entries the student copy leaves out: the instructor's CI
/// (which runs `verify`, meaningless without solutions).
const LEFT_OUT: &[&str] = &[".ci"];

/// The student copy's grading workflow for GitHub Classroom.
const CLASSROOM_WORKFLOW: &str = "\
# Written by `cargo xtask handout`: grades every push with the workbook's own
# grader and reports the score to GitHub Classroom.
name: Autograding
on: [push, workflow_dispatch]
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  grade:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4
      - uses: dtolnay/rust-toolchain@stable
      - id: grade
        run: |
          cargo xtask grade --json grade.json || true
          echo \"result=$(base64 -w0 grade.json)\" >> \"$GITHUB_OUTPUT\"
      - uses: classroom-resources/autograding-grading-reporter@v1
        env:
          GRADE_RESULTS: ${{ steps.grade.outputs.result }}
        with:
          runners: grade
";

pub fn cmd_handout(args: Vec<OsString>) -> Result<ExitCode> {
    let [dir] = args.as_slice() else {
        return Err(
            "handout needs one argument, the directory to write: cargo xtask handout DIR".into(),
        );
    };
    let root = workspace_root()?;
    let written = write_handout(&root, Path::new(dir))?;
    println!(
        "Wrote the student copy to {} ({} files, {} exercise files stubbed).",
        written.dest.display(),
        written.files,
        written.stripped
    );
    let left_out: Vec<PathBuf> = files::untracked(&root);
    if !left_out.is_empty() {
        println!("Left out, because git does not track them:");
        for path in left_out.iter().take(20) {
            println!("  {}", path.display());
        }
    }
    println!(
        "Students run `cargo xtask grade` there; pushes grade themselves in GitHub Classroom."
    );
    Ok(ExitCode::SUCCESS)
}

/// What a handout holds.
#[derive(Debug)]
pub struct Written {
    /// Where it is, as a real path.
    pub dest: PathBuf,
    pub files: usize,
    pub stripped: usize,
}

/// Writes the student copy of the workspace at `root` into `dest`, which
/// must be new or an empty directory, and outside the workspace. Only the
/// files git tracks are copied. The copy is made beside `dest` and renamed
/// into place, so `dest` ends up complete or untouched.
pub fn write_handout(root: &Path, dest: &Path) -> Result<Written> {
    let dest = resolve_destination(root, dest)?;
    let tracked = files::tracked(root)?;
    let parent = dest.parent().ok_or("the handout directory has no parent")?;
    let staging = tempfile::Builder::new()
        .prefix(".handout-")
        .tempdir_in(parent)
        .map_err(|e| format!("cannot write into {}: {e}", parent.display()))?;
    let written = fill(root, &tracked, staging.path())?;
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("cannot set the handout's permissions: {e}"))?;
    }
    // rename(2) replaces an empty directory, and fails on a non-empty one
    // (another writer got there first): either way nothing half-written stays.
    fs::rename(staging.path(), &dest)
        .map_err(|e| format!("cannot move the handout into {}: {e}", dest.display()))?;
    let _ = staging.keep();
    Ok(Written { dest, ..written })
}

/// The real path `dest` will have, after checking it is new or empty and
/// outside the workspace (directly, through `..` or through a link).
fn resolve_destination(root: &Path, dest: &Path) -> Result<PathBuf> {
    let root = fs::canonicalize(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let real = if dest.exists() {
        let real = fs::canonicalize(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        let mut entries = fs::read_dir(&real).map_err(|e| {
            format!(
                "{}: cannot use this as the handout directory: {e}",
                dest.display()
            )
        })?;
        if entries.next().is_some() {
            return Err(format!(
                "{} is not empty. Name a new or empty directory for the handout.",
                dest.display()
            ));
        }
        real
    } else {
        let name = dest
            .file_name()
            .filter(|n| *n != "." && *n != "..")
            .ok_or_else(|| format!("{}: name a directory for the handout", dest.display()))?;
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let parent = fs::canonicalize(parent).map_err(|e| {
            format!(
                "{}: its parent directory cannot be used ({e}); create it first",
                dest.display()
            )
        })?;
        parent.join(name)
    };
    if real.starts_with(&root) || root.starts_with(&real) {
        return Err(format!(
            "{} is inside the workbook at {} (or holds it). A handout inside the workbook \
             breaks cargo and copies itself; choose a directory outside it, for example \
             ../handout",
            dest.display(),
            root.display()
        ));
    }
    Ok(real)
}

/// Copies `tracked` from `root` into `to`, stripping the solutions from the
/// exercise files, then adds the workflow and the manifest.
fn fill(root: &Path, tracked: &[PathBuf], to: &Path) -> Result<Written> {
    let chosen: Vec<PathBuf> = tracked
        .iter()
        .filter(|p| !LEFT_OUT.iter().any(|l| p.starts_with(l)))
        .cloned()
        .collect();
    files::copy(root, &chosen, to)?;
    let mut stripped = 0;
    for relative in chosen.iter().filter(|p| is_exercise_file(p)) {
        let path = to.join(relative);
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let stub = strip_solutions(&text).map_err(|e| format!("{}: {e}", relative.display()))?;
        fs::write(&path, stub).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        stripped += 1;
    }
    let workflows = to.join(".github/workflows");
    fs::create_dir_all(&workflows)
        .and_then(|()| fs::write(workflows.join("classroom.yml"), CLASSROOM_WORKFLOW))
        .map_err(|e| format!("cannot write the classroom workflow: {e}"))?;
    let mut tests = Vec::new();
    for lesson in lessons::discover(to)? {
        tests.extend(lesson.graded_tests()?);
    }
    let watched: Vec<PathBuf> = files::walk(to)?
        .into_iter()
        .filter(|p| !is_exercise_file(p) && p != Path::new(MANIFEST))
        .collect();
    let manifest = Manifest::describe(to, tests, &watched)?;
    let manifest_path = to.join(MANIFEST);
    fs::create_dir_all(manifest_path.parent().unwrap_or(to))
        .and_then(|()| fs::write(&manifest_path, manifest.to_text()))
        .map_err(|e| format!("cannot write {}: {e}", manifest_path.display()))?;
    Ok(Written {
        dest: to.to_owned(),
        files: chosen.len(),
        stripped,
    })
}

/// True if `source` has at least one solution region.
pub fn has_solutions(source: &str) -> bool {
    source.lines().any(|l| l.trim() == BEGIN)
}

/// How many stubs (exercises to fill in) `source` has.
pub fn count_stubs(source: &str) -> usize {
    source
        .lines()
        .filter(|l| l.trim_start().starts_with(STUB))
        .count()
}

/// The student's version of `source`: solutions removed, stubs uncommented.
pub fn strip_solutions(source: &str) -> Result<String> {
    let mut out = String::with_capacity(source.len());
    let mut inside: Option<usize> = None;
    for (index, line) in source.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        match (trimmed, inside) {
            (BEGIN, Some(opened)) => {
                return Err(format!(
                    "line {number}: SOLUTION BEGIN inside the region opened at line {opened}"
                ));
            }
            (BEGIN, None) => inside = Some(number),
            (END, Some(_)) => inside = None,
            (END, None) => return Err(format!("line {number}: SOLUTION END without a BEGIN")),
            (_, Some(_)) => {}
            (_, None) => match trimmed.strip_prefix(STUB) {
                Some(stub) => {
                    let indent = &line[..line.len() - line.trim_start().len()];
                    out.push_str(indent);
                    out.push_str(stub.trim_start());
                    out.push('\n');
                }
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            },
        }
    }
    if let Some(opened) = inside {
        return Err(format!("line {opened}: SOLUTION BEGIN is never closed"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXERCISE: &str = "\
use std::io;
// SOLUTION BEGIN
use std::fs::File;
// SOLUTION END

pub fn open(path: &str) -> io::Result<()> {
    // STUB: todo!(\"open {path}\")
    // SOLUTION BEGIN
    File::open(path)?;
    Ok(())
    // SOLUTION END
}
";

    #[test]
    fn solutions_become_stubs() {
        assert_eq!(
            strip_solutions(EXERCISE).unwrap(),
            "use std::io;\n\npub fn open(path: &str) -> io::Result<()> {\n    todo!(\"open {path}\")\n}\n"
        );
        assert!(has_solutions(EXERCISE));
        assert_eq!(count_stubs(EXERCISE), 1);
        assert!(!has_solutions(&strip_solutions(EXERCISE).unwrap()));
    }

    #[test]
    fn unbalanced_markers_are_errors_with_line_numbers() {
        assert!(
            strip_solutions("// SOLUTION BEGIN\n")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(
            strip_solutions("x\n// SOLUTION END\n")
                .unwrap_err()
                .contains("line 2")
        );
        let nested = "// SOLUTION BEGIN\n// SOLUTION BEGIN\n// SOLUTION END\n// SOLUTION END\n";
        assert!(
            strip_solutions(nested)
                .unwrap_err()
                .contains("opened at line 1")
        );
    }

    #[test]
    fn a_handout_is_written_and_refuses_a_non_empty_directory() {
        let dest = tempfile::tempdir().unwrap();
        let root = crate::workspace_root().unwrap();
        let written = write_handout(&root, dest.path()).unwrap();
        let lessons = crate::lessons::discover(&root).unwrap();
        assert_eq!(
            written.stripped,
            lessons.len(),
            "exactly the lessons' exercise files are stripped"
        );
        let own = fs::read_to_string(dest.path().join("xtask/src/handout.rs")).unwrap();
        assert_eq!(
            own,
            fs::read_to_string(root.join("xtask/src/handout.rs")).unwrap()
        );
        let exercises =
            fs::read_to_string(dest.path().join("lessons/01-file-mapping/src/exercises.rs"))
                .unwrap();
        assert!(!has_solutions(&exercises) && exercises.contains("todo!("));
        assert!(dest.path().join(".github/workflows/classroom.yml").exists());
        assert!(!dest.path().join(".ci").exists() && !dest.path().join("target").exists());
        let manifest = Manifest::read(dest.path()).unwrap().unwrap();
        assert!(manifest.changes(dest.path()).is_empty());
        assert!(
            manifest
                .files
                .iter()
                .any(|(_, p)| p == Path::new("lessons/01-file-mapping/tests/graded.rs"))
        );
        assert!(!manifest.files.iter().any(|(_, p)| is_exercise_file(p)));
        let error = write_handout(&root, dest.path()).unwrap_err();
        assert!(error.contains("is not empty"), "{error}");
    }

    #[test]
    fn a_handout_inside_the_workbook_is_refused_however_it_is_named() {
        let root = crate::workspace_root().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let link = outside.path().join("link");
        std::os::unix::fs::symlink(root.join("target"), &link).unwrap();
        for inside in [
            root.join("handout-inside"),
            root.join("xtask/../handout-inside"),
            link.join("handout-inside"),
            root.clone(),
            root.parent().unwrap().to_owned(),
        ] {
            let error = write_handout(&root, &inside).unwrap_err();
            assert!(
                error.contains("inside the workbook") || error.contains("is not empty"),
                "{}: {error}",
                inside.display()
            );
            assert!(!root.join("handout-inside").exists());
        }
    }

    /// A tiny workbook in its own git repository, with one lesson.
    fn tiny_workbook() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write("Cargo.toml", "[workspace]\nmembers = [\"lessons/*\"]\n");
        write(
            "lessons/01-tiny/Cargo.toml",
            "[package]\nname = \"tiny\"\ndescription = \"Is it tiny?\"\n",
        );
        write(
            "lessons/01-tiny/src/exercises.rs",
            "pub fn one() -> u32 {\n    // STUB: todo!()\n    // SOLUTION BEGIN\n    1\n    // SOLUTION END\n}\n",
        );
        write(
            "lessons/01-tiny/tests/graded.rs",
            "// points: 3\n#[test]\nfn one_is_one() {}\n",
        );
        let git = |args: &[&str]| {
            let status = std::process::Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .current_dir(root)
                .output()
                .unwrap();
            assert!(status.status.success(), "git {args:?}: {status:?}");
        };
        git(&["init", "-q"]);
        git(&["add", "."]);
        git(&["commit", "-qm", "tiny"]);
        dir
    }

    #[test]
    fn only_tracked_files_are_handed_out() {
        let tiny = tiny_workbook();
        // An editor's backup of the solved exercise, and a notes file.
        fs::write(
            tiny.path().join("lessons/01-tiny/src/exercises.rs~"),
            "// SOLUTION BEGIN\n",
        )
        .unwrap();
        fs::write(tiny.path().join("notes.txt"), "answers").unwrap();
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("handout");
        let written = write_handout(tiny.path(), &dest).unwrap();
        assert_eq!((written.files, written.stripped), (4, 1));
        assert!(!dest.join("lessons/01-tiny/src/exercises.rs~").exists());
        assert!(!dest.join("notes.txt").exists());
        let stub = fs::read_to_string(dest.join("lessons/01-tiny/src/exercises.rs")).unwrap();
        assert_eq!(stub, "pub fn one() -> u32 {\n    todo!()\n}\n");
        let manifest = Manifest::read(&dest).unwrap().unwrap();
        assert_eq!(manifest.tests.len(), 1);
        assert_eq!(manifest.tests[0].points, 3);
        // Nothing but the handout itself was created beside it.
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_broken_exercise_file_leaves_no_partial_handout() {
        let tiny = tiny_workbook();
        fs::write(
            tiny.path().join("lessons/01-tiny/src/exercises.rs"),
            "// SOLUTION BEGIN\nnever closed\n",
        )
        .unwrap();
        let out = tempfile::tempdir().unwrap();
        let error = write_handout(tiny.path(), &out.path().join("handout")).unwrap_err();
        assert!(error.contains("never closed"), "{error}");
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_failed_handout_leaves_nothing_behind() {
        let parent = tempfile::tempdir().unwrap();
        let root = crate::workspace_root().unwrap();
        // A destination whose parent does not exist fails before writing.
        let error = write_handout(&root, &parent.path().join("no/such/dir")).unwrap_err();
        assert!(error.contains("create it first"), "{error}");
        assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 0);
    }
}
