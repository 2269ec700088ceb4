//! Step 4: locks across processes. A glibc mutex made for shared memory:
//! process-shared, and robust, so that its holder's death is reported.

use std::cell::UnsafeCell;
use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::Duration;

use nix::errno::Errno;

use crate::SharedLayout;

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
