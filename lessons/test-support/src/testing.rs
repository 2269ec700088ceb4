//! What every lesson's tests do the same way: run the lesson's binary as a
//! learner would (a separate process, a bounded wait), check how it refuses
//! bad input, and snapshot its story with the shared redactions.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::snapshot;
use support::ChildOutcome;
use support::spawn::{Captured, output_bounded};

pub mod other_user;
pub use other_user::AsNobody;

/// How long a lesson may run in a test before it is killed.
pub const LESSON_LIMIT: Duration = Duration::from_secs(30);

/// Runs the lesson binary `bin` with `args` in `cwd`, bounded by [`LESSON_LIMIT`].
pub fn run(bin: &str, args: &[&str], cwd: &Path) -> Captured {
    run_command(Command::new(bin).args(args).current_dir(cwd))
}

/// Runs a prepared command (for an unusual environment or user), bounded.
/// (A program copied a moment ago, for [`AsNobody`], may be "busy" for a
/// moment: [`support::spawn::spawn_past_text_busy`] waits that out.)
pub fn run_command(command: &mut Command) -> Captured {
    output_bounded(command, LESSON_LIMIT)
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// Runs the lesson's walkthrough with no arguments in a fresh directory and
/// returns its story (stdout), after checking that it ran cleanly: exit code
/// 0, nothing on stderr, and nothing written into its current directory.
pub fn story(bin: &str) -> String {
    let run = run_ok(bin, &[]);
    assert_eq!(run.stderr, "", "the lesson wrote to stderr");
    run.stdout
}

/// Runs `bin` with `args` in a fresh directory and returns what it printed,
/// after checking that it exited with code 0 and wrote nothing into that
/// directory.
pub fn run_ok(bin: &str, args: &[&str]) -> Captured {
    let cwd =
        tempfile::tempdir().expect("a temporary directory for the lesson to run in");
    let run = run(bin, args, cwd.path());
    assert_eq!(
        run.outcome,
        ChildOutcome::Exited(0),
        "the lesson ({args:?}) failed:\n{}",
        run.stderr
    );
    assert!(
        entries(cwd.path()).is_empty(),
        "the lesson ({args:?}) wrote into its current directory"
    );
    run
}

/// Checks that `run` is a clean refusal by `lesson`: exit code 2, a
/// `LESSON: error:` message and no panic on stderr, no story on stdout.
/// Returns stderr for the caller's own checks.
pub fn assert_refused(lesson: &str, run: &Captured) -> String {
    let err = assert_refused_after_story(lesson, run);
    assert_eq!(run.stdout, "", "a refused run prints no story");
    err
}

/// Runs the lesson `bin` with `args` in a fresh directory, checks that it
/// refused cleanly ([`assert_refused`]) and left nothing there, and returns
/// stderr for the caller's own checks.
pub fn refused(lesson: &str, bin: &str, args: &[&str]) -> String {
    let cwd =
        tempfile::tempdir().expect("a temporary directory for the lesson to run in");
    let err = assert_refused(lesson, &run(bin, args, cwd.path()));
    assert!(
        entries(cwd.path()).is_empty(),
        "a refused run left {:?} behind",
        entries(cwd.path())
    );
    err
}

/// What every lesson's command line does: `--help` prints the usage and
/// succeeds; a misspelt flag is refused, naming the flag `meant`; neither
/// leaves anything behind.
pub fn assert_command_line_basics(
    lesson: &str,
    bin: &str,
    misspelt: &str,
    meant: &str,
) {
    let cwd =
        tempfile::tempdir().expect("a temporary directory for the lesson to run in");
    let help = run(bin, &["--help"], cwd.path());
    assert_eq!(help.outcome, ChildOutcome::Exited(0), "{}", help.stderr);
    assert!(
        help.stdout
            .contains(&format!("Usage: cargo xtask run-lesson {lesson}")),
        "{}",
        help.stdout
    );
    assert!(entries(cwd.path()).is_empty());
    let err = refused(lesson, bin, &[misspelt]);
    assert!(
        err.contains(&format!(
            "unknown argument '{misspelt}'; did you mean '{meant}'?"
        )),
        "{err}"
    );
}

/// The line of `out` that starts with `start` (leading blanks ignored),
/// trimmed; a missing line fails the test and shows `out`.
pub fn line<'a>(out: &'a str, start: &str) -> &'a str {
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in\n{out}"))
}

/// The names in `dir`, sorted: to check that nothing was left behind.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// insta settings for a lesson's snapshot: the shared [`snapshot::filters`]
/// plus the lesson's own `extra` ones, and a header the book can skip
/// (three lines: no expression, no module prefix in the file name).
pub fn settings(extra: &[(&str, &str)]) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in snapshot::filters() {
        settings.add_filter(&pattern, replacement);
    }
    for (pattern, replacement) in extra {
        settings.add_filter(pattern, *replacement);
    }
    settings.set_omit_expression(true);
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// The widest a code listing may be: what mdBook's content column shows
/// without sideways scrolling (about 750 px of monospace).
pub const LISTING_COLUMNS: usize = 86;

/// The widest a story line may be. A chapter shows a story's output folded
/// in `<details>`, whose padding leaves one column less than a listing gets
/// (`book --check` measured an 86-column line at 742 px in a 734-px block).
pub const STORY_COLUMNS: usize = LISTING_COLUMNS - 1;

/// A story cut into the parts a chapter shows one at a time: `opening`
/// (everything before `Step 1.`), then `step-N` for each `Step N.` heading
/// and the lines up to the next one. Each part keeps its trailing newline.
pub fn story_parts(story: &str) -> Vec<(String, String)> {
    let mut parts: Vec<(String, String)> =
        vec![("opening".to_owned(), String::new())];
    for line in story.split_inclusive('\n') {
        if let Some(number) = line
            .strip_prefix("Step ")
            .and_then(|rest| rest.split_once('.'))
            .map(|(number, _)| number)
            .filter(|number| {
                !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
            })
        {
            parts.push((format!("step-{number}"), String::new()));
        }
        parts
            .last_mut()
            .expect("opening is always there")
            .1
            .push_str(line);
    }
    parts
}

/// The text of an insta snapshot file: what follows its `---` header.
pub fn snapshot_text(file: &str) -> &str {
    file.strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .map_or(file, |(_, text)| text)
}

/// Checks what every story must be, whatever the lesson, on its reviewed
/// snapshot (`tests/snapshots/story.snap` under `manifest_dir`), which is
/// the story as the book shows it, live values redacted: no line wider than
/// [`STORY_COLUMNS`], and no step snapshot left over from an older story
/// (`step-N.snap` for a step the story no longer has).
pub fn assert_story_shape(manifest_dir: &str) {
    let dir = std::path::Path::new(manifest_dir).join("tests/snapshots");
    let file = std::fs::read_to_string(dir.join("story.snap"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("story.snap").display()));
    let story = snapshot_text(&file);
    for (number, line) in story.lines().enumerate() {
        let width = line.chars().count();
        assert!(
            width <= STORY_COLUMNS,
            "story line {} is {width} columns, more than {STORY_COLUMNS}; the book would cut \
             it off. Shorten it:\n{line}",
            number + 1
        );
    }
    let names: Vec<String> = story_parts(story)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".snap")
            && name.starts_with("step-")
        {
            assert!(
                names.iter().any(|known| known == name),
                "{} is left from an older story: the story has no {name}; delete the file",
                dir.join(&file).display()
            );
        }
    }
}

/// Snapshots a lesson's story whole (`story.snap`) and part by part
/// (`opening.snap`, `step-1.snap`, ...), so a chapter can show each step's
/// output right after the question it answers. Extra redaction filters are
/// given as for [`settings`]. Then asserts [`assert_story_shape`] on the
/// reviewed snapshot.
#[macro_export]
macro_rules! story_snapshots {
    ($story:expr) => {
        $crate::story_snapshots!($story, &[])
    };
    ($story:expr, $filters:expr) => {{
        let story: &str = &$story;
        $crate::testing::settings($filters).bind(|| {
            ::insta::assert_snapshot!("story", story);
            for (name, part) in $crate::testing::story_parts(story) {
                ::insta::assert_snapshot!(name, part);
            }
        });
        // On the reviewed snapshot: the story as the book shows it, with
        // live values (a long TMPDIR, say) redacted.
        $crate::testing::assert_story_shape(env!("CARGO_MANIFEST_DIR"));
    }};
}

/// What [`interrupt_at_random`] found.
#[derive(Debug, Default)]
pub struct Interruptions {
    /// How many runs were interrupted (or finished first).
    pub runs: usize,
    /// How many of them the signal ended (the rest finished first).
    pub signalled: usize,
    /// Everything left behind, one line each, with the run that left it.
    pub leftovers: Vec<String>,
}

/// How many runs an interruption test makes when `WORKBOOK_INTERRUPT_RUNS`
/// does not say: a few, so a developer's `cargo test` stays quick. CI sets
/// the variable for the long matrix (`.ci/run`).
pub const INTERRUPT_RUNS: usize = 4;

/// How many runs an interruption test makes: `WORKBOOK_INTERRUPT_RUNS`, or
/// [`INTERRUPT_RUNS`].
pub fn interrupt_runs() -> usize {
    std::env::var("WORKBOOK_INTERRUPT_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(INTERRUPT_RUNS)
}

/// Starts the lesson `bin` with `args` `runs` times, each in a fresh
/// directory with its own TMPDIR, and sends SIGINT or SIGTERM (at random)
/// after a random delay below the time an uninterrupted run takes (measured
/// first, so the interruptions spread over the whole run). After each run it looks for what
/// was left behind: anything in that TMPDIR, a `/dev/shm/mmap-workbook-PID-*`
/// name of the run's pid, a process still carrying the run's marker in its
/// environment (a child that outlived the lesson), and whatever `check`
/// reports about the run's current directory (prepared by `prepare`).
pub fn interrupt_at_random(
    bin: &str,
    args: &[&str],
    runs: usize,
    prepare: impl Fn(&Path),
    check: impl Fn(&Path) -> Vec<String>,
) -> Interruptions {
    use nix::sys::signal::{Signal, kill};
    use std::os::unix::process::ExitStatusExt;
    let mut random = fastrand::Rng::new();
    // A run's length, measured: the longest of a few runs for a long
    // matrix, one for a short one.
    let max_delay = (0..if runs > 10 { 3 } else { 1 })
        .map(|_| {
            let cwd = tempfile::tempdir().unwrap();
            prepare(cwd.path());
            let started = std::time::Instant::now();
            run(bin, args, cwd.path());
            started.elapsed()
        })
        .max()
        .unwrap_or(Duration::from_millis(10));
    let mut found = Interruptions::default();
    for run in 0..runs {
        let root = tempfile::tempdir().expect("a directory for the run");
        let (tmp, cwd) = (root.path().join("tmp"), root.path().join("cwd"));
        std::fs::create_dir(&tmp).unwrap();
        std::fs::create_dir(&cwd).unwrap();
        prepare(&cwd);
        let marker = format!("{}-{run}", support::unguessable_suffix().unwrap());
        let signal = if random.bool() {
            Signal::SIGINT
        } else {
            Signal::SIGTERM
        };
        let delay =
            Duration::from_micros(random.u64(..max_delay.as_micros().max(1) as u64));
        let mut child = Command::new(bin)
            .args(args)
            .current_dir(&cwd)
            .env("TMPDIR", &tmp)
            .env("WORKBOOK_INTERRUPT_MARKER", &marker)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the lesson starts");
        let pid = child.id();
        std::thread::sleep(delay);
        // The child is ours and not yet reaped: the pid is still its own.
        let _ = kill(nix::unistd::Pid::from_raw(pid as i32), signal);
        let outcome = support::spawn::wait_bounded(&mut child, LESSON_LIMIT).unwrap();
        let what = format!("run {run} ({bin}, {signal} after {delay:?})");
        found.runs += 1;
        match outcome {
            ChildOutcome::Exited(0) => {}
            ChildOutcome::Signaled(s) if s == signal => found.signalled += 1,
            other => found
                .leftovers
                .push(format!("{what}: ended unexpectedly: it {other}")),
        }
        let _ = child.wait().map(|s| s.signal());
        for name in entries(&tmp) {
            found
                .leftovers
                .push(format!("{what}: left {name} in its TMPDIR"));
        }
        let shm_prefix = format!("mmap-workbook-{pid}-");
        for name in entries(Path::new("/dev/shm")) {
            if name.starts_with(&shm_prefix) {
                let _ = std::fs::remove_file(Path::new("/dev/shm").join(&name));
                found
                    .leftovers
                    .push(format!("{what}: left /dev/shm/{name}"));
            }
        }
        for survivor in processes_marked(&marker) {
            found
                .leftovers
                .push(format!("{what}: process {survivor} outlived the lesson"));
        }
        for leftover in check(&cwd) {
            found.leftovers.push(format!("{what}: {leftover}"));
        }
    }
    found
}

/// Processes whose environment holds `WORKBOOK_INTERRUPT_MARKER=marker`,
/// after giving them a moment to die; any still there are killed.
fn processes_marked(marker: &str) -> Vec<u32> {
    let needle = format!("WORKBOOK_INTERRUPT_MARKER={marker}");
    let scan = || -> Vec<u32> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                    env.split(|&b| b == 0).any(|var| var == needle.as_bytes())
                })
            })
            .collect()
    };
    let started = std::time::Instant::now();
    loop {
        let left = scan();
        if left.is_empty() || started.elapsed() > Duration::from_secs(2) {
            for &pid in &left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            return left;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A small tmpfs mounted for a test, unmounted (lazily) when dropped.
#[derive(Debug)]
pub struct SmallTmpfs {
    dir: tempfile::TempDir,
}

impl SmallTmpfs {
    /// Mounts a tmpfs of `bytes` bytes, or explains why it cannot (not
    /// root, or mounting not allowed here): the caller skips with that text.
    pub fn mount(bytes: u64) -> Result<SmallTmpfs, String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("mounting a tmpfs needs root".to_owned());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let run = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !run.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&run.stderr).trim()
            ));
        }
        Ok(SmallTmpfs { dir })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills it with a file `filler` until at most `free` bytes are left.
    pub fn fill_leaving(&self, free: u64) -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::File::create(self.path().join("filler"))?;
        let chunk = vec![0xa5u8; 4096];
        loop {
            let stat = nix::sys::statvfs::statvfs(self.path())?;
            let available = stat.blocks_available() * stat.fragment_size();
            if available <= free {
                return file.sync_all();
            }
            let n = (available - free).min(chunk.len() as u64) as usize;
            match file.write(&chunk[..n]) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Runs `bin` with `args` under `ulimit FLAG VALUE` (bash's builtin, then
/// exec), as `nobody` when `as_nobody` is given (root ignores RLIMIT_NPROC:
/// then `bin` is ignored and `nobody`'s copy runs, in its working
/// directory), else with a TMPDIR and current directory of its own.
pub fn run_under_ulimit(
    bin: &str,
    args: &[&str],
    flag: &str,
    value: u64,
    as_nobody: Option<&AsNobody>,
) -> Captured {
    let own = tempfile::tempdir().unwrap();
    let mut command = Command::new("/bin/bash");
    command
        .arg("-c")
        .arg(format!("ulimit {flag} {value} && exec \"$0\" \"$@\""));
    let root = match as_nobody {
        Some(nobody) => {
            command.arg(nobody.bin()).args(args);
            nobody.as_nobody(&mut command);
            nobody.work()
        }
        None => {
            command
                .arg(bin)
                .args(args)
                .env("TMPDIR", own.path())
                .current_dir(own.path());
            own.path()
        }
    };
    let run = run_command(&mut command);
    let left = entries(root);
    assert!(
        left.is_empty(),
        "left behind under ulimit {flag} {value}: {left:?}"
    );
    run
}

/// Tries `bin` under `ulimit FLAG N` for each N in `values`, tightest
/// first: every run either tells the story or refuses cleanly with a
/// message containing `fix` (the limit to raise). The first limit under
/// which the story is told ends the sweep: every looser one lets it through
/// too. Returns how many refused, so a caller can check that the limit was
/// really reached.
pub fn sweep_ulimit(
    lesson: &str,
    bin: &str,
    flag: &str,
    values: impl IntoIterator<Item = u64>,
    as_nobody: Option<&AsNobody>,
    fix: &str,
) -> usize {
    let mut refusals = 0;
    for value in values {
        let run = run_under_ulimit(bin, &[], flag, value, as_nobody);
        if run.outcome.is_success() {
            break;
        }
        let err = assert_refused_after_story(lesson, &run);
        assert!(
            err.contains(fix),
            "ulimit {flag} {value}: the refusal should say {fix:?}:\n{err}"
        );
        refusals += 1;
    }
    refusals
}

/// Like [`assert_refused`], for a failure in the middle of the story (some
/// of which may have been printed already): exit code 2, one error with no
/// panic.
pub fn assert_refused_after_story(lesson: &str, run: &Captured) -> String {
    assert_eq!(
        run.outcome,
        ChildOutcome::Exited(2),
        "stderr:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!("{lesson}: error: ")),
        "{}",
        run.stderr
    );
    run.stderr.clone()
}

/// The lesson's stdout is a pipe whose reader leaves after `keep` bytes, as
/// `lesson | head -c N` does; with `keep` 0 the reader is gone before the
/// lesson starts, so its very first line meets a closed pipe. It must end
/// quietly (SIGPIPE or success, nothing on stderr) and leave nothing in its
/// TMPDIR.
pub fn assert_quiet_on_a_closed_pipe(bin: &str, keep: usize) {
    use std::io::Read;
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let mut command = Command::new(bin);
    command
        .current_dir(cwd.path())
        .env("TMPDIR", tmp.path())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut reader = None;
    if keep == 0 {
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        drop(read_end);
        command.stdout(std::process::Stdio::from(write_end));
    } else {
        command.stdout(std::process::Stdio::piped());
    }
    let mut child = command.spawn().unwrap();
    if let Some(mut stdout) = child.stdout.take() {
        let mut head = vec![0u8; keep];
        let _ = stdout.read_exact(&mut head);
        reader = Some(stdout);
    }
    drop(reader);
    let mut stderr = child.stderr.take().unwrap();
    let outcome = support::spawn::wait_bounded(&mut child, LESSON_LIMIT).unwrap();
    let mut err = String::new();
    let _ = stderr.read_to_string(&mut err);
    assert!(
        matches!(
            outcome,
            ChildOutcome::Exited(0)
                | ChildOutcome::Signaled(nix::sys::signal::Signal::SIGPIPE)
        ),
        "after {keep} bytes, the lesson {outcome}:\n{err}"
    );
    if keep == 0 {
        assert_eq!(
            outcome,
            ChildOutcome::Signaled(nix::sys::signal::Signal::SIGPIPE),
            "a closed pipe ends the lesson as it ends `cat`"
        );
    }
    assert_eq!(err, "", "after {keep} bytes, stderr should stay empty");
    assert!(
        entries(tmp.path()).is_empty(),
        "left in TMPDIR: {:?}",
        entries(tmp.path())
    );
    assert!(entries(cwd.path()).is_empty());
}

/// The lesson's stdout is `/dev/full`: one line of error naming standard
/// output and ENOSPC, exit code 2, nothing left in its TMPDIR.
pub fn assert_one_line_on_a_full_device(lesson: &str, bin: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut child = Command::new(bin)
        .env("TMPDIR", tmp.path())
        .stdin(std::process::Stdio::null())
        .stdout(full)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let outcome = support::spawn::wait_bounded(&mut child, LESSON_LIMIT).unwrap();
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
    assert_eq!(outcome, ChildOutcome::Exited(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one line:\n{err}");
    assert!(
        err.starts_with(&format!(
            "{lesson}: error: cannot write to standard output: "
        )),
        "{err}"
    );
    assert!(err.contains("(ENOSPC)"), "{err}");
    assert!(entries(tmp.path()).is_empty());
}

/// Runs the lesson with TMPDIR on a small tmpfs filled until only `free`
/// bytes are left: it must tell its story or refuse cleanly, naming the
/// full filesystem (ENOSPC) and a path on it; it must never die of a signal
/// (SIGBUS), and must leave nothing on the tmpfs. `None` (with the reason)
/// where no tmpfs can be mounted; otherwise whether it refused.
pub fn on_a_nearly_full_tmpfs(
    lesson: &str,
    bin: &str,
    free: u64,
) -> Result<bool, String> {
    let tmpfs = SmallTmpfs::mount(1 << 20)?;
    tmpfs.fill_leaving(free).map_err(|e| e.to_string())?;
    let cwd = tempfile::tempdir().unwrap();
    let run = run_command(
        Command::new(bin)
            .env("TMPDIR", tmpfs.path())
            .current_dir(cwd.path()),
    );
    let left: Vec<String> = entries(tmpfs.path())
        .into_iter()
        .filter(|name| name != "filler")
        .collect();
    assert!(
        left.is_empty(),
        "{free} bytes free: left {left:?} on the tmpfs"
    );
    if run.outcome.is_success() {
        return Ok(false);
    }
    let err = assert_refused_after_story(lesson, &run);
    assert!(
        err.contains("(ENOSPC)") && err.contains("set TMPDIR"),
        "{free} bytes free: {err}"
    );
    assert!(
        err.contains(&tmpfs.path().display().to_string()),
        "{free} bytes free: the message should name the path: {err}"
    );
    Ok(true)
}

/// Runs `bin` in a private mount namespace where `/proc` is unmounted
/// (`unshare -m`, root only); `Err` with the reason where that is not allowed.
pub fn run_without_proc(bin: &str) -> Result<Captured, String> {
    let cwd = tempfile::tempdir().unwrap();
    let run = run_command(
        Command::new("unshare")
            .args(["-m", "sh", "-c", "umount -l /proc && exec \"$0\""])
            .arg(bin)
            .current_dir(cwd.path()),
    );
    if run.stderr.contains("unshare:") || run.stderr.contains("umount:") {
        return Err(run.stderr.trim().to_owned());
    }
    assert!(entries(cwd.path()).is_empty());
    Ok(run)
}

/// A lesson's `tests/hostile.rs`: the hostile situations as `#[test]`
/// functions, so every lesson meets them the same way.
///
/// `test_support::hostile_tests!(NAME, BIN, stores_files: BOOL)` gives a reader
/// that leaves early, a full output device and a nearly full tmpfs as
/// TMPDIR; add `ulimit_n` for a lesson that opens enough files to meet a
/// tight `ulimit -n` (4 to 12), and `forks` for one that forks (it must
/// refuse without `/proc`).
#[macro_export]
macro_rules! hostile_tests {
    (@ ulimit_n, $lesson:expr, $bin:expr) => {
        #[test]
        fn a_tight_limit_on_open_files_names_ulimit_n() {
            $crate::testing::hostile::assert_a_tight_ulimit_n_is_named($lesson, $bin);
        }
    };
    (@ forks, $lesson:expr, $bin:expr) => {
        #[test]
        fn without_proc_the_fork_refusal_says_why_and_how_to_fix_it() {
            $crate::testing::hostile::assert_the_fork_refusal_without_proc($lesson, $bin);
        }
    };
    ($lesson:expr, $bin:expr, stores_files: $stores:expr $(, $extra:ident)*) => {
        #[test]
        fn a_reader_that_leaves_early_ends_the_lesson_quietly() {
            $crate::testing::hostile::assert_quiet_when_the_reader_leaves($bin);
        }

        #[test]
        fn a_full_output_device_gets_a_one_line_error() {
            $crate::testing::assert_one_line_on_a_full_device($lesson, $bin);
        }

        #[test]
        fn a_nearly_full_tmpfs_gets_a_clear_refusal_never_a_signal() {
            $crate::testing::hostile::assert_clear_on_a_nearly_full_tmpfs($lesson, $bin, $stores);
        }

        $($crate::hostile_tests!(@ $extra, $lesson, $bin);)*
    };
}

/// The hostile situations every lesson meets, one call a test
/// ([`hostile_tests!`](crate::hostile_tests) makes the tests).
pub mod hostile;
pub mod picture;

#[cfg(test)]
mod tests {
    use super::story_parts;

    #[test]
    fn a_snapshot_files_text_follows_its_header() {
        let file =
            "---\nsource: lessons/x/tests/walkthrough.rs\n---\nStep 1. A\n---\n";
        assert_eq!(super::snapshot_text(file), "Step 1. A\n---\n");
    }

    #[test]
    fn a_story_is_cut_at_each_numbered_step_heading() {
        let story = "lesson: why?\n\nStep 1. One\n  a\nStep 2. Two\n  Step 3. indented\nStep x. not\n";
        let parts = story_parts(story);
        let names: Vec<&str> = parts.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["opening", "step-1", "step-2"]);
        assert_eq!(parts[1].1, "Step 1. One\n  a\n");
        assert_eq!(
            parts.iter().map(|(_, p)| p.as_str()).collect::<String>(),
            story
        );
    }
}
