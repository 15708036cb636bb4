//! The guest kernel, built from guest/ by build.rs and embedded in the `uvm` binary: `uvm run`
//! boots every image with it (images carry no kernel; their ABI version says which kernel ABI
//! they need).
//!
//! The bytes sit page-aligned in the binary's read-only data, so once they are copied into
//! guest RAM, [`release_resident_pages`] can give their pages back: the kernel is then counted
//! once per VM (in guest RAM), not twice.

/// Page-aligned storage, so the kernel's pages are its own.
#[repr(C, align(4096))]
struct PageAligned<T>(T);

const BYTES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/uvm-kernel.bin"));
static KERNEL: PageAligned<[u8; BYTES.len()]> =
    PageAligned(*include_bytes!(concat!(env!("OUT_DIR"), "/uvm-kernel.bin")));

/// The guest kernel's flat binary (loaded at `uvm_abi::layout::KERNEL_BASE`).
pub fn guest_kernel() -> &'static [u8] {
    &KERNEL.0
}

/// Drops the pages wholly inside the kernel's bytes from this process's page tables. They come
/// back, unchanged, from the page cache if the bytes are read again.
pub fn release_resident_pages() {
    let len = KERNEL.0.len() / 4096 * 4096;
    if len == 0 {
        return;
    }
    // SAFETY: `KERNEL` is an immutable static (no interior mutability), so it lives in the
    // binary's read-only data: a private file mapping that is never written. The range starts
    // at its page-aligned start and covers only whole pages inside it. MADV_DONTNEED on such a
    // mapping only drops page-table entries; a later read faults the same bytes back in from
    // the file, so every `&[u8]` handed out by `guest_kernel` still sees the same content.
    unsafe { libc::madvise(KERNEL.0.as_ptr() as *mut libc::c_void, len, libc::MADV_DONTNEED) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_is_page_aligned_and_survives_a_release() {
        let before = guest_kernel().to_vec();
        assert!(before.starts_with(b"UVMKERN\0"));
        assert_eq!(guest_kernel().as_ptr() as usize % 4096, 0);
        release_resident_pages();
        assert_eq!(guest_kernel(), &before[..], "the bytes read back unchanged");
    }
}
