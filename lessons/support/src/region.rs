//! An owned raw mapping: the pointer mmap returned, its length, and byte
//! access that never forms a Rust reference to the mapped memory.
//!
//! Lessons make the `mmap` call themselves (the call is what they teach) and
//! hand the result to [`Region`], which unmaps it when dropped. Accesses are
//! volatile: another process may change these bytes at any time, and a
//! mapping of a file that has shrunk faults instead of reading.

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;

/// A mapping of `len` bytes at `base`, unmapped on drop.
#[derive(Debug)]
pub struct Region {
    base: NonNull<c_void>,
    len: usize,
}

impl Region {
    /// Takes ownership of a mapping.
    ///
    /// # Safety
    /// `base` and `len` must be exactly what one successful `mmap` returned
    /// and was given, and nothing else may unmap it.
    pub unsafe fn from_raw(base: NonNull<c_void>, len: usize) -> Region {
        Region { base, len }
    }

    /// The address the kernel chose.
    pub fn address(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// The length asked for (the kernel maps whole pages).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-length region (mmap never returns one).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The mapping as a raw pointer, for lessons that place atomics in it.
    pub fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr().cast()
    }

    /// The `index`th 32-bit slot of the region, as an atomic: the right way
    /// to share a number between processes that map the same page.
    pub fn atomic_u32(&self, index: usize) -> &AtomicU32 {
        let offset = index * size_of::<AtomicU32>();
        assert!(
            offset + size_of::<AtomicU32>() <= self.len,
            "slot {index} is outside the region"
        );
        // SAFETY: mappings are page-aligned, so base + 4 * index is aligned
        // for AtomicU32; the slot lies inside the mapping, which outlives the
        // returned reference (it borrows `self`). AtomicU32 allows mutation
        // through a shared reference, by this or any other process.
        unsafe { &*self.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// Reads the byte at `offset`. In a file mapping, a page wholly past the
    /// end of the file raises SIGBUS here: do that only in a child process.
    pub fn read(&self, offset: usize) -> u8 {
        assert!(
            offset < self.len,
            "offset {offset} is outside the {}-byte region",
            self.len
        );
        // SAFETY: offset < len, so the address lies inside the mapping, which
        // stays mapped while `self` lives. A volatile read of mapped memory
        // either yields a byte or raises a signal; it never creates a
        // reference that another process's stores could invalidate.
        unsafe { self.as_ptr().add(offset).read_volatile() }
    }

    /// Writes the byte at `offset`; faults like [`Region::read`].
    pub fn write(&self, offset: usize, value: u8) {
        assert!(
            offset < self.len,
            "offset {offset} is outside the {}-byte region",
            self.len
        );
        // SAFETY: as in `read`: inside the mapping, volatile, no reference.
        unsafe { self.as_ptr().add(offset).write_volatile(value) }
    }
}

impl Region {
    /// `msync(MS_SYNC)`: write dirty pages back to the file and wait. This
    /// is about durability; other processes see stores without it.
    pub fn sync(&self) -> nix::Result<()> {
        // SAFETY: the range is exactly our mapping, alive while `self` is.
        unsafe {
            nix::sys::mman::msync(
                self.base,
                self.len,
                nix::sys::mman::MsFlags::MS_SYNC,
            )
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `from_raw`'s contract: this is exactly one mapping that we
        // own, and no access to it can outlive `self`.
        let _ = unsafe { nix::sys::mman::munmap(self.base, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::Region;
    use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
    use std::num::NonZeroUsize;

    #[test]
    fn bytes_written_read_back_and_the_bounds_are_checked() {
        let len = NonZeroUsize::new(100).unwrap();
        let rw = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        // SAFETY: a fresh private anonymous mapping at a kernel-chosen address.
        let base =
            unsafe { mmap_anonymous(None, len, rw, MapFlags::MAP_PRIVATE) }.unwrap();
        // SAFETY: exactly what mmap returned and was given, owned by `region` alone.
        let region = unsafe { Region::from_raw(base, 100) };
        assert_eq!(region.read(99), 0, "anonymous memory starts zeroed");
        region.write(99, 42);
        assert_eq!(region.read(99), 42);
        assert_eq!(region.address() % crate::page_size(), 0);
        assert!(std::panic::catch_unwind(|| region.read(100)).is_err());
    }
}
