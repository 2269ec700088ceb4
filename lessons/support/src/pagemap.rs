//! This process's page table, as `/proc/self/pagemap` shows it: one 64-bit
//! entry per virtual page (the kernel's `Documentation/admin-guide/mm/
//! pagemap.rst`). The bits read here need no privilege: bit 63 "present in
//! RAM", bit 62 "swapped", bit 61 "file page or shared anonymous", and bit
//! 56 "exclusively mapped" (mapped by this process only). The frame number
//! (bits 0-54) reads as 0 without `CAP_SYS_ADMIN` and is not used.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// One page's entry, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Bit 63: a page frame in RAM backs this virtual page, in this
    /// process's page table (mapped here, not merely cached).
    pub present: bool,
    /// Bit 62: the page is in swap.
    pub swapped: bool,
    /// Bit 61: a file page, or shared anonymous memory (shmem).
    pub file_or_shared: bool,
    /// Bit 56: no other process maps this page (after a fork, a private
    /// page is shared until one of the two writes it and gets its copy).
    pub exclusive: bool,
}

impl Entry {
    /// Decodes a raw entry.
    pub fn from_raw(raw: u64) -> Entry {
        Entry {
            present: raw & (1 << 63) != 0,
            swapped: raw & (1 << 62) != 0,
            file_or_shared: raw & (1 << 61) != 0,
            exclusive: raw & (1 << 56) != 0,
        }
    }
}

/// The entries of the `pages` pages from `address` (rounded down to its
/// page), read in one `pread`. An error means pagemap is unavailable here
/// (no `/proc`, or a kernel without it).
pub fn entries(address: usize, pages: usize) -> io::Result<Vec<Entry>> {
    let page = crate::page_size();
    let file = File::open("/proc/self/pagemap")?;
    let mut raw = vec![0u8; pages * 8];
    let offset = (address / page) as u64 * 8;
    file.read_exact_at(&mut raw, offset)?;
    Ok(raw
        .chunks_exact(8)
        .map(|word| {
            Entry::from_raw(u64::from_ne_bytes(word.try_into().unwrap_or([0; 8])))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_decoded() {
        let e = Entry::from_raw((1 << 63) | (1 << 56) | 1234);
        assert!(e.present && e.exclusive && !e.swapped && !e.file_or_shared);
        let e = Entry::from_raw((1 << 62) | (1 << 61));
        assert!(!e.present && e.swapped && e.file_or_shared && !e.exclusive);
    }

    #[test]
    fn a_written_private_page_is_present_and_ours() {
        let page = crate::page_size();
        let mut memory = vec![0u8; 4 * page];
        let start = memory.as_mut_ptr() as usize;
        let first = start.div_ceil(page) * page;
        // SAFETY: `first` lies inside `memory` (it has 4 pages, `first` is
        // less than a page past its start); a volatile write so it happens.
        unsafe { std::ptr::write_volatile(first as *mut u8, 1) };
        let found = entries(first, 1).unwrap();
        assert!(found[0].present, "{found:?}");
        assert!(found[0].exclusive, "{found:?}");
        std::hint::black_box(&memory);
    }
}
