//! [`MappedFile`]: an image file mapped read-only and shared. The same mapping serves the
//! image checks (`uvm_image::Image::from_source_releasing`, which gives pages back as it
//! hashes) and the guest's read-only memory slot, so the image is never copied: every VM of
//! one image reads the same page-cache pages.
//!
//! A file of 2 MiB or more is mapped at a 2 MiB-aligned address with transparent huge pages
//! asked for (`MADV_HUGEPAGE`): where the page cache holds the file in 2 MiB folios (read in
//! under that advice), the host maps each with one entry, and KVM can then map a 2 MiB guest
//! page of the image with one shadow entry instead of 512 faults (see
//! [`MappedFile::large_pages`] and the guest's `map_large_image_chunks`).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;

/// A whole file, mapped read-only (MAP_SHARED, so the pages are the page cache's). Clones
/// share the one mapping, which goes away with the last clone.
#[derive(Clone)]
pub struct MappedFile {
    inner: Arc<Mapping>,
}

struct Mapping {
    ptr: *mut u8,
    len: usize,
    /// The mapping's length rounded up to whole pages (what KVM needs for a memory slot).
    mapped_len: usize,
    /// The file's metadata, taken from the open file when it was mapped.
    metadata: std::fs::Metadata,
    /// The mapping is 2 MiB-aligned with huge pages asked for (`MADV_HUGEPAGE`).
    large_pages: bool,
    file: File,
}

// SAFETY: the mapping is read-only and never written through; sharing it between threads is
// sharing an immutable byte slice.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl MappedFile {
    /// Maps the file at `path`. Pages come in on first read (the kernel maps a batch around
    /// each fault); [`MappedFile::release`] takes them out of this process's resident set again.
    pub fn open(path: &Path) -> io::Result<MappedFile> {
        let file = File::open(path)?;
        let metadata = file.metadata()?;
        let len = usize::try_from(metadata.len()).map_err(|_| io::Error::from(io::ErrorKind::FileTooLarge))?;
        let mapped_len = len.div_ceil(4096).max(1) * 4096;
        // For a file of 2 MiB or more the kernel picks a 2 MiB-aligned address where the file
        // system keeps large folios (ext4, xfs, tmpfs); elsewhere it is mapped again, aligned.
        let mut ptr = map_read_only(&file, mapped_len, None)?;
        // (Where the host's transparent huge pages are off, the advice below changes nothing
        // and `backs_with_large_page` says no: reading its policy would cost ~25 us a start.)
        let large = mapped_len >= LARGE_PAGE;
        if large && !(ptr as usize).is_multiple_of(LARGE_PAGE) {
            if let Some(hole) = aligned_hole(mapped_len) {
                match map_read_only(&file, mapped_len, Some(hole)) {
                    Ok(aligned) => {
                        // SAFETY: the first mapping, which nothing uses.
                        unsafe { libc::munmap(ptr, mapped_len) };
                        ptr = aligned;
                    }
                    // SAFETY: the reservation made above, still ours and unused.
                    Err(_) => unsafe {
                        libc::munmap(hole, mapped_len);
                    },
                }
            }
        }
        let large_pages = large && (ptr as usize).is_multiple_of(LARGE_PAGE) && {
            // SAFETY: advice on the mapping just made; it changes no contents.
            unsafe { libc::madvise(ptr, mapped_len, libc::MADV_HUGEPAGE) == 0 }
        };
        let mapping = Mapping { ptr: ptr.cast(), len, mapped_len, metadata, large_pages, file };
        Ok(MappedFile { inner: Arc::new(mapping) })
    }

    /// Drops the pages of `range` (byte offsets in the file) from this process's page tables:
    /// they stay in the page cache and come back on the next read (by the VMM, or by KVM for
    /// the guest), so the image counts in the process's RSS only for what is used after the
    /// checks, not for every byte the checksum read. Calls must come in file order, range
    /// after range (as the checksum reads). With [`MappedFile::large_pages`], whole 2 MiB
    /// pieces go as the ranges complete them, so no 2 MiB host mapping is split.
    pub fn release(&self, range: std::ops::Range<usize>) {
        let granule = if self.inner.large_pages { LARGE_PAGE } else { 4096 };
        let start = range.start - range.start % granule;
        let end = if range.end >= self.inner.len { self.inner.mapped_len } else { range.end - range.end % granule };
        let end = end.min(self.inner.mapped_len);
        if start >= end {
            return;
        }
        // SAFETY: [start, end) lies inside this live read-only shared file mapping; dropping
        // its page-table entries cannot change what later reads see (the file's pages).
        unsafe { libc::madvise(self.inner.ptr.add(start).cast(), end - start, libc::MADV_DONTNEED) };
    }

    /// Whether the image is mapped so that the host can back its 2 MiB-aligned pieces with
    /// 2 MiB pages: 2 MiB-aligned, with huge pages asked for. Whether it does depends on the
    /// host's transparent huge pages (`always` or `madvise`), the file system and the page
    /// cache: a file read in through such a mapping gets 2 MiB folios, one written or read
    /// otherwise small ones ([`MappedFile::reload_in_large_folios`] reads them in again); see
    /// [`MappedFile::backs_with_large_page`].
    pub fn large_pages(&self) -> bool {
        self.inner.large_pages
    }

    /// Whether the host maps the 2 MiB piece of the file at `offset` (2 MiB-aligned) with one
    /// 2 MiB page, as KVM needs to give a guest's 2 MiB page of it one shadow entry. Only with
    /// [`MappedFile::large_pages`], and only where the page cache holds the piece in one
    /// 2 MiB folio (see [`MappedFile::reload_in_large_folios`] for how it comes to). Checked by reading the
    /// piece's first byte (the host maps a 2 MiB folio whole, small ones 64 KiB at most
    /// around the fault) and asking `/proc/self/pagemap` whether its last page is mapped too:
    /// ~15 us.
    pub fn backs_with_large_page(&self, offset: usize) -> bool {
        let end = offset.checked_add(LARGE_PAGE);
        self.inner.large_pages
            && offset.is_multiple_of(LARGE_PAGE)
            && end.is_some_and(|end| end <= self.inner.mapped_len)
            && self.piece_is_mapped_whole(offset)
    }

    /// Reads the first byte of the 2 MiB piece at `offset` and says whether the piece's last
    /// page is mapped after it.
    fn piece_is_mapped_whole(&self, offset: usize) -> bool {
        // SAFETY: `offset` lies inside the live mapping (checked by the caller); a volatile
        // read, so that the page is really touched.
        unsafe { std::ptr::read_volatile(self.inner.ptr.add(offset)) };
        let last_page = self.inner.ptr as usize + offset + LARGE_PAGE - 4096;
        let mut entry = [0u8; 8];
        let read = File::open("/proc/self/pagemap").and_then(|pagemap| {
            std::os::unix::fs::FileExt::read_exact_at(&pagemap, &mut entry, (last_page / 4096 * 8) as u64)
        });
        // Bit 63: the page is present.
        read.is_ok() && u64::from_le_bytes(entry) & (1 << 63) != 0
    }

    /// Reads the 2 MiB pieces of `range` (file offsets, from a 2 MiB-aligned start; a piece
    /// past its end is left alone) in again as 2 MiB folios where the page cache holds them in
    /// small ones (an image just built or copied in): their pages go from this mapping and,
    /// written back first, from the page cache where no other process maps them
    /// (`POSIX_FADV_DONTNEED`), and the first byte of each piece is read again through this
    /// mapping, so the kernel reads the piece ahead whole (a small folio left in a piece would
    /// make its read-ahead fall back to small folios). Best effort; only with
    /// [`MappedFile::large_pages`].
    pub fn reload_in_large_folios(&self, range: std::ops::Range<usize>) {
        let end = range.end.min(self.inner.mapped_len);
        let len = end.saturating_sub(range.start) / LARGE_PAGE * LARGE_PAGE;
        if !self.inner.large_pages || !range.start.is_multiple_of(LARGE_PAGE) || len == 0 {
            return;
        }
        let fd = self.inner.file.as_raw_fd();
        let (offset, bytes) = (range.start as libc::off_t, len as libc::off_t);
        let write_back =
            libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        // SAFETY: [range.start, + len) lies inside this live read-only shared file mapping;
        // dropping its page-table entries changes nothing later reads see. sync_file_range
        // (the range's dirty pages written back) and posix_fadvise take an open descriptor and
        // change no contents.
        unsafe {
            libc::madvise(self.inner.ptr.add(range.start).cast(), len, libc::MADV_DONTNEED);
            libc::sync_file_range(fd, offset, bytes, write_back);
            libc::posix_fadvise(fd, offset, bytes, libc::POSIX_FADV_DONTNEED);
        }
        for piece in (range.start..range.start + len).step_by(LARGE_PAGE) {
            // SAFETY: `piece` lies inside the live mapping; a volatile read, so that the page
            // is really read in.
            unsafe { std::ptr::read_volatile(self.inner.ptr.add(piece)) };
        }
    }

    /// The mapped file's metadata (from the open file: the one mapped, even if the path has
    /// been replaced since).
    pub fn metadata(&self) -> &std::fs::Metadata {
        &self.inner.metadata
    }

    /// Host address of the mapping.
    pub fn host_address(&self) -> u64 {
        self.inner.ptr as u64
    }

    /// Length of the mapping (whole pages).
    pub fn mapped_len(&self) -> usize {
        self.inner.mapped_len
    }

    /// Length of the file.
    pub fn len(&self) -> u64 {
        self.inner.len as u64
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }
}

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr` maps `mapped_len >= len` readable bytes for as long as `self` lives.
        // (If another process truncates the file, reads of the lost pages raise SIGBUS, as for
        // any mapped file; images are written by atomic rename, never truncated in place.)
        unsafe { std::slice::from_raw_parts(self.inner.ptr, self.inner.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`, which nothing uses any more.
        unsafe { libc::munmap(self.ptr.cast(), self.mapped_len) };
    }
}

/// The host's huge-page size, and the alignment of the guest's large image pages.
const LARGE_PAGE: usize = uvm_abi::layout::LARGE_PAGE_SIZE as usize;

/// Maps `len` bytes of `file` read-only and shared, where the kernel picks or over the
/// reservation `at` (from [`aligned_hole`]). Bytes past the end of the file in the last page
/// read as zero.
fn map_read_only(file: &File, len: usize, at: Option<*mut libc::c_void>) -> io::Result<*mut libc::c_void> {
    let fixed = if at.is_some() { libc::MAP_FIXED } else { 0 };
    // SAFETY: a read-only shared mapping of an open file, where the kernel picks the address
    // or over a reservation of this process's own that nothing uses.
    let ptr = unsafe {
        libc::mmap(
            at.unwrap_or(std::ptr::null_mut()),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED | fixed,
            file.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(ptr)
}

/// Reserves `len` bytes of address space at a 2 MiB-aligned address (inaccessible, nothing
/// behind it) for a mapping to replace; `None` if none is left.
fn aligned_hole(len: usize) -> Option<*mut libc::c_void> {
    let span = len.checked_add(LARGE_PAGE)?;
    // SAFETY: a fresh inaccessible anonymous mapping where the kernel picks the address.
    let raw = unsafe {
        libc::mmap(std::ptr::null_mut(), span, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    if raw == libc::MAP_FAILED {
        return None;
    }
    let raw = raw as usize;
    let aligned = raw.next_multiple_of(LARGE_PAGE);
    // SAFETY: the parts of the reservation just made before and after the aligned hole.
    unsafe {
        if aligned > raw {
            libc::munmap(raw as *mut libc::c_void, aligned - raw);
        }
        let tail = aligned + len;
        if raw + span > tail {
            libc::munmap(tail as *mut libc::c_void, raw + span - tail);
        }
    }
    Some(aligned as *mut libc::c_void)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file written at a path of its own under the temporary directory, removed when dropped.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(bytes: &[u8]) -> TempFile {
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("uvm-mapped-test-{}-{n}", std::process::id()));
            std::fs::write(&path, bytes).expect("write the test file");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_file_of_2_mib_or_more_maps_2_mib_aligned_with_huge_pages_where_allowed() {
        let bytes: Vec<u8> = (0..(3 << 20) + 100).map(|i| (i % 251) as u8).collect();
        let file = TempFile::new(&bytes);
        let mapped = MappedFile::open(&file.0).expect("map");
        assert_eq!(mapped.as_ref(), &bytes[..]);
        assert!(mapped.large_pages());
        assert_eq!(mapped.host_address() % LARGE_PAGE as u64, 0);
        // Released in file order, as the checksum does; the bytes read the same after.
        for start in (0..bytes.len()).step_by(256 << 10) {
            mapped.release(start..(start + (256 << 10)).min(bytes.len()));
        }
        mapped.reload_in_large_folios(0..bytes.len());
        assert_eq!(mapped.as_ref(), &bytes[..]);

        // Whether the host backs a piece with a 2 MiB page depends on its page cache and file
        // system; asking is harmless either way, and never says so outside the file.
        let big: Vec<u8> = (0..(5 << 20)).map(|i| (i % 251) as u8).collect();
        let big_file = TempFile::new(&big);
        let big_mapped = MappedFile::open(&big_file.0).expect("map");
        big_mapped.reload_in_large_folios((2 << 20)..big.len());
        let backed = big_mapped.backs_with_large_page(2 << 20);
        assert!(!backed || big_mapped.large_pages());
        assert!(!big_mapped.backs_with_large_page(4 << 20), "the piece would end past the file");
        assert!(!big_mapped.backs_with_large_page(4096), "not 2 MiB-aligned");
        assert_eq!(big_mapped.as_ref(), &big[..]);

        let small = TempFile::new(b"small");
        let small = MappedFile::open(&small.0).expect("map");
        assert!(!small.large_pages());
        assert_eq!(small.as_ref(), b"small");
    }
}
