//! Issue 18: the judge never runs learner code. A graded test is a checker:
//! it sends inputs to the lesson binary running the learner's code (the
//! runner, `LESSON --exercises`) and judges the replies in its own process.
//! Each attack class below is tried as a student would, from exercise files
//! alone, in variants: different exercises of one submission carry
//! different attacks, so one grading (`grade --template`) serves them all.

use super::builds::grade_submission;
use super::*;

/// Helpers appended to the submitted exercise file, one per attack class.
///
/// - `signal_the_checker` (exercise 1.1, one variant per test by its
///   input): SIGKILL, SIGTERM and a SIGSTOP never continued kill or freeze
///   the checker; SIGSTOP, harmless signals, then SIGCONT leave it to judge
///   a wrong file. None of them makes a pass.
/// - `reach_the_checker` (1.2): every way into the checker's process a
///   same-user process has: its memory, environment, maps and descriptors
///   in `/proc` (per thread too), `ptrace` attach and seize,
///   `process_vm_readv`, `pidfd_getfd`. Reports what each gave.
/// - `fork_oracle` (1.3): the runner forks; the copy gives up at once (in
///   the old design, the copy whose check failed and printed the expected
///   value); the parent then looks for an expected value in the checker's
///   `/proc` entries, the files its user could have written in temporary
///   directories, and its own output pipes, and reports what it found as
///   its answer (a panic, shown whole in the checker's message).
/// - `forge` (1.4): well-formed reply lines, libtest's `ok` lines and a
///   proof-shaped line on stdout, stderr and every descriptor up to 64;
///   then, by input: `exit(0)`, `_exit(0)`, a half line, or going on.
const ATTACKS: &str = r#"
fn checker() -> i32 {
    // SAFETY: getppid cannot fail.
    unsafe { libc::getppid() }
}

fn errno() -> String {
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::EPERM) => "EPERM".to_owned(),
        Some(libc::EACCES) => "EACCES".to_owned(),
        Some(code) => format!("errno{code}"),
        None => "none".to_owned(),
    }
}

fn signal_the_checker(path: &Path, values: &[u32]) -> io::Result<()> {
    let pid = checker();
    // SAFETY: kill takes two integers; the checker is this process's parent.
    unsafe {
        match values.first() {
            Some(1) => {
                libc::kill(pid, libc::SIGKILL);
            }
            Some(0x1234_5678) => {
                libc::kill(pid, libc::SIGSTOP);
                // The runner's filter refuses a plain write: no matter.
                let _ = std::fs::write(path, vec![0u8; 4 * values.len()]);
                std::thread::sleep(std::time::Duration::from_millis(200));
                for signal in [libc::SIGPIPE, libc::SIGCHLD, libc::SIGWINCH, libc::SIGURG, libc::SIGCONT] {
                    libc::kill(pid, signal);
                }
            }
            Some(_) => {
                libc::kill(pid, libc::SIGTERM);
            }
            None => {
                libc::kill(pid, libc::SIGSTOP);
            }
        }
    }
    Ok(())
}

fn proc_file(pid: i32, what: &str) -> String {
    match std::fs::read(format!("/proc/{pid}/{what}")) {
        Ok(bytes) => format!("READ{}", bytes.len()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => "denied".to_owned(),
        Err(e) => format!("{:?}", e.kind()),
    }
}

fn reach_the_checker() -> String {
    let pid = checker();
    let mut report = Vec::new();
    for what in ["mem", "environ", "maps"] {
        report.push(format!("{what}:{}", proc_file(pid, what)));
    }
    let fddir = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
        Ok(_) => "READ".to_owned(),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => "denied".to_owned(),
        Err(e) => format!("{:?}", e.kind()),
    };
    report.push(format!("fddir:{fddir}"));
    let fds = (0..64)
        .filter(|n| {
            let path = format!("/proc/{pid}/fd/{n}");
            std::fs::read_link(&path).is_ok() || std::fs::File::open(&path).is_ok()
        })
        .count();
    report.push(format!("fd:{fds}"));
    let mut tasks: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| dir.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
        .iter()
        .flat_map(|task| {
            let tid = task.file_name().to_string_lossy().into_owned();
            ["mem", "environ"].map(|what| proc_file(pid, &format!("task/{tid}/{what}")))
        })
        .collect();
    tasks.sort();
    tasks.dedup();
    report.push(format!("tasks:{}", tasks.join("+")));
    let null = std::ptr::null_mut::<libc::c_void>();
    for (name, request) in [("ptrace", libc::PTRACE_ATTACH), ("seize", libc::PTRACE_SEIZE)] {
        // SAFETY: ptrace with integer arguments; on success the checker is
        // released at once.
        let done = unsafe { libc::ptrace(request, pid, null, null) };
        if done == 0 {
            report.push(format!("{name}:ATTACHED"));
            // SAFETY: as above; waitpid writes only to `status`.
            unsafe {
                let mut status = 0;
                libc::waitpid(pid, &mut status, libc::__WALL);
                libc::ptrace(libc::PTRACE_DETACH, pid, null, null);
            }
        } else {
            report.push(format!("{name}:{}", errno()));
        }
    }
    let mut buffer = [0u8; 64];
    let local = libc::iovec { iov_base: buffer.as_mut_ptr().cast(), iov_len: 64 };
    // Any address: the permission check comes before the address is used.
    let remote = libc::iovec { iov_base: local.iov_base, iov_len: 64 };
    // SAFETY: both iovecs describe this 64-byte buffer.
    let read = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    report.push(if read >= 0 { "vm:READ".to_owned() } else { format!("vm:{}", errno()) });
    // SAFETY: pidfd_open and pidfd_getfd take integers; what they return is closed.
    let getfd = unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0);
        if pidfd < 0 {
            format!("open-{}", errno())
        } else {
            let mut got = 0;
            let mut last = String::new();
            for n in 0..8 {
                let fd = libc::syscall(libc::SYS_pidfd_getfd, pidfd, n, 0);
                if fd >= 0 {
                    got += 1;
                    libc::close(fd as i32);
                } else {
                    last = errno();
                }
            }
            libc::close(pidfd as i32);
            if got > 0 { format!("GOT{got}") } else { last }
        }
    };
    report.push(format!("getfd:{getfd}"));
    format!("REACH[{}]", report.join(" "))
}

static FORKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn fork_oracle(len: usize) -> usize {
    use std::sync::atomic::Ordering::Relaxed;
    if FORKED.swap(true, Relaxed) {
        return len;
    }
    // SAFETY: the runner calls exercises on its one thread.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // The copy gives up at once, as one whose check failed would: in the
        // old design, that failed check printed the expected value.
        // SAFETY: setsid and _exit take integers; _exit ends this copy.
        unsafe {
            libc::setsid();
            libc::_exit(3);
        }
    }
    let mut status = 0;
    // SAFETY: waits for this process's own child; writes only `status`.
    unsafe { libc::waitpid(child, &mut status, 0) };
    let child = if libc::WIFEXITED(status) {
        format!("exited{}", libc::WEXITSTATUS(status))
    } else {
        format!("status{status}")
    };
    let pid = checker();
    let mut from_checker = Vec::new();
    let mut places = vec!["mem".to_owned(), "environ".to_owned(), "maps".to_owned()];
    places.extend((0..10).map(|n| format!("fd/{n}")));
    for what in &places {
        use std::io::Read as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut bytes = [0u8; 64];
        let read = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(format!("/proc/{pid}/{what}"))
            .and_then(|mut f| f.read(&mut bytes));
        if read.is_ok_and(|n| n > 0) {
            from_checker.push(what.clone());
        }
    }
    // What a checker (this user) could have written: in the shared
    // temporary directories and this test's own, two levels deep.
    let mut dirs: Vec<(std::path::PathBuf, usize)> =
        ["/tmp", "/var/tmp", "/dev/shm"].iter().map(|d| (d.into(), 0)).collect();
    dirs.extend(std::env::var_os("TMPDIR").map(|d| (d.into(), 0)));
    use std::os::unix::fs::MetadataExt as _;
    // SAFETY: geteuid cannot fail.
    let own_uid = unsafe { libc::geteuid() };
    let mut files = 0;
    let mut seen = 0;
    while let Some((dir, depth)) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            seen += 1;
            if seen > 2000 {
                break;
            }
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() && depth < 2 {
                dirs.push((path, depth + 1));
            } else if meta.is_file() && meta.len() <= 1 << 20 && meta.uid() == own_uid {
                let text = std::fs::read(&path).unwrap_or_default();
                if text.windows(9).any(|w| w == b"expected:") {
                    files += 1;
                }
            }
        }
    }
    let mut own = Vec::new();
    // Descriptors 1 and 2 are both the pipe the checker reads as output.
    for fd in 1..3 {
        use std::io::Read as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        if let Ok(mut pipe) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(format!("/proc/self/fd/{fd}"))
        {
            let mut chunk = vec![0u8; 1 << 16];
            if let Ok(n) = pipe.read(&mut chunk) {
                own.extend_from_slice(&chunk[..n]);
            }
        }
    }
    let found = |yes: bool| if yes { "FOUND" } else { "none" };
    panic!(
        "ORACLE[child:{child} checker:{} files:{} own-output:{}]",
        if from_checker.is_empty() { "none".to_owned() } else { from_checker.join("+") },
        if files == 0 { "none".to_owned() } else { files.to_string() },
        found(own.windows(9).any(|w| w == b"expected:")),
    );
}

fn forge(pattern: &[u8]) -> io::Result<Vec<usize>> {
    let hex = |text: &str| text.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    let mut lines = String::new();
    for value in ["Ok([])", "Ok([0])", "passed", "ok"] {
        lines.push_str(&format!("returned {}\n", hex(value)));
    }
    lines.push_str(&format!("panicked {}\n", hex("expected: [0, 1, 2]")));
    lines.push_str("test find_all_counts_overlapping_matches ... ok\n\n");
    lines.push_str("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n");
    lines.push_str(&format!("pass {}\n", "0".repeat(64)));
    let half = pattern == b"x";
    if half {
        lines.push_str("returned ");
    }
    for fd in 0..64 {
        // SAFETY: write from a live buffer; a closed descriptor only fails.
        unsafe { libc::write(fd, lines.as_ptr().cast(), lines.len()) };
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(format!("/proc/self/fd/{fd}")) {
            use std::io::Write as _;
            let _ = f.write_all(lines.as_bytes());
        }
    }
    print!("{lines}");
    eprint!("{lines}");
    match pattern {
        b"aa" => std::process::exit(0),
        // SAFETY: _exit ends the process at once, flushing nothing.
        b"" => unsafe { libc::_exit(0) },
        b"NEEDLE" => Ok(Vec::new()),
        _ if half => Ok(vec![0]),
        _ => Err(io::Error::other("forged")),
    }
}
"#;

/// The whole submission: each exercise carries one attack class.
fn attack_source(stubs: &str) -> String {
    let source = stubs
        .replace(WRITE_STUB, "signal_the_checker(path, values)")
        .replace(
            HEXDUMP_STUB,
            "{ let _ = path; panic!(\"{}\", reach_the_checker()) }",
        )
        .replace(ROUND_STUB, "{ let _ = page_size; fork_oracle(len) }")
        .replace(FIND_STUB, "{ let _ = path; forge(pattern) }");
    for stub in [WRITE_STUB, HEXDUMP_STUB, ROUND_STUB, FIND_STUB] {
        assert!(!source.contains(stub), "a stub to attack moved: {stub}");
    }
    format!("{source}{ATTACKS}")
}

/// Everything the grader said (stdout, stderr, JSON) about the submission,
/// graded once for all of this module's tests.
fn attacked() -> &'static str {
    static SAID: OnceLock<String> = OnceLock::new();
    SAID.get_or_init(|| {
        let scratch = handout();
        grade_submission(&scratch, &attack_source(&scratch.stub_source), &[])
    })
}

/// Asserts the whole lesson scored 0, and that `test`'s row failed; its row.
fn failed_row(said: &str, test: &str) -> String {
    assert!(
        said.contains(&format!("Score: 0/{}", lesson_1_max())),
        "an attack earned points:\n{said}"
    );
    let row = row(said, test);
    assert!(row.contains("FAIL    0/"), "{row}");
    assert!(!said.contains("\"verdict\":\"passed\""), "{said}");
    row
}

#[test]
fn a_fork_oracle_finds_no_expected_value_anywhere_it_can_read() {
    let said = attacked();
    failed_row(said, "mmap_covers_whole_pages");
    // The parent found nothing of the checker's, though it looked while
    // the checker held the expected values. (Files are counted only where
    // the runner has a user of its own: a grader without root runs it as
    // you, and your own files are not the checker's.)
    let nothing = if nix::unistd::geteuid().is_root() {
        "yours panicked: ORACLE[child:exited3 checker:none files:none own-output:none]"
    } else {
        "yours panicked: ORACLE[child:exited3 checker:none files:"
    };
    assert!(said.contains(nothing), "{said}");
}

#[test]
fn forged_replies_and_verdict_lines_earn_nothing() {
    let said = attacked();
    for test in [
        "find_all_counts_overlapping_matches",
        "find_all_sees_matches_across_page_boundaries_and_at_the_very_end",
        "find_all_in_an_empty_or_short_file",
        "find_all_refuses_an_empty_pattern_and_a_missing_file",
        "find_all_agrees_with_a_naive_search_on_random_files",
    ] {
        failed_row(said, test);
    }
}

#[test]
fn the_checker_cannot_be_read_traced_or_killed_into_a_pass() {
    let said = attacked();
    // Every door into the checker's process is shut to the runner, in each
    // of the three tests that tried (the report is in each one's message).
    // The calls are refused by the kernel's access checks (EPERM) or, in a
    // runner under the mapping-only filter, by the filter (errno 95).
    let shut = |errno: &str| {
        format!(
            "REACH[mem:denied environ:denied maps:denied fddir:denied fd:0 \
             tasks:denied ptrace:{errno} seize:{errno} vm:{errno} getfd:{errno}]"
        )
    };
    let json = said
        .lines()
        .find(|l| l.starts_with("{\"schema\""))
        .unwrap_or_else(|| panic!("no JSON report:\n{said}"));
    let tried = json.matches("REACH[").count();
    assert!(tried >= 3, "the probe did not run:\n{said}");
    let refused = json.matches(&shut("EPERM")).count() + json.matches(&shut("errno95")).count();
    assert_eq!(refused, tried, "{said}");
    for test in [
        "hexdump_matches_the_files_bytes",
        "hexdump_of_an_empty_file_is_empty",
        "hexdump_of_a_missing_file_is_not_found",
    ] {
        failed_row(said, test);
    }
    // Killed, frozen, or stopped and continued: never a pass.
    let killed = failed_row(said, "write_u32s_sizes_the_file_exactly");
    assert!(killed.contains("killed by SIGKILL"), "{killed}");
    let terminated = failed_row(said, "write_u32s_truncates_a_longer_file");
    assert!(terminated.contains("killed by SIGTERM"), "{terminated}");
    let frozen = failed_row(said, "write_u32s_of_nothing_leaves_an_empty_file");
    assert!(frozen.contains("did not finish"), "{frozen}");
    let continued = failed_row(said, "write_u32s_stores_values_in_native_byte_order");
    assert!(continued.contains("expected"), "{continued}");
}

/// A constructor in the runner's own sources (lesson 1's `main.rs`, which
/// the scanner does not read: as if one had slipped past it in
/// `exercises.rs`). It runs before `main`, while descriptor 1 is still the
/// reply pipe: it reads every request, answers each with a forged reply,
/// writes a fake proof everywhere, and looks for the old design's secret
/// and verdict descriptors (3 and 4) and the checker's memory. Its report
/// is the forged reply to exercise 1.3's requests.
const CONSTRUCTOR: &str = r#"
#[used]
#[unsafe(link_section = ".init_array")]
static EARLY: extern "C" fn() = early;

extern "C" fn early() {
    use std::io::Read as _;
    let cmdline = std::fs::read("/proc/self/cmdline").unwrap_or_default();
    if !cmdline.split(|&b| b == 0).any(|arg| arg == b"--exercises") {
        return;
    }
    let hex = |text: &str| text.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    let open = |fd: i32| {
        // SAFETY: F_GETFD on an integer; a closed descriptor only fails.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 { "closed" } else { "open" }
    };
    // SAFETY: getppid cannot fail.
    let checker = unsafe { libc::getppid() };
    let mem = match std::fs::read(format!("/proc/{checker}/mem")) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => "denied".to_owned(),
        other => format!("{other:?}").chars().take(20).collect(),
    };
    let proof = format!("test x ... ok\ntest result: ok. 1 passed; 0 failed\npass {}\n", "0".repeat(64));
    let (fd3, fd4) = (open(3), open(4));
    for fd in 3..64 {
        // SAFETY: write from a live buffer; a closed descriptor only fails.
        unsafe { libc::write(fd, proof.as_ptr().cast(), proof.len()) };
    }
    let mut requests = Vec::new();
    let _ = std::io::stdin().lock().read_to_end(&mut requests);
    let requests: Vec<&[u8]> = requests.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let report = format!("EARLY[requests:{} fd3:{fd3} fd4:{fd4} mem:{mem}]", requests.len());
    let mut replies = String::new();
    for request in &requests {
        if request.starts_with(b"bytes_really_mapped ") {
            replies.push_str(&format!("panicked {}\n", hex(&report)));
        } else {
            replies.push_str(&format!("returned {}\n", hex("Ok(())")));
        }
    }
    replies.push_str(&proof);
    // SAFETY: as above; descriptor 1 is still the reply pipe before main.
    unsafe { libc::write(1, replies.as_ptr().cast(), replies.len()) };
}
"#;

#[test]
fn a_constructor_past_the_scanner_reaches_only_the_runner() {
    const MAIN: &str = "lessons/01-file-mapping/src/main.rs";
    let scratch = handout();
    let main = scratch.handout.join(MAIN);
    let original = fs::read_to_string(&main).unwrap();
    /// Puts the runner's sources back, however the test ends.
    struct Restore<'a>(&'a Path, &'a str);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            fs::write(self.0, self.1).unwrap();
        }
    }
    let _restore = Restore(&main, &original);
    fs::write(&main, format!("{original}{CONSTRUCTOR}")).unwrap();
    let (run, score) = grade(&scratch.handout, &[]);
    let said = format!("{}\n{}", run.stdout, run.stderr);
    assert_eq!(score, format!("Score: 0/{}", lesson_1_max()), "{said}");
    assert!(
        run.stderr.contains(&format!("changed: {MAIN}")),
        "{}",
        run.stderr
    );
    // It ran before main in the runner, and found nothing of the checker's.
    let early = row(&run.stdout, "mmap_covers_whole_pages");
    assert!(
        early.contains("EARLY[requests:7 fd3:closed fd4:closed mem:denied]"),
        "{early}"
    );
    // Its forged `Ok(())` is the right return value for exercise 1.1, but
    // the checker looks at the file, which nothing wrote.
    assert!(row(&run.stdout, "write_u32s_sizes_the_file_exactly").contains("FAIL"));
}
