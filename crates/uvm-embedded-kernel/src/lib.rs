//! The guest kernel, built from guest/ by build.rs and embedded in the `uvm` binary: `uvm run`
//! boots every image with it (images carry no kernel; their ABI version says which kernel ABI
//! they need).
//!
//! The bytes sit page-aligned in the binary's read-only data. So [`backing_file`] can name them
//! in the binary's file, for the VMM to map the kernel's cold text from there into every VM
//! (one copy in the page cache for all of them), and once the rest is copied into guest RAM,
//! [`release_resident_pages`] can give its pages back: it is then counted once per VM, not twice.

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

/// The file this program runs from and where the kernel's bytes lie in it (page aligned): the
/// kernel's pages are then page-cache pages of that file, which every `uvm` process shares.
/// `None` when /proc is not mounted, or the bytes are not found in the file where the
/// program's loaded segments say (a packed binary, for one).
pub fn backing_file() -> Option<(std::fs::File, u64)> {
    use std::os::unix::fs::FileExt;
    let offset = file_offset_of(KERNEL.0.as_ptr() as u64, KERNEL.0.len() as u64)?;
    let file = std::fs::File::open("/proc/self/exe").ok()?;
    // The segments are the ones this process was loaded from, and /proc/self/exe is the file
    // it was loaded from, so the bytes are there; the first page is compared all the same,
    // against a mistake here or a binary that unpacks itself.
    let mut first_page = vec![0u8; KERNEL.0.len().min(4096)];
    file.read_exact_at(&mut first_page, offset).ok()?;
    (first_page[..] == KERNEL.0[..first_page.len()]).then_some((file, offset))
}

/// Where the `len` bytes at address `addr` of this program come from in its file: the offset
/// a loaded segment that holds them all (within its file bytes) gives them.
fn file_offset_of(addr: u64, len: u64) -> Option<u64> {
    struct Search {
        addr: u64,
        len: u64,
        found: Option<u64>,
    }
    /// `dl_iterate_phdr`'s callback: stops at the loaded segment that holds the search's bytes.
    ///
    /// # Safety
    /// `info` must describe one loaded object as `dl_iterate_phdr` passes it, and `data` must
    /// be the `Search` `file_offset_of` handed it, with nothing else borrowing it.
    unsafe extern "C" fn visit(info: *mut libc::dl_phdr_info, _size: usize, data: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `dl_iterate_phdr` passes a valid `info` describing one loaded object, whose
        // `dlpi_phdr` points at its `dlpi_phnum` program headers, and `data` is the `Search`
        // that `file_offset_of` handed it, alive and not otherwise borrowed for the call.
        let (info, search, headers) = unsafe {
            let info = &*info;
            let headers = std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum));
            (info, &mut *(data as *mut Search), headers)
        };
        for header in headers.iter().filter(|h| h.p_type == libc::PT_LOAD) {
            let start = info.dlpi_addr.wrapping_add(header.p_vaddr);
            let inside = search.addr >= start
                && search.addr.checked_add(search.len).is_some_and(|end| end <= start.saturating_add(header.p_filesz));
            if inside {
                search.found = header.p_offset.checked_add(search.addr - start);
                return 1;
            }
        }
        0
    }
    let mut search = Search { addr, len, found: None };
    // SAFETY: `visit` matches the callback type, reads only what `dl_iterate_phdr` passes it,
    // and `search` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&mut search as *mut Search).cast()) };
    search.found.filter(|offset| offset % 4096 == 0)
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

    #[test]
    fn the_backing_file_holds_the_kernel_at_its_offset() {
        use std::os::unix::fs::FileExt;
        let (file, offset) = backing_file().expect("the test binary embeds the kernel in a loaded segment");
        assert_eq!(offset % 4096, 0);
        let mut bytes = vec![0u8; guest_kernel().len()];
        file.read_exact_at(&mut bytes, offset).unwrap();
        assert!(bytes == guest_kernel(), "the file's bytes at the offset are the kernel's, all of them");
        assert_eq!(file_offset_of(0x10, 1), None, "an address outside every segment");
    }
}
