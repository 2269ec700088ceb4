//! What a throwaway user sees of a tree it could not read: a readable copy,
//! mounted where the tree is, in the test's own mount namespace.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tooling::grade::run::{Job, confine};

/// A readable copy of what the tests need, for throwaway users who cannot
/// read the tree itself (a checkout inside a 0700 directory, as root's home
/// or `mktemp -d` make): learner code never runs as root instead. The copy
/// (the lessons' sources, and the lesson binaries the tests run) is
/// bind-mounted read-only over the topmost directory those users cannot
/// pass, in a mount namespace of each test's own, so every path the test
/// binary holds (`CARGO_BIN_EXE_*`, the lesson's directory) stays the same.
#[derive(Debug)]
pub struct View {
    /// The directory the copy stands in for.
    covers: PathBuf,
    /// The copy: directories 0755, files 0644 (0755 when executable),
    /// owned by root; removed when the view is dropped.
    copy: tempfile::TempDir,
}

impl View {
    /// The view that throwaway users need to run the tests of `lessons` of
    /// the tree at `root`, built in `target`; `None` when they can reach
    /// everything as it is. An error says why there can be none.
    pub fn for_tree(root: &Path, target: &Path, lessons: &[&str]) -> Result<Option<View>, String> {
        let binaries: Vec<PathBuf> = lessons
            .iter()
            .map(|name| target.join("debug").join(name))
            .filter(|path| path.is_file())
            .collect();
        let lesson_dirs = root.join("lessons");
        let blocked = std::iter::once(&lesson_dirs)
            .chain(&binaries)
            .any(|path| !test_support::reach::reachable_by_others(path));
        if !blocked {
            return Ok(None);
        }
        // The topmost directory on the way that others cannot pass; the
        // tree itself when the way is open but something inside is not.
        let covers = root
            .ancestors()
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .find(|dir| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 == 0)
            })
            .unwrap_or(root)
            .to_owned();
        let cannot = |why: String| {
            format!(
                "the tests must run as an unprivileged user, who cannot read {}, and the \
                 grader cannot give it a readable copy: {why}. Grade from a directory that \
                 others can read (under /srv, say), or as an ordinary user",
                root.display()
            )
        };
        if covers.parent().is_none() {
            return Err(cannot(
                "the root directory itself is closed to others".into(),
            ));
        }
        if let Some(outside) = binaries.iter().find(|b| !b.starts_with(&covers)) {
            return Err(cannot(format!(
                "the lesson binary {} is outside {}",
                outside.display(),
                covers.display()
            )));
        }
        let base = test_support::reach::temp_base_for_others().ok_or_else(|| {
            cannot("no temporary directory (TMPDIR, /tmp, /dev/shm) lets others in".into())
        })?;
        let copy = tempfile::Builder::new()
            .prefix("workbook-view-")
            .tempdir_in(&base)
            .map_err(|e| {
                cannot(format!(
                    "cannot create a directory in {}: {e}",
                    base.display()
                ))
            })?;
        let view = View { covers, copy };
        let inside = |path: &Path| {
            view.copy
                .path()
                .join(path.strip_prefix(&view.covers).unwrap_or(Path::new("")))
        };
        let made = readable_dirs(view.copy.path(), &inside(root))
            .and_then(|()| copy_readable(&lesson_dirs, &inside(&lesson_dirs)))
            .and_then(|()| {
                for name in ["Cargo.toml", "Cargo.lock"] {
                    let file = root.join(name);
                    if file.is_file() {
                        copy_readable(&file, &inside(&file))?;
                    }
                }
                for binary in &binaries {
                    let to = inside(binary);
                    readable_dirs(view.copy.path(), to.parent().unwrap_or(&to))?;
                    copy_readable(binary, &to)?;
                }
                Ok(())
            });
        made.map_err(|e| {
            cannot(format!(
                "cannot copy the tree into {}: {e}",
                view.copy.path().display()
            ))
        })?;
        Ok(Some(view))
    }

    /// How a test whose directory is `cwd` enters this view.
    pub(crate) fn plan(&self, cwd: &Path) -> MountPlan {
        use std::os::unix::ffi::OsStrExt;
        let c =
            |path: &Path| std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap_or_default();
        MountPlan {
            copy: c(self.copy.path()),
            covers: c(&self.covers),
            cwd: c(cwd),
        }
    }
}

/// A view's paths as C strings, made before the fork.
#[derive(Debug)]
pub(crate) struct MountPlan {
    copy: std::ffi::CString,
    covers: std::ffi::CString,
    cwd: std::ffi::CString,
}

impl MountPlan {
    /// In the child, before exec and while still root: a private mount
    /// namespace, the copy bind-mounted read-only (no set-user-id, no
    /// devices) over the closed directory, and the test's directory entered
    /// again through it.
    pub(crate) fn enter(&self) -> std::io::Result<()> {
        let check = |result: libc::c_int| {
            if result < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        let none = std::ptr::null::<libc::c_char>();
        // SAFETY: unshare, mount and chdir take integers, null pointers and
        // C strings that `self` holds until exec; all are system calls.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                self.copy.as_ptr(),
                self.covers.as_ptr(),
                none,
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                none,
                self.covers.as_ptr(),
                none,
                libc::MS_BIND
                    | libc::MS_REMOUNT
                    | libc::MS_RDONLY
                    | libc::MS_NOSUID
                    | libc::MS_NODEV,
                std::ptr::null(),
            ))?;
            check(libc::chdir(self.cwd.as_ptr()))?;
        }
        Ok(())
    }
}

/// Creates `dir` and every directory between `base` and it, mode 0755.
fn readable_dirs(base: &Path, dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(rest) = dir.strip_prefix(base) else {
        return Ok(());
    };
    let mut at = base.to_owned();
    std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o755))?;
    for part in rest.components() {
        at.push(part);
        if !at.is_dir() {
            std::fs::create_dir(&at)?;
        }
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// Copies `from` (a file, a link, or a directory without its `target/`
/// folders) to `to`, readable by everyone: directories 0755, files 0644,
/// or 0755 when the original is executable.
fn copy_readable(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = from.symlink_metadata()?;
    let mode = |m: u32| std::fs::Permissions::from_mode(m);
    if meta.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)
    } else if meta.is_dir() {
        std::fs::create_dir(to)?;
        std::fs::set_permissions(to, mode(0o755))?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            if entry.file_name() != "target" {
                copy_readable(&entry.path(), &to.join(entry.file_name()))?;
            }
        }
        Ok(())
    } else if meta.is_file() {
        std::fs::copy(from, to)?;
        let executable = meta.permissions().mode() & 0o111 != 0;
        std::fs::set_permissions(to, mode(if executable { 0o755 } else { 0o644 }))
    } else {
        Ok(())
    }
}

/// Checks that `job`'s user, in `cwd` (through the view, if `through_view`),
/// can read each of `paths`; the error names the first it cannot, and why.
pub fn probe(
    cwd: &Path,
    job: Job<'_>,
    through_view: bool,
    paths: &[PathBuf],
) -> Result<(), String> {
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            "for p; do test -r \"$p\" || { echo \"$p\"; exit 1; }; done",
            "sh",
        ])
        .args(paths)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    confine(&mut command, None, job, cwd);
    match support::spawn::output_bounded(&mut command, Duration::from_secs(30)) {
        Ok(run) if run.outcome.is_success() => Ok(()),
        Ok(run) => Err(format!(
            "that user cannot read {}. Grade from a directory that others can read \
             (under /srv, say), or as an ordinary user",
            run.stdout.trim()
        )),
        Err(e) => Err(format!(
            "the grader cannot start a process as that user{} ({e}). Grade from a \
             directory that others can read (under /srv, say), or as an ordinary user",
            if through_view {
                " that sees a readable copy of the tree (a private mount, which needs \
                 CAP_SYS_ADMIN)"
            } else {
                ""
            }
        )),
    }
}
