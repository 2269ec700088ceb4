//! Is this machine able to run graded tests at all? Checked before any
//! learner code runs (before the builds), so a broken environment is named as
//! such, never turned into a table of zeros, and code under test cannot fake
//! it (by filling TMPDIR, say): by then the check is over.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The least free space TMPDIR must have: the graded tests write files of a
/// few megabytes, and the grader gives each test a directory there.
const MIN_FREE_TMP: u64 = 32 << 20;

/// What is wrong with the machine, and what to do about it. Printed as one
/// line (`error: ...`), exit code 2: it is not a score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentError {
    /// What is wrong, naming the thing (`TMPDIR=/nonexistent does not exist`).
    pub problem: String,
    /// What to do about it.
    pub fix: String,
}

impl fmt::Display for EnvironmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot grade here: {}. {} (No test ran: this is not a score.)",
            self.problem, self.fix
        )
    }
}

impl From<EnvironmentError> for String {
    fn from(error: EnvironmentError) -> String {
        error.to_string()
    }
}

/// Checks what every graded test relies on: a usable TMPDIR with some free
/// space, `/proc`, and a writable `/dev/shm`.
pub fn check_environment() -> Result<(), EnvironmentError> {
    check_tmpdir(&std::env::temp_dir(), std::env::var_os("TMPDIR").is_some())?;
    check_proc()?;
    check_dev_shm(Path::new("/dev/shm"))
}

fn tmp_fix(from_env: bool) -> String {
    if from_env {
        "Set TMPDIR to a writable directory with free space (or unset it to use /tmp), \
         then grade again."
            .to_owned()
    } else {
        "Make /tmp a writable directory with free space, or set TMPDIR to one, then \
         grade again."
            .to_owned()
    }
}

/// TMPDIR exists, is a directory, takes a new file, and has free space.
fn check_tmpdir(dir: &Path, from_env: bool) -> Result<(), EnvironmentError> {
    let name = if from_env {
        format!("TMPDIR={}", dir.display())
    } else {
        dir.display().to_string()
    };
    let problem = |what: String| EnvironmentError {
        problem: format!("{name} {what}"),
        fix: tmp_fix(from_env),
    };
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(problem("does not exist".into()));
        }
        Err(e) => return Err(problem(format!("cannot be reached ({e})"))),
        Ok(meta) if !meta.is_dir() => return Err(problem("is not a directory".into())),
        Ok(_) => {}
    }
    let probe = tempfile::Builder::new()
        .prefix(".workbook-grader-probe-")
        .tempfile_in(dir)
        .and_then(|mut file| {
            file.write_all(&[0u8; 4096])?;
            file.as_file().sync_all()
        });
    if let Err(e) = probe {
        return Err(problem(format!("does not take a new file ({e})")));
    }
    let free = nix::sys::statvfs::statvfs(dir)
        .map(|s| s.blocks_available() * s.fragment_size())
        .unwrap_or(u64::MAX);
    if free < MIN_FREE_TMP {
        return Err(problem(format!(
            "has only {} KiB free; the graded tests need {} MiB",
            free >> 10,
            MIN_FREE_TMP >> 20
        )));
    }
    Ok(())
}

/// `/proc` is mounted: the tests read `/proc/self/maps`, the grader its
/// children in `/proc/PID/stat`.
fn check_proc() -> Result<(), EnvironmentError> {
    if std::fs::read_to_string("/proc/self/maps").is_ok_and(|m| !m.is_empty()) {
        return Ok(());
    }
    Err(EnvironmentError {
        problem: "/proc is not mounted (cannot read /proc/self/maps)".into(),
        fix: "Mount it (mount -t proc proc /proc), or grade in a container that has it.".into(),
    })
}

/// `/dev/shm` takes a new object, as `shm_open` needs.
fn check_dev_shm(dir: &Path) -> Result<(), EnvironmentError> {
    let probe: PathBuf = dir.join(format!(
        ".workbook-grader-probe-{}-{}",
        std::process::id(),
        support::unguessable_suffix().unwrap_or_default()
    ));
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe);
    match made {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(EnvironmentError {
            problem: format!("{} does not take a new object ({e})", dir.display()),
            fix: "Mount a writable tmpfs there (mount -t tmpfs -o mode=1777 tmpfs /dev/shm), \
                  or grade in a container that has one."
                .into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tmpdir_is_named_with_its_fix() {
        let error = check_tmpdir(Path::new("/nonexistent/for/sure"), true).unwrap_err();
        assert_eq!(error.problem, "TMPDIR=/nonexistent/for/sure does not exist");
        let line = error.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.contains("Set TMPDIR to a writable directory"),
            "{line}"
        );
    }

    #[test]
    fn a_file_is_not_a_tmpdir() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let error = check_tmpdir(file.path(), true).unwrap_err();
        assert!(error.problem.ends_with("is not a directory"), "{error}");
    }

    #[test]
    fn a_usable_tmpdir_passes_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        check_tmpdir(dir.path(), true).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let shm = tempfile::tempdir().unwrap();
        check_dev_shm(shm.path()).unwrap();
        assert_eq!(std::fs::read_dir(shm.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_missing_dev_shm_is_named() {
        let error = check_dev_shm(Path::new("/nonexistent-shm")).unwrap_err();
        assert!(
            error.problem.starts_with("/nonexistent-shm does not take"),
            "{error}"
        );
    }
}
