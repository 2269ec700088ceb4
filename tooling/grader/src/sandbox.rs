//! The instructor's sandbox: how the grader confines code it did not
//! write, behind the grading core's one seam ([`Isolation`]).
//!
//! - Builds of someone else's tree: a minimal environment and, where the
//!   kernel has Landlock ([`crate::confine`]), reads of the toolchain, the
//!   registry and the tree only, writes of its target only.
//! - Tests, when the grader is root: a throwaway user per job, who cannot
//!   signal the grader, read other tests, or write the template; an IPC
//!   namespace of its own where the kernel allows one; at most
//!   [`THROWAWAY_NPROC`] processes; and, where that user could not read the
//!   tree, a readable copy of it ([`View`]). Learner code never runs as root.

use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tooling::grade::Isolation;
use tooling::grade::run::Job;

use crate::confine::{Access, Ruleset};
use crate::view::{View, probe};

/// The first throwaway id; job N runs as this plus N. Far above the ids
/// distributions give to people and services.
const FIRST_THROWAWAY_ID: u32 = 2_000_000_000;

/// At most this many processes per throwaway user: a fork bomb stops there.
const THROWAWAY_NPROC: u64 = 512;

/// The grader's sandbox, for one grading.
#[derive(Debug, Default)]
pub struct Sandbox {
    /// The readable copy the throwaway users see the tree through, once
    /// [`Isolation::prepare`] made it (`None` inside when they need none).
    view: OnceLock<Option<View>>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox::default()
    }
}

impl Isolation for Sandbox {
    fn confine_build(
        &self,
        build: &mut Command,
        target: &Path,
        rustc: Option<&Path>,
    ) -> Result<(), String> {
        let rules = build_rules(build, target, rustc)?;
        restrict(build, rules);
        Ok(())
    }

    /// A throwaway user when this process is root, none otherwise. The id
    /// depends on this grader's pid too, so two graders on one machine never
    /// share one (nor kill each other's tests).
    fn user(&self, job: usize) -> Option<u32> {
        let root = nix::unistd::geteuid().is_root();
        let slot = (u64::from(std::process::id()) * 64 + job as u64 % 64) % 1_000_000_000;
        root.then(|| FIRST_THROWAWAY_ID + slot as u32)
    }

    fn prepare(&self, root: &Path, target: &Path, lessons: &[(&str, &Path)]) -> Result<(), String> {
        let names: Vec<&str> = lessons.iter().map(|(name, _)| *name).collect();
        let view = View::for_tree(root, target, &names)?;
        // One sandbox, one tree: a second tree's tests must never run
        // through the first one's view.
        self.view
            .set(view)
            .map_err(|_| "a sandbox was prepared twice (one per grading)".to_owned())?;
        let view = self.view.get().and_then(Option::as_ref);
        let Some((name, dir)) = lessons.first() else {
            return Ok(());
        };
        let mut needed = vec![dir.join("Cargo.toml")];
        needed.extend(
            names
                .iter()
                .map(|name| target.join("debug").join(name))
                .filter(|path| path.is_file()),
        );
        let job = Job {
            index: 0,
            isolation: Some(self),
        };
        probe(dir, job, view.is_some(), &needed)
            .map_err(|e| format!("the tests of {name} must run as an unprivileged user, and {e}"))
    }

    fn confine_test(&self, job: usize, command: &mut Command, cwd: &Path) {
        let Some(id) = self.user(job) else {
            return;
        };
        let plan = self
            .view
            .get()
            .and_then(Option::as_ref)
            .map(|v| v.plan(cwd));
        // SAFETY: the closure runs in the forked child before exec and makes
        // only async-signal-safe system calls (unshare, mount, chdir,
        // setrlimit, setgroups, setgid, setuid) on integers, locals and C
        // strings that `plan` holds until exec.
        unsafe {
            command.pre_exec(move || {
                let check = |result: libc::c_int| {
                    if result < 0 {
                        Err(std::io::Error::last_os_error())
                    } else {
                        Ok(())
                    }
                };
                // System V IPC and POSIX message queues of its own, gone with
                // its last process. Where the kernel refuses (a container
                // without CAP_SYS_ADMIN), the grader sweeps them instead.
                let _ = libc::unshare(libc::CLONE_NEWIPC);
                if let Some(plan) = &plan {
                    plan.enter()?;
                }
                let nproc = libc::rlimit {
                    rlim_cur: THROWAWAY_NPROC,
                    rlim_max: THROWAWAY_NPROC,
                };
                check(libc::setrlimit(libc::RLIMIT_NPROC, &nproc))?;
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setgid(id))?;
                check(libc::setuid(id))?;
                Ok(())
            });
        }
    }
}

/// Makes the build apply `rules` to itself before exec (no rules: the
/// kernel has no Landlock, and the build runs unconfined, said once).
fn restrict(build: &mut Command, rules: Option<Ruleset>) {
    if let Some(rules) = rules {
        // SAFETY: Landlock's two calls (prctl(NO_NEW_PRIVS) and
        // landlock_restrict_self) are async-signal-safe and touch only the
        // ruleset descriptor, created before the fork.
        unsafe {
            build.pre_exec(move || rules.restrict_self());
        }
    }
}

/// Gives `command` (a build of `target`'s tree) a minimal environment, and
/// returns the Landlock rules that confine it, or `None` where the kernel
/// has no Landlock (the build then runs unconfined, as the grader's user).
fn build_rules(
    command: &mut Command,
    target: &Path,
    rustc: Option<&Path>,
) -> Result<Option<Ruleset>, String> {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    let cargo_home =
        std::env::var_os("CARGO_HOME").map_or_else(|| home.join(".cargo"), PathBuf::from);
    let rustup_home =
        std::env::var_os("RUSTUP_HOME").map_or_else(|| home.join(".rustup"), PathBuf::from);
    // The compiler's temporary files go into the target, the one place the
    // build may write.
    let temp = target.join("workbook-build-tmp");
    std::fs::create_dir_all(&temp).map_err(|e| format!("cannot create {}: {e}", temp.display()))?;
    // What cargo, rustc, rustup's proxies and the linker need; nothing the
    // grader's own environment holds (tokens, keys) reaches the build, where
    // `env!` could read it.
    let kept: Vec<(&str, OsString)> = [
        "RUSTC",
        "CARGO_TARGET_DIR",
        "CARGO_TERM_COLOR",
        "RUSTUP_TOOLCHAIN",
    ]
    .into_iter()
    .filter_map(|name| {
        command
            .get_envs()
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.map(OsString::from))
            .or_else(|| {
                (name == "RUSTUP_TOOLCHAIN")
                    .then(|| std::env::var_os(name))
                    .flatten()
            })
            .map(|value| (name, value))
    })
    .collect();
    command.env_clear();
    for (name, value) in kept {
        command.env(name, value);
    }
    let toolchain_bin = rustc.and_then(Path::parent);
    let mut path = OsString::new();
    if let Some(bin) = toolchain_bin {
        path.push(bin);
        path.push(":");
    }
    path.push("/usr/local/bin:/usr/bin:/bin");
    command
        .env("PATH", path)
        .env("HOME", &home)
        .env("CARGO_HOME", &cargo_home)
        .env("RUSTUP_HOME", &rustup_home)
        .env("TMPDIR", &temp)
        .env("CARGO_INCREMENTAL", "0")
        .env("LANG", "C.UTF-8");
    let Some(mut rules) = Ruleset::new() else {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            // A closed stderr must not stop the grading: the line is dropped.
            let _ = writeln!(
                std::io::stderr(),
                "warning: this kernel has no Landlock (ABI 2, Linux 5.19+): submissions are \
                 built unconfined, as this user; grade a class you do not trust in a \
                 throwaway container"
            );
        });
        return Ok(None);
    };
    let root = command
        .get_current_dir()
        .map(Path::to_path_buf)
        .ok_or("a build without a directory")?;
    // The toolchain: wherever cargo and rustc really are (two levels above
    // the binary), and rustup's home for its proxies.
    let mut toolchains: Vec<PathBuf> = vec![rustup_home];
    for program in [Some(Path::new(&tooling::cargo_program())), rustc]
        .into_iter()
        .flatten()
    {
        let real = tooling::grade::build::find_program(program)
            .and_then(|p| std::fs::canonicalize(p).ok());
        if let Some(top) = real
            .as_deref()
            .and_then(Path::parent)
            .and_then(Path::parent)
        {
            toolchains.push(top.to_path_buf());
        }
    }
    for dir in &toolchains {
        rules.allow(dir, Access::ReadExecute)?;
    }
    // The system's programs and libraries (the linker, libc), and the
    // loader's cache: not the rest of /etc, /root, /home or /tmp.
    for system in [
        "/usr",
        "/bin",
        "/sbin",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/etc/ld.so.cache",
    ] {
        rules.allow(Path::new(system), Access::ReadExecute)?;
    }
    rules.allow(Path::new("/dev/null"), Access::ReadWriteFile)?;
    rules.allow(Path::new("/dev/urandom"), Access::Read)?;
    // The registry (read), and its locks.
    rules.allow(&cargo_home, Access::Read)?;
    for lock in [".package-cache", ".package-cache-mutate", ".global-cache"] {
        rules.allow(&cargo_home.join(lock), Access::ReadWriteFile)?;
    }
    rules.allow(&root, Access::Read)?;
    rules.allow(target, Access::Full)?;
    // Cargo reads the configuration of every directory above the tree (the
    // template's, its `cargo xtask` alias): those files, not their folders.
    for dir in root.ancestors().skip(1) {
        for name in [".cargo/config.toml", ".cargo/config"] {
            rules.allow(&dir.join(name), Access::Read)?;
        }
    }
    Ok(Some(rules))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;
    use support::ChildOutcome;
    use tooling::grade::build::run_in_session;

    /// Runs `script` with `sh` in `tree`, confined as a submission's build.
    fn confined(tree: &Path, script: &str) -> (ChildOutcome, String) {
        let mut command = Command::new("sh");
        command
            .args(["-c", script])
            .current_dir(tree)
            .env("WORKBOOK_J_VARIABLE", "J-VARIABLE-VALUE");
        let rules = build_rules(&mut command, &tree.join("target"), None).unwrap();
        assert!(rules.is_some(), "this kernel has Landlock ABI 2+");
        restrict(&mut command, rules);
        let (outcome, stdout, _) = run_in_session(&mut command, Duration::from_secs(30)).unwrap();
        (outcome, stdout)
    }

    #[test]
    fn a_confined_build_reads_its_tree_writes_its_target_and_nothing_else() {
        if crate::confine::abi_version().is_none_or(|v| v < 2) {
            eprintln!("skipped: this kernel has no Landlock ABI 2");
            return;
        }
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, "J-SECRET-VALUE").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let tree = tempfile::tempdir().unwrap();
        std::fs::write(tree.path().join("inside"), "J-INSIDE-VALUE").unwrap();
        let (outcome, out) = confined(tree.path(), "cat inside");
        assert!(
            outcome.is_success() && out == "J-INSIDE-VALUE",
            "{outcome} {out}"
        );
        let (outcome, out) = confined(tree.path(), &format!("cat {}", secret.display()));
        assert!(!outcome.is_success() && out.is_empty(), "{outcome} {out}");
        // Through a link in the tree, the file is still outside.
        std::os::unix::fs::symlink(&secret, tree.path().join("link")).unwrap();
        let (outcome, out) = confined(tree.path(), "cat link");
        assert!(!outcome.is_success() && out.is_empty(), "{outcome} {out}");
        // Writes: the target only.
        let (outcome, _) = confined(tree.path(), "echo x > target/made");
        assert!(outcome.is_success() && tree.path().join("target/made").exists());
        let (outcome, _) = confined(tree.path(), "echo x > made");
        assert!(!outcome.is_success() && !tree.path().join("made").exists());
        let (outcome, _) = confined(
            tree.path(),
            &format!("echo x > {}/made", outside.path().display()),
        );
        assert!(!outcome.is_success() && !outside.path().join("made").exists());
        // No variable of the grader's.
        let (outcome, out) = confined(tree.path(), "env");
        assert!(outcome.is_success() && out.contains("PATH="), "{out}");
        assert!(!out.contains("J-VARIABLE-VALUE"), "{out}");
    }
}
