//! Running a lesson as another user (`nobody`, uid 65534), as a test run by
//! root does to show what an unprivileged user sees.
//!
//! That user must reach the program and its working directory, and a
//! checkout often sits where it cannot: root's home (mode 0700), or a
//! `mktemp -d` directory. So the program is copied into a fresh directory
//! (mode 0755) under TMPDIR when `nobody` can reach TMPDIR, else under
//! `/tmp`, else under `/dev/shm`, with a working directory anyone may write
//! to, and run from there. Where no such place exists the test is skipped,
//! with the reason: it never fails on where the checkout lives.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The user id of `nobody`.
pub const NOBODY: u32 = 65534;

/// A copy of a lesson's program that `nobody` can run, and a working
/// directory (and TMPDIR) it may write to; removed when dropped.
#[derive(Debug)]
pub struct AsNobody {
    dir: tempfile::TempDir,
    bin: PathBuf,
    work: PathBuf,
}

impl AsNobody {
    /// Copies `bin` where `nobody` can run it. `Err` says why the test
    /// should be skipped: not root, or no place `nobody` can reach.
    pub fn prepare(bin: &str) -> Result<AsNobody, String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("needs root to run the lesson as nobody".into());
        }
        let base = support_base()?;
        let dir = tempfile::Builder::new()
            .prefix("workbook-as-nobody-")
            .tempdir_in(&base)
            .map_err(|e| {
                format!("cannot make a directory in {}: {e}", base.display())
            })?;
        let mode = |path: &Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        };
        let name = Path::new(bin).file_name().unwrap_or("lesson".as_ref());
        let copy = dir.path().join(name);
        let work = dir.path().join("work");
        // Copied by `cp`, in a process of its own: a copy written here would
        // hold the new file open for writing while the test's other threads
        // fork, and a child that had not yet reached its exec would make
        // ours fail with "Text file busy" (seen in CI, under load).
        copy_in_a_child(Path::new(bin), &copy)
            .and_then(|()| mode(&copy, 0o755))
            .and_then(|()| std::fs::create_dir(&work))
            .and_then(|()| mode(&work, 0o1777))
            .and_then(|()| mode(dir.path(), 0o755))
            .map_err(|e| format!("cannot copy {bin} for nobody: {e}"))?;
        Ok(AsNobody {
            dir,
            bin: copy,
            work,
        })
    }

    /// The program run as `nobody` with `args`, in the working directory,
    /// with TMPDIR there too.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command.args(args);
        self.as_nobody(&mut command);
        command
    }

    /// Makes `command` run as `nobody`, in the working directory, with
    /// TMPDIR there too.
    pub fn as_nobody(&self, command: &mut Command) {
        command
            .current_dir(&self.work)
            .env("TMPDIR", &self.work)
            .uid(NOBODY)
            .gid(NOBODY);
    }

    /// The copy of the program.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The working directory (and TMPDIR), writable by anyone.
    pub fn work(&self) -> &Path {
        &self.work
    }

    /// Where the copy and the working directory are.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Copies the file `from` to the new file `to` with `cp`, waiting a minute
/// at most.
fn copy_in_a_child(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut cp = Command::new("cp");
    cp.arg("--").arg(from).arg(to);
    let copied =
        support::spawn::output_bounded(&mut cp, std::time::Duration::from_secs(60))?;
    if copied.outcome.is_success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "cp {}: {}",
            copied.outcome,
            copied.stderr.trim()
        )))
    }
}

/// The place for `nobody`'s files; says so on stderr when it is not TMPDIR.
fn support_base() -> Result<PathBuf, String> {
    let base = crate::reach::temp_base_for_others().ok_or_else(|| {
        "nobody can reach neither TMPDIR, /tmp nor /dev/shm (a 0700 directory on the way)"
            .to_owned()
    })?;
    let tmpdir = std::env::temp_dir();
    if base != tmpdir {
        eprintln!(
            "note: nobody cannot reach TMPDIR ({}): a directory on the way has mode 0700; \
             the tests that run as nobody put their files in {} instead",
            tmpdir.display(),
            base.display()
        );
    }
    Ok(base)
}
