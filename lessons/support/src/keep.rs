//! A file the learner asked to keep (`--keep DIR`), written so that a crash,
//! a Ctrl-C or a concurrent run never leaves half of it, never writes
//! through a symbolic link, and never removes what it did not create.
//!
//! - [`Keeper::prepare`] creates the missing directories one level at a time,
//!   remembering which ones *this* run created; checks that `DIR/NAME` is a
//!   regular file or nothing (looked at with `O_PATH | O_NOFOLLOW`, so a
//!   symlink or FIFO is seen, never followed or opened); and creates a
//!   temporary file next to it (`tempfile`'s `NamedTempFile`, `O_EXCL`).
//! - [`Keeper::write`] fills and syncs the temporary file, then renames it
//!   into place (`persist`, or without `--force` `persist_noclobber`:
//!   `renameat2(RENAME_NOREPLACE)`): `DIR/NAME` is the old file or the
//!   complete new one.
//! - [`Keeper::discard`] (or a failure, or an interruption, through
//!   [`crate::cleanup`]) removes the temporary file and the directories this
//!   run created, innermost first, each only if empty.

use std::fs::Permissions;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};
use tempfile::NamedTempFile;

use crate::cleanup::{self, Registration, Removal};
use crate::errors::explain_or;

const WRITABLE: &str = "Choose a directory you can write to.";

/// A file on its way to `DIR/NAME`; see the module documentation.
#[derive(Debug)]
pub struct Keeper {
    target: PathBuf,
    force: bool,
    temp: Option<(NamedTempFile, Registration)>,
    /// Directories this run created, outermost first.
    created: Vec<(PathBuf, Registration)>,
}

/// Why preparing stopped: for good, or to try again.
enum Retry {
    DirectoryVanished,
    No(String),
}

/// What is at the target path now.
enum Found {
    Nothing,
    RegularFile,
    Refused(String),
}

impl Keeper {
    /// Prepares to write `dir/name`. The error text names the reason and
    /// the fix; the caller puts `--keep DIR: ` in front of it. Nothing this
    /// call created is left behind when it fails.
    pub fn prepare(dir: &Path, name: &str, force: bool) -> Result<Keeper, String> {
        let mut keeper = Keeper {
            target: dir.join(name),
            force,
            temp: None,
            created: Vec::new(),
        };
        match keeper.prepare_steps(dir, name) {
            Ok(()) => Ok(keeper),
            Err(message) => {
                keeper.discard();
                Err(message)
            }
        }
    }

    fn prepare_steps(&mut self, dir: &Path, name: &str) -> Result<(), String> {
        // A concurrent run may remove a directory it created (empty, as far
        // as it knows) just before our temporary file lands in it: then
        // create the directories again, as ours.
        let mut attempts = 0;
        loop {
            match self.try_prepare(dir, name) {
                Err(Retry::DirectoryVanished) if attempts < 8 => attempts += 1,
                Err(Retry::DirectoryVanished) => {
                    return Err(format!(
                        "cannot write {}: its directory keeps disappearing (another program \
                         removes it). {WRITABLE}",
                        crate::errors::shown(&self.target)
                    ));
                }
                Err(Retry::No(message)) => return Err(message),
                Ok(()) => return Ok(()),
            }
        }
    }

    fn try_prepare(&mut self, dir: &Path, name: &str) -> Result<(), Retry> {
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Retry::No(
                    "this is a file, not a directory. Name a directory (it is created if missing)."
                        .to_owned(),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.create_dirs(dir)?,
            Err(e) => {
                return Err(Retry::No(format!(
                    "cannot create this directory: {}",
                    explain_or(&e, WRITABLE)
                )));
            }
        }
        match found_at(&self.target) {
            Found::Nothing => {}
            Found::RegularFile if self.force => {}
            Found::RegularFile => {
                return Err(Retry::No(format!(
                    "{} already exists. Add --force to replace it, or choose another directory.",
                    crate::errors::shown(&self.target)
                )));
            }
            Found::Refused(why) => return Err(Retry::No(why)),
        }
        // `.NAME.XXXXXX.tmp`, created with O_EXCL (never through a link);
        // the mode a plain `File::create` gives, less the umask.
        let created = cleanup::protected(|| -> io::Result<_> {
            let file = tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".tmp")
                .permissions(Permissions::from_mode(0o666))
                .tempfile_in(dir)?;
            let registered = cleanup::register(file.path(), Removal::File);
            Ok((file, registered))
        });
        match created {
            Ok((file, Ok(registered))) => {
                self.temp = Some((file, registered));
                Ok(())
            }
            // Dropping the file removes it.
            Ok((_, Err(e))) => Err(Retry::No(e.to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Retry::DirectoryVanished)
            }
            Err(e) => Err(Retry::No(format!(
                "cannot write {}: {}",
                crate::errors::shown(&self.target),
                explain_or(&e, WRITABLE)
            ))),
        }
    }

    /// Creates `dir` and its missing parents, one level at a time, so that
    /// exactly the directories this run made are known (a parent that
    /// another run creates meanwhile is theirs, not ours).
    fn create_dirs(&mut self, dir: &Path) -> Result<(), Retry> {
        let mut missing = Vec::new();
        let mut at = Some(dir);
        while let Some(path) = at.filter(|p| !p.as_os_str().is_empty()) {
            match std::fs::symlink_metadata(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    missing.push(path.to_path_buf())
                }
                _ => break,
            }
            at = path.parent();
        }
        for path in missing.into_iter().rev() {
            let made = cleanup::protected(|| match std::fs::create_dir(&path) {
                Ok(()) => cleanup::register(&path, Removal::EmptyDir).map(Some),
                Err(e)
                    if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            });
            match made {
                Ok(Some(registered)) => self.created.push((path, registered)),
                Ok(None) => {}
                // A parent that was there a moment ago was removed meanwhile.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(Retry::DirectoryVanished);
                }
                Err(e) => {
                    return Err(Retry::No(format!(
                        "cannot create this directory: {}",
                        explain_or(&e, WRITABLE)
                    )));
                }
            }
        }
        Ok(())
    }

    /// The path the file is kept at.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes `bytes` and renames them into place. On failure, the old file
    /// (if any) is untouched and what this run created is removed.
    pub fn write(mut self, bytes: &[u8]) -> Result<PathBuf, String> {
        match self.write_steps(bytes) {
            Ok(()) => {
                // Kept: the temporary name is gone, the directories stay.
                self.temp = None;
                self.created.clear();
                Ok(self.target.clone())
            }
            Err(message) => {
                self.discard();
                Err(message)
            }
        }
    }

    fn write_steps(&mut self, bytes: &[u8]) -> Result<(), String> {
        let target = crate::errors::shown(&self.target).to_string();
        let Some((file, registered)) = self.temp.take() else {
            return Err("nothing prepared to write".to_owned());
        };
        let mut file = file;
        let written = file
            .write_all(bytes)
            .and_then(|()| file.as_file().sync_all());
        if let Err(e) = written {
            self.temp = Some((file, registered));
            return Err(format!(
                "cannot write {target}: {}",
                explain_or(&e, WRITABLE)
            ));
        }
        // What is there may have changed since `prepare`: look again.
        match found_at(&self.target) {
            Found::Nothing | Found::RegularFile => {}
            Found::Refused(why) => {
                self.temp = Some((file, registered));
                return Err(why);
            }
        }
        let renamed = if self.force {
            file.persist(&self.target)
        } else {
            file.persist_noclobber(&self.target)
        };
        let renamed = match renamed {
            // Kept: the temporary name is gone, so is its registration.
            Ok(_) => Ok(()),
            Err(failed) => {
                self.temp = Some((failed.file, registered));
                Err(failed.error)
            }
        };
        match renamed {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(format!(
                "{target} already exists (another program created it meanwhile). Add --force \
                 to replace it, or choose another directory."
            )),
            Err(e) => Err(format!(
                "cannot write {target}: {}",
                explain_or(&e, WRITABLE)
            )),
        }
    }

    /// Removes the temporary file and the directories this run created
    /// (innermost first, each only if empty). The old file is untouched.
    pub fn discard(mut self) {
        self.discard_now();
    }

    fn discard_now(&mut self) {
        if let Some((file, registered)) = self.temp.take() {
            // Removes the temporary file, then forgets it.
            drop(file);
            drop(registered);
        }
        while let Some((path, registered)) = self.created.pop() {
            let _ = std::fs::remove_dir(&path);
            drop(registered);
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.discard_now();
    }
}

/// Looks at `path` without following a symbolic link or opening what it
/// names (`O_PATH | O_NOFOLLOW`): a FIFO cannot make this hang.
fn found_at(path: &Path) -> Found {
    let shown = crate::errors::shown(path);
    let fd = match nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Found::Nothing,
        Err(e) => {
            return Found::Refused(format!(
                "cannot look at {shown}: {}",
                explain_or(&io::Error::from(e), WRITABLE)
            ));
        }
    };
    let kind = match nix::sys::stat::fstat(&fd) {
        Ok(stat) => SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()),
        Err(e) => {
            return Found::Refused(format!("cannot look at {shown}: {}", e.desc()));
        }
    };
    let what = match kind {
        SFlag::S_IFREG => return Found::RegularFile,
        SFlag::S_IFLNK => {
            "a symbolic link, and --keep never writes through a link (it could \
                           point at any file)"
        }
        SFlag::S_IFDIR => "a directory, not a file",
        SFlag::S_IFIFO => "a FIFO (named pipe), not a regular file",
        SFlag::S_IFSOCK => "a socket, not a regular file",
        _ => "a device, not a regular file",
    };
    Found::Refused(format!(
        "{shown} is {what}. Remove or rename it, or choose another directory."
    ))
}
