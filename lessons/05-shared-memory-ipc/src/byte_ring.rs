//! What exercise 5.1 builds on: a ring of bytes in shared memory, whose
//! `push` and `pop` the learner writes (in `exercises.rs`) over the public
//! API here: the two counters and the data.

use std::sync::atomic::{AtomicU8, AtomicU64};

use support::region::Region;

/// The ring of exercise 5.1 (`push` and `pop` are in `exercises.rs`): one
/// producer, one consumer, possibly in two processes, over a shared region
/// laid out as
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
    head: &'a AtomicU64,
    tail: &'a AtomicU64,
    data: &'a [AtomicU8],
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
                region.as_ptr().add(RING_DATA).cast::<AtomicU8>(),
                region.len() - RING_DATA,
            )
        };
        ByteRing {
            head: at(0),
            tail: at(64),
            data,
        }
    }

    // ANCHOR: byte_ring_api
    /// Bytes pushed so far, ever: only the producer stores it.
    pub fn head(&self) -> &'a AtomicU64 {
        self.head
    }

    /// Bytes popped so far, ever: only the consumer stores it.
    pub fn tail(&self) -> &'a AtomicU64 {
        self.tail
    }

    /// The data: byte number `i` of the stream is `data()[i % capacity]`.
    pub fn data(&self) -> &'a [AtomicU8] {
        self.data
    }

    /// How many bytes the ring holds when full.
    pub fn capacity(&self) -> usize {
        self.data.len()
    }
    // ANCHOR_END: byte_ring_api

    /// How many bytes are waiting to be popped, at the moment of asking.
    pub fn waiting(&self) -> usize {
        let tail = self.tail.load(std::sync::atomic::Ordering::Acquire);
        let head = self.head.load(std::sync::atomic::Ordering::Acquire);
        head.saturating_sub(tail) as usize
    }
}

/// `len` lowercase letters, the same for the same `seed`: what the ring
/// exercise's graded tests stream, so a runner needs only the seed and the
/// length to push them, and a checker can tell each byte's place.
pub fn letters(seed: u64, len: usize) -> Vec<u8> {
    let mut random = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| random.lowercase() as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_lowercase_and_follow_the_seed() {
        let a = letters(7, 500);
        assert_eq!(a.len(), 500);
        assert!(a.iter().all(u8::is_ascii_lowercase));
        assert_eq!(a, letters(7, 500));
        assert_ne!(a, letters(8, 500));
    }

    #[test]
    fn the_accessors_show_the_layout() {
        let memfd = crate::sealed_memfd(4096).unwrap();
        let region = crate::map_shared(&memfd, 4096).unwrap();
        let ring = ByteRing::new(&region);
        assert_eq!(ring.capacity(), 4096 - RING_DATA);
        ring.head().store(5, std::sync::atomic::Ordering::Relaxed);
        ring.tail().store(2, std::sync::atomic::Ordering::Relaxed);
        ring.data()[1].store(b'x', std::sync::atomic::Ordering::Relaxed);
        assert_eq!(ring.waiting(), 3);
        assert_eq!(region.read(0), 5);
        assert_eq!(region.read(64), 2);
        assert_eq!(region.read(RING_DATA + 1), b'x');
    }
}
