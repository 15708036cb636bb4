//! Hot pages: which pages of the app's read-only segments a start of an image touched, kept
//! in uvm's cache directory so that later starts copy them into RAM before boot
//! (`uvm_vmm::AppLaunch::hot`, the guest kernel's `mm::hot`).
//!
//! KVM maps a page of the read-only image slot only when the guest first touches it, one
//! page per shadow-page fault (~38 us each on some hosts), where it maps RAM's pages with up
//! to 7 neighbours. A start without a profile learns one: the guest kernel reports the app's
//! read-only pages KVM mapped (their Accessed bits) at the app's exit
//! (`uvm_vmm::hot_pages`), and uvm saves them before it exits itself. Later starts copy
//! them, grown within their groups of 8 addresses ([`grown_in_groups`]). The copies are
//! private to each VM (the glibc hello's 56 pages touched, 103 copied: 412 KiB); every other
//! page of the image stays shared through the page cache.
//!
//! A profile is named by the image's stored checksum and its command line (the app's argv:
//! what a start touches follows what it is asked to do). What it lists is only a hint: the
//! offsets are checked against the app's read-only pages, and a copy holds the image's own
//! bytes, so a wrong or stale profile can cost time, never correctness.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The first line of a profile file. Older profiles are learned again: version 1 had no
/// `fresh` lines, version 2 left out the pages of an app's read-only 2 MiB chunks when
/// those mapped with large pages, as every start but `--no-hot-pages` ones now copies them,
/// and version 3 had no `vcpus` line.
const MAGIC: &str = "uvm-hot-pages 4";

/// What a profile holds: the hot pages (image offsets), the runs of fresh frames the start
/// that learned it touched (`uvm_vmm::AppLaunch::fresh`), and how many vCPUs it ran (its
/// threads or processes: `uvm_vmm::AppLaunch::vcpus_ahead`; 0 in a profile without the
/// line).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Profile {
    pub pages: Vec<u64>,
    pub fresh: Vec<(u64, u64)>,
    pub vcpus: u32,
}

/// The profile of the image whose stored checksum is `checksum` started with `argv`, in
/// uvm's cache directory: one per command line, as what a start touches follows what it is
/// asked to do (busybox running a shell script touches 299 pages of its code and 356 fresh
/// frames, `busybox true` 219 and 8).
pub fn profile_path(checksum: u64, argv: &[String]) -> Option<PathBuf> {
    let key = command_line_key(argv);
    uvm_image::user_cache_dir().map(|dir| dir.join("hot-pages").join(format!("{checksum:016x}-{key:016x}")))
}

/// A 64-bit FNV-1a hash of `argv`, each argument followed by a NUL: stable across uvm
/// builds, so a profile outlives an upgrade.
fn command_line_key(argv: &[String]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in argv.iter().flat_map(|arg| arg.bytes().chain([0])) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The image offsets of the pages of the app's read-only segments, ascending (the app's
/// bytes start at `app_offset` in the image).
pub fn read_only_pages(app_offset: u64, elf: &uvm_image::ElfInfo) -> Vec<u64> {
    let mut pages: Vec<u64> = placed_read_only_pages(app_offset, elf).into_iter().map(|(offset, _)| offset).collect();
    pages.sort_unstable();
    pages.dedup();
    pages
}

/// Each page of the app's read-only segments (`uvm_abi::boot::read_only_pages`) as
/// `(image offset, address)`, where the loader places it.
fn placed_read_only_pages(app_offset: u64, elf: &uvm_image::ElfInfo) -> Vec<(u64, u64)> {
    let bias = elf.load_bias();
    elf.segments
        .iter()
        .filter(|s| s.flags & uvm_abi::boot::PF_W == 0)
        .flat_map(|s| {
            let segment = [(s.offset, s.vaddr, s.filesz, s.flags)];
            let first_va = bias.wrapping_add(s.vaddr) & !(uvm_abi::layout::PAGE_SIZE - 1);
            uvm_abi::boot::read_only_pages(app_offset, segment)
                .enumerate()
                .map(move |(i, (offset, _))| (offset, first_va.wrapping_add(i as u64 * uvm_abi::layout::PAGE_SIZE)))
        })
        .collect()
}

/// `hot` (ascending image offsets of read-only pages) grown within their groups of 8 pages
/// of the app's address space: each read-only page (of the app at `app_offset` in the image)
/// in a hot page's 32 KiB-aligned group of addresses, from the group's start up to its last
/// hot page, ascending, at most `uvm_abi::boot::MAX_HOT_PAGES`. KVM maps a faulting page's
/// neighbours in its group of 8 page-table entries from the group's first entry on and only
/// up to the first it cannot map, and it cannot map a page of the read-only image slot ahead:
/// a group's hot pages come with one fault when every page before the last of them is a
/// copy; the pages after it need none (they were copied too until session 35: the Go
/// service's 398 hot pages made 664 copies).
pub fn grown_in_groups(hot: &[u64], app_offset: u64, elf: &uvm_image::ElfInfo) -> Vec<u64> {
    const GROUP: u64 = 8 * uvm_abi::layout::PAGE_SIZE;
    let pages = placed_read_only_pages(app_offset, elf);
    // Each hot group and the address of its last hot page.
    let mut last_hot = std::collections::BTreeMap::new();
    for &(_, va) in pages.iter().filter(|(offset, _)| hot.binary_search(offset).is_ok()) {
        let last = last_hot.entry(va / GROUP).or_insert(va);
        *last = va.max(*last);
    }
    let mut grown: Vec<u64> = pages
        .iter()
        .filter(|(_, va)| last_hot.get(&(va / GROUP)).is_some_and(|&last| *va <= last))
        .map(|&(offset, _)| offset)
        .collect();
    grown.sort_unstable();
    grown.dedup();
    grown.truncate(uvm_abi::boot::MAX_HOT_PAGES as usize);
    grown
}

/// The pages `profile` (a profile file's text) lists that are among `candidates` (ascending),
/// at most `uvm_abi::boot::MAX_HOT_PAGES`, ascending, its runs of fresh frames (`fresh
/// FIRST FRAMES` lines, at most `MAX_FRESH_FRAMES` frames in all) and its vCPU count (a
/// `vcpus COUNT` line); `None` for a text that is no profile.
pub fn parse(profile: &str, candidates: &[u64]) -> Option<Profile> {
    let mut lines = profile.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let hex = |field: &str| u64::from_str_radix(field, 16).ok();
    let mut parsed = Profile::default();
    let mut fresh_frames = 0u64;
    for line in lines {
        match line.trim().split_once(' ') {
            Some(("vcpus", count)) => parsed.vcpus = count.trim().parse().ok()?,
            Some(("fresh", run)) => {
                let (first, frames) = run.split_once(' ')?;
                let (first, frames) = (hex(first)?, hex(frames)?);
                fresh_frames = fresh_frames.checked_add(frames)?;
                if fresh_frames <= uvm_vmm::hot_pages::MAX_FRESH_FRAMES {
                    parsed.fresh.push((first, frames));
                }
            }
            Some(_) => return None,
            None => {
                let offset = hex(line.trim())?;
                if candidates.binary_search(&offset).is_ok() {
                    parsed.pages.push(offset);
                }
            }
        }
    }
    parsed.pages.sort_unstable();
    parsed.pages.dedup();
    parsed.pages.truncate(uvm_abi::boot::MAX_HOT_PAGES as usize);
    Some(parsed)
}

/// The hot pages of `candidates` the profile at `path` lists, and its fresh runs; `None`
/// when there is no profile to read (not an error: a start without one learns it).
pub fn load(path: &Path, candidates: &[u64]) -> Option<Profile> {
    parse(&std::fs::read_to_string(path).ok()?, candidates)
}

/// Writes `profile` at `path` (its directory made if missing), whole or not at all.
pub fn save(path: &Path, profile: &Profile) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("a profile path without a directory"))?;
    std::fs::create_dir_all(dir)?;
    let mut text = format!("{MAGIC}\n");
    for offset in &profile.pages {
        text += &format!("{offset:x}\n");
    }
    for (first, frames) in &profile.fresh {
        text += &format!("fresh {first:x} {frames:x}\n");
    }
    if profile.vcpus > 0 {
        text += &format!("vcpus {}\n", profile.vcpus);
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(text.as_bytes())?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    prune(dir, MAX_PROFILES, path);
    Ok(())
}

/// The most profiles the cache keeps (one per image and command line, a few KiB each); past
/// it, saving one removes the least recently written down to three quarters of it.
const MAX_PROFILES: usize = 256;

/// When `dir` holds more than `max` files (`keep` among them), removes the least recently
/// modified of them but `keep`, down to `max * 3 / 4`. Best effort: a file that cannot be
/// read or removed stays.
fn prune(dir: &Path, max: usize, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|entry| entry.path() != keep)
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .collect();
    // `keep` counts too: it is there.
    if files.len() < max {
        return;
    }
    files.sort();
    let excess = (files.len() + 1).saturating_sub(max * 3 / 4);
    for (_, path) in files.into_iter().take(excess) {
        let _ = std::fs::remove_file(path);
    }
}

/// Saves the profile at `path` once the app has exited in a start that learned it: the
/// `candidates` the guest reported touched, the fresh frames it touched and the vCPUs it
/// ran. A failure (a read-only cache) only means the next start learns again.
pub fn learn(path: &Path, candidates: &[u64]) {
    let Some(touched) = uvm_vmm::hot_pages::learned() else { return };
    let pages: Vec<u64> = touched.into_iter().filter(|page| candidates.binary_search(page).is_ok()).collect();
    let fresh = uvm_vmm::hot_pages::learned_fresh().unwrap_or_default();
    let vcpus = uvm_vmm::hot_pages::learned_vcpus();
    let _ = save(path, &Profile { pages, fresh, vcpus });
}

#[cfg(test)]
mod tests {
    use super::*;
    use uvm_abi::layout::PAGE_SIZE;

    #[test]
    fn a_profile_names_only_read_only_pages_in_order_and_at_most_a_list_page() {
        let candidates = [0x1000, 0x2000, 0x5000];
        let text = format!("{MAGIC}\n5000\n1000\n9000\n1000\n");
        assert_eq!(
            parse(&text, &candidates).map(|p| p.pages),
            Some(vec![0x1000, 0x5000]),
            "sorted, deduplicated, 0x9000 not a candidate"
        );
        assert_eq!(parse("uvm-hot-pages 1\n1000\n", &candidates), None, "another format");
        assert_eq!(parse(&format!("{MAGIC}\nxyz\n"), &candidates), None);
        assert_eq!(parse(&format!("{MAGIC}\nfresh 1\n"), &candidates), None, "a run without its length");
        assert_eq!(parse(&format!("{MAGIC}\nstale 1 2\n"), &candidates), None, "an unknown line");
        let many: Vec<u64> = (0..2000).map(|i| i * PAGE_SIZE).collect();
        let text = many.iter().fold(format!("{MAGIC}\n"), |t, o| t + &format!("{o:x}\n"));
        assert_eq!(parse(&text, &many).map(|p| p.pages.len()), Some(uvm_abi::boot::MAX_HOT_PAGES as usize));
        let text = format!("{MAGIC}\n1000\nfresh 0 10\nfresh 12 3\nfresh 20 1000\n");
        let fresh = parse(&text, &candidates).map(|p| p.fresh);
        assert_eq!(fresh, Some(vec![(0, 0x10), (0x12, 3)]), "runs past the most frames left out");
        assert_eq!(parse(&format!("{MAGIC}\n1000\nvcpus 4\n"), &candidates).map(|p| p.vcpus), Some(4));
        assert_eq!(parse(&format!("{MAGIC}\n1000\n"), &candidates).map(|p| p.vcpus), Some(0), "no line: none");
        assert_eq!(parse(&format!("{MAGIC}\nvcpus many\n"), &candidates), None);
        assert_eq!(parse("uvm-hot-pages 3\n1000\n", &candidates), None, "version 3: learned again");
    }

    #[test]
    fn hot_pages_grow_to_their_groups_of_eight_addresses_within_read_only_segments() {
        use uvm_image::{ElfInfo, ElfKind, SegmentInfo};
        let segment = |offset, vaddr, filesz, flags| SegmentInfo { offset, vaddr, memsz: filesz, filesz, flags };
        // Text from 0x401000 (file 0x1000) for 20 pages, read-only data from 0x418000
        // (file 0x18000) for 3 pages, then writable data.
        let elf = ElfInfo {
            kind: ElfKind::Static,
            entry: 0x401000,
            segments: vec![
                segment(0x1000, 0x40_1000, 20 * PAGE_SIZE, 5),
                segment(0x18000, 0x41_8000, 3 * PAGE_SIZE, 4),
                segment(0x1b000, 0x41_b000, PAGE_SIZE, 6),
            ],
            has_tls: false,
            interp: None,
        };
        let app = 0x10_0000;
        let page = |va: u64| app + va - 0x40_0000;
        // A hot page at 0x403000 (group 0x400000..0x408000: the text's first 7 pages, of
        // which those up to it) and one at 0x419000 (group 0x418000..: the read-only data's
        // 3 pages up to it, not the data).
        let grown = grown_in_groups(&[page(0x40_3000), page(0x41_9000)], app, &elf);
        let expected: Vec<u64> =
            (0x40_1000..0x40_4000).step_by(4096).chain((0x41_8000..0x41_a000).step_by(4096)).map(page).collect();
        assert_eq!(grown, expected);
        // Two hot pages of one group: up to the later one.
        let grown = grown_in_groups(&[page(0x40_2000), page(0x40_6000), page(0x40_9000)], app, &elf);
        let expected: Vec<u64> = (0x40_1000..0x40_7000).step_by(4096).chain([0x40_8000, 0x40_9000]).map(page).collect();
        assert_eq!(grown, expected);
        assert!(grown_in_groups(&[], app, &elf).is_empty());
    }

    #[test]
    fn each_command_line_has_a_profile_of_its_own() {
        let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let key = |list: &[&str]| command_line_key(&args(list));
        assert_eq!(key(&["sh", "-c", "true"]), key(&["sh", "-c", "true"]));
        assert_ne!(key(&["sh", "-c", "true"]), key(&["sh", "-c", "false"]));
        assert_ne!(key(&["sh", "-ctrue"]), key(&["sh", "-c", "true"]), "the arguments' bounds count");
        assert_eq!(key(&[]), 0xcbf2_9ce4_8422_2325, "FNV-1a's offset basis: the hash is fixed");
    }

    #[test]
    fn the_cache_keeps_at_most_so_many_profiles_the_newest() {
        let dir = std::env::temp_dir().join(format!("uvm-hot-pages-prune-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for i in 0..8 {
            let path = dir.join(format!("p{i}"));
            std::fs::write(&path, "x").unwrap();
            // p0 the oldest, p7 the newest.
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(old + std::time::Duration::from_secs(i)).unwrap();
        }
        let kept = dir.join("p0");
        prune(&dir, 8, &kept);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 8, "at the most: nothing removed");
        prune(&dir, 7, &kept);
        let mut left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
        left.sort();
        assert_eq!(left, ["p0", "p4", "p5", "p6", "p7"], "past 7: down to 5, the one just saved kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_saved_profile_loads_back() {
        let dir = std::env::temp_dir().join(format!("uvm-hot-pages-{}", std::process::id()));
        let profile = dir.join("sub").join("profile");
        let candidates = [0, PAGE_SIZE, 2 * PAGE_SIZE];
        let saved = Profile { pages: vec![PAGE_SIZE, 2 * PAGE_SIZE], fresh: vec![(0, 5), (9, 1)], vcpus: 3 };
        save(&profile, &saved).unwrap();
        assert_eq!(load(&profile, &candidates), Some(saved));
        assert_eq!(load(&dir.join("missing"), &candidates), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
