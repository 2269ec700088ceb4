//! Bad input: a clear message on stderr naming the thing, the reason and what
//! to do; exit code 2; no panic; and nothing left behind.

use std::fs;
use std::path::Path;

use test_support::testing::{assert_refused, entries};

const LESSON: &str = env!("CARGO_BIN_EXE_file-mapping");

/// Runs the lesson and checks the common shape of a refusal.
fn refused(args: &[&str], cwd: &Path) -> String {
    assert_refused(
        "file-mapping",
        &test_support::testing::run(LESSON, args, cwd),
    )
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
    test_support::testing::hostile::assert_an_unusable_tmpdir_is_named(
        "file-mapping",
        LESSON,
    );
}

/// A command for the lesson in `cwd`, with TMPDIR pointing somewhere unusable
/// when `break_tmpdir`: the walkthrough then fails after `--keep` was prepared.
fn lesson_in(cwd: &Path, args: &[&str], break_tmpdir: bool) -> std::process::Command {
    let mut command = std::process::Command::new(LESSON);
    command.args(args).current_dir(cwd);
    if break_tmpdir {
        command.env("TMPDIR", cwd.join("no-such-tmpdir"));
    }
    command
}

#[test]
fn keep_refuses_a_symlink_at_data_even_with_force() {
    let cwd = tempfile::tempdir().unwrap();
    fs::write(cwd.path().join("victim"), b"not yours").unwrap();
    std::os::unix::fs::symlink("victim", cwd.path().join("data")).unwrap();
    let err = refused(&["--keep", ".", "--force"], cwd.path());
    assert!(
        err.contains(
            "./data is a symbolic link, and --keep never writes through a link"
        ),
        "{err}"
    );
    assert!(err.contains("Remove or rename it"), "{err}");
    assert_eq!(fs::read(cwd.path().join("victim")).unwrap(), b"not yours");
    assert!(
        fs::symlink_metadata(cwd.path().join("data"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(entries(cwd.path()), ["data", "victim"]);
}

#[test]
fn keep_refuses_a_fifo_at_data_without_hanging() {
    let cwd = tempfile::tempdir().unwrap();
    nix::unistd::mkfifo(&cwd.path().join("data"), nix::sys::stat::Mode::S_IRWXU)
        .unwrap();
    for args in [&["--keep", "."][..], &["--keep", ".", "--force"]] {
        let started = std::time::Instant::now();
        let err = refused(args, cwd.path());
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(err.contains("./data is a FIFO (named pipe)"), "{err}");
    }
    assert_eq!(entries(cwd.path()), ["data"]);
}

#[test]
fn keep_refuses_a_directory_at_data() {
    let cwd = tempfile::tempdir().unwrap();
    fs::create_dir(cwd.path().join("data")).unwrap();
    let err = refused(&["--keep", ".", "--force"], cwd.path());
    assert!(err.contains("./data is a directory, not a file"), "{err}");
    assert_eq!(entries(cwd.path()), ["data"]);
}

#[test]
fn a_failure_after_force_leaves_the_old_file_intact() {
    let cwd = tempfile::tempdir().unwrap();
    fs::write(cwd.path().join("data"), b"precious").unwrap();
    let run = test_support::testing::run_command(&mut lesson_in(
        cwd.path(),
        &["--keep", ".", "--force"],
        true,
    ));
    let err = assert_refused("file-mapping", &run);
    assert!(err.contains("cannot create a temporary directory"), "{err}");
    assert_eq!(fs::read(cwd.path().join("data")).unwrap(), b"precious");
    assert_eq!(entries(cwd.path()), ["data"], "no temporary file is left");
}

#[test]
fn a_failure_removes_every_directory_keep_created() {
    let cwd = tempfile::tempdir().unwrap();
    fs::create_dir(cwd.path().join("mine")).unwrap();
    let run = test_support::testing::run_command(&mut lesson_in(
        cwd.path(),
        &["--keep", "mine/a/b/c"],
        true,
    ));
    assert_refused("file-mapping", &run);
    assert_eq!(entries(cwd.path()), ["mine"]);
    assert!(
        entries(&cwd.path().join("mine")).is_empty(),
        "a, b and c are all removed; mine, which existed, stays"
    );
}

#[test]
fn concurrent_runs_into_one_directory_never_lose_the_kept_file() {
    // One run fails (its TMPDIR is unusable) while another keeps its file in
    // a directory either may have created: the failing run must remove only
    // what it created, and only if empty.
    for round in 0..12 {
        let cwd = tempfile::tempdir().unwrap();
        let dir = format!("shared/{round}");
        let mut failing = lesson_in(cwd.path(), &["--keep", &dir, "--force"], true);
        let mut keeping = lesson_in(cwd.path(), &["--keep", &dir, "--force"], false);
        let (failed, kept) = std::thread::scope(|scope| {
            let failed =
                scope.spawn(|| test_support::testing::run_command(&mut failing));
            let kept =
                scope.spawn(|| test_support::testing::run_command(&mut keeping));
            (failed.join().unwrap(), kept.join().unwrap())
        });
        assert_refused("file-mapping", &failed);
        assert!(kept.outcome.is_success(), "{}", kept.stderr);
        let data = cwd.path().join(&dir).join("data");
        assert_eq!(
            fs::metadata(&data).map(|m| m.len()).ok(),
            Some(41),
            "round {round}: the kept file is gone"
        );
        assert_eq!(entries(&cwd.path().join(&dir)), ["data"]);
    }
}

#[test]
fn odd_keep_paths_get_clear_refusals() {
    let cwd = tempfile::tempdir().unwrap();
    let long_name = "n".repeat(300);
    let err = refused(&["--keep", &long_name], cwd.path());
    assert!(err.contains("(ENAMETOOLONG)"), "{err}");
    assert!(err.contains("Choose a shorter path"), "{err}");
    assert!(err.lines().next().unwrap().len() < 400, "{err}");
    let long_path = vec!["p".repeat(200); 25].join("/");
    let err = refused(&["--keep", &long_path], cwd.path());
    assert!(err.contains("(ENAMETOOLONG)"), "{err}");
    assert!(err.contains("bytes)"), "a long path is shortened: {err}");
    assert!(entries(cwd.path()).is_empty());
}

#[test]
fn a_directory_name_that_is_not_utf8_is_kept_as_given() {
    use std::os::unix::ffi::OsStrExt;
    let cwd = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"out-\xff\xfe");
    let run = test_support::testing::run_command(
        std::process::Command::new(LESSON)
            .arg("--keep")
            .arg(name)
            .current_dir(cwd.path()),
    );
    assert!(run.outcome.is_success(), "{}", run.stderr);
    assert_eq!(
        fs::metadata(cwd.path().join(name).join("data"))
            .unwrap()
            .len(),
        41
    );
}
