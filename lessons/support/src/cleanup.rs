//! Nothing left behind, even on Ctrl-C.
//!
//! A lesson registers what it creates outside its own memory (a temporary
//! directory, a POSIX shm name, a half-written file, a directory `--keep`
//! made) the moment it exists, and unregisters it once it is gone or kept.
//! Whatever is still registered is removed, newest first:
//!
//! - when SIGINT, SIGTERM or SIGHUP arrives: a handler, installed with the
//!   first registration, removes it using only async-signal-safe system calls
//!   (`unlinkat`, `getdents64`, `rmdir`, ...) on paths prepared in advance,
//!   then lets the signal end the process as it would have;
//! - when the lesson gives up ([`run_all`], called by `Cli::finish` and by
//!   [`crate::out`] when stdout breaks), which `exit` would otherwise skip.
//!
//! Only the process that registered a thing removes it: a forked child that
//! is interrupted just dies, and never deletes its parent's files.
//! [`protected`] closes the window between creating a thing and registering
//! it, by holding those signals back meanwhile.

use std::ffi::{CString, c_char, c_int};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::null_mut;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, Ordering};

use nix::unistd::getpid;

/// What removing a registered path means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// A directory and everything in it (a scratch directory).
    Tree,
    /// One file, or a POSIX shm object by its path under `/dev/shm`.
    File,
    /// A directory, only if it is empty: one that may also hold what
    /// another run or the learner put there.
    EmptyDir,
}

/// The signals that mean "stop now" to a lesson.
pub const STOP_SIGNALS: [c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

const SLOTS: usize = 64;

struct Entry {
    removal: Removal,
    path: CString,
}

/// The registered entries; null where a slot holds none.
static REGISTRY: [AtomicPtr<Entry>; SLOTS] =
    [const { AtomicPtr::new(null_mut()) }; SLOTS];
/// Each slot's registration number, or 0 when the slot is free. A slot
/// belongs to its [`Registration`] from `register` until that is dropped,
/// even after a remover took its entry: no other entry ever enters it
/// meanwhile. The number sits here, not in the entry, so finding the newest
/// never reads an entry it has not taken (another thread may free it).
static ORDER: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];
static SEQUENCE: AtomicU64 = AtomicU64::new(1);
/// The process that registered things: the only one that removes them.
static OWNER: AtomicI32 = AtomicI32::new(0);
static INSTALL: Once = Once::new();

/// A registered path; dropping it unregisters (after the caller removed or
/// kept the thing), it does not remove anything.
#[derive(Debug)]
pub struct Registration {
    slot: usize,
    entry: *mut Entry,
}

/// Registers `path` for removal if the lesson is stopped or gives up.
/// Call it inside [`protected`], together with the call that creates `path`.
pub fn register(path: &Path, removal: Removal) -> io::Result<Registration> {
    install();
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte")
    })?;
    let entry = Box::into_raw(Box::new(Entry { removal, path }));
    let sequence = SEQUENCE.fetch_add(1, Ordering::SeqCst);
    for (slot, order) in ORDER.iter().enumerate() {
        if order
            .compare_exchange(0, sequence, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            // The slot is ours: its entry pointer is null (the last
            // registration here swapped or saw it swapped out before it
            // freed the slot).
            REGISTRY[slot].store(entry, Ordering::SeqCst);
            return Ok(Registration { slot, entry });
        }
    }
    // SAFETY: `entry` came from Box::into_raw above and was never shared.
    drop(unsafe { Box::from_raw(entry) });
    Err(io::Error::other(format!(
        "more than {SLOTS} things to clean up are registered; this is a bug in the lesson"
    )))
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Whoever swaps the pointer out owns the entry: either this, or a
        // remover (`run_all`, or the signal handler, which never frees and
        // then ends the process). The slot held no other entry meanwhile.
        let taken = REGISTRY[self.slot].compare_exchange(
            self.entry,
            null_mut(),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        if taken.is_ok() {
            // SAFETY: we took the only pointer to this Box out of the registry.
            drop(unsafe { Box::from_raw(self.entry) });
        }
        // Only now may another registration use the slot.
        ORDER[self.slot].store(0, Ordering::SeqCst);
    }
}

/// Runs `work` with SIGINT, SIGTERM and SIGHUP held back, so that creating
/// something and registering it happen together or not at all. A signal that
/// arrives meanwhile is delivered (and cleans up) as soon as `work` returns.
pub fn protected<T>(work: impl FnOnce() -> T) -> T {
    let mut stop = nix::sys::signal::SigSet::empty();
    for signal in STOP_SIGNALS {
        if let Ok(signal) = nix::sys::signal::Signal::try_from(signal) {
            stop.add(signal);
        }
    }
    let old = stop.thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK);
    let result = work();
    if let Ok(old) = old {
        let _ = old.thread_set_mask();
    }
    result
}

/// Removes everything still registered, newest first, if this process
/// registered it; a forked child does nothing. Signals are held back
/// meanwhile, so an interruption cannot leave a removal half done.
pub fn run_all() {
    protected(|| {
        if getpid().as_raw() == OWNER.load(Ordering::SeqCst) {
            while let Some(entry) = take_newest() {
                // SAFETY: take_newest handed us the only pointer to this entry.
                let entry = unsafe { Box::from_raw(entry) };
                remove(&entry);
            }
        }
    });
}

/// Ends the process with `code` after [`run_all`]; a forked child leaves
/// with `_exit`, so no destructor or handler of its parent's runs twice.
pub fn exit(code: i32) -> ! {
    if is_owner() {
        run_all();
        std::process::exit(code)
    }
    // SAFETY: _exit ends this process at once; it cannot fail.
    unsafe { libc::_exit(code) }
}

/// Ends the process the way `signal` would have (so a shell sees, for
/// example, death by SIGPIPE), after [`run_all`].
pub fn die_of(signal: c_int) -> ! {
    if is_owner() {
        run_all();
    }
    default_action(signal)
}

/// Marks this process as a forked child: it removes nothing and leaves
/// with `_exit`. Called by [`crate::fork::fork_child`] in the child.
pub(crate) fn forget_in_child() {
    OWNER.store(-1, Ordering::SeqCst);
}

/// True in the process that registered things (not in a forked child).
pub(crate) fn is_owner() -> bool {
    OWNER.load(Ordering::SeqCst) == 0
        || getpid().as_raw() == OWNER.load(Ordering::SeqCst)
}

/// Installs the handlers now (registering does it too): a lesson calls this
/// first, through `Cli::begin`.
pub fn install() {
    INSTALL.call_once(|| {
        OWNER.store(getpid().as_raw(), Ordering::SeqCst);
        for signal in STOP_SIGNALS {
            // SAFETY: a zeroed sigaction is a valid value to fill in; the
            // handler only makes async-signal-safe calls (see on_signal);
            // sa_mask holds back the other stop signals while it runs.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(c_int) as usize;
                libc::sigemptyset(&mut action.sa_mask);
                for other in STOP_SIGNALS {
                    libc::sigaddset(&mut action.sa_mask, other);
                }
                let mut old: libc::sigaction = std::mem::zeroed();
                libc::sigaction(signal, &action, &mut old);
                // A signal the caller chose to ignore (`nohup`, a background
                // job of a non-interactive shell) stays ignored.
                if old.sa_sigaction == libc::SIG_IGN {
                    libc::sigaction(signal, &old, null_mut());
                }
            }
        }
    });
}

extern "C" fn on_signal(signal: c_int) {
    // getpid is async-signal-safe (nix's is the bare system call).
    if getpid().as_raw() == OWNER.load(Ordering::SeqCst) {
        while let Some(entry) = take_newest() {
            // SAFETY: the entry is ours now (swapped out of the registry) and
            // stays allocated: nothing frees an entry it did not take, and
            // this handler never frees (free is not async-signal-safe).
            remove(unsafe { &*entry });
        }
    }
    default_action(signal)
}

/// Restores the default action for `signal` and raises it; for signals
/// whose default is not to end the process, exits with 128 + signal.
fn default_action(signal: c_int) -> ! {
    // SAFETY: sigaction, sigprocmask, raise and _exit are async-signal-safe;
    // the structures are zeroed or filled in before use.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, null_mut());
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, null_mut());
        libc::raise(signal);
        libc::_exit(128 + signal)
    }
}

/// Takes the most recently registered entry out of the registry. It never
/// reads through a pointer it has not swapped out: a concurrent
/// `Registration::drop` may take and free any entry it only looked at.
fn take_newest() -> Option<*mut Entry> {
    loop {
        let mut newest: Option<(usize, *mut Entry, u64)> = None;
        for (slot, cell) in REGISTRY.iter().enumerate() {
            let entry = cell.load(Ordering::SeqCst);
            if entry.is_null() {
                continue;
            }
            // Stale if the slot changed hands since: then only the order
            // of removal is off, and the swap below decides who owns what.
            let sequence = ORDER[slot].load(Ordering::SeqCst);
            if newest.is_none_or(|(_, _, s)| sequence > s) {
                newest = Some((slot, entry, sequence));
            }
        }
        let (slot, entry, _) = newest?;
        let taken = REGISTRY[slot].compare_exchange(
            entry,
            null_mut(),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        if taken.is_ok() {
            return Some(entry);
        }
    }
}

/// Removes one entry with async-signal-safe calls only; missing is fine.
fn remove(entry: &Entry) {
    let path = entry.path.as_ptr();
    // SAFETY: `path` is a NUL-terminated string that lives as long as `entry`.
    unsafe {
        match entry.removal {
            Removal::File => {
                libc::unlink(path);
            }
            Removal::EmptyDir => {
                libc::rmdir(path);
            }
            Removal::Tree => remove_tree_at(libc::AT_FDCWD, path, 8),
        }
    }
}

/// Removes `name` under `dir`: a file, or a directory with what it holds,
/// `depth` levels deep at most. No allocation: a buffer on the stack and
/// `getdents64`, so a signal handler may call it.
///
/// # Safety
/// `name` must be a valid NUL-terminated string; `dir` a directory
/// descriptor or `AT_FDCWD`.
unsafe fn remove_tree_at(dir: c_int, name: *const c_char, depth: u32) {
    // SAFETY: the caller's contract; every call below is async-signal-safe
    // and given valid pointers into `buffer` or `name`.
    unsafe {
        if libc::unlinkat(dir, name, 0) == 0 {
            return;
        }
        let fd = libc::openat(
            dir,
            name,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return;
        }
        let mut buffer = [0u64; 256];
        // Entries removed while reading may shift the rest: read again from
        // the start until a pass finds nothing left to remove.
        for _pass in 0..16 {
            libc::lseek(fd, 0, libc::SEEK_SET);
            let mut removed_any = false;
            loop {
                let n = libc::syscall(
                    libc::SYS_getdents64,
                    fd,
                    buffer.as_mut_ptr(),
                    size_of_val(&buffer),
                );
                if n <= 0 {
                    break;
                }
                let bytes = buffer.as_ptr().cast::<u8>();
                let mut at = 0usize;
                while at < n as usize {
                    // struct linux_dirent64: u64 ino, i64 off, u16 reclen,
                    // u8 type, then the NUL-terminated name.
                    let record = bytes.add(at);
                    let reclen =
                        record.add(16).cast::<u16>().read_unaligned() as usize;
                    let kind = *record.add(18);
                    let child = record.add(19).cast::<c_char>();
                    at += reclen.max(1);
                    if is_dot_or_dot_dot(child) {
                        continue;
                    }
                    // A directory (or a file that would not unlink, where
                    // d_type is unknown): go one level down.
                    let is_dir = kind == libc::DT_DIR;
                    if (is_dir || libc::unlinkat(fd, child, 0) != 0) && depth > 0 {
                        remove_tree_at(fd, child, depth - 1);
                    }
                    removed_any = true;
                }
            }
            if !removed_any {
                break;
            }
        }
        libc::close(fd);
        libc::unlinkat(dir, name, libc::AT_REMOVEDIR);
    }
}

/// # Safety
/// `name` must point to a NUL-terminated string.
unsafe fn is_dot_or_dot_dot(name: *const c_char) -> bool {
    // SAFETY: the string has at least its NUL; we stop reading at the NUL.
    unsafe {
        *name == b'.' as c_char
            && (*name.add(1) == 0
                || (*name.add(1) == b'.' as c_char && *name.add(2) == 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests that take entries out of the registry take turns: each
    /// would otherwise take (and remove) the others'.
    static TAKERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn one_taker() -> std::sync::MutexGuard<'static, ()> {
        TAKERS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[test]
    fn a_tree_is_removed_with_what_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        for i in 0..300 {
            std::fs::write(
                root.join(format!("file-{i:03}-with-a-longer-name")),
                b"x",
            )
            .unwrap();
        }
        std::fs::write(root.join("a/b/deep"), b"x").unwrap();
        let path = CString::new(root.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid C string, AT_FDCWD.
        unsafe { remove_tree_at(libc::AT_FDCWD, path.as_ptr(), 8) };
        assert!(!root.exists());
    }

    #[test]
    fn run_all_removes_newest_first_and_a_dropped_registration_is_forgotten() {
        let _turn = one_taker();
        let dir = tempfile::tempdir().unwrap();
        let made = dir.path().join("made");
        let file = made.join("file");
        let kept = dir.path().join("kept");
        let (a, b, c) = protected(|| {
            std::fs::create_dir(&made).unwrap();
            std::fs::write(&file, b"x").unwrap();
            std::fs::write(&kept, b"x").unwrap();
            (
                register(&made, Removal::EmptyDir).unwrap(),
                register(&file, Removal::File).unwrap(),
                register(&kept, Removal::File).unwrap(),
            )
        });
        drop(c);
        run_all();
        assert!(!made.exists(), "the file went first, then its directory");
        assert!(kept.exists(), "an unregistered path is not touched");
        drop((a, b));
    }

    /// Takes every registered entry, as `run_all` does, and frees it.
    fn take_all() -> Vec<std::path::PathBuf> {
        let mut taken = Vec::new();
        while let Some(entry) = take_newest() {
            // SAFETY: take_newest handed us the only pointer to this entry.
            let entry = unsafe { Box::from_raw(entry) };
            taken.push(
                Path::new(std::ffi::OsStr::from_bytes(entry.path.as_bytes())).into(),
            );
        }
        taken
    }

    #[test]
    fn dropping_a_taken_registration_leaves_a_newer_one_registered() {
        let _turn = one_taker();
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("first"), dir.path().join("second"));
        let a = register(&first, Removal::File).unwrap();
        assert!(take_all().contains(&first));
        // The allocator may well give this entry the address `a`'s had:
        // dropping `a` must not unregister it all the same.
        let b = register(&second, Removal::File).unwrap();
        drop(a);
        assert!(take_all().contains(&second), "b is no longer registered");
        drop(b);
    }

    #[test]
    fn registering_and_dropping_races_with_taking_safely() {
        let _turn = one_taker();
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let path = dir.path().join(format!("never-made-{t}"));
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        drop(register(&path, Removal::File).unwrap());
                    }
                })
            })
            .collect();
        let mut taken = 0;
        while threads.iter().any(|t| !t.is_finished()) {
            taken += take_all().len();
        }
        for thread in threads {
            thread.join().unwrap();
        }
        // Every slot was given back (other tests may hold a few meanwhile).
        let all: Vec<_> = (0..SLOTS - 8)
            .map(|i| {
                register(&dir.path().join(format!("{i}")), Removal::File).unwrap()
            })
            .collect();
        drop(all);
        eprintln!("{taken} entries taken while they were being dropped");
    }
}
