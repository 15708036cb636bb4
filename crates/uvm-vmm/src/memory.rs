//! Guest memory: the RAM slot and the read-only image slot, as host mappings.
//!
//! RAM is anonymous private memory up to the frames the guest's allocator hands out fresh, and
//! shared anonymous memory from there on ([`GuestMemory::share_fresh_ram`]: a first read of
//! such a frame then gets a writable page, not the host's zero page); the guest kernel's cold
//! text is mapped privately from the `uvm` binary ([`GuestMemory::map_file_over_ram`]); the
//! image file is mapped shared and read-only. So every VM reads the same page-cache pages of
//! the last two (zero copy). All guest-memory access from the VMM goes through
//! [`GuestMemory`] (bounds-checked copies by vm-memory), so a guest-supplied address can never
//! reach outside it. Two exceptions, both checked against RAM here: the network's readiness
//! area is shared with the guest through atomics ([`GuestMemory::atomic_u32`],
//! [`GuestMemory::atomic_u64`]), and socket transfers move bytes straight between a host
//! socket and guest RAM through iovecs ([`GuestMemory::ram_iovecs`]).

use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64};

use uvm_abi::layout::{IMAGE_GPA, PAGE_SIZE};
use vm_memory::bitmap::Bitmap;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap, GuestRegionMmap, MmapRegion};

use crate::error::VmError;
use crate::mapped::MappedFile;

/// `madvise` advice: populate (prefault) page tables writable (Linux 5.14).
const MADV_POPULATE_WRITE: libc::c_int = 23;

/// Why [`GuestMemory::map_file_over_ram`] or [`GuestMemory::share_fresh_ram`] mapped nothing.
#[derive(Debug)]
pub enum MapOverRamError {
    /// RAM is as it was (fresh anonymous memory there).
    NotMapped(io::Error),
    /// The failed mapping took that part of RAM away and it could not be put back: the guest
    /// must not run.
    RamLost(io::Error),
}

/// The guest's memory as the VMM sees it. Clones share its mappings, which go away with the
/// last clone (a `HotCopier` fills frames through one while the guest runs).
#[derive(Clone)]
pub struct GuestMemory {
    memory: GuestMemoryMmap,
    /// Host address of RAM's first byte (RAM is one mapping of `ram_size` bytes).
    ram_host: usize,
    ram_size: u64,
    image_size: u64,
    _image: MappedFile,
    /// Where RAM's shared anonymous part starts ([`GuestMemory::share_fresh_ram`];
    /// `u64::MAX`: none), shared by every clone.
    shared_from: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl GuestMemory {
    /// Maps `ram_size` bytes of fresh RAM at GPA 0, and puts the already mapped `image` at
    /// [`IMAGE_GPA`] (the mapping is shared, not copied; it stays alive with this memory).
    pub fn new(ram_size: u64, image: &MappedFile) -> Result<GuestMemory, VmError> {
        let ram_len = usize::try_from(ram_size)
            .map_err(|_| VmError::Memory { what: "guest RAM", source: io::Error::from(io::ErrorKind::OutOfMemory) })?;
        let ram = MmapRegion::new(ram_len).map_err(|e| VmError::Memory { what: "guest RAM", source: mmap_error(e) })?;
        avoid_huge_pages(ram.as_ptr(), ram_len);
        // SAFETY: `image` is a live read-only shared mapping of `mapped_len` bytes; this
        // memory keeps a clone of it, so it outlives the region.
        let image_map = unsafe {
            MmapRegion::build_raw(
                image.host_address() as *mut u8,
                image.mapped_len(),
                libc::PROT_READ,
                libc::MAP_SHARED,
            )
        }
        .map_err(|e| VmError::Memory { what: "the image", source: mmap_error(e) })?;
        let regions = vec![region(ram, 0)?, region(image_map, IMAGE_GPA)?];
        let memory = GuestMemoryMmap::from_regions(regions)
            .map_err(|e| VmError::Memory { what: "guest memory", source: io::Error::other(e.to_string()) })?;
        let mut guest = GuestMemory {
            memory,
            ram_host: 0,
            ram_size,
            image_size: image.len(),
            _image: image.clone(),
            shared_from: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX)),
        };
        guest.ram_host = guest.ram_host_range().0 as usize;
        Ok(guest)
    }

    /// Guest memory of `ram_size` bytes of RAM and a small image of zeros, for tests.
    #[cfg(test)]
    pub(crate) fn for_tests(ram_size: u64) -> GuestMemory {
        GuestMemory::for_tests_with_image(ram_size, &[0u8; 4096])
    }

    /// Guest memory of `ram_size` bytes of RAM and an image holding `image`, for tests.
    #[cfg(test)]
    pub(crate) fn for_tests_with_image(ram_size: u64, image: &[u8]) -> GuestMemory {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "uvm-memory-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, image).expect("test image");
        let image = MappedFile::open(&path).expect("test image mapping");
        let _ = std::fs::remove_file(&path);
        GuestMemory::new(ram_size, &image).expect("test guest memory")
    }

    /// Bytes of RAM.
    pub fn ram_size(&self) -> u64 {
        self.ram_size
    }

    /// Bytes of the image file.
    pub fn image_size(&self) -> u64 {
        self.image_size
    }

    /// Host address and length of the RAM mapping (for the KVM memory slot).
    pub fn ram_host_range(&self) -> (u64, u64) {
        self.host_range(GuestAddress(0))
    }

    /// Host address and length of the image mapping (for the KVM memory slot).
    pub fn image_host_range(&self) -> (u64, u64) {
        self.host_range(GuestAddress(IMAGE_GPA))
    }

    fn host_range(&self, base: GuestAddress) -> (u64, u64) {
        use vm_memory::GuestMemoryBackend;
        match self.memory.find_region(base) {
            Some(r) => (r.as_ptr() as u64, r.size() as u64),
            None => (0, 0),
        }
    }

    /// Whether `[gpa, gpa + len)` lies entirely in guest RAM.
    pub fn is_ram(&self, gpa: u64, len: u64) -> bool {
        matches!(gpa.checked_add(len), Some(end) if end <= self.ram_size)
    }

    /// Copies `buf.len()` bytes of RAM at `gpa` into `buf`. `None` if not all of it is RAM.
    pub fn read_ram(&self, gpa: u64, buf: &mut [u8]) -> Option<()> {
        if !self.is_ram(gpa, buf.len() as u64) {
            return None;
        }
        self.memory.read_slice(buf, GuestAddress(gpa)).ok()
    }

    /// Copies `buf` into RAM at `gpa`. `None` if not all of it is RAM.
    pub fn write_ram(&self, gpa: u64, buf: &[u8]) -> Option<()> {
        if !self.is_ram(gpa, buf.len() as u64) {
            return None;
        }
        self.memory.write_slice(buf, GuestAddress(gpa)).ok()
    }

    /// Reads `len` bytes of `file` from `offset` into RAM at `gpa` (`pread`: the kernel
    /// copies the page cache's bytes straight into RAM, and this process maps none of the
    /// file's pages for it, so takes no page fault on them). `None` if not all of it is RAM,
    /// or the read fails or ends early.
    pub fn read_file_into_ram(&self, gpa: u64, len: u64, file: &std::fs::File, offset: u64) -> Option<()> {
        use std::os::fd::AsRawFd;
        if !self.is_ram(gpa, len) {
            return None;
        }
        let (mut done, len) = (0usize, usize::try_from(len).ok()?);
        while done < len {
            let at = libc::off_t::try_from(offset.checked_add(done as u64)?).ok()?;
            // SAFETY: `[gpa + done, gpa + len)` lies inside the RAM mapping this value owns
            // (checked above); the kernel writes at most `len - done` bytes there, plain bytes
            // that any content of RAM may hold. No reference into that range is alive (RAM is
            // only reached through raw pointers and vm-memory's volatile accessors).
            let read = unsafe {
                libc::pread(
                    file.as_raw_fd(),
                    (self.ram_host + gpa as usize + done) as *mut libc::c_void,
                    len - done,
                    at,
                )
            };
            match read {
                n if n > 0 => done += n as usize,
                -1 if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
                _ => return None,
            }
        }
        Some(())
    }

    /// Has the host back `[gpa, gpa + len)` of RAM now, in one call (a page costs ~1 us so,
    /// ~2 us as a fault on first write). Besides, KVM maps a guest page fault's neighbours
    /// along with it only where the host already backs them: the guest then takes one fault
    /// per 8 pages there instead of one per page. A hint: failures (an old host without
    /// `MADV_POPULATE_WRITE`, a range outside RAM) are ignored.
    pub fn prefault_ram(&self, gpa: u64, len: u64) {
        let page_mask = PAGE_SIZE - 1;
        let Some(len) = len.checked_add(gpa & page_mask).and_then(|l| l.checked_next_multiple_of(PAGE_SIZE)) else {
            return;
        };
        let gpa = gpa & !page_mask;
        if !self.is_ram(gpa, len) {
            return;
        }
        // SAFETY: the range is page-aligned and inside the RAM mapping (checked above);
        // populating only allocates the zero-filled pages the mapping would get on first touch.
        unsafe {
            libc::madvise((self.ram_host + gpa as usize) as *mut libc::c_void, len as usize, MADV_POPULATE_WRITE)
        };
    }

    /// Gives `[gpa, gpa + len)` of RAM (page-aligned, inside RAM: the caller checked) back to
    /// the host: its pages are freed, and read as zeros if the guest touches them again. KVM
    /// drops its mappings of them as the host unmaps them. Private memory is freed by
    /// `MADV_DONTNEED`; the shared anonymous part ([`GuestMemory::share_fresh_ram`]), whose
    /// pages `MADV_DONTNEED` would only unmap, by `MADV_REMOVE`.
    pub fn release_ram(&self, gpa: u64, len: u64) {
        let Some(end) = gpa.checked_add(len).filter(|_| self.is_ram(gpa, len) && len > 0) else { return };
        let shared_from = self.shared_from.load(std::sync::atomic::Ordering::Acquire).clamp(gpa, end);
        for (from, to, advice) in [(gpa, shared_from, libc::MADV_DONTNEED), (shared_from, end, libc::MADV_REMOVE)] {
            if from < to {
                // SAFETY: the range is inside the RAM mapping (checked above), which this
                // struct owns; dropping its pages changes only what the guest reads there.
                unsafe {
                    libc::madvise((self.ram_host + from as usize) as *mut libc::c_void, (to - from) as usize, advice)
                };
            }
        }
    }

    /// Maps `len` bytes of `file` from `offset` over RAM at `gpa` (all page aligned), privately:
    /// the guest then reads the file's page-cache pages, the same pages every process mapping
    /// them reads, and a write there (the guest's or the VMM's) gets a private copy that never
    /// reaches the file. For staging, before the guest runs: what RAM held there is replaced.
    pub fn map_file_over_ram(
        &self,
        gpa: u64,
        len: u64,
        file: &std::fs::File,
        offset: u64,
    ) -> Result<(), MapOverRamError> {
        use std::os::fd::AsRawFd;
        self.map_over_ram(gpa, len, libc::MAP_PRIVATE, file.as_raw_fd(), offset)
    }

    /// Backs RAM from `gpa` (page-aligned) to its end with shared anonymous memory (shmem
    /// that nothing else maps: uvm never forks) instead of private anonymous memory: the frames
    /// the guest's allocator hands out fresh. What differs is a first read of such a frame (a
    /// page table the kernel looks into, memory the app reads before writing): private memory
    /// answers it with the host's zero page, read-only, and the write that usually follows
    /// costs KVM a second shadow-page fault; shared memory gets a page of its own at once,
    /// mapped writable. Staging's own writes stay in private memory below `gpa`, which
    /// `MADV_POPULATE_WRITE` backs faster. For staging, before the guest runs and before
    /// anything is written from `gpa` on; on failure RAM stays private memory there.
    pub fn share_fresh_ram(&self, gpa: u64) -> Result<(), MapOverRamError> {
        let len = self.ram_size.saturating_sub(gpa);
        self.map_over_ram(gpa, len, libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0)?;
        self.shared_from.store(gpa, std::sync::atomic::Ordering::Release);
        avoid_huge_pages((self.ram_host + gpa as usize) as *mut u8, len as usize);
        Ok(())
    }

    /// Maps `len` bytes of `fd` from `offset`, readable and writable with `flags`, over RAM at
    /// `gpa` (all page aligned). On failure the range is fresh private memory again.
    fn map_over_ram(
        &self,
        gpa: u64,
        len: u64,
        flags: libc::c_int,
        fd: libc::c_int,
        offset: u64,
    ) -> Result<(), MapOverRamError> {
        let aligned = [gpa, len, offset].iter().all(|v| v.is_multiple_of(PAGE_SIZE));
        let offset = libc::off_t::try_from(offset).ok();
        let (Some(offset), true, true) = (offset, aligned, len > 0 && self.is_ram(gpa, len)) else {
            return Err(MapOverRamError::NotMapped(io::Error::from(io::ErrorKind::InvalidInput)));
        };
        // SAFETY: the range is page-aligned and inside the RAM mapping this value owns
        // (checked above), so MAP_FIXED replaces pages of that mapping only, with readable and
        // writable memory of the same size: every accessor here keeps working, and dropping
        // the RAM region unmaps it with the rest. Staging calls this before the guest runs
        // and before anything holds a reference into RAM (the atomics are handed out later,
        // for the network's area).
        let mapped = unsafe {
            libc::mmap(
                (self.ram_host + gpa as usize) as *mut libc::c_void,
                len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                flags | libc::MAP_FIXED,
                fd,
                offset,
            )
        };
        if mapped != libc::MAP_FAILED {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        // A failed MAP_FIXED may have unmapped the range already: put fresh anonymous memory
        // back (what RAM held there, since staging writes there only afterwards).
        // SAFETY: as above: the same range of the RAM mapping, now anonymous memory again.
        let restored = unsafe {
            libc::mmap(
                (self.ram_host + gpa as usize) as *mut libc::c_void,
                len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if restored == libc::MAP_FAILED {
            return Err(MapOverRamError::RamLost(io::Error::last_os_error()));
        }
        // A new mapping: like the rest of RAM, never backed with huge pages.
        avoid_huge_pages(restored.cast(), len as usize);
        Err(MapOverRamError::NotMapped(error))
    }

    /// Makes the host mapping of RAM `[gpa, gpa + len)` (page-aligned) read-only: KVM then
    /// maps no neighbours along with a guest fault there (its look-ahead wants writable host
    /// pages), so every page the guest touches faults on its own (`kernel-text-profile`).
    #[cfg(feature = "kernel-text-profile")]
    pub fn protect_read_only(&self, gpa: u64, len: u64) -> io::Result<()> {
        if !gpa.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) || !self.is_ram(gpa, len) {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: the range is page-aligned and inside the RAM mapping (checked above); the
        // guest may read it still, and the VMM writes no more into it after this.
        let r = unsafe {
            libc::mprotect((self.ram_host + gpa as usize) as *mut libc::c_void, len as usize, libc::PROT_READ)
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The runs of pages of RAM in `[gpa, gpa + len)` (page aligned) the host backs now, as
    /// `(first page, pages)` counted from `gpa`'s page; `None` outside RAM or if the host
    /// will not tell. (What a start that learns its hot pages records of the fresh frames
    /// the guest touched: `crate::hot_pages`.)
    pub fn resident_runs(&self, gpa: u64, len: u64) -> Option<Vec<(u64, u64)>> {
        if !gpa.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) || !self.is_ram(gpa, len) {
            return None;
        }
        let mut residency = vec![0u8; (len / PAGE_SIZE) as usize];
        // SAFETY: the range is page-aligned and inside the RAM mapping (checked above); mincore
        // only reads the page tables and writes one byte per page into `residency`, which
        // holds as many.
        let r = unsafe {
            libc::mincore((self.ram_host + gpa as usize) as *mut libc::c_void, len as usize, residency.as_mut_ptr())
        };
        if r != 0 {
            return None;
        }
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for (page, _) in residency.iter().enumerate().filter(|(_, &byte)| byte & 1 != 0) {
            let page = page as u64;
            match runs.last_mut() {
                Some((first, pages)) if *first + *pages == page => *pages += 1,
                _ => runs.push((page, 1)),
            }
        }
        Some(runs)
    }

    /// Whether the host page behind RAM address `gpa` is resident (for tests of what is backed
    /// before boot).
    #[cfg(test)]
    pub(crate) fn is_resident(&self, gpa: u64) -> bool {
        let page = gpa & !(PAGE_SIZE - 1);
        if !self.is_ram(page, PAGE_SIZE) {
            return false;
        }
        let mut residency = [0u8; 1];
        // SAFETY: the page lies inside the RAM mapping (checked above); mincore only reads the
        // page tables and writes one byte per page into `residency`.
        let r = unsafe {
            libc::mincore(
                (self.ram_host + page as usize) as *mut libc::c_void,
                PAGE_SIZE as usize,
                residency.as_mut_ptr(),
            )
        };
        r == 0 && residency[0] & 1 != 0
    }

    /// Reads a plain-data object from RAM. `None` if not all of it is RAM.
    pub fn read_plain<T: Plain>(&self, gpa: u64) -> Option<T> {
        let mut bytes = vec![0u8; std::mem::size_of::<T>()];
        self.read_ram(gpa, &mut bytes)?;
        // SAFETY: `bytes` holds exactly size_of::<T>() initialised bytes, `read_unaligned`
        // has no alignment requirement, and `T: Plain` promises every bit pattern is a valid T.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
    }

    /// Writes a plain-data object into RAM. `None` if not all of it is RAM.
    pub fn write_plain<T: Plain>(&self, gpa: u64, value: &T) -> Option<()> {
        // SAFETY: `value` is a valid, initialised T of size_of::<T>() bytes; `T: Plain` has no
        // padding, so every byte of it is initialised.
        let bytes = unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>()) };
        self.write_ram(gpa, bytes)
    }

    /// The u32 of RAM at `gpa` as an atomic, shared with the guest (which accesses it with
    /// atomics too). `None` unless it lies in RAM and `gpa` is 4-byte aligned.
    pub fn atomic_u32(&self, gpa: u64) -> Option<&AtomicU32> {
        let ptr = self.aligned_ram_ptr(gpa, 4)?;
        // SAFETY: `ptr` points at 4 bytes inside the RAM mapping, which lives as long as
        // `self` (the borrow bounds the reference), and is 4-byte aligned; every bit pattern
        // is a valid u32, and all host accesses to words shared this way are atomic.
        Some(unsafe { AtomicU32::from_ptr(ptr.cast()) })
    }

    /// The u64 of RAM at `gpa` as an atomic (see [`GuestMemory::atomic_u32`]); `gpa` must be
    /// 8-byte aligned.
    pub fn atomic_u64(&self, gpa: u64) -> Option<&AtomicU64> {
        let ptr = self.aligned_ram_ptr(gpa, 8)?;
        // SAFETY: as in `atomic_u32`, for 8 aligned bytes.
        Some(unsafe { AtomicU64::from_ptr(ptr.cast()) })
    }

    fn aligned_ram_ptr(&self, gpa: u64, size: u64) -> Option<*mut u8> {
        if !gpa.is_multiple_of(size) || !self.is_ram(gpa, size) {
            return None;
        }
        Some((self.ram_host + gpa as usize) as *mut u8)
    }

    /// Host iovecs for the RAM ranges `chunks` (for a socket's sendmsg or recvmsg, which move
    /// bytes straight between the socket and guest RAM). `None` if any range is not RAM or the
    /// ranges hold more than `max_total` bytes. The iovecs point into the RAM mapping: they
    /// are valid while `self` lives.
    pub fn ram_iovecs(&self, chunks: &[(u64, u64)], max_total: u64) -> Option<Vec<libc::iovec>> {
        let mut total: u64 = 0;
        let mut iovecs = Vec::with_capacity(chunks.len());
        for &(gpa, len) in chunks {
            total = total.checked_add(len)?;
            if total > max_total || !self.is_ram(gpa, len) {
                return None;
            }
            iovecs.push(libc::iovec {
                iov_base: (self.ram_host + gpa as usize) as *mut libc::c_void,
                iov_len: len as usize,
            });
        }
        Some(iovecs)
    }

    /// Reads a little-endian u64 of RAM.
    pub fn read_u64(&self, gpa: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.read_ram(gpa, &mut b)?;
        Some(u64::from_le_bytes(b))
    }

    /// Writes a little-endian u64 into RAM.
    pub fn write_u64(&self, gpa: u64, value: u64) -> Option<()> {
        self.write_ram(gpa, &value.to_le_bytes())
    }

    /// Copies `len` bytes of the image at file offset `offset` into RAM at `gpa`. `None` if
    /// the source is outside the image or the destination outside RAM.
    pub fn copy_image_to_ram(&self, offset: u64, gpa: u64, len: u64) -> Option<()> {
        let end = offset.checked_add(len)?;
        if end > self.image_size || !self.is_ram(gpa, len) {
            return None;
        }
        let bytes = (*self._image.as_ref()).get(offset as usize..end as usize)?;
        self.memory.write_slice(bytes, GuestAddress(gpa)).ok()
    }

    /// Copies bytes of the image (mapped at [`IMAGE_GPA`]) at file offset `offset`.
    pub fn read_image(&self, offset: u64, buf: &mut [u8]) -> Option<()> {
        let end = offset.checked_add(buf.len() as u64)?;
        if end > self.image_size {
            return None;
        }
        self.memory.read_slice(buf, GuestAddress(IMAGE_GPA + offset)).ok()
    }
}

/// Plain data: `#[repr(C)]` structs of integers with no padding, for which every bit pattern
/// is a valid value. Only such types cross the VM boundary.
///
/// # Safety
/// Implement only for types with no padding bytes, no pointers or references, and no field
/// with invalid bit patterns (no bool, char or enum).
pub unsafe trait Plain: Copy {}

// SAFETY: all of these are #[repr(C)] structs of u32/u64/i32/i64 fields laid out without
// padding (their layout is asserted by uvm-abi's tests).
unsafe impl Plain for uvm_abi::hypercall::ConsoleWrite {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::ConsoleRead {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::ConsoleRing {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::Exit {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::Fatal {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::Message {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::CopyFromImage {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::BackRam {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::ReleaseRam {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::RamReady {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::MemoryChunk {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::ConsolePoll {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::VcpuStart {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::Park {}
// SAFETY: as above.
unsafe impl Plain for uvm_abi::hypercall::Interrupt {}
// SAFETY: as above: integers only, no padding (checked by its size test in uvm-abi).
unsafe impl Plain for uvm_abi::hypercall::Alarm {}
// SAFETY: as above (NetCall: u32/u64/i32/i64 fields, a byte array and an array of NetOption,
// itself four 32-bit fields; 336 bytes, no padding).
unsafe impl Plain for uvm_abi::net::NetCall {}
// SAFETY: as above (FsCall: u32/u64/i64 fields and a HostStat of u64/u32/i64 fields and
// i64 arrays; 224 bytes, no padding, asserted by uvm-abi's layout test).
unsafe impl Plain for uvm_abi::hostfs::FsCall {}
// SAFETY: as above (HostStatFs: ten u64 fields, 80 bytes).
unsafe impl Plain for uvm_abi::hostfs::HostStatFs {}
// SAFETY: as above (BootInfo: u64/u32 fields and a u64 array, 176 bytes, no padding).
unsafe impl Plain for uvm_abi::boot::BootInfo {}
// SAFETY: as above (KernelHeader: a byte array and u32/u64 fields, 72 bytes, no padding).
unsafe impl Plain for uvm_abi::kernel::KernelHeader {}

fn region<B: Bitmap>(map: MmapRegion<B>, gpa: u64) -> Result<GuestRegionMmap<B>, VmError> {
    GuestRegionMmap::new(map, GuestAddress(gpa))
        .ok_or(VmError::Memory { what: "guest memory", source: io::Error::from(io::ErrorKind::InvalidInput) })
}

fn mmap_error(e: vm_memory::mmap::MmapRegionError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Asks the host not to back `[start, start + len)` (a RAM mapping) with transparent huge
/// pages, whatever its policy: on a host that uses them everywhere (`enabled` = `always`, the
/// default of some distributions) staging's first writes would each allocate and zero 2 MiB,
/// ~1 ms more per start here (measured: stage memory 0.27 -> 1.0-1.3 ms), for a guest that
/// maps its memory in 4 KiB pages anyway. A hint: a failure is ignored.
fn avoid_huge_pages(start: *mut u8, len: usize) {
    // SAFETY: madvise on a range of a mapping this module made; MADV_NOHUGEPAGE only changes
    // how the host may back it, never its contents.
    unsafe { libc::madvise(start.cast(), len, libc::MADV_NOHUGEPAGE) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The permissions column of the host mapping that starts at `address`, from /proc/self/maps.
    fn perms_at(address: usize) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        let line = maps.lines().find(|line| line.starts_with(&format!("{address:x}-")))?;
        line.split_whitespace().nth(1).map(str::to_string)
    }

    /// The `VmFlags` of the host mapping that starts at `address`, from /proc/self/smaps.
    fn vm_flags_at(address: usize) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let start = smaps.find(&format!("{address:x}-"))?;
        let flags = smaps[start..].lines().find(|line| line.starts_with("VmFlags:"))?;
        Some(flags.to_string())
    }

    #[test]
    fn a_file_is_read_into_ram_whole_or_not_at_all() {
        let memory = GuestMemory::for_tests(4 << 20);
        let bytes: Vec<u8> = (0..3 * 4096u32).map(|i| (i % 253) as u8).collect();
        let path = std::env::temp_dir().join(format!("uvm-read-into-ram-{}", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        memory.read_file_into_ram(0x1_0000, 2 * 4096, &file, 4096).unwrap();
        let mut read = vec![0u8; 2 * 4096];
        memory.read_ram(0x1_0000, &mut read).unwrap();
        assert!(read == bytes[4096..], "the bytes from the offset on");
        assert!(memory.read_file_into_ram(0x1_0000, 3 * 4096, &file, 4096).is_none(), "the file ends early");
        assert!(memory.read_file_into_ram((4 << 20) - 4096, 2 * 4096, &file, 0).is_none(), "past RAM");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn ram_is_never_backed_with_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            return; // a host kernel without them: nothing to avoid
        }
        let memory = GuestMemory::for_tests(4 << 20);
        memory.share_fresh_ram(2 << 20).unwrap();
        for at in [memory.ram_host, memory.ram_host + (2 << 20)] {
            let flags = vm_flags_at(at).unwrap_or_default();
            assert!(flags.split_whitespace().any(|f| f == "nh"), "no huge pages at {at:#x}: {flags}");
        }
    }

    #[test]
    fn fresh_ram_becomes_shared_memory_and_what_is_below_keeps_its_bytes() {
        let memory = GuestMemory::for_tests(4 << 20);
        memory.write_ram(0x1000, b"kept").unwrap();
        let fresh = 2 << 20;
        memory.share_fresh_ram(fresh).unwrap();
        let mut kept = [0u8; 4];
        memory.read_ram(0x1000, &mut kept).unwrap();
        assert_eq!(&kept, b"kept");
        let mut zero = [1u8; 8];
        memory.read_ram(fresh, &mut zero).unwrap();
        assert_eq!(zero, [0; 8], "fresh memory reads zero");
        memory.write_ram(fresh + 0x1000, b"new").unwrap();
        let mut new = [0u8; 3];
        memory.read_ram(fresh + 0x1000, &mut new).unwrap();
        assert_eq!(&new, b"new");
        assert_eq!(perms_at(memory.ram_host + fresh as usize).as_deref(), Some("rw-s"), "shared from there on");
        assert_eq!(perms_at(memory.ram_host).as_deref(), Some("rw-p"), "private below");
        assert!(matches!(memory.share_fresh_ram(fresh + 1), Err(MapOverRamError::NotMapped(_))), "unaligned");
        assert!(matches!(memory.share_fresh_ram(4 << 20), Err(MapOverRamError::NotMapped(_))), "nothing past RAM");
    }

    #[test]
    fn ram_given_back_reads_zeros_on_both_sides_of_the_shared_part() {
        let memory = GuestMemory::for_tests(4 << 20);
        let fresh = 2 << 20;
        memory.share_fresh_ram(fresh).unwrap();
        let span = fresh - 0x2000..fresh + 0x2000;
        memory.write_ram(span.start, &[0xaa; 0x4000]).unwrap();
        // A page each side of where the shared part starts: MADV_DONTNEED below, MADV_REMOVE
        // above (MADV_DONTNEED would leave a shared page's bytes).
        memory.release_ram(fresh - 0x1000, 0x2000);
        let mut pages = [0u8; 0x4000];
        memory.read_ram(span.start, &mut pages).unwrap();
        assert!(pages[..0x1000].iter().all(|&b| b == 0xaa), "below the range: kept");
        assert!(pages[0x1000..0x3000].iter().all(|&b| b == 0), "the range, private and shared: zeros");
        assert!(pages[0x3000..].iter().all(|&b| b == 0xaa), "above the range: kept");
        memory.release_ram(4 << 20, 0x1000);
        memory.release_ram(u64::MAX - 0xfff, 0x1000);
    }
}
