//! What a test may leave where anyone may write, and removing it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::run::running;

/// Removes the POSIX shared-memory objects in `/dev/shm` that `doomed`
/// picks by owner and name: what a test killed at its time limit could not
/// unlink itself (they would hold memory until the next reboot).
pub fn remove_shm_objects(doomed: impl Fn(u32, &std::ffi::OsStr) -> bool) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if meta.is_file() && doomed(meta.uid(), &entry.file_name()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The names in `/dev/shm` that some process has open or mapped now (as
/// far as this process may read `/proc`).
pub fn shm_names_in_use() -> HashSet<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    let mut held = HashSet::new();
    let mut note = |path: &[u8]| {
        if let Some(name) = path.strip_prefix(b"/dev/shm/") {
            let name = name.strip_suffix(b" (deleted)").unwrap_or(name);
            held.insert(std::ffi::OsStr::from_bytes(name).to_owned());
        }
    };
    for process in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let dir = process.path();
        for fd in std::fs::read_dir(dir.join("fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                note(target.as_os_str().as_bytes());
            }
        }
        if let Ok(maps) = std::fs::read(dir.join("maps")) {
            for line in maps.split(|b| *b == b'\n') {
                // The path is the sixth field, after five separated by spaces.
                if let Some(at) = line.windows(10).position(|w| w == b" /dev/shm/") {
                    note(&line[at + 1..]);
                }
            }
        }
    }
    held
}

/// The names in `/dev/shm` now, to tell later which ones grading made.
pub fn shm_names() -> HashSet<std::ffi::OsString> {
    std::fs::read_dir("/dev/shm")
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

/// Kills every process of the throwaway user `id` at once: a forked child
/// takes that identity and signals `-1` (all processes it may signal).
pub(super) fn kill_everything_of(id: u32) {
    // Registered as running, so that a sweep in another thread leaves it be.
    let mut running = running().lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: fork takes no arguments; the child below never returns.
    match unsafe { libc::fork() } {
        // SAFETY: in the child of a multi-threaded process, only
        // async-signal-safe calls (setgid, setuid, kill, _exit), and it never
        // returns into Rust code, so no destructor of ours runs twice.
        0 => unsafe {
            if libc::setgid(id) == 0 && libc::setuid(id) == 0 {
                // nix's kill is the bare system call: no allocation.
                let _ =
                    nix::sys::signal::kill(Pid::from_raw(-1), nix::sys::signal::Signal::SIGKILL);
            }
            libc::_exit(0);
        },
        pid if pid > 0 => {
            running.insert(pid);
            drop(running);
            let _ = waitpid(Pid::from_raw(pid), None);
            self::running()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&pid);
        }
        _ => {}
    }
}

/// Removes what throwaway users `ids` left where anyone may write (`/tmp`,
/// `/var/tmp`, `/dev/shm`, `/run/lock`, two levels deep; POSIX message
/// queues, where a `mqueue` file system is mounted) and their System V IPC
/// objects: a planted `.cargo/config.toml`, a filled disk or a message for
/// the next test must not outlive the grading. (A test in an IPC namespace
/// of its own takes its queues and IPC objects with it.)
pub fn remove_leftovers_of(ids: &[u32]) {
    if ids.is_empty() {
        return;
    }
    let mut find = Command::new("find");
    let places: Vec<PathBuf> = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"]
        .into_iter()
        .map(PathBuf::from)
        .chain(mqueue_mounts())
        .filter(|dir| dir.symlink_metadata().is_ok_and(|m| m.is_dir()))
        .collect();
    find.args(&places)
        .args(["-xdev", "-mindepth", "1", "-maxdepth", "2", "("]);
    for (index, id) in ids.iter().enumerate() {
        if index > 0 {
            find.arg("-o");
        }
        find.args(["-user", &id.to_string()]);
    }
    find.args([")", "-prune", "-exec", "rm", "-rf", "--", "{}", "+"]);
    let _ = support::spawn::output_bounded(&mut find, Duration::from_secs(120));
    for (table, remove) in [
        ("shm", libc::IPC_RMID),
        ("sem", libc::IPC_RMID),
        ("msg", libc::IPC_RMID),
    ] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/sysvipc/{table}")) else {
            continue;
        };
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let Some(uid_at) = header.iter().position(|h| *h == "uid") else {
            continue;
        };
        for line in lines {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let owner: Option<u32> = fields.get(uid_at).and_then(|u| u.parse().ok());
            let id: Option<i32> = fields.get(1).and_then(|i| i.parse().ok());
            if let (Some(owner), Some(id)) = (owner, id)
                && ids.contains(&owner)
            {
                // SAFETY: the *ctl calls take an id and a command; IPC_RMID
                // reads no buffer (the pointer and the extra argument are null).
                unsafe {
                    match table {
                        "shm" => libc::shmctl(id, remove, std::ptr::null_mut()),
                        "sem" => libc::semctl(id, 0, remove),
                        _ => libc::msgctl(id, remove, std::ptr::null_mut()),
                    };
                }
            }
        }
    }
}

/// Where `mqueue` file systems (POSIX message queues) are mounted.
fn mqueue_mounts() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let (_, at, kind) = (fields.next()?, fields.next()?, fields.next()?);
            // (A path with a space or the like is escaped there: skipped.)
            (kind == "mqueue" && !at.contains('\\')).then(|| PathBuf::from(at))
        })
        .collect()
}

#[cfg(test)]
mod in_use_tests {
    use super::shm_names_in_use;

    #[test]
    fn an_open_shm_object_is_in_use_and_a_closed_one_is_not() {
        let name = format!("workbook-in-use-{}-{}", std::process::id(), unique());
        let path = std::path::Path::new("/dev/shm").join(&name);
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)
            .expect("a writable /dev/shm");
        assert!(shm_names_in_use().contains(std::ffi::OsStr::new(&name)));
        drop(file);
        let held = shm_names_in_use();
        let _ = std::fs::remove_file(&path);
        assert!(!held.contains(std::ffi::OsStr::new(&name)));
    }

    /// A word no other run picks.
    fn unique() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    }
}
