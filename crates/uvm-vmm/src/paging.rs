//! The boot page tables the VMM builds before the first entry.
//!
//! One 4-level hierarchy serves the guest kernel and the app. The VMM writes it once, before
//! any vCPU runs (host-side stores are only safe before the guest's tables are shadowed); after
//! that only the guest kernel edits it. Written through [`TableMemory`]: in place in guest RAM,
//! or in a plain buffer for the unit tests (no KVM). What is mapped:
//! - the system area (GDT, TSSs, IDT, ring-0 stacks, the old boot info area), identity,
//!   supervisor-only;
//! - the hypercall page (user, no memory behind it);
//! - the guest kernel area, identity, user, one 2 MiB page;
//! - the direct map of RAM (writable) and of the image (read-only), 2 MiB pages, never
//!   executable; but the image's first 2 MiB in 4 KiB pages, its first [`IMAGE_HEAD_PAGES`]
//!   shown from frames staging fills with copies of those image pages
//!   ([`BootPageTables::show_image_head`]): the header and file table, then mostly the app's
//!   ELF header, which the kernel's boot reads. KVM maps the read-only image slot one page
//!   per fault, and RAM the host backs with its neighbours: one fault for them, not one each.

use uvm_abi::layout::{
    self, pte, DIRECT_MAP_VA, HYPERCALL_GPA, HYPERCALL_VA, IMAGE_GPA, KERNEL_BASE, KERNEL_END, LARGE_PAGE_SIZE,
    PAGE_SIZE, SYSTEM_AREA_END,
};

/// Where the tables are written: guest RAM when booting (built in place, so staging neither
/// fills a buffer nor copies it: ~15 fewer host page faults on the image thread), a plain
/// buffer in the unit tests.
pub trait TableMemory {
    /// The little-endian `u64` at `gpa`; `None` outside the memory.
    fn read_u64(&self, gpa: u64) -> Option<u64>;
    /// Stores `value` at `gpa`; `None` outside the memory.
    fn write_u64(&mut self, gpa: u64, value: u64) -> Option<()>;
    /// Stores `values` one after the other from `gpa` (one copy: the direct map of a large
    /// RAM is thousands of entries); `None` outside the memory.
    fn write_u64s(&mut self, gpa: u64, values: &[u64]) -> Option<()>;
    /// Zeroes the page at `gpa` (page-aligned); `None` outside the memory.
    fn zero_page(&mut self, gpa: u64) -> Option<()>;
}

impl TableMemory for &crate::memory::GuestMemory {
    fn read_u64(&self, gpa: u64) -> Option<u64> {
        crate::memory::GuestMemory::read_u64(self, gpa)
    }

    fn write_u64(&mut self, gpa: u64, value: u64) -> Option<()> {
        crate::memory::GuestMemory::write_u64(self, gpa, value)
    }

    fn write_u64s(&mut self, gpa: u64, values: &[u64]) -> Option<()> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.write_ram(gpa, &bytes)
    }

    /// Tables are allocated one page after the other from [`ROOT_GPA`] (8-page aligned): the
    /// first of each 8 pages backs all 8 in one call (see `write_kernel_and_tables`). Pages
    /// past the last table are frames the guest's allocator hands out next.
    fn zero_page(&mut self, gpa: u64) -> Option<()> {
        const BACKED_TOGETHER: u64 = 8;
        if (gpa / PAGE_SIZE).is_multiple_of(BACKED_TOGETHER) {
            self.prefault_ram(gpa, BACKED_TOGETHER * PAGE_SIZE);
        }
        self.write_ram(gpa, &[0; PAGE_SIZE as usize])
    }
}

/// Where the root table (PML4) of the boot page tables is: the first table built, at
/// [`KERNEL_END`]. Fixed, so the vCPU's CR3 is set before the tables are built
/// (`crate::prepare`, on another thread).
pub const ROOT_GPA: u64 = KERNEL_END;

/// How many of the image's first pages the direct map shows from copies in RAM.
pub const IMAGE_HEAD_PAGES: u64 = 2;

/// Page tables laid out in one contiguous run of guest memory starting at [`ROOT_GPA`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootPageTables {
    /// GPA of the root (PML4).
    pub root: u64,
    /// First GPA after the tables: where the guest's frame allocator starts.
    pub end_gpa: u64,
}

impl BootPageTables {
    /// Builds the tables in `memory` from [`KERNEL_END`] up to at most `limit_gpa`, for
    /// `ram_size` bytes of RAM (a multiple of 2 MiB) and an image of `image_size` bytes, with
    /// the path down to a last-level table already present for each address in `prelink`
    /// (where the app's segments, stack and first mappings will be). The guest then only
    /// fills in entries of existing tables; linking a new table into a shadowed page
    /// directory would cost it an emulated write (~25 us) each. `None` if they do not fit.
    pub fn build<M: TableMemory>(
        memory: &mut M,
        limit_gpa: u64,
        ram_size: u64,
        image_size: u64,
        prelink: &[u64],
    ) -> Option<BootPageTables> {
        let mut b = Builder { memory, root: 0, next: ROOT_GPA, limit: limit_gpa };
        b.root = b.alloc()?;
        let supervisor = pte::PRESENT | pte::WRITABLE | pte::NO_EXECUTE;
        b.map_4k_run(layout::GDT_GPA, layout::GDT_GPA, SYSTEM_AREA_END - layout::GDT_GPA, supervisor)?;
        b.map_4k(HYPERCALL_VA, HYPERCALL_GPA, pte::PRESENT | pte::WRITABLE | pte::USER | pte::NO_EXECUTE)?;
        // The whole kernel area as one 2 MiB page: KVM shadows it with one fault where 4 KiB
        // pages cost one each (measured: ~35 fewer faults, ~150 us less boot for a hello).
        b.map_2m(KERNEL_BASE, KERNEL_BASE, pte::PRESENT | pte::WRITABLE | pte::USER)?;
        for &va in prelink {
            if (uvm_abi::layout::USER_MIN_VA..uvm_abi::layout::USER_END_VA).contains(&va) {
                b.table_for(va, 3)?;
            }
        }
        let data = pte::PRESENT | pte::USER | pte::NO_EXECUTE;
        b.map_2m_run(DIRECT_MAP_VA, 0, ram_size, data | pte::WRITABLE)?;
        b.map_2m_run(DIRECT_MAP_VA + IMAGE_GPA, IMAGE_GPA, image_size, data)?;
        Some(BootPageTables { root: b.root, end_gpa: b.next })
    }

    /// Has the direct map show the image's first pages (at most [`IMAGE_HEAD_PAGES`], no
    /// more than the image has) from frames at `gpa` on, where the caller copies them: the
    /// image's first 2 MiB get a page table of their own, the page at `gpa`, and the frames
    /// follow it. Returns how many pages it shows so and the first GPA after them. (Where
    /// they lie changes no group of pages the kernel reads: it reads them through the
    /// image's direct map, and KVM reads the table itself.)
    pub fn show_image_head<M: TableMemory>(&self, memory: &mut M, gpa: u64, image_size: u64) -> Option<(u64, u64)> {
        let pages = image_size.div_ceil(PAGE_SIZE).min(IMAGE_HEAD_PAGES);
        let data = pte::PRESENT | pte::USER | pte::NO_EXECUTE;
        let va = DIRECT_MAP_VA + IMAGE_GPA;
        let mut b = Builder { memory, root: self.root, next: gpa, limit: gpa + (1 + pages) * PAGE_SIZE };
        // The 2 MiB entry goes; a table takes its place, which `map_4k_run` links.
        let pd = b.table_for(va, 2)?;
        b.memory.write_u64(pd + ((va >> 21) & 511) * 8, 0)?;
        b.map_4k_run(va, IMAGE_GPA, image_size.min(LARGE_PAGE_SIZE), data)?;
        let frames = b.next;
        b.map_4k_run(va, frames, pages * PAGE_SIZE, data)?;
        Some((pages, frames))
    }

    /// Walks the tables in `memory` like the CPU: the GPA and flags `va` maps to.
    pub fn translate<M: TableMemory>(&self, memory: &M, va: u64) -> Option<(u64, u64)> {
        let mut table = self.root;
        for level in (1..4).rev() {
            let e = memory.read_u64(table + ((va >> (12 + 9 * level)) & 511) * 8)?;
            if e & pte::PRESENT == 0 {
                return None;
            }
            if level == 1 && e & pte::LARGE != 0 {
                return Some(((e & pte::ADDR_MASK) + (va & (LARGE_PAGE_SIZE - 1)), e));
            }
            table = e & pte::ADDR_MASK;
        }
        let e = memory.read_u64(table + ((va >> 12) & 511) * 8)?;
        (e & pte::PRESENT != 0).then_some(((e & pte::ADDR_MASK) + (va & (PAGE_SIZE - 1)), e))
    }
}

/// The tables being built: the next free page and the limit.
struct Builder<'m, M> {
    memory: &'m mut M,
    root: u64,
    next: u64,
    limit: u64,
}

impl<M: TableMemory> Builder<'_, M> {
    fn alloc(&mut self) -> Option<u64> {
        let gpa = self.next;
        let end = gpa.checked_add(PAGE_SIZE).filter(|&end| end <= self.limit)?;
        self.memory.zero_page(gpa)?;
        self.next = end;
        Some(gpa)
    }

    /// The table `levels` below the root for `va`, creating intermediate tables.
    fn table_for(&mut self, va: u64, levels: u32) -> Option<u64> {
        let mut table = self.root;
        for level in (4 - levels..4).rev() {
            let slot = table + ((va >> (12 + 9 * level)) & 511) * 8;
            let e = self.memory.read_u64(slot)?;
            table = if e & pte::PRESENT != 0 {
                e & pte::ADDR_MASK
            } else {
                let child = self.alloc()?;
                self.memory.write_u64(slot, pte::preset_used(child | pte::PRESENT | pte::WRITABLE | pte::USER))?;
                child
            };
        }
        Some(table)
    }

    fn map_4k(&mut self, va: u64, gpa: u64, flags: u64) -> Option<()> {
        let pt = self.table_for(va, 3)?;
        self.memory.write_u64(pt + ((va >> 12) & 511) * 8, pte::preset_used(gpa | flags))
    }

    /// Maps `[va, va + len)` to `gpa` on in 4 KiB pages (`len` rounded up to a whole page):
    /// one bounds-checked copy per page table instead of a walk and a write per page (the
    /// system area's 95 pages took ~30 us so).
    fn map_4k_run(&mut self, va: u64, gpa: u64, len: u64, flags: u64) -> Option<()> {
        self.map_run(va, gpa, len, 3, flags)
    }

    fn map_2m(&mut self, va: u64, gpa: u64, flags: u64) -> Option<()> {
        self.map_2m_run(va, gpa, LARGE_PAGE_SIZE, flags)
    }

    /// Maps `[va, va + len)` to `gpa` on in 2 MiB pages (`len` rounded up to a whole page).
    fn map_2m_run(&mut self, va: u64, gpa: u64, len: u64, flags: u64) -> Option<()> {
        self.map_run(va, gpa, len, 2, flags | pte::LARGE)
    }

    /// Maps `[va, va + len)` to `gpa` on with entries `levels` below the root (3: 4 KiB
    /// pages, 2: 2 MiB ones, `flags` with `LARGE`), writing each table's share of them at
    /// once.
    fn map_run(&mut self, va: u64, gpa: u64, len: u64, levels: u32, flags: u64) -> Option<()> {
        let shift = 12 + 9 * (3 - levels);
        let page = 1u64 << shift;
        let pages = len.div_ceil(page);
        let mut done = 0;
        while done < pages {
            let at = va + done * page;
            let table = self.table_for(at, levels)?;
            let first = (at >> shift) & 511;
            let count = (512 - first).min(pages - done);
            let entries: Vec<u64> = (done..done + count).map(|i| pte::preset_used((gpa + i * page) | flags)).collect();
            self.memory.write_u64s(table + first * 8, &entries)?;
            done += count;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guest memory from [`KERNEL_END`] on, as a plain buffer.
    struct Buffer(Vec<u8>);

    impl Buffer {
        fn range(&self, gpa: u64, len: u64) -> Option<core::ops::Range<usize>> {
            let at = usize::try_from(gpa.checked_sub(KERNEL_END)?).ok()?;
            let end = at.checked_add(len as usize).filter(|&end| end <= self.0.len())?;
            Some(at..end)
        }
    }

    impl TableMemory for Buffer {
        fn read_u64(&self, gpa: u64) -> Option<u64> {
            let r = self.range(gpa, 8)?;
            Some(u64::from_le_bytes(self.0[r].try_into().ok()?))
        }

        fn write_u64(&mut self, gpa: u64, value: u64) -> Option<()> {
            let r = self.range(gpa, 8)?;
            self.0[r].copy_from_slice(&value.to_le_bytes());
            Some(())
        }

        fn write_u64s(&mut self, gpa: u64, values: &[u64]) -> Option<()> {
            let r = self.range(gpa, values.len() as u64 * 8)?;
            for (chunk, v) in self.0[r].chunks_exact_mut(8).zip(values) {
                chunk.copy_from_slice(&v.to_le_bytes());
            }
            Some(())
        }

        fn zero_page(&mut self, gpa: u64) -> Option<()> {
            let r = self.range(gpa, PAGE_SIZE)?;
            self.0[r].fill(0);
            Some(())
        }
    }

    const LIMIT: u64 = KERNEL_END + 64 * PAGE_SIZE;

    /// Tables built in a buffer of 64 pages that starts out full of garbage (so a table the
    /// builder did not zero would show).
    fn build(ram_size: u64, image_size: u64, prelink: &[u64]) -> (BootPageTables, Buffer) {
        let mut memory = Buffer(vec![0xa5; (LIMIT - KERNEL_END) as usize]);
        let t = BootPageTables::build(&mut memory, LIMIT, ram_size, image_size, prelink).expect("tables fit");
        (t, memory)
    }

    #[test]
    fn maps_every_region_with_its_permissions() {
        let (t, m) = build(64 << 20, 3 << 20, &[]);
        let (gpa, flags) = t.translate(&m, layout::IDT_GPA).expect("IDT mapped");
        assert_eq!(gpa, layout::IDT_GPA);
        assert_eq!(flags & pte::USER, 0, "system area is supervisor-only");
        let (gpa, flags) = t.translate(&m, HYPERCALL_VA + 8).expect("hypercall page mapped");
        assert_eq!(gpa, HYPERCALL_GPA + 8);
        assert_ne!(flags & pte::USER, 0);
        let (gpa, flags) = t.translate(&m, KERNEL_BASE + 0x14123).expect("kernel mapped");
        assert_eq!(gpa, KERNEL_BASE + 0x14123);
        assert_eq!(flags & pte::NO_EXECUTE, 0, "kernel is executable");
        assert_ne!(flags & pte::LARGE, 0, "the kernel area is one large page");
        let (gpa, flags) = t.translate(&m, DIRECT_MAP_VA + (63 << 20) + 7).expect("last RAM page");
        assert_eq!(gpa, (63 << 20) + 7);
        assert_ne!(flags & pte::WRITABLE, 0);
        assert_eq!(flags & (pte::ACCESSED | pte::DIRTY), pte::ACCESSED | pte::DIRTY, "A/D preset on writable pages");
        assert!(t.translate(&m, DIRECT_MAP_VA + (64 << 20)).is_none(), "nothing past RAM");
        let (gpa, flags) = t.translate(&m, DIRECT_MAP_VA + IMAGE_GPA + (3 << 20) - 1).expect("image mapped");
        assert_eq!(gpa, IMAGE_GPA + (3 << 20) - 1);
        assert_eq!(flags & pte::WRITABLE, 0, "image is read-only");
        assert_eq!(flags & (pte::ACCESSED | pte::DIRTY), pte::ACCESSED, "read-only pages get no Dirty bit");
        assert!(t.translate(&m, 0x40_0000).is_none(), "app space is empty");
    }

    #[test]
    fn a_large_ram_is_mapped_across_page_directories() {
        // 3 GiB + 2 MiB: three whole page directories and one entry of a fourth.
        let ram = (3 << 30) + (2 << 20);
        let (t, m) = build(ram, 5 << 20, &[]);
        for gpa in [0, (1 << 30) - 1, 1 << 30, (2 << 30) + (6 << 20) + 5, ram - 1] {
            let (got, flags) = t.translate(&m, DIRECT_MAP_VA + gpa).expect("RAM mapped");
            assert_eq!(got, gpa);
            assert_ne!(flags & pte::LARGE, 0);
            assert_ne!(flags & pte::WRITABLE, 0);
        }
        assert!(t.translate(&m, DIRECT_MAP_VA + ram).is_none(), "nothing past RAM");
        // A partial last 2 MiB of the image is mapped whole.
        let (got, flags) = t.translate(&m, DIRECT_MAP_VA + IMAGE_GPA + (6 << 20) - 1).expect("image's last page");
        assert_eq!(got, IMAGE_GPA + (6 << 20) - 1);
        assert_eq!(flags & pte::WRITABLE, 0);
        assert!(t.translate(&m, DIRECT_MAP_VA + IMAGE_GPA + (6 << 20)).is_none());
    }

    #[test]
    fn prelinked_addresses_get_an_empty_last_level_table() {
        let (t, m) = build(64 << 20, 1 << 20, &[0x40_1000, 0x7fff_ffff_e000, 0x10]);
        let (plain, _) = build(64 << 20, 1 << 20, &[]);
        assert_eq!(
            t.end_gpa - plain.end_gpa,
            4 * PAGE_SIZE,
            "a PT under the existing low PD; PDPT, PD, PT for the stack"
        );
        assert!(t.translate(&m, 0x40_1000).is_none(), "the entry itself stays empty");
    }

    #[test]
    fn tables_are_contiguous_after_the_kernel() {
        let (t, _) = build(64 << 20, 1 << 20, &[]);
        assert_eq!(t.root, ROOT_GPA);
        assert_eq!(t.end_gpa % PAGE_SIZE, 0);
        // root, low PDPT/PD/PT (system + hypercall + kernel share one PT), direct-map PDPT + PD,
        // image PDPT + PD.
        assert!(t.end_gpa <= KERNEL_END + 10 * PAGE_SIZE, "{} pages", (t.end_gpa - KERNEL_END) / PAGE_SIZE);
    }

    #[test]
    fn the_image_s_first_pages_can_show_other_frames_and_the_rest_the_image() {
        let at = KERNEL_END + 20 * PAGE_SIZE;
        let (t, mut m) = build(64 << 20, 3 << 20, &[]);
        let (gpa, flags) = t.translate(&m, DIRECT_MAP_VA + IMAGE_GPA + 9).unwrap();
        assert_eq!((gpa, flags & pte::LARGE != 0), (IMAGE_GPA + 9, true), "2 MiB pages until asked");
        let (pages, frames) = t.show_image_head(&mut m, at, 3 << 20).unwrap();
        assert_eq!((pages, frames), (IMAGE_HEAD_PAGES, at + PAGE_SIZE), "a table, then the frames");
        for i in 0..IMAGE_HEAD_PAGES {
            let (gpa, flags) = t.translate(&m, DIRECT_MAP_VA + IMAGE_GPA + i * PAGE_SIZE + 9).unwrap();
            assert_eq!(gpa, frames + i * PAGE_SIZE + 9, "page {i}: its frame");
            assert_eq!(flags & (pte::WRITABLE | pte::LARGE), 0, "read-only, 4 KiB");
        }
        let next = IMAGE_HEAD_PAGES * PAGE_SIZE;
        assert_eq!(t.translate(&m, DIRECT_MAP_VA + IMAGE_GPA + next).unwrap().0, IMAGE_GPA + next);
        let last = (2 << 20) - 1;
        assert_eq!(t.translate(&m, DIRECT_MAP_VA + IMAGE_GPA + last).unwrap().0, IMAGE_GPA + last);
        let (gpa, flags) = t.translate(&m, DIRECT_MAP_VA + IMAGE_GPA + (2 << 20) + 5).unwrap();
        assert_eq!((gpa, flags & pte::LARGE != 0), (IMAGE_GPA + (2 << 20) + 5, true), "past 2 MiB: large pages");
        let (small, mut m) = build(64 << 20, 100, &[]);
        assert_eq!(small.show_image_head(&mut m, at, 100).map(|(pages, _)| pages), Some(1), "a one-page image");
    }

    #[test]
    fn tables_that_do_not_fit_are_refused() {
        let (t, _) = build(64 << 20, 1 << 20, &[]);
        let mut memory = Buffer(vec![0; 64 * PAGE_SIZE as usize]);
        let tight = t.end_gpa - PAGE_SIZE;
        assert_eq!(BootPageTables::build(&mut memory, tight, 64 << 20, 1 << 20, &[]), None);
        assert_eq!(BootPageTables::build(&mut memory, t.end_gpa, 64 << 20, 1 << 20, &[]), Some(t));
    }
}
