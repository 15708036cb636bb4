//! Syscall-site patching: an app's hot `syscall` instructions are rewritten to jump into the
//! kernel instead of trapping.
//!
//! On PVM the `syscall` instruction costs a ~6 us trip through the host kernel, yet it lands
//! in this kernel still in ring 3, in the app's own address space (the kernel's pages are
//! user pages there): a jump into the same entry costs what a jump costs. So a site that has
//! trapped [`PATCH_AFTER`] times is rewritten, when its bytes are the common pair
//! `mov $nr, %eax; syscall` (`b8 imm32 0f 05`, glibc's and Go's wrappers): the `mov`'s five
//! bytes become a `jmp rel32` to a trampoline of its own in the kernel's trampoline page,
//! which does the `mov`, puts the return address in %rcx as `syscall` does, and jumps to
//! `arch::entry`'s patched entry; that entry does the rest of what `syscall` does (%r11 =
//! RFLAGS, SFMASK's flags cleared) after it has switched stacks, so the app's red zone is
//! never touched. The `syscall` itself stays in place, so code that jumps to it directly
//! (none does in these wrappers) still traps, and so does a restarted call (the kernel rewinds
//! %rip by 2, onto it).
//!
//! How a site is rewritten without another vCPU ever seeing half an instruction: the code
//! page is copied into a fresh frame, the copy is patched, and the page's entry is switched to
//! it (one aligned 8-byte store; `AddressSpace::patch_code_page`), then the TLB flush that
//! ends the syscall makes it visible (KVM's shadow of a page table the kernel writes is
//! resynced only at a flush). A vCPU that runs the old page until then runs the unpatched
//! code, which is just as correct. An old page that was itself a patched copy is therefore
//! kept, not freed (at most one per patch: bounded by [`TRAMPOLINES`]). Code pages of the
//! image stay shared with other VMs until patched. The flush (a hypercall that also resyncs
//! the other running vCPUs) is the larger part of a patch's cost, so the sites that have
//! trapped at least half as often are patched along with the one that reached the count,
//! under the same flush.
//!
//! Why the bytes before a `syscall` can be trusted to be a `mov`: x86 cannot be decoded
//! backwards, so `b8 imm32` could be the tail of a longer instruction. A site is patched only
//! when every call that trapped there came with the same number and the immediate equals it
//! (so the `mov` explains %eax), and the byte before is no prefix that would change the `mov`
//! (REX, operand or address size, lock, rep, segment). Sites that fail are never tried again.
//!
//! Only on PVM: with VMX/SVM `syscall` enters ring 0 directly and costs ~0.1 us.

use alloc::boxed::Box;

use crate::arch::phys;
use crate::mm::space::AddressSpace;
use uvm_abi::layout::PAGE_SIZE;

/// How many times a site traps before it is rewritten. A rewrite costs a page copy and an
/// emulated page-table write (with their shadow-page faults, a few trapped syscalls' worth);
/// a site that traps this often is likely to trap again.
pub const PATCH_AFTER: u32 = 8;

/// Sites tracked (an open-addressed table on the kernel heap, 2 KiB, made at the first
/// syscall; once full, new sites are not tracked). A hello makes a dozen, a Go runtime's
/// start ~40.
const TABLE_SIZE: usize = 128;

/// Bytes per trampoline: `mov $nr, %eax` (5), `lea rel32(%rip), %rcx` (7), `jmp rel32` (5).
const TRAMPOLINE_SIZE: usize = 32;

/// Trampolines in the kernel's trampoline page: the most sites that can be patched.
pub const TRAMPOLINES: usize = PAGE_SIZE as usize / TRAMPOLINE_SIZE;

/// The trampolines: kernel memory, so the VMM never interrupts a vCPU inside one (it
/// interrupts only app code), and executable from ring 3 like all of the kernel. Written only
/// through the direct map by [`SitePatcher::patch`] (under the process lock); no Rust code
/// reads it. Its section puts it in the kernel's cold range (link.ld): backed only once a
/// site is patched.
#[repr(C, align(4096))]
struct TrampolinePage([u8; PAGE_SIZE as usize]);
#[link_section = ".bss.zy_trampolines"]
static mut TRAMPOLINE_PAGE: TrampolinePage = TrampolinePage([0; PAGE_SIZE as usize]);

/// What is known of one site (keyed by the address of its `syscall` instruction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SiteState {
    /// Trapped this many times.
    Counting(u32),
    /// Rewritten.
    Patched,
    /// Its bytes are not the pair this knows, or it could not be rewritten: left alone.
    Refused,
}

#[derive(Clone, Copy, Debug)]
struct Site {
    /// Address of the `syscall` instruction (0: a free entry).
    at: u64,
    /// The number of its first call (every call there must have it).
    nr: u32,
    state: SiteState,
}

/// A free table entry.
const FREE: Site = Site { at: 0, nr: 0, state: SiteState::Counting(0) };

/// The process's syscall sites.
pub struct SitePatcher {
    /// Whether sites may be rewritten at all (PVM only).
    enabled: bool,
    sites: Option<Box<[Site; TABLE_SIZE]>>,
    /// Trampolines handed out.
    used: usize,
}

impl Default for SitePatcher {
    fn default() -> SitePatcher {
        SitePatcher::new()
    }
}

impl SitePatcher {
    /// A patcher that patches nothing until [`SitePatcher::enable`].
    pub const fn new() -> SitePatcher {
        SitePatcher { enabled: false, sites: None, used: 0 }
    }

    /// Lets sites be rewritten (on PVM).
    pub fn enable(&mut self) {
        self.enabled = true;
    }

    /// How many sites were rewritten.
    pub fn patched_sites(&self) -> u64 {
        self.used as u64
    }

    /// Counts a trapped syscall `nr` whose `syscall` instruction is at `at`, and rewrites the
    /// site once it has trapped [`PATCH_AFTER`] times and its bytes allow it. Cheap for the
    /// other calls: one probe of a small table.
    pub fn trapped(&mut self, space: &mut AddressSpace, at: u64, nr: u64) {
        let Ok(nr) = u32::try_from(nr) else { return };
        if !self.enabled || at == 0 {
            return;
        }
        let sites = self.sites.get_or_insert_with(|| Box::new([FREE; TABLE_SIZE]));
        let Some(index) = slot_of(sites, at) else { return };
        let site = &mut sites[index];
        if site.at == 0 {
            *site = Site { at, nr, state: SiteState::Counting(0) };
        }
        if site.nr != nr {
            // Calls with different numbers: %eax is not set by a `mov` right before.
            site.state = SiteState::Refused;
        }
        let SiteState::Counting(count) = site.state else { return };
        site.state = SiteState::Counting(count + 1);
        if count + 1 < PATCH_AFTER {
            return;
        }
        // This site, and the warm ones too, under the same flush.
        let mut sites = self.sites.take().unwrap_or_else(|| Box::new([FREE; TABLE_SIZE]));
        for (i, site) in sites.iter_mut().enumerate() {
            let warm = matches!(site.state, SiteState::Counting(n) if n >= PATCH_AFTER / 2);
            if i == index || (warm && site.at != 0) {
                let patched = self.patch(space, site.at, site.nr).is_some();
                site.state = if patched { SiteState::Patched } else { SiteState::Refused };
            }
        }
        self.sites = Some(sites);
    }

    /// Rewrites the site whose `syscall` is at `at` (see the module doc); `None` when its
    /// bytes, its page or the trampolines do not allow it.
    fn patch(&mut self, space: &mut AddressSpace, at: u64, nr: u32) -> Option<()> {
        if self.used >= TRAMPOLINES {
            return None;
        }
        let start = at.checked_sub(6)?;
        let page = (at - 5) & !(PAGE_SIZE - 1);
        // The five bytes rewritten and the `syscall` after them lie in one page.
        if (at + 1) & !(PAGE_SIZE - 1) != page {
            return None;
        }
        let bytes: [u8; 8] = crate::user::read(space, start, 8).ok()?.try_into().ok()?;
        if !is_mov_eax_syscall(&bytes, nr) {
            return None;
        }
        let trampoline = &raw const TRAMPOLINE_PAGE as u64 + (self.used * TRAMPOLINE_SIZE) as u64;
        // `jmp rel32` at `at - 5`: relative to the next instruction, `at`.
        let jump = i32::try_from(trampoline as i64 - at as i64).ok()?;
        let code = trampoline_code(trampoline, nr, at + 2, patched_entry())?;
        phys::write_bytes(trampoline, &code);
        let mut jmp = [0xe9, 0, 0, 0, 0];
        jmp[1..].copy_from_slice(&jump.to_le_bytes());
        space.patch_code_page(page, (at - 5 - page) as usize, &jmp).ok()?;
        self.used += 1;
        Some(())
    }
}

/// The entry of `at` in `sites`, or the free one it would take (`None`: the table is full).
fn slot_of(sites: &[Site; TABLE_SIZE], at: u64) -> Option<usize> {
    let start = ((at ^ (at >> 9)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 55) as usize % TABLE_SIZE;
    (0..TABLE_SIZE).map(|i| (start + i) % TABLE_SIZE).find(|&i| sites[i].at == at || sites[i].at == 0)
}

/// Whether `bytes` (from 6 bytes before a `syscall` to its end) are `mov $nr, %eax;
/// syscall` with nothing before the `mov` that could make it part of another instruction.
fn is_mov_eax_syscall(bytes: &[u8; 8], nr: u32) -> bool {
    let prefix =
        matches!(bytes[0], 0x40..=0x4f | 0x66 | 0x67 | 0xf0 | 0xf2 | 0xf3 | 0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65);
    let imm = u32::from_le_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
    bytes[1] == 0xb8 && imm == nr && bytes[6..] == [0x0f, 0x05] && !prefix
}

/// Where trampolines jump: `arch::entry`'s patched syscall entry.
#[cfg(not(test))]
fn patched_entry() -> u64 {
    crate::arch::entry::patched_syscall_entry_address()
}
#[cfg(test)]
fn patched_entry() -> u64 {
    0x20_3000
}

/// A trampoline at `at` for syscall `nr` returning to `return_to`: `mov $nr, %eax; lea
/// return_to(%rip), %rcx; jmp entry`, then `int3`s. `None` if a target is out of reach of a
/// 32-bit displacement.
fn trampoline_code(at: u64, nr: u32, return_to: u64, entry: u64) -> Option<[u8; TRAMPOLINE_SIZE]> {
    let mut code = [0xcc; TRAMPOLINE_SIZE];
    code[0] = 0xb8;
    code[1..5].copy_from_slice(&nr.to_le_bytes());
    code[5..8].copy_from_slice(&[0x48, 0x8d, 0x0d]);
    let lea = i32::try_from(return_to as i64 - (at + 12) as i64).ok()?;
    code[8..12].copy_from_slice(&lea.to_le_bytes());
    code[12] = 0xe9;
    let jmp = i32::try_from(entry as i64 - (at + 17) as i64).ok()?;
    code[13..17].copy_from_slice(&jmp.to_le_bytes());
    Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unprefixed_mov_of_the_same_number_before_a_syscall_is_patched() {
        // getppid: mov $0x6e, %eax; syscall, after a `ret` (c3).
        let good = [0xc3, 0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05];
        assert!(is_mov_eax_syscall(&good, 0x6e));
        assert!(!is_mov_eax_syscall(&good, 0x27), "another number in %eax: the mov did not set it");
        let mut rex = good;
        rex[0] = 0x41; // mov $0x6e, %r8d
        assert!(!is_mov_eax_syscall(&rex, 0x6e));
        let mut not_mov = good;
        not_mov[1] = 0xb9; // mov $0x6e, %ecx
        assert!(!is_mov_eax_syscall(&not_mov, 0x6e));
        let mut not_syscall = good;
        not_syscall[7] = 0x0b; // ud2
        assert!(!is_mov_eax_syscall(&not_syscall, 0x6e));
    }

    #[test]
    fn a_trampoline_sets_eax_and_rcx_and_jumps_to_the_entry() {
        let at = 0x25_0000;
        let entry = 0x20_3000;
        let code = trampoline_code(at, 0x6e, 0x40_1007, entry).unwrap();
        assert_eq!(code[..5], [0xb8, 0x6e, 0, 0, 0]);
        assert_eq!(code[5..8], [0x48, 0x8d, 0x0d]);
        let lea = i32::from_le_bytes(code[8..12].try_into().unwrap()) as i64;
        assert_eq!((at + 12) as i64 + lea, 0x40_1007, "%rcx = the return address");
        assert_eq!(code[12], 0xe9);
        let jmp = i32::from_le_bytes(code[13..17].try_into().unwrap()) as i64;
        assert_eq!((at + 17) as i64 + jmp, entry as i64);
        assert!(code[17..].iter().all(|&b| b == 0xcc));
        assert_eq!(trampoline_code(at, 1, at + (1 << 32), entry), None, "out of reach");
    }
}
