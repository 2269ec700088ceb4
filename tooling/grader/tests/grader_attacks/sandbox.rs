//! Part G (issue 18): tests in sessions of their own, no inherited
//! descriptors, nothing left behind, never run as root.

use super::*;

/// The grader's `ARGS` in `tree`, started with `extra` descriptors open (and
/// inheritable) at the given numbers, as a careless CI runner or a hostile
/// parent might start the grader.
fn xtask_with_fds(
    tree: &Path,
    args: &[&str],
    extra: &[(std::os::fd::RawFd, std::os::fd::OwnedFd)],
) -> Captured {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let mut command = grader(tree);
    command.args(args);
    let pairs: Vec<(i32, i32)> = extra.iter().map(|(at, fd)| (*at, fd.as_raw_fd())).collect();
    // SAFETY: in the child before exec: dup2 only (async-signal-safe), on
    // descriptors this test owns until the spawn returns. dup2 clears
    // close-on-exec on the new number, so the grader inherits it.
    unsafe {
        command.pre_exec(move || {
            for &(at, fd) in &pairs {
                if libc::dup2(fd, at) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let run = output_bounded(&mut command, GRADE_LIMIT).unwrap();
    assert!(
        !matches!(run.outcome, ChildOutcome::TimedOut(_)),
        "the grader did not finish in {GRADE_LIMIT:?}: it hangs"
    );
    run
}

#[test]
fn descriptors_the_grader_inherited_never_reach_a_test() {
    use std::os::fd::OwnedFd;
    let scratch = handout();
    // A file, the read end of a pipe and a socket, at low and high numbers:
    // whatever a test could find by number or in /proc/self/fd.
    let marker = format!("inherited-secret-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let secret_path = dir.path().join(format!("{marker}.txt"));
    fs::write(&secret_path, format!("{marker}-content\n")).unwrap();
    let file = OwnedFd::from(fs::File::open(&secret_path).unwrap());
    let (pipe_read, pipe_write) = nix::unistd::pipe().unwrap();
    nix::unistd::write(&pipe_write, format!("{marker}-in-a-pipe\n").as_bytes()).unwrap();
    let (socket, other_end) = std::os::unix::net::UnixStream::pair().unwrap();
    std::io::Write::write_all(
        &mut &other_end,
        format!("{marker}-on-a-socket\n").as_bytes(),
    )
    .unwrap();
    let extra = [(7, file), (9, pipe_read), (200, OwnedFd::from(socket))];
    // The exercise lists every descriptor it holds above 2 and reads what
    // it can from each one above 4; the test fails with what it saw.
    let look = "{ use std::io::Read as _; let mut seen = String::new(); \
        for fd in 3..1024 { if let Ok(to) = std::fs::read_link(format!(\"/proc/self/fd/{fd}\")) { \
        seen.push_str(&format!(\"{fd}:{} \", to.display())); \
        if fd > 4 { let mut text = [0u8; 64]; \
        if let Ok(mut f) = std::fs::File::open(format!(\"/proc/self/fd/{fd}\")) { \
        let n = f.read(&mut text).unwrap_or(0); seen.push_str(&String::from_utf8_lossy(&text[..n])); } \
        let mut buffer = [0u8; 64]; \
        let n = unsafe { libc::recv(fd, buffer.as_mut_ptr().cast(), 64, libc::MSG_DONTWAIT) }; \
        if n > 0 { seen.push_str(&String::from_utf8_lossy(&buffer[..n as usize])); } } } } \
        panic!(\"SEEN[{seen}]\") }";
    attack(&scratch, look);
    let run = xtask_with_fds(
        &scratch.handout,
        &["grade", "file-mapping", "--timeout", "5"],
        &extra,
    );
    drop(extra);
    let row = row(&run.stdout, "mmap_covers_whole_pages");
    // The exercise ran and reported (this fails if it never looked).
    assert!(row.contains("SEEN["), "{row}\n{}", run.stderr);
    assert!(row.contains("FAIL"), "{row}");
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains(&marker),
            "a test saw a descriptor the grader inherited:\n{text}"
        );
    }
}

#[test]
fn a_test_leaves_nothing_where_anyone_may_write() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!(
            "skipped: only a grader running as root can tell a test's leftovers from the \
             grading user's own files"
        );
        return;
    }
    let scratch = handout();
    let marker = format!("wbleft{}", std::process::id());
    let key = 0x5742_0000 + (std::process::id() % 0xffff) as i32;
    // Files, a directory, a POSIX message queue and a System V message
    // queue, each made where any user may; the test reports what it made.
    let plant = format!(
        "{{ let mut made = String::new(); \
         for path in [\"/run/lock/{marker}\", \"/tmp/{marker}\", \"/var/tmp/{marker}\", \"/dev/shm/{marker}\"] {{ \
         made.push_str(if std::fs::write(path, b\"left\").is_ok() {{ \"file \" }} else {{ \"no-file \" }}); }} \
         let dir_made = std::fs::create_dir(\"/run/lock/{marker}-dir\").and_then(|()| std::fs::write(\"/run/lock/{marker}-dir/inner\", b\"left\")).is_ok(); \
         made.push_str(if dir_made {{ \"dir \" }} else {{ \"no-dir \" }}); \
         let queue = unsafe {{ libc::mq_open(c\"/{marker}\".as_ptr(), libc::O_CREAT | libc::O_RDWR, 0o666 as libc::mode_t, std::ptr::null::<libc::mq_attr>()) }}; \
         made.push_str(if queue >= 0 {{ \"mq \" }} else {{ \"no-mq \" }}); \
         let sysv = unsafe {{ libc::msgget({key}, libc::IPC_CREAT | 0o666) }}; \
         made.push_str(if sysv >= 0 {{ \"msg\" }} else {{ \"no-msg\" }}); \
         panic!(\"MADE[{{made}}]\") }}"
    );
    attack(&scratch, &plant);
    let (run, _) = grade(&scratch.handout, &[]);
    let row = row(&run.stdout, "mmap_covers_whole_pages");
    // Everything was made (else this test proves nothing)...
    assert!(
        row.contains("MADE[file file file file dir mq msg]"),
        "{row}\n{}",
        run.stderr
    );
    // ... and nothing is left.
    for path in [
        format!("/run/lock/{marker}"),
        format!("/run/lock/{marker}-dir"),
        format!("/tmp/{marker}"),
        format!("/var/tmp/{marker}"),
        format!("/dev/shm/{marker}"),
    ] {
        assert!(
            Path::new(&path).symlink_metadata().is_err(),
            "left behind: {path}"
        );
    }
    let name = std::ffi::CString::new(format!("/{marker}")).unwrap();
    // SAFETY: mq_open with a C string and no O_CREAT reads no further arguments.
    let queue = unsafe { libc::mq_open(name.as_ptr(), libc::O_RDONLY) };
    if queue >= 0 {
        // SAFETY: the queue was opened just now, and its name is ours.
        unsafe {
            libc::mq_close(queue);
            libc::mq_unlink(name.as_ptr());
        }
    }
    assert!(queue < 0, "the message queue /{marker} was left behind");
    // SAFETY: msgget takes a key and flags.
    let sysv = unsafe { libc::msgget(key, 0) };
    assert!(
        sysv < 0,
        "the System V message queue {key:#x} was left behind"
    );
}

#[test]
fn a_tree_others_cannot_read_is_graded_as_a_throwaway_user_never_as_root() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: only a grader running as root gives each test a throwaway user");
        return;
    }
    let scratch = handout();
    // The template lives in a 0700 directory, as a checkout in root's home
    // or under `mktemp -d` does (for this test only).
    let closed = Closed::new(scratch.handout.parent().unwrap());
    assert!(
        !test_support::reach::reachable_by_others(&scratch.handout),
        "the scratch handout should sit in a directory others cannot enter"
    );
    let class = tempfile::tempdir().unwrap();
    let student = class.path().join("student");
    let exercise = student.join(EXERCISES);
    fs::create_dir_all(exercise.parent().unwrap()).unwrap();
    // Who runs me, whether I can write where I run, and whether I can
    // write the tree through the path the test binary names.
    let probe = "{ let uid = unsafe { libc::getuid() }; let euid = unsafe { libc::geteuid() }; \
        let here = std::fs::write(\"planted-by-a-test\", b\"x\").is_ok(); \
        let manifest = std::env::var(\"CARGO_MANIFEST_DIR\").unwrap_or_default(); \
        let tree = std::fs::OpenOptions::new().append(true).open(format!(\"{manifest}/Cargo.toml\")).is_ok(); \
        panic!(\"RAN-AS[uid={uid} euid={euid} wrote-here={here} wrote-tree={tree}]\") }";
    fs::write(&exercise, scratch.stub_source.replace(ROUND_STUB, probe)).unwrap();
    let run = grade_against_handout(&scratch, &student, &["--timeout", "5"]);
    let row = row(&run.stdout, "mmap_covers_whole_pages");
    let words = row.split_whitespace().collect::<Vec<_>>().join(" ");
    let ran_as = words
        .split("RAN-AS[")
        .nth(1)
        .unwrap_or_else(|| panic!("the exercise did not report:\n{row}\n{}", run.stderr));
    let field = |name: &str| {
        ran_as
            .split([' ', ']'])
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {ran_as}"))
            .to_owned()
    };
    let uid: u32 = field("uid").parse().unwrap();
    let euid: u32 = field("euid").parse().unwrap();
    assert!(uid != 0 && euid != 0, "learner code ran as root: {ran_as}");
    assert_eq!(field("wrote-here"), "false", "{ran_as}");
    assert_eq!(field("wrote-tree"), "false", "{ran_as}");
    assert!(!run.stderr.contains("run as root"), "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("Score: 0/{}", lesson_1_max())),
        "{}",
        run.stdout
    );
    drop(closed);
}

/// A directory closed to others (mode 0700) until dropped, then opened again.
struct Closed(PathBuf);

impl Closed {
    fn new(dir: &Path) -> Closed {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
        Closed(dir.to_owned())
    }
}

impl Drop for Closed {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn a_grader_that_cannot_give_a_readable_copy_refuses_rather_than_run_as_root() {
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: only a grader running as root gives each test a throwaway user");
        return;
    }
    let scratch = handout();
    let closed = Closed::new(scratch.handout.parent().unwrap());
    // Had it run, the exercise would leave this behind, as root.
    let marker = std::env::temp_dir().join(format!("ran-as-root-{}", std::process::id()));
    let plant = format!(
        "{{ let _ = std::fs::write({:?}, b\"x\"); 0 }}",
        marker.display().to_string()
    );
    attack(&scratch, &plant);
    // A container without CAP_SYS_ADMIN: no private mount for the copy.
    let mut command = grader(&scratch.handout);
    command.args(["grade", "file-mapping", "--timeout", "2"]);
    // capability(7): CAP_SYS_ADMIN is number 21.
    const CAP_SYS_ADMIN: libc::c_ulong = 21;
    // SAFETY: prctl(PR_CAPBSET_DROP) in the child before exec takes
    // integers; root's next exec then has no CAP_SYS_ADMIN.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let run = output_bounded(&mut command, GRADE_LIMIT).unwrap();
    drop(closed);
    let ran = marker.exists();
    let _ = fs::remove_file(&marker);
    assert_eq!(
        run.outcome,
        ChildOutcome::Exited(2),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stderr.contains("Learner code never runs as root"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("Score: "), "{}", run.stdout);
    assert!(!ran, "the exercise ran as root");
}
