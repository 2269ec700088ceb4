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

use crate::{Result, workspace_root};

const STUB: &str = "// STUB:";
const BEGIN: &str = "// SOLUTION BEGIN";
const END: &str = "// SOLUTION END";

/// Top-level entries the student copy leaves out: build output, history, and
/// the instructor's CI (which runs `verify`, meaningless without solutions).
const LEFT_OUT: &[&str] = &["target", ".git", ".ci"];

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
    let dir = PathBuf::from(dir);
    let stripped = write_handout(&workspace_root(), &dir)?;
    println!(
        "Wrote the student copy to {} ({stripped} exercise files stubbed).",
        dir.display()
    );
    println!(
        "Students run `cargo xtask grade` there; pushes grade themselves in GitHub Classroom."
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the student copy of the workspace at `root` into `dest`, which must
/// be new or empty. Returns how many files had solutions stripped. On error,
/// whatever this call created is removed again.
pub fn write_handout(root: &Path, dest: &Path) -> Result<usize> {
    let existed = dest.exists();
    if existed {
        let mut entries = fs::read_dir(dest).map_err(|e| {
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
    }
    let dest_abs = std::path::absolute(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let result = copy_tree(root, &dest_abs, &dest_abs, Path::new("")).and_then(|stripped| {
        let workflows = dest_abs.join(".github/workflows");
        fs::create_dir_all(&workflows)
            .and_then(|()| fs::write(workflows.join("classroom.yml"), CLASSROOM_WORKFLOW))
            .map_err(|e| format!("cannot write the classroom workflow: {e}"))?;
        Ok(stripped)
    });
    if result.is_err() {
        // Leave nothing behind: an empty directory that existed stays empty.
        if existed {
            if let Ok(entries) = fs::read_dir(&dest_abs) {
                for entry in entries.flatten() {
                    let _ =
                        fs::remove_dir_all(entry.path()).or_else(|_| fs::remove_file(entry.path()));
                }
            }
        } else {
            let _ = fs::remove_dir_all(&dest_abs);
        }
    }
    result
}

/// Copies `from` (at `relative` inside the workspace) to `to`, stripping the
/// solutions out of the lessons' exercise files and nowhere else.
fn copy_tree(from: &Path, to: &Path, dest_root: &Path, relative: &Path) -> Result<usize> {
    let top = relative.as_os_str().is_empty();
    fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let mut stripped = 0;
    let entries = fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let path = entry.path();
        if (top && LEFT_OUT.iter().any(|l| name == *l)) || path == dest_root {
            continue;
        }
        let name_str = name.to_string_lossy();
        if name_str.ends_with(".snap.new") || name_str.ends_with(".pending-snap") {
            continue;
        }
        let target = to.join(&name);
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if kind.is_dir() {
            stripped += copy_tree(&path, &target, dest_root, &relative.join(&name))?;
        } else if kind.is_file() {
            let bytes =
                fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let bytes = match std::str::from_utf8(&bytes) {
                Ok(text) if is_exercise_file(&relative.join(&name)) => {
                    stripped += 1;
                    strip_solutions(text)
                        .map_err(|e| format!("{}: {e}", path.display()))?
                        .into_bytes()
                }
                _ => bytes,
            };
            fs::write(&target, bytes)
                .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        }
    }
    Ok(stripped)
}

/// True for `lessons/NN-name/src/exercises.rs`, the only files with solutions.
fn is_exercise_file(relative: &Path) -> bool {
    // lessons / NN-name / src/exercises.rs
    relative.starts_with("lessons")
        && relative.ends_with(crate::verify::EXERCISES)
        && relative.components().count() == 4
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
        let root = crate::workspace_root();
        let stripped = write_handout(&root, dest.path()).unwrap();
        let lessons = crate::lessons::discover(&root).unwrap();
        assert_eq!(
            stripped,
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
        let error = write_handout(&root, dest.path()).unwrap_err();
        assert!(error.contains("is not empty"), "{error}");
    }
}
