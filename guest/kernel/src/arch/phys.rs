//! Guest-physical memory access. In the VM every byte of RAM and of the image is reachable
//! through the direct map (`DIRECT_MAP_VA + gpa`, set up by the VMM); host unit tests get a
//! fake physical memory per thread instead, so the page-table and frame code above this runs
//! unchanged in both.
//!
//! Callers pass GPAs they own (frames from the frame allocator, page-table pages, the image);
//! the functions here check nothing else.

pub use imp::*;

#[cfg(not(test))]
mod imp {
    use uvm_abi::layout::{direct_map, PAGE_SIZE};

    fn ptr(gpa: u64) -> *mut u8 {
        direct_map(gpa) as *mut u8
    }

    /// Reads the u64 at `gpa` (8-byte aligned).
    pub fn read_u64(gpa: u64) -> u64 {
        // SAFETY: the direct map covers all RAM and the image, and the caller owns `gpa`;
        // volatile because the CPU (accessed/dirty bits) may change page-table entries.
        unsafe { core::ptr::read_volatile(ptr(gpa).cast::<u64>()) }
    }

    /// Writes the u64 at `gpa` (8-byte aligned).
    pub fn write_u64(gpa: u64, value: u64) {
        // SAFETY: as in read_u64; the caller owns the writable RAM at `gpa`.
        unsafe { core::ptr::write_volatile(ptr(gpa).cast::<u64>(), value) }
    }

    /// Fills the page at `gpa` with zeros.
    pub fn zero_page(gpa: u64) {
        // SAFETY: the caller owns the whole page at `gpa`, a RAM page in the direct map.
        unsafe { core::ptr::write_bytes(ptr(gpa), 0, PAGE_SIZE as usize) }
    }

    /// Copies `bytes` to `gpa`.
    pub fn write_bytes(gpa: u64, bytes: &[u8]) {
        // SAFETY: the caller owns `bytes.len()` bytes of RAM at `gpa`; kernel buffers never
        // overlap the frames handed out by the frame allocator.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr(gpa), bytes.len()) }
    }

    /// Copies `out.len()` bytes from `gpa`.
    pub fn read_bytes(gpa: u64, out: &mut [u8]) {
        // SAFETY: `gpa..gpa+len` is RAM or image in the direct map, owned by the caller.
        unsafe { core::ptr::copy_nonoverlapping(ptr(gpa), out.as_mut_ptr(), out.len()) }
    }

    /// Copies one page from `src` to `dst`.
    pub fn copy_page(dst: u64, src: u64) {
        // SAFETY: both pages are in the direct map; the caller owns `dst`, a fresh frame
        // distinct from `src`.
        unsafe { core::ptr::copy_nonoverlapping(ptr(src), ptr(dst), PAGE_SIZE as usize) }
    }

    /// A read-only view of `len` bytes at `gpa` that lives as long as the VM (the image).
    pub fn static_slice(gpa: u64, len: u64) -> &'static [u8] {
        // SAFETY: used only for the image, which is mapped read-only for the VM's whole life
        // and never written by anyone.
        unsafe { core::slice::from_raw_parts(ptr(gpa), len as usize) }
    }
}

#[cfg(test)]
mod imp {
    //! A fake physical memory per test thread.
    use std::cell::RefCell;
    use uvm_abi::layout::PAGE_SIZE;

    thread_local! {
        static MEMORY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    /// Gives this test thread `size` bytes of zeroed fake physical memory.
    pub fn reset(size: usize) {
        MEMORY.with(|m| *m.borrow_mut() = vec![0; size]);
    }

    /// Bytes of fake physical memory this test thread has.
    pub fn size() -> usize {
        MEMORY.with(|m| m.borrow().len())
    }

    pub fn read_u64(gpa: u64) -> u64 {
        let mut b = [0u8; 8];
        read_bytes(gpa, &mut b);
        u64::from_le_bytes(b)
    }

    pub fn write_u64(gpa: u64, value: u64) {
        write_bytes(gpa, &value.to_le_bytes());
    }

    pub fn zero_page(gpa: u64) {
        write_bytes(gpa, &[0u8; PAGE_SIZE as usize]);
    }

    pub fn write_bytes(gpa: u64, bytes: &[u8]) {
        MEMORY.with(|m| m.borrow_mut()[gpa as usize..gpa as usize + bytes.len()].copy_from_slice(bytes));
    }

    pub fn read_bytes(gpa: u64, out: &mut [u8]) {
        MEMORY.with(|m| out.copy_from_slice(&m.borrow()[gpa as usize..gpa as usize + out.len()]));
    }

    pub fn copy_page(dst: u64, src: u64) {
        let mut page = vec![0u8; PAGE_SIZE as usize];
        read_bytes(src, &mut page);
        write_bytes(dst, &page);
    }

    pub fn static_slice(gpa: u64, len: u64) -> &'static [u8] {
        let mut v = vec![0u8; len as usize];
        read_bytes(gpa, &mut v);
        Vec::leak(v)
    }
}
