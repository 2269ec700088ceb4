//! Bad input: a clear message, exit code 2, no panic, nothing left behind.

use std::os::unix::process::CommandExt;
use std::process::Command;

use support::testing::{assert_refused, run, run_command};

const LESSON: &str = env!("CARGO_BIN_EXE_process-maps");

fn refused(args: &[&str]) -> String {
    let cwd = tempfile::tempdir().unwrap();
    let err = assert_refused("process-maps", &run(LESSON, args, cwd.path()));
    assert!(support::testing::entries(cwd.path()).is_empty());
    err
}

#[test]
fn a_pid_that_is_not_a_number() {
    for bad in ["abc", "0", "-5", "12x"] {
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
    // root run the lesson as `nobody`; otherwise we lack it already.
    let cwd = tempfile::tempdir().unwrap();
    let mut command = Command::new(LESSON);
    command.args(["--pid", "1"]).current_dir(cwd.path());
    if nix::unistd::geteuid().is_root() {
        command.uid(65534).gid(65534);
    }
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
}

#[test]
fn an_unknown_flag() {
    let err = refused(&["--pdi", "1"]);
    assert!(
        err.contains("unknown argument '--pdi'; did you mean '--pid'?"),
        "{err}"
    );
}
