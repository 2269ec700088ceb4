//! Building a lesson's graded tests once, before any learner code runs.
//!
//! `cargo test --no-run --message-format=json` names the test binary it
//! built, or gives the compiler's errors as data: nothing here reads
//! cargo's human-readable output.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::ChildOutcome;

use super::Isolation;
use super::session;

/// The most one lesson's build may take after its last dependency from the
/// registry was built (and 4 times that in all); then the whole session
/// (cargo and every rustc) is killed.
pub const BUILD_LIMIT: Duration = Duration::from_secs(180);

/// The processor time each process of a build may use (`RLIMIT_CPU`): a
/// compiler that outlives its build (its grader was killed) still stops.
const CPU_LIMIT: u64 = 180;

/// The largest file a build may write (`RLIMIT_FSIZE`). A graded test
/// binary is about 30 MiB; a huge `static` stops here (SIGXFSZ) instead of
/// growing the build cache by gigabytes.
pub const FILE_LIMIT: u64 = 128 << 20;

/// Refuses to build when a cargo configuration or a toolchain file that
/// cargo or rustup would read (in the tree or any directory above it)
/// belongs to someone other than this user or root: a test run as a
/// throwaway user could have planted it, to run code of its own in the
/// next build.
fn refuse_planted_configuration(root: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    for dir in root.ancestors() {
        for name in [
            ".cargo",
            ".cargo/config",
            ".cargo/config.toml",
            "rust-toolchain",
            "rust-toolchain.toml",
        ] {
            let path = dir.join(name);
            if let Ok(meta) = path.symlink_metadata()
                && meta.uid() != me
                && meta.uid() != 0
            {
                return Err(format!(
                    "{} belongs to user {}, not to you: cargo would read it while building \
                     the graded tests. Remove it (a test may have planted it), then grade again.",
                    path.display(),
                    meta.uid()
                ));
            }
        }
    }
    Ok(())
}

/// What building one lesson's graded tests gave.
#[derive(Debug)]
pub enum Built {
    /// The graded test binary.
    Binary(PathBuf),
    /// It did not compile: the first error, as the compiler rendered it.
    DoesNotCompile(String),
}

/// Builds `package`'s `graded` test target in the workspace at `root`, with
/// the target directory `target` (which belongs to that tree).
///
/// Cargo and every compiler it starts run in a session of their own, with
/// [`BUILD_LIMIT`], [`CPU_LIMIT`] per process and [`FILE_LIMIT`]; the whole
/// session is killed when the build ends, however it ends. A tree other than
/// the grader's own (a submission laid out in a template) is built with a
/// minimal environment and confined by `isolation` (the instructor's
/// sandbox), which it needs: without one, it is refused.
pub fn build_graded(
    root: &Path,
    target: &Path,
    package: &str,
    isolation: Option<&dyn Isolation>,
) -> Result<Built, String> {
    let built = build_graded_once(root, target, package, isolation)?;
    // A checker runs the runner at the path cargo gave it when it was
    // compiled (`env!("CARGO_BIN_EXE_LESSON")`), and cargo does not rebuild
    // a test only because that path changed: in a moved checkout (or one
    // copied with its target/) the checker would run the old tree's runner,
    // with the old tree's exercises. Such a binary is removed and built
    // again, here.
    if let Built::Binary(path) = &built
        && runs_another_trees_runner(path, target, package)
    {
        let _ = std::fs::remove_file(path);
        return build_graded_once(root, target, package, isolation);
    }
    Ok(built)
}

/// Whether the graded binary at `path` names a lesson binary (a runner) of
/// `package` that is not the one in `target`.
fn runs_another_trees_runner(path: &Path, target: &Path, package: &str) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let ours = target.join("debug").join(package);
    let suffix = format!("/debug/{package}");
    contains(&bytes, suffix.as_bytes()) && !contains(&bytes, ours.as_os_str().as_bytes())
}

fn build_graded_once(
    root: &Path,
    target: &Path,
    package: &str,
    isolation: Option<&dyn Isolation>,
) -> Result<Built, String> {
    refuse_planted_configuration(root)?;
    let mut command = Command::new(crate::cargo_program());
    // The compiler of the cargo that runs us, whatever toolchain file a
    // directory above the tree may name.
    let rustc = crate::rustc_beside_cargo();
    if let Some(rustc) = &rustc {
        command.env("RUSTC", rustc);
    }
    command
        .args(["test", "--no-run", "--message-format=json", "--package"])
        .arg(package)
        .args(["--test", "graded", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_TERM_COLOR", "never");
    if root.join("Cargo.lock").is_file() {
        command.arg("--locked");
    }
    let own_tree = crate::workspace_root().is_ok_and(|own| own == root);
    if !own_tree {
        // Someone else's runner is rebuilt for every submission, and no
        // speed is measured in grading: the lessons the workspace optimises
        // in the dev profile (for their --bench) are built unoptimised here,
        // in the grader's own target, which no story or bench shares.
        command
            .arg("--config")
            .arg(format!("profile.dev.package.{package}.opt-level=0"));
    }
    if !own_tree {
        let isolation = isolation.ok_or_else(|| {
            format!(
                "{} is not this grader's own tree: someone else's code is built only \
                 in the instructor's sandbox (cargo xtask grade --template)",
                root.display()
            )
        })?;
        forget_earlier_submissions(root, target);
        isolation.confine_build(&mut command, target, rustc.as_deref())?;
    }
    let (outcome, stdout, stderr) = run_in_session(&mut command, BUILD_LIMIT)?;
    let mut executable = None;
    let mut first_error = None;
    for line in stdout.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue; // not one of cargo's messages (a build script's output, say)
        };
        match message.get("reason").and_then(serde_json::Value::as_str) {
            Some("compiler-artifact") => {
                let target = message.get("target");
                let is_graded = target
                    .and_then(|t| t.get("name"))
                    .and_then(serde_json::Value::as_str)
                    == Some("graded");
                let is_test = target
                    .and_then(|t| t.get("kind"))
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(|kinds| kinds.iter().any(|k| k.as_str() == Some("test")));
                if is_graded && is_test {
                    executable = message
                        .get("executable")
                        .and_then(serde_json::Value::as_str)
                        .map(PathBuf::from);
                }
            }
            Some("compiler-message") if first_error.is_none() => {
                let diagnostic = message.get("message");
                let level = diagnostic
                    .and_then(|m| m.get("level"))
                    .and_then(serde_json::Value::as_str);
                if level == Some("error") {
                    first_error = diagnostic
                        .and_then(|m| m.get("rendered"))
                        .and_then(serde_json::Value::as_str)
                        .map(|r| r.lines().take(12).collect::<Vec<_>>().join("\n"));
                }
            }
            _ => {}
        }
    }
    if let ChildOutcome::TimedOut(limit) = outcome {
        return Ok(Built::DoesNotCompile(format!(
            "the build did not finish in {} s (a constant that computes forever?)",
            limit.as_secs()
        )));
    }
    if let Some(limit) = exceeded_limit(&stderr) {
        return Ok(Built::DoesNotCompile(limit));
    }
    match (outcome.is_success(), executable) {
        (true, Some(path)) => Ok(Built::Binary(path)),
        (true, None) => Err(format!(
            "cargo built {package} but named no `graded` test binary; \
             does lessons/NN-{package}/tests/graded.rs exist?"
        )),
        (false, _) => Ok(Built::DoesNotCompile(first_error.unwrap_or_else(|| {
            let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("cargo {outcome}:\n{}", tail.join("\n"))
        }))),
    }
}

/// What a build that a resource limit stopped did, in words; `None` when no
/// limit stopped it. (Cargo names the signal that killed a compiler.)
fn exceeded_limit(stderr: &str) -> Option<String> {
    // "(signal: 25, SIGXFSZ: ...)" or, from some cargo versions, "(signal: 25)".
    let killed_by = |number: i32, name: &str| {
        stderr.contains(name) || stderr.contains(&format!("(signal: {number}"))
    };
    if killed_by(libc::SIGXFSZ, "SIGXFSZ") {
        Some(format!(
            "the build wrote a file larger than {} MiB, the most a build may write \
             (a huge static or constant?)",
            FILE_LIMIT >> 20
        ))
    } else if killed_by(libc::SIGXCPU, "SIGXCPU") {
        Some(format!(
            "a compiler used more than {CPU_LIMIT} s of processor time \
             (a constant that computes forever?)"
        ))
    } else {
        None
    }
}

/// Removes, once per grader and target, what an earlier grading built from
/// its submission's code, keeping everything else: a student's build and
/// tests must not find a classmate's compiled code in the build cache they
/// can read. A submission's code is compiled into the lesson binaries (the
/// runners) only; the libraries and the graded tests (the checkers) are the
/// template's own code, so they stay, and a new submission rebuilds only
/// the runners.
fn forget_earlier_submissions(root: &Path, target: &Path) {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static DONE: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let done = DONE.get_or_init(|| Mutex::new(HashSet::new()));
    if !done
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(target.to_path_buf())
    {
        return;
    }
    let lessons: Vec<String> = test_support::layout::discover(root)
        .unwrap_or_default()
        .into_iter()
        .map(|lesson| lesson.name)
        .collect();
    // `deps/file_mapping-HASH` (and its `.d`) is a runner; a library is
    // `deps/libfile_mapping-HASH.rlib`. `debug/file-mapping` is a runner.
    let a_runner = |file: &str| {
        lessons.iter().any(|name| {
            let krate = name.replace('-', "_");
            file == name
                || file.strip_prefix(&format!("{krate}-")).is_some_and(|rest| {
                    let hash = rest.strip_suffix(".d").unwrap_or(rest);
                    !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit())
                })
        })
    };
    let remove = |path: &Path| {
        let _ = if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        };
    };
    // A compiler's temporary directories, left by one that was killed.
    remove(&target.join("workbook-build-tmp"));
    let debug = target.join("debug");
    for dir in ["", "deps", "incremental"] {
        for entry in std::fs::read_dir(debug.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let incremental = dir == "incremental"
                && lessons
                    .iter()
                    .any(|l| name.starts_with(&format!("{}-", l.replace('-', "_"))));
            if name.starts_with("rmeta") || a_runner(&name) || incremental {
                remove(&entry.path());
            }
        }
    }
    // A runner's fingerprint (`.fingerprint/file-mapping-HASH/bin-…`): gone,
    // so cargo builds the runner again from this submission.
    for entry in std::fs::read_dir(debug.join(".fingerprint"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let is_bin = std::fs::read_dir(entry.path())
            .into_iter()
            .flatten()
            .flatten()
            .any(|f| f.file_name().to_string_lossy().starts_with("bin-"));
        if is_bin {
            remove(&entry.path());
        }
    }
}

/// Where `program` is: itself when it names a path, else the first match on
/// `PATH`.
pub fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return Some(program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Runs `command` (a build) to its end in a session of its own (confined
/// by what its sandbox added), with stdout and stderr captured. The build dies with
/// the thread that started it (`PR_SET_PDEATHSIG`); every process has
/// [`CPU_LIMIT`] and [`FILE_LIMIT`]; past `limit`, and in any case once
/// cargo ended, every member of the session is killed.
pub fn run_in_session(
    command: &mut Command,
    limit: Duration,
) -> Result<(ChildOutcome, String, String), String> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setsid, prctl and setrlimit are async-signal-safe and touch
    // only locals.
    unsafe {
        command.pre_exec(move || {
            nix::unistd::setsid()?;
            let check = |result: libc::c_int| {
                if result < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            };
            check(libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
            ))?;
            let cpu = libc::rlimit {
                rlim_cur: CPU_LIMIT,
                rlim_max: CPU_LIMIT + 5,
            };
            check(libc::setrlimit(libc::RLIMIT_CPU, &cpu))?;
            let file = libc::rlimit {
                rlim_cur: FILE_LIMIT,
                rlim_max: FILE_LIMIT,
            };
            check(libc::setrlimit(libc::RLIMIT_FSIZE, &file))?;
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            check(libc::setrlimit(libc::RLIMIT_CORE, &no_core))?;
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
    let session = child.id() as i32;
    // The clock of the lesson's own build starts when the last dependency
    // from the registry (code no student wrote) was built.
    let started = Instant::now();
    let last_dependency = std::sync::Arc::new(std::sync::Mutex::new(started));
    let drain = |pipe: Option<Box<dyn Read + Send>>, clock: Option<std::sync::Arc<_>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(pipe) = pipe {
                let mut pipe = std::io::BufReader::new(pipe);
                loop {
                    let from = bytes.len();
                    match std::io::BufRead::read_until(&mut pipe, b'\n', &mut bytes) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let line = &bytes[from..];
                    if let Some(clock) = &clock
                        && contains(line, b"\"reason\":\"compiler-artifact\"")
                        && contains(line, b"registry+")
                    {
                        let clock: &std::sync::Mutex<Instant> = clock;
                        *clock.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                    }
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        Some(last_dependency.clone()),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        None,
    );
    let deadline = || {
        let last = *last_dependency.lock().unwrap_or_else(|e| e.into_inner());
        (last + limit).min(started + limit * 4)
    };
    let mut status = None;
    while Instant::now() < deadline() {
        match child.try_wait() {
            Ok(Some(ended)) => {
                status = Some(ended);
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break,
        }
    }
    // Whatever happened, no member of the build's session outlives it: a
    // compiler left running would hold the build lock for the next one.
    session::kill_session(session, Duration::from_secs(10));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let outcome = match status {
        Some(status) => ChildOutcome::from(status),
        None => ChildOutcome::TimedOut(limit),
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok((outcome, stdout, stderr))
}

/// Whether `haystack` holds `needle`. It searches whole binaries (a graded
/// test binary is about 30 MiB) in a grader that is an unoptimised build,
/// where a byte-by-byte search takes most of a second: glibc's `memmem`
/// takes milliseconds.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    // SAFETY: both pointers and lengths come from live slices, which
    // memmem only reads; the result is only compared with null.
    let found = unsafe {
        libc::memmem(
            haystack.as_ptr().cast(),
            haystack.len(),
            needle.as_ptr().cast(),
            needle.len(),
        )
    };
    !found.is_null()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_finds_a_needle_anywhere_and_only_where_it_is() {
        let hay = b"\0\x7fELF runner /debug/file-mapping\0end";
        assert!(contains(hay, b"/debug/file-mapping"));
        assert!(contains(hay, b"\0\x7f") && contains(hay, b"end") && contains(hay, b""));
        assert!(!contains(hay, b"/debug/file-mappings") && !contains(b"", b"x"));
    }

    #[test]
    fn a_build_session_is_killed_whole_when_its_leader_ends_or_its_time_is_up() {
        // The leader leaves a child behind in its session and exits.
        let marker = format!("sleep 3{}", std::process::id() % 1000);
        let mut command = Command::new("sh");
        command.args(["-c", &format!("{marker} & exit 0")]);
        let started = Instant::now();
        let (outcome, _, _) = run_in_session(&mut command, Duration::from_secs(30)).unwrap();
        assert!(outcome.is_success(), "{outcome}");
        assert!(started.elapsed() < Duration::from_secs(20));
        // And one that outlives the limit, with a child of its own.
        let mut command = Command::new("sh");
        command.args(["-c", &format!("{marker} & {marker}")]);
        let (outcome, _, _) = run_in_session(&mut command, Duration::from_millis(300)).unwrap();
        assert!(matches!(outcome, ChildOutcome::TimedOut(_)), "{outcome}");
        let left: Vec<i32> = session::processes()
            .into_iter()
            .map(|(pid, _)| pid)
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == marker)
            })
            .collect();
        assert!(left.is_empty(), "still running: {left:?}");
    }
}
