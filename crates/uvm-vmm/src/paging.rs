//! The boot page tables the VMM builds before the first entry.
//!
//! One 4-level hierarchy serves the guest kernel and the app. The VMM writes it once, before
//! any vCPU runs (host-side stores are only safe before the guest's tables are shadowed); after
//! that only the guest kernel edits it. Built in a plain byte buffer, so it is unit-tested
//! without KVM. What is mapped:
//! - the system area (GDT, TSSs, IDT, ring-0 stacks, boot info), identity, supervisor-only;
//! - the hypercall page (user, no memory behind it);
//! - the guest kernel area, identity, user, one 2 MiB page;
//! - the direct map of RAM (writable) and of the image (read-only), 2 MiB pages, never
//!   executable.

use uvm_abi::layout::{
    self, pte, DIRECT_MAP_VA, HYPERCALL_GPA, HYPERCALL_VA, IMAGE_GPA, KERNEL_BASE, KERNEL_END, LARGE_PAGE_SIZE,
    PAGE_SIZE, SYSTEM_AREA_END,
};

/// Page tables laid out in one contiguous run of guest RAM starting at [`KERNEL_END`].
pub struct BootPageTables {
    /// The pages, `bytes.len() / 4096` of them, to be copied to GPA [`KERNEL_END`].
    pub bytes: Vec<u8>,
    /// GPA of the root (PML4).
    pub root: u64,
}

impl BootPageTables {
    /// First GPA after the tables: where the guest's frame allocator starts.
    pub fn end_gpa(&self) -> u64 {
        KERNEL_END + self.bytes.len() as u64
    }

    /// Builds the tables for `ram_size` bytes of RAM (a multiple of 2 MiB) and an image of
    /// `image_size` bytes, with the path down to a last-level table already present for each
    /// address in `prelink` (where the app's segments, stack and first mappings will be). The
    /// guest then only fills in entries of existing tables; linking a new table into a
    /// shadowed page directory would cost it an emulated write (~25 us) each.
    pub fn build(ram_size: u64, image_size: u64, prelink: &[u64]) -> BootPageTables {
        let mut tables = BootPageTables { bytes: Vec::new(), root: 0 };
        tables.root = tables.alloc();
        let supervisor = pte::PRESENT | pte::WRITABLE | pte::NO_EXECUTE;
        let mut gpa = layout::GDT_GPA;
        while gpa < SYSTEM_AREA_END {
            tables.map_4k(gpa, gpa, supervisor);
            gpa += PAGE_SIZE;
        }
        tables.map_4k(HYPERCALL_VA, HYPERCALL_GPA, pte::PRESENT | pte::WRITABLE | pte::USER | pte::NO_EXECUTE);
        // The whole kernel area as one 2 MiB page: KVM shadows it with one fault where 4 KiB
        // pages cost one each (measured: ~35 fewer faults, ~150 us less boot for a hello).
        tables.map_2m(KERNEL_BASE, KERNEL_BASE, pte::PRESENT | pte::WRITABLE | pte::USER);
        for &va in prelink {
            if (uvm_abi::layout::USER_MIN_VA..uvm_abi::layout::USER_END_VA).contains(&va) {
                tables.table_for(va, 3);
            }
        }
        let data = pte::PRESENT | pte::USER | pte::NO_EXECUTE;
        let mut offset = 0;
        while offset < ram_size {
            tables.map_2m(DIRECT_MAP_VA + offset, offset, data | pte::WRITABLE);
            offset += LARGE_PAGE_SIZE;
        }
        let mut offset = 0;
        while offset < image_size {
            tables.map_2m(DIRECT_MAP_VA + IMAGE_GPA + offset, IMAGE_GPA + offset, data);
            offset += LARGE_PAGE_SIZE;
        }
        tables
    }

    fn alloc(&mut self) -> u64 {
        let gpa = KERNEL_END + self.bytes.len() as u64;
        self.bytes.resize(self.bytes.len() + PAGE_SIZE as usize, 0);
        gpa
    }

    fn entry(&self, table: u64, index: u64) -> u64 {
        let at = (table - KERNEL_END + index * 8) as usize;
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.bytes[at..at + 8]);
        u64::from_le_bytes(b)
    }

    fn set_entry(&mut self, table: u64, index: u64, value: u64) {
        let at = (table - KERNEL_END + index * 8) as usize;
        self.bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }

    /// The table `levels` below the root for `va`, creating intermediate tables.
    fn table_for(&mut self, va: u64, levels: u32) -> u64 {
        let mut table = self.root;
        for level in (4 - levels..4).rev() {
            let index = (va >> (12 + 9 * level)) & 511;
            let e = self.entry(table, index);
            table = if e & pte::PRESENT != 0 {
                e & pte::ADDR_MASK
            } else {
                let child = self.alloc();
                self.set_entry(table, index, pte::preset_used(child | pte::PRESENT | pte::WRITABLE | pte::USER));
                child
            };
        }
        table
    }

    fn map_4k(&mut self, va: u64, gpa: u64, flags: u64) {
        let pt = self.table_for(va, 3);
        self.set_entry(pt, (va >> 12) & 511, pte::preset_used(gpa | flags));
    }

    fn map_2m(&mut self, va: u64, gpa: u64, flags: u64) {
        let pd = self.table_for(va, 2);
        self.set_entry(pd, (va >> 21) & 511, pte::preset_used(gpa | flags | pte::LARGE));
    }

    /// Walks the tables like the CPU: the GPA and flags `va` maps to (for tests).
    pub fn translate(&self, va: u64) -> Option<(u64, u64)> {
        let mut table = self.root;
        for level in (1..4).rev() {
            let e = self.entry(table, (va >> (12 + 9 * level)) & 511);
            if e & pte::PRESENT == 0 {
                return None;
            }
            if level == 1 && e & pte::LARGE != 0 {
                return Some(((e & pte::ADDR_MASK) + (va & (LARGE_PAGE_SIZE - 1)), e));
            }
            table = e & pte::ADDR_MASK;
        }
        let e = self.entry(table, (va >> 12) & 511);
        (e & pte::PRESENT != 0).then_some(((e & pte::ADDR_MASK) + (va & (PAGE_SIZE - 1)), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_region_with_its_permissions() {
        let t = BootPageTables::build(64 << 20, 3 << 20, &[]);
        let (gpa, flags) = t.translate(layout::IDT_GPA).expect("IDT mapped");
        assert_eq!(gpa, layout::IDT_GPA);
        assert_eq!(flags & pte::USER, 0, "system area is supervisor-only");
        let (gpa, flags) = t.translate(HYPERCALL_VA + 8).expect("hypercall page mapped");
        assert_eq!(gpa, HYPERCALL_GPA + 8);
        assert_ne!(flags & pte::USER, 0);
        let (gpa, flags) = t.translate(KERNEL_BASE + 0x14123).expect("kernel mapped");
        assert_eq!(gpa, KERNEL_BASE + 0x14123);
        assert_eq!(flags & pte::NO_EXECUTE, 0, "kernel is executable");
        assert_ne!(flags & pte::LARGE, 0, "the kernel area is one large page");
        let (gpa, flags) = t.translate(DIRECT_MAP_VA + (63 << 20) + 7).expect("last RAM page");
        assert_eq!(gpa, (63 << 20) + 7);
        assert_ne!(flags & pte::WRITABLE, 0);
        assert_eq!(flags & (pte::ACCESSED | pte::DIRTY), pte::ACCESSED | pte::DIRTY, "A/D preset on writable pages");
        assert!(t.translate(DIRECT_MAP_VA + (64 << 20)).is_none(), "nothing past RAM");
        let (gpa, flags) = t.translate(DIRECT_MAP_VA + IMAGE_GPA + (3 << 20) - 1).expect("image mapped");
        assert_eq!(gpa, IMAGE_GPA + (3 << 20) - 1);
        assert_eq!(flags & pte::WRITABLE, 0, "image is read-only");
        assert_eq!(flags & (pte::ACCESSED | pte::DIRTY), pte::ACCESSED, "read-only pages get no Dirty bit");
        assert!(t.translate(0x40_0000).is_none(), "app space is empty");
    }

    #[test]
    fn prelinked_addresses_get_an_empty_last_level_table() {
        let t = BootPageTables::build(64 << 20, 1 << 20, &[0x40_1000, 0x7fff_ffff_e000, 0x10]);
        let plain = BootPageTables::build(64 << 20, 1 << 20, &[]);
        assert_eq!(
            t.bytes.len() - plain.bytes.len(),
            4 * PAGE_SIZE as usize,
            "a PT under the existing low PD; PDPT, PD, PT for the stack"
        );
        assert!(t.translate(0x40_1000).is_none(), "the entry itself stays empty");
    }

    #[test]
    fn tables_are_contiguous_after_the_kernel() {
        let t = BootPageTables::build(64 << 20, 1 << 20, &[]);
        assert_eq!(t.root, KERNEL_END);
        assert_eq!(t.bytes.len() as u64 % PAGE_SIZE, 0);
        // root, low PDPT/PD/PT (system + hypercall + kernel share one PT), direct-map PDPT + PD,
        // image PDPT + PD.
        assert!(t.end_gpa() <= KERNEL_END + 10 * PAGE_SIZE, "{} pages", t.bytes.len() / 4096);
    }
}
