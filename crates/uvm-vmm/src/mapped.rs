//! [`MappedFile`]: an image file mapped read-only and shared. The same mapping serves the
//! image checks (`uvm_image::Image::from_source_releasing`, which gives pages back as it
//! hashes) and the guest's read-only memory slot, so the image is never copied: every VM of
//! one image reads the same page-cache pages.

use std::fs::File;
use std::io;
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
    _file: File,
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
        // SAFETY: a fresh read-only shared mapping of an open file; the kernel picks the
        // address. Bytes past the end of the file in the last page read as zero.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped_len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(MappedFile { inner: Arc::new(Mapping { ptr: ptr.cast(), len, mapped_len, metadata, _file: file }) })
    }

    /// Drops the pages of `range` (byte offsets in the file) from this process's page tables:
    /// they stay in the page cache and come back on the next read (by the VMM, or by KVM for
    /// the guest), so the image counts in the process's RSS only for what is used after the
    /// checks, not for every byte the checksum read.
    pub fn release(&self, range: std::ops::Range<usize>) {
        let start = range.start.next_multiple_of(4096);
        let end = range.end.next_multiple_of(4096).min(self.inner.mapped_len);
        if start >= end {
            return;
        }
        // SAFETY: [start, end) lies inside this live read-only shared file mapping; dropping
        // its page-table entries cannot change what later reads see (the file's pages).
        unsafe { libc::madvise(self.inner.ptr.add(start).cast(), end - start, libc::MADV_DONTNEED) };
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
