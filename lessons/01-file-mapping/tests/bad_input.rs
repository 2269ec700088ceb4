//! Bad input: a clear message on stderr naming the thing, the reason and what
//! to do; exit code 2; no panic; and nothing left behind.

use std::fs;
use std::path::Path;

use support::testing::{assert_refused, entries};

const LESSON: &str = env!("CARGO_BIN_EXE_file-mapping");

/// Runs the lesson and checks the common shape of a refusal.
fn refused(args: &[&str], cwd: &Path) -> String {
    assert_refused("file-mapping", &support::testing::run(LESSON, args, cwd))
}

#[test]
fn keep_pointing_at_a_file() {
    let cwd = tempfile::tempdir().unwrap();
    fs::write(cwd.path().join("notes.txt"), b"mine").unwrap();
    let err = refused(&["--keep", "notes.txt"], cwd.path());
    assert!(
        err.contains("--keep notes.txt: this is a file, not a directory"),
        "{err}"
    );
    assert_eq!(entries(cwd.path()), ["notes.txt"]);
    assert_eq!(fs::read(cwd.path().join("notes.txt")).unwrap(), b"mine");
}

#[test]
fn keep_pointing_at_an_unwritable_directory() {
    let cwd = tempfile::tempdir().unwrap();
    // root ignores permission bits, so as root use a directory the kernel
    // itself refuses to create files in.
    let (dir, parent_listing) = if nix::unistd::geteuid().is_root() {
        ("/sys/kernel".to_owned(), None)
    } else {
        use std::os::unix::fs::PermissionsExt;
        let locked = cwd.path().join("locked");
        fs::create_dir(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o500)).unwrap();
        (locked.to_str().unwrap().to_owned(), Some(locked))
    };
    let err = refused(&["--keep", &dir], cwd.path());
    assert!(
        err.contains(&format!("--keep {dir}: cannot write {dir}/data")),
        "{err}"
    );
    assert!(err.contains("Choose a directory you can write to"), "{err}");
    assert!(!Path::new(&dir).join("data").exists());
    if let Some(locked) = parent_listing {
        assert!(entries(&locked).is_empty());
    }
}

#[test]
fn keep_pointing_at_a_directory_that_cannot_be_created() {
    let cwd = tempfile::tempdir().unwrap();
    fs::write(cwd.path().join("plain"), b"").unwrap();
    let err = refused(&["--keep", "plain/sub"], cwd.path());
    assert!(
        err.contains("--keep plain/sub: cannot create this directory"),
        "{err}"
    );
    assert_eq!(entries(cwd.path()), ["plain"]);
}

#[test]
fn keep_pointing_at_an_existing_data_file() {
    let cwd = tempfile::tempdir().unwrap();
    fs::write(cwd.path().join("data"), b"precious").unwrap();
    let err = refused(&["--keep", "."], cwd.path());
    assert!(
        err.contains("./data already exists. Add --force to replace it"),
        "{err}"
    );
    assert_eq!(fs::read(cwd.path().join("data")).unwrap(), b"precious");
}

#[test]
fn keep_without_a_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let err = refused(&["--keep"], cwd.path());
    assert!(err.contains("--keep needs a value after it"), "{err}");
    assert!(entries(cwd.path()).is_empty());
}

#[test]
fn force_without_keep() {
    let cwd = tempfile::tempdir().unwrap();
    let err = refused(&["--force"], cwd.path());
    assert!(
        err.contains("--force only makes sense with --keep DIR"),
        "{err}"
    );
}

#[test]
fn an_unknown_flag_suggests_the_closest_one() {
    let cwd = tempfile::tempdir().unwrap();
    let err = refused(&["--kep", "out"], cwd.path());
    assert!(
        err.contains("unknown argument '--kep'; did you mean '--keep'?"),
        "{err}"
    );
    assert!(
        err.contains("cargo xtask run-lesson file-mapping -- --help"),
        "{err}"
    );
    assert!(entries(cwd.path()).is_empty());
    let err = refused(&["--frobnicate"], cwd.path());
    assert!(
        err.contains("this lesson accepts --keep, --force, --help"),
        "{err}"
    );
}

#[test]
fn an_unusable_temporary_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let missing = cwd.path().join("no-such-dir");
    let run = support::testing::run_command(
        std::process::Command::new(LESSON)
            .env("TMPDIR", &missing)
            .current_dir(cwd.path()),
    );
    let err = assert_refused("file-mapping", &run);
    assert!(
        err.contains(&format!(
            "cannot create a temporary directory in {}",
            missing.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("Set TMPDIR to a directory you can write to"),
        "{err}"
    );
    assert!(entries(cwd.path()).is_empty());
}
