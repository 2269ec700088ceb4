//! Step 6: how fast. A single-producer single-consumer ring of chunks in
//! shared memory, and the chunks every transport moves.

use std::cell::Cell;
use std::io;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Duration;

use support::region::Region;

use crate::{SharedLayout, spin_counting, view};

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
    /// `sched_yield` calls this side made while it waited.
    yields: Cell<u64>,
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
            yields: Cell::new(0),
        }
    }

    // ANCHOR: ring_push
    /// Copies `chunk` into the next free slot, waiting at most `limit` for one.
    pub fn push(&self, chunk: &[u8; CHUNK], limit: Duration) -> io::Result<()> {
        let head = self.header.head.load(Relaxed); // only we store it
        // Acquire: the consumer's copy out of the slot is over before we
        // reuse it.
        spin_counting(limit, &self.yields, || {
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
        spin_counting(limit, &self.yields, || {
            self.header.head.load(Acquire) > tail
        })?;
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

    /// How many times this side yielded the CPU (`sched_yield`) while it
    /// waited for a free slot or a new chunk.
    pub fn yields(&self) -> u64 {
        self.yields.get()
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{map_shared, sealed_memfd};

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
        let before = ring.yields();
        assert!(ring.pop_with(limit, |_| ()).is_err(), "the ring is empty");
        assert!(ring.yields() > before, "waiting 20 ms yielded the CPU");
    }
}
