//! Boot: from the VMM's first entry to the app's first instruction.
//!
//! 1. Read and check the boot info; set up this vCPU's per-CPU area.
//! 2. Hand the free RAM to the frame allocator; start the clock and the random generator.
//! 3. Open the image (mapped read-only by the VMM) and mount the file systems.
//! 4. Load the app's ELF from the image, reserve its stack and build the Linux initial stack.
//! 5. Enter the app in ring 3 through the same return path syscalls use.

use alloc::string::String;
use alloc::vec::Vec;

use core::sync::atomic::AtomicU64;

use uvm_abi::image::FsEntry;

/// TSC when the kernel started (reported at exit for `--timings`).
pub static KERNEL_ENTRY_TSC: AtomicU64 = AtomicU64::new(0);
/// TSC when the kernel entered the app.
pub static APP_ENTRY_TSC: AtomicU64 = AtomicU64::new(0);

/// The absolute guest path of file-table entry `index`.
fn entry_path(table: &[u8], entry_count: u32, index: u32) -> Option<String> {
    let names_start = entry_count as usize * uvm_abi::image::FS_ENTRY_SIZE;
    let mut parts: Vec<&[u8]> = Vec::new();
    let mut i = index;
    for _ in 0..4096 {
        if i == 0 {
            break;
        }
        let e = FsEntry::read(table, i)?;
        let start = names_start.checked_add(e.name_offset as usize)?;
        parts.push(table.get(start..start.checked_add(e.name_len as usize)?)?);
        i = e.parent;
    }
    let mut path = String::new();
    for part in parts.iter().rev() {
        path.push('/');
        path.push_str(core::str::from_utf8(part).ok()?);
    }
    Some(path)
}

#[cfg(not(test))]
pub use kernel::kernel_main;

#[cfg(not(test))]
mod kernel {
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::sync::atomic::Ordering;

    use uvm_abi::boot::{
        Platform, FLAG_IMAGE_LARGE_PAGES, FLAG_READ_ONLY_ROOT, FLAG_STDERR_TTY, FLAG_STDIN_TTY, FLAG_STDOUT_TTY,
        FLAG_TRACE_SYSCALLS,
    };
    use uvm_abi::image::{FsEntry, ImageHeader};
    use uvm_abi::layout::{selectors, PAGE_SIZE};

    use super::entry_path;
    use crate::arch::frame::{TrapFrame, TRAP_FRAME_SIZE};
    use crate::arch::{percpu, phys};
    use crate::bootinfo::{self, Boot};
    use crate::elf;
    use crate::errno::Errno;
    use crate::fs::{FdTable, FsEnv, SystemInfo, Vfs};
    use crate::hostio::HostConsole;
    use crate::mm::frames::FrameAllocator;
    use crate::mm::space::AddressSpace;
    use crate::mm::FRAMES;
    use crate::process::{Files, Process, PROCESS};
    use crate::program::{self, MachineFacts};

    /// Ends the boot with a panic naming what failed (out of line: never run by a start).
    #[cold]
    #[inline(never)]
    fn fail(what: &str, errno: Option<Errno>) -> ! {
        let mut m = crate::panic::MessageBuffer::new();
        let _ = core::fmt::Write::write_fmt(&mut m, format_args!("boot failed: {what}"));
        if let Some(e) = errno {
            let _ = core::fmt::Write::write_fmt(&mut m, format_args!(" ({})", e.name()));
        }
        crate::hypercall::panic(m.as_bytes())
    }

    /// Mounts the volumes (`uvm run -v`) and the tmpfs mounts (`--tmpfs`) at their guest
    /// paths; a path whose parent is no directory of the tree ends the boot with its name.
    #[cold]
    #[inline(never)]
    fn mount_volumes(vfs: &mut Vfs, mounts: &[alloc::vec::Vec<u8>]) {
        let (mut volumes, mut tmpfs) = (0, 0);
        for mount in mounts {
            // Checked by `bootinfo::decode`: `r`, `w` or `t`, then the path.
            let path = mount.get(1..).unwrap_or_default();
            let mounted = if mount.first() == Some(&b't') {
                tmpfs += 1;
                vfs.mount_tmpfs(path, tmpfs - 1, &FRAMES)
            } else {
                volumes += 1;
                let read_only = mount.first() == Some(&b'r');
                crate::fs::hostfs::mount(volumes - 1, read_only, &FRAMES).and_then(|root| vfs.mount_volume(path, root))
            };
            if let Err(e) = mounted {
                let path = core::str::from_utf8(path).unwrap_or("?");
                fail(&alloc::format!("cannot mount {path}"), Some(e));
            }
        }
    }

    fn free_memory() -> u64 {
        FRAMES.lock().available() * PAGE_SIZE
    }

    /// The kernel's entry (from `arch::entry`), on the boot vCPU's kernel stack (below
    /// `BOOT_STACK_RESERVE`). Never returns: it ends by entering the app.
    pub extern "C" fn kernel_main(_boot_info_va: u64) -> ! {
        super::KERNEL_ENTRY_TSC.store(crate::time::rdtsc(), Ordering::Relaxed);
        let raw = bootinfo::raw();
        let info = bootinfo::decode_info(raw).unwrap_or_else(|what| fail(what, None));
        percpu::init_boot_cpu(info.platform == Platform::HardwareVirt as u32);
        // Of a RAM larger than what the VMM registered before boot, the rest is asked for once
        // the app has grown into half of that (an app that never does never costs the host
        // KVM's metadata for it: see `mm::frames`).
        *FRAMES.lock() = FrameAllocator::new(info.first_free_gpa, info.ram_size)
            .with_ready(info.ram_ready_size, crate::hypercall::ram_ready);
        let boot = bootinfo::decode(raw).unwrap_or_else(|what| fail(what, None));
        let clock = crate::time::Clock::new(boot.info.tsc_khz, boot.info.boot_tsc, boot.info.boot_realtime_ns);
        crate::time::init(clock);
        crate::wake::init(boot.info.tsc_khz, boot.info.vcpu_count);
        crate::random::init(boot.info.random_seed);

        let image = phys::static_slice(boot.info.image_gpa, boot.info.image_size);
        let header = ImageHeader::parse(image).unwrap_or_else(|_| fail("the image header is invalid", None));
        let table = &image[header.fs_table.offset as usize..(header.fs_table.offset + header.fs_table.size) as usize];
        let app = FsEntry::read(table, header.app_entry).unwrap_or_else(|| fail("the app entry is missing", None));
        let app_path = entry_path(table, header.entry_count, header.app_entry)
            .unwrap_or_else(|| fail("the app's path in the image is invalid", None));

        let (entry, rsp) = start_process(&boot, image, &app, &app_path, clock);
        if !crate::mm::hot::await_filled() {
            fail("the VMM could not fill the hot copies of the app's pages", None);
        }
        let frame_at = percpu::current().kernel_stack_top - TRAP_FRAME_SIZE as u64;
        super::APP_ENTRY_TSC.store(crate::time::rdtsc(), Ordering::Relaxed);
        let frame = TrapFrame::new_app(entry, rsp, selectors::USER_CS as u64, selectors::USER_DS as u64);
        // SAFETY: `frame_at` is the top of this vCPU's kernel stack, aligned and large enough
        // for one trap frame; the boot runs on the same stack but only below
        // `BOOT_STACK_RESERVE` (>= one trap frame) from its top, so nothing live is there.
        unsafe {
            let slot = frame_at as *mut TrapFrame;
            slot.write(frame);
            crate::arch::entry::return_to_app(slot)
        }
    }

    /// Takes over the frames the VMM filled with the app's writable data (boot info
    /// `prestaged_*`), if they are the pages this kernel would copy for `elf`: the same rule
    /// (`uvm_abi::boot::prestaged_pages`) on both sides, and the same count. Otherwise they are
    /// left alone and the loader copies as usual.
    fn adopt_prestaged(space: &mut AddressSpace, info: &uvm_abi::boot::BootInfo, elf: &elf::ElfFile, app_offset: u64) {
        let segments = elf.segments.iter().map(|s| (s.offset, s.vaddr, s.filesz, s.flags));
        let pages: Vec<((u64, u64), u64)> = uvm_abi::boot::prestaged_pages(app_offset, segments)
            .enumerate()
            .map(|(i, page)| (page, info.prestaged_gpa + i as u64 * PAGE_SIZE))
            .collect();
        if info.prestaged_pages == 0 || pages.len() as u64 != info.prestaged_pages {
            return;
        }
        FRAMES.lock().adopt(info.prestaged_pages);
        space.give_prestaged(pages);
    }

    /// Takes the hot copies the VMM makes (boot info `hot_*`: `mm::hot`), which follow the
    /// prestaged frames, below `first_free_gpa` with their list: the frame allocator never
    /// hands them out. A list that does not fit its page, or is out of order, is ignored.
    #[cold]
    fn adopt_hot_copies(info: &uvm_abi::boot::BootInfo) {
        if info.hot_pages == 0 && info.hot_list_gpa != 0 {
            crate::mm::hot::learn_into(info.hot_list_gpa, info.image_size);
            return;
        }
        if info.hot_pages == 0 || info.hot_pages > uvm_abi::boot::MAX_HOT_PAGES {
            return;
        }
        // Little-endian `u32` page numbers, read two to a word.
        let offsets: Vec<u64> = (0..info.hot_pages)
            .map(|i| {
                let word = crate::arch::phys::read_u64(info.hot_list_gpa + i / 2 * 8);
                uvm_abi::boot::hot_list_offset((word >> (32 * (i % 2))) as u32)
            })
            .collect();
        let first = info.prestaged_gpa + info.prestaged_pages * PAGE_SIZE;
        if let Some(copies) = crate::mm::hot::HotCopies::new(&offsets, first) {
            crate::mm::hot::adopt(copies, info.hot_list_gpa + uvm_abi::boot::HOT_READY_OFFSET);
        }
    }

    /// Publishes the clock to the vDSO and builds its ELF image; returns AT_SYSINFO_EHDR.
    fn install_vdso(boot: &Boot) -> u64 {
        use crate::arch::vdso;
        vdso::set_clock(boot.info.tsc_khz, boot.info.boot_tsc, boot.info.boot_realtime_ns);
        let base = vdso::page_address();
        let symbols: Vec<crate::vdso::VdsoSymbol<'_>> =
            vdso::symbols().iter().map(|&(name, address)| crate::vdso::VdsoSymbol { name, address }).collect();
        let image = crate::vdso::build_image(base, uvm_abi::layout::KERNEL_END - base, &symbols);
        vdso::install_image(&image)
    }

    /// Starts the app as the boot info's user: `uid`, `gid` and `groups`, with the capabilities
    /// Linux's execve by that user leaves (none permitted or effective, unless `uid` is 0).
    #[cold]
    fn start_app_as(process: &Process, uid: u32, gid: u32, groups: &[u32]) {
        let identity = crate::creds::Identity::new(uid, gid, groups);
        let mut caps = process.view.capabilities();
        caps.after_exec(false, identity.uid);
        process.view.set_capabilities(caps);
        process.view.set_identity(identity);
    }

    /// Builds the process and installs it in [`PROCESS`]; returns the app's entry and stack.
    fn start_process(
        boot: &Boot,
        image: &'static [u8],
        app: &FsEntry,
        app_path: &str,
        clock: crate::time::Clock,
    ) -> (u64, u64) {
        let flags = boot.info.flags;
        let tty_mask = [(FLAG_STDIN_TTY, 1), (FLAG_STDOUT_TTY, 2), (FLAG_STDERR_TTY, 4)]
            .iter()
            .filter(|(flag, _)| flags & flag != 0)
            .fold(0, |mask, (_, bit)| mask | bit);
        let env = FsEnv {
            console: Arc::new(HostConsole { tty_mask }),
            random: crate::random::fill,
            now: crate::time::now,
            // The app's user owns the console and its `/proc` directory.
            uid: boot.info.uid,
            gid: boot.info.gid,
            system: SystemInfo {
                cpu_count: boot.info.vcpu_count,
                cpu_khz: boot.info.tsc_khz,
                mem_total_bytes: boot.info.ram_size,
                mem_free_bytes: free_memory,
            },
            frames: &FRAMES,
        };
        // tmpfs may use the VM's memory; the frame allocator is the real bound.
        let read_only_root = flags & FLAG_READ_ONLY_ROOT != 0;
        let mut vfs = Vfs::new(image, app_path, env, boot.info.ram_size, read_only_root)
            .unwrap_or_else(|e| fail("cannot mount the image", Some(e)));
        if !boot.volumes.is_empty() {
            mount_volumes(&mut vfs, &boot.volumes);
        }

        let mut space = AddressSpace::new(boot.info.page_table_root, &FRAMES);
        crate::family::set_boot_root(boot.info.page_table_root);
        crate::arch::percpu::current().publish_root(boot.info.page_table_root);
        let facts = MachineFacts { hwcap: boot.info.hwcap, hwcap2: boot.info.hwcap2, vdso: install_vdso(boot) };
        // With an entrypoint (`uvm run --entrypoint`) the image's app is not loaded: the
        // process starts that program below, once it exists.
        let app_start = if !boot.entrypoint.is_empty() {
            program::Start { entry: 0, rsp: 0 }
        } else {
            let app_bytes = image
                .get(app.data.offset as usize..(app.data.offset + app.data.size) as usize)
                .unwrap_or_else(|| fail("the app's bytes are outside the image", None));
            let elf = elf::parse(app_bytes).unwrap_or_else(|e| fail("the app is not a static x86-64 ELF", Some(e)));
            adopt_prestaged(&mut space, &boot.info, &elf, app.data.offset);
            adopt_hot_copies(&boot.info);
            let argv = program::borrowed(&boot.argv);
            let envp = program::borrowed(&boot.envp);
            let args = program::Arguments { argv: &argv, envp: &envp, execfn: app_path.as_bytes() };
            let large_pages = flags & FLAG_IMAGE_LARGE_PAGES != 0;
            let loaded = elf::load(&mut space, &elf, app.data.offset, large_pages)
                .unwrap_or_else(|e| fail("cannot map the app", Some(e)));
            let start = program::start(&mut space, &loaded, &facts, &args)
                .unwrap_or_else(|e| fail("cannot start the app", Some(e)));
            space.drop_prestaged();
            start
        };

        let mut fds = FdTable::new();
        for fd in 0..3 {
            let file = vfs.console_file(fd).unwrap_or_else(|e| fail("cannot open the console", Some(e)));
            fds.insert(file, false).unwrap_or_else(|e| fail("cannot open the console", Some(e)));
        }
        let root = vfs.root();
        let workdir = boot.workdir.as_bytes();
        // A missing working directory is made in the writable root, as docker makes one.
        let cwd = match vfs.chdir(&root, workdir) {
            Err(Errno::ENOENT) => vfs.make_dirs(workdir).and_then(|()| vfs.chdir(&root, workdir)).map_err(|e| {
                if e == Errno::EROFS {
                    Errno::ENOENT
                } else {
                    e
                }
            }),
            cwd => cwd,
        }
        .unwrap_or_else(|e| fail("the working directory does not exist", Some(e)));
        let files = Arc::new(Files { fds: crate::sync::SpinLock::new(fds), cwd: crate::sync::SpinLock::new(cwd) });
        // (Process::new installs the process's view for /proc.)
        let mut process =
            Process::new(space, vfs, files, clock, boot.info.vcpu_count, flags & FLAG_TRACE_SYSCALLS != 0);
        process.machine = facts;
        // Before the app's user takes over: `/etc/hosts` is root's.
        if let [name, file, line] = &boot.hostname[..] {
            name_host(&mut process, name, file, line);
        }
        let info = &boot.info;
        if info.uid != 0 || info.gid != 0 || info.group_count != 0 {
            start_app_as(&process, info.uid, info.gid, &info.groups[..info.group_count as usize]);
        }
        process.shared.vcpus.areas[0] = crate::arch::percpu::current() as *mut crate::arch::percpu::PerCpu as u64;
        // Hot syscall sites are rewritten to skip PVM's `syscall` trap (`syscall::patch`).
        if boot.info.platform != Platform::HardwareVirt as u32 {
            process.patcher.enable();
        }
        let start = match &boot.entrypoint[..] {
            [candidates] => start_entrypoint(&mut process, candidates, boot),
            _ => app_start,
        };
        *PROCESS.lock() = Some(process);
        (start.entry, start.rsp)
    }

    /// Gives the VM the host name of `uvm run --hostname`: uname's nodename `name`, and `line`
    /// appended to `file` (the VM's address and the name, to `/etc/hosts`; not with a
    /// read-only root, where the append fails).
    #[cold]
    #[inline(never)]
    fn name_host(process: &mut Process, name: &[u8], file: &[u8], line: &[u8]) {
        use crate::fs::flags::{O_APPEND, O_CREAT, O_WRONLY};
        process.hostname = name.to_vec();
        if !file.is_empty() {
            let appended = process.vfs.open(&process.vfs.root(), file, O_WRONLY | O_APPEND | O_CREAT, 0o644);
            let _ = appended.and_then(|file| file.write(line));
        }
    }

    /// Starts `uvm run --entrypoint`'s program, the first of `candidates` that opens, in
    /// `process` (`exec::start_entrypoint`); if it cannot, says why on stderr and ends the VM
    /// with docker's status for it: 127 when no such program is found, 126 when it cannot run.
    #[cold]
    #[inline(never)]
    fn start_entrypoint(process: &mut Process, candidates: &[u8], boot: &Boot) -> program::Start {
        let started = crate::syscall::exec::start_entrypoint(process, candidates, boot.argv.clone(), boot.envp.clone());
        // argv[0]: the program as `--entrypoint` named it.
        let name = boot.argv.first().map_or(&[][..], Vec::as_slice);
        started.unwrap_or_else(|e| {
            // docker's words for the three usual causes.
            let (status, why) = match e {
                Errno::ENOENT => (127, "not found in the VM or its PATH"),
                Errno::ENOEXEC => (126, "exec format error"),
                Errno::EACCES => (126, "permission denied"),
                _ => (126, e.name()),
            };
            let mut message = b"uvm: --entrypoint ".to_vec();
            for part in [name, b": ", why.as_bytes(), b"\n"] {
                message.extend_from_slice(part);
            }
            crate::hypercall::console_write_all(2, &message);
            process.exit_vm(status)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_walk_parents() {
        use uvm_abi::image::{EntryKind, Section, FS_ENTRY_SIZE};
        // root, /bin, /bin/hello
        let names = b"binhello";
        let entries = [
            FsEntry {
                parent: 0,
                kind: EntryKind::Directory as u8,
                first_child: 1,
                child_count: 1,
                ..Default::default()
            },
            FsEntry {
                parent: 0,
                kind: EntryKind::Directory as u8,
                name_offset: 0,
                name_len: 3,
                first_child: 2,
                child_count: 1,
                ..Default::default()
            },
            FsEntry {
                parent: 1,
                kind: EntryKind::File as u8,
                name_offset: 3,
                name_len: 5,
                data: Section { offset: 4096, size: 1 },
                ..Default::default()
            },
        ];
        let mut table = alloc::vec![0u8; 3 * FS_ENTRY_SIZE];
        for (i, e) in entries.iter().enumerate() {
            e.write_to(&mut table[i * FS_ENTRY_SIZE..(i + 1) * FS_ENTRY_SIZE]);
        }
        table.extend_from_slice(names);
        assert_eq!(entry_path(&table, 3, 2).as_deref(), Some("/bin/hello"));
        assert_eq!(entry_path(&table, 3, 9), None);
    }
}
