//! Bad input: a clear message, exit code 2, no panic, nothing left behind.

use std::process::Command;

use test_support::testing::{AsNobody, assert_refused, run, run_command};

const LESSON: &str = env!("CARGO_BIN_EXE_process-maps");

fn refused(args: &[&str]) -> String {
    test_support::testing::refused("process-maps", LESSON, args)
}

#[test]
fn a_pid_that_is_not_a_number() {
    for bad in ["abc", "0", "-5", "-1", "12x", "99999999999", " 7", "١٢"] {
        let err = refused(&["--pid", bad]);
        assert!(
            err.contains(&format!("--pid {bad}: not a process id")),
            "{err}"
        );
    }
    assert!(refused(&["--pid"]).contains("--pid needs a value"));
}

#[test]
fn a_process_that_has_exited() {
    let mut child = Command::new("/bin/true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let err = refused(&["--pid", &pid.to_string()]);
    assert!(
        err.contains(&format!(
            "there is no process {pid}: it has exited or never existed"
        )),
        "{err}"
    );
}

#[test]
fn a_process_we_may_not_read() {
    // Reading pid 1's map needs the right to trace it. Root has it, so as
    // root run the lesson as `nobody` (from a copy nobody can reach: the
    // checkout may sit in a 0700 directory); otherwise we lack it already.
    let cwd = tempfile::tempdir().unwrap();
    let nobody = nix::unistd::geteuid()
        .is_root()
        .then(|| AsNobody::prepare(LESSON));
    let mut command = match &nobody {
        Some(Err(reason)) => {
            eprintln!("skipped: {reason}");
            return;
        }
        Some(Ok(nobody)) => nobody.command(&["--pid", "1"]),
        None => {
            let mut command = Command::new(LESSON);
            command.args(["--pid", "1"]).current_dir(cwd.path());
            command
        }
    };
    let err = assert_refused("process-maps", &run_command(&mut command));
    assert!(err.contains("not allowed to read /proc/1/maps"), "{err}");
}

#[test]
fn a_kernel_thread_has_no_user_memory() {
    // kthreadd is pid 2 on Linux; its maps file is empty.
    let comm = std::fs::read_to_string("/proc/2/comm").unwrap_or_default();
    assert_eq!(
        comm.trim(),
        "kthreadd",
        "this test expects kthreadd at pid 2"
    );
    let err = refused(&["--pid", "2"]);
    assert!(err.contains("process 2 has no user memory mapped"), "{err}");
    assert!(err.contains("it is a kernel thread (kthreadd)"), "{err}");
}

#[test]
fn a_zombie_is_named_a_zombie() {
    // A child that has exited and that we do not wait for yet is a zombie.
    let mut child = Command::new("/bin/true").spawn().unwrap();
    let pid = child.id();
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap()
        .contains(") Z ")
    {
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let err = refused(&["--pid", &pid.to_string()]);
    child.wait().unwrap();
    assert!(
        err.contains(&format!(
            "process {pid} has no user memory mapped: it is a zombie"
        )),
        "{err}"
    );
}

#[test]
fn a_pid_past_the_largest_is_no_process() {
    let err = refused(&["--pid", "4294967295"]);
    assert!(err.contains("there is no process 4294967295"), "{err}");
}

#[test]
fn a_denied_process_of_our_own_user_is_not_called_another_users() {
    // Where the kernel denies us pid 1 although it runs as our own user (a
    // container's pid 1 as root, say), the message must not blame the user.
    use std::os::unix::fs::MetadataExt;
    let cwd = tempfile::tempdir().unwrap();
    let run = run(LESSON, &["--pid", "1"], cwd.path());
    let same_user = std::fs::metadata("/proc/1").unwrap().uid()
        == nix::unistd::geteuid().as_raw();
    if run.outcome.is_success() {
        eprintln!("skipped: pid 1 is readable here");
        return;
    }
    let err = assert_refused("process-maps", &run);
    assert!(err.contains("not allowed to read /proc/1/maps"), "{err}");
    if same_user {
        assert!(!err.contains("another user"), "{err}");
        assert!(err.contains("runs as uid"), "{err}");
    }
}

#[test]
fn a_process_of_another_user_is_named_so() {
    let nobody = match AsNobody::prepare(LESSON) {
        Ok(nobody) => nobody,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let err = assert_refused(
        "process-maps",
        &run_command(&mut nobody.command(&["--pid", "1"])),
    );
    assert!(
        err.contains("process 1 belongs to another user (uid 0)"),
        "{err}"
    );
    assert!(err.contains("such as your shell"), "{err}");
}

#[test]
fn without_proc_the_lesson_says_to_mount_it() {
    test_support::testing::hostile::assert_without_proc_the_lesson_says_to_mount_it(
        "process-maps",
        LESSON,
    );
}

#[test]
fn a_tight_limit_on_processes_names_ulimit_u() {
    // Root ignores ulimit -u: run the lesson as nobody.
    let nobody = match AsNobody::prepare(LESSON) {
        Ok(nobody) => nobody,
        Err(reason) => {
            eprintln!("skipped: {reason} (root ignores ulimit -u)");
            return;
        }
    };
    let run =
        test_support::testing::run_under_ulimit(LESSON, &[], "-u", 0, Some(&nobody));
    let err = test_support::testing::assert_refused_after_story("process-maps", &run);
    assert!(err.contains("cannot start the helper"), "{err}");
    assert!(
        err.contains("(EAGAIN)") && err.contains("ulimit -u"),
        "{err}"
    );
}

#[test]
fn the_command_line_refuses_what_it_does_not_know() {
    test_support::testing::assert_command_line_basics(
        "process-maps",
        LESSON,
        "--pdi",
        "--pid",
    );
}
