//! Packages for the grading platforms: Gradescope's autograder zip, and
//! Classroom 50's custom grader. Both carry a pristine handout and grade the
//! student's exercise files with it, never with the student's own tests.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::handout::{PINNED_TOOLCHAIN, write_handout_of};
use tooling::copy::{choose_lessons, dir_and_lessons};
use tooling::{Result, files, workspace_root};

/// Gradescope runs this once, when it builds the autograder's image
/// (Ubuntu 22.04, no Rust): install the pinned toolchain, fetch the
/// dependencies, and build the grader and every graded test once.
fn setup_sh() -> String {
    format!(
        "\
#!/usr/bin/env bash
# Written by `cargo xtask gradescope`. Gradescope runs this once, when it
# builds the autograder image: install Rust {PINNED_TOOLCHAIN}, fetch the
# dependencies, and build the grader and every graded test ahead of time.
set -euxo pipefail
apt-get update
apt-get install -y --no-install-recommends build-essential ca-certificates curl git
curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \\
  | sh -s -- -y --profile minimal --default-toolchain {PINNED_TOOLCHAIN}
. \"$HOME/.cargo/env\"
cd /autograder/source/workbook
cargo fetch --locked
# Grading the handout itself builds everything a submission needs.
cargo xtask grade --template . --submission . --json /tmp/warm-up.json || true
"
    )
}

/// Gradescope runs this for every submission. `AUTOGRADER_ROOT` (default
/// `/autograder`) lets a test lay out the same directories anywhere.
const RUN_AUTOGRADER: &str = "\
#!/usr/bin/env bash
# Written by `cargo xtask gradescope`. Grades the exercise files in
# $ROOT/submission with the pristine tests and grader in $ROOT/source, and
# writes $ROOT/results/results.json in Gradescope's format.
set -u
ROOT=\"${AUTOGRADER_ROOT:-/autograder}\"
if [ -f \"$HOME/.cargo/env\" ]; then . \"$HOME/.cargo/env\"; fi
export CARGO_NET_OFFLINE=true
mkdir -p \"$ROOT/results\"
results=\"$ROOT/results/results.json\"
rm -f \"$results\"
cd \"$ROOT/source/workbook\" || exit 1
errors=$(mktemp)
# 5 s a test: on Gradescope's half a CPU, tests run one at a time, and a
# submission whose every exercise loops must still finish in 10 minutes.
# The grader finds the workbook in submission/ or in its one top folder
# (GitHub's \"Download ZIP\").
cargo xtask grade --template . --submission \"$ROOT/submission\" \\
  --format gradescope --json \"$results\" --timeout 5 2>\"$errors\"
cat \"$errors\" >&2
if [ ! -s \"$results\" ]; then
  max=$(awk '$1 == \"test\" { s += $4 } END { print s + 0 }' .workbook/manifest)
  # The grader's own reason (where it looked, say), as a JSON string.
  reason=$(grep '^error: ' \"$errors\" | tail -n 1 | sed -e 's/^error: //' \\
    -e 's/\\\\/\\\\\\\\/g' -e 's/\"/\\\\\"/g' | tr -d '\\000-\\037')
  printf '{\"score\":0,\"output\":\"No test ran (0 of %s points): %s\",\"tests\":[]}\\n' \\
    \"$max\" \"${reason:-the grader could not run. Please tell your instructor.}\" > \"$results\"
fi
rm -f \"$errors\"
exit 0
";

/// Classroom 50 runs this (from the instructor's configuration repository)
/// in the student's checkout. It grades with the pristine workbook that sits
/// next to it, writes `result.json` and `release-body.md`, and exits 0 once
/// a result is written (anything else is an infrastructure error there).
const AUTOGRADER_PY: &str = "\
#!/usr/bin/env python3
\"\"\"Classroom 50 grader for mmap-workbook (written by `cargo xtask classroom50`).

Runs in the student's checkout. Grades its exercise files with the pristine
tests and grader in ./workbook next to this file, never with the student's.
\"\"\"
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WORKBOOK = os.path.join(HERE, \"workbook\")


def main():
    student = os.getcwd()
    result = os.path.join(student, \"result.json\")
    summary = os.path.join(student, \"release-body.md\")
    for path in (result, summary):
        if os.path.exists(path):
            os.remove(path)
    subprocess.run(
        [\"cargo\", \"xtask\", \"grade\", \"--template\", \".\", \"--submission\", student,
         \"--format\", \"classroom50\", \"--json\", result, \"--summary\", summary],
        cwd=WORKBOOK,
        check=False,
    )
    if not os.path.exists(result):
        return 1  # an infrastructure error: Classroom 50 shows it as such
    with open(result) as f:
        json.load(f)  # written whole, or not at all
    return 0


if __name__ == \"__main__\":
    sys.exit(main())
";

/// Writes `DIR` (new or empty): the pristine handout under `workbook/`,
/// plus `extra` files, made whole beside `DIR` and renamed into place.
fn write_package(dir: &Path, only: Option<&str>, extra: &[(&str, &str, bool)]) -> Result<PathBuf> {
    let root = workspace_root()?;
    let chosen = match only {
        Some(list) => Some(choose_lessons(&root, list)?),
        None => None,
    };
    if dir.exists() && fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(format!(
            "{} is not an empty directory; name a new one",
            dir.display()
        ));
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let staging = tempfile::Builder::new()
        .prefix(".package-")
        .tempdir_in(&parent)
        .map_err(|e| format!("cannot write into {}: {e}", parent.display()))?;
    write_handout_of(&root, &staging.path().join("workbook"), chosen.as_deref())?;
    for (name, text, executable) in extra {
        let path = staging.path().join(name);
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if *executable {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("{}: {e}", staging.path().display()))?;
    }
    let real = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    fs::rename(staging.path(), &real)
        .map_err(|e| format!("cannot move the package into {}: {e}", dir.display()))?;
    let _ = staging.keep();
    Ok(real)
}

pub fn cmd_gradescope(args: Vec<OsString>) -> Result<ExitCode> {
    let Some((dir, only)) = dir_and_lessons(args, "gradescope")? else {
        return Ok(ExitCode::SUCCESS);
    };
    let setup = setup_sh();
    let dir = write_package(
        &dir,
        only.as_deref(),
        &[
            ("setup.sh", &setup, true),
            ("run_autograder", RUN_AUTOGRADER, true),
        ],
    )?;
    let zip_path = dir.join("autograder.zip");
    let mut entries: Vec<PathBuf> = vec!["setup.sh".into(), "run_autograder".into()];
    entries.extend(
        files::walk(&dir.join("workbook"))?
            .into_iter()
            .map(|p| Path::new("workbook").join(p)),
    );
    let zip = crate::zip::store(&dir, &entries)?;
    fs::write(&zip_path, zip).map_err(|e| format!("cannot write {}: {e}", zip_path.display()))?;
    tooling::outln!("Wrote the Gradescope autograder to {}.", dir.display())?;
    tooling::outln!(
        "Upload {} as the assignment's autograder (Ubuntu 22.04 base image). Students submit \
         their repository (from GitHub, or as a zip of it).",
        zip_path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn cmd_classroom50(args: Vec<OsString>) -> Result<ExitCode> {
    let Some((dir, only)) = dir_and_lessons(args, "classroom50")? else {
        return Ok(ExitCode::SUCCESS);
    };
    let dir = write_package(
        &dir,
        only.as_deref(),
        &[("autograder.py", AUTOGRADER_PY, true)],
    )?;
    tooling::outln!("Wrote the Classroom 50 grader to {}.", dir.display())?;
    tooling::outln!(
        "Commit autograder.py and workbook/ to the assignment's configuration repository. \
         Hand out workbook/ itself as the template: it holds no .github/workflows/autograde.yaml, \
         which Classroom 50 writes."
    )?;
    Ok(ExitCode::SUCCESS)
}
