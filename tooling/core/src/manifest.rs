//! The handout's manifest: what is graded, for how many points, and the
//! SHA-256 of every file the learner is not meant to change.
//!
//! `cargo xtask handout` writes it; `cargo xtask grade` takes the graded
//! tests and the maximum from it (so deleting a test cannot shrink the
//! maximum) and names every graded file that differs. A learner can edit the
//! manifest too, which is why instructors grade against their own pristine
//! copy (`grade --template`); the manifest makes a changed file visible.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::Result;
use crate::files::hex_digest;
use crate::grade::GradedTest;

/// Where the manifest lives, relative to the handout's root.
pub const MANIFEST: &str = ".workbook/manifest";

const HEADER: &str =
    "# mmap-workbook handout manifest, version 1. Written by `cargo xtask handout`; do not edit.";

#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub tests: Vec<GradedTest>,
    /// `(sha256, path relative to the root)` of each file under watch.
    pub files: Vec<(String, PathBuf)>,
}

impl Manifest {
    /// The manifest for the tree at `root`: `tests`, and a hash of each of
    /// `files` (paths relative to `root`).
    pub fn describe(root: &Path, tests: Vec<GradedTest>, files: &[PathBuf]) -> Result<Manifest> {
        let mut hashed = Vec::with_capacity(files.len());
        for path in files {
            let bytes = read_for_hash(&root.join(path))?;
            hashed.push((hex_digest(&bytes), path.clone()));
        }
        hashed.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(Manifest {
            tests,
            files: hashed,
        })
    }

    pub fn to_text(&self) -> String {
        let mut out = format!("{HEADER}\n");
        for test in &self.tests {
            let _ = writeln!(out, "test {} {} {}", test.lesson, test.name, test.points);
        }
        for (hash, path) in &self.files {
            let _ = writeln!(out, "file {hash} {}", path.display());
        }
        out
    }

    pub fn parse(text: &str) -> Result<Manifest> {
        let mut manifest = Manifest {
            tests: Vec::new(),
            files: Vec::new(),
        };
        for (index, line) in text.lines().enumerate() {
            let bad = || format!("{MANIFEST}, line {}: cannot read '{line}'", index + 1);
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut words = line.splitn(4, ' ');
            match (words.next(), words.next(), words.next(), words.next()) {
                (Some("test"), Some(lesson), Some(name), Some(points)) => {
                    manifest.tests.push(GradedTest {
                        lesson: lesson.to_owned(),
                        name: name.to_owned(),
                        points: points.parse().map_err(|_| bad())?,
                    });
                }
                (Some("file"), Some(hash), Some(first), rest) => {
                    let path = PathBuf::from(match rest {
                        Some(rest) => format!("{first} {rest}"),
                        None => first.to_owned(),
                    });
                    // Only paths inside the tree: no `/x`, no `..`.
                    let inside = path
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)));
                    if !inside {
                        return Err(format!(
                            "{MANIFEST}, line {}: '{}' is not a path inside the workbook",
                            index + 1,
                            path.display()
                        ));
                    }
                    manifest.files.push((hash.to_owned(), path));
                }
                _ => return Err(bad()),
            }
        }
        Ok(manifest)
    }

    /// Reads the manifest of the tree at `root`, if it has one.
    pub fn read(root: &Path) -> Option<Result<Manifest>> {
        let text = fs::read_to_string(root.join(MANIFEST)).ok()?;
        Some(Manifest::parse(&text))
    }

    /// The watched files under `root` that differ from the manifest:
    /// `changed: PATH` or `missing: PATH`.
    pub fn changes(&self, root: &Path) -> Vec<String> {
        self.files
            .iter()
            .filter_map(|(hash, path)| match read_for_hash(&root.join(path)) {
                Err(_) => Some(format!("missing: {}", path.display())),
                Ok(bytes) if hex_digest(&bytes) != *hash => {
                    Some(format!("changed: {}", path.display()))
                }
                Ok(_) => None,
            })
            .collect()
    }
}

impl Manifest {
    /// Every file under `root` that the manifest does not list, whatever its
    /// name or kind (a `rust-toolchain` file, a `build.rs`, a link, a FIFO),
    /// as `added: PATH`: any of them may change how the tree builds or what
    /// cargo runs. Exercise files are the learner's, and not counted;
    /// neither are `target/`, `.git/` and the manifest itself.
    pub fn additions(&self, root: &Path) -> Vec<String> {
        let listed: std::collections::HashSet<&Path> =
            self.files.iter().map(|(_, p)| p.as_path()).collect();
        let mut found = Vec::new();
        every_file(root, Path::new(""), &mut found);
        found.sort();
        found
            .into_iter()
            .filter(|p| !listed.contains(p.as_path()) && !test_support::layout::is_exercise_file(p))
            .filter(|p| p != Path::new(MANIFEST))
            .map(|p| format!("added: {}", p.display()))
            .collect()
    }
}

/// Every entry under `root/relative` that is not a directory (files, links,
/// FIFOs, sockets, devices), as paths relative to `root`; `target/` and
/// `.git/` at the top are left out, and so is what cannot be read.
fn every_file(root: &Path, relative: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(root.join(relative)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if relative.as_os_str().is_empty() && (name == "target" || name == ".git") {
            continue;
        }
        let path = relative.join(&name);
        // The entry's own type: a link to a directory is not followed.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            every_file(root, &path, found);
        } else {
            found.push(path);
        }
    }
}

/// The largest file the manifest hashes; a larger one counts as changed.
const MAX_HASHED: u64 = 64 << 20;

/// A file's bytes, or a link's target (links are hashed, never followed).
/// Anything but a regular file or a link, or a file over [`MAX_HASHED`],
/// is an error (and so counts as changed): nothing here opens a FIFO or a
/// device, or reads without end.
fn read_for_hash(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    let meta = path
        .symlink_metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.file_type().is_symlink() {
        let link = fs::read_link(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut bytes = b"symlink:".to_vec();
        bytes.extend_from_slice(link.as_os_str().as_bytes());
        return Ok(bytes);
    }
    if !meta.is_file() || meta.len() > MAX_HASHED {
        return Err(format!(
            "{} is not a regular file of a sane size",
            path.display()
        ));
    }
    let mut bytes = Vec::new();
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .and_then(|f| f.take(MAX_HASHED).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_reads_back_and_sees_every_change() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("lessons/x/tests")).unwrap();
        fs::write(
            dir.path().join("lessons/x/tests/graded.rs"),
            "// points: 2\n",
        )
        .unwrap();
        fs::write(dir.path().join("Cargo.toml"), "[workspace]\n").unwrap();
        let tests = vec![GradedTest {
            lesson: "x".into(),
            name: "first".into(),
            points: 2,
        }];
        let files = [
            PathBuf::from("lessons/x/tests/graded.rs"),
            PathBuf::from("Cargo.toml"),
        ];
        let manifest = Manifest::describe(dir.path(), tests, &files).unwrap();
        let again = Manifest::parse(&manifest.to_text()).unwrap();
        assert_eq!(again, manifest);
        assert!(again.changes(dir.path()).is_empty());
        fs::write(
            dir.path().join("lessons/x/tests/graded.rs"),
            "// points: 50\n",
        )
        .unwrap();
        fs::remove_file(dir.path().join("Cargo.toml")).unwrap();
        assert_eq!(
            again.changes(dir.path()),
            [
                "missing: Cargo.toml".to_owned(),
                "changed: lessons/x/tests/graded.rs".to_owned()
            ]
        );
        fs::write(dir.path().join("lessons/x/build.rs"), "fn main() {}\n").unwrap();
        assert_eq!(
            again.additions(dir.path()),
            ["added: lessons/x/build.rs".to_owned()]
        );
        // Whatever its name or kind; but not the learner's exercise files,
        // the build output, git's directory or the manifest.
        fs::write(dir.path().join("rust-toolchain"), "nightly\n").unwrap();
        fs::create_dir_all(dir.path().join("lessons/x/src")).unwrap();
        fs::write(dir.path().join("lessons/x/src/notes"), "x").unwrap();
        nix::unistd::mkfifo(&dir.path().join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();
        fs::create_dir_all(dir.path().join("lessons/01-x/src")).unwrap();
        fs::write(dir.path().join("lessons/01-x/src/exercises.rs"), "").unwrap();
        for ignored in ["target", ".git", ".workbook"] {
            fs::create_dir_all(dir.path().join(ignored)).unwrap();
        }
        fs::write(dir.path().join("target/x"), "").unwrap();
        fs::write(dir.path().join(".git/HEAD"), "").unwrap();
        fs::write(dir.path().join(MANIFEST), manifest.to_text()).unwrap();
        assert_eq!(
            again.additions(dir.path()),
            [
                "added: etc",
                "added: fifo",
                "added: lessons/x/build.rs",
                "added: lessons/x/src/notes",
                "added: rust-toolchain",
            ]
        );
        assert!(Manifest::parse("test x first many\n").is_err());
        assert!(Manifest::parse("what is this\n").is_err());
        assert!(Manifest::parse("file 00 /root/.ssh/id_rsa\n").is_err());
        assert!(Manifest::parse("file 00 lessons/../../x\n").is_err());
    }
}
