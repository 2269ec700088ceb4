//! Lesson 5: how do two processes talk through shared memory, safely and fast?
//!
//! Two unrelated processes (the lesson and its own binary started again as a
//! helper) meet at one object, by name in `/dev/shm` or by a memfd passed
//! over a Unix socket, and map it. From then on a store by one is a load
//! away for the other: no system call moves the data. Everything else is
//! about doing that safely: nobody else may meet them there, updates must
//! not be lost, a lock must survive its holder's death, and a reader that
//! waits must be woken, which does take a system call.
//!
//! The modules follow the chapter: `shm` (step 1, meeting by name),
//! `memfd` (step 2, meeting without one), `race` (step 3, the lost update),
//! `lock` (step 4, locks across processes), `wait` (spinning and futexes,
//! steps 4 and 5), `ring` (step 6, how fast) and `byte_ring` (what exercise
//! 5.1 builds on; the exercises themselves are in the binary's
//! `exercises.rs`, run by `runner.rs` for the graded tests). Everything they define is re-exported here; this file
//! holds what every step uses: a shared mapping and a layout in it.

use std::io;
use std::num::NonZeroUsize;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicU64};

use nix::errno::Errno;
use nix::sys::mman::{MapFlags, ProtFlags, mmap};
use support::region::Region;

pub mod peer;

mod byte_ring;
mod lock;
mod memfd;
mod race;
mod ring;
mod shm;
mod wait;

pub use byte_ring::*;
pub use lock::*;
pub use memfd::*;
pub use race::*;
pub use ring::*;
pub use shm::*;
pub use wait::*;

// ---------------------------------------------------------------------------
// What every step uses: a shared mapping, and a layout in it.

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

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
}
