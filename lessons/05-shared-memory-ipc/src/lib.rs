//! Lesson 5: how do two processes talk through shared memory, safely and fast?
//!
//! Two unrelated processes (the lesson and its own binary started again as a
//! helper) meet at one object, by name in `/dev/shm` or by a memfd passed
//! over a Unix socket, and map it. From then on a store by one is a load
//! away for the other: no system call moves the data. Everything else is
//! about doing that safely: nobody else may meet them there, updates must
//! not be lost, a lock must survive its holder's death, and a reader that
//! waits must be woken, which does take a system call.

use std::cell::UnsafeCell;
use std::fmt;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SealFlag, fcntl};
use nix::sys::mman::{MapFlags, ProtFlags, mmap};
use nix::sys::stat::Mode;
use support::region::Region;

pub mod exercises;
pub mod peer;

/// Every shm name this lesson makes starts with this, then 16 random hex
/// digits: a leftover (only possible after SIGKILL) is easy to find.
pub const NAME_PREFIX: &str = "/shared-memory-ipc-";

/// Where Linux keeps POSIX shared-memory objects.
pub const SHM_DIR: &str = "/dev/shm";

// ---------------------------------------------------------------------------
// Step 1. Meeting by name.

/// A fresh name no other user can guess, and so cannot create first.
pub fn unguessable_name() -> io::Result<String> {
    Ok(format!("{NAME_PREFIX}{}", support::unguessable_suffix()?))
}

/// A name this process created in `/dev/shm`. It is unlinked when dropped
/// (on every path out, errors and panics included) unless already unlinked,
/// and until then it is registered with `support::cleanup`, so that a death
/// by signal (Ctrl-C, a closed pipe) removes it too.
#[derive(Debug)]
pub struct ShmName {
    name: String,
    unlinked: bool,
    registered: Option<support::cleanup::Registration>,
}

impl ShmName {
    /// Takes charge of `name`, which this process just created.
    fn new(name: &str) -> io::Result<ShmName> {
        let path = std::path::Path::new(SHM_DIR).join(name.trim_start_matches('/'));
        let registered =
            support::cleanup::register(&path, support::cleanup::Removal::File)?;
        Ok(ShmName {
            name: name.to_owned(),
            unlinked: false,
            registered: Some(registered),
        })
    }

    /// The name, as `shm_open` takes it (`/shared-memory-ipc-...`).
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Removes the name now. Mappings and descriptors keep the object alive.
    pub fn unlink(&mut self) -> io::Result<()> {
        if !self.unlinked {
            self.unlinked = true;
            let unlinked = nix::sys::mman::shm_unlink(self.name.as_str())
                .map_err(|e| shm_error("shm_unlink", &self.name, e));
            self.registered = None;
            unlinked?;
        }
        Ok(())
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = self.unlink();
    }
}

// ANCHOR: create_exclusive
/// Creates the shm object `name` of `len` bytes, readable and writable by
/// this user only. `O_EXCL` makes this fail with `EEXIST` if the name already
/// exists: whoever made it first could read everything we write.
pub fn create_exclusive(name: &str, len: usize) -> io::Result<(OwnedFd, ShmName)> {
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_CLOEXEC;
    // Created and put in charge of a guard with Ctrl-C held off in between.
    let (fd, guard) = support::cleanup::protected(|| -> io::Result<_> {
        let fd = nix::sys::mman::shm_open(name, flags, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|e| shm_error("shm_open", name, e))?;
        Ok((fd, ShmName::new(name)?))
    })?;
    // The umask may have taken bits away (never added any): say 0600 again.
    nix::sys::stat::fchmod(&fd, Mode::S_IRUSR | Mode::S_IWUSR)?;
    nix::unistd::ftruncate(&fd, len as i64)
        .map_err(|e| shm_error("ftruncate", name, e))?;
    // tmpfs allocates pages on first touch: a full /dev/shm would kill us
    // with SIGBUS then. Reserving them now turns that into ENOSPC here.
    nix::fcntl::fallocate(&fd, nix::fcntl::FallocateFlags::empty(), 0, len as i64)
        .map_err(|e| shm_error("fallocate", name, e))?;
    Ok((fd, guard))
}
// ANCHOR_END: create_exclusive

// ANCHOR: open_checked
/// Opens the existing shm object `name` and refuses it unless this user
/// owns it and nobody else may read or write it (mode 0600).
pub fn open_checked(name: &str) -> io::Result<OwnedFd> {
    let fd = nix::sys::mman::shm_open(
        name,
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| shm_error("shm_open", name, e))?;
    let stat = nix::sys::stat::fstat(&fd)?;
    let me = nix::unistd::geteuid().as_raw();
    let mode = stat.st_mode & 0o777;
    if stat.st_uid != me || mode != 0o600 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "refusing {SHM_DIR}{name}: owned by uid {} with mode {mode:04o}; \
                 expected uid {me} and 0600. Someone else may be listening.",
                stat.st_uid
            ),
        ));
    }
    Ok(fd)
}
// ANCHOR_END: open_checked

/// An error from a call on a shm object, naming `/dev/shm` and what to do.
pub fn shm_error(call: &str, name: &str, errno: Errno) -> io::Error {
    let path = format!("{SHM_DIR}{name}");
    let advice = match errno {
        Errno::ENOENT
            if call == "shm_open" && !std::path::Path::new(SHM_DIR).is_dir() =>
        {
            format!(
                "{SHM_DIR} does not exist. POSIX shared memory lives there: mount a tmpfs \
                 on it (mount -t tmpfs tmpfs {SHM_DIR})"
            )
        }
        Errno::ENOENT => format!("{path} does not exist (any more)"),
        Errno::EROFS => format!(
            "{SHM_DIR} is read-only. POSIX shared memory needs it writable: remount it \
             read-write, or give the container a writable {SHM_DIR}"
        ),
        Errno::ENOSPC => format!(
            "{SHM_DIR} is full. Free space there, or make it larger (containers get \
             64 MiB by default: docker run --shm-size=...)"
        ),
        Errno::EACCES | Errno::EPERM => {
            format!("not allowed to use {path}: check the permissions of {SHM_DIR}")
        }
        Errno::EEXIST => format!(
            "{path} already exists, made by someone else: refusing to use an object we \
             did not create. Run again for a new random name"
        ),
        _ => format!("on {path}"),
    };
    io::Error::new(
        io::Error::from(errno).kind(),
        format!("{call} failed with {errno:?} ({}): {advice}.", errno.desc()),
    )
}

/// True if `name` is listed in `/dev/shm` right now.
pub fn listed_in_dev_shm(name: &str) -> bool {
    std::path::Path::new(&format!("{SHM_DIR}{name}")).exists()
}

// ANCHOR: map_shared
/// Maps all `len` bytes of the object behind `fd`, shared and writable.
pub fn map_shared(fd: &impl AsFd, len: usize) -> io::Result<Region> {
    let length = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
    let rw = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // SAFETY: a fresh mapping at an address the kernel picks; nothing in
    // Rust refers to that memory yet.
    let base =
        unsafe { mmap(None, length, rw, MapFlags::MAP_SHARED, fd.as_fd(), 0) }?;
    // SAFETY: exactly what mmap returned and was given; `Region` owns it.
    Ok(unsafe { Region::from_raw(base, len) })
}
// ANCHOR_END: map_shared

/// Layouts that may live in shared memory: every field an atomic (or a
/// process-shared lock), valid when all bytes are zero, as a new object is.
///
/// # Safety
/// The type must be valid when zeroed, have no pointers, and only be
/// changed through atomics or locks that work across processes.
pub unsafe trait SharedLayout: Sync {}

/// The value of type `T` at the start of `region`.
pub fn view<T: SharedLayout>(region: &Region) -> &T {
    assert!(size_of::<T>() <= region.len(), "the region is too small");
    assert_eq!(region.address() % align_of::<T>(), 0);
    // SAFETY: the region is big enough and page-aligned (checked above);
    // SharedLayout promises that zeroed bytes (or bytes another process
    // wrote through the same type) are a valid T, mutated only through
    // atomics. The reference borrows `region`, so it cannot outlive the mapping.
    unsafe { &*region.as_ptr().cast::<T>() }
}

/// Two mailboxes in one shared page: one for each direction.
#[repr(C)]
#[derive(Debug)]
pub struct Mailboxes {
    /// Written by the lesson, read by the helper.
    pub to_helper: Mailbox,
    /// Written by the helper, read by the lesson.
    pub to_lesson: Mailbox,
}

// SAFETY: two Mailboxes, each all atomics.
unsafe impl SharedLayout for Mailboxes {}

/// A message written by one process for another to read: its bytes, then
/// its length published with Release, so a reader that sees the length
/// (with Acquire) sees the bytes too.
#[repr(C)]
#[derive(Debug)]
pub struct Mailbox {
    /// How many bytes of `text` are valid; 0 until published.
    pub len: AtomicU32,
    /// The offset of the text from the start of the mapping, and the
    /// writer's *address* of it: only the first means anything elsewhere.
    pub text_offset: AtomicU64,
    /// The writer's pointer to the text (for the lesson to show it fails).
    pub text_pointer: AtomicU64,
    /// The text itself, written with atomic byte stores.
    pub text: [std::sync::atomic::AtomicU8; 200],
}

// SAFETY: all atomics, valid when zeroed, no pointer is ever dereferenced.
unsafe impl SharedLayout for Mailbox {}

impl Mailbox {
    /// Writes `text` and publishes it.
    pub fn post(&self, text: &str) {
        let bytes = &text.as_bytes()[..text.len().min(self.text.len())];
        for (slot, byte) in self.text.iter().zip(bytes) {
            slot.store(*byte, Relaxed);
        }
        let text = self.text.as_ptr() as u64;
        self.text_offset
            .store(std::mem::offset_of!(Mailbox, text) as u64, Relaxed);
        self.text_pointer.store(text, Relaxed);
        self.len.store(bytes.len() as u32, Release);
    }

    /// Reads what was last published.
    pub fn read(&self) -> String {
        let len = self.len.load(Acquire) as usize;
        let bytes: Vec<u8> =
            self.text[..len].iter().map(|b| b.load(Relaxed)).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

// ---------------------------------------------------------------------------
// Step 2. Meeting without a name.

/// The seals a receiver demands before it maps a memfd.
pub fn required_seals() -> SealFlag {
    SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL
}

// ANCHOR: sealed_memfd
/// A memfd of `len` bytes whose size nobody can change any more: a process
/// that maps it can trust that every page it mapped stays backed.
pub fn sealed_memfd(len: usize) -> io::Result<OwnedFd> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let fd = memfd_create("shared-memory-ipc", flags)?;
    nix::unistd::ftruncate(&fd, len as i64)?;
    fcntl(&fd, FcntlArg::F_ADD_SEALS(required_seals()))?;
    Ok(fd)
}
// ANCHOR_END: sealed_memfd

/// An unsealed memfd, for showing that a careful receiver refuses it.
pub fn unsealed_memfd(len: usize) -> io::Result<OwnedFd> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let fd = memfd_create("shared-memory-ipc-unsealed", MFdFlags::MFD_CLOEXEC)?;
    nix::unistd::ftruncate(&fd, len as i64)?;
    Ok(fd)
}

// ANCHOR: check_received
/// What a receiver checks before mapping a memfd someone sent: its size
/// can no longer change, and it is at least `min_len` bytes. Returns the
/// seals and the size.
pub fn check_received(
    fd: &impl AsFd,
    min_len: usize,
) -> io::Result<(SealFlag, usize)> {
    let seals = SealFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GET_SEALS)?);
    if !seals.contains(required_seals()) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "refusing the memfd: its seals are {}; without SHRINK, GROW and SEAL \
                 the sender could shrink it and make our reads fault with SIGBUS",
                seal_names(seals)
            ),
        ));
    }
    let size = nix::sys::stat::fstat(fd)?.st_size as usize;
    if size < min_len {
        return Err(io::Error::other(format!(
            "refusing the memfd: {size} bytes, expected at least {min_len}"
        )));
    }
    Ok((seals, size))
}
// ANCHOR_END: check_received

/// The seals' names, as `<fcntl.h>` spells them without `F_SEAL_`.
pub fn seal_names(seals: SealFlag) -> String {
    let names: Vec<&str> = [
        (SealFlag::F_SEAL_SHRINK, "SHRINK"),
        (SealFlag::F_SEAL_GROW, "GROW"),
        (SealFlag::F_SEAL_WRITE, "WRITE"),
        (SealFlag::F_SEAL_SEAL, "SEAL"),
    ]
    .into_iter()
    .filter(|(flag, _)| seals.contains(*flag))
    .map(|(_, name)| name)
    .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join("|")
    }
}

// ---------------------------------------------------------------------------
// Step 3. The lost update.

/// A counter two processes add to, and the start barrier that releases them.
#[repr(C)]
#[derive(Debug)]
pub struct Race {
    /// How many processes have arrived at the start line.
    pub arrived: AtomicU32,
    /// The shared counter.
    pub counter: AtomicU64,
}

// SAFETY: atomics only, valid when zeroed.
unsafe impl SharedLayout for Race {}

/// How a process adds 1 to the shared counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Increment {
    /// A load, then a separate store: another process's add in between is lost.
    LoadThenStore,
    /// One indivisible read-modify-write.
    FetchAdd,
}

impl Race {
    /// Waits, at most `limit`, until `parties` processes have arrived, so
    /// they start counting at the same moment.
    pub fn start_together(&self, parties: u32, limit: Duration) -> io::Result<()> {
        self.arrived.fetch_add(1, Release);
        spin_until(limit, || self.arrived.load(Acquire) >= parties)
    }

    // ANCHOR: increment
    /// Adds 1 to the counter `n` times.
    pub fn add(&self, n: u64, how: Increment) {
        for _ in 0..n {
            match how {
                Increment::LoadThenStore => {
                    // Atomic, so no undefined behaviour; not indivisible, so
                    // the other process's stores between these two are lost.
                    let seen = self.counter.load(Relaxed);
                    self.counter.store(seen + 1, Relaxed);
                }
                Increment::FetchAdd => {
                    self.counter.fetch_add(1, Relaxed);
                }
            }
        }
    }
    // ANCHOR_END: increment
}

/// Spins (yielding the CPU now and then) until `done` or `limit` passes.
pub fn spin_until(limit: Duration, mut done: impl FnMut() -> bool) -> io::Result<()> {
    let deadline = Instant::now() + limit;
    let mut spins = 0u32;
    while !done() {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(64) {
            // With one CPU, the process we wait for needs this one to run.
            std::thread::yield_now();
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the other process did not arrive within {} ms",
                        limit.as_millis()
                    ),
                ));
            }
        } else {
            std::hint::spin_loop();
        }
    }
    Ok(())
}

/// Waits, at most `limit`, until `word` holds `value`: spinning, or
/// sleeping on the futex between looks.
pub fn wait_for_value(
    word: &AtomicU32,
    value: u32,
    spin: bool,
    limit: Duration,
) -> io::Result<()> {
    if spin {
        return spin_until(limit, || word.load(Acquire) == value);
    }
    let deadline = Instant::now() + limit;
    loop {
        let seen = word.load(Acquire);
        if seen == value {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the other process did not answer in time",
            ));
        }
        match futex_wait(word, seen, left, false) {
            Ok(()) | Err(Errno::EAGAIN | Errno::EINTR | Errno::ETIMEDOUT) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
}

/// The CPUs this process may run on (`sched_getaffinity`).
pub fn usable_cpu_list() -> Vec<usize> {
    use nix::sched::{CpuSet, sched_getaffinity};
    let Ok(set) = sched_getaffinity(nix::unistd::Pid::from_raw(0)) else {
        return vec![0];
    };
    (0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect()
}

/// How many CPUs this process may run on.
pub fn usable_cpus() -> usize {
    usable_cpu_list().len()
}

/// Lets process `pid` (0: this one) run on `cpu` only.
pub fn pin_to(pid: u32, cpu: usize) -> nix::Result<()> {
    use nix::sched::{CpuSet, sched_setaffinity};
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(nix::unistd::Pid::from_raw(pid as i32), &set)
}

// ---------------------------------------------------------------------------
// Step 4. Locks across processes.

/// A `pthread_mutex_t` that lives in shared memory.
#[repr(C)]
pub struct SharedMutex {
    raw: UnsafeCell<libc::pthread_mutex_t>,
}

// SAFETY: a process-shared pthread mutex is made to be used from several
// threads and processes at once; all access goes through pthread calls.
unsafe impl Sync for SharedMutex {}

impl fmt::Debug for SharedMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedMutex at {:p}", self.raw.get())
    }
}

/// What taking a robust lock found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    /// The lock was free or released normally.
    Clean,
    /// Its holder died holding it (`EOWNERDEAD`): we hold it now, and the
    /// data it guards may be half-updated.
    OwnerDied,
}

/// A pthread call's result as a `Result`.
fn pthread(code: libc::c_int) -> Result<(), Errno> {
    if code == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw(code))
    }
}

impl SharedMutex {
    // ANCHOR: init_robust
    /// Initialises the mutex for use by several processes
    /// (`PTHREAD_PROCESS_SHARED`) and robust: if its holder dies, the next
    /// locker is told (`EOWNERDEAD`) instead of waiting forever.
    ///
    /// Call it once, in the creating process, before any other process
    /// uses the memory.
    pub fn init_robust_shared(&self) -> Result<(), Errno> {
        let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: `attr` is initialised by pthread_mutexattr_init before any
        // other use and destroyed after; `self.raw` is memory we may write
        // (no other process uses it yet, by this function's contract).
        unsafe {
            pthread(libc::pthread_mutexattr_init(attr.as_mut_ptr()))?;
            let attr = attr.as_mut_ptr();
            let result = pthread(libc::pthread_mutexattr_setpshared(
                attr,
                libc::PTHREAD_PROCESS_SHARED,
            ))
            .and_then(|()| {
                pthread(libc::pthread_mutexattr_setrobust(
                    attr,
                    libc::PTHREAD_MUTEX_ROBUST,
                ))
            })
            .and_then(|()| pthread(libc::pthread_mutex_init(self.raw.get(), attr)));
            libc::pthread_mutexattr_destroy(attr);
            result
        }
    }
    // ANCHOR_END: init_robust

    // ANCHOR: lock_within
    /// Takes the lock, waiting at most `limit`. `Ok(OwnerDied)` means the
    /// previous holder died: repair the data, then call
    /// [`SharedMutex::mark_consistent`] before unlocking.
    pub fn lock_within(&self, limit: Duration) -> Result<Locked, Errno> {
        let deadline = realtime_after(limit)?;
        // SAFETY: the mutex was initialised (init_robust_shared) and stays
        // mapped while `self` is borrowed; the deadline is a valid timespec.
        let code =
            unsafe { libc::pthread_mutex_timedlock(self.raw.get(), &deadline) };
        match code {
            0 => Ok(Locked::Clean),
            libc::EOWNERDEAD => Ok(Locked::OwnerDied),
            error => Err(Errno::from_raw(error)),
        }
    }
    // ANCHOR_END: lock_within

    /// After `OwnerDied` and a repair: the lock is usable again.
    pub fn mark_consistent(&self) -> Result<(), Errno> {
        // SAFETY: an initialised mutex, held by this thread (the caller's duty;
        // otherwise pthread returns EINVAL).
        pthread(unsafe { libc::pthread_mutex_consistent(self.raw.get()) })
    }

    /// Releases the lock.
    pub fn unlock(&self) -> Result<(), Errno> {
        // SAFETY: an initialised mutex; unlocking one we do not hold returns
        // EPERM for a robust mutex (error-checking), nothing worse.
        pthread(unsafe { libc::pthread_mutex_unlock(self.raw.get()) })
    }
}

/// `CLOCK_REALTIME` now plus `limit`: what pthread_mutex_timedlock takes.
fn realtime_after(limit: Duration) -> Result<libc::timespec, Errno> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `now`, which we own.
    Errno::result(unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) })?;
    let total = Duration::new(now.tv_sec as u64, now.tv_nsec as u32) + limit;
    Ok(libc::timespec {
        tv_sec: total.as_secs() as libc::time_t,
        tv_nsec: total.subsec_nanos().into(),
    })
}

/// A robust lock guarding two numbers that must always be equal: a holder
/// that dies between the two stores leaves them different.
#[repr(C)]
#[derive(Debug)]
pub struct Guarded {
    /// The lock.
    pub mutex: SharedMutex,
    /// The counter both processes add to under the lock.
    pub counter: AtomicU64,
    /// Written first by an update.
    pub first: AtomicU64,
    /// Written second: equal to `first` whenever the lock is free.
    pub second: AtomicU64,
    /// The start barrier.
    pub arrived: AtomicU32,
}

// SAFETY: atomics and a pthread mutex that is initialised (by
// init_robust_shared) before a second process maps the memory.
unsafe impl SharedLayout for Guarded {}

impl Guarded {
    /// Adds 1 to the counter `n` times, each under the lock.
    pub fn add_locked(&self, n: u64, limit: Duration) -> Result<(), Errno> {
        for _ in 0..n {
            self.mutex.lock_within(limit)?;
            let seen = self.counter.load(Relaxed);
            self.counter.store(seen + 1, Relaxed);
            self.mutex.unlock()?;
        }
        Ok(())
    }
}

// ANCHOR: futex
/// Sleeps while `word` holds `expected`, at most `limit`: `FUTEX_WAIT`,
/// or `FUTEX_WAIT_PRIVATE` (a private wait, as `std::sync::Mutex` does),
/// which only a wake from the same process can end. `Ok`: woken; `Err(ETIMEDOUT)`:
/// nobody woke us; `Err(EAGAIN)`: `word` had already changed.
pub fn futex_wait(
    word: &AtomicU32,
    expected: u32,
    limit: Duration,
    private: bool,
) -> Result<(), Errno> {
    let op = libc::FUTEX_WAIT | if private { libc::FUTEX_PRIVATE_FLAG } else { 0 };
    let timeout = libc::timespec {
        tv_sec: limit.as_secs() as libc::time_t,
        tv_nsec: limit.subsec_nanos().into(),
    };
    // SAFETY: `word` is a valid, aligned u32 that lives as long as the call;
    // the kernel only reads it and the timeout.
    let result = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op,
            expected,
            &timeout as *const libc::timespec,
        )
    };
    Errno::result(result).map(drop)
}

/// Wakes up to `count` waiters on `word`; returns how many it woke.
/// A private wake only finds waiters of this process.
pub fn futex_wake(
    word: &AtomicU32,
    count: i32,
    private: bool,
) -> Result<usize, Errno> {
    let op = libc::FUTEX_WAKE | if private { libc::FUTEX_PRIVATE_FLAG } else { 0 };
    // SAFETY: as in futex_wait; FUTEX_WAKE does not even read the word.
    let woken = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), op, count) };
    Errno::result(woken).map(|n| n as usize)
}
// ANCHOR_END: futex

/// A word two processes sleep and wake on, and a message counter.
#[repr(C)]
#[derive(Debug)]
pub struct Doorbell {
    /// The futex word: the number of the last message posted.
    pub word: AtomicU32,
}

// SAFETY: one atomic, valid when zeroed.
unsafe impl SharedLayout for Doorbell {}

// ---------------------------------------------------------------------------
// Step 6. How fast: a single-producer single-consumer ring of chunks.

/// The size of every chunk moved in step 6, whatever the transport.
pub const CHUNK: usize = 64 * 1024;

/// How many chunks the ring holds: 1 MiB, as much as the enlarged pipe.
pub const SLOTS: usize = 16;

/// The ring's counters, each on its own cache line so the producer's
/// stores do not slow the consumer's loads of the other one.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct RingHeader {
    /// Chunks pushed so far (only the producer stores it).
    pub head: AtomicU64,
    _pad: [u64; 7],
    /// Chunks popped so far (only the consumer stores it).
    pub tail: AtomicU64,
}

// SAFETY: atomics only (and padding), valid when zeroed.
unsafe impl SharedLayout for RingHeader {}

/// Bytes of shared memory a [`ChunkRing`] needs: a page for the counters,
/// then the slots.
pub fn ring_bytes() -> usize {
    support::page_size() + SLOTS * CHUNK
}

/// A ring of [`SLOTS`] chunks in shared memory: one producer process, one
/// consumer process, and no system call to move a chunk.
#[derive(Debug)]
pub struct ChunkRing<'a> {
    header: &'a RingHeader,
    slots: *mut u8,
}

impl<'a> ChunkRing<'a> {
    /// The ring laid out in `region` (at least [`ring_bytes`] long).
    pub fn new(region: &'a Region) -> ChunkRing<'a> {
        assert!(
            region.len() >= ring_bytes(),
            "the region is too small for the ring"
        );
        ChunkRing {
            header: view(region),
            // SAFETY: one page in, still inside the region (checked above).
            slots: unsafe { region.as_ptr().add(support::page_size()) },
        }
    }

    // ANCHOR: ring_push
    /// Copies `chunk` into the next free slot, waiting at most `limit` for one.
    pub fn push(&self, chunk: &[u8; CHUNK], limit: Duration) -> io::Result<()> {
        let head = self.header.head.load(Relaxed); // only we store it
        // Acquire: the consumer's copy out of the slot is over before we
        // reuse it.
        spin_until(limit, || {
            head - self.header.tail.load(Acquire) < SLOTS as u64
        })?;
        let slot = (head % SLOTS as u64) as usize * CHUNK;
        // SAFETY: the slot lies inside the region; the consumer does not
        // touch it until it sees the new head, stored below.
        unsafe {
            std::ptr::copy_nonoverlapping(chunk.as_ptr(), self.slots.add(slot), CHUNK)
        };
        // Release: the consumer that sees head + 1 sees the whole chunk.
        self.header.head.store(head + 1, Release);
        Ok(())
    }
    // ANCHOR_END: ring_push

    // ANCHOR: ring_pop
    /// Hands the oldest chunk to `read` where it lies, in shared memory,
    /// waiting at most `limit` for one; then frees its slot. Unlike a pipe's
    /// reader, the consumer needs no copy of its own.
    pub fn pop_with<T>(
        &self,
        limit: Duration,
        read: impl FnOnce(&[u8; CHUNK]) -> T,
    ) -> io::Result<T> {
        let tail = self.header.tail.load(Relaxed); // only we store it
        // Acquire: pairs with the producer's Release of head.
        spin_until(limit, || self.header.head.load(Acquire) > tail)?;
        let slot = (tail % SLOTS as u64) as usize * CHUNK;
        // SAFETY: the slot lies inside the region and is CHUNK bytes long;
        // the producer does not write it again until it sees the new tail,
        // stored below, after `read` has returned (and the reference with it:
        // `read` cannot keep it, its lifetime ends with the call).
        let chunk = unsafe { &*self.slots.add(slot).cast::<[u8; CHUNK]>() };
        let result = read(chunk);
        // Release: our reads are done before the producer may reuse the slot.
        self.header.tail.store(tail + 1, Release);
        Ok(result)
    }
    // ANCHOR_END: ring_pop
}

/// A checksum of one chunk: fast, and changed by any flipped bit.
pub fn chunk_sum(chunk: &[u8; CHUNK]) -> u64 {
    let mut lanes = [0u64; 4];
    for (i, word) in chunk.chunks_exact(8).enumerate() {
        let word = u64::from_ne_bytes(word.try_into().unwrap_or_default());
        lanes[i % 4] = lanes[i % 4].wrapping_add(word ^ (i as u64));
    }
    lanes
        .iter()
        .fold(0u64, |sum, lane| sum.rotate_left(17) ^ lane)
}

/// A running checksum over chunks in order: reordered chunks change it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StreamSum {
    /// Bytes counted.
    pub bytes: u64,
    /// The checksum so far.
    pub sum: u64,
}

impl StreamSum {
    /// Adds the next chunk, given its [`chunk_sum`].
    pub fn add(&mut self, chunk_sum: u64) {
        self.bytes += CHUNK as u64;
        self.sum = self.sum.rotate_left(7).wrapping_mul(31) ^ chunk_sum;
    }
}

/// What step 6 sends: [`SAMPLES`] chunks of pseudo-random bytes, sent in
/// turn, and their checksums. Both processes generate the same ones.
#[derive(Debug)]
pub struct Samples {
    /// The chunks.
    pub chunks: Vec<Box<[u8; CHUNK]>>,
    sums: Vec<u64>,
}

/// How many distinct chunks step 6 cycles through (1 MiB).
pub const SAMPLES: usize = 16;

impl Samples {
    /// Generates the chunks and their checksums.
    pub fn new() -> Samples {
        let chunks = sample_chunks(SAMPLES);
        let sums = chunks.iter().map(|c| chunk_sum(c)).collect();
        Samples { chunks, sums }
    }

    /// Chunk number `index` of the stream.
    pub fn chunk(&self, index: u64) -> &[u8; CHUNK] {
        &self.chunks[index as usize % SAMPLES]
    }

    /// The checksum of `received`, which should be chunk number `index`.
    /// When it is byte for byte (one memcmp), its checksum is known
    /// already; only a wrong chunk is summed here, so checking costs every
    /// transport the same, and little even in a debug build.
    pub fn sum_of(&self, index: u64, received: &[u8; CHUNK]) -> u64 {
        if received == self.chunk(index) {
            self.sums[index as usize % SAMPLES]
        } else {
            chunk_sum(received)
        }
    }

    /// What a receiver of `bytes` should report.
    pub fn expected(&self, bytes: u64) -> StreamSum {
        let mut total = StreamSum::default();
        for index in 0..bytes / CHUNK as u64 {
            total.add(self.sums[index as usize % SAMPLES]);
        }
        total
    }
}

impl Default for Samples {
    fn default() -> Samples {
        Samples::new()
    }
}

/// The chunks a producer sends, in turn: pseudo-random bytes, generated once.
pub fn sample_chunks(count: usize) -> Vec<Box<[u8; CHUNK]>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..count)
        .map(|_| {
            let mut chunk = Box::new([0u8; CHUNK]);
            for word in chunk.chunks_exact_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_ne_bytes());
            }
            chunk
        })
        .collect()
}

// ---------------------------------------------------------------------------
// What the exercises build on.

/// The ring of exercise 5.1 (`push` and `pop` are in `exercises.rs`): one producer, one consumer, possibly in two
/// processes, over a shared region laid out as
///
/// | offset | what |
/// | --- | --- |
/// | 0 | `head`: bytes pushed so far, ever (only `push` stores it) |
/// | 64 | `tail`: bytes popped so far, ever (only `pop` stores it) |
/// | 128.. | the data: byte number `i` of the stream lives at `i % capacity` |
///
/// `head - tail` bytes are waiting to be popped; `capacity - (head - tail)`
/// are free. The counters only grow (a u64 does not wrap in a lifetime).
pub struct ByteRing<'a> {
    pub(crate) head: &'a AtomicU64,
    pub(crate) tail: &'a AtomicU64,
    pub(crate) data: &'a [std::sync::atomic::AtomicU8],
}

impl std::fmt::Debug for ByteRing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::sync::atomic::Ordering::SeqCst;
        write!(
            f,
            "ByteRing {{ head: {}, tail: {}, capacity: {} }}",
            self.head.load(SeqCst),
            self.tail.load(SeqCst),
            self.data.len()
        )
    }
}

/// Where the data starts in a [`ByteRing`]'s region.
pub const RING_DATA: usize = 128;

impl<'a> ByteRing<'a> {
    /// The ring laid out in `region`, which must be longer than [`RING_DATA`].
    /// A new region is all zeroes: an empty ring.
    pub fn new(region: &'a Region) -> ByteRing<'a> {
        assert!(
            region.len() > RING_DATA,
            "the region is too small for a ring"
        );
        let at = |offset: usize| {
            // SAFETY: offsets 0 and 64 are inside the region and 8-aligned
            // (a mapping starts on a page); AtomicU64 may be shared with any
            // process, and the reference borrows the region.
            unsafe { &*region.as_ptr().add(offset).cast::<AtomicU64>() }
        };
        // SAFETY: bytes RING_DATA..len are inside the mapping; AtomicU8 has
        // no alignment needs and is valid for any byte; the slice borrows
        // the region, so it cannot outlive the mapping.
        let data = unsafe {
            std::slice::from_raw_parts(
                region
                    .as_ptr()
                    .add(RING_DATA)
                    .cast::<std::sync::atomic::AtomicU8>(),
                region.len() - RING_DATA,
            )
        };
        ByteRing {
            head: at(0),
            tail: at(64),
            data,
        }
    }

    /// How many bytes the ring holds when full.
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// How many bytes are waiting to be popped, at the moment of asking.
    pub fn waiting(&self) -> usize {
        let tail = self.tail.load(std::sync::atomic::Ordering::Acquire);
        let head = self.head.load(std::sync::atomic::Ordering::Acquire);
        head.saturating_sub(tail) as usize
    }
}

/// Message `n` of the ring exercise's graded tests: its number, then
/// `n % 50` bytes of `n as u8`, so messages come in many lengths and wrap
/// the ring at odd places.
pub fn numbered_message(n: u64) -> Vec<u8> {
    let mut message = n.to_le_bytes().to_vec();
    message.extend(std::iter::repeat_n(n as u8, (n % 50) as usize));
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_are_named_as_fcntl_spells_them() {
        assert_eq!(seal_names(required_seals()), "SHRINK|GROW|SEAL");
        assert_eq!(seal_names(SealFlag::empty()), "none");
    }

    #[test]
    fn a_mailbox_publishes_its_text_at_a_fixed_offset() {
        let memfd = sealed_memfd(4096).unwrap();
        let region = map_shared(&memfd, 4096).unwrap();
        let boxes: &Mailboxes = view(&region);
        assert_eq!(boxes.to_helper.read(), "");
        boxes.to_helper.post("hello");
        assert_eq!(boxes.to_helper.read(), "hello");
        assert_eq!(boxes.to_helper.text_offset.load(Relaxed), 24);
        assert_eq!(region.read(24), b'h');
    }

    #[test]
    fn a_sealed_memfd_passes_the_check_and_an_unsealed_one_does_not() {
        let sealed = sealed_memfd(8192).unwrap();
        assert_eq!(check_received(&sealed, 8192).unwrap().1, 8192);
        assert!(check_received(&sealed, 8193).is_err(), "too small");
        let unsealed = unsealed_memfd(8192).unwrap();
        let error = check_received(&unsealed, 8192).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn the_stream_checksum_sees_order_and_single_bits() {
        let samples = Samples::new();
        let (a, b) = (samples.chunk(0), samples.chunk(1));
        let mut flipped = Box::new(*a);
        flipped[100] ^= 1;
        assert_ne!(chunk_sum(a), chunk_sum(&flipped));
        assert_eq!(samples.sum_of(0, a), chunk_sum(a));
        assert_eq!(samples.sum_of(0, &flipped), chunk_sum(&flipped));
        let (mut ab, mut ba) = (StreamSum::default(), StreamSum::default());
        ab.add(chunk_sum(a));
        ab.add(chunk_sum(b));
        ba.add(chunk_sum(b));
        ba.add(chunk_sum(a));
        assert_ne!(ab, ba);
        assert_eq!(ab, samples.expected(2 * CHUNK as u64));
    }

    #[test]
    fn the_chunk_ring_keeps_order_and_a_full_ring_times_out() {
        let memfd = sealed_memfd(ring_bytes()).unwrap();
        let region = map_shared(&memfd, ring_bytes()).unwrap();
        let ring = ChunkRing::new(&region);
        let samples = Samples::new();
        let limit = Duration::from_millis(20);
        for index in 0..SLOTS as u64 {
            ring.push(samples.chunk(index), limit).unwrap();
        }
        let error = ring.push(samples.chunk(0), limit).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        for index in 0..SLOTS as u64 {
            let same = ring
                .pop_with(limit, |chunk| chunk == samples.chunk(index))
                .unwrap();
            assert!(same, "chunk {index} came out wrong");
        }
        assert!(ring.pop_with(limit, |_| ()).is_err(), "the ring is empty");
    }

    #[test]
    fn shm_errors_name_dev_shm_and_the_fix() {
        let full = shm_error("fallocate", "/x", Errno::ENOSPC).to_string();
        assert!(
            full.contains("ENOSPC") && full.contains("/dev/shm is full"),
            "{full}"
        );
        let ro = shm_error("shm_open", "/x", Errno::EROFS).to_string();
        assert!(ro.contains("/dev/shm is read-only"), "{ro}");
        let taken = shm_error("shm_open", "/x", Errno::EEXIST);
        assert_eq!(taken.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn numbered_messages_carry_their_number_and_vary_in_length() {
        assert_eq!(numbered_message(0), 0u64.to_le_bytes());
        let m = numbered_message(51);
        assert_eq!(m.len(), 8 + 1);
        assert_eq!(m[..8], 51u64.to_le_bytes());
    }
}
