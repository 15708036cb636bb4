//! The app's address space: its mappings (VMAs), the program break, and what fills a page
//! when the app first touches it.
//!
//! Linux semantics for mmap/munmap/mprotect/brk, within one rule of this platform: a present
//! page-table entry that is changed or removed needs a resync (a flush hypercall) before the
//! app runs again, and a frame it pointed to is freed only after that flush.
//! Small anonymous mappings are filled at once (a fault costs ~25 us here, a page-table store
//! ~0.1 us); large or MAP_NORESERVE ones and the stack's reserve are filled on first touch.
//!
//! Mappings of tmpfs files ([`Backing::File`]) map the file's own frames (entries marked
//! [`paging::SOFT_BORROWED`]: unmapping never frees them), so a write through a shared one is
//! seen by `read` and by every other mapping of the file, and a read-only private one sees
//! the file's later writes, as on Linux. A private mapping's writable pages are copies of
//! the file's (made when the page is filled or made writable). The address space holds each
//! mapped file ([`SharedPages`]) while a mapping of it exists and tells it so, and the file
//! then frees none of its frames.
//!
//! `mremap` moves pages by moving their page-table entries (no copy): the new entries are
//! filled in where nothing was present, the old ones removed (a flush before the app runs);
//! the frames themselves stay, so nothing is freed.
//!
//! What `/proc` shows of the address space ([`MemoryShare`]) lives apart from it, because
//! `/proc` is read while a syscall holds the address space: the mappings' copy changes with
//! them ([`super::vmas`]), the mapped files' list at the next [`AddressSpace::flush_now`].

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use uvm_abi::layout::{
    align_down, align_up, pte, DIRECT_MAP_VA, IMAGE_GPA, LARGE_PAGE_SIZE, MMAP_TOP_VA, PAGE_SIZE, USER_END_VA,
    USER_MIN_VA,
};

use crate::arch::phys;
use crate::errno::Errno;
use crate::mm::frames::FrameAllocator;
use crate::mm::paging::{self, owned_frame, PageFlags, SOFT_BORROWED};
use crate::mm::vmas::{MappingsView, Vmas};
use crate::sync::SpinLock;

/// Anonymous mappings up to this size are filled at mmap time; larger ones on first touch.
pub const EAGER_MAP_LIMIT: u64 = 16 << 20;
/// Pages a fault on a file mapping fills at once (the faulting one and those after it).
const FAULT_AROUND_PAGES: u64 = 16;
/// Frames kept back from eager filling for the kernel's own needs (heap, page tables).
const FRAME_RESERVE: u64 = 256;
/// Lowest address the top-down search hands out.
const MMAP_BOTTOM_VA: u64 = 0x1000_0000;

/// Access rights of a mapping (PROT_* bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Prot {
    /// PROT_READ.
    pub read: bool,
    /// PROT_WRITE.
    pub write: bool,
    /// PROT_EXEC.
    pub exec: bool,
}

impl Prot {
    /// Decodes PROT_READ (1), PROT_WRITE (2), PROT_EXEC (4).
    pub fn from_bits(bits: u64) -> Prot {
        Prot { read: bits & 1 != 0, write: bits & 2 != 0, exec: bits & 4 != 0 }
    }

    /// Read and write.
    pub const RW: Prot = Prot { read: true, write: true, exec: false };

    pub(crate) fn page_flags(self) -> PageFlags {
        // x86 cannot map write-only or exec-only: both imply read.
        PageFlags { read: self.read || self.write || self.exec, write: self.write, exec: self.exec }
    }

    fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => self.read || self.write || self.exec,
            Access::Write => self.write,
            Access::Exec => self.exec,
        }
    }
}

/// What the app was doing when it touched a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An instruction fetch.
    Exec,
}

/// What a file has at one page index, for a mapping of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilePage {
    /// The frame holding the page.
    Frame(u64),
    /// A hole inside the file (asked without filling holes).
    Hole,
    /// At or past the end of the file.
    PastEnd,
}

/// A file whose pages mappings map in place (a tmpfs file).
pub trait SharedPages: Send + Sync {
    /// Page `index` of the file; with `fill_hole`, a hole gets a zeroed frame first. `Err`
    /// when memory or the file system's space runs out.
    fn page_frame(&self, index: u64, fill_hole: bool) -> Result<FilePage, Errno>;
    /// An address space starts (`true`) or stops (`false`) mapping the file's frames.
    fn set_mapped(&self, mapped: bool);
    /// Whether no directory names the file any more (`/proc/self/maps` then says so).
    fn is_unlinked(&self) -> bool;
    /// Pages `first .. first + count` are about to be mapped: the file may give its holes
    /// there their pages now, in one run (a hint; `page_frame` still fills any hole left).
    fn prepare(&self, first: u64, count: u64);
}

/// A file a mapping maps, as [`AddressSpace::map_file`] takes it.
#[derive(Clone)]
pub struct MappedFile {
    /// Its pages.
    pub pages: Arc<dyn SharedPages>,
    /// Its device and inode.
    pub id: (u64, u64),
    /// The path it was opened by, for `/proc/self/maps`.
    pub path: Vec<u8>,
}

/// What backs a mapping's pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// Zero-filled memory.
    Anonymous,
    /// The image file's bytes, mapped in place (read-only, shared by every VM of the image):
    /// `image_offset` is the file offset of the mapping's first byte (page-aligned), `file_len`
    /// how many bytes of the mapping the file covers (pages past it are zero-filled frames).
    Image {
        /// Offset in the image file of the mapping's start.
        image_offset: u64,
        /// Bytes of the mapping backed by the file.
        file_len: u64,
    },
    /// A mapping of a file's frames (a tmpfs file, named by device and inode; the address
    /// space holds the file itself, see [`AddressSpace::map_file`]).
    File {
        /// Device of the file.
        dev: u64,
        /// Inode of the file.
        ino: u64,
        /// File offset of the mapping's first byte (page-aligned).
        offset: u64,
        /// MAP_SHARED: writes reach the file. Else writable pages are private copies.
        shared: bool,
        /// Whether the mapping may be made writable (private ones always; shared ones when
        /// the file was opened for writing and is not sealed against writes).
        may_write: bool,
    },
}

/// One mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    /// One past the last byte.
    pub end: u64,
    /// Rights.
    pub prot: Prot,
    /// Pages are filled on first touch.
    pub lazy: bool,
    /// What backs it (for pages not yet filled and for /proc/self/maps).
    pub backing: Backing,
    /// Part of the program break.
    pub is_heap: bool,
    /// Part of the initial stack.
    pub is_stack: bool,
}

/// How a page fault ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOutcome {
    /// The page is now mapped: retry the access.
    Resolved,
    /// No mapping there (SIGSEGV, SEGV_MAPERR).
    NoMapping,
    /// A mapping without the needed right (SIGSEGV, SEGV_ACCERR).
    AccessDenied,
    /// No memory left to fill the page (the app is killed, as by the OOM killer).
    OutOfMemory,
    /// A page of a file mapping at or past the end of the file, or one the file system has
    /// no space left for (SIGBUS, BUS_ADRERR, as on Linux).
    BusError,
}

/// mmap flags the address space cares about.
#[derive(Clone, Copy, Debug, Default)]
pub struct MapFlags {
    /// MAP_FIXED: exactly at `addr`, replacing what is there.
    pub fixed: bool,
    /// MAP_FIXED_NOREPLACE: exactly at `addr`, EEXIST if anything is there.
    pub fixed_noreplace: bool,
    /// MAP_NORESERVE, or any reason to fill on first touch.
    pub lazy: bool,
    /// The kernel's own: make the mapping but leave its entries to the caller
    /// ([`AddressSpace::fill_deferred`]), as the ELF loader does to map large pages first.
    pub defer_fill: bool,
}

/// `mremap` flags the address space implements.
#[derive(Clone, Copy, Debug, Default)]
pub struct RemapFlags {
    /// MREMAP_MAYMOVE: the mapping may move if it cannot grow in place.
    pub may_move: bool,
    /// MREMAP_FIXED: move it to exactly the given address (replacing what is there).
    pub fixed: bool,
}

/// What `/proc` sees of an address space: the mappings as of the last change, and page
/// counts. Shared (by `Arc`) with the process view, which reads it while a syscall holds the
/// address space itself.
pub struct MemoryShare {
    vmas: MappingsView,
    files: SpinLock<Vec<MappedFile>>,
    resident: AtomicU64,
    peak_resident: AtomicU64,
    demand_fills: AtomicU64,
}

impl MemoryShare {
    /// The mappings, by start address.
    pub fn mappings(&self) -> Vec<(u64, Vma)> {
        self.vmas.lock().iter().map(|(start, vma)| (*start, *vma)).collect()
    }

    /// The path `/proc/self/maps` shows for a mapping of file `id` (device, inode), with
    /// ` (deleted)` once no directory names it, as Linux shows it.
    pub fn file_path(&self, id: (u64, u64)) -> Option<Vec<u8>> {
        let files = self.files.lock();
        let file = files.iter().find(|f| f.id == id)?;
        let mut path = file.path.clone();
        if file.pages.is_unlinked() {
            path.extend_from_slice(b" (deleted)");
        }
        Some(path)
    }

    /// Pages with memory behind them (the resident set): frames of the app and image pages
    /// mapped in place.
    pub fn resident_pages(&self) -> u64 {
        self.resident.load(Ordering::Relaxed)
    }

    /// The largest the resident set has been.
    pub fn peak_resident_pages(&self) -> u64 {
        self.peak_resident.load(Ordering::Relaxed)
    }

    /// Pages filled on first touch (minor faults).
    pub fn minor_faults(&self) -> u64 {
        self.demand_fills.load(Ordering::Relaxed)
    }
}

/// The address space.
pub struct AddressSpace {
    root: u64,
    /// What its tables fit best once it is done ([`AddressSpace::retire`]): the root of the
    /// address space it is a fork of, or the program execve loaded (`program_fit`); 0: none.
    origin: u64,
    frames: &'static SpinLock<FrameAllocator>,
    vmas: Vmas,
    brk_start: u64,
    brk: u64,
    flush_pending: bool,
    freed_after_flush: Vec<u64>,
    /// Pages that have memory behind them.
    resident: u64,
    share: Arc<MemoryShare>,
    /// Flush hypercalls made (for statistics).
    pub flushes: u64,
    /// 2 MiB pages of the image mapped whole (see [`AddressSpace::map_large_image_chunks`]).
    pub large_pages: u64,
    /// [`paging::splits`] at the last flush.
    splits_seen: u64,
    /// Pages filled on first touch (for statistics).
    pub demand_fills: u64,
    /// The files mappings map ([`Backing::File`]), each once (a process maps a few: a list,
    /// where a map type would bring its own copy of the B-tree's code).
    files: Vec<MappedFile>,
    /// Frames the VMM filled before boot with pages of the image (`((image offset, bytes),
    /// frame)`): a private page of the image that would copy those bytes takes the frame
    /// instead. Both numbers count: two segments may share a file page but copy different
    /// parts of it.
    prestaged: Vec<((u64, u64), u64)>,
}

impl AddressSpace {
    /// An empty address space over the page tables at `root`.
    pub fn new(root: u64, frames: &'static SpinLock<FrameAllocator>) -> AddressSpace {
        let view: MappingsView = Arc::new(SpinLock::new(BTreeMap::new()));
        AddressSpace {
            root,
            origin: 0,
            frames,
            vmas: Vmas::new(view.clone()),
            brk_start: 0,
            brk: 0,
            flush_pending: false,
            freed_after_flush: Vec::new(),
            resident: 0,
            share: Arc::new(MemoryShare {
                vmas: view,
                files: SpinLock::new(Vec::new()),
                resident: AtomicU64::new(0),
                peak_resident: AtomicU64::new(0),
                demand_fills: AtomicU64::new(0),
            }),
            flushes: 0,
            large_pages: 0,
            splits_seen: paging::splits(),
            demand_fills: 0,
            files: Vec::new(),
            prestaged: Vec::new(),
        }
    }

    /// What `/proc` shows of this address space.
    pub fn memory_share(&mut self) -> Arc<MemoryShare> {
        self.share.clone()
    }

    /// `pages` more (or fewer) pages have memory behind them.
    fn count_resident(&mut self, pages: i64) {
        self.resident = self.resident.saturating_add_signed(pages);
        self.share.resident.store(self.resident, Ordering::Relaxed);
        self.share.peak_resident.fetch_max(self.resident, Ordering::Relaxed);
    }

    /// The mappings, by start address.
    pub fn vmas(&self) -> impl Iterator<Item = (u64, &Vma)> {
        self.vmas.iter().map(|(s, v)| (*s, v))
    }

    /// The VMA containing `addr`.
    pub fn vma_at(&self, addr: u64) -> Option<(u64, &Vma)> {
        self.vmas.range(..=addr).next_back().filter(|(_, v)| addr < v.end).map(|(s, v)| (*s, v))
    }

    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.vmas.range(..end).next_back().is_some_and(|(_, v)| v.end > start)
    }

    fn check_range(start: u64, len: u64) -> Result<u64, Errno> {
        if !start.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let end = align_up(len, PAGE_SIZE).and_then(|l| start.checked_add(l)).ok_or(Errno::ENOMEM)?;
        if start < USER_MIN_VA || end > USER_END_VA || (start < DIRECT_MAP_VA + IMAGE_GPA * 2 && end > DIRECT_MAP_VA) {
            return Err(Errno::ENOMEM);
        }
        Ok(end)
    }

    /// A free range of `len` bytes, top-down below the mmap base.
    fn find_gap(&mut self, len: u64) -> Option<u64> {
        let start = self.vmas.find_gap(len, MMAP_TOP_VA)?;
        (start >= MMAP_BOTTOM_VA && !self.overlaps(start, start + len)).then_some(start)
    }

    /// Maps `len` bytes. Returns the start address.
    pub fn map(&mut self, addr: u64, len: u64, prot: Prot, flags: MapFlags, backing: Backing) -> Result<u64, Errno> {
        let len = align_up(len, PAGE_SIZE).filter(|&l| l > 0 && l < USER_END_VA).ok_or(Errno::ENOMEM)?;
        // Linux's default overcommit heuristic: one private writable mapping larger than all
        // of memory can never be backed, so it is refused (ENOMEM) unless MAP_NORESERVE asks
        // for no accounting. Reservations without write access (PROT_NONE arenas) are free.
        if matches!(backing, Backing::Anonymous)
            && prot.write
            && !flags.lazy
            && len / PAGE_SIZE > self.frames.lock().total()
        {
            return Err(Errno::ENOMEM);
        }
        let start = if flags.fixed || flags.fixed_noreplace {
            let end = Self::check_range(addr, len)?;
            if self.overlaps(addr, end) {
                if flags.fixed_noreplace {
                    return Err(Errno::EEXIST);
                }
                self.unmap(addr, len)?;
            }
            addr
        } else {
            let hint = align_down(addr, PAGE_SIZE);
            match Self::check_range(hint, len) {
                Ok(end) if hint != 0 && !self.overlaps(hint, end) => hint,
                _ => self.find_gap(len).ok_or(Errno::ENOMEM)?,
            }
        };
        let end = start + len;
        // A reservation nothing may touch (PROT_NONE, as Go's and glibc's arenas) gets no
        // frames: they would be wasted, and zeroed again when a MAP_FIXED replaces them.
        let inaccessible = !(prot.read || prot.write || prot.exec);
        let lazy = matches!(backing, Backing::Anonymous)
            && (flags.lazy
                || inaccessible
                || len > EAGER_MAP_LIMIT
                || len / PAGE_SIZE + FRAME_RESERVE > self.frames.lock().available());
        let lazy = lazy || matches!(backing, Backing::File { .. });
        let vma = Vma { end, prot, lazy, backing, is_heap: false, is_stack: false };
        self.vmas.insert(start, vma);
        if matches!(backing, Backing::File { .. }) && !inaccessible && len <= EAGER_MAP_LIMIT {
            self.prefill_file(start, end, &vma);
        }
        if !lazy && !flags.defer_fill {
            if let Err(e) = self.fill_range(start, end, &vma) {
                self.vmas.remove(&start);
                self.clear_range(start, end);
                self.flush_now();
                return Err(e);
            }
        }
        Ok(start)
    }

    /// Maps the pages the file of mapping `vma` (at `[start, end)`, just made) has, as a
    /// small anonymous mapping is filled at once; holes, pages past the end and what memory
    /// does not allow are left to faults (a hole gets its page only when touched).
    fn prefill_file(&mut self, start: u64, end: u64, vma: &Vma) {
        let mut va = start;
        while va < end {
            match self.file_page_entry(va - start, vma, false) {
                Ok(Some(entry)) => {
                    if paging::set(self.root, va, entry, &mut self.frames.lock()).is_none() {
                        if let Some(frame) = owned_frame(entry) {
                            self.frames.lock().free(frame);
                        }
                        break;
                    }
                    self.count_resident(1);
                }
                Ok(None) => {}
                Err(_) => break,
            }
            va += PAGE_SIZE;
        }
    }

    /// Maps `len` bytes of `file` from file offset `offset`, shared (MAP_SHARED) or private,
    /// as [`AddressSpace::map`] does; `may_write` says whether a shared mapping may ever be
    /// made writable. The address space holds the file while a mapping of it exists.
    #[allow(clippy::too_many_arguments)]
    pub fn map_file(
        &mut self,
        addr: u64,
        len: u64,
        prot: Prot,
        flags: MapFlags,
        file: MappedFile,
        offset: u64,
        shared: bool,
        may_write: bool,
    ) -> Result<u64, Errno> {
        let id = file.id;
        // Linux's EOVERFLOW: the file range must fit, so offsets into the mapping plus
        // `offset` never wrap.
        align_up(len, PAGE_SIZE).and_then(|l| offset.checked_add(l)).ok_or(Errno::EOVERFLOW)?;
        let may_write = may_write || !shared;
        if prot.write && !may_write {
            return Err(Errno::EACCES);
        }
        if flags.fixed {
            // What MAP_FIXED replaces goes first, so the file below is not let go of as unused.
            let end = align_up(len, PAGE_SIZE).ok_or(Errno::ENOMEM).and_then(|l| Self::check_range(addr, l))?;
            if self.overlaps(addr, end) {
                self.unmap(addr, len)?;
            }
        }
        if self.mapped_file(id).is_none() {
            file.pages.set_mapped(true);
            self.files.push(file);
            self.publish_files();
        }
        let backing = Backing::File { dev: id.0, ino: id.1, offset, shared, may_write };
        let mapped = self.map(addr, len, prot, flags, backing);
        self.forget_unmapped_files();
        mapped
    }

    /// Lets go of the files no mapping maps any more (after the flush that removed their
    /// pages: the file may then free its frames).
    fn forget_unmapped_files(&mut self) {
        if self.files.is_empty() {
            return;
        }
        let vmas = &self.vmas;
        let mapped = |id: (u64, u64)| {
            vmas.values().any(|v| matches!(v.backing, Backing::File { dev, ino, .. } if (dev, ino) == id))
        };
        let before = self.files.len();
        self.files.retain(|file| {
            let keep = mapped(file.id);
            if !keep {
                file.pages.set_mapped(false);
            }
            keep
        });
        if self.files.len() != before {
            self.publish_files();
        }
    }

    /// Shows `/proc` the files mapped now.
    fn publish_files(&mut self) {
        *self.share.files.lock() = self.files.clone();
    }

    /// The mapped file `id` (device, inode), if a mapping maps it.
    fn mapped_file(&self, id: (u64, u64)) -> Option<&MappedFile> {
        self.files.iter().find(|file| file.id == id)
    }

    /// Whether a writable shared mapping of the file `id` (device, inode) exists
    /// (`F_ADD_SEALS` of `F_SEAL_WRITE` is refused then).
    pub fn maps_file_writable(&self, id: (u64, u64)) -> bool {
        self.vmas.values().any(|v| {
            v.prot.write && matches!(v.backing, Backing::File { dev, ino, shared: true, .. } if (dev, ino) == id)
        })
    }

    /// Fills every page of `[start, end)` of `vma` (which starts at `vma_start`).
    fn fill_range(&mut self, start: u64, end: u64, vma: &Vma) -> Result<(), Errno> {
        let vma_start = self.vma_at(start).map_or(start, |(s, _)| s);
        let mut va = start;
        while va < end {
            let existing = paging::lookup(self.root, va);
            if paging::entry_frame(existing).is_none() {
                let entry = self.page_entry(va - vma_start, vma).map_err(|_| Errno::ENOMEM)?;
                if paging::set(self.root, va, entry, &mut self.frames.lock()).is_none() {
                    if let Some(frame) = owned_frame(entry) {
                        self.frames.lock().free(frame);
                    }
                    return Err(Errno::ENOMEM);
                }
                self.count_resident(1);
            }
            va += PAGE_SIZE;
        }
        Ok(())
    }

    /// The entry for the page at `offset` into file mapping `vma`: the file's frame, or for a
    /// writable page of a private mapping a copy of it. `Ok(None)` for a hole when not
    /// `fill_hole`; `Err` with [`FaultOutcome::BusError`] past the end of the file or when
    /// its file system is full, [`FaultOutcome::OutOfMemory`] when no frame is left for a copy.
    fn file_page_entry(&mut self, offset: u64, vma: &Vma, fill_hole: bool) -> Result<Option<u64>, FaultOutcome> {
        let Backing::File { dev, ino, offset: file_offset, shared, .. } = vma.backing else {
            return Err(FaultOutcome::NoMapping);
        };
        let file = self.mapped_file((dev, ino)).ok_or(FaultOutcome::BusError)?;
        let frame = match file.pages.page_frame((file_offset + offset) / PAGE_SIZE, fill_hole) {
            Ok(FilePage::Frame(frame)) => frame,
            Ok(FilePage::Hole) => return Ok(None),
            Ok(FilePage::PastEnd) | Err(_) => return Err(FaultOutcome::BusError),
        };
        let flags = vma.prot.page_flags();
        if shared || !vma.prot.write {
            return Ok(Some(flags.entry(frame) | SOFT_BORROWED));
        }
        let copy = self.frames.lock().alloc_zeroed().ok_or(FaultOutcome::OutOfMemory)?;
        phys::copy_page(copy, frame);
        Ok(Some(flags.entry(copy)))
    }

    /// The entry for the page at `offset` into `vma` (allocating a frame if it needs one):
    /// `Err` with [`FaultOutcome::OutOfMemory`] or [`FaultOutcome::BusError`].
    fn page_entry(&mut self, offset: u64, vma: &Vma) -> Result<u64, FaultOutcome> {
        let flags = vma.prot.page_flags();
        let oom = FaultOutcome::OutOfMemory;
        if let Backing::File { .. } = vma.backing {
            return self.file_page_entry(offset, vma, true)?.ok_or(FaultOutcome::BusError);
        }
        if let Backing::Image { image_offset, file_len } = vma.backing {
            if offset < file_len {
                if !vma.prot.write {
                    return Ok(crate::mm::hot::image_page_entry(flags, IMAGE_GPA + image_offset + offset));
                }
                // A private copy of the file's bytes: the VMM's prestaged frame, else a fresh one.
                let n = (file_len - offset).min(PAGE_SIZE);
                if let Some(frame) = self.take_prestaged((image_offset + offset, n)) {
                    return Ok(flags.entry(frame));
                }
                let frame = self.frames.lock().alloc_zeroed().ok_or(oom)?;
                let mut page = [0u8; PAGE_SIZE as usize];
                phys::read_bytes(IMAGE_GPA + image_offset + offset, &mut page[..n as usize]);
                phys::write_bytes(frame, &page[..n as usize]);
                return Ok(flags.entry(frame));
            }
        }
        // Past the file's bytes, or anonymous: a zero page.
        let frame = self.frames.lock().alloc_zeroed().ok_or(oom)?;
        Ok(flags.entry(frame))
    }

    /// Hands over frames the VMM filled before boot: `((image offset, bytes), frame)` per page
    /// (see `uvm_abi::boot::prestaged_pages`). The allocator must already count them as in use.
    pub fn give_prestaged(&mut self, pages: Vec<((u64, u64), u64)>) {
        self.prestaged = pages;
    }

    /// Frees the prestaged frames no mapping took (none, when the kernel and the VMM agree).
    pub fn drop_prestaged(&mut self) {
        for (_, frame) in core::mem::take(&mut self.prestaged) {
            self.frames.lock().free(frame);
        }
    }

    fn take_prestaged(&mut self, page: (u64, u64)) -> Option<u64> {
        let at = self.prestaged.iter().position(|&(p, _)| p == page)?;
        Some(self.prestaged.swap_remove(at).1)
    }

    /// Clears the entries of `[start, end)`; frames are freed after the next flush.
    fn clear_range(&mut self, start: u64, end: u64) {
        let mut va = start;
        let mut cleared = 0;
        while va < end {
            let old = paging::unmap(self.root, va, &mut self.frames.lock());
            if old & pte::PRESENT != 0 {
                self.flush_pending = true;
            }
            if paging::entry_frame(old).is_some() {
                cleared += 1;
            }
            if let Some(frame) = owned_frame(old) {
                self.freed_after_flush.push(frame);
            }
            va += PAGE_SIZE;
        }
        self.count_resident(-cleared);
    }

    /// Fills the entries of the mappings in `[start, end)` made with
    /// [`MapFlags::defer_fill`] (pages a large entry maps already are left alone).
    pub fn fill_deferred(&mut self, start: u64, end: u64) -> Result<(), Errno> {
        let mut at = start;
        while at < end {
            let here = self.vma_at(at).map(|(s, vma)| (s, *vma));
            let Some((s, vma)) = here.or_else(|| self.vmas.range(at..end).next().map(|(&s, vma)| (s, *vma))) else {
                break;
            };
            if !vma.lazy {
                self.fill_range(s.max(at), vma.end.min(end), &vma)?;
            }
            at = vma.end;
        }
        Ok(())
    }

    /// Maps each 2 MiB-aligned chunk of `[start, end)` that read-only mappings of the image
    /// cover whole, at one 2 MiB-aligned stretch of the image, with one 2 MiB entry. Returns
    /// how many. For the app's segments, mapped with [`MapFlags::defer_fill`], before the app
    /// runs: a table of 4 KiB entries it replaces was never walked, so it is freed at once,
    /// no flush owed (the translations stay the same).
    pub fn map_large_image_chunks(&mut self, start: u64, end: u64) -> u64 {
        let mut promoted = 0;
        let Some(mut chunk) = align_up(start, LARGE_PAGE_SIZE) else { return 0 };
        while chunk.checked_add(LARGE_PAGE_SIZE).is_some_and(|e| e <= end) {
            if let Some(entry) = self.large_image_entry(chunk) {
                let replaced = paging::set_large(self.root, chunk, entry, &mut self.frames.lock());
                match replaced {
                    Some(old_table) => {
                        if let Some(table) = old_table {
                            self.frames.lock().free(table);
                        }
                        // Its pages are resident as much as filled ones (the page cache's).
                        self.count_resident((LARGE_PAGE_SIZE / PAGE_SIZE) as i64);
                        promoted += 1;
                    }
                    None => break,
                }
            }
            chunk += LARGE_PAGE_SIZE;
        }
        self.large_pages += promoted;
        promoted
    }

    /// The 2 MiB entry for `chunk` if read-only image mappings cover it whole, contiguous in
    /// the image from a 2 MiB-aligned offset, every page within the file's bytes.
    fn large_image_entry(&self, chunk: u64) -> Option<u64> {
        let end = chunk + LARGE_PAGE_SIZE;
        let mut base = None;
        let mut exec = false;
        let covered = self.covered_by(chunk, end, |piece, start, vma| {
            let Backing::Image { image_offset, file_len } = vma.backing else { return false };
            let piece_end = vma.end.min(end);
            let here = IMAGE_GPA + image_offset + (piece - start) - (piece - chunk);
            exec |= vma.prot.exec;
            vma.prot.read
                && !vma.prot.write
                && piece_end - start - PAGE_SIZE < file_len
                && *base.get_or_insert(here) == here
        });
        let base = base.filter(|b| covered && b.is_multiple_of(LARGE_PAGE_SIZE))?;
        Some(PageFlags { read: true, write: false, exec }.entry(base))
    }

    /// Whether mappings cover every page of `[addr, end)` and `piece` accepts each of them:
    /// it is called in address order with where the piece starts, where its mapping starts
    /// and the mapping, and the walk stops at its first `false`.
    #[inline(always)]
    fn covered_by(&self, addr: u64, end: u64, mut piece: impl FnMut(u64, u64, &Vma) -> bool) -> bool {
        let mut cursor = addr;
        for (&start, vma) in self.vmas.range(..end) {
            if vma.end <= cursor {
                continue;
            }
            if start > cursor || !piece(cursor, start, vma) {
                return false;
            }
            cursor = vma.end;
            if cursor >= end {
                break;
            }
        }
        cursor >= end
    }

    /// Makes pending page-table changes visible (one flush hypercall), then frees frames
    /// that were unmapped. Call before returning to the app.
    pub fn flush_now(&mut self) {
        let splits = paging::splits();
        if splits != self.splits_seen {
            self.splits_seen = splits;
            self.flush_pending = true;
        }
        if self.flush_pending {
            // Only the vCPUs on these tables can hold their old translations: another
            // process's vCPU is not disturbed (a kick out of the guest and a resync).
            crate::hypercall::flush_tlb(crate::arch::percpu::vcpus_on(self.root));
            self.flushes += 1;
            self.flush_pending = false;
        }
        if !self.freed_after_flush.is_empty() {
            let mut frames = self.frames.lock();
            for frame in self.freed_after_flush.drain(..) {
                frames.free(frame);
            }
        }
    }

    /// Splits the VMA containing `at` (if any) so that one starts exactly at `at`.
    fn split_at(&mut self, at: u64) {
        if let Some((start, vma)) = self.vma_at(at).map(|(s, v)| (s, *v)) {
            if start < at {
                let mut tail = vma;
                let shift = at - start;
                match vma.backing {
                    Backing::Image { image_offset, file_len } => {
                        tail.backing = Backing::Image {
                            image_offset: image_offset + shift,
                            file_len: file_len.saturating_sub(shift),
                        };
                    }
                    Backing::File { dev, ino, offset, shared, may_write } => {
                        tail.backing = Backing::File { dev, ino, offset: offset + shift, shared, may_write };
                    }
                    Backing::Anonymous => {}
                }
                self.vmas.update(start, |head| head.end = at);
                self.vmas.insert(at, tail);
            }
        }
    }

    /// Removes every mapping in `[addr, addr + len)`.
    pub fn unmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let end = align_up(len, PAGE_SIZE).and_then(|l| addr.checked_add(l)).ok_or(Errno::EINVAL)?;
        if end > USER_END_VA {
            return Err(Errno::EINVAL);
        }
        self.split_at(addr);
        self.split_at(end);
        let doomed: Vec<u64> = self.vmas.range(addr..end).map(|(s, _)| *s).collect();
        let mut file_unmapped = false;
        for start in doomed {
            if let Some(vma) = self.vmas.remove(&start) {
                file_unmapped |= matches!(vma.backing, Backing::File { .. });
                self.clear_range(start, vma.end);
            }
        }
        self.flush_now();
        if file_unmapped {
            self.forget_unmapped_files();
        }
        Ok(())
    }

    /// mremap(2): resizes the mapping at `old_addr` (`old_len` bytes of one mapping) to
    /// `new_len` bytes; returns where it is now. Shrinking unmaps the tail; growing extends
    /// it in place when the range after it is free, else (with `may_move`) moves it to a free
    /// range — or to `new_addr` with `fixed`, replacing what is there. The content moves with
    /// the page-table entries. Linux's errors: `EINVAL` (misaligned, zero `new_len`, `fixed`
    /// without `may_move`, overlapping ranges, `old_len` 0 of a private mapping), `EFAULT`
    /// (no mapping at `old_addr` or the range leaves it), `ENOMEM` (cannot grow in place and
    /// may not move, or no room).
    pub fn remap(
        &mut self,
        old_addr: u64,
        old_len: u64,
        new_len: u64,
        flags: RemapFlags,
        new_addr: u64,
    ) -> Result<u64, Errno> {
        if (flags.fixed && !flags.may_move) || !old_addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let mut old_len = align_up(old_len, PAGE_SIZE).ok_or(Errno::EINVAL)?;
        let new_len = align_up(new_len, PAGE_SIZE).filter(|&l| l > 0).ok_or(Errno::EINVAL)?;
        let old_end = old_addr.checked_add(old_len).filter(|&e| e <= USER_END_VA).ok_or(Errno::EFAULT)?;
        self.vma_at(old_addr).ok_or(Errno::EFAULT)?;
        if flags.fixed {
            if !new_addr.is_multiple_of(PAGE_SIZE) {
                return Err(Errno::EINVAL);
            }
            let new_end = Self::check_range(new_addr, new_len).map_err(|_| Errno::EINVAL)?;
            if old_end > new_addr && new_end > old_addr {
                return Err(Errno::EINVAL);
            }
            self.unmap(new_addr, new_len)?;
            if old_len > new_len {
                self.unmap(old_addr + new_len, old_len - new_len)?;
                old_len = new_len;
            }
            self.check_resizable(old_addr, old_len)?;
            return self.move_pages(old_addr, old_len, new_addr, new_len);
        }
        if old_len >= new_len {
            if old_len > new_len {
                self.unmap(old_addr + new_len, old_len - new_len)?;
            }
            return Ok(old_addr);
        }
        let (vma_start, vma) = self.check_resizable(old_addr, old_len)?;
        let new_end = old_addr.checked_add(new_len).ok_or(Errno::ENOMEM)?;
        if old_end == vma.end && Self::check_range(old_addr, new_len).is_ok() && !self.overlaps(old_end, new_end) {
            self.vmas.update(vma_start, |grown| grown.end = new_end);
            self.fill_grown(vma_start, old_end, new_end);
            return Ok(old_addr);
        }
        if !flags.may_move {
            return Err(Errno::ENOMEM);
        }
        let target = self.find_gap(new_len).ok_or(Errno::ENOMEM)?;
        self.move_pages(old_addr, old_len, target, new_len)
    }

    /// The mapping that `[addr, addr + len)` must lie in for `mremap` to resize or move it:
    /// `EFAULT` if the range leaves it, `EINVAL` for an empty range (duplicating a private
    /// mapping, which Linux refuses).
    fn check_resizable(&self, addr: u64, len: u64) -> Result<(u64, Vma), Errno> {
        let (start, vma) = self.vma_at(addr).map(|(s, v)| (s, *v)).ok_or(Errno::EFAULT)?;
        if len > vma.end - addr {
            return Err(Errno::EFAULT);
        }
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        Ok((start, vma))
    }

    /// Fills `[from, to)`, just added to the end of the mapping at `vma_start`, as `map`
    /// would; if that is too much (or memory runs out), the mapping fills on first touch.
    fn fill_grown(&mut self, vma_start: u64, from: u64, to: u64) {
        let Some(vma) = self.vmas.get(&vma_start).copied() else { return };
        let too_big = to - from > EAGER_MAP_LIMIT || (to - from) / PAGE_SIZE + FRAME_RESERVE > self.frames_available();
        if vma.lazy || !matches!(vma.backing, Backing::Anonymous) || too_big || self.fill_range(from, to, &vma).is_err()
        {
            self.vmas.update(vma_start, |grown| grown.lazy = true);
        }
    }

    /// Moves the `old_len` bytes at `old_addr` (within one mapping) to the free range at
    /// `new_addr`, which becomes a mapping of `new_len` bytes (the part past `old_len` new).
    fn move_pages(&mut self, old_addr: u64, old_len: u64, new_addr: u64, new_len: u64) -> Result<u64, Errno> {
        // Make the page tables of the destination first, so the move itself cannot fail.
        for offset in (0..old_len).step_by(PAGE_SIZE as usize) {
            if paging::lookup(self.root, old_addr + offset) != 0 {
                paging::set(self.root, new_addr + offset, 0, &mut self.frames.lock()).ok_or(Errno::ENOMEM)?;
            }
        }
        self.split_at(old_addr);
        self.split_at(old_addr + old_len);
        let vma = self.vmas.remove(&old_addr).ok_or(Errno::EFAULT)?;
        let moved = Vma { end: new_addr + new_len, is_heap: false, is_stack: false, ..vma };
        self.vmas.insert(new_addr, moved);
        for offset in (0..old_len).step_by(PAGE_SIZE as usize) {
            let entry = paging::unmap(self.root, old_addr + offset, &mut self.frames.lock());
            if entry == 0 {
                continue;
            }
            if entry & pte::PRESENT != 0 {
                // The app must not reach the frame through the old address any more.
                self.flush_pending = true;
            }
            // The table exists (made above), so this cannot fail.
            let _ = paging::set(self.root, new_addr + offset, entry, &mut self.frames.lock());
        }
        if new_len > old_len {
            self.fill_grown(new_addr, new_addr + old_len, new_addr + new_len);
        }
        self.flush_now();
        Ok(new_addr)
    }

    /// madvise(MADV_DONTNEED): drops the pages of `[addr, addr + len)`; they fill again on
    /// the next touch (zeros, or the file's bytes). EINVAL for a range outside user space.
    pub fn discard(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        if len == 0 {
            return Ok(());
        }
        let end = align_up(len, PAGE_SIZE).and_then(|l| addr.checked_add(l)).ok_or(Errno::EINVAL)?;
        if end > USER_END_VA {
            return Err(Errno::EINVAL);
        }
        self.split_at(addr);
        self.split_at(end);
        let starts: Vec<u64> = self.vmas.range(addr..end).map(|(s, _)| *s).collect();
        for start in starts {
            if let Some(vma_end) = self.vmas.update(start, |vma| {
                vma.lazy = true;
                vma.end
            }) {
                self.clear_range(start, vma_end);
            }
        }
        self.flush_now();
        Ok(())
    }

    /// madvise(MADV_FREE) on `[addr, addr + len)`. Linux may drop such pages at once or keep
    /// them until memory runs low (a write before then cancels the free; reads see the old
    /// bytes or zeros), so both are right. They are kept while a quarter of the frames or
    /// more would stay free: dropping them costs a TLB-flush hypercall now and a demand fault
    /// per page (through the ring-0 stub, ~30 us on PVM) at the next touch, and musl's
    /// allocator frees this way whenever a large slot is freed and taken again. With less
    /// free, or where part of the range is not anonymous memory, they are dropped as
    /// MADV_DONTNEED drops them. Kept pages are not taken back if memory runs low later (no
    /// record of which were written since): the guest holds them as the app does. A range
    /// that meets a mapping of a tmpfs file is EINVAL, as on Linux (MADV_FREE is for
    /// anonymous memory). One that meets the image's is not: the app's own segments are one
    /// mapping each here, where Linux maps their zero-filled tail (.bss) as anonymous memory.
    pub fn free_lazily(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        let end = align_up(len, PAGE_SIZE).and_then(|l| addr.checked_add(l)).ok_or(Errno::EINVAL)?;
        let file_backed = |v: &Vma| matches!(v.backing, Backing::File { .. });
        if self.vmas.range(..end).rev().take_while(|(_, v)| v.end > addr).any(|(_, v)| file_backed(v)) {
            return Err(Errno::EINVAL);
        }
        let plentiful = {
            let frames = self.frames.lock();
            frames.available() >= frames.total() / 4
        };
        // The mappings that meet the range: the last ones that start before its end.
        let anonymous = self.is_mapped(addr, end)
            && self
                .vmas
                .range(..end)
                .rev()
                .take_while(|(_, vma)| vma.end > addr)
                .all(|(_, vma)| matches!(vma.backing, Backing::Anonymous));
        if plentiful && anonymous && end <= USER_END_VA {
            return Ok(());
        }
        self.discard(addr, len)
    }

    /// Changes the rights of every page in `[addr, addr + len)`; ENOMEM if part of it is
    /// not mapped.
    pub fn protect(&mut self, addr: u64, len: u64, prot: Prot) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let end = align_up(len, PAGE_SIZE).and_then(|l| addr.checked_add(l)).ok_or(Errno::ENOMEM)?;
        if !self.is_mapped(addr, end) {
            return Err(Errno::ENOMEM);
        }
        let read_only_file = |v: &Vma| matches!(v.backing, Backing::File { may_write: false, .. });
        if prot.write && self.vmas.range(..end).rev().take_while(|(_, v)| v.end > addr).any(|(_, v)| read_only_file(v))
        {
            // A shared mapping of a file opened read-only (or sealed) never becomes writable.
            return Err(Errno::EACCES);
        }
        self.split_at(addr);
        self.split_at(end);
        let starts: Vec<u64> = self.vmas.range(addr..end).map(|(s, _)| *s).collect();
        for start in starts {
            let Some(vma) = self.vmas.get(&start).copied() else { continue };
            let updated = Vma { prot, ..vma };
            self.vmas.insert(start, updated);
            let mut va = start;
            while va < vma.end {
                let old = paging::lookup(self.root, va);
                if let Some(frame) = paging::entry_frame(old) {
                    // A page a private mapping shares with a file (the image's, a tmpfs
                    // file's frame) gets a copy of its own when it becomes writable.
                    let shared_mapping = matches!(vma.backing, Backing::File { shared: true, .. });
                    let file_page = frame >= IMAGE_GPA || (old & SOFT_BORROWED != 0 && !shared_mapping);
                    let new = if file_page && prot.write {
                        let copy = self.frames.lock().alloc_zeroed().ok_or(Errno::ENOMEM)?;
                        phys::copy_page(copy, frame);
                        prot.page_flags().entry(copy)
                    } else {
                        prot.page_flags().entry(frame) | (old & SOFT_BORROWED)
                    };
                    if new != old {
                        paging::set(self.root, va, new, &mut self.frames.lock()).ok_or(Errno::ENOMEM)?;
                        if old & pte::PRESENT != 0 {
                            self.flush_pending = true;
                        }
                    }
                }
                va += PAGE_SIZE;
            }
        }
        self.flush_now();
        Ok(())
    }

    /// Writes `bytes` at `offset` into the app's code page at `page` (for `syscall::patch`),
    /// without another vCPU ever running a half-written instruction: the page is copied into a
    /// fresh frame, the copy is patched, and the page's entry is switched to it in one store;
    /// the flush that makes it visible is left pending for [`AddressSpace::flush_now`]. A vCPU
    /// that runs the old page until then runs code just as correct, so the old frame is never
    /// freed: an image page, or a private copy kept for good. The page must be present,
    /// executable and not writable (nothing else writes it).
    pub fn patch_code_page(&mut self, page: u64, offset: usize, bytes: &[u8]) -> Result<(), Errno> {
        let old = paging::lookup(self.root, page);
        // A file's shared page stays the file's: a private patched copy would part from it.
        let code_page =
            old & pte::PRESENT != 0 && old & (pte::WRITABLE | pte::NO_EXECUTE) == 0 && old & SOFT_BORROWED == 0;
        let frame = paging::entry_frame(old).filter(|_| code_page).ok_or(Errno::EFAULT)?;
        if !page.is_multiple_of(PAGE_SIZE) || offset + bytes.len() > PAGE_SIZE as usize {
            return Err(Errno::EINVAL);
        }
        let copy = self.frames.lock().alloc_zeroed().ok_or(Errno::ENOMEM)?;
        phys::copy_page(copy, frame);
        phys::write_bytes(copy + offset as u64, bytes);
        if paging::set(self.root, page, (old & !pte::ADDR_MASK) | copy, &mut self.frames.lock()).is_none() {
            self.frames.lock().free(copy);
            return Err(Errno::ENOMEM);
        }
        self.flush_pending = true;
        Ok(())
    }

    /// Whether `addr` lies in a 2 MiB page ([`AddressSpace::map_large_image_chunks`]).
    pub fn in_large_page(&self, addr: u64) -> bool {
        paging::in_large_page(self.root, addr)
    }

    /// Whether every page of `[addr, end)` is in some mapping.
    pub fn is_mapped(&self, addr: u64, end: u64) -> bool {
        self.covered_by(addr, end, |_, _, _| true)
    }

    /// Sets where the program break starts (just past the app's highest segment).
    pub fn init_brk(&mut self, start: u64) {
        let start = align_up(start, PAGE_SIZE).unwrap_or(start);
        self.brk_start = start;
        self.brk = start;
    }

    /// brk(2): moves the break to `new` if it can; returns the break in effect.
    pub fn set_brk(&mut self, new: u64) -> u64 {
        if new < self.brk_start || new > USER_END_VA {
            return self.brk;
        }
        let old_end = align_up(self.brk, PAGE_SIZE).unwrap_or(self.brk);
        let Some(new_end) = align_up(new, PAGE_SIZE) else { return self.brk };
        if new_end > old_end {
            if self.overlaps(old_end, new_end) {
                return self.brk;
            }
            let vma = Vma {
                end: new_end,
                prot: Prot::RW,
                lazy: false,
                backing: Backing::Anonymous,
                is_heap: true,
                is_stack: false,
            };
            self.vmas.insert(old_end, vma);
            if self.fill_range(old_end, new_end, &vma).is_err() {
                self.vmas.remove(&old_end);
                self.clear_range(old_end, new_end);
                self.flush_now();
                return self.brk;
            }
            self.merge_heap(old_end);
        } else if new_end < old_end && self.unmap(new_end, old_end - new_end).is_err() {
            return self.brk;
        }
        self.brk = new;
        self.brk
    }

    /// Joins the heap VMA at `start` with the heap VMA ending there, so the heap stays one.
    fn merge_heap(&mut self, start: u64) {
        let Some((prev_start, prev)) = self.vmas.range(..start).next_back().map(|(s, v)| (*s, *v)) else { return };
        if prev.is_heap && prev.end == start {
            if let Some(v) = self.vmas.remove(&start) {
                self.vmas.update(prev_start, |p| p.end = v.end);
            }
        }
    }

    /// The current break.
    pub fn brk(&self) -> u64 {
        self.brk
    }

    /// Reserves the stack: `[top - reserve, top)`, of which the top `filled` bytes are
    /// filled now and the rest on first touch.
    pub fn map_stack(&mut self, top: u64, reserve: u64, filled: u64) -> Result<(), Errno> {
        let start = top - reserve;
        let vma =
            Vma { end: top, prot: Prot::RW, lazy: true, backing: Backing::Anonymous, is_heap: false, is_stack: true };
        if self.overlaps(start, top) {
            return Err(Errno::ENOMEM);
        }
        self.vmas.insert(start, vma);
        self.fill_range(top - filled, top, &vma)
    }

    /// Resolves a fault at `addr`.
    pub fn handle_fault(&mut self, addr: u64, access: Access) -> FaultOutcome {
        let Some((start, vma)) = self.vma_at(addr).map(|(s, v)| (s, *v)) else {
            return FaultOutcome::NoMapping;
        };
        if !vma.prot.allows(access) {
            return FaultOutcome::AccessDenied;
        }
        let page = align_down(addr, PAGE_SIZE);
        let existing = paging::lookup(self.root, page);
        if existing & pte::PRESENT != 0 {
            // The entry allows the access, so the vCPU saw a stale shadow entry: resync.
            self.flush_pending = true;
            self.flush_now();
            return FaultOutcome::Resolved;
        }
        // A fault on a file mapping maps a run of pages: this one and those after it.
        let around_end = vma.end.min(page.saturating_add(FAULT_AROUND_PAGES * PAGE_SIZE));
        if let Backing::File { dev, ino, offset, .. } = vma.backing {
            // Their holes get their pages now, in one run.
            if let Some(file) = self.mapped_file((dev, ino)) {
                file.pages.prepare((offset + page - start) / PAGE_SIZE, (around_end - page) / PAGE_SIZE);
            }
        }
        let entry = match self.page_entry(page - start, &vma) {
            Ok(entry) => entry,
            Err(outcome) => return outcome,
        };
        if paging::set(self.root, page, entry, &mut self.frames.lock()).is_none() {
            if let Some(frame) = owned_frame(entry) {
                self.frames.lock().free(frame);
            }
            return FaultOutcome::OutOfMemory;
        }
        self.demand_fills += 1;
        self.share.demand_fills.store(self.demand_fills, Ordering::Relaxed);
        self.count_resident(1);
        if matches!(vma.backing, Backing::File { .. }) {
            self.fault_around(start, page + PAGE_SIZE, around_end, &vma);
        }
        FaultOutcome::Resolved
    }

    /// After a fault on file mapping `vma` (at `start`), fills the empty entries of
    /// `[from, end)` too (a hole gets its page), stopping at the end of the file: a fault
    /// costs ~25-30 us here (the ring-0 stub), a filled entry ~1 us, and apps touch file pages
    /// in runs (measured: the first write to each page of a 4 MiB memfd took 59 us a page one
    /// fault each).
    fn fault_around(&mut self, start: u64, from: u64, end: u64, vma: &Vma) {
        let mut va = from;
        while va < end {
            if paging::lookup(self.root, va) == 0 {
                let Ok(Some(entry)) = self.file_page_entry(va - start, vma, true) else { break };
                if paging::set(self.root, va, entry, &mut self.frames.lock()).is_none() {
                    if let Some(frame) = owned_frame(entry) {
                        self.frames.lock().free(frame);
                    }
                    break;
                }
                self.count_resident(1);
            }
            va += PAGE_SIZE;
        }
    }

    /// Checks that the app may access `[addr, addr + len)` as `access`, filling lazily-backed
    /// pages, so the kernel can then touch the range without faulting. EFAULT otherwise.
    pub fn check_user(&mut self, addr: u64, len: u64, access: Access) -> Result<(), Errno> {
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len).filter(|&e| e <= USER_END_VA).ok_or(Errno::EFAULT)?;
        if addr < USER_MIN_VA {
            return Err(Errno::EFAULT);
        }
        let mut page = align_down(addr, PAGE_SIZE);
        while page < end {
            let entry = paging::lookup(self.root, page);
            let ok = entry & pte::PRESENT != 0 && (access != Access::Write || entry & pte::WRITABLE != 0);
            if !ok {
                match self.handle_fault(page, access) {
                    FaultOutcome::Resolved => {}
                    FaultOutcome::OutOfMemory => return Err(Errno::ENOMEM),
                    _ => return Err(Errno::EFAULT),
                }
            }
            page += PAGE_SIZE;
        }
        Ok(())
    }

    /// The guest-physical ranges behind app memory `[addr, addr + len)`, checked writable (and
    /// filled if lazily backed), physically contiguous pages merged.
    pub fn user_chunks(&mut self, addr: u64, len: u64) -> Result<Vec<uvm_abi::hypercall::MemoryChunk>, Errno> {
        self.check_user(addr, len, Access::Write)?;
        let mut chunks: Vec<uvm_abi::hypercall::MemoryChunk> = Vec::new();
        let mut at = addr;
        let end = addr + len;
        while at < end {
            let page = align_down(at, PAGE_SIZE);
            let frame = paging::entry_frame(paging::lookup(self.root, page)).ok_or(Errno::EFAULT)?;
            let gpa = frame + (at - page);
            let n = (page + PAGE_SIZE).min(end) - at;
            match chunks.last_mut() {
                Some(last) if last.gpa + last.len == gpa => last.len += n,
                _ => chunks.push(uvm_abi::hypercall::MemoryChunk { gpa, len: n }),
            }
            at += n;
        }
        Ok(chunks)
    }

    /// Writes `bytes` at app address `addr` through this address space's own page tables,
    /// not the running ones (a forked child's memory before it runs: `user::write` goes
    /// through the caller's). EFAULT where the range is not writable.
    pub fn write_through_tables(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        let mut done = 0;
        for chunk in self.user_chunks(addr, bytes.len() as u64)? {
            let n = chunk.len as usize;
            phys::write_bytes(chunk.gpa, &bytes[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Frames in use by the whole kernel (for /proc/meminfo and statistics).
    pub fn frames_in_use(&self) -> u64 {
        self.frames.lock().in_use()
    }

    /// Frames still free.
    pub fn frames_available(&self) -> u64 {
        self.frames.lock().available()
    }

    /// The root of its page tables (what a vCPU running it has in CR3).
    pub fn root(&self) -> u64 {
        self.root
    }

    /// An empty address space for a program execve starts (a process's own memory from
    /// then on), its tables made for `fits` ([`FrameAllocator::take_spare`]: the program,
    /// `program_fit`). A spare tree if there is one, every entry cleared but those `keep(va,
    /// entry)` says the new program maps the same way (its read-only pages of the image,
    /// mapped in place: KVM's shadow of them stays, so the program's first touches there
    /// take no fault, and loading it leaves them as they are); else a new root that maps
    /// the kernel as `kernel_root` does. ENOMEM when no frame is left.
    pub fn fresh(&self, kernel_root: u64, fits: u64, keep: &dyn Fn(u64, u64) -> bool) -> Result<AddressSpace, Errno> {
        let (root, spare) = spare_or_new_root(self.frames, fits, kernel_root)?;
        let mut space = AddressSpace::new(root, self.frames);
        space.origin = fits;
        if spare {
            let kept = clear_spare_entries(root, None, &mut self.frames.lock(), keep);
            space.count_resident(kept as i64);
        }
        Ok(space)
    }

    /// What stands for a process's memory while a vfork child runs on it (no tables: never
    /// loaded, released or freed).
    pub fn placeholder(&self) -> AddressSpace {
        AddressSpace::new(0, self.frames)
    }

    /// Whether this is a [`AddressSpace::placeholder`].
    pub fn is_placeholder(&self) -> bool {
        self.root == 0
    }

    /// A copy for a forked child: the same mappings and break, each page this address space
    /// owns copied into a frame of the child's, the image's pages and a file's frames mapped
    /// as here (the child holds the files too), pages not filled yet left so.
    ///
    /// The child's tables are a spare tree if there is one (`FrameAllocator::take_spare`:
    /// those of an earlier child that ended or exec'd), else a new root that shares the
    /// kernel's tables ([`paging::new_process_root`]). A spare's entry is kept where it
    /// already says what the child needs, its frame taking the parent's page, so KVM's
    /// shadow of it stays and the child's first touch there costs no fault; other entries
    /// are written, and those the child has no use for cleared ([`clear_spare_entries`]).
    /// Without a spare, the fresh frames the copies take the host backs first, in one exit
    /// (`FrameAllocator::back_ahead`).
    ///
    /// No copy-on-write: that would make the parent's writable entries read-only, a change
    /// of present entries that costs a resync and then a fault per page written; a forked
    /// child mostly runs a little and execs. ENOMEM when frames run out (the child's frames
    /// and tables are freed again).
    pub fn fork(&mut self) -> Result<AddressSpace, Errno> {
        let frames = self.frames;
        let (root, spare) = spare_or_new_root(frames, self.root, self.root)?;
        if !spare {
            // Every frame the child takes is written at once (its copy). (A spare's frames
            // are backed already; counting what a spare lacks would cost every fork two
            // walks of the tables, ~10 us.)
            let ahead = frames.lock().back_ahead(paging::own_frames(self.root));
            if let Some((gpa, len)) = ahead {
                crate::hypercall::back_ram(gpa, len);
            }
        }
        let mut child = AddressSpace::new(root, frames);
        child.origin = self.root;
        child.vmas.copy_from(&self.vmas);
        child.brk_start = self.brk_start;
        child.brk = self.brk;
        child.large_pages = self.large_pages;
        for file in &self.files {
            file.pages.set_mapped(true);
        }
        child.files = self.files.clone();
        let mut resident = 0i64;
        // The allocator's lock is taken for each allocation and entry, not across a page's
        // copy: other vCPUs allocate meanwhile.
        let mut copy_entry = |va: u64, entry: u64, large: bool| -> Option<()> {
            if large {
                resident += (LARGE_PAGE_SIZE / PAGE_SIZE) as i64;
                let mut frames = frames.lock();
                if spare {
                    if paging::large_entry(root, va) == Some(entry) {
                        return Some(());
                    }
                    clear_spare_entries(root, Some((va, va + LARGE_PAGE_SIZE)), &mut frames, &|_, _| false);
                }
                if let Some(table) = paging::set_large(root, va, entry, &mut frames)? {
                    // A spare's table, its entries cleared just now; no vCPU runs on it.
                    frames.free(table);
                }
                return Some(());
            }
            let old = if spare { paging::lookup(root, va) } else { 0 };
            let reusable = owned_frame(old);
            let entry = match owned_frame(entry) {
                Some(frame) => {
                    let copy = match reusable {
                        Some(copy) => copy,
                        None => frames.lock().alloc_zeroed()?,
                    };
                    phys::copy_page(copy, frame);
                    (entry & !pte::ADDR_MASK) | copy
                }
                None => {
                    if let Some(unused) = reusable {
                        frames.lock().free(unused);
                    }
                    entry
                }
            };
            if entry != old {
                paging::set(root, va, entry, &mut frames.lock())?;
            }
            resident += 1;
            Some(())
        };
        let copied = self
            .vmas
            .iter()
            .all(|(&start, vma)| paging::for_each_entry(self.root, start, vma.end, &mut copy_entry).is_some());
        if spare {
            // What the spare maps where the parent maps nothing goes (all of it when a copy
            // failed: the child is released below).
            let parent = self.root;
            let the_parent_maps = |va: u64, _: u64| copied && paging::lookup(parent, va) != 0;
            clear_spare_entries(root, None, &mut frames.lock(), &the_parent_maps);
        }
        child.count_resident(resident);
        if !copied {
            child.release();
            child.free_tables();
            return Err(Errno::ENOMEM);
        }
        Ok(child)
    }

    /// Gives up every mapping, for a process that ends: the frames it owns are freed and
    /// the files it maps released. The entries stay: no vCPU may run on these tables again,
    /// and [`AddressSpace::free_tables`] frees them.
    pub fn release(&mut self) {
        let mut owned = Vec::new();
        for (&start, vma) in self.vmas.iter() {
            paging::for_each_entry(self.root, start, vma.end, &mut |_, entry, large| {
                if let Some(frame) = owned_frame(entry).filter(|_| !large) {
                    owned.push(frame);
                }
                Some(())
            });
        }
        let mut frames = self.frames.lock();
        for frame in owned {
            frames.free(frame);
        }
        drop(frames);
        self.let_go();
    }

    /// Gives up a forked address space as [`AddressSpace::release`] and
    /// [`AddressSpace::free_tables`] do, except that its tables and the frames they map are
    /// kept as a spare for a later fork (`FrameAllocator::keep_spare`); it is a placeholder
    /// then. No vCPU may have its root loaded, and none may run on it again.
    pub fn retire(&mut self) {
        if self.is_placeholder() {
            return;
        }
        self.let_go();
        self.frames.lock().keep_spare(self.root, self.origin);
        self.root = 0;
    }

    /// [`AddressSpace::retire`] for the tables vCPU `cpu` runs on, which it keeps running on
    /// while it waits for its next thread (`FrameAllocator::keep_held_spare`). False when
    /// they cannot be kept so: the vCPU must leave them, and call [`AddressSpace::retire`].
    pub fn retire_held(&mut self, cpu: u32) -> bool {
        if self.is_placeholder() {
            return false;
        }
        self.let_go();
        if !self.frames.lock().keep_held_spare(self.root, self.origin, cpu) {
            return false;
        }
        self.root = 0;
        true
    }

    /// What [`AddressSpace::release`] and [`AddressSpace::retire`] both do besides: the
    /// frames waiting for a flush and the unused prestaged ones freed, the files released,
    /// the mappings gone.
    fn let_go(&mut self) {
        let mut frames = self.frames.lock();
        for frame in self.freed_after_flush.drain(..) {
            frames.free(frame);
        }
        for (_, frame) in core::mem::take(&mut self.prestaged) {
            frames.free(frame);
        }
        drop(frames);
        for file in core::mem::take(&mut self.files) {
            file.pages.set_mapped(false);
        }
        self.vmas.clear();
        self.count_resident(-(self.resident as i64));
    }

    /// Frees the page tables of a released address space made by [`AddressSpace::fork`]
    /// (not the kernel's, which every process shares). No vCPU may have its root loaded.
    pub fn free_tables(&mut self) {
        if !self.is_placeholder() {
            paging::free_app_tables(self.root, &mut self.frames.lock());
        }
    }
}

/// Tables for a new address space: a spare tree that fits `fits` best
/// (`FrameAllocator::take_spare`), its entries as its process left them (`true`), or a new
/// root that maps the kernel as `kernel_root` does (`false`). ENOMEM when no frame is left.
fn spare_or_new_root(
    frames: &'static SpinLock<FrameAllocator>,
    fits: u64,
    kernel_root: u64,
) -> Result<(u64, bool), Errno> {
    if let Some(root) = frames.lock().take_spare(fits) {
        return Ok((root, true));
    }
    let root = paging::new_process_root(kernel_root, &mut frames.lock()).ok_or(Errno::ENOMEM)?;
    Ok((root, false))
}

/// Clears the entries of the spare tree at `root` (no vCPU on it) in `range` (app addresses;
/// `None`: all of them) but the
/// 4 KiB ones `keep(va, entry)` keeps, freeing the frames they own; how many it kept. (A
/// walk that clears the entry it is at: no list of them is made, as a large one would
/// leave the kernel heap's page runs split.)
fn clear_spare_entries(
    root: u64,
    range: Option<(u64, u64)>,
    frames: &mut FrameAllocator,
    keep: &dyn Fn(u64, u64) -> bool,
) -> u64 {
    let mut kept = 0;
    let mut clear = |va: u64, entry: u64, large: bool| {
        if large {
            paging::clear_large(root, va);
        } else if keep(va, entry) {
            kept += 1;
        } else {
            paging::unmap(root, va, frames);
            if let Some(frame) = owned_frame(entry) {
                frames.free(frame);
            }
        }
        Some(())
    };
    match range {
        Some((start, end)) => paging::for_each_entry(root, start, end, &mut clear),
        None => paging::for_each_app_entry(root, &mut clear),
    };
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAM: u64 = 1024 * 4096;

    fn space() -> AddressSpace {
        phys::reset(RAM as usize);
        let frames: &'static SpinLock<FrameAllocator> =
            Box::leak(Box::new(SpinLock::new(FrameAllocator::new(4096, RAM))));
        let root = frames.lock().alloc_zeroed().unwrap();
        AddressSpace::new(root, frames)
    }

    fn frame_of(s: &AddressSpace, va: u64) -> Option<u64> {
        paging::entry_frame(paging::lookup(s.root, va))
    }

    #[test]
    fn anonymous_map_is_filled_and_unmap_frees_after_flush() {
        let mut s = space();
        let before = s.frames_available();
        let a = s.map(0, 3 * 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        assert!(a >= MMAP_BOTTOM_VA && a + 3 * 4096 <= MMAP_TOP_VA);
        assert!(frame_of(&s, a + 2 * 4096).is_some());
        s.unmap(a, 3 * 4096).unwrap();
        assert!(frame_of(&s, a).is_none());
        assert_eq!(s.flushes, 1, "removing present entries flushes once");
        assert!(s.frames_available() >= before - 4, "frames come back (page tables stay)");
        assert!(s.vma_at(a).is_none());
    }

    #[test]
    fn inaccessible_reservations_take_no_frames() {
        let mut s = space();
        let before = s.frames_available();
        let none = Prot { read: false, write: false, exec: false };
        let a = s.map(0, 8 << 20, none, MapFlags::default(), Backing::Anonymous).unwrap();
        assert!(s.frames_available() >= before - 1, "at most a page table");
        assert!(frame_of(&s, a).is_none());
        // Go's pattern: map part of the reservation read-write in place: filled then.
        let f = MapFlags { fixed: true, ..Default::default() };
        s.map(a, 4 * 4096, Prot::RW, f, Backing::Anonymous).unwrap();
        assert!(frame_of(&s, a + 3 * 4096).is_some());
        assert!(frame_of(&s, a + 4 * 4096).is_none());
    }

    #[test]
    fn fixed_maps_replace_and_noreplace_refuses() {
        let mut s = space();
        let at = 0x1000_0000_0000;
        let f = MapFlags { fixed: true, ..Default::default() };
        s.map(at, 4096, Prot::RW, f, Backing::Anonymous).unwrap();
        let first = frame_of(&s, at).unwrap();
        phys::write_bytes(first, b"old");
        assert_eq!(s.map(at, 4096, Prot::RW, f, Backing::Anonymous), Ok(at));
        let second = frame_of(&s, at).unwrap();
        let mut b = [0u8; 3];
        phys::read_bytes(second, &mut b);
        assert_eq!(&b, &[0, 0, 0], "the new mapping is fresh zeroes");
        let nr = MapFlags { fixed_noreplace: true, ..Default::default() };
        assert_eq!(s.map(at, 4096, Prot::RW, nr, Backing::Anonymous), Err(Errno::EEXIST));
        assert_eq!(s.map(at + 1, 4096, Prot::RW, f, Backing::Anonymous), Err(Errno::EINVAL));
        assert_eq!(s.map(0x1000, 4096, Prot::RW, f, Backing::Anonymous), Err(Errno::ENOMEM), "below user space");
    }

    #[test]
    fn writable_mappings_larger_than_memory_are_refused_unless_noreserve() {
        let mut s = space();
        let huge = 2 * RAM;
        assert_eq!(s.map(0, huge, Prot::RW, MapFlags::default(), Backing::Anonymous), Err(Errno::ENOMEM));
        let noreserve = MapFlags { lazy: true, ..Default::default() };
        assert!(s.map(0, huge, Prot::RW, noreserve, Backing::Anonymous).is_ok());
        assert!(s.map(0, huge, Prot::default(), MapFlags::default(), Backing::Anonymous).is_ok(), "PROT_NONE");
    }

    #[test]
    fn hints_are_taken_when_free() {
        let mut s = space();
        let hint = 0x2000_0000_0000;
        assert_eq!(s.map(hint, 4096, Prot::RW, MapFlags::default(), Backing::Anonymous), Ok(hint));
        let other = s.map(hint, 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        assert_ne!(other, hint);
    }

    #[test]
    fn unmap_in_the_middle_splits() {
        let mut s = space();
        let a = s.map(0, 3 * 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        s.unmap(a + 4096, 4096).unwrap();
        assert!(s.vma_at(a).is_some());
        assert!(s.vma_at(a + 4096).is_none());
        assert!(s.vma_at(a + 2 * 4096).is_some());
        assert!(frame_of(&s, a + 2 * 4096).is_some());
    }

    #[test]
    fn protect_none_then_back_keeps_content() {
        let mut s = space();
        let a = s.map(0, 2 * 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        let f = frame_of(&s, a).unwrap();
        phys::write_bytes(f, b"keep");
        s.protect(a, 4096, Prot::default()).unwrap();
        assert_eq!(paging::lookup(s.root, a) & pte::PRESENT, 0);
        assert_eq!(s.handle_fault(a, Access::Read), FaultOutcome::AccessDenied);
        s.protect(a, 4096, Prot::RW).unwrap();
        assert_eq!(frame_of(&s, a), Some(f));
        assert_eq!(s.protect(a, 8 * 4096, Prot::RW), Err(Errno::ENOMEM), "a hole in the range");
    }

    #[test]
    fn lazy_maps_fill_on_fault_and_check_user() {
        let mut s = space();
        let f = MapFlags { lazy: true, ..Default::default() };
        let a = s.map(0, 64 * 4096, Prot::RW, f, Backing::Anonymous).unwrap();
        assert!(frame_of(&s, a).is_none());
        assert_eq!(s.handle_fault(a + 5, Access::Write), FaultOutcome::Resolved);
        assert!(frame_of(&s, a).is_some());
        s.check_user(a + 4096 * 10, 10, Access::Write).unwrap();
        assert!(frame_of(&s, a + 4096 * 10).is_some());
        assert_eq!(s.check_user(0x10, 4, Access::Read), Err(Errno::EFAULT));
        assert_eq!(s.check_user(a, u64::MAX, Access::Read), Err(Errno::EFAULT));
        assert_eq!(s.handle_fault(0x3000_0000_0000, Access::Read), FaultOutcome::NoMapping);
    }

    #[test]
    fn discarded_pages_come_back_zeroed() {
        let mut s = space();
        let a = s.map(0, 2 * 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        phys::write_bytes(frame_of(&s, a).unwrap(), b"data");
        s.discard(a, 4096).unwrap();
        assert!(frame_of(&s, a).is_none());
        assert!(frame_of(&s, a + 4096).is_some(), "only the range is dropped");
        assert_eq!(s.handle_fault(a, Access::Read), FaultOutcome::Resolved);
        let mut b = [1u8; 4];
        phys::read_bytes(frame_of(&s, a).unwrap(), &mut b);
        assert_eq!(b, [0; 4]);
    }

    #[test]
    fn lazily_freed_pages_are_kept_while_memory_is_plentiful() {
        let mut s = space();
        let a = s.map(0, 2 * 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        let frame = frame_of(&s, a).unwrap();
        phys::write_bytes(frame, b"data");
        s.free_lazily(a, 2 * 4096).unwrap();
        assert_eq!(frame_of(&s, a), Some(frame), "kept: no flush, no fault at the next touch");
        assert_eq!(s.flushes, 0);
        // With under a quarter of the frames free, the pages are dropped as MADV_DONTNEED does.
        while s.frames_available() >= s.frames.lock().total() / 4 {
            s.frames.lock().alloc_zeroed().unwrap();
        }
        s.free_lazily(a, 4096).unwrap();
        assert!(frame_of(&s, a).is_none(), "dropped when memory runs low");
        assert!(frame_of(&s, a + 4096).is_some(), "only the range");
        assert_eq!(s.handle_fault(a, Access::Write), FaultOutcome::Resolved);
    }

    #[test]
    fn read_only_mapping_refuses_writes() {
        let mut s = space();
        let a = s.map(0, 4096, Prot::from_bits(1), MapFlags::default(), Backing::Anonymous).unwrap();
        assert_eq!(s.check_user(a, 4, Access::Write), Err(Errno::EFAULT));
        assert_eq!(s.handle_fault(a, Access::Write), FaultOutcome::AccessDenied);
        assert_eq!(s.handle_fault(a, Access::Exec), FaultOutcome::AccessDenied);
    }

    #[test]
    fn brk_grows_shrinks_and_refuses_below_start() {
        let mut s = space();
        s.init_brk(0x60_1234);
        let start = 0x60_2000;
        assert_eq!(s.brk(), start);
        assert_eq!(s.set_brk(start + 10_000), start + 10_000);
        assert!(frame_of(&s, start + 8192).is_some());
        assert_eq!(s.set_brk(start + 20_000), start + 20_000);
        assert_eq!(s.vmas().filter(|(_, v)| v.is_heap).count(), 1, "heap stays one mapping");
        assert_eq!(s.set_brk(start + 100), start + 100);
        assert!(frame_of(&s, start + 8192).is_none());
        assert_eq!(s.set_brk(start - 1), start + 100, "below the start is refused");
        assert_eq!(s.set_brk(0), start + 100);
    }

    #[test]
    fn exhausting_memory_is_enomem_and_rolls_back() {
        let mut s = space();
        let before = s.frames_available();
        let f = MapFlags { fixed: true, lazy: true, ..Default::default() };
        // More than memory with MAP_NORESERVE: accepted, but touching all of it runs out.
        let a = s.map(0x1000_0000_0000, 4000 * 4096, Prot::RW, f, Backing::Anonymous).unwrap();
        let mut outcome = FaultOutcome::Resolved;
        for i in 0..4000 {
            outcome = s.handle_fault(a + i * 4096, Access::Write);
            if outcome != FaultOutcome::Resolved {
                break;
            }
        }
        assert_eq!(outcome, FaultOutcome::OutOfMemory);
        s.unmap(a, 4000 * 4096).unwrap();
        assert!(s.frames_available() + 8 >= before);
    }

    fn fill(s: &AddressSpace, start: u64, pages: u64) {
        for i in 0..pages {
            phys::write_bytes(frame_of(s, start + i * 4096).unwrap(), &[i as u8 + 1; 8]);
        }
    }

    fn byte_at(s: &AddressSpace, va: u64) -> Option<u8> {
        let mut b = [0u8; 1];
        phys::read_bytes(frame_of(s, va)?, &mut b);
        Some(b[0])
    }

    const MAY_MOVE: RemapFlags = RemapFlags { may_move: true, fixed: false };

    #[test]
    fn mremap_grows_in_place_when_the_next_range_is_free() {
        let mut s = space();
        let f = MapFlags { fixed: true, ..Default::default() };
        let a = s.map(0x1000_0000_0000, 2 * 4096, Prot::RW, f, Backing::Anonymous).unwrap();
        fill(&s, a, 2);
        let frame = frame_of(&s, a).unwrap();
        let resident = s.memory_share().resident_pages();
        assert_eq!(s.remap(a, 2 * 4096, 5 * 4096, RemapFlags::default(), 0), Ok(a));
        assert_eq!(frame_of(&s, a), Some(frame), "the pages stay");
        assert_eq!(byte_at(&s, a + 4096), Some(2));
        assert_eq!(byte_at(&s, a + 4 * 4096), Some(0), "the new part is zeroed memory");
        assert_eq!(s.vma_at(a).map(|(start, v)| (start, v.end)), Some((a, a + 5 * 4096)));
        assert_eq!(s.memory_share().resident_pages(), resident + 3);
        assert_eq!(s.flushes, 0, "growing changes no present entry");
        // Same size: nothing to do; a range that leaves the mapping: EFAULT.
        assert_eq!(s.remap(a, 5 * 4096, 5 * 4096, RemapFlags::default(), 0), Ok(a));
        assert_eq!(s.remap(a, 6 * 4096, 7 * 4096, MAY_MOVE, 0), Err(Errno::EFAULT));
        assert_eq!(s.remap(a - 4096, 4096, 2 * 4096, MAY_MOVE, 0), Err(Errno::EFAULT));
    }

    #[test]
    fn mremap_moves_entries_when_blocked() {
        let mut s = space();
        let f = MapFlags { fixed: true, ..Default::default() };
        let a = s.map(0x1000_0000_0000, 3 * 4096, Prot::RW, f, Backing::Anonymous).unwrap();
        s.map(a + 3 * 4096, 4096, Prot::RW, f, Backing::Anonymous).unwrap();
        fill(&s, a, 3);
        let frames: Vec<u64> = (0..3).map(|i| frame_of(&s, a + i * 4096).unwrap()).collect();
        let available = s.frames_available();
        assert_eq!(s.remap(a, 3 * 4096, 4 * 4096, RemapFlags::default(), 0), Err(Errno::ENOMEM), "may not move");
        let b = s.remap(a, 3 * 4096, 4 * 4096, MAY_MOVE, 0).unwrap();
        assert_ne!(b, a);
        let moved: Vec<u64> = (0..3).map(|i| frame_of(&s, b + i * 4096).unwrap()).collect();
        assert_eq!(moved, frames, "the same frames, so the content comes along");
        assert_eq!((byte_at(&s, b), byte_at(&s, b + 2 * 4096)), (Some(1), Some(3)));
        assert_eq!(byte_at(&s, b + 3 * 4096), Some(0));
        assert!(frame_of(&s, a).is_none() && s.vma_at(a).is_none(), "the old range is gone");
        assert!(s.vma_at(a + 3 * 4096).is_some(), "the neighbour stays");
        assert_eq!(s.flushes, 1, "removing the old present entries needs a flush");
        assert!(s.frames_available() + 8 >= available - 1, "nothing but the new page (and tables) taken");
        let maps = s.memory_share().mappings();
        assert!(maps.iter().any(|(start, v)| *start == b && v.end == b + 4 * 4096));
        assert!(!maps.iter().any(|(start, _)| *start == a));
    }

    #[test]
    fn mremap_moves_part_of_a_mapping_and_shrinks() {
        let mut s = space();
        let a = s.map(0, 4 * 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        fill(&s, a, 4);
        // Shrink: the tail is unmapped.
        assert_eq!(s.remap(a, 4 * 4096, 3 * 4096 + 1, RemapFlags::default(), 0), Ok(a), "rounded up: no change");
        assert_eq!(s.remap(a, 4 * 4096, 3 * 4096, RemapFlags::default(), 0), Ok(a));
        assert!(s.vma_at(a + 3 * 4096).is_none() && frame_of(&s, a + 3 * 4096).is_none());
        // Grow the middle page: it cannot grow in place (page 2 follows), so it moves alone.
        let b = s.remap(a + 4096, 4096, 2 * 4096, MAY_MOVE, 0).unwrap();
        assert_eq!(byte_at(&s, b), Some(2));
        assert!(s.vma_at(a + 4096).is_none());
        assert_eq!((byte_at(&s, a), byte_at(&s, a + 2 * 4096)), (Some(1), Some(3)));
        // MREMAP_FIXED onto a live mapping replaces it; overlapping ranges are EINVAL.
        let fixed = RemapFlags { may_move: true, fixed: true };
        let c = s.map(0, 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        assert_eq!(s.remap(b, 2 * 4096, 2 * 4096, fixed, b + 4096), Err(Errno::EINVAL));
        assert_eq!(s.remap(b, 4096, 4096, fixed, c + 1), Err(Errno::EINVAL));
        assert_eq!(s.remap(b, 4096, 4096, RemapFlags { may_move: false, fixed: true }, c), Err(Errno::EINVAL));
        assert_eq!(s.remap(b, 2 * 4096, 4096, fixed, c), Ok(c), "shrinks and moves");
        assert_eq!(byte_at(&s, c), Some(2));
        assert!(s.vma_at(b).is_none() && s.vma_at(b + 4096).is_none());
        assert_eq!(s.remap(c, 0, 4096, MAY_MOVE, 0), Err(Errno::EINVAL), "old_len 0 of a private mapping");
        assert_eq!(s.remap(c, 4096, 0, MAY_MOVE, 0), Err(Errno::EINVAL));
        assert_eq!(s.remap(c + 1, 4096, 4096, MAY_MOVE, 0), Err(Errno::EINVAL));
        assert_eq!(s.remap(0x3000_0000_0000, 4096, 8192, MAY_MOVE, 0), Err(Errno::EFAULT));
    }

    #[test]
    fn mremap_keeps_lazy_and_image_backing() {
        let mut s = space();
        let f = MapFlags { lazy: true, ..Default::default() };
        let a = s.map(0, 8 * 4096, Prot::RW, f, Backing::Anonymous).unwrap();
        assert_eq!(s.handle_fault(a + 4096, Access::Write), FaultOutcome::Resolved);
        let frame = frame_of(&s, a + 4096).unwrap();
        s.map(a + 8 * 4096, 4096, Prot::RW, MapFlags { fixed: true, ..Default::default() }, Backing::Anonymous)
            .unwrap();
        let b = s.remap(a, 8 * 4096, 16 * 4096, MAY_MOVE, 0).unwrap();
        assert_eq!(frame_of(&s, b + 4096), Some(frame));
        assert!(frame_of(&s, b).is_none(), "untouched pages stay unfilled");
        assert_eq!(s.handle_fault(b + 12 * 4096, Access::Write), FaultOutcome::Resolved);
        let img = Backing::Image { image_offset: 0x3000, file_len: 2 * 4096 };
        let i = s.map(0, 2 * 4096, Prot::from_bits(5), MapFlags::default(), img).unwrap();
        let c = s.remap(i, 2 * 4096, 2 * 4096, RemapFlags { may_move: true, fixed: true }, b + 20 * 4096).unwrap();
        assert_eq!(frame_of(&s, c), Some(IMAGE_GPA + 0x3000));
        assert_eq!(s.vma_at(c).map(|(_, v)| v.backing), Some(img));
    }

    #[test]
    fn proc_sees_mappings_and_resident_pages() {
        let mut s = space();
        let share = s.memory_share();
        assert!(share.mappings().is_empty());
        let a = s.map(0, 3 * 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        assert_eq!(share.mappings().len(), 1, "seen at once");
        s.flush_now();
        assert_eq!(share.resident_pages(), 3);
        s.unmap(a + 4096, 4096).unwrap();
        assert_eq!(share.mappings().len(), 2);
        assert_eq!((share.resident_pages(), share.peak_resident_pages()), (2, 3));
        let lazy = s.map(0, 4 * 4096, Prot::RW, MapFlags { lazy: true, ..Default::default() }, Backing::Anonymous);
        s.handle_fault(lazy.unwrap(), Access::Read);
        assert_eq!((share.resident_pages(), share.minor_faults()), (3, 1));
        assert!(s.is_mapped(a, a + 4096) && !s.is_mapped(a, a + 3 * 4096));
    }

    #[test]
    fn prestaged_frames_back_private_image_pages_and_the_rest_are_freed() {
        let mut s = space();
        let given = s.frames.lock().alloc_zeroed().unwrap();
        let spare = s.frames.lock().alloc_zeroed().unwrap();
        // The mapping's first page copies 904 bytes from image offset 0x4000; a page with the
        // same offset but other bytes (another segment's) is not it.
        s.give_prestaged(alloc::vec![((0x4000, 4096), spare), ((0x4000, 904), given)]);
        let b = Backing::Image { image_offset: 0x4000, file_len: 904 };
        let a = s.map(0, 2 * 4096, Prot::from_bits(7), MapFlags::default(), b).unwrap();
        assert_eq!(frame_of(&s, a), Some(given), "its prestaged frame, by offset and bytes");
        assert!(frame_of(&s, a + 4096).is_some_and(|f| f != spare), "past the file: a zero frame");
        let in_use = s.frames.lock().in_use();
        s.drop_prestaged();
        assert_eq!(s.frames.lock().in_use(), in_use - 1, "the frame nothing took goes back");
    }

    #[test]
    fn a_fork_copies_owned_pages_and_maps_the_rest_as_the_parent_does() {
        let mut s = space();
        let before = s.frames_available();
        let data = s.map(0, 2 * 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        phys::write_bytes(frame_of(&s, data).unwrap(), b"parent");
        let image = Backing::Image { image_offset: 0x3000, file_len: 4096 };
        let text = s.map(0, 4096, Prot::from_bits(5), MapFlags::default(), image).unwrap();
        let lazy = MapFlags { lazy: true, ..Default::default() };
        let reserve = s.map(0, 64 * 4096, Prot::RW, lazy, Backing::Anonymous).unwrap();
        let mut child = s.fork().unwrap();
        assert_ne!(child.root(), s.root());
        assert_eq!(child.vmas().collect::<Vec<_>>(), s.vmas().collect::<Vec<_>>());
        let (mine, theirs) = (frame_of(&s, data).unwrap(), frame_of(&child, data).unwrap());
        assert_ne!(mine, theirs, "an owned page is copied");
        let mut copied = [0u8; 6];
        phys::read_bytes(theirs, &mut copied);
        assert_eq!(&copied, b"parent");
        phys::write_bytes(theirs, b"child!");
        phys::read_bytes(mine, &mut copied);
        assert_eq!(&copied, b"parent", "the child's writes stay its own");
        assert_eq!(frame_of(&child, text), Some(IMAGE_GPA + 0x3000), "the image's page is mapped in place");
        assert_eq!(frame_of(&child, reserve), None, "a page not filled stays so");
        assert_eq!(child.handle_fault(reserve, Access::Write), FaultOutcome::Resolved);
        assert_eq!(frame_of(&s, reserve), None, "the child's demand fill is its own");
        child.write_through_tables(data + 4094, b"tid!").unwrap();
        let mut written = [0u8; 2];
        phys::read_bytes(frame_of(&child, data + 4096).unwrap(), &mut written);
        assert_eq!(&written, b"d!", "written across a page boundary, into the child's frames");
        phys::read_bytes(frame_of(&s, data).unwrap() + 4094, &mut written);
        assert_eq!(written, [0, 0], "not the parent's");
        child.release();
        child.free_tables();
        s.unmap(data, 2 * 4096).unwrap();
        s.unmap(text, 4096).unwrap();
        s.unmap(reserve, 64 * 4096).unwrap();
        s.flush_now();
        let tables = 3;
        assert!(s.frames_available() >= before - tables, "the child's frames and tables come back");
    }

    #[test]
    fn a_fork_takes_a_retired_childs_tables_and_leaves_nothing_of_it_stale() {
        let mut s = space();
        let total = s.frames.lock().total();
        let data = s.map(0, 3 * 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        phys::write_bytes(frame_of(&s, data).unwrap(), b"first");
        let image = Backing::Image { image_offset: 0x3000, file_len: 4096 };
        let text = s.map(0, 4096, Prot::from_bits(5), MapFlags::default(), image).unwrap();
        let mut first = s.fork().unwrap();
        let first_root = first.root();
        let kept = frame_of(&first, data).unwrap();
        let own = first.map(0, 5 * 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        first.unmap(data + 2 * 4096, 4096).unwrap();
        first.flush_now();
        first.retire();
        assert!(first.is_placeholder(), "retired: its tables are the allocator's");
        assert_eq!(s.frames.lock().total(), total, "a spare's frames count as available");

        // The parent changes after the first child's end.
        phys::write_bytes(frame_of(&s, data).unwrap(), b"again");
        s.unmap(data + 4096, 4096).unwrap();
        s.flush_now();
        // Two pages: not the hole just made.
        let added = s.map(0, 2 * 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        phys::write_bytes(frame_of(&s, added).unwrap(), b"added");
        let mut second = s.fork().unwrap();
        assert_eq!(second.root(), first_root, "the spare's tables are taken");
        assert_eq!(frame_of(&second, data), Some(kept), "its frame for the same page kept");
        let mut bytes = [0u8; 5];
        phys::read_bytes(kept, &mut bytes);
        assert_eq!(&bytes, b"again", "holding the parent's page as of this fork");
        assert_eq!(frame_of(&second, data + 4096), None, "a page the parent gave up is gone");
        assert!(frame_of(&second, data + 2 * 4096).is_some(), "one the first child gave up is back");
        phys::read_bytes(frame_of(&second, added).unwrap(), &mut bytes);
        assert_eq!(&bytes, b"added");
        assert_eq!(frame_of(&second, text), Some(IMAGE_GPA + 0x3000));
        let mut mapped = Vec::new();
        paging::for_each_app_entry(second.root(), &mut |va, _, _| {
            mapped.push(va);
            Some(())
        });
        let parents: Vec<u64> = [data, data + 2 * 4096, text, added, added + 4096].into_iter().collect();
        let mut expected = parents.clone();
        expected.sort_unstable();
        assert_eq!(mapped, expected, "no entry but the parent's pages (none of the first child's own)");
        assert!((own..own + 5 * 4096).step_by(4096).any(|va| !expected.contains(&va)));
        for va in parents {
            assert_ne!(frame_of(&second, va), frame_of(&s, va).filter(|&f| f < IMAGE_GPA), "owned pages copied");
        }

        second.retire();
        s.unmap(USER_MIN_VA, USER_END_VA - USER_MIN_VA).unwrap();
        s.flush_now();
        let mut frames = s.frames.lock();
        assert_eq!(frames.total(), total);
        assert!(frames.free_spares(), "a spare was kept");
        assert_eq!(frames.in_use(), paging::own_frames(s.root), "every frame back but the parent's tables");
        assert_eq!(frames.total(), total);
    }

    #[test]
    fn an_exec_takes_a_spare_keeping_only_the_entries_its_program_maps_alike() {
        let mut s = space();
        let image = Backing::Image { image_offset: 0x3000, file_len: 2 * 4096 };
        let text = s.map(0, 2 * 4096, Prot::from_bits(5), MapFlags::default(), image).unwrap();
        let data = s.map(0, 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        let mut child = s.fork().unwrap();
        let root = child.root();
        let text_entry = paging::lookup(root, text);
        child.retire();
        let in_use = s.frames.lock().in_use();
        let fresh = s.fresh(s.root(), 7, &|va, entry| va == text && entry == text_entry).unwrap();
        assert_eq!(fresh.root(), root, "the spare's tables");
        assert_eq!(paging::lookup(root, text), text_entry, "the entry the program maps alike is kept");
        assert_eq!(paging::lookup(root, text + 4096), 0, "another is cleared");
        assert_eq!(paging::lookup(root, data), 0);
        assert_eq!(fresh.resident, 1, "the kept page counts");
        assert_eq!(fresh.origin, 7, "its tables fit the program");
        assert_eq!(s.frames.lock().in_use(), in_use + paging::own_frames(root), "the data page's frame is free");
        assert_eq!(paging::own_frames(root), 4, "a root and three tables, no page of its own");
    }

    #[test]
    fn a_vfork_child_gets_fresh_tables_and_a_placeholder_stands_in() {
        let s = space();
        let placeholder = s.placeholder();
        assert!(placeholder.is_placeholder() && !s.is_placeholder());
        let mut fresh = s.fresh(s.root(), 0, &|_, _| false).unwrap();
        assert!(!fresh.is_placeholder());
        assert_eq!(fresh.vmas().count(), 0);
        let a = fresh.map(0, 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        assert!(frame_of(&fresh, a).is_some());
        assert!(frame_of(&s, a).is_none(), "its own tables");
    }

    #[test]
    fn image_backed_read_only_pages_map_in_place() {
        let mut s = space();
        let b = Backing::Image { image_offset: 0x3000, file_len: 5000 };
        let a = s.map(0, 3 * 4096, Prot::from_bits(5), MapFlags::default(), b).unwrap();
        assert_eq!(frame_of(&s, a), Some(IMAGE_GPA + 0x3000));
        assert_eq!(frame_of(&s, a + 4096), Some(IMAGE_GPA + 0x4000));
        let tail = frame_of(&s, a + 8192).unwrap();
        assert!(tail < IMAGE_GPA, "past the file: a zero frame");
    }

    #[test]
    fn the_image_pages_touched_are_those_whose_entries_have_their_accessed_bit() {
        use uvm_abi::layout::pte;
        let mut s = space();
        let b = Backing::Image { image_offset: 0x3000, file_len: 3 * 4096 };
        let a = s.map(0, 3 * 4096, Prot::from_bits(5), MapFlags::default(), b).unwrap();
        let image_size = 0x10_0000;
        assert_eq!(crate::mm::hot::touched_image_pages(s.root(), image_size, 10), [0x3000, 0x4000, 0x5000]);
        // An entry KVM has not marked (a start that learns maps them so).
        let entry = paging::lookup(s.root(), a + 4096);
        paging::set(s.root(), a + 4096, entry & !pte::ACCESSED, &mut s.frames.lock()).unwrap();
        assert_eq!(crate::mm::hot::touched_image_pages(s.root(), image_size, 10), [0x3000, 0x5000]);
        assert_eq!(crate::mm::hot::touched_image_pages(s.root(), image_size, 1), [0x3000], "at most `max`");
        assert!(crate::mm::hot::touched_image_pages(s.root(), 0x3000, 10).is_empty(), "outside the image");
    }

    #[test]
    fn entries_that_map_a_copy_point_back_at_its_image_page_with_their_flags() {
        use uvm_abi::layout::pte;
        let mut s = space();
        let b = Backing::Image { image_offset: 0x3000, file_len: 3 * 4096 };
        let a = s.map(0, 3 * 4096, Prot::from_bits(5), MapFlags::default(), b).unwrap();
        let own = s.map(0, 4096, Prot::RW, MapFlags::default(), Backing::Anonymous).unwrap();
        let own_frame = frame_of(&s, own).unwrap();
        // The middle page mapped from a copy, as the loader maps one (read-only, accessed).
        let copy = 0x7_0000;
        let image_entry = paging::lookup(s.root(), a + 4096);
        let copy_entry = (image_entry & !pte::ADDR_MASK) | copy;
        paging::set(s.root(), a + 4096, copy_entry, &mut s.frames.lock()).unwrap();
        let instead = |frame: u64| (frame == copy).then_some(IMAGE_GPA + 0x4000);
        assert_eq!(paging::repoint_app_entries(s.root(), &mut s.frames.lock(), &instead), 1);
        assert_eq!(paging::lookup(s.root(), a + 4096), image_entry, "the image page, the same rights and bits");
        assert_eq!(frame_of(&s, a), Some(IMAGE_GPA + 0x3000), "other entries as they were");
        assert_eq!(frame_of(&s, own), Some(own_frame));
        assert_eq!(paging::repoint_app_entries(s.root(), &mut s.frames.lock(), &instead), 0, "nothing maps it now");
    }

    /// Maps an app like a 5.4 MB Go binary whose bytes sit at image offset `at`: text (r-x)
    /// and read-only data (r--) back to back, then writable data.
    fn map_go_like(s: &mut AddressSpace, at: u64) {
        let fixed = MapFlags { fixed: true, ..Default::default() };
        let text = Backing::Image { image_offset: at, file_len: 0x1a_a000 };
        s.map(0x40_0000, 0x1a_a000, Prot::from_bits(5), fixed, text).unwrap();
        let rodata = Backing::Image { image_offset: at + 0x1a_a000, file_len: 0x1a_6000 };
        s.map(0x5a_a000, 0x1a_6000, Prot::from_bits(1), fixed, rodata).unwrap();
        // (Its copy of the image's bytes is not what the tests look at.)
        s.map(0x75_0000, 0x7_3000, Prot::from_bits(3), fixed, Backing::Anonymous).unwrap();
    }

    #[test]
    fn read_only_image_chunks_are_mapped_with_large_pages() {
        let mut s = space();
        map_go_like(&mut s, 0x20_0000);
        let in_use = s.frames_in_use();
        // 0x400000..0x600000: text and read-only data, whole; 0x600000..: data too, not.
        assert_eq!(s.map_large_image_chunks(0x40_0000, 0x7c_3000), 1);
        assert!(s.in_large_page(0x40_0000) && s.in_large_page(0x5f_f000));
        assert!(!s.in_large_page(0x60_0000));
        let rodata = paging::lookup(s.root, 0x5a_b000);
        assert_eq!(paging::entry_frame(rodata), Some(IMAGE_GPA + 0x3a_b000));
        assert_eq!(rodata & (pte::WRITABLE | pte::NO_EXECUTE), 0, "one entry: read and execute");
        assert_eq!(frame_of(&s, 0x60_0000), Some(IMAGE_GPA + 0x40_0000));
        assert_eq!(s.frames_in_use(), in_use - 1, "the replaced table is freed");
        assert!(!s.flush_pending, "no right went: no flush owed");
        assert_eq!(s.large_pages, 1);
    }

    #[test]
    fn the_loader_maps_large_chunks_first_and_fills_the_rest() {
        let mut s = space();
        let deferred = MapFlags { fixed: true, defer_fill: true, ..Default::default() };
        let text = Backing::Image { image_offset: 0x20_0000, file_len: 0x1a_a000 };
        s.map(0x40_0000, 0x1a_a000, Prot::from_bits(5), deferred, text).unwrap();
        let rodata = Backing::Image { image_offset: 0x3a_a000, file_len: 0x1a_6000 };
        s.map(0x5a_a000, 0x1a_6000, Prot::from_bits(1), deferred, rodata).unwrap();
        assert_eq!(frame_of(&s, 0x40_0000), None, "nothing filled yet");
        let in_use = s.frames_in_use();
        assert_eq!(s.map_large_image_chunks(0x40_0000, 0x75_0000), 1);
        s.fill_deferred(0x40_0000, 0x75_0000).unwrap();
        assert!(s.in_large_page(0x5f_f000));
        assert_eq!(frame_of(&s, 0x60_0000), Some(IMAGE_GPA + 0x40_0000), "the rest is filled");
        assert_eq!(frame_of(&s, 0x74_f000), Some(IMAGE_GPA + 0x54_f000));
        // The two directories above them, a table for the small entries past the chunk,
        // and none for the chunk.
        assert_eq!(s.frames_in_use(), in_use + 3);
        assert_eq!(s.resident, 0x35_0000 / PAGE_SIZE, "every page of both segments");
    }

    #[test]
    fn chunks_off_the_image_alignment_or_with_gaps_stay_small() {
        let mut s = space();
        map_go_like(&mut s, 0x20_1000);
        assert_eq!(s.map_large_image_chunks(0x40_0000, 0x7c_3000), 0, "image offset not 2 MiB-aligned");
        let mut s = space();
        map_go_like(&mut s, 0x20_0000);
        s.unmap(0x50_0000, 0x1000).unwrap();
        assert_eq!(s.map_large_image_chunks(0x40_0000, 0x7c_3000), 0, "a hole");
    }

    #[test]
    fn changing_a_page_of_a_large_chunk_splits_it() {
        let mut s = space();
        map_go_like(&mut s, 0x20_0000);
        s.map_large_image_chunks(0x40_0000, 0x7c_3000);
        s.flush_now();
        let flushes = s.flushes;
        s.protect(0x5b_0000, 0x1000, Prot::from_bits(5)).unwrap();
        assert!(s.in_large_page(0x5b_0000), "already read and execute there: nothing to change");
        s.protect(0x50_0000, 0x1000, Prot::from_bits(1)).unwrap();
        assert!(!s.in_large_page(0x50_0000));
        s.flush_now();
        assert_eq!(s.flushes, flushes + 1);
        assert_ne!(paging::lookup(s.root, 0x50_0000) & pte::NO_EXECUTE, 0);
        assert_eq!(paging::lookup(s.root, 0x50_1000) & pte::NO_EXECUTE, 0);
        assert_eq!(frame_of(&s, 0x50_1000), Some(IMAGE_GPA + 0x30_1000));
        s.unmap(0x4f_f000, 0x1000).unwrap();
        assert_eq!(frame_of(&s, 0x4f_f000), None);
        assert_eq!(frame_of(&s, 0x4f_e000), Some(IMAGE_GPA + 0x2f_e000));
    }

    /// A file of `pages` frames from the address space's allocator, counting how many
    /// address spaces map it; the pages in `holes` are holes until filled.
    struct FakeFile {
        frames: Vec<u64>,
        holes: SpinLock<Vec<u64>>,
        mapped: core::sync::atomic::AtomicI64,
    }

    impl SharedPages for FakeFile {
        fn page_frame(&self, index: u64, fill_hole: bool) -> Result<FilePage, Errno> {
            let Some(&frame) = self.frames.get(index as usize) else { return Ok(FilePage::PastEnd) };
            let mut holes = self.holes.lock();
            match holes.iter().position(|&h| h == index) {
                Some(_) if !fill_hole => Ok(FilePage::Hole),
                Some(at) => {
                    holes.swap_remove(at);
                    Ok(FilePage::Frame(frame))
                }
                None => Ok(FilePage::Frame(frame)),
            }
        }

        fn set_mapped(&self, mapped: bool) {
            self.mapped.fetch_add(if mapped { 1 } else { -1 }, Ordering::Relaxed);
        }

        fn is_unlinked(&self) -> bool {
            false
        }

        fn prepare(&self, _first: u64, _count: u64) {}
    }

    fn mapped(file: &Arc<FakeFile>, id: (u64, u64)) -> MappedFile {
        MappedFile { pages: file.clone(), id, path: b"/dev/shm/fake".to_vec() }
    }

    fn fake_file(s: &AddressSpace, pages: u64) -> Arc<FakeFile> {
        let frames = (0..pages).map(|_| s.frames.lock().alloc_zeroed().unwrap()).collect();
        Arc::new(FakeFile { frames, holes: SpinLock::new(Vec::new()), mapped: core::sync::atomic::AtomicI64::new(0) })
    }

    #[test]
    fn file_mappings_leave_holes_to_faults_which_fill_a_run_of_pages() {
        let mut s = space();
        let file = fake_file(&s, 40);
        *file.holes.lock() = (0..40).filter(|i| i % 10 != 0).collect();
        let id = (9, 45);
        let a = s.map_file(0, 40 * 4096, Prot::RW, MapFlags::default(), mapped(&file, id), 0, true, true).unwrap();
        let mapped = |s: &AddressSpace| (0..40).filter(|i| frame_of(s, a + i * 4096).is_some()).count();
        assert_eq!(mapped(&s), 4, "at mmap: only the pages the file has");
        assert_eq!(s.handle_fault(a + 4096 + 5, Access::Write), FaultOutcome::Resolved);
        assert_eq!(mapped(&s), 4 + 15, "the fault filled pages 1 to 16 (10 was there)");
        assert_eq!(frame_of(&s, a + 16 * 4096), Some(file.frames[16]));
        assert_eq!(frame_of(&s, a + 17 * 4096), None);
        assert_eq!(s.handle_fault(a + 35 * 4096, Access::Read), FaultOutcome::Resolved);
        assert_eq!(mapped(&s), 4 + 15 + 5, "up to the end of the mapping only");
    }

    #[test]
    fn shared_file_mappings_map_the_file_frames_and_never_free_them() {
        let mut s = space();
        let file = fake_file(&s, 2);
        phys::write_bytes(file.frames[1], b"file data");
        let id = (9, 42);
        let a = s.map_file(0, 3 * 4096, Prot::RW, MapFlags::default(), mapped(&file, id), 0, true, true).unwrap();
        let b = s.map_file(0, 4096, Prot::RW, MapFlags::default(), mapped(&file, id), 4096, true, true).unwrap();
        assert_eq!(file.mapped.load(Ordering::Relaxed), 1, "one address space holds the file once");
        assert_eq!(frame_of(&s, a + 4096), Some(file.frames[1]), "filled at mmap with the file's frame");
        assert_eq!(frame_of(&s, b), Some(file.frames[1]), "both mappings map the same frame");
        assert_ne!(paging::lookup(s.root, a) & SOFT_BORROWED, 0);
        assert_eq!(frame_of(&s, a + 8192), None, "past the end of the file: not filled");
        assert_eq!(s.handle_fault(a + 8192, Access::Read), FaultOutcome::BusError);
        s.protect(a, 4096, Prot::from_bits(1)).unwrap();
        assert_ne!(paging::lookup(s.root, a) & SOFT_BORROWED, 0, "mprotect keeps the mark");
        assert_eq!(s.patch_code_page(a, 0, &[0x90]), Err(Errno::EFAULT), "a file page is never patched privately");
        s.discard(a, 3 * 4096).unwrap();
        assert_eq!(s.handle_fault(a + 4096, Access::Read), FaultOutcome::Resolved);
        assert_eq!(frame_of(&s, a + 4096), Some(file.frames[1]), "after MADV_DONTNEED the file's page comes back");
        let available = s.frames_available();
        s.unmap(a, 3 * 4096).unwrap();
        assert_eq!(file.mapped.load(Ordering::Relaxed), 1, "still mapped at b");
        s.unmap(b, 4096).unwrap();
        assert_eq!(s.frames_available(), available, "unmapping frees none of the file's frames");
        assert_eq!(file.mapped.load(Ordering::Relaxed), 0, "let go of once no mapping is left");
        let mut data = [0u8; 9];
        phys::read_bytes(file.frames[1], &mut data);
        assert_eq!(&data, b"file data");
    }

    #[test]
    fn private_file_mappings_copy_a_page_when_it_becomes_writable() {
        let mut s = space();
        let file = fake_file(&s, 2);
        phys::write_bytes(file.frames[0], b"file");
        let id = (9, 44);
        let flags = MapFlags::default();
        let ro = s.map_file(0, 2 * 4096, Prot::from_bits(1), flags, mapped(&file, id), 0, false, false).unwrap();
        assert_eq!(frame_of(&s, ro), Some(file.frames[0]), "read-only: the file's own frame");
        let rw = s.map_file(0, 4096, Prot::RW, flags, mapped(&file, id), 0, false, false).unwrap();
        let copy = frame_of(&s, rw).unwrap();
        assert_ne!(copy, file.frames[0], "writable: a copy of its own");
        assert_eq!(paging::lookup(s.root, rw) & SOFT_BORROWED, 0, "owned, freed with the mapping");
        s.protect(ro, 4096, Prot::RW).unwrap();
        let made = frame_of(&s, ro).unwrap();
        assert_ne!(made, file.frames[0], "made writable: copied");
        let mut data = [0u8; 4];
        phys::read_bytes(made, &mut data);
        assert_eq!(&data, b"file");
        assert!(!s.maps_file_writable(id), "private mappings do not count against F_SEAL_WRITE");
    }

    #[test]
    fn shared_file_mappings_of_read_only_files_stay_read_only() {
        let mut s = space();
        let file = fake_file(&s, 1);
        let id = (9, 43);
        let flags = MapFlags::default();
        assert_eq!(s.map_file(0, 4096, Prot::RW, flags, mapped(&file, id), 0, true, false), Err(Errno::EACCES));
        assert_eq!(file.mapped.load(Ordering::Relaxed), 0, "a refused mapping holds nothing");
        let past = s.map_file(0, 4096, Prot::from_bits(1), flags, mapped(&file, id), u64::MAX - 4095, true, false);
        assert_eq!(past, Err(Errno::EOVERFLOW), "the file range would wrap");
        let a = s.map_file(0, 4096, Prot::from_bits(1), flags, mapped(&file, id), 0, true, false).unwrap();
        assert_eq!(s.protect(a, 4096, Prot::RW), Err(Errno::EACCES));
        let fixed = MapFlags { fixed: true, ..MapFlags::default() };
        assert_eq!(s.map_file(a, 4096, Prot::from_bits(1), fixed, mapped(&file, id), 0, true, false), Ok(a));
        assert_eq!(file.mapped.load(Ordering::Relaxed), 1, "MAP_FIXED over its own mapping keeps the file");
        assert_eq!(frame_of(&s, a), Some(file.frames[0]));
    }
}
