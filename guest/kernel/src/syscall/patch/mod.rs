//! Syscall-site patching: an app's hot `syscall` instructions are rewritten to jump into the
//! kernel instead of trapping.
//!
//! On PVM the `syscall` instruction costs a ~6 us trip through the host kernel, yet it lands
//! in this kernel still in ring 3, in the app's own address space (the kernel's pages are
//! user pages there): a jump into the same entry costs what a jump costs. So a site that has
//! trapped [`PATCH_AFTER`] times is rewritten when it has one of the [`Shape`]s:
//! - a `mov $nr, %eax` (maybe followed by register-only instructions, `moves`) or a `mov
//!   $nr, %rax` before the `syscall`: the `mov` becomes a `jmp rel32` to a trampoline of its
//!   own in the kernel's trampoline page, which does the `mov` and copies of the instructions
//!   after it;
//! - dead padding within a `jmp rel8`'s reach after the `syscall` (after the first `ret` or
//!   `jmp` the code from the `syscall` on reaches, found by decoding it forward: `length`):
//!   the `syscall` becomes that `jmp rel8`, and the padding the `jmp rel32` to the trampoline.
//!
//! The trampoline then puts the return address (right after the site's `syscall`) in %rcx as
//! `syscall` does, and jumps to `arch::entry`'s patched entry; that entry does the rest of
//! what `syscall` does (%r11 = RFLAGS, SFMASK's flags cleared) after it has switched stacks,
//! so the app's red zone is never touched. Every call returns to the app right after the
//! site, so a signal handler sees the app's own program counter, as without the patch. Every
//! instruction boundary a thread may be stopped at in the old code is still one in the new:
//! the `mov` and the `syscall` are replaced by jumps of their own length, and a thread
//! interrupted after the `mov` runs the real `syscall`; a restarted call (the kernel rewinds
//! %rip by 2) lands on the `syscall` or the `jmp rel8` in its place.
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
//! Why the bytes can be trusted to be the instructions they look like: x86 cannot be decoded
//! backwards, so the bytes before a `syscall` could be the tail of a longer instruction. A
//! `mov $nr, %eax` site is patched only when every call that trapped there agrees with them
//! (the immediate is the number each call came with, and the registers show the effects of
//! the instructions after it), and the byte before them is no prefix that would change them
//! (REX, operand or address size, lock, rep, segment). Forward from a `syscall` (a known
//! boundary: the trap's return address) the code decodes exactly, and the walk refuses any
//! instruction it does not know for certain. Sites that fail are never tried again.
//!
//! Only on PVM: with VMX/SVM `syscall` enters ring 0 directly and costs ~0.1 us.

use alloc::boxed::Box;

use uvm_abi::layout::{KERNEL_BASE, KERNEL_END, PAGE_SIZE};

use crate::arch::phys;
use crate::mm::space::AddressSpace;

mod length;
mod moves;

/// How many times a site traps before it is rewritten. A rewrite costs a page copy, an
/// emulated page-table write and a TLB-flush hypercall, with their shadow-page faults (a few
/// trapped syscalls' worth); a site that traps this often is likely to trap again.
const PATCH_AFTER: u32 = 8;

/// The same for a site inside a 2 MiB page of the image
/// ([`AddressSpace::map_large_image_chunks`]). Its rewrite splits that page into 512 small
/// ones, and the app then takes one shadow-page fault (~8 us on PVM) for each page of the
/// chunk it touches again, up to a few hundred, where a trapped call costs ~6 us more than a
/// patched one: a site is rewritten only once it has trapped about as often as the split
/// would cost, which an app's start-up does not reach and a busy server soon does.
const PATCH_AFTER_IN_LARGE_PAGE: u32 = 512;

/// Sites tracked (an open-addressed table on the kernel heap, 4 KiB, made at the first
/// syscall; once full, new sites are not tracked). A hello makes a dozen, a Go runtime's
/// start ~40.
const TABLE_SIZE: usize = 128;

/// Bytes per trampoline (the longest, a [`Shape::MovEax`] site's with [`MOST_MOVED`] bytes of
/// register-only instructions after its `mov`, takes 32).
const TRAMPOLINE_SIZE: usize = 32;

/// The most bytes of register-only instructions a [`Shape::MovEax`] site may have between its
/// `mov` and its `syscall`: what its trampoline holds besides the `mov` (5 bytes), the `lea`
/// (7) and the `jmp` (5).
const MOST_MOVED: usize = TRAMPOLINE_SIZE - 17;

/// Trampolines in the kernel's trampoline page: the most sites that can be patched.
const TRAMPOLINES: usize = PAGE_SIZE as usize / TRAMPOLINE_SIZE;

/// The trampolines: kernel memory, so the VMM never interrupts a vCPU inside one (it
/// interrupts only app code), and executable from ring 3 like all of the kernel. Written only
/// through the direct map by [`SitePatcher::patch`] (under the process lock); no Rust code
/// reads it. Its section puts it in the kernel's cold range (link.ld): backed only once a
/// site is patched.
#[repr(C, align(4096))]
struct TrampolinePage([u8; PAGE_SIZE as usize]);
#[link_section = ".bss.zy_trampolines"]
static mut TRAMPOLINE_PAGE: TrampolinePage = TrampolinePage([0; PAGE_SIZE as usize]);

/// How many bytes before a `syscall` the shapes look at: a [`Shape::MovEax`] site's `mov`, the
/// [`MOST_MOVED`] bytes after it, and the byte before it (which must be no prefix).
const LOOK_BACK: u64 = 1 + 5 + MOST_MOVED as u64;

/// The length of a [`Shape::MovRax`] site's `mov`.
const MOV_RAX_LEN: usize = 7;

/// The bytes from [`LOOK_BACK`] before a `syscall` to its end.
type SiteBytes = [u8; LOOK_BACK as usize + 2];

/// How far past a `syscall`'s end a `jmp rel8` in its place reaches ([`Shape::Jumped`]).
const REL8_REACH: usize = 127;

/// How many bytes after a `syscall` the shapes look at: a [`Shape::Jumped`] site's code up to
/// the padding a `jmp rel8` reaches, and the padding (up to its 8-byte boundary).
const LOOK_AHEAD: u64 = REL8_REACH as u64 + 24;

/// The [`LOOK_AHEAD`] bytes after a `syscall`.
type AfterBytes = [u8; LOOK_AHEAD as usize];

/// Bytes a [`Code`] holds: a trampoline, or a site's rewrite, the longest of which, a
/// [`Shape::Jumped`] one's (from its `syscall` to the end of the `jmp rel32` in the padding),
/// takes 134.
const CODE_CAPACITY: usize = 2 + REL8_REACH + 5;
const _: () = assert!(TRAMPOLINE_SIZE <= CODE_CAPACITY);

/// The sites this rewrites, by the bytes around the `syscall`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// `mov $nr, %eax; syscall` (`b8 imm32 0f 05`): glibc's wrappers and the Go runtime's own
    /// calls; or with `then` bytes of register-only instructions between the two (`moves`),
    /// as compilers schedule an inline `syscall`'s argument moves: musl's `stat`, `mmap`,
    /// `munmap`, `readv`, `socket`, `accept4` and more. The jump replaces the `mov`, and the
    /// trampoline runs it and a copy of the instructions after it; those and the `syscall`
    /// stay, so every instruction boundary does. Needs no padding. Trusted when every call
    /// came with the immediate as its number, the byte before the `mov` is no prefix and the
    /// instructions in between showed their effects (`moves::effects_shown`, from the
    /// [`PATCH_AFTER`]` / 2`th trap on).
    MovEax { nr: u32, then: u8 },
    /// `mov $nr, %rax; syscall` (`48 c7 c0 imm32 0f 05`, the immediate sign-extended): the
    /// signal return trampolines of glibc, musl and Go (`rt_sigreturn`, which every handled
    /// signal ends with), which no padding follows. The 7-byte `mov` becomes a `jmp rel32`
    /// and two `nop`s; the trampoline runs the `mov`. Trusted as [`Shape::MovEax`] is.
    MovRax { nr: u32 },
    /// A site whose code, decoded forward from its `syscall` (`length`), comes within
    /// [`REL8_REACH`] bytes to an instruction it cannot fall through (`ret`, `jmp`, `ud2`)
    /// followed by at least 5 bytes of padding up to an 8-byte boundary (nops or `int3`s,
    /// which nothing runs): the `syscall` itself becomes a `jmp rel8` to that padding (`pad`
    /// bytes past its end), and the padding's first 5 bytes the `jmp rel32` to the trampoline.
    /// A `jmp rel8` is as long as a `syscall`, so no instruction boundary moves (a restarted
    /// call, %rip rewound by 2, lands on the jump), and the trampoline replays nothing:
    /// however the registers were set, they are as they were. So it takes any site with
    /// padding in reach, whatever its number: Go's `Syscall6` (all Go I/O), musl's
    /// `__syscall_cp_c` (its reads and writes), `__stdio_write` (number from %r12) and
    /// generic `syscall()`, glibc's `read` and `syscall()`. Trusted when the byte before the
    /// `syscall` is no prefix and the walk decoded every instruction on the way ([`length`]
    /// refuses what it does not know for certain; the walk refuses `int3`s, and zeros such as
    /// fill gaps between objects) and met no other site's rewrite.
    Jumped { pad: u8 },
}

impl Shape {
    /// The shape of the site whose `syscall` is at `at`, from its `bytes` and the bytes
    /// `after` it (if they could be read), given the one number every trap there came with (if
    /// one) and whether the traps showed the effects of the register-only instructions before
    /// the `syscall` (`moves_shown`): [`Shape::MovEax`] if it fits, else [`Shape::Jumped`]
    /// unless the walk to its padding meets a rewrite (a jump that `rewritten` says replaced
    /// code that runs on after it).
    fn of(
        at: u64,
        bytes: &SiteBytes,
        after: Option<&AfterBytes>,
        nr: Option<u32>,
        moves_shown: bool,
        rewritten: impl Fn(u64) -> bool,
    ) -> Option<Shape> {
        if bytes[LOOK_BACK as usize..] != [0x0f, 0x05] {
            return None;
        }
        if let Some(nr) = nr {
            match mov_eax_then(bytes, nr) {
                Some(0) => return Some(Shape::MovEax { nr, then: 0 }),
                Some(then) if moves_shown => return Some(Shape::MovEax { nr, then }),
                _ => {}
            }
            let mov = &bytes[LOOK_BACK as usize - MOV_RAX_LEN..LOOK_BACK as usize];
            if mov[..3] == [0x48, 0xc7, 0xc0]
                && mov[3..] == nr.to_le_bytes()
                && !is_prefix(bytes[LOOK_BACK as usize - MOV_RAX_LEN - 1])
            {
                return Some(Shape::MovRax { nr });
            }
        }
        let pad = padding_after(after?, at + 2, rewritten)?;
        (!is_prefix(bytes[LOOK_BACK as usize - 1])).then_some(Shape::Jumped { pad })
    }

    /// Where the rewrite starts: the `mov` of a [`Shape::MovEax`] or [`Shape::MovRax`] site,
    /// the `syscall` of a [`Shape::Jumped`] one.
    fn rewrite_at(self, at: u64) -> u64 {
        match self {
            Shape::MovEax { then, .. } => at - 5 - u64::from(then),
            Shape::MovRax { .. } => at - MOV_RAX_LEN as u64,
            Shape::Jumped { .. } => at,
        }
    }

    /// The instructions before the `syscall` (in the site's `bytes`) that the trampoline does
    /// before it enters the kernel: a [`Shape::MovEax`] or [`Shape::MovRax`] site's `mov`,
    /// which the rewrite replaces, and the register-only instructions after it, which stay in
    /// place.
    fn replayed(self, bytes: &SiteBytes) -> &[u8] {
        match self {
            Shape::MovEax { then, .. } => &bytes[LOOK_BACK as usize - 5 - usize::from(then)..LOOK_BACK as usize],
            Shape::MovRax { .. } => &bytes[LOOK_BACK as usize - MOV_RAX_LEN..LOOK_BACK as usize],
            Shape::Jumped { .. } => &[],
        }
    }
}

/// Whether `b` is an instruction prefix that would change the instruction after it (REX,
/// operand or address size, lock, rep, segment).
fn is_prefix(b: u8) -> bool {
    matches!(b, 0x40..=0x4f | 0x66 | 0x67 | 0xf0 | 0xf2 | 0xf3 | 0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65)
}

/// For a site whose calls all came with number `nr`: how many bytes of register-only
/// instructions (`moves`) lie between the nearest `mov $nr, %eax` before its `syscall` (in its
/// `bytes`) and the `syscall`, if there is such a `mov` with no prefix before it.
fn mov_eax_then(bytes: &SiteBytes, nr: u32) -> Option<u8> {
    let end = LOOK_BACK as usize;
    (0..=MOST_MOVED).find_map(|then| {
        let mov = end - 5 - then;
        let imm = u32::from_le_bytes(bytes[mov + 1..mov + 5].try_into().ok()?);
        let found = bytes[mov] == 0xb8 && imm == nr && !is_prefix(bytes[mov - 1]);
        (found && moves::is_sequence(&bytes[mov + 5..end])).then_some(then as u8)
    })
}

/// How many bytes at the start of `code` (which is at address `at`) are padding up to the
/// first 8-byte boundary a whole instruction of it ends at: nops as assemblers align with
/// (one byte, or `0f 1f` with a zero displacement, behind `66`/`2e` prefixes), or `int3`s.
/// 0 if code comes first (then it is not padding). Stopping at the first boundary keeps the
/// run short of any label there (labels that padding leads to are aligned). A run of `int3`s
/// alone goes on to a 16-byte boundary if it reaches one (nothing runs an `int3` but to trap:
/// linkers fill between functions with them, Go's to its 32-byte aligned functions).
fn padding_len(code: &[u8], at: u64) -> usize {
    let mut len = 0;
    // Where an `int3` run went on past an 8-byte boundary.
    let mut int3s_past = None;
    loop {
        if len > 0 && (at + len as u64).is_multiple_of(8) {
            if (at + len as u64).is_multiple_of(16) || !code[..len].iter().all(|&b| b == 0xcc) {
                return len;
            }
            int3s_past.get_or_insert(len);
        }
        let rest = &code[len..];
        if let Some(past) = int3s_past.filter(|_| rest.first() != Some(&0xcc)) {
            return past;
        }
        let prefixes = rest.iter().take_while(|&&b| b == 0x66 || b == 0x2e).count().min(5);
        let body = &rest[prefixes..];
        let nop = match body {
            [0x90, ..] => 1,
            [0xcc, ..] if prefixes == 0 => 1,
            [0x0f, 0x1f, 0x00, ..] => 3,
            [0x0f, 0x1f, 0x40, 0x00, ..] => 4,
            [0x0f, 0x1f, 0x44, 0x00, 0x00, ..] => 5,
            [0x0f, 0x1f, 0x80, 0, 0, 0, 0, ..] => 7,
            [0x0f, 0x1f, 0x84, 0x00, 0, 0, 0, 0, ..] => 8,
            _ => return 0,
        };
        len += prefixes + nop;
    }
}

/// For [`Shape::Jumped`]: how many bytes past a `syscall`'s end (`end`, where its bytes
/// `after` start) the padding starts that follows the first instruction the code from there
/// cannot fall through, if a `jmp rel8` in the `syscall`'s place reaches it and it holds a `jmp
/// rel32`. `None` if the walk meets a rewrite first (`rewritten`, by address: another site's
/// jump, which replaced code that runs on after it), an `int3` (what follows one may be
/// anything), a second `ret` or `jmp` without padding, one with too little padding, or zeros (`add %al, (%rax)`, which compilers never emit, where
/// gaps between objects are zero-filled).
#[cold]
#[inline(never)]
fn padding_after(after: &AfterBytes, end: u64, rewritten: impl Fn(u64) -> bool) -> Option<u8> {
    let mut pos = 0;
    let mut went_on = false;
    while pos <= REL8_REACH {
        let code = &after[pos..];
        if matches!(code, [0xcc, ..] | [0x00, 0x00, ..]) {
            return None;
        }
        let insn = length::decode(code)?;
        if insn.ends_flow && rewritten(end + pos as u64) {
            return None;
        }
        pos += insn.len;
        if !insn.ends_flow {
            continue;
        }
        if pos <= REL8_REACH && padding_len(&after[pos..], end + pos as u64) >= 5 {
            return u8::try_from(pos).ok();
        }
        // A `ret` or `jmp` that code follows at once (no byte of padding: a label the
        // function jumps to, as Go's `Syscall6` has between its two returns): the walk goes on
        // through it, once. After a little padding there could as well be data.
        let padded = matches!(after[pos..], [0x90 | 0xcc | 0x66 | 0x2e, ..] | [0x0f, 0x1f, ..]);
        if padded || went_on {
            return None;
        }
        went_on = true;
    }
    None
}

/// What is known of one site (keyed by the address of its `syscall` instruction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SiteState {
    /// Trapped this many times.
    Counting(u32),
    /// Rewritten.
    Patched,
    /// Its bytes have no known shape, or it could not be rewritten: left alone.
    Refused,
}

#[derive(Clone, Copy, Debug)]
struct Site {
    /// Address of the `syscall` instruction (0: a free entry).
    at: u64,
    /// The number every call there came with (`None`: they differed).
    nr: Option<u32>,
    /// Whether every call there from the [`PATCH_AFTER`]` / 2`th on showed the effects of the
    /// register-only instructions before the `syscall`, if it is a [`Shape::MovEax`] site
    /// with such (`moves::effects_shown`).
    moves_shown: bool,
    state: SiteState,
}

/// A free table entry.
const FREE: Site = Site { at: 0, nr: None, moves_shown: false, state: SiteState::Counting(0) };

/// The process's syscall sites.
pub struct SitePatcher {
    /// Whether sites may be rewritten at all (PVM only).
    enabled: bool,
    sites: Option<Box<[Site; TABLE_SIZE]>>,
    /// Sites this process's program had rewritten.
    patched: u64,
}

/// Trampolines handed out, by every process's patcher: the trampoline page is the kernel's,
/// the same in every address space (changed only with the process lock held).
static TRAMPOLINES_TAKEN: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

impl Default for SitePatcher {
    fn default() -> SitePatcher {
        SitePatcher::new()
    }
}

impl SitePatcher {
    /// A patcher that patches nothing until [`SitePatcher::enable`].
    pub const fn new() -> SitePatcher {
        SitePatcher { enabled: false, sites: None, patched: 0 }
    }

    /// A forked child's patcher: its memory is a copy of this process's, rewritten sites
    /// and all, so it knows the same sites.
    pub fn fork(&self) -> SitePatcher {
        SitePatcher { enabled: self.enabled, sites: self.sites.clone(), patched: self.patched }
    }

    /// Lets sites be rewritten (on PVM).
    pub fn enable(&mut self) {
        self.enabled = true;
    }

    /// Forgets the old program's sites (execve). The trampolines they took stay taken, as
    /// the kernel's trampoline page is not reused: after enough execs new sites trap on,
    /// unpatched, which is slower but as correct.
    pub fn forget_sites(&mut self) {
        self.sites = None;
    }

    /// How many sites were rewritten.
    pub fn patched_sites(&self) -> u64 {
        self.patched
    }

    /// Counts a trapped syscall `nr` whose `syscall` instruction is at `at`, with its
    /// registers `regs` (what they show: [`Site::moves_shown`]), and rewrites the site once it has trapped
    /// [`PATCH_AFTER`] times and its bytes allow it. Cheap for the other calls: one probe of a
    /// small table.
    pub fn trapped(&mut self, space: &mut AddressSpace, at: u64, nr: u64, regs: &Regs) {
        // A `syscall` in kernel memory (the app can jump there: on PVM the kernel's pages are
        // user pages) is never rewritten.
        if !self.enabled || at == 0 || (KERNEL_BASE..KERNEL_END).contains(&at) {
            return;
        }
        let nr = u32::try_from(nr).ok();
        let sites = self.sites.get_or_insert_with(|| Box::new([FREE; TABLE_SIZE]));
        let Some(index) = slot_of(sites, at) else { return };
        let site = &mut sites[index];
        if site.at == 0 {
            *site = Site { at, nr, moves_shown: true, state: SiteState::Counting(0) };
        }
        let SiteState::Counting(count) = site.state else { return };
        let after = if count + 1 >= PATCH_AFTER / 2 { patch_after(space, at) } else { PATCH_AFTER };
        if site.nr != nr {
            site.nr = None;
        }
        // Decoding the site's bytes at every trap would cost more than the trap; from the
        // `after / 2`th on, the last calls before the rewrite are checked.
        if count + 1 >= after / 2 && site.moves_shown {
            site.moves_shown = moves_shown(space, at, site.nr, &regs.gpr);
        }
        site.state = SiteState::Counting(count + 1);
        if count + 1 < after {
            return;
        }
        // This site, and the warm ones too, under the same flush.
        let Some(mut sites) = self.sites.take() else { return };
        for i in 0..TABLE_SIZE {
            let site = sites[i];
            let warm = matches!(site.state, SiteState::Counting(n)
                if n >= PATCH_AFTER / 2 && site.at != 0 && n >= patch_after(space, site.at) / 2);
            if i == index || warm {
                let patched = self.patch(space, &site, &sites).is_some();
                sites[i].state = if patched { SiteState::Patched } else { SiteState::Refused };
            }
        }
        self.sites = Some(sites);
    }

    /// Rewrites `site` (see the module doc), one of `sites`; `None` when its bytes, its page or
    /// the trampolines do not allow it. (Out of line and cold: a site's 8th trap runs it, and
    /// inlined it would sit in the syscall handler's hot text.)
    #[cold]
    #[inline(never)]
    fn patch(&mut self, space: &mut AddressSpace, site: &Site, sites: &[Site; TABLE_SIZE]) -> Option<()> {
        let taken = TRAMPOLINES_TAKEN.load(core::sync::atomic::Ordering::Relaxed);
        let at = site.at;
        let bytes = site_bytes(space, at)?;
        let after = after_bytes(space, at + 2);
        // Where another site's rewrite put a jump in place of code that runs on after it.
        let rewritten = |address: u64| {
            sites.iter().any(|other| {
                other.state == SiteState::Patched
                    && (other.at.saturating_sub(LOOK_BACK)..other.at + 2).contains(&address)
            })
        };
        let shape = Shape::of(at, &bytes, after.as_ref(), site.nr, site.moves_shown, rewritten)?;
        // The same site of the same code patched in another process (a forked child of this
        // one, or this program before an execve of itself) left a trampoline with this very
        // code: it serves again, so that a process forked over and over does not use the
        // kernel's trampolines up.
        let read = |i: usize| {
            let mut code = [0; TRAMPOLINE_SIZE];
            phys::read_bytes(trampoline_address(i), &mut code);
            (trampoline_address(i), code)
        };
        let same = same_trampoline(taken, shape.replayed(&bytes), at + 2, read);
        if same.is_none() && taken >= TRAMPOLINES {
            return None;
        }
        let trampoline = trampoline_address(same.unwrap_or(taken));
        let code = trampoline_code(shape.replayed(&bytes), trampoline, at + 2, patched_entry())?;
        let rewrite = site_rewrite(shape, at, after.as_ref(), trampoline)?;
        let (start, page) = (rewrite.at, rewrite.at & !(PAGE_SIZE - 1));
        // One page copy and one entry switch: the rewrite lies in one page, and so does the
        // `syscall` it leads to (a `mov $nr, %eax` site's rewrite ends before it).
        let end = (start + rewrite.len as u64).max(at + 2);
        if (end - 1) & !(PAGE_SIZE - 1) != page {
            return None;
        }
        if same.is_none() {
            phys::write_bytes(trampoline, &code);
        }
        space.patch_code_page(page, (start - page) as usize, rewrite.as_slice()).ok()?;
        if same.is_none() {
            TRAMPOLINES_TAKEN.store(taken + 1, core::sync::atomic::Ordering::Relaxed);
        }
        self.patched += 1;
        Some(())
    }
}

/// How many times the site at `at` traps before it is rewritten.
fn patch_after(space: &AddressSpace, at: u64) -> u32 {
    if space.in_large_page(at) {
        PATCH_AFTER_IN_LARGE_PAGE
    } else {
        PATCH_AFTER
    }
}

/// The bytes before and of the `syscall` at `at`: from [`LOOK_BACK`] before it, or where the
/// bytes before cannot be read (the page before is not mapped), from the start of its page,
/// with operand-size prefixes (`0x66`) before, which no shape takes for an instruction's
/// first byte or the byte before it.
fn site_bytes(space: &mut AddressSpace, at: u64) -> Option<SiteBytes> {
    let whole = crate::user::read(space, at.checked_sub(LOOK_BACK)?, LOOK_BACK + 2).ok();
    if let Some(bytes) = whole.and_then(|bytes| SiteBytes::try_from(bytes).ok()) {
        return Some(bytes);
    }
    let from = (at & !(PAGE_SIZE - 1)).max(at - LOOK_BACK);
    let known = crate::user::read(space, from, at + 2 - from).ok()?;
    let mut bytes = [0x66; LOOK_BACK as usize + 2];
    bytes[LOOK_BACK as usize + 2 - known.len()..].copy_from_slice(known);
    Some(bytes)
}

/// The [`LOOK_AHEAD`] bytes from `end` (a `syscall`'s end) up to the end of the `syscall`'s
/// page, the rest `0x06` (an opcode invalid in 64-bit mode, which no shape takes): a rewrite
/// lies in one page, so the next page is never read (nor faulted in). `None` if they cannot
/// be read.
fn after_bytes(space: &mut AddressSpace, end: u64) -> Option<AfterBytes> {
    let page_end = ((end - 1) & !(PAGE_SIZE - 1)) + PAGE_SIZE;
    let mut after = [0x06; LOOK_AHEAD as usize];
    let len = LOOK_AHEAD.min(page_end - end);
    if len > 0 {
        let known = crate::user::read(space, end, len).ok()?;
        after[..known.len()].copy_from_slice(known);
    }
    Some(after)
}

/// The registers of a trapped call, which show whether a [`Shape::MovEax`] site's
/// instructions are the ones its bytes look like: the general-purpose
/// ones by x86 number (%rax 0, %rcx 1, %rdx 2, %rbx 3, %rsp 4, %rbp 5, %rsi 6, %rdi 7, then
/// %r8 to %r15), as they were at the `syscall`.
#[derive(Clone, Copy, Debug)]
pub struct Regs {
    pub gpr: [u64; 16],
}

impl Regs {
    /// The registers of the call `frame` holds (its number for %rax).
    pub fn of(frame: &crate::arch::frame::TrapFrame) -> Regs {
        let f = frame;
        let gpr = [
            f.nr, f.rcx, f.rdx, f.rbx, f.rsp, f.rbp, f.rsi, f.rdi, f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15,
        ];
        Regs { gpr }
    }
}

/// Whether the registers `gpr` of a call at the site whose `syscall` is at `at` (all of whose
/// calls came with number `nr`, if they did) show the effects of the register-only
/// instructions between its `mov $nr, %eax` and its `syscall`, if it has that shape (read from
/// `space`).
#[inline(never)]
fn moves_shown(space: &mut AddressSpace, at: u64, nr: Option<u32>, gpr: &[u64; 16]) -> bool {
    let Some((bytes, nr)) = site_bytes(space, at).zip(nr) else { return true };
    mov_eax_then(&bytes, nr).is_none_or(|then| {
        let end = LOOK_BACK as usize;
        moves::effects_shown(&bytes[end - usize::from(then)..end], gpr)
    })
}

/// The entry of `at` in `sites`, or the free one it would take (`None`: the table is full).
fn slot_of(sites: &[Site; TABLE_SIZE], at: u64) -> Option<usize> {
    let start = ((at ^ (at >> 9)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 55) as usize % TABLE_SIZE;
    (0..TABLE_SIZE).map(|i| (start + i) % TABLE_SIZE).find(|&i| sites[i].at == at || sites[i].at == 0)
}

/// The displacement from `next` (the address after a jump or `lea`) to `target`, if 32 bits
/// reach it.
fn rel32(next: u64, target: u64) -> Option<i32> {
    i32::try_from(target as i64 - next as i64).ok()
}

/// The address of trampoline `index` in the kernel's trampoline page.
fn trampoline_address(index: usize) -> u64 {
    &raw const TRAMPOLINE_PAGE as u64 + (index * TRAMPOLINE_SIZE) as u64
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

/// Which of the first `taken` trampolines (each one's address and code by index from `read`)
/// is the one a site whose `syscall` ends at `resume` and whose trampoline replays `replayed`
/// would get at that address, if one is.
fn same_trampoline(
    taken: usize,
    replayed: &[u8],
    resume: u64,
    read: impl Fn(usize) -> (u64, [u8; TRAMPOLINE_SIZE]),
) -> Option<usize> {
    (0..taken).find(|&i| {
        let (at, there) = read(i);
        trampoline_code(replayed, at, resume, patched_entry()).is_some_and(|code| there == code)
    })
}

/// The trampoline at `at` for a site whose `syscall` ends at `resume`: the instructions it
/// replays (`Shape::replayed`), `lea resume(%rip), %rcx` (the call returns right after the
/// site's `syscall`, which stays) and `jmp entry`, then `int3`s. `None` if a target is out of
/// reach of a 32-bit displacement.
fn trampoline_code(replayed: &[u8], at: u64, resume: u64, entry: u64) -> Option<[u8; TRAMPOLINE_SIZE]> {
    let mut code = Code::new(at);
    code.put(replayed);
    code.put(&[0x48, 0x8d, 0x0d]);
    code.rel32(resume)?;
    code.put(&[0xe9]);
    code.rel32(entry)?;
    code.bytes[..TRAMPOLINE_SIZE].try_into().ok()
}

/// What rewriting the site of `shape` whose `syscall` is at `at` writes (from the returned
/// code's address, [`Shape::rewrite_at`]): for a [`Shape::MovEax`] site a `jmp rel32` to
/// `trampoline` over the `mov`, for a [`Shape::MovRax`] one too, with two `nop`s to the
/// `mov`'s end; for a [`Shape::Jumped`] one a `jmp rel8` over the `syscall`,
/// the code from there to the padding as it is (from `after`), and the `jmp rel32` in the
/// padding. `None` if the trampoline is out of reach.
fn site_rewrite(shape: Shape, at: u64, after: Option<&AfterBytes>, trampoline: u64) -> Option<Code> {
    let mut rewrite = Code::new(shape.rewrite_at(at));
    if let Shape::Jumped { pad } = shape {
        rewrite.put(&[0xeb, pad]);
        rewrite.put(&after?[..usize::from(pad)]);
    }
    rewrite.put(&[0xe9]);
    rewrite.rel32(trampoline)?;
    if let Shape::MovRax { .. } = shape {
        rewrite.put(&[0x90, 0x90]);
    }
    Some(rewrite)
}

/// Machine code being written at address `at` (a trampoline, or a site's rewrite).
struct Code {
    at: u64,
    bytes: [u8; CODE_CAPACITY],
    len: usize,
}

impl Code {
    /// No code yet, `int3`s after it.
    fn new(at: u64) -> Code {
        Code { at, bytes: [0xcc; CODE_CAPACITY], len: 0 }
    }

    /// What has been written.
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn put(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// A 32-bit displacement to `target` that ends the instruction being written.
    fn rel32(&mut self, target: u64) -> Option<()> {
        let rel = rel32(self.at + self.len as u64 + 4, target)?;
        self.put(&rel.to_le_bytes());
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel_target(code: &[u8], at: u64, offset: usize) -> u64 {
        let rel = i32::from_le_bytes(code[offset..offset + 4].try_into().unwrap()) as i64;
        (at as i64 + offset as i64 + 4 + rel) as u64
    }

    /// Where the sites of the shape tests have their `syscall`s (unless a test says).
    const AT: u64 = 0x40_1000;

    /// The shape [`Shape::of`] finds for a site, no rewrite near.
    fn shape_of(at: u64, bytes: &SiteBytes, after: Option<&AfterBytes>, nr: Option<u32>, shown: bool) -> Option<Shape> {
        Shape::of(at, bytes, after, nr, shown, |_| false)
    }

    /// `code` as the first bytes after a site's `syscall`, then `0x06`s (as past a page's end).
    fn after_bytes(code: &[u8]) -> AfterBytes {
        let mut after = [0x06; LOOK_AHEAD as usize];
        after[..code.len()].copy_from_slice(code);
        after
    }

    /// `tail` as the last bytes of a site's [`SiteBytes`], `nop`s before.
    fn site(tail: &[u8]) -> SiteBytes {
        let mut bytes = [0x90; LOOK_BACK as usize + 2];
        bytes[LOOK_BACK as usize + 2 - tail.len()..].copy_from_slice(tail);
        bytes
    }

    #[test]
    fn a_mov_eax_site_is_patched_only_when_every_call_agrees_with_it() {
        // getppid: mov $0x6e, %eax; syscall, after a `ret` (c3); no padding after.
        let mov_eax = site(&[0xc3, 0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05]);
        assert_eq!(shape_of(AT, &mov_eax, None, Some(0x6e), false), Some(Shape::MovEax { nr: 0x6e, then: 0 }));
        assert_eq!(shape_of(AT, &mov_eax, None, Some(0x27), true), None, "another number: the mov did not set %eax");
        assert_eq!(shape_of(AT, &mov_eax, None, None, true), None, "calls with different numbers");
        let rex = site(&[0x41, 0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05]); // mov $0x6e, %r8d
        assert_eq!(shape_of(AT, &rex, None, Some(0x6e), true), None);
        let not_syscall = site(&[0xc3, 0xb8, 0x6e, 0, 0, 0, 0x0f, 0x0b]); // ud2
        assert_eq!(shape_of(AT, &not_syscall, None, Some(0x6e), true), None);
        // With padding in reach, a site with no such `mov` jumps from its `syscall` instead.
        let ret = after_bytes(&[0xc3, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x90, 0x90]);
        assert_eq!(shape_of(AT, &rex, Some(&ret), Some(0x6e), true), Some(Shape::Jumped { pad: 1 }));
    }

    #[test]
    fn a_mov_eax_trampoline_sets_eax_and_rcx_and_jumps_to_the_entry() {
        let (at, entry, resume) = (0x25_0000, 0x20_3000, 0x40_1007);
        let code = trampoline_code(&[0xb8, 0x6e, 0, 0, 0], at, resume, entry).unwrap();
        assert_eq!(code[..5], [0xb8, 0x6e, 0, 0, 0]);
        assert_eq!(code[5..8], [0x48, 0x8d, 0x0d]);
        assert_eq!(rel_target(&code, at, 8), resume, "%rcx = the return address");
        assert_eq!(code[12], 0xe9);
        assert_eq!(rel_target(&code, at, 13), entry);
        assert!(code[17..].iter().all(|&b| b == 0xcc));
        assert_eq!(trampoline_code(&[0xb8, 1, 0, 0, 0], at, at + (1 << 32), entry), None, "out of reach");
    }

    /// musl 1.2's `stat` in `fstatat`: `mov $4, %eax; mov %r9, %rdi; mov %rdx, %rsi; syscall`
    /// (after a `nopl (%rax)`).
    const MUSL_STAT: [u8; 16] = [0x0f, 0x1f, 0x00, 0xb8, 0x04, 0, 0, 0, 0x4c, 0x89, 0xcf, 0x48, 0x89, 0xd6, 0x0f, 0x05];

    #[test]
    fn a_mov_eax_site_may_have_register_only_instructions_before_its_syscall() {
        let stat = site(&MUSL_STAT);
        let shown = true;
        assert_eq!(shape_of(AT, &stat, None, Some(4), shown), Some(Shape::MovEax { nr: 4, then: 6 }));
        assert_eq!(shape_of(AT, &stat, None, Some(4), false), None, "a call whose registers did not show the moves");
        assert_eq!(shape_of(AT, &stat, None, Some(6), shown), None, "another number");
        assert_eq!(shape_of(AT, &stat, None, None, shown), None, "calls with different numbers");
        let mut loaded = MUSL_STAT;
        loaded[11..14].copy_from_slice(&[0x8b, 0x37, 0x90]); // mov (%rdi), %esi; nop
        assert_eq!(shape_of(AT, &site(&loaded), None, Some(4), shown), None, "a load from memory between");
        let mut prefixed = MUSL_STAT;
        prefixed[2] = 0x41; // the mov is mov $4, %r8d
        assert_eq!(shape_of(AT, &site(&prefixed), None, Some(4), shown), None);
        // The most bytes between is what a trampoline holds: two `mov $1, %r10d` (6 bytes
        // each) and a `mov %rdx, %rsi`; three `mov $1, %r10d` are out of reach.
        let mut most = [0x90; LOOK_BACK as usize + 2];
        most[1..6].copy_from_slice(&[0xb8, 0x04, 0, 0, 0]);
        most[6..12].copy_from_slice(&[0x41, 0xba, 1, 0, 0, 0]);
        most[12..18].copy_from_slice(&[0x41, 0xba, 1, 0, 0, 0]);
        most[18..21].copy_from_slice(&[0x48, 0x89, 0xd6]);
        most[21..].copy_from_slice(&[0x0f, 0x05]);
        assert_eq!(shape_of(AT, &most, None, Some(4), shown), Some(Shape::MovEax { nr: 4, then: 15 }));
        let mut far = [0x90; 3 + LOOK_BACK as usize + 2];
        far[1..6].copy_from_slice(&[0xb8, 0x04, 0, 0, 0]);
        for i in 0..3 {
            far[6 + 6 * i..12 + 6 * i].copy_from_slice(&[0x41, 0xba, 1, 0, 0, 0]);
        }
        far[24..].copy_from_slice(&[0x0f, 0x05]);
        let far: SiteBytes = far[3..].try_into().unwrap();
        assert_eq!(shape_of(AT, &far, None, Some(4), shown), None, "the mov is beyond the bytes looked at");
    }

    #[test]
    fn a_mov_eax_site_with_moves_jumps_from_its_mov_and_replays_them() {
        let stat = site(&MUSL_STAT);
        let shape = Shape::MovEax { nr: 4, then: 6 };
        let (trampoline, entry) = (0x25_0040, 0x20_3000);
        let rewrite = site_rewrite(shape, AT, None, trampoline).unwrap();
        assert_eq!(rewrite.at, AT - 11, "over the mov, 6 bytes of moves before the syscall");
        assert_eq!(rewrite.as_slice()[0], 0xe9);
        assert_eq!(rewrite.as_slice().len(), 5, "the moves and the syscall stay");
        assert_eq!(rel_target(rewrite.as_slice(), rewrite.at, 1), trampoline);
        let code = trampoline_code(shape.replayed(&stat), trampoline, AT + 2, entry).unwrap();
        assert_eq!(code[..11], MUSL_STAT[3..14], "the mov and the moves");
        assert_eq!(code[11..14], [0x48, 0x8d, 0x0d]);
        assert_eq!(rel_target(&code, trampoline, 14), AT + 2, "%rcx = right after the syscall");
        assert_eq!(code[18], 0xe9);
        assert_eq!(rel_target(&code, trampoline, 19), entry);
        let longest = [0x31, 0xf6].repeat(MOST_MOVED / 2);
        let mut replayed = alloc::vec![0xb8, 4, 0, 0, 0];
        replayed.extend_from_slice(&longest);
        replayed.push(0x90);
        assert!(trampoline_code(&replayed, trampoline, AT + 2, entry).is_some(), "fits the trampoline");
    }

    #[test]
    fn the_site_table_stays_within_a_page() {
        assert!(core::mem::size_of::<[Site; TABLE_SIZE]>() <= PAGE_SIZE as usize);
    }

    #[test]
    fn padding_is_nops_or_int3s_up_to_an_8_byte_boundary() {
        assert_eq!(padding_len(&[0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0, 0x48], 0x43_0816), 10);
        assert_eq!(padding_len(&[0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0x48], 0x40_0001), 7);
        assert_eq!(padding_len(&[0x0f, 0x1f, 0x44, 0x00, 0x00, 0x90, 0x90, 0x48], 0x40_0001), 7);
        assert_eq!(
            padding_len(&[0x0f, 0x1f, 0x44, 0x00, 0x00, 0x48, 0x90, 0x90], 0x40_0001),
            0,
            "code before the boundary"
        );
        assert_eq!(padding_len(&[0x90, 0x90], 0x40_0001), 0, "runs past what was read");
        assert_eq!(padding_len(&[0x66, 0xcc, 0x90], 0x40_0006), 0, "66 cc is no nop");
        assert_eq!(padding_len(&[0xcc; 10], 0x40_26b6), 10, "int3s alone on to a 16-byte boundary");
        assert_eq!(padding_len(&[0xcc, 0xcc, 0xcc, 0x90, 0x90], 0x40_26b6), 2, "int3s, then a nop past 8 bytes");
        assert_eq!(padding_len(&[0xcc; 4], 0x40_26b6), 2, "int3s short of the 16-byte boundary");
    }

    /// Go 1.19's `Syscall6` after its `syscall` (hand-written assembly, the same since): the
    /// error check and its two returns, `cmp $-4095, %rax; jbe ok; neg %rax; mov %rax, %rcx;
    /// mov $-1, %rax; mov $0, %rbx; ret; ok: mov %rdx, %rbx; mov $0, %rcx; ret`, then `int3`s
    /// to the next function (Go 1.19's at 0x40268c: 10 of them, to 0x4026c0).
    const GO_SYSCALL6_TAIL: [u8; 40] = [
        0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x76, 0x15, 0x48, 0xf7, 0xd8, 0x48, 0x89, 0xc1, 0x48, 0xc7, 0xc0, 0xff,
        0xff, 0xff, 0xff, 0x48, 0xc7, 0xc3, 0x00, 0x00, 0x00, 0x00, 0xc3, 0x48, 0x89, 0xd3, 0x48, 0xc7, 0xc1, 0x00,
        0x00, 0x00, 0x00, 0xc3,
    ];

    /// glibc 2.36's `read` after its `syscall` at 0x43080b: `cmp; ja; ret`, then 10 bytes of
    /// `nopw` to 0x430820.
    const GLIBC_READ_TAIL: [u8; 19] = [
        0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff, 0x77, 0x5b, 0xc3, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00,
        0x00,
    ];

    /// glibc 2.36's threaded `read` path after its `syscall` at 0x43084a: `cmp; ja; mov %r8d,
    /// %edi; mov %rax, 0x8(%rsp); call __pthread_disable_asynccancel; mov 0x8(%rsp), %rax; add
    /// $0x28, %rsp; ret`, then padding at 0x43086b.
    const GLIBC_READ_THREADED_TAIL: [u8; 36] = [
        0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff, 0x77, 0x34, 0x44, 0x89, 0xc7, 0x48, 0x89, 0x44, 0x24, 0x08, 0xe8, 0xbf,
        0xfa, 0x01, 0x00, 0x48, 0x8b, 0x44, 0x24, 0x08, 0x48, 0x83, 0xc4, 0x28, 0xc3, 0x0f, 0x1f, 0x44, 0x00, 0x00,
    ];

    /// musl 1.2's `__syscall_cp_c` after its `syscall` at 0x406287: `ret`, then 6 bytes of
    /// `nopw` to 0x406290.
    const MUSL_SYSCALL_CP_TAIL: [u8; 7] = [0xc3, 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00];

    /// musl 1.2's `__stdio_write` around its `syscall` at 0x40715e: `movslq 0x78(%r15), %rdi;
    /// mov %r12, %rax; mov %r13, %rsi; mov %rbx, %rdx; syscall` (its number from %r12).
    const MUSL_STDIO_WRITE_SITE: [u8; 15] =
        [0x49, 0x63, 0x7f, 0x78, 0x4c, 0x89, 0xe0, 0x4c, 0x89, 0xee, 0x48, 0x89, 0xda, 0x0f, 0x05];

    /// ... and after it: `mov %rax, %rdi; call __syscall_ret; cmp %rax, %r14; jne` (the loop
    /// that writes the rest), the return's loads and stores, the stack check, the epilogue's
    /// pops, `ret` at 0x4071a7, then `nopl 0x0(%rax,%rax,1)` to 0x4071b0: 72 bytes on.
    const MUSL_STDIO_WRITE_TAIL: [u8; 80] = [
        0x48, 0x89, 0xc7, 0xe8, 0x38, 0xd9, 0xff, 0xff, 0x49, 0x39, 0xc6, 0x75, 0xb3, 0x49, 0x8b, 0x47, 0x58, 0x49,
        0x8b, 0x57, 0x60, 0x48, 0x01, 0xc2, 0x49, 0x89, 0x47, 0x38, 0x49, 0x89, 0x57, 0x20, 0x49, 0x89, 0x47, 0x28,
        0x48, 0x8b, 0x44, 0x24, 0x08, 0x48, 0x8b, 0x54, 0x24, 0x38, 0x64, 0x48, 0x2b, 0x14, 0x25, 0x28, 0x00, 0x00,
        0x00, 0x75, 0x45, 0x48, 0x83, 0xc4, 0x48, 0x5b, 0x5d, 0x41, 0x5c, 0x41, 0x5d, 0x41, 0x5e, 0x41, 0x5f, 0xc3,
        0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn sites_with_padding_in_reach_jump_from_their_syscall_whatever_their_number() {
        let some = site(&[0x48, 0x89, 0xdf, 0x0f, 0x05]); // mov %rbx, %rdi
        let cases: [(&str, u64, &[u8], u8); 5] = [
            ("Go's Syscall6: past both returns, into the int3s", 0x40_268c, &GO_SYSCALL6_TAIL, 40),
            ("glibc's read", 0x43_080b, &GLIBC_READ_TAIL, 9),
            ("glibc's threaded read, past a call", 0x43_084a, &GLIBC_READ_THREADED_TAIL, 31),
            ("musl's __syscall_cp_c", 0x40_6287, &MUSL_SYSCALL_CP_TAIL, 1),
            ("musl's __stdio_write, past a call, a jne and a stack check", 0x40_715e, &MUSL_STDIO_WRITE_TAIL, 72),
        ];
        for (what, at, tail, pad) in cases {
            let mut code = [0xcc; 48 + 80];
            code[..tail.len()].copy_from_slice(tail);
            let after = after_bytes(&code[..tail.len() + 10]);
            for nr in [Some(1), None] {
                assert_eq!(shape_of(at, &some, Some(&after), nr, false), Some(Shape::Jumped { pad }), "{what}");
            }
            assert_eq!(shape_of(at, &some, None, None, true), None, "{what}: the bytes after could not be read");
            let prefixed = site(&[0x48, 0x89, 0xdf, 0x66, 0x0f, 0x05]);
            assert_eq!(shape_of(at, &prefixed, Some(&after), None, true), None, "{what}: a prefix before the syscall");
            let padding = at + 2 + u64::from(pad);
            let rewritten = |address: u64| address < padding && address + 8 > padding;
            assert_eq!(Shape::of(at, &some, Some(&after), None, true, rewritten), None, "{what}: a rewritten jump");
        }
        let (at, write) = (0x40_715e, site(&MUSL_STDIO_WRITE_SITE));
        let after = after_bytes(&MUSL_STDIO_WRITE_TAIL);
        assert_eq!(shape_of(at, &write, Some(&after), Some(20), true), Some(Shape::Jumped { pad: 72 }));
        assert_eq!(shape_of(at + 4, &write, Some(&after), Some(20), true), None, "the padding would end unaligned");
    }

    #[test]
    fn the_walk_to_the_padding_refuses_what_it_cannot_be_sure_of() {
        let some = site(&[0x48, 0x89, 0xdf, 0x0f, 0x05]);
        // (`AT + 6`: 128 bytes past the `syscall`'s end is an 8-byte boundary.)
        let check = |code: &[u8], what: &str| {
            assert_eq!(shape_of(AT + 6, &some, Some(&after_bytes(code)), None, true), None, "{what}");
        };
        let padding = [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00];
        check(&[0xcc, 0xc3, 0x90, 0x90, 0x90, 0x90, 0x90], "an int3 on the way: anything may follow one");
        check(&[0x00, 0x00, 0xc3, 0x90, 0x90, 0x90, 0x90, 0x90], "zeros on the way");
        check(&[0xc5, 0xf9, 0x6f, 0xc1, 0xc3, 0x90, 0x90, 0x90], "an instruction it does not know (VEX)");
        check(&[0xe8, 1, 2, 3, 4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x48], "a call: its return comes back");
        check(&[0x74, 0x05, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x48], "a conditional jump falls through");
        check(&[0xc3, 0x90, 0x90, 0x90, 0x90, 0x48], "4 bytes of padding to the boundary, then the page's end");
        let mut far = [0x90; 140];
        far[127] = 0xc3;
        far[128..136].copy_from_slice(&padding);
        check(&far, "padding beyond a jmp rel8's reach");
        let mut near = far;
        near[126] = 0xc3;
        check(&near, "code after the ret, and padding beyond reach after the next");
        near[127..135].copy_from_slice(&padding);
        assert_eq!(shape_of(AT + 7, &some, Some(&after_bytes(&near)), None, true), Some(Shape::Jumped { pad: 127 }));
        // A `ret` that code follows at once is followed by a label: the walk goes on, once.
        let mut two_returns = [0x90; 24];
        two_returns[..4].copy_from_slice(&[0x74, 0x01, 0xc3, 0xc3]);
        two_returns[4..12].copy_from_slice(&padding);
        assert_eq!(shape_of(AT, &some, Some(&after_bytes(&two_returns)), None, true), Some(Shape::Jumped { pad: 4 }));
        let mut three_returns = two_returns;
        three_returns[..5].copy_from_slice(&[0x74, 0x02, 0xc3, 0xc3, 0xc3]);
        three_returns[5..13].copy_from_slice(&padding);
        check(&three_returns, "a second ret without padding after it");
        check(
            &[0xc3, 0x90, 0x90, 0x90, 0x48, 0x89, 0xc7, 0xc3, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90],
            "a little padding, then perhaps data",
        );
    }

    /// Which shape each `syscall` of a listing takes: `UVM_SITES_CHECK` names a file of lines
    /// `BINARY<TAB>ADDRESS<TAB>HEX<TAB>HEX` (the 23 bytes before and of each `syscall`, the
    /// [`LOOK_AHEAD`] after it; `scripts/patch-sites.py BINARY...` writes it), each call taken to
    /// come with the nearest `mov $imm, %eax`'s (or a `mov $imm, %rax` right before)
    /// immediate. Prints the counts by binary, where each jumped site's padding starts and
    /// the sites left trapping. `cargo test --release -p uvm-kernel -- --ignored
    /// shapes_of_a_listings_sites --nocapture`.
    #[test]
    #[ignore]
    fn shapes_of_a_listings_sites() {
        extern crate std;
        use std::collections::BTreeMap;
        let Ok(path) = std::env::var("UVM_SITES_CHECK") else { return };
        let listing = std::fs::read_to_string(path).unwrap();
        let mut counts = BTreeMap::<&str, [usize; 3]>::new();
        let hex = |h: &str| {
            (0..h.len() / 2)
                .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
                .collect::<alloc::vec::Vec<u8>>()
        };
        for line in listing.lines() {
            let [binary, at, before, after] = line.split('\t').collect::<alloc::vec::Vec<_>>()[..] else { continue };
            let at = u64::from_str_radix(at, 16).unwrap();
            let bytes: SiteBytes = hex(before).try_into().unwrap();
            let after: AfterBytes = hex(after).try_into().unwrap();
            let imm = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            let mov_rax = LOOK_BACK as usize - MOV_RAX_LEN;
            let nr = (0..=MOST_MOVED)
                .find_map(|then| {
                    let mov = LOOK_BACK as usize - 5 - then;
                    (bytes[mov] == 0xb8).then(|| imm(mov + 1))
                })
                .or_else(|| (bytes[mov_rax..mov_rax + 3] == [0x48, 0xc7, 0xc0]).then(|| imm(mov_rax + 3)));
            let kind = match shape_of(at, &bytes, Some(&after), nr, true) {
                Some(Shape::MovEax { .. } | Shape::MovRax { .. }) => 0,
                Some(Shape::Jumped { pad }) => {
                    std::println!("{binary} {at:#x}: jumped to {:#x}", at + 2 + u64::from(pad));
                    1
                }
                None => {
                    std::println!("{binary} {at:#x}: left trapping");
                    2
                }
            };
            counts.entry(binary).or_default()[kind] += 1;
        }
        for (binary, [mov_eax, jumped, none]) in counts {
            std::println!("{binary}: {mov_eax} mov $nr, %eax; {jumped} jumped; {none} left trapping");
        }
    }

    #[test]
    fn a_signal_return_trampolines_mov_rax_becomes_the_jump() {
        // glibc's __restore_rt: mov $0xf, %rax; syscall; nopl 0x0(%rax) (Go's and musl's have
        // the same mov and syscall).
        let restore = site(&[0xc3, 0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05]);
        let after = after_bytes(&[0x0f, 0x1f, 0x80, 0, 0, 0, 0]);
        assert_eq!(shape_of(0x44_a777, &restore, Some(&after), Some(15), false), Some(Shape::MovRax { nr: 15 }));
        assert_eq!(shape_of(0x44_a777, &restore, Some(&after), Some(14), true), None, "another number");
        assert_eq!(shape_of(0x44_a777, &restore, Some(&after), None, true), None, "calls with different numbers");
        let prefixed = site(&[0x66, 0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05]);
        assert_eq!(shape_of(0x44_a777, &prefixed, Some(&after), Some(15), true), None, "a prefix before the mov");
        let (trampoline, entry) = (0x25_0040, 0x20_3000);
        let shape = Shape::MovRax { nr: 15 };
        let rewrite = site_rewrite(shape, 0x44_a777, None, trampoline).unwrap();
        assert_eq!(rewrite.at, 0x44_a770, "over the mov");
        assert_eq!(rewrite.as_slice()[0], 0xe9);
        assert_eq!(rel_target(rewrite.as_slice(), rewrite.at, 1), trampoline);
        assert_eq!(rewrite.as_slice()[5..], [0x90, 0x90], "nops to the mov's end, the syscall stays");
        let code = trampoline_code(shape.replayed(&restore), trampoline, 0x44_a779, entry).unwrap();
        assert_eq!(code[..7], [0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0], "the mov");
        assert_eq!(code[7..10], [0x48, 0x8d, 0x0d]);
        assert_eq!(rel_target(&code, trampoline, 10), 0x44_a779, "%rcx = right after the syscall");
        assert_eq!(rel_target(&code, trampoline, 15), entry);
    }

    #[test]
    fn a_trampoline_with_the_same_code_serves_again() {
        let entry = patched_entry();
        let sites = [(&[0xb8, 0x27, 0, 0, 0][..], 0x40_1002), (&[][..], 0x40_2002), (&[][..], 0x40_3002)];
        let address = |i: usize| 0x25_0000 + (i * TRAMPOLINE_SIZE) as u64;
        let codes: alloc::vec::Vec<[u8; TRAMPOLINE_SIZE]> = sites
            .iter()
            .enumerate()
            .map(|(i, (replayed, resume))| trampoline_code(replayed, address(i), *resume, entry).unwrap())
            .collect();
        let read = |i: usize| (address(i), codes[i]);
        assert_eq!(same_trampoline(3, &[], 0x40_2002, read), Some(1), "the same site in another process");
        assert_eq!(same_trampoline(3, &[0xb8, 0x27, 0, 0, 0], 0x40_1002, read), Some(0));
        assert_eq!(same_trampoline(3, &[0xb8, 0x28, 0, 0, 0], 0x40_1002, read), None, "another number");
        assert_eq!(same_trampoline(3, &[], 0x40_4002, read), None, "another site");
        assert_eq!(same_trampoline(1, &[], 0x40_2002, read), None, "only those taken");
    }

    #[test]
    fn a_jumped_site_jumps_from_its_syscall_through_the_padding_and_back_after_it() {
        let (at, after) = (0x40_715e, after_bytes(&MUSL_STDIO_WRITE_TAIL));
        let (trampoline, entry) = (0x25_0040, 0x20_3000);
        let shape = Shape::Jumped { pad: 72 };
        let rewrite = site_rewrite(shape, at, Some(&after), trampoline).unwrap();
        let code = rewrite.as_slice();
        assert_eq!(rewrite.at, at, "over the syscall, which is as long as the jmp rel8");
        assert_eq!(code[..2], [0xeb, 72], "jmp rel8 to 0x4071a8, after the ret");
        assert_eq!(code[2..74], MUSL_STDIO_WRITE_TAIL[..72], "the code to the padding unchanged");
        assert_eq!(code[74], 0xe9);
        assert_eq!(rel_target(code, at, 75), trampoline);
        assert_eq!(code.len(), 79);
        assert!(site_rewrite(shape, at, None, trampoline).is_none(), "nothing without the bytes after");
        let tramp = trampoline_code(shape.replayed(&site(&MUSL_STDIO_WRITE_SITE)), trampoline, at + 2, entry).unwrap();
        assert_eq!(tramp[..3], [0x48, 0x8d, 0x0d], "lea: nothing replayed before it");
        assert_eq!(rel_target(&tramp, trampoline, 3), at + 2, "%rcx = right after the syscall");
        assert_eq!(tramp[7], 0xe9);
        assert_eq!(rel_target(&tramp, trampoline, 8), entry);
        assert!(tramp[12..].iter().all(|&b| b == 0xcc));
    }
}
