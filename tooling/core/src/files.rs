//! Which files make up a workbook tree, and copying them.
//!
//! A handout copies only what git tracks, so an editor's backup of a solved
//! exercise (`exercises.rs~`) or a learner's notes never ship.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;

/// The files git tracks under `root`, as paths relative to it (deleted but
/// still tracked files left out). Fails, saying what to do, without git.
pub fn tracked(root: &Path) -> Result<Vec<PathBuf>> {
    let output = Command::new("git")
        .args(["-c", "core.quotepath=off", "ls-files", "-z", "--cached"])
        .current_dir(root)
        .output()
        .map_err(|e| {
            format!(
                "cannot run git ({e}). git tells which files belong to the workbook, so that \
                 editor backups and notes are never copied; install git and run this again."
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "{} is not a git checkout (git ls-files: {}). Only files git tracks are copied; \
             run this from a clone of the workbook.",
            root.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(split_nul(&output.stdout)
        .into_iter()
        .filter(|p| root.join(p).symlink_metadata().is_ok())
        .collect())
}

/// Files under `root` that git neither tracks nor ignores: what a tracked
/// copy leaves behind, worth a note.
pub fn untracked(root: &Path) -> Vec<PathBuf> {
    Command::new("git")
        .args(["ls-files", "-z", "--others", "--exclude-standard"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| split_nul(&o.stdout))
        .unwrap_or_default()
}

/// Every file under `root` except build output and git's own directory:
/// for a tree that is not a git checkout (a handout as written).
pub fn walk(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    walk_into(root, Path::new(""), &mut found)?;
    found.sort();
    Ok(found)
}

fn walk_into(root: &Path, relative: &Path, found: &mut Vec<PathBuf>) -> Result {
    let dir = root.join(relative);
    let entries = fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if relative.as_os_str().is_empty() && (name == "target" || name == ".git") {
            continue;
        }
        let path = relative.join(&name);
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => walk_into(root, &path, found)?,
            Ok(kind) if kind.is_file() || kind.is_symlink() => found.push(path),
            _ => {} // sockets, FIFOs, devices: never part of a workbook
        }
    }
    Ok(())
}

/// The files of the workbook at `root`: tracked ones in a git checkout,
/// otherwise all of them but `target/` and `.git/`.
pub fn of_tree(root: &Path) -> Result<Vec<PathBuf>> {
    if root.join(".git").exists() {
        tracked(root)
    } else {
        walk(root)
    }
}

/// Copies `files` (relative to `from`) to the same places under `to`.
/// Symbolic links are copied as links, never followed.
pub fn copy(from: &Path, files: &[PathBuf], to: &Path) -> Result {
    for relative in files {
        let source = from.join(relative);
        let target = to.join(relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let meta = source
            .symlink_metadata()
            .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        if meta.file_type().is_symlink() {
            let link = fs::read_link(&source)
                .map_err(|e| format!("cannot read the link {}: {e}", source.display()))?;
            std::os::unix::fs::symlink(&link, &target)
                .map_err(|e| format!("cannot create the link {}: {e}", target.display()))?;
        } else {
            fs::copy(&source, &target).map_err(|e| {
                format!(
                    "cannot copy {} to {}: {e}",
                    source.display(),
                    target.display()
                )
            })?;
        }
    }
    Ok(())
}

/// The SHA-256 digest of `data`, as 64 lower-case hex digits: how a
/// handout's manifest names a file's contents.
pub fn hex_digest(data: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(data)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The real path `dest` will have, after checking it is new or empty and
/// outside the workspace (directly, through `..` or through a link). The
/// errors call it the `noun` and suggest `../suggested` instead.
pub fn destination(root: &Path, dest: &Path, noun: &str, suggested: &str) -> Result<PathBuf> {
    let root = fs::canonicalize(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let real = if dest.exists() {
        let real = fs::canonicalize(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        if !real.is_dir() {
            return Err(format!(
                "{} is not a directory. Name a new or empty directory for the {noun}.",
                dest.display()
            ));
        }
        let mut entries = fs::read_dir(&real).map_err(|e| {
            format!(
                "{}: cannot use this as the {noun} directory: {e}",
                dest.display()
            )
        })?;
        if entries.next().is_some() {
            return Err(format!(
                "{} is not empty. Name a new or empty directory for the {noun}.",
                dest.display()
            ));
        }
        real
    } else {
        let name = dest
            .file_name()
            .filter(|n| *n != "." && *n != "..")
            .ok_or_else(|| format!("{}: name a directory for the {noun}", dest.display()))?;
        if dest.symlink_metadata().is_ok() {
            return Err(format!(
                "{} is a symbolic link to nothing ({}). Remove it, or name a new or empty \
                 directory for the {noun}.",
                dest.display(),
                fs::read_link(dest).unwrap_or_default().display()
            ));
        }
        // Said now, not after the whole copy was written beside it.
        const NAME_MAX: usize = 255;
        if name.len() > NAME_MAX {
            return Err(format!(
                "the name {}... is {} bytes long; a directory name has at most {NAME_MAX}. \
                 Name a shorter directory for the {noun}.",
                name.to_string_lossy().chars().take(20).collect::<String>(),
                name.len()
            ));
        }
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
            "{} is inside the workbook at {} (or holds it). A {noun} inside the workbook \
             breaks cargo and copies itself; choose a directory outside it, for example \
             ../{suggested}",
            dest.display(),
            root.display(),
        ));
    }
    Ok(real)
}

fn split_nul(bytes: &[u8]) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    bytes
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(std::ffi::OsStr::from_bytes(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::hex_digest;

    #[test]
    fn hex_digest_is_sha256_in_lower_case_hex() {
        // FIPS 180-4's examples.
        assert_eq!(
            hex_digest(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex_digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
