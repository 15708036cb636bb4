//! Reading the [`BootInfo`] the VMM wrote (where the kernel header's `boot_info_gpa` says)
//! and its string area, with every field checked: the kernel trusts nothing it reads.

use alloc::string::String;
use alloc::vec::Vec;

use uvm_abi::boot::{BootInfo, Platform, BOOT_INFO_MAGIC};
use uvm_abi::layout::{KERNEL_END, PAGE_SIZE};

/// The boot info and its strings, decoded.
pub struct Boot {
    /// The raw fields.
    pub info: BootInfo,
    /// How the kernel runs.
    pub platform: Platform,
    /// argv (argv[0] first).
    pub argv: Vec<Vec<u8>>,
    /// envp (`KEY=VALUE`).
    pub envp: Vec<Vec<u8>>,
    /// The working directory.
    pub workdir: String,
    /// The volumes and tmpfs mounts to make, as their boot strings (checked: `r`, `w` or
    /// `t`, then an absolute guest path).
    pub volumes: Vec<Vec<u8>>,
    /// Where the program to start instead of the image's app may be (`uvm run
    /// --entrypoint`): one string, paths joined by `:`; empty if none.
    pub entrypoint: Vec<Vec<u8>>,
    /// The host name (`uvm run --hostname`), and a file and a line to append to it at boot
    /// (`FLAG_HOSTNAME`); empty if none.
    pub hostname: Vec<Vec<u8>>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Decodes and checks the fixed part of a boot info (no allocation: this runs before the
/// heap has memory).
pub fn decode_info(raw: &[u8]) -> Result<BootInfo, &'static str> {
    const SIZE: usize = core::mem::size_of::<BootInfo>();
    if raw.len() < SIZE {
        return Err("the boot info is truncated");
    }
    let info = BootInfo {
        magic: u64_at(raw, 0),
        abi_version: u32_at(raw, 8),
        platform: u32_at(raw, 12),
        flags: u64_at(raw, 16),
        ram_size: u64_at(raw, 24),
        first_free_gpa: u64_at(raw, 32),
        page_table_root: u64_at(raw, 40),
        image_gpa: u64_at(raw, 48),
        image_size: u64_at(raw, 56),
        tsc_khz: u64_at(raw, 64),
        boot_tsc: u64_at(raw, 72),
        boot_realtime_ns: u64_at(raw, 80),
        random_seed: [u64_at(raw, 88), u64_at(raw, 96), u64_at(raw, 104), u64_at(raw, 112)],
        hwcap: u64_at(raw, 120),
        hwcap2: u64_at(raw, 128),
        argc: u32_at(raw, 136),
        envc: u32_at(raw, 140),
        strings_offset: u32_at(raw, 144),
        strings_len: u32_at(raw, 148),
        vcpu_count: u32_at(raw, 152),
        volume_count: u32_at(raw, 156),
        prestaged_gpa: u64_at(raw, 160),
        prestaged_pages: u64_at(raw, 168),
        ram_ready_size: u64_at(raw, 176),
        uid: u32_at(raw, 184),
        gid: u32_at(raw, 188),
        group_count: u32_at(raw, 192),
        reserved: u32_at(raw, 196),
        groups: core::array::from_fn(|i| u32_at(raw, 200 + 4 * i)),
        hot_pages: u64_at(raw, 328),
        hot_list_gpa: u64_at(raw, 336),
    };
    if info.magic != BOOT_INFO_MAGIC {
        return Err("the boot info has the wrong magic");
    }
    if info.abi_version != uvm_abi::ABI_VERSION {
        return Err("the VMM speaks another ABI version");
    }
    Platform::from_raw(info.platform).ok_or("the boot info names an unknown platform")?;
    if info.group_count as usize > uvm_abi::boot::MAX_BOOT_GROUPS {
        return Err("the boot info lists too many groups");
    }
    if info.first_free_gpa < KERNEL_END
        || !info.first_free_gpa.is_multiple_of(PAGE_SIZE)
        || info.first_free_gpa >= info.ram_size
    {
        return Err("the boot info's free-memory start is invalid");
    }
    if info.ram_ready_size < info.first_free_gpa || info.ram_ready_size > info.ram_size {
        return Err("the boot info's ready RAM size is invalid");
    }
    let prestaged_end =
        info.prestaged_pages.checked_mul(PAGE_SIZE).and_then(|bytes| info.prestaged_gpa.checked_add(bytes));
    if info.prestaged_pages != 0
        && (info.prestaged_pages > uvm_abi::boot::MAX_PRESTAGED_PAGES
            || info.prestaged_gpa < KERNEL_END
            || !info.prestaged_gpa.is_multiple_of(PAGE_SIZE)
            || prestaged_end.is_none_or(|end| end > info.first_free_gpa))
    {
        return Err("the boot info's prestaged frames are invalid");
    }
    // The hot copies follow the prestaged frames, and their list page comes before those
    // (with no copies, the page a start that learns them reports into; the boot info may lie
    // between).
    let hot_end =
        prestaged_end.and_then(|end| info.hot_pages.checked_mul(PAGE_SIZE).and_then(|bytes| end.checked_add(bytes)));
    if (info.hot_pages != 0 || info.hot_list_gpa != 0)
        && (info.hot_pages > uvm_abi::boot::MAX_HOT_PAGES
            || info.hot_list_gpa < KERNEL_END
            || !info.hot_list_gpa.is_multiple_of(PAGE_SIZE)
            || info.hot_list_gpa.checked_add(PAGE_SIZE).is_none_or(|end| end > info.prestaged_gpa)
            || !info.prestaged_gpa.is_multiple_of(PAGE_SIZE)
            || hot_end.is_none_or(|end| end > info.first_free_gpa))
    {
        return Err("the boot info's hot copies are invalid");
    }
    Ok(info)
}

/// The next `n` strings.
fn take<'a>(strings: &mut impl Iterator<Item = &'a [u8]>, n: u32) -> Result<Vec<Vec<u8>>, &'static str> {
    (0..n).map(|_| strings.next().map(<[u8]>::to_vec).ok_or("the boot strings are too few")).collect()
}

/// Decodes a boot info from its bytes (the struct followed by the string area). (Out of
/// line: the boot and `/proc`'s command line call it.)
#[inline(never)]
pub fn decode(raw: &[u8]) -> Result<Boot, &'static str> {
    let info = decode_info(raw)?;
    let platform = Platform::from_raw(info.platform).ok_or("the boot info names an unknown platform")?;
    let start = info.strings_offset as usize;
    let end = start
        .checked_add(info.strings_len as usize)
        .filter(|&e| e <= raw.len())
        .ok_or("the boot strings are out of bounds")?;
    let mut strings = raw[start..end].split(|&b| b == 0);
    let argv = take(&mut strings, info.argc)?;
    let envp = take(&mut strings, info.envc)?;
    let workdir = take(&mut strings, 1)?.pop().unwrap_or_default();
    let workdir = String::from_utf8(workdir).map_err(|_| "the working directory is not UTF-8")?;
    if argv.is_empty() {
        return Err("argv is empty");
    }
    let volumes = if info.volume_count == 0 { Vec::new() } else { decode_volumes(info.volume_count, &mut strings)? };
    let flagged = |flag: u64, n: u32| if info.flags & flag == 0 { 0 } else { n };
    let entrypoint = take(&mut strings, flagged(uvm_abi::boot::FLAG_ENTRYPOINT, 1))?;
    let hostname = take(&mut strings, flagged(uvm_abi::boot::FLAG_HOSTNAME, 3))?;
    if entrypoint.first().is_some_and(Vec::is_empty)
        || hostname.first().is_some_and(|name| !(1..=64).contains(&name.len()))
    {
        return Err("an empty entrypoint or a bad host name");
    }
    Ok(Boot { info, platform, argv, envp, workdir, volumes, entrypoint, hostname })
}

/// The mounts' boot strings (`r`, `w` or `t`, then an absolute guest path), `count` of them,
/// the next in `strings`, checked. (Out of line: a boot without mounts runs none of it.)
#[cold]
#[inline(never)]
fn decode_volumes(count: u32, strings: &mut dyn Iterator<Item = &[u8]>) -> Result<Vec<Vec<u8>>, &'static str> {
    if count > uvm_abi::hostfs::MAX_MOUNTS {
        return Err("the boot info names too many mounts");
    }
    let mut volumes = Vec::new();
    for _ in 0..count {
        let volume = strings.next().ok_or("the boot strings are too few")?;
        match volume {
            [b'r' | b'w' | b't', b'/', ..] => volumes.push(volume.to_vec()),
            _ => return Err("a volume's boot string is malformed"),
        }
    }
    Ok(volumes)
}

/// The boot-info area in guest memory (written once by the VMM before boot, never after).
#[cfg(not(test))]
pub fn raw() -> &'static [u8] {
    crate::arch::phys::static_slice(crate::arch::entry::boot_info_gpa(), uvm_abi::layout::BOOT_INFO_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(strings: &[u8], argc: u32, envc: u32) -> Vec<u8> {
        let info = BootInfo {
            magic: BOOT_INFO_MAGIC,
            abi_version: uvm_abi::ABI_VERSION,
            platform: 1,
            flags: 0,
            ram_size: 64 << 20,
            first_free_gpa: KERNEL_END + 0x8000,
            page_table_root: KERNEL_END,
            image_gpa: 1 << 39,
            image_size: 8192,
            tsc_khz: 2_000_000,
            boot_tsc: 5,
            boot_realtime_ns: 6,
            random_seed: [1, 2, 3, 4],
            hwcap: 7,
            hwcap2: 0,
            argc,
            envc,
            strings_offset: 344,
            strings_len: strings.len() as u32,
            vcpu_count: 1,
            volume_count: 0,
            prestaged_gpa: KERNEL_END + 0x4000,
            prestaged_pages: 2,
            ram_ready_size: 64 << 20,
            uid: 1000,
            gid: 100,
            group_count: 2,
            reserved: 0,
            groups: core::array::from_fn(|i| 10 + i as u32),
            hot_pages: 1,
            hot_list_gpa: KERNEL_END + 0x3000,
        };
        let mut raw = Vec::new();
        {
            let v = info.magic;
            raw.extend_from_slice(&v.to_le_bytes());
        }
        raw.extend_from_slice(&info.abi_version.to_le_bytes());
        raw.extend_from_slice(&info.platform.to_le_bytes());
        for v in [
            info.flags,
            info.ram_size,
            info.first_free_gpa,
            info.page_table_root,
            info.image_gpa,
            info.image_size,
            info.tsc_khz,
            info.boot_tsc,
            info.boot_realtime_ns,
        ] {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        for v in info.random_seed.iter().chain([info.hwcap, info.hwcap2].iter()) {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        for v in [info.argc, info.envc, info.strings_offset, info.strings_len, info.vcpu_count, info.volume_count] {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        for v in [info.prestaged_gpa, info.prestaged_pages, info.ram_ready_size] {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        for v in [info.uid, info.gid, info.group_count, info.reserved].iter().chain(info.groups.iter()) {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        for v in [info.hot_pages, info.hot_list_gpa] {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(raw.len(), 344);
        raw.extend_from_slice(strings);
        raw
    }

    #[test]
    fn decodes_the_vmm_layout() {
        let b = decode(&sample(b"hello\0world\0K=V\0/tmp\0", 2, 1)).unwrap();
        assert_eq!(b.argv, vec![b"hello".to_vec(), b"world".to_vec()]);
        assert_eq!(b.envp, vec![b"K=V".to_vec()]);
        assert_eq!(b.workdir, "/tmp");
        assert_eq!(b.platform, Platform::Pvm);
        assert_eq!(b.info.random_seed, [1, 2, 3, 4]);
        assert_eq!(b.info.tsc_khz, 2_000_000);
        assert_eq!((b.info.prestaged_gpa, b.info.prestaged_pages), (KERNEL_END + 0x4000, 2));
        assert_eq!((b.info.uid, b.info.gid, b.info.group_count, b.info.groups[1]), (1000, 100, 2, 11));
        assert_eq!((b.info.hot_pages, b.info.hot_list_gpa), (1, KERNEL_END + 0x3000));
        let hot = |pages: u64, list: u64| {
            let mut raw = sample(b"app\0/\0", 1, 0);
            raw[328..336].copy_from_slice(&pages.to_le_bytes());
            raw[336..344].copy_from_slice(&list.to_le_bytes());
            decode(&raw).map(|b| b.info.hot_pages)
        };
        assert_eq!(hot(0, 0), Ok(0));
        assert_eq!(hot(0, KERNEL_END + 0x3000), Ok(0), "a start that learns");
        assert!(hot(1, KERNEL_END + 0x4000).is_err(), "the list is not before the prestaged frames");
        assert_eq!(hot(1, KERNEL_END + 0x2000), Ok(1), "the boot info may lie between");
        assert!(hot(1, KERNEL_END + 0x2800).is_err(), "not a page");
        let mut raw = sample(b"app\0/\0", 1, 0);
        raw[160..168].copy_from_slice(&(KERNEL_END + 0x4800).to_le_bytes());
        raw[168..176].copy_from_slice(&0u64.to_le_bytes());
        raw[328..336].copy_from_slice(&1u64.to_le_bytes());
        assert!(decode(&raw).is_err(), "copies after unaligned (and no) prestaged frames");
        assert_eq!(hot(2, KERNEL_END + 0x3000), Ok(2), "up to the first free frame");
        assert!(hot(3, KERNEL_END + 0x3000).is_err(), "past the first free frame");
    }

    #[test]
    fn decodes_the_volumes_after_the_working_directory() {
        let with_volumes = |strings: &[u8], count: u32| {
            let mut raw = sample(strings, 1, 0);
            raw[156..160].copy_from_slice(&count.to_le_bytes());
            decode(&raw)
        };
        let b = with_volumes(b"app\0/\0w/data\0r/etc/conf\0", 2).unwrap();
        assert_eq!(b.volumes, vec![b"w/data".to_vec(), b"r/etc/conf".to_vec()]);
        assert!(decode(&sample(b"app\0/\0", 1, 0)).unwrap().volumes.is_empty());
        assert!(with_volumes(b"app\0/\0w/data\0", 2).is_err(), "too few volume strings");
        assert!(with_volumes(b"app\0/\0x/data\0", 1).is_err(), "a mode other than r or w");
        assert!(with_volumes(b"app\0/\0wdata\0", 1).is_err(), "a relative path");
        assert!(with_volumes(b"app\0/\0w/\0", 33).is_err(), "more than MAX_MOUNTS");
        let b = with_volumes(b"app\0/\0t/run\0", 1).unwrap();
        assert_eq!(b.volumes, vec![b"t/run".to_vec()], "a tmpfs mount");
    }

    /// [`decode`] of a [`sample`] with one argument, the boot flags `flags` and `mounts` mounts.
    fn flagged_sample(strings: &[u8], flags: u64, mounts: u32) -> Result<Boot, &'static str> {
        let mut raw = sample(strings, 1, 0);
        raw[16..24].copy_from_slice(&flags.to_le_bytes());
        raw[156..160].copy_from_slice(&mounts.to_le_bytes());
        decode(&raw)
    }

    #[test]
    fn decodes_the_entrypoint_after_the_mounts_when_flagged() {
        let flagged = |strings: &[u8], mounts: u32| flagged_sample(strings, uvm_abi::boot::FLAG_ENTRYPOINT, mounts);
        let b = flagged(b"sh\0/\0w/data\0/bin/sh\0", 1).unwrap();
        assert_eq!((b.volumes.len(), b.entrypoint), (1, vec![b"/bin/sh".to_vec()]));
        let b = flagged(b"sh\0/\0/usr/bin/sh:/bin/sh\0", 0).unwrap();
        assert_eq!(b.entrypoint, [b"/usr/bin/sh:/bin/sh".to_vec()], "where it may be");
        assert!(flagged(b"sh\0/\0", 0).is_err(), "an empty one");
        assert!(decode(&sample(b"sh\0/\0/bin/sh\0", 1, 0)).unwrap().entrypoint.is_empty(), "not flagged");
    }

    #[test]
    fn decodes_the_host_name_and_its_hosts_line_last_when_flagged() {
        let flagged = |strings: &[u8], flags: u64| flagged_sample(strings, flags, 0);
        let both = uvm_abi::boot::FLAG_ENTRYPOINT | uvm_abi::boot::FLAG_HOSTNAME;
        let b = flagged(b"sh\0/\0/bin/sh\0web\0/etc/hosts\x0010.0.2.15\tweb\n\0", both).unwrap();
        assert_eq!(b.entrypoint, [b"/bin/sh".to_vec()]);
        assert_eq!(b.hostname, [b"web".to_vec(), b"/etc/hosts".to_vec(), b"10.0.2.15\tweb\n".to_vec()]);
        let b = flagged(b"a\0/\0web\0\0\0", uvm_abi::boot::FLAG_HOSTNAME).unwrap();
        assert_eq!(b.hostname, [b"web".to_vec(), Vec::new(), Vec::new()], "nothing to append");
        assert!(flagged(b"a\0/\0\0\0\0", uvm_abi::boot::FLAG_HOSTNAME).is_err(), "an empty name");
        let long = [b"a\0/\0".to_vec(), vec![b'x'; 65], b"\0\0\0".to_vec()].concat();
        assert!(flagged(&long, uvm_abi::boot::FLAG_HOSTNAME).is_err(), "a name past 64 bytes");
        assert!(flagged(b"a\0/\0web", uvm_abi::boot::FLAG_HOSTNAME).is_err(), "no file and line");
        assert!(decode(&sample(b"a\0/\0", 1, 0)).unwrap().hostname.is_empty(), "not flagged");
    }

    #[test]
    fn refuses_inconsistent_boot_info() {
        assert!(decode(&[0u8; 10]).is_err());
        let mut raw = sample(b"a\0/\0", 1, 0);
        raw[192] = 33;
        assert!(decode(&raw).is_err(), "more groups than MAX_BOOT_GROUPS");
        assert!(decode(&sample(b"a\0/\0", 3, 0)).is_err(), "too few strings");
        let mut raw = sample(b"a\0/\0", 1, 0);
        raw[0] = 0;
        assert!(decode(&raw).is_err(), "bad magic");
        let mut raw = sample(b"a\0/\0", 1, 0);
        raw[148] = 200;
        assert!(decode(&raw).is_err(), "strings past the end");
        let mut raw = sample(b"a\0/\0", 1, 0);
        raw[168] = 5;
        assert!(decode(&raw).is_err(), "prestaged frames past the free-memory start");
        let mut raw = sample(b"a\0/\0", 1, 0);
        raw[160] = 1;
        assert!(decode(&raw).is_err(), "prestaged frames not page-aligned");
        let mut raw = sample(b"a\0/\0", 1, 0);
        raw[176..184].copy_from_slice(&(128u64 << 20).to_le_bytes());
        assert!(decode(&raw).is_err(), "more RAM ready than there is");
        let mut raw = sample(b"a\0/\0", 1, 0);
        raw[176..184].copy_from_slice(&4096u64.to_le_bytes());
        assert!(decode(&raw).is_err(), "less RAM ready than the boot uses");
    }
}
