//! Loading an ELF program: parse and check the headers (for the app, the host checked them at
//! build time; the kernel checks again, as it must not trust what it reads), then map each
//! PT_LOAD segment. From the image, read-only segments are mapped in place (no copy, shared
//! by every VM of the image) and writable ones get private frames holding a copy; a program
//! outside the image (a file the app wrote, for execve) is copied whole.

use alloc::vec::Vec;

use uvm_abi::layout::{align_down, align_up, IMAGE_GPA, PAGE_SIZE, USER_END_VA, USER_MIN_VA};

use crate::errno::Errno;
use crate::mm::space::{AddressSpace, Backing, MapFlags, Prot};

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;

/// One PT_LOAD segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// p_vaddr.
    pub vaddr: u64,
    /// p_memsz.
    pub memsz: u64,
    /// p_offset.
    pub offset: u64,
    /// p_filesz.
    pub filesz: u64,
    /// p_flags (PF_X 1, PF_W 2, PF_R 4).
    pub flags: u32,
}

/// The parts of an ELF file the loader uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfFile {
    /// e_entry.
    pub entry: u64,
    /// e_phoff.
    pub phoff: u64,
    /// e_phnum.
    pub phnum: u64,
    /// e_phentsize.
    pub phentsize: u64,
    /// ET_DYN (static-pie): loaded at a bias.
    pub position_independent: bool,
    /// PT_PHDR's p_vaddr, if any.
    pub phdr_vaddr: Option<u64>,
    /// The PT_LOAD segments, in file order.
    pub segments: Vec<Segment>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Whether `file` is an x86-64 ELF that names a program interpreter (PT_INTERP): a
/// dynamically linked program, which [`parse`] refuses.
pub fn is_dynamic(file: &[u8]) -> bool {
    let Some(headers) = (|| {
        if file.get(..4) != Some(b"\x7fELF") || u16_at(file, 18) != Some(EM_X86_64) {
            return None;
        }
        Some((u64_at(file, 32)?, u64::from(u16_at(file, 54)?), u64::from(u16_at(file, 56)?)))
    })() else {
        return false;
    };
    let (phoff, phentsize, phnum) = headers;
    (0..phnum.min(256)).any(|i| {
        let at = phoff.checked_add(i * phentsize).and_then(|a| usize::try_from(a).ok());
        at.and_then(|at| u32_at(file, at)) == Some(PT_INTERP)
    })
}

/// Parses and checks an ELF file. ENOEXEC for anything uvm cannot run.
pub fn parse(file: &[u8]) -> Result<ElfFile, Errno> {
    let bad = Errno::ENOEXEC;
    if file.get(..4) != Some(b"\x7fELF") || file.get(4) != Some(&2) || file.get(5) != Some(&1) {
        return Err(bad);
    }
    let kind = u16_at(file, 16).ok_or(bad)?;
    if u16_at(file, 18) != Some(EM_X86_64) || (kind != ET_EXEC && kind != ET_DYN) {
        return Err(bad);
    }
    let entry = u64_at(file, 24).ok_or(bad)?;
    let phoff = u64_at(file, 32).ok_or(bad)?;
    let phentsize = u64::from(u16_at(file, 54).ok_or(bad)?);
    let phnum = u64::from(u16_at(file, 56).ok_or(bad)?);
    if phentsize < 56 || phnum == 0 || phnum > 256 {
        return Err(bad);
    }
    let mut segments = Vec::new();
    let mut phdr_vaddr = None;
    for i in 0..phnum {
        let at = usize::try_from(phoff + i * phentsize).map_err(|_| bad)?;
        let p_type = u32_at(file, at).ok_or(bad)?;
        match p_type {
            PT_INTERP => return Err(bad),
            PT_PHDR => phdr_vaddr = Some(u64_at(file, at + 16).ok_or(bad)?),
            PT_LOAD => {
                let s = Segment {
                    flags: u32_at(file, at + 4).ok_or(bad)?,
                    offset: u64_at(file, at + 8).ok_or(bad)?,
                    vaddr: u64_at(file, at + 16).ok_or(bad)?,
                    filesz: u64_at(file, at + 32).ok_or(bad)?,
                    memsz: u64_at(file, at + 40).ok_or(bad)?,
                };
                let file_end = s.offset.checked_add(s.filesz).ok_or(bad)?;
                if s.memsz == 0 {
                    continue;
                }
                if file_end > file.len() as u64 || s.filesz > s.memsz || s.offset % PAGE_SIZE != s.vaddr % PAGE_SIZE {
                    return Err(bad);
                }
                if let Some(prev) = segments.last() {
                    let prev: &Segment = prev;
                    if s.vaddr < prev.vaddr + prev.memsz {
                        return Err(bad);
                    }
                }
                segments.push(s);
            }
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(bad);
    }
    Ok(ElfFile { entry, phoff, phnum, phentsize, position_independent: kind == ET_DYN, phdr_vaddr, segments })
}

/// Where the app was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The entry point (biased).
    pub entry: u64,
    /// Address of the program headers in memory (AT_PHDR).
    pub phdr: u64,
    /// AT_PHNUM.
    pub phnum: u64,
    /// AT_PHENT.
    pub phent: u64,
    /// The load bias (0 for ET_EXEC).
    pub bias: u64,
    /// One past the highest byte of any segment: where the break starts.
    pub end: u64,
}

fn prot_of(flags: u32) -> Prot {
    Prot { read: flags & 4 != 0, write: flags & 2 != 0, exec: flags & 1 != 0 }
}

/// Maps `elf`, whose bytes sit at `image_offset` in the image file, into `space`; with
/// `large_pages` (the host's `FLAG_IMAGE_LARGE_PAGES`), the 2 MiB chunks its read-only
/// segments cover whole with one large entry each
/// ([`AddressSpace::map_large_image_chunks`]), before the rest is filled.
pub fn load(space: &mut AddressSpace, elf: &ElfFile, image_offset: u64, large_pages: bool) -> Result<Loaded, Errno> {
    let (loaded, first, mapped_until) = place(space, elf, |space, page, page_end, lead, s| {
        let backing = Backing::Image { image_offset: image_offset + s.offset - lead, file_len: lead + s.filesz };
        let flags = MapFlags { fixed: true, defer_fill: true, ..Default::default() };
        space.map(page, page_end - page, prot_of(s.flags), flags, backing).map(|_| ())
    })?;
    if large_pages {
        space.map_large_image_chunks(first, mapped_until);
    }
    space.fill_deferred(first, mapped_until)?;
    Ok(loaded)
}

/// Loads `elf`, whose bytes are `file` (a file outside the image, read whole), into `space`
/// as private copies: each segment's pages are fresh memory holding its file bytes (zero
/// after them), then given the segment's protection.
pub fn load_copy(space: &mut AddressSpace, elf: &ElfFile, file: &[u8]) -> Result<Loaded, Errno> {
    let (loaded, _, _) = place(space, elf, |space, page, page_end, lead, s| {
        let flags = MapFlags { fixed: true, ..Default::default() };
        space.map(page, page_end - page, Prot::RW, flags, Backing::Anonymous)?;
        // `parse` checked that the segment's bytes lie within the file.
        let bytes = usize::try_from(s.offset)
            .ok()
            .and_then(|at| file.get(at..at.checked_add(usize::try_from(s.filesz).ok()?)?))
            .ok_or(Errno::ENOEXEC)?;
        crate::user::copy_out(space, page + lead, bytes)?;
        let prot = prot_of(s.flags);
        if prot != Prot::RW {
            space.protect(page, page_end - page, prot)?;
        }
        Ok(())
    })?;
    Ok(loaded)
}

/// Where a position-independent `elf` is loaded (0 for one that is not).
fn load_bias(elf: &ElfFile) -> u64 {
    if elf.position_independent {
        uvm_abi::boot::pie_load_bias(elf.segments.iter().map(|s| (s.offset, s.vaddr, s.filesz, s.memsz, s.flags)))
    } else {
        0
    }
}

/// The entries [`load`] gives an ELF's read-only pages of the image, which it maps in place:
/// each read-only segment's pages that hold its file bytes.
#[derive(Default)]
pub struct InPlace {
    /// `(first page, end of the in-place pages, the first page's GPA, rights)`.
    runs: Vec<(u64, u64, u64, Prot)>,
    fit: u64,
}

impl InPlace {
    /// Those of `elf`, whose bytes sit at `image_offset` in the image file (segments that
    /// do not fit in user space have none: [`load`] refuses them).
    pub fn of(elf: &ElfFile, image_offset: u64) -> InPlace {
        let bias = load_bias(elf);
        let mut runs = Vec::new();
        for s in elf.segments.iter().filter(|s| s.flags & 2 == 0) {
            let Some(start) = bias.checked_add(s.vaddr) else { continue };
            let page = align_down(start, PAGE_SIZE);
            let file_end = start.checked_add(s.filesz).and_then(|end| align_up(end, PAGE_SIZE));
            let Some(end) = file_end.filter(|&end| start >= USER_MIN_VA && end <= USER_END_VA) else { continue };
            let gpa = IMAGE_GPA + image_offset + s.offset - (start - page);
            runs.push((page, end, gpa, prot_of(s.flags)));
        }
        InPlace { runs, fit: IMAGE_GPA + image_offset }
    }

    /// The entry for `va`, if it is one of these pages.
    pub fn entry(&self, va: u64) -> Option<u64> {
        let &(page, _, gpa, prot) = self.runs.iter().find(|&&(page, end, _, _)| (page..end).contains(&va))?;
        Some(crate::mm::hot::image_page_entry(prot.page_flags(), gpa + (align_down(va, PAGE_SIZE) - page)))
    }

    /// What names the program for tables that fit it (`FrameAllocator::take_spare`): its
    /// place in the image, which no root of RAM shares; 0 for a program outside the image.
    pub fn fit(&self) -> u64 {
        self.fit
    }
}

/// Places `elf`'s segments (at the load bias of a position-independent one), checking that
/// each lies in user space and no two share a page, and maps each with `map_segment(space,
/// page, page_end, lead, segment)` (`lead`: the segment's offset into its first page).
/// Returns where it was loaded, and the first page and the end of what was mapped.
#[inline(always)]
fn place(
    space: &mut AddressSpace,
    elf: &ElfFile,
    mut map_segment: impl FnMut(&mut AddressSpace, u64, u64, u64, &Segment) -> Result<(), Errno>,
) -> Result<(Loaded, u64, u64), Errno> {
    let bias = load_bias(elf);
    let mut end = 0;
    let mut phdr = None;
    let mut mapped_until = 0;
    let mut first_page = None;
    for s in &elf.segments {
        let start = bias.checked_add(s.vaddr).ok_or(Errno::ENOEXEC)?;
        let seg_end = start.checked_add(s.memsz).ok_or(Errno::ENOEXEC)?;
        if start < USER_MIN_VA || seg_end > USER_END_VA {
            return Err(Errno::ENOEXEC);
        }
        let page = align_down(start, PAGE_SIZE);
        let page_end = align_up(seg_end, PAGE_SIZE).ok_or(Errno::ENOEXEC)?;
        if page < mapped_until {
            // Two segments in one page: `uvm build` refuses such binaries, so this image
            // was not made by it.
            return Err(Errno::ENOEXEC);
        }
        map_segment(space, page, page_end, start - page, s)?;
        mapped_until = page_end;
        first_page.get_or_insert(page);
        end = end.max(seg_end);
        if elf.phoff >= s.offset && elf.phoff < s.offset + s.filesz {
            phdr = Some(start + (elf.phoff - s.offset));
        }
    }
    let phdr = elf.phdr_vaddr.map(|v| v + bias).or(phdr).ok_or(Errno::ENOEXEC)?;
    let first = first_page.ok_or(Errno::ENOEXEC)?;
    let loaded = Loaded { entry: elf.entry + bias, phdr, phnum: elf.phnum, phent: elf.phentsize, bias, end };
    Ok((loaded, first, mapped_until))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF: header + `phdrs` program headers.
    fn elf(kind: u16, phdrs: &[(u32, u32, u64, u64, u64, u64)]) -> Vec<u8> {
        let mut f = vec![0u8; 64 + 56 * phdrs.len()];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[16..18].copy_from_slice(&kind.to_le_bytes());
        f[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        f[24..32].copy_from_slice(&0x401000u64.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for (i, &(t, flags, off, va, filesz, memsz)) in phdrs.iter().enumerate() {
            let at = 64 + 56 * i;
            f[at..at + 4].copy_from_slice(&t.to_le_bytes());
            f[at + 4..at + 8].copy_from_slice(&flags.to_le_bytes());
            f[at + 8..at + 16].copy_from_slice(&off.to_le_bytes());
            f[at + 16..at + 24].copy_from_slice(&va.to_le_bytes());
            f[at + 32..at + 40].copy_from_slice(&filesz.to_le_bytes());
            f[at + 40..at + 48].copy_from_slice(&memsz.to_le_bytes());
        }
        f.resize(0x3000, 0);
        f
    }

    #[test]
    fn in_place_entries_are_those_the_loader_maps_read_only_pages_with() {
        use crate::arch::phys;
        use crate::mm::frames::FrameAllocator;
        use crate::mm::paging;
        use crate::sync::SpinLock;
        use uvm_abi::layout::pte;

        phys::reset(256 * 4096);
        let frames =
            alloc::boxed::Box::leak(alloc::boxed::Box::new(SpinLock::new(FrameAllocator::new(4096, 256 * 4096))));
        let root = frames.lock().alloc_zeroed().unwrap();
        let mut space = AddressSpace::new(root, frames);
        // Text (two pages of file bytes), read-only data with zeros after its bytes, and a
        // writable segment of zeros only (a copy of file bytes would read the image).
        let file = elf(
            ET_EXEC,
            &[
                (PT_LOAD, 5, 0, 0x400000, 0x1800, 0x1800),
                (PT_LOAD, 4, 0x2000, 0x402000, 0x800, 0x2000),
                (PT_LOAD, 6, 0x3000, 0x405000, 0, 0x1000),
            ],
        );
        let parsed = parse(&file).unwrap();
        load(&mut space, &parsed, 0x10000, false).unwrap();
        let in_place = InPlace::of(&parsed, 0x10000);
        assert_eq!(in_place.fit(), IMAGE_GPA + 0x10000);
        let (mut predicted, mut private) = (Vec::new(), 0);
        paging::for_each_app_entry(root, &mut |va, entry, _| {
            match in_place.entry(va) {
                Some(want) => {
                    assert_eq!(entry, want, "at {va:#x}");
                    predicted.push(va);
                }
                None => {
                    assert!(entry & pte::ADDR_MASK < IMAGE_GPA, "a page of the image at {va:#x} not predicted");
                    private += 1;
                }
            }
            Some(())
        });
        assert_eq!(predicted, [0x400000, 0x401000, 0x402000]);
        assert_eq!(private, 2, "the read-only data's zeros and the writable page");
        assert_eq!(in_place.entry(0x403000), None);
        assert_eq!(InPlace::default().entry(0x400000), None, "a program outside the image");
    }

    #[test]
    fn parses_a_static_executable() {
        let f =
            elf(ET_EXEC, &[(PT_LOAD, 5, 0, 0x400000, 0x2000, 0x2000), (PT_LOAD, 6, 0x2000, 0x402000, 0x800, 0x1000)]);
        let e = parse(&f).unwrap();
        assert_eq!(e.segments.len(), 2);
        assert!(!e.position_independent);
        assert_eq!(e.entry, 0x401000);
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        let good = elf(ET_EXEC, &[(PT_LOAD, 5, 0, 0x400000, 0x1000, 0x1000)]);
        assert!(parse(&good).is_ok());
        assert_eq!(parse(b"#!/bin/sh\n"), Err(Errno::ENOEXEC));
        let mut class32 = good.clone();
        class32[4] = 1;
        assert_eq!(parse(&class32), Err(Errno::ENOEXEC));
        let mut arm = good.clone();
        arm[18] = 183;
        assert_eq!(parse(&arm), Err(Errno::ENOEXEC));
        let interp = elf(ET_EXEC, &[(PT_INTERP, 4, 0, 0, 10, 10), (PT_LOAD, 5, 0, 0x400000, 0x1000, 0x1000)]);
        assert_eq!(parse(&interp), Err(Errno::ENOEXEC));
        assert!(is_dynamic(&interp), "a dynamically linked program");
        assert!(!is_dynamic(&good) && !is_dynamic(b"#!/bin/sh\n") && !is_dynamic(&interp[..60]));
        let past_end = elf(ET_EXEC, &[(PT_LOAD, 5, 0, 0x400000, 0x9000, 0x9000)]);
        assert_eq!(parse(&past_end), Err(Errno::ENOEXEC));
        let incongruent = elf(ET_EXEC, &[(PT_LOAD, 5, 0x10, 0x400000, 0x100, 0x100)]);
        assert_eq!(parse(&incongruent), Err(Errno::ENOEXEC));
        let overlapping =
            elf(ET_EXEC, &[(PT_LOAD, 5, 0, 0x400000, 0x2000, 0x2000), (PT_LOAD, 6, 0x1000, 0x401000, 0x10, 0x10)]);
        assert_eq!(parse(&overlapping), Err(Errno::ENOEXEC));
        let none = elf(ET_EXEC, &[]);
        assert_eq!(parse(&none[..64]), Err(Errno::ENOEXEC));
    }
}
