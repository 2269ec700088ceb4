//! What exercise 5.1 builds on: a ring of bytes in shared memory, whose
//! `push` and `pop` the learner writes (in `exercises.rs`).

use std::sync::atomic::AtomicU64;

use support::region::Region;

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
    fn numbered_messages_carry_their_number_and_vary_in_length() {
        assert_eq!(numbered_message(0), 0u64.to_le_bytes());
        let m = numbered_message(51);
        assert_eq!(m.len(), 8 + 1);
        assert_eq!(m[..8], 51u64.to_le_bytes());
    }
}
