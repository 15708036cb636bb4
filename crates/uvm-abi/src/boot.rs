//! [`BootInfo`]: what the VMM tells the guest kernel at entry.
//!
//! The VMM writes one `BootInfo` at [`crate::layout::BOOT_INFO_GPA`], followed by its string
//! area, and enters the kernel with `rdi` = the boot info's virtual address in the direct map.
//! Everything the guest needs from the host at boot is here; nothing is read from the host
//! later except through hypercalls.

use crate::layout;

/// `BootInfo::magic`.
pub const BOOT_INFO_MAGIC: u64 = u64::from_le_bytes(*b"UVMBOOT\0");

/// How the guest kernel runs on this host; it selects the few instructions that differ.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// KVM without hardware virtualisation (PVM): the kernel runs in ring 3, `syscall` lands
    /// at LSTAR still in ring 3, ring-0 code is emulated.
    Pvm = 1,
    /// KVM on VMX or SVM: the kernel runs its syscall path in ring 0.
    HardwareVirt = 2,
}

impl Platform {
    /// Decodes the `platform` field of a boot info.
    pub fn from_raw(raw: u32) -> Option<Platform> {
        match raw {
            1 => Some(Platform::Pvm),
            2 => Some(Platform::HardwareVirt),
            _ => None,
        }
    }
}

/// `BootInfo::flags`: report every syscall through the trace hypercall (`--trace-syscalls`).
pub const FLAG_TRACE_SYSCALLS: u64 = 1 << 0;
/// `BootInfo::flags`: the host's stdin is a terminal.
pub const FLAG_STDIN_TTY: u64 = 1 << 1;
/// `BootInfo::flags`: the host's stdout is a terminal.
pub const FLAG_STDOUT_TTY: u64 = 1 << 2;
/// `BootInfo::flags`: the host's stderr is a terminal.
pub const FLAG_STDERR_TTY: u64 = 1 << 3;
/// `BootInfo::flags`: the image lays the app out for large pages and the host backs its
/// read-only 2 MiB chunks with 2 MiB pages (checked on the first), so a 2 MiB guest page of
/// one becomes one 2 MiB shadow page: the kernel maps those chunks whole.
pub const FLAG_IMAGE_LARGE_PAGES: u64 = 1 << 4;
/// `BootInfo::flags`: the root file system is the image itself, read-only (`[vm] read_only`,
/// `uvm run --read-only`); without it the root is writable, the app's changes kept in guest
/// memory over the image.
pub const FLAG_READ_ONLY_ROOT: u64 = 1 << 5;
/// `BootInfo::flags`: the first program is not the image's app but the one named by the
/// string after the mounts' (`uvm run --entrypoint`): the first of its paths (joined by `:`;
/// the VMM's lookup of a name in the app's PATH, or the one path given) that opens, run as
/// execve runs a program (a static ELF file or a `#!` script, in the image or a volume).
pub const FLAG_ENTRYPOINT: u64 = 1 << 6;
/// `BootInfo::flags`: three strings follow the last of the others (`uvm run --hostname`): the
/// host name (uname's nodename; 1 to 64 bytes), then a file and a line the kernel appends to
/// it at boot, in the writable root (the image's `/etc/hosts` and the VM's address with that
/// name, so the name resolves as in a docker container; nothing when the file string is
/// empty or the root is read-only).
pub const FLAG_HOSTNAME: u64 = 1 << 7;

/// The boot information block. All addresses are guest-physical unless named `_va`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// [`BOOT_INFO_MAGIC`].
    pub magic: u64,
    /// [`crate::ABI_VERSION`] of the VMM that wrote this.
    pub abi_version: u32,
    /// A [`Platform`] value.
    pub platform: u32,
    /// `FLAG_*` bits.
    pub flags: u64,
    /// Bytes of guest RAM, from GPA 0.
    pub ram_size: u64,
    /// First GPA the kernel's frame allocator may hand out; everything below is in use
    /// (system area, kernel, boot page tables).
    pub first_free_gpa: u64,
    /// GPA of the root page table (the value in CR3).
    pub page_table_root: u64,
    /// GPA of the image file (mapped read-only).
    pub image_gpa: u64,
    /// Bytes of the image file.
    pub image_size: u64,
    /// TSC frequency in kHz.
    pub tsc_khz: u64,
    /// TSC value at `boot_realtime_ns`.
    pub boot_tsc: u64,
    /// CLOCK_REALTIME in nanoseconds, taken together with `boot_tsc`.
    pub boot_realtime_ns: u64,
    /// Fresh randomness from the host, for AT_RANDOM and getrandom's generator seed.
    pub random_seed: [u64; 4],
    /// AT_HWCAP for the app (CPUID leaf 1 EDX as the VM reports it).
    pub hwcap: u64,
    /// AT_HWCAP2 for the app.
    pub hwcap2: u64,
    /// Number of argv strings (argv[0] included).
    pub argc: u32,
    /// Number of envp strings (`KEY=VALUE`).
    pub envc: u32,
    /// Offset of the string area from the start of this struct: argv, then envp, then the
    /// working directory, then the volumes (`crate::hostfs`), then the entrypoint (with
    /// [`FLAG_ENTRYPOINT`]), then the host name's three (with [`FLAG_HOSTNAME`]), each
    /// NUL-terminated.
    pub strings_offset: u32,
    /// Bytes in the string area.
    pub strings_len: u32,
    /// How many app threads may run at once (`[vm] cpus`): what the app sees as its CPU count
    /// (sched_getaffinity, /proc/cpuinfo). The guest may start more vCPUs than this (one per
    /// thread, up to `MAX_VCPUS`); the VMM lets at most this many run at a time.
    pub vcpu_count: u32,
    /// Mounts (`crate::hostfs`: volumes and tmpfs mounts): their strings follow the working
    /// directory's.
    pub volume_count: u32,
    /// GPA of the first of `prestaged_pages` frames the VMM filled with the app's writable
    /// data (see [`prestaged_pages`]); they lie below `first_free_gpa`, after the boot page
    /// tables. The kernel maps them instead of copying those pages from the image.
    pub prestaged_gpa: u64,
    /// How many frames from `prestaged_gpa` hold app data (0: none; the kernel copies).
    pub prestaged_pages: u64,
    /// Bytes of RAM, from GPA 0, the guest may use from boot on (at most `ram_size`). The
    /// rest becomes usable once [`crate::hypercall::Hypercall::RamReady`] says so: the VMM
    /// registers a RAM past 32 MiB with KVM in two parts, the second once the guest asks.
    pub ram_ready_size: u64,
    /// The app's user id at boot: its real, effective, saved and file-system uid (0: root;
    /// `[app] user`, `uvm run --user`).
    pub uid: u32,
    /// The app's group id at boot, as `uid`.
    pub gid: u32,
    /// How many of `groups` are the app's supplementary groups (at most [`MAX_BOOT_GROUPS`]).
    pub group_count: u32,
    /// Zero.
    pub reserved: u32,
    /// The app's supplementary groups: the first `group_count` entries.
    pub groups: [u32; MAX_BOOT_GROUPS],
    /// How many hot copies follow the `prestaged_pages` frames (0: none): frames the VMM
    /// filled with whole pages of the image, each the page the list at `hot_list_gpa` names
    /// (ascending page numbers in the image, little-endian `u32`s: see [`hot_list_entry`]),
    /// in that order. They are the
    /// pages of the app's read-only segments an earlier start of the image touched: the
    /// kernel maps a copy wherever it would map that image page in place, and KVM maps
    /// RAM's pages 8 to a fault, where it maps the read-only image slot's one by one.
    /// The frames are filled while the guest boots: they hold the copies only once the
    /// list page's word at [`HOT_READY_OFFSET`] is non-zero, and the kernel enters the app
    /// only then.
    pub hot_pages: u64,
    /// GPA of the hot copies' list (one page, at most [`MAX_HOT_PAGES`] page numbers, then
    /// the ready word at [`HOT_READY_OFFSET`]), or with no copies of the page a start that
    /// learns them reports into; 0 with neither. It is the page right before
    /// `prestaged_gpa`, right after the boot page tables: the kernel reads it through its
    /// direct map at boot, as it reads the tables, and so in the same group of 8 pages that
    /// KVM maps at one fault.
    pub hot_list_gpa: u64,
}

/// The most hot copies a start gets: one list page of `u32` page numbers, less its ready
/// word. (Until session 32 the list held `u64` offsets, 511 of them, which a Go service's
/// start outgrew.)
pub const MAX_HOT_PAGES: u64 = HOT_READY_OFFSET / 4;
const _: () = assert!(MAX_HOT_PAGES * 4 <= HOT_READY_OFFSET, "the entries end before the ready word");

/// The hot copies' list entry for the image page at `offset` (page-aligned): its page
/// number, `None` past what a `u32` holds (an image of 16 TiB; `IMAGE_MAX_SIZE` is less).
pub fn hot_list_entry(offset: u64) -> Option<u32> {
    u32::try_from(offset / layout::PAGE_SIZE).ok()
}

/// The image offset a hot copies' list entry names.
pub const fn hot_list_offset(entry: u32) -> u64 {
    entry as u64 * layout::PAGE_SIZE
}

/// Where in the hot copies' list page ([`BootInfo::hot_list_gpa`]) the VMM sets a `u64` to 1
/// (with release ordering) once every copy is in its frame; 0 until then. The VMM fills the
/// frames on another thread while the guest boots (~1 us a page), so a start does not wait
/// for them before its first instruction; the kernel waits for this word before it first
/// enters the app, the first code that may touch a copy.
pub const HOT_READY_OFFSET: u64 = layout::PAGE_SIZE - 8;

/// The most supplementary groups a boot info carries for the app's user.
pub const MAX_BOOT_GROUPS: usize = 32;

/// The pages of the app's writable data, in the order the VMM fills the prestaged frames and
/// the kernel maps them: for each writable PT_LOAD segment in program-header order, each page
/// from the one holding `p_vaddr` up to the one holding the last byte of its file data, as
/// `(image offset, bytes)`. A page holds the file bytes from its own start (`p_offset` minus
/// the segment's offset into its first page), `bytes` of them, then zeros: what the kernel
/// would copy. `segments` are `(p_offset, p_vaddr, p_filesz, p_flags)` (writable: [`PF_W`]);
/// `app_offset` is where the app's bytes start in the image. A segment whose numbers overflow has no pages.
/// Two segments may share a file page and copy different bytes of it: a page is known by its
/// `(image offset, bytes)` pair, not by its offset alone.
pub fn prestaged_pages<I>(app_offset: u64, segments: I) -> impl Iterator<Item = (u64, u64)>
where
    I: IntoIterator<Item = (u64, u64, u64, u32)>,
{
    segment_pages(app_offset, segments, true)
}

/// The pages of the app's read-only segments, as [`prestaged_pages`] has the writable ones:
/// the pages the loader maps from the image in place, which [`BootInfo::hot_list_gpa`]'s
/// copies stand in for.
pub fn read_only_pages<I>(app_offset: u64, segments: I) -> impl Iterator<Item = (u64, u64)>
where
    I: IntoIterator<Item = (u64, u64, u64, u32)>,
{
    segment_pages(app_offset, segments, false)
}

fn segment_pages<I>(app_offset: u64, segments: I, writable: bool) -> impl Iterator<Item = (u64, u64)>
where
    I: IntoIterator<Item = (u64, u64, u64, u32)>,
{
    let chosen = move |&(_, _, _, flags): &(u64, u64, u64, u32)| (flags & PF_W != 0) == writable;
    segments.into_iter().filter(chosen).flat_map(move |(offset, vaddr, filesz, _)| {
        let lead = vaddr % layout::PAGE_SIZE;
        let first = app_offset.checked_add(offset).and_then(|o| o.checked_sub(lead));
        let (first, file_len) = match (first, lead.checked_add(filesz)) {
            (Some(first), Some(file_len)) if first.checked_add(file_len).is_some() => (first, file_len),
            _ => (0, 0),
        };
        (0..file_len.div_ceil(layout::PAGE_SIZE)).map(move |i| {
            let at = i * layout::PAGE_SIZE;
            (first + at, (file_len - at).min(layout::PAGE_SIZE))
        })
    })
}

/// The load bias of a static-pie app, for the image builder, the VMM and the guest kernel
/// alike: [`layout::PIE_BASE_VA`], except for an app whose longest run of read-only segments
/// (readable, not writable, back to back in address and in file, from each one's first page to
/// the end of its file bytes' last page) spans 2 MiB or more. Then it is the 2 MiB boundary
/// below `PIE_BASE_VA` plus what puts the run's first page on a 2 MiB boundary, so that the run
/// holds as many whole 2 MiB chunks as it can: the guest maps those with large pages. (A
/// linker that shifts the text's file offsets against its addresses, as Rust's does, leaves
/// runs that a fixed bias would cut short of a whole chunk.) `segments` are the PT_LOADs
/// in program-header order as `(p_offset, p_vaddr, p_filesz, p_memsz, p_flags)`.
pub fn pie_load_bias<I>(segments: I) -> u64
where
    I: IntoIterator<Item = (u64, u64, u64, u64, u32)>,
{
    const CHUNK: u64 = layout::LARGE_PAGE_SIZE;
    let mut run = None;
    let mut longest: Option<(u64, u64)> = None;
    for (offset, vaddr, filesz, memsz, flags) in segments {
        if memsz == 0 {
            continue;
        }
        run = next_read_only_run(run, vaddr, offset, filesz, flags).flatten();
        if let Some((first, end, _)) = run {
            if longest.is_none_or(|(f, e)| end - first > e - f) {
                longest = Some((first, end));
            }
        }
    }
    match longest {
        Some((first, end)) if end - first >= CHUNK => {
            (layout::PIE_BASE_VA & !(CHUNK - 1)) + (CHUNK - first % CHUNK) % CHUNK
        }
        _ => layout::PIE_BASE_VA,
    }
}

/// A run of read-only segments' pages that map the file in place: its first page, the end
/// of its file bytes' last page, and the load address minus the file offset (the same for
/// every segment of the run).
pub type ReadOnlyRun = (u64, u64, u64);

/// The read-only run after the segment loaded at `start` (load bias included) from file
/// offset `offset`, `filesz` bytes with `p_flags` `flags`, given `run`, the one before it (in
/// address order): the run grows when the segment is read-only and follows it back to back in
/// address and in file, starts anew at another read-only segment, and ends (`Some(None)`) at
/// any other. `None` when the segment's end overflows. (Pages past a segment's file bytes are
/// zero pages, not the file's; the page its bytes end in is the file's, as on Linux.)
pub fn next_read_only_run(
    run: Option<ReadOnlyRun>,
    start: u64,
    offset: u64,
    filesz: u64,
    flags: u32,
) -> Option<Option<ReadOnlyRun>> {
    let page = start & !(layout::PAGE_SIZE - 1);
    let in_place_end = start.checked_add(filesz).and_then(|e| layout::align_up(e, layout::PAGE_SIZE))?;
    let delta = start.wrapping_sub(offset);
    let read_only = flags & PF_W == 0 && flags & PF_R != 0;
    Some(match run {
        _ if !read_only || in_place_end <= page => None,
        Some((first, end, d)) if end == page && d == delta => Some((first, in_place_end, d)),
        _ => Some((page, in_place_end, delta)),
    })
}

/// `p_flags` bit of a readable ELF segment.
pub const PF_R: u32 = 4;

/// `p_flags` bit of a writable ELF segment.
pub const PF_W: u32 = 2;

/// The most pages the VMM prestages: an app with more writable file data gets none (the
/// kernel copies them all, as without prestaging).
pub const MAX_PRESTAGED_PAGES: u64 = 1024;

impl BootInfo {
    /// The most string bytes that fit after the struct in the boot-info area.
    pub const MAX_STRINGS_LEN: u64 = layout::BOOT_INFO_SIZE - core::mem::size_of::<BootInfo>() as u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_list_entries_are_page_numbers_that_fit_the_list_page() {
        assert_eq!(hot_list_entry(0x5000), Some(5));
        assert_eq!(hot_list_offset(5), 0x5000);
        let last = layout::IMAGE_MAX_SIZE - layout::PAGE_SIZE;
        assert_eq!(hot_list_entry(last).map(hot_list_offset), Some(last), "every image page has an entry");
        assert_eq!(hot_list_entry(1 << 44), None, "past a u32's page numbers");
        assert_eq!(MAX_HOT_PAGES, 1022, "4-byte entries up to the ready word");
    }

    #[test]
    fn boot_info_layout_is_stable() {
        assert_eq!(core::mem::size_of::<BootInfo>(), 344);
        assert_eq!(core::mem::offset_of!(BootInfo, hot_pages), 328);
        assert_eq!(core::mem::offset_of!(BootInfo, hot_list_gpa), 336);
        assert_eq!(core::mem::offset_of!(BootInfo, uid), 184);
        assert_eq!(core::mem::offset_of!(BootInfo, groups), 200);
        assert_eq!(core::mem::offset_of!(BootInfo, prestaged_gpa), 160);
        assert_eq!(core::mem::offset_of!(BootInfo, random_seed), 88);
        assert_eq!(core::mem::offset_of!(BootInfo, argc), 136);
        assert_eq!(core::mem::align_of::<BootInfo>(), 8);
    }

    #[test]
    fn prestaged_pages_cover_each_writable_segments_file_bytes_from_its_first_page() {
        // (p_offset, p_vaddr, p_filesz, p_flags): text (r-x), then data (rw-) starting 0x6d8
        // into a page with 0x5b98 file bytes (glibc's layout), then a pure-bss segment (rw-).
        let segments =
            [(0x1000, 0x40_1000, 0x7_7d01, 5), (0xa_06d8, 0x4a_06d8, 0x5b98, 6), (0xb_0000, 0x4b_0000, 0, 6)];
        let mut pages = [(0, 0); 8];
        let mut count = 0;
        for (slot, page) in pages.iter_mut().zip(prestaged_pages(0x5_2000, segments)) {
            *slot = page;
            count += 1;
        }
        assert_eq!(count, 7, "0x6d8 + 0x5b98 bytes span 7 pages");
        assert_eq!(prestaged_pages(0x5_2000, segments).count(), 7);
        assert_eq!(pages[0], (0x5_2000 + 0xa_0000, 4096), "from the page start, lead bytes included");
        assert_eq!(pages[6], (0x5_2000 + 0xa_6000, (0x6d8 + 0x5b98) - 6 * 4096));
        assert_eq!(prestaged_pages(0, [(u64::MAX, 0x1000, 10, PF_W)]).count(), 0, "overflow: no pages");
        let mut read_only = read_only_pages(0x5_2000, segments);
        assert_eq!(read_only.next(), Some((0x5_2000 + 0x1000, 4096)));
        assert_eq!(read_only.next(), Some((0x5_2000 + 0x2000, 4096)));
        assert_eq!(read_only.last(), Some((0x5_2000 + 0x1000 + 0x77000, 0x7_7d01 - 0x77000)));
        assert_eq!(read_only_pages(0x5_2000, segments).count(), 0x7_7d01_usize.div_ceil(4096));
    }

    #[test]
    fn a_static_pie_with_a_long_read_only_run_is_loaded_to_align_it() {
        use layout::{LARGE_PAGE_SIZE, PIE_BASE_VA};
        let (r, rx, rw) = (PF_R, PF_R | 1, PF_R | PF_W);
        // A Rust service's layout: read-only data, then text at a file offset 0x1000 below its
        // address (another run), 2.04 MiB long, then data.
        let rust = [
            (0, 0, 0x10_ba4c, 0x10_ba4c, r),
            (0x10_ba80, 0x10_ca80, 0x20_9e00, 0x20_9e00, rx),
            (0x31_5880, 0x31_7880, 0x3_f820, 0x4_0780, rw),
        ];
        let bias = pie_load_bias(rust);
        assert_eq!((bias + 0x10_c000) % LARGE_PAGE_SIZE, 0, "the text's first page on a 2 MiB boundary");
        assert!(bias <= PIE_BASE_VA && PIE_BASE_VA - bias < LARGE_PAGE_SIZE);
        // A small static-pie keeps the usual bias.
        let small = [(0, 0, 0x8_0000, 0x8_0000, rx), (0x8_1000, 0x8_1000, 0x1000, 0x2000, rw)];
        assert_eq!(pie_load_bias(small), PIE_BASE_VA);
        // Runs: back to back in file and address, read-only; the longest wins.
        let two = [(0, 0, 0x10_0000, 0x10_0000, r), (0x10_0000, 0x10_0000, 0x20_0000, 0x20_0000, rx)];
        assert_eq!(pie_load_bias(two) % LARGE_PAGE_SIZE, 0, "one run from 0");
    }

    #[test]
    fn read_only_runs_grow_restart_and_end() {
        let (r, rx, rw) = (PF_R, PF_R | 1, PF_R | PF_W);
        let run = next_read_only_run(None, 0x40_0000, 0, 0x1800, rx).unwrap();
        assert_eq!(run, Some((0x40_0000, 0x40_2000, 0x40_0000)), "starts at the first page");
        let grown = next_read_only_run(run, 0x40_2000, 0x2000, 0x1000, r).unwrap();
        assert_eq!(grown, Some((0x40_0000, 0x40_3000, 0x40_0000)), "back to back: grows");
        let shifted = next_read_only_run(grown, 0x40_3000, 0x4000, 0x1000, r).unwrap();
        assert_eq!(shifted, Some((0x40_3000, 0x40_4000, 0x40_3000 - 0x4000)), "another file delta: anew");
        assert_eq!(next_read_only_run(shifted, 0x40_4000, 0x5000, 0x1000, rw), Some(None), "writable: ends");
        assert_eq!(next_read_only_run(None, u64::MAX - 0x100, 0, 0x1000, r), None, "overflow");
    }

    #[test]
    fn platform_round_trips() {
        assert_eq!(Platform::from_raw(Platform::Pvm as u32), Some(Platform::Pvm));
        assert_eq!(Platform::from_raw(2), Some(Platform::HardwareVirt));
        assert_eq!(Platform::from_raw(0), None);
    }
}
