//! Everything written into guest memory before the first entry: the guest kernel, the
//! descriptor tables, the boot page tables and the [`BootInfo`] with its strings.

use uvm_abi::boot::{BootInfo, Platform, BOOT_INFO_MAGIC, MAX_BOOT_GROUPS};
use uvm_abi::kernel::{
    KernelHeader, EXCEPTION_STUB_STRIDE, EXCEPTION_VECTORS, KERNEL_HEADER_V1_SIZE, KERNEL_HEADER_V2_SIZE,
    KERNEL_HEADER_V3_SIZE, KERNEL_MAGIC,
};
use uvm_abi::layout::{self, BOOT_INFO_GPA, KERNEL_BASE, KERNEL_END};

use crate::cpu;
use crate::error::VmError;
use crate::hot_copies::HotCopier;
use crate::memory::{GuestMemory, MapOverRamError};
use crate::paging::BootPageTables;
use crate::volumes::VolumeSpec;

/// What the app starts with, as the VMM passes it to the guest kernel.
#[derive(Clone, Debug, Default)]
pub struct AppLaunch {
    /// argv, argv[0] included.
    pub argv: Vec<String>,
    /// envp entries, `KEY=VALUE`.
    pub envp: Vec<String>,
    /// Working directory (absolute).
    pub workdir: String,
    /// Guest paths where the guest kernel mounts a new, empty tmpfs (`uvm run --tmpfs`),
    /// checked absolute and plain.
    pub tmpfs: Vec<String>,
    /// Addresses the app will use first (its segments, stack, first mappings): their page
    /// tables are linked before boot.
    pub prelink: Vec<u64>,
    /// The app's writable data pages, `(image offset, bytes)`, from
    /// `uvm_abi::boot::prestaged_pages`: the VMM fills a frame with each, so the kernel maps
    /// them instead of copying them out of the image page by page (two guest faults each).
    pub prestage: Vec<(u64, u64)>,
    /// Image offsets (page-aligned, ascending, at most `uvm_abi::boot::MAX_HOT_PAGES`) of
    /// pages of the app's read-only segments to copy into frames of their own, the hot
    /// copies the kernel maps in their place (boot info `hot_*`): those an earlier start of
    /// the image touched. Empty: none.
    pub hot: Vec<u64>,
    /// This start learns which of those pages the app touches, for the next (with no `hot`
    /// pages): [`crate::hot_pages`].
    pub learn_hot: bool,
    /// Runs of fresh frames, `(first, frames)` counted from the first frame the guest's
    /// allocator hands out, that an earlier start of the image touched: the host backs them
    /// ahead, in the background ([`crate::hot_copies::FreshWarmer`]). Empty: none.
    pub fresh: Vec<(u64, u64)>,
    /// How many vCPUs after the boot one to make while the guest boots, ahead of the app's
    /// first threads or processes (`crate::vcpus_ahead`): one less than an earlier start
    /// ran, at most `crate::vcpus_ahead::MAX_VCPUS_AHEAD`. 0: none.
    pub vcpus_ahead: u32,
    /// The guest may map the app's read-only 2 MiB chunks with large pages
    /// (`FLAG_IMAGE_LARGE_PAGES`): the image lays them out 2 MiB-aligned and the host backs
    /// them with 2 MiB pages ([`crate::MappedFile::backs_with_large_page`]).
    pub large_pages: bool,
    /// The root file system is the image, read-only (`FLAG_READ_ONLY_ROOT`); else the app may
    /// change it, in guest memory.
    pub read_only_root: bool,
    /// Who the app runs as (`[app] user`, `uvm run --user`, resolved against the image's
    /// /etc/passwd and /etc/group); root by default.
    pub user: AppUser,
    /// The program to start instead of the image's app (`uvm run --entrypoint`).
    pub entrypoint: Option<Entrypoint>,
    /// The VM's host name (`uvm run --hostname`), if not the kernel's default.
    pub hostname: Option<HostName>,
}

/// A program to start instead of the image's app (`uvm_abi::boot::FLAG_ENTRYPOINT`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entrypoint {
    /// Where it may be: the guest runs the first of these paths that opens. Not empty; no
    /// `:` or NUL in any.
    pub candidates: Vec<String>,
}

/// The VM's host name and the line the guest appends to a file at boot so that it resolves
/// (`uvm_abi::boot::FLAG_HOSTNAME`). No NUL in any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostName {
    /// uname's nodename: 1 to 64 bytes.
    pub name: String,
    /// The guest path of the file to append `line` to (`/etc/hosts`); empty: none.
    pub append_to: String,
    /// The line, newline included.
    pub line: String,
}

/// The ids the app starts with: its real, effective, saved and file-system uid and gid, and
/// its supplementary groups (at most [`MAX_BOOT_GROUPS`]). The default is root: uid 0, gid 0,
/// no supplementary groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppUser {
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// The supplementary group ids, in order.
    pub groups: Vec<u32>,
}

impl AppUser {
    /// The boot info's `(group_count, groups)` for these groups.
    fn boot_groups(&self) -> Result<(u32, [u32; MAX_BOOT_GROUPS]), VmError> {
        let mut groups = [0; MAX_BOOT_GROUPS];
        let slots = groups
            .get_mut(..self.groups.len())
            .ok_or(VmError::TooManyGroups { count: self.groups.len(), max: MAX_BOOT_GROUPS })?;
        slots.copy_from_slice(&self.groups);
        Ok((self.groups.len() as u32, groups))
    }
}

/// Host facts that go into the boot info.
#[derive(Clone, Copy, Debug)]
pub struct BootFacts {
    /// How the kernel runs on this host.
    pub platform: Platform,
    /// `FLAG_*` bits of [`uvm_abi::boot`].
    pub flags: u64,
    /// TSC frequency.
    pub tsc_khz: u64,
    /// AT_HWCAP.
    pub hwcap: u64,
    /// Fresh randomness.
    pub random_seed: [u64; 4],
    /// How many vCPUs may run at once (`[vm] cpus`).
    pub vcpu_count: u32,
    /// Bytes of RAM registered with KVM before boot (`late_ram`).
    pub ram_ready_size: u64,
}

/// Reads and checks the kernel header at the start of the kernel's flat binary.
pub fn parse_kernel_header(kernel: &[u8]) -> Result<KernelHeader, VmError> {
    let bad = |what: &str| VmError::BadKernel(what.to_string());
    if kernel.len() < std::mem::size_of::<KernelHeader>() {
        return Err(bad("it is shorter than its header"));
    }
    let u32_at = |at: usize| u32::from_le_bytes([kernel[at], kernel[at + 1], kernel[at + 2], kernel[at + 3]]);
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&kernel[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let mut magic = [0u8; 8];
    magic.copy_from_slice(&kernel[..8]);
    if magic != KERNEL_MAGIC {
        return Err(bad("its header has the wrong magic"));
    }
    let header_size = u32_at(12);
    let sizes = [
        KERNEL_HEADER_V1_SIZE,
        KERNEL_HEADER_V2_SIZE,
        KERNEL_HEADER_V3_SIZE,
        std::mem::size_of::<KernelHeader>() as u32,
    ];
    if !sizes.contains(&header_size) {
        return Err(bad("its header has an unknown size"));
    }
    // An earlier layout ends before the cold range or the shared range: it marks none.
    let field_or_none = |at: usize| if at + 8 <= header_size as usize { u64_at(at) } else { KERNEL_BASE };
    let header = KernelHeader {
        magic,
        abi_version: u32_at(8),
        header_size,
        memory_size: u64_at(16),
        entry: u64_at(24),
        syscall_entry: u64_at(32),
        exception_stubs: u64_at(40),
        boot_stack_top: u64_at(48),
        cold_start: field_or_none(56),
        cold_end: field_or_none(64),
        shared_start: field_or_none(72),
        shared_end: field_or_none(80),
        // Its place in the VMM's copy; the binary's own is 0 (or, before this field, absent).
        boot_info_gpa: 0,
    };
    if header.abi_version != uvm_abi::ABI_VERSION {
        return Err(VmError::BadKernel(format!(
            "it was built for ABI version {}, this uvm speaks version {}",
            header.abi_version,
            uvm_abi::ABI_VERSION
        )));
    }
    let end = KERNEL_BASE + header.memory_size;
    if header.memory_size < kernel.len() as u64 || end > KERNEL_END {
        return Err(bad("its size does not fit the kernel area"));
    }
    let inside = |va: u64| (KERNEL_BASE..end).contains(&va);
    let stubs_end = header.exception_stubs + EXCEPTION_VECTORS as u64 * EXCEPTION_STUB_STRIDE;
    if !inside(header.entry)
        || !inside(header.syscall_entry)
        || !inside(header.exception_stubs)
        || stubs_end > end
        || !(KERNEL_BASE..=end).contains(&header.boot_stack_top)
    {
        return Err(bad("an entry point lies outside the kernel"));
    }
    let cold = header.cold_start..header.cold_end;
    if !cold.is_empty()
        && (cold.start < KERNEL_BASE + kernel.len() as u64
            || cold.end > end
            || cold.start % layout::PAGE_SIZE != 0
            || cold.end % layout::PAGE_SIZE != 0)
    {
        return Err(bad("its cold range is not whole pages of its zero-initialised data"));
    }
    let shared = header.shared_start..header.shared_end;
    if !shared.is_empty()
        && (shared.start < KERNEL_BASE + layout::PAGE_SIZE
            || shared.end > KERNEL_BASE + kernel.len() as u64
            || shared.start % layout::PAGE_SIZE != 0
            || shared.end % layout::PAGE_SIZE != 0)
    {
        return Err(bad("its shared range is not whole pages of its file bytes past the header's page"));
    }
    Ok(header)
}

/// The string area of the boot info: argv, envp, workdir, then one string per volume (`r` or
/// `w`, then its guest path: `uvm_abi::hostfs`) and one per tmpfs mount (`t`, then its
/// path), then the entrypoint if there is one, then the host name's three strings if there
/// is one, each NUL-terminated.
pub fn boot_strings(launch: &AppLaunch, volumes: &[VolumeSpec]) -> Result<Vec<u8>, VmError> {
    let mut strings = Vec::new();
    for s in launch.argv.iter().chain(&launch.envp).chain(std::iter::once(&launch.workdir)) {
        strings.extend_from_slice(s.as_bytes());
        strings.push(0);
    }
    for volume in volumes {
        strings.extend_from_slice(volume.boot_string().as_bytes());
        strings.push(0);
    }
    for path in &launch.tmpfs {
        strings.push(b't');
        strings.extend_from_slice(path.as_bytes());
        strings.push(0);
    }
    if let Some(entrypoint) = &launch.entrypoint {
        strings.extend_from_slice(entrypoint.candidates.join(":").as_bytes());
        strings.push(0);
    }
    if let Some(host) = &launch.hostname {
        for s in [&host.name, &host.append_to, &host.line] {
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
        }
    }
    if strings.len() as u64 > BootInfo::MAX_STRINGS_LEN {
        return Err(VmError::ArgsTooLarge { len: strings.len() as u64, max: BootInfo::MAX_STRINGS_LEN });
    }
    Ok(strings)
}

/// Where the boot page tables went: the root table, and the first guest-physical byte after
/// them (the kernel's frame allocator starts there).
#[derive(Debug, Clone, Copy)]
pub struct BootTables {
    /// GPA of the root page table (CR3).
    pub root: u64,
    /// First free GPA after the tables (and the prestaged frames).
    pub end_gpa: u64,
    /// GPA of the first prestaged frame (after the tables, the list page and the boot info).
    pub prestaged_gpa: u64,
    /// How many prestaged frames there are.
    pub prestaged_pages: u64,
    /// How many hot copies follow them (`AppLaunch::hot`), and where their list is (0: none).
    pub hot_pages: u64,
    /// GPA of the hot copies' list page (or of the page a start that learns reports into),
    /// right after the tables; 0 with neither.
    pub hot_list_gpa: u64,
    /// GPA of the boot info: after the tables and that page, before the prestaged frames
    /// (`BOOT_INFO_GPA` for a kernel whose header has no `boot_info_gpa`).
    pub boot_info_gpa: u64,
    /// Bytes set aside there: [`write_boot_info`] writes no more (what staging measured, in
    /// whole pages; `BOOT_INFO_SIZE` at `BOOT_INFO_GPA`).
    pub boot_info_room: u64,
}

/// How much of the kernel's heap (which starts where the kernel ends) its boot uses.
const KERNEL_HEAP_WARM: u64 = 32 << 10;

/// A file that holds the kernel's flat binary, page aligned, at `offset`: the `uvm` binary,
/// whose read-only data embeds it.
#[derive(Debug)]
pub struct KernelFile {
    /// The file, open for reading.
    pub file: std::fs::File,
    /// Where the kernel's first byte is in it (a multiple of the page size).
    pub offset: u64,
}

/// The part of the boot state that needs no KVM object: the kernel, the descriptor tables
/// (the GDT for every vCPU there may be, the boot vCPU's TSS; other vCPUs' TSSs are written
/// when they start: [`write_tss`]), the boot page tables (with `launch.prelink`'s tables
/// linked), the prestaged frames (`launch.prestage`) and the hot copies' frames and list
/// (`launch.hot`), which the returned copier fills ([`HotCopier`]). With `kernel_file`, the
/// kernel's shared range (its cold text) is mapped from that file instead of copied.
pub fn write_kernel_and_tables(
    memory: &GuestMemory,
    kernel: &[u8],
    header: &KernelHeader,
    launch: &AppLaunch,
    boot_info_len: u64,
    kernel_file: Option<&KernelFile>,
) -> Result<(BootTables, Option<HotCopier>), VmError> {
    let oob = || VmError::OutOfBootMemory;
    // The kernel's cold text (`KernelHeader::shared_start..shared_end`, 248 KiB today) is mapped
    // privately from the `uvm` binary: every VM then reads the same page-cache pages instead
    // of holding a copy of its own, and staging skips copying and backing them. A write to
    // them (the kernel makes none) would get a private copy, never reaching the file. The
    // price: KVM maps no neighbours along with a fault on pages the host has not backed
    // writable, so each cold text page the guest runs costs a fault of its own (a hello runs
    // none). Without the file (no /proc) the text is copied.
    let shared = match kernel_file {
        Some(f) if header.shared_start < header.shared_end => {
            let len = header.shared_end - header.shared_start;
            let at = f.offset + (header.shared_start - KERNEL_BASE);
            match memory.map_file_over_ram(header.shared_start, len, &f.file, at) {
                Ok(()) => true,
                Err(MapOverRamError::NotMapped(_)) => false,
                Err(MapOverRamError::RamLost(source)) => {
                    return Err(VmError::Memory { what: "guest RAM under the kernel's text", source })
                }
            }
        }
        _ => false,
    };
    let (shared_start, shared_end) =
        if shared { (header.shared_start, header.shared_end) } else { (KERNEL_BASE, KERNEL_BASE) };
    // The rest of the kernel, its zero-initialised data and the start of its heap are what
    // the guest touches first: backed before the copy, the copy takes no faults and the
    // guest's own first touches there take one fault per 8 pages (see
    // `GuestMemory::prefault_ram`). The kernel's cold range (`KernelHeader::cold_start..
    // cold_end`: the rest of its console buffer, its fault stack, the bottom of its boot
    // stack) stays unbacked: each page of it costs ~1.8 us to back here, and the boot never
    // touches it.
    let warm_end = KERNEL_BASE + header.memory_size.saturating_add(KERNEL_HEAP_WARM);
    let (cold_start, cold_end) =
        if header.cold_start < header.cold_end { (header.cold_start, header.cold_end) } else { (warm_end, warm_end) };
    for (start, end) in [(KERNEL_BASE, shared_start), (shared_end, cold_start), (cold_end, warm_end)] {
        memory.prefault_ram(start, end.saturating_sub(start));
    }
    let split = (shared_start - KERNEL_BASE) as usize;
    let resume = (shared_end - KERNEL_BASE) as usize;
    // From the file when there is one: the kernel's copy in this process's own read-only
    // data is then not read (~5 page faults of this thread, on the path to boot).
    for (gpa, bytes, at) in [(KERNEL_BASE, &kernel[..split], 0), (shared_end, &kernel[resume..], resume as u64)] {
        let read = kernel_file
            .is_some_and(|f| memory.read_file_into_ram(gpa, bytes.len() as u64, &f.file, f.offset + at).is_some());
        if !read {
            memory.write_ram(gpa, bytes).ok_or_else(oob)?;
        }
    }
    #[cfg(feature = "kernel-text-profile")]
    protect_profiled_text(memory, kernel)?;
    // The descriptor tables' pages and (8 at a time, in `zero_page`) the boot page tables'
    // are backed before they are written, as the kernel's are: a first touch by a write
    // costs this thread a host page fault (~3 us on the AMD host, more while the main
    // thread's KVM_CREATE_VM holds the mmap lock), a page backed in one call ~2.5 us.
    memory.prefault_ram(layout::GDT_GPA, layout::IDT_GPA + layout::PAGE_SIZE - layout::GDT_GPA);
    memory.write_ram(layout::GDT_GPA, &cpu::gdt_bytes(layout::MAX_VCPUS)).ok_or_else(oob)?;
    write_tss(memory, 0)?;
    memory.write_ram(layout::IDT_GPA, &cpu::idt_bytes(header)).ok_or_else(oob)?;

    let tables = BootPageTables::build(
        &mut &*memory,
        memory.ram_size(),
        memory.ram_size(),
        memory.image_size(),
        &launch.prelink,
    )
    .ok_or_else(oob)?;
    // The hot copies' list page (or the page a start that learns them reports into) comes
    // right after the tables, then the prestaged frames, then the copies: the kernel reads
    // the list page at boot through its direct map, as it reads the tables, so in a group of
    // 8 pages KVM maps at one fault anyway (after the copies, it took a fault of its own).
    let list_gpa = (!launch.hot.is_empty() || launch.learn_hot).then_some(tables.end_gpa);
    let list_end = list_gpa.map_or(tables.end_gpa, |list| list + layout::PAGE_SIZE);
    // The boot info next, for the same reason, where the kernel's header says (in the copy
    // just written); a kernel whose header has no such field reads it at `BOOT_INFO_GPA`.
    let (boot_info_gpa, boot_info_room, prestaged_gpa) =
        if header.header_size as usize >= std::mem::size_of::<KernelHeader>() {
            let field = KERNEL_BASE + std::mem::offset_of!(KernelHeader, boot_info_gpa) as u64;
            memory.write_u64(field, list_end).ok_or_else(oob)?;
            let room = boot_info_len.div_ceil(layout::PAGE_SIZE) * layout::PAGE_SIZE;
            (list_end, room, list_end + room)
        } else {
            (BOOT_INFO_GPA, layout::BOOT_INFO_SIZE, list_end)
        };
    let prestaged_pages = prestage(memory, prestaged_gpa, &launch.prestage);
    let hot_gpa = prestaged_gpa + prestaged_pages * layout::PAGE_SIZE;
    let hot_copier = list_gpa.and_then(|list| crate::hot_copies::reserve(memory, list, hot_gpa, &launch.hot));
    let hot_pages = hot_copier.as_ref().map_or(0, HotCopier::pages);
    let hot_list_gpa = match list_gpa {
        Some(list) if hot_pages > 0 => list,
        // A start that learns: the page is where the guest reports.
        Some(list) if launch.learn_hot && memory.write_ram(list, &[0; 8]).is_some() => list,
        _ => 0,
    };
    // Last, the copies of the image's first pages, which the direct map shows instead of the
    // image's own (see `paging`): the kernel's boot reads them there (through the image's
    // direct map, so where they lie in RAM changes no group of pages it reads).
    let (head_pages, head_gpa) = tables
        .show_image_head(&mut &*memory, hot_gpa + hot_pages * layout::PAGE_SIZE, memory.image_size())
        .ok_or_else(oob)?;
    for i in 0..head_pages {
        let offset = i * layout::PAGE_SIZE;
        let len = (memory.image_size() - offset).min(layout::PAGE_SIZE);
        memory.copy_image_to_ram(offset, head_gpa + offset, len).ok_or_else(oob)?;
    }
    let end_gpa = head_gpa + head_pages * layout::PAGE_SIZE;
    if hot_pages == 0 && hot_list_gpa != 0 {
        crate::hot_pages::report_into(hot_list_gpa, end_gpa);
    }
    if end_gpa + layout::PAGE_SIZE > memory.ram_size() {
        return Err(VmError::OutOfBootMemory);
    }
    let tables = BootTables {
        root: tables.root,
        end_gpa,
        prestaged_gpa,
        prestaged_pages,
        hot_pages,
        hot_list_gpa,
        boot_info_gpa,
        boot_info_room,
    };
    Ok((tables, hot_copier))
}

/// `kernel-text-profile`: maps the kernel range `UVM_PROFILE_KERNEL_TEXT` names
/// (`START-END`, hexadecimal guest-physical addresses, page-aligned, inside the kernel's
/// bytes) read-only on the host; nothing when it is unset.
#[cfg(feature = "kernel-text-profile")]
fn protect_profiled_text(memory: &GuestMemory, kernel: &[u8]) -> Result<(), VmError> {
    const VAR: &str = "UVM_PROFILE_KERNEL_TEXT";
    let Ok(value) = std::env::var(VAR) else { return Ok(()) };
    let bad = || {
        VmError::BadKernel(format!(
            "{VAR}={value}: give START-END, hexadecimal page-aligned addresses inside the kernel"
        ))
    };
    let hex = |v: &str| u64::from_str_radix(v.trim().trim_start_matches("0x"), 16).ok();
    let (start, end) = value.split_once('-').and_then(|(a, b)| Some((hex(a)?, hex(b)?))).ok_or_else(bad)?;
    if start >= end || start < KERNEL_BASE || end > KERNEL_BASE + kernel.len() as u64 {
        return Err(bad());
    }
    memory.protect_read_only(start, end - start).map_err(|_| bad())
}

/// Fills one frame from `gpa` on per page of `pages` (`(image offset, bytes)`; the rest of
/// each frame stays zero) and returns how many it filled: all of them, or none when they do
/// not fit (more than `MAX_PRESTAGED_PAGES`, or not in RAM with room to spare, or outside the
/// image): the kernel then copies them itself.
pub(crate) fn prestage(memory: &GuestMemory, gpa: u64, pages: &[(u64, u64)]) -> u64 {
    let count = pages.len() as u64;
    let fits = count <= uvm_abi::boot::MAX_PRESTAGED_PAGES
        && memory.is_ram(gpa, (count + 16) * layout::PAGE_SIZE)
        && pages.iter().all(|&(offset, len)| {
            len <= layout::PAGE_SIZE && offset.checked_add(len).is_some_and(|end| end <= memory.image_size())
        });
    if count == 0 || !fits {
        return 0;
    }
    memory.prefault_ram(gpa, count * layout::PAGE_SIZE);
    for (i, &(offset, len)) in pages.iter().enumerate() {
        if memory.copy_image_to_ram(offset, gpa + i as u64 * layout::PAGE_SIZE, len).is_none() {
            // Checked above, so not expected; but frames the kernel's allocator will hand out
            // as fresh must be zero, so what was copied is wiped again.
            let _ = memory.write_ram(gpa, &vec![0; i * layout::PAGE_SIZE as usize]);
            return 0;
        }
    }
    count
}

/// Writes vCPU `cpu`'s TSS (before the vCPU first runs; nothing else writes that area).
pub fn write_tss(memory: &GuestMemory, cpu: u32) -> Result<(), VmError> {
    memory.write_ram(layout::tss_gpa(cpu), &cpu::tss_bytes(cpu)).ok_or(VmError::OutOfBootMemory)
}

/// The boot info (facts, the app's user, argv, envp, workdir, volumes), written last: it
/// holds the TSC/realtime pair, read here. `strings` are [`boot_strings`] of `launch` and
/// `volumes`, made while staging (which set their room aside), not again on the way to boot.
pub fn write_boot_info(
    memory: &GuestMemory,
    launch: &AppLaunch,
    volumes: &[VolumeSpec],
    strings: &[u8],
    facts: &BootFacts,
    tables: BootTables,
) -> Result<(), VmError> {
    let oob = || VmError::OutOfBootMemory;
    let (group_count, groups) = launch.user.boot_groups()?;
    let (boot_tsc, boot_realtime_ns) = tsc_and_realtime();
    let info = BootInfo {
        magic: BOOT_INFO_MAGIC,
        abi_version: uvm_abi::ABI_VERSION,
        platform: facts.platform as u32,
        flags: facts.flags,
        ram_size: memory.ram_size(),
        ram_ready_size: facts.ram_ready_size,
        first_free_gpa: tables.end_gpa,
        page_table_root: tables.root,
        image_gpa: layout::IMAGE_GPA,
        image_size: memory.image_size(),
        tsc_khz: facts.tsc_khz,
        boot_tsc,
        boot_realtime_ns,
        random_seed: facts.random_seed,
        hwcap: facts.hwcap,
        hwcap2: 0,
        argc: launch.argv.len() as u32,
        envc: launch.envp.len() as u32,
        strings_offset: std::mem::size_of::<BootInfo>() as u32,
        strings_len: strings.len() as u32,
        vcpu_count: facts.vcpu_count,
        volume_count: (volumes.len() + launch.tmpfs.len()) as u32,
        prestaged_gpa: tables.prestaged_gpa,
        prestaged_pages: tables.prestaged_pages,
        hot_pages: tables.hot_pages,
        hot_list_gpa: tables.hot_list_gpa,
        uid: launch.user.uid,
        gid: launch.user.gid,
        group_count,
        reserved: 0,
        groups,
    };
    // More than staging set aside would run into the prestaged frames.
    if std::mem::size_of::<BootInfo>() as u64 + strings.len() as u64 > tables.boot_info_room {
        return Err(oob());
    }
    memory.write_plain(tables.boot_info_gpa, &info).ok_or_else(oob)?;
    memory.write_ram(tables.boot_info_gpa + std::mem::size_of::<BootInfo>() as u64, strings).ok_or_else(oob)?;
    Ok(())
}

/// The TSC and CLOCK_REALTIME read back to back, so the guest can derive wall time from its
/// TSC (the guest's TSC is the host's on this platform).
fn tsc_and_realtime() -> (u64, u64) {
    let realtime =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    // SAFETY: rdtsc has no memory effects and is available on every x86-64 CPU.
    let tsc = unsafe { core::arch::x86_64::_rdtsc() };
    (tsc, realtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel_with(header: KernelHeader, len: usize) -> Vec<u8> {
        let mut k = vec![0u8; len];
        k[..8].copy_from_slice(&header.magic);
        k[8..12].copy_from_slice(&header.abi_version.to_le_bytes());
        k[12..16].copy_from_slice(&header.header_size.to_le_bytes());
        let fields = [
            header.memory_size,
            header.entry,
            header.syscall_entry,
            header.exception_stubs,
            header.boot_stack_top,
            header.cold_start,
            header.cold_end,
            header.shared_start,
            header.shared_end,
        ];
        for (i, v) in fields.iter().enumerate() {
            k[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        k
    }

    fn good_header() -> KernelHeader {
        KernelHeader {
            magic: KERNEL_MAGIC,
            abi_version: uvm_abi::ABI_VERSION,
            header_size: 88,
            memory_size: 0x8000,
            entry: KERNEL_BASE + 0x100,
            syscall_entry: KERNEL_BASE + 0x200,
            exception_stubs: KERNEL_BASE + 0x1000,
            boot_stack_top: KERNEL_BASE + 0x8000,
            cold_start: KERNEL_BASE + 0x4000,
            cold_end: KERNEL_BASE + 0x6000,
            shared_start: KERNEL_BASE + 0x1000,
            shared_end: KERNEL_BASE + 0x2000,
            boot_info_gpa: 0,
        }
    }

    #[test]
    fn accepts_a_good_kernel_header() {
        let k = kernel_with(good_header(), 0x2000);
        assert_eq!(parse_kernel_header(&k).unwrap(), good_header());
    }

    #[test]
    fn refuses_bad_kernel_headers() {
        assert!(parse_kernel_header(&[0u8; 10]).is_err());
        let mut h = good_header();
        h.magic = *b"NOTKERN\0";
        assert!(parse_kernel_header(&kernel_with(h, 0x2000)).is_err());
        let mut h = good_header();
        h.abi_version += 1;
        assert!(parse_kernel_header(&kernel_with(h, 0x2000)).unwrap_err().to_string().contains("ABI version"));
        let mut h = good_header();
        h.entry = 0x10;
        assert!(parse_kernel_header(&kernel_with(h, 0x2000)).is_err());
        let mut h = good_header();
        h.memory_size = 0x1000;
        assert!(parse_kernel_header(&kernel_with(h, 0x2000)).is_err(), "memory size below file size");
        let mut h = good_header();
        h.header_size = 64;
        assert!(parse_kernel_header(&kernel_with(h, 0x2000)).is_err(), "unknown header size");
        for (start, end, why) in [
            (KERNEL_BASE + 0x1000, KERNEL_BASE + 0x6000, "over the file bytes"),
            (KERNEL_BASE + 0x4000, KERNEL_BASE + 0x9000, "past the kernel"),
            (KERNEL_BASE + 0x4800, KERNEL_BASE + 0x6000, "not page-aligned"),
        ] {
            let h = KernelHeader { cold_start: start, cold_end: end, ..good_header() };
            assert!(parse_kernel_header(&kernel_with(h, 0x2000)).is_err(), "cold range {why}");
        }
        for (start, end, why) in [
            (KERNEL_BASE, KERNEL_BASE + 0x1000, "the header's page"),
            (KERNEL_BASE + 0x1000, KERNEL_BASE + 0x3000, "past the file bytes"),
            (KERNEL_BASE + 0x1800, KERNEL_BASE + 0x2000, "not page-aligned"),
        ] {
            let h = KernelHeader { shared_start: start, shared_end: end, ..good_header() };
            assert!(parse_kernel_header(&kernel_with(h, 0x2000)).is_err(), "shared range {why}");
        }
    }

    #[test]
    fn earlier_layout_headers_mark_nothing_cold_or_shared() {
        let h = KernelHeader { header_size: KERNEL_HEADER_V1_SIZE, ..good_header() };
        let parsed = parse_kernel_header(&kernel_with(h, 0x2000)).unwrap();
        assert_eq!(parsed.cold_start, parsed.cold_end, "{parsed:?}");
        assert_eq!(parsed.shared_start, parsed.shared_end, "{parsed:?}");
        let h = KernelHeader { header_size: KERNEL_HEADER_V2_SIZE, ..good_header() };
        let parsed = parse_kernel_header(&kernel_with(h, 0x2000)).unwrap();
        assert_eq!((parsed.cold_start, parsed.cold_end), (good_header().cold_start, good_header().cold_end));
        assert_eq!(parsed.shared_start, parsed.shared_end, "{parsed:?}");
    }

    /// The host mapping RAM address `gpa` lies in, as /proc/self/maps names it (its path).
    fn host_mapping_of(memory: &GuestMemory, gpa: u64) -> String {
        let host = memory.ram_host_range().0 + gpa;
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .find(|line| {
                let range = line.split(' ').next().unwrap();
                let (start, end) = range.split_once('-').unwrap();
                let (start, end) = (u64::from_str_radix(start, 16).unwrap(), u64::from_str_radix(end, 16).unwrap());
                (start..end).contains(&host)
            })
            .map(|line| line.split_whitespace().nth(5).unwrap_or("").to_string())
            .unwrap()
    }

    #[test]
    fn the_shared_range_is_mapped_from_the_kernels_file_and_the_rest_copied() {
        let memory = GuestMemory::for_tests(64 << 20);
        let header = KernelHeader { memory_size: 0x4000, cold_start: 0, cold_end: 0, ..good_header() };
        let mut kernel = kernel_with(header, 0x3000);
        for (i, b) in kernel.iter_mut().enumerate().skip(0x100) {
            *b = (i % 251) as u8;
        }
        // The kernel's bytes at a page-aligned offset into a file, as in the `uvm` binary.
        let path = std::env::temp_dir().join(format!("uvm-kernel-file-{}", std::process::id()));
        std::fs::write(&path, [vec![0xee; 0x2000], kernel.clone()].concat()).unwrap();
        let file = KernelFile { file: std::fs::File::open(&path).unwrap(), offset: 0x2000 };
        write_kernel_and_tables(&memory, &kernel, &header, &AppLaunch::default(), 4096, Some(&file)).unwrap();
        let mut loaded = vec![0u8; kernel.len()];
        memory.read_ram(KERNEL_BASE, &mut loaded).unwrap();
        assert!(loaded == kernel, "the guest sees the whole kernel");
        let path = path.display().to_string();
        assert_eq!(host_mapping_of(&memory, header.shared_start), path, "the shared page comes from the file");
        assert_ne!(host_mapping_of(&memory, KERNEL_BASE), path, "the header's page is copied");
        assert_ne!(host_mapping_of(&memory, header.shared_end), path, "so is what follows");
        // A write there (none is made) would stay private: the file keeps its bytes.
        memory.write_ram(header.shared_start, &[0u8; 16]).unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert!(on_disk[0x2000..] == kernel[..], "the file is unchanged");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn without_a_kernel_file_all_of_the_kernel_is_copied() {
        let memory = GuestMemory::for_tests(64 << 20);
        let header = KernelHeader { memory_size: 0x4000, cold_start: 0, cold_end: 0, ..good_header() };
        let kernel = kernel_with(header, 0x3000);
        write_kernel_and_tables(&memory, &kernel, &header, &AppLaunch::default(), 4096, None).unwrap();
        let mut loaded = vec![0u8; kernel.len()];
        memory.read_ram(KERNEL_BASE, &mut loaded).unwrap();
        assert!(loaded == kernel);
        assert_eq!(host_mapping_of(&memory, header.shared_start), host_mapping_of(&memory, KERNEL_BASE));
    }

    #[test]
    fn the_boot_info_goes_after_the_tables_and_the_list_page_where_the_header_says() {
        let header = KernelHeader {
            header_size: std::mem::size_of::<KernelHeader>() as u32,
            memory_size: 0x4000,
            cold_start: 0,
            cold_end: 0,
            ..good_header()
        };
        let kernel = kernel_with(header, 0x3000);
        let field = KERNEL_BASE + std::mem::offset_of!(KernelHeader, boot_info_gpa) as u64;
        // (A copy rather than a start that learns: learning sets a global the hot_pages tests read.)
        for (launch, list) in [(AppLaunch::default(), 0), (AppLaunch { hot: vec![0], ..Default::default() }, 1)] {
            let memory = GuestMemory::for_tests(64 << 20);
            let (tables, _) = write_kernel_and_tables(&memory, &kernel, &header, &launch, 5000, None).unwrap();
            let tables_end = tables.boot_info_gpa - list * layout::PAGE_SIZE;
            assert_eq!(tables.hot_list_gpa, if list == 1 { tables_end } else { 0 });
            assert_eq!(memory.read_u64(field), Some(tables.boot_info_gpa), "the kernel's copy says where");
            assert_eq!(tables.prestaged_gpa, tables.boot_info_gpa + 2 * layout::PAGE_SIZE, "5000 bytes: 2 pages");
            assert!(tables.boot_info_gpa > KERNEL_END && tables.boot_info_gpa < KERNEL_END + 0x2_0000);
        }
        // An older header has no such field: the boot info stays at its fixed place.
        let memory = GuestMemory::for_tests(64 << 20);
        let old = KernelHeader { memory_size: 0x4000, cold_start: 0, cold_end: 0, ..good_header() };
        let (tables, _) =
            write_kernel_and_tables(&memory, &kernel_with(old, 0x3000), &old, &AppLaunch::default(), 5000, None)
                .unwrap();
        assert_eq!((tables.boot_info_gpa, tables.boot_info_room), (BOOT_INFO_GPA, layout::BOOT_INFO_SIZE));
    }

    #[test]
    fn the_cold_range_stays_unbacked() {
        let memory = GuestMemory::for_tests_with_image(64 << 20, &[0u8; 4096]);
        let header = KernelHeader {
            memory_size: 0x10_0000,
            boot_stack_top: KERNEL_BASE + 0x10_0000,
            cold_start: KERNEL_BASE + 0x8_0000,
            cold_end: KERNEL_BASE + 0xc_0000,
            ..good_header()
        };
        let kernel = kernel_with(header, 0x2000);
        write_kernel_and_tables(&memory, &kernel, &header, &AppLaunch::default(), 4096, None).unwrap();
        let resident = |gpa: u64| memory.is_resident(gpa);
        assert!(resident(KERNEL_BASE) && resident(KERNEL_BASE + 0x7_f000), "before the cold range");
        assert!(!resident(KERNEL_BASE + 0x8_0000) && !resident(KERNEL_BASE + 0xb_f000), "the cold range");
        assert!(resident(KERNEL_BASE + 0xc_0000) && resident(KERNEL_BASE + 0x10_7000), "after it, the heap's start");
    }

    #[test]
    fn prestaged_pages_are_copied_into_frames_or_not_at_all() {
        let image: Vec<u8> = (0..3 * 4096u32).map(|i| (i % 251) as u8 + 1).collect();
        let memory = GuestMemory::for_tests_with_image(64 << 20, &image);
        let gpa = 0x50_0000;
        assert_eq!(prestage(&memory, gpa, &[(4096, 4096), (8192, 100)]), 2);
        let mut page = vec![0u8; 4096];
        memory.read_ram(gpa, &mut page).unwrap();
        assert_eq!(page, image[4096..8192]);
        memory.read_ram(gpa + 4096, &mut page).unwrap();
        assert_eq!(page[..100], image[8192..8292]);
        assert!(page[100..].iter().all(|&b| b == 0), "the rest of the last page is zero");
        assert_eq!(prestage(&memory, gpa, &[(8192, 4097)]), 0, "more than a page");
        assert_eq!(prestage(&memory, gpa, &[(3 * 4096, 1)]), 0, "outside the image");
        assert_eq!(prestage(&memory, (64 << 20) - 4096, &[(0, 1)]), 0, "no room left after them");
        let too_many = vec![(0, 1); uvm_abi::boot::MAX_PRESTAGED_PAGES as usize + 1];
        assert_eq!(prestage(&memory, gpa, &too_many), 0);
    }

    /// The boot info a launch of `user` writes, read back from guest memory.
    fn boot_info_for(user: AppUser) -> Result<BootInfo, VmError> {
        let launch = AppLaunch { argv: vec!["app".into()], workdir: "/".into(), user, ..Default::default() };
        boot_info_of(&launch, layout::BOOT_INFO_SIZE)
    }

    /// The boot info `launch` writes where `room` bytes are set aside, read back.
    fn boot_info_of(launch: &AppLaunch, room: u64) -> Result<BootInfo, VmError> {
        let memory = GuestMemory::for_tests(64 << 20);
        let facts = BootFacts {
            platform: Platform::Pvm,
            flags: 0,
            tsc_khz: 1,
            hwcap: 0,
            random_seed: [0; 4],
            vcpu_count: 1,
            ram_ready_size: 64 << 20,
        };
        let tables = BootTables {
            root: 0,
            end_gpa: 0x40_0000,
            prestaged_gpa: 0x40_0000,
            prestaged_pages: 0,
            hot_pages: 0,
            hot_list_gpa: 0,
            boot_info_gpa: BOOT_INFO_GPA,
            boot_info_room: room,
        };
        write_boot_info(&memory, launch, &[], &boot_strings(launch, &[])?, &facts, tables)?;
        Ok(memory.read_plain::<BootInfo>(BOOT_INFO_GPA).unwrap())
    }

    #[test]
    fn the_boot_info_stays_in_the_room_staging_set_aside() {
        let launch = AppLaunch { argv: vec!["a".repeat(5000)], workdir: "/".into(), ..Default::default() };
        let needed = (std::mem::size_of::<BootInfo>() + boot_strings(&launch, &[]).unwrap().len()) as u64;
        assert!(boot_info_of(&launch, needed).is_ok());
        assert!(matches!(boot_info_of(&launch, needed - 1), Err(VmError::OutOfBootMemory)));
    }

    #[test]
    fn the_apps_user_reaches_the_boot_info() {
        let info = boot_info_for(AppUser::default()).unwrap();
        assert_eq!((info.uid, info.gid, info.group_count, info.groups), (0, 0, 0, [0; MAX_BOOT_GROUPS]), "root");
        let info = boot_info_for(AppUser { uid: 1000, gid: 100, groups: vec![27, 4, 1234] }).unwrap();
        assert_eq!((info.uid, info.gid, info.group_count, info.reserved), (1000, 100, 3, 0));
        assert_eq!(info.groups[..4], [27, 4, 1234, 0]);
        let all: Vec<u32> = (1..=MAX_BOOT_GROUPS as u32).collect();
        let info = boot_info_for(AppUser { uid: 1, gid: 1, groups: all.clone() }).unwrap();
        assert_eq!((info.group_count, &info.groups[..]), (MAX_BOOT_GROUPS as u32, &all[..]));
        let too_many = AppUser { uid: 1, gid: 1, groups: (0..=MAX_BOOT_GROUPS as u32).collect() };
        assert!(matches!(boot_info_for(too_many), Err(VmError::TooManyGroups { count: 33, max: 32 })));
    }

    #[test]
    fn strings_are_nul_separated_and_bounded() {
        let launch = AppLaunch {
            argv: vec!["a".into(), "bc".into()],
            envp: vec!["K=V".into()],
            workdir: "/".into(),
            ..Default::default()
        };
        assert_eq!(boot_strings(&launch, &[]).unwrap(), b"a\0bc\0K=V\0/\0");
        let volumes = [
            VolumeSpec { host: "/srv/data".into(), guest: "/data".into(), read_only: false },
            VolumeSpec { host: "/etc/app".into(), guest: "/etc/app".into(), read_only: true },
        ];
        assert_eq!(boot_strings(&launch, &volumes).unwrap(), b"a\0bc\0K=V\0/\0w/data\0r/etc/app\0");
        let program = Entrypoint { candidates: vec!["/usr/bin/sh".into(), "/bin/sh".into()] };
        let entrypoint = AppLaunch { entrypoint: Some(program), tmpfs: vec!["/run".into()], ..launch.clone() };
        let strings = boot_strings(&entrypoint, &volumes[..1]).unwrap();
        assert_eq!(strings, b"a\0bc\0K=V\0/\0w/data\0t/run\0/usr/bin/sh:/bin/sh\0");
        let host = HostName { name: "web".into(), append_to: "/etc/hosts".into(), line: "10.0.2.15\tweb\n".into() };
        let named = AppLaunch { hostname: Some(host), ..launch.clone() };
        assert_eq!(boot_strings(&named, &[]).unwrap(), b"a\0bc\0K=V\0/\0web\0/etc/hosts\x0010.0.2.15\tweb\n\0");
        let huge = AppLaunch { argv: vec!["x".repeat(300_000)], ..Default::default() };
        assert!(matches!(boot_strings(&huge, &[]), Err(VmError::ArgsTooLarge { .. })));
        let many = vec![VolumeSpec { host: "/".into(), guest: "/v".repeat(10_000), read_only: true }; 16];
        assert!(matches!(boot_strings(&launch, &many), Err(VmError::ArgsTooLarge { .. })), "volumes count too");
    }
}
