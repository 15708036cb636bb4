//! Syscall-site patching: an app's hot `syscall` instructions are rewritten to jump into the
//! kernel instead of trapping.
//!
//! On PVM the `syscall` instruction costs a ~6 us trip through the host kernel, yet it lands
//! in this kernel still in ring 3, in the app's own address space (the kernel's pages are
//! user pages there): a jump into the same entry costs what a jump costs. So a site that has
//! trapped [`PATCH_AFTER`] times is rewritten when it has one of the known [`Shape`]s. Only one
//! instruction before its `syscall` is rewritten, the one right before it or a `mov $nr, %eax`
//! followed by register-only instructions (`moves`): it becomes a `jmp rel32` to a trampoline
//! of its own in the kernel's trampoline page or, where it is too short for one, a `jmp rel8`
//! into the dead padding after the function's `ret`, which holds the `jmp rel32`. The
//! trampoline does the instruction the jump replaced (and copies of those register-only
//! instructions), puts the return address (right after
//! the site's `syscall`) in %rcx as `syscall` does, and jumps to `arch::entry`'s patched entry;
//! that entry does the rest of what `syscall` does (%r11 = RFLAGS, SFMASK's flags cleared)
//! after it has switched stacks, so the app's red zone is never touched. Every call returns to
//! the app right after the site, so a signal handler sees the app's own program counter, as
//! without the patch. The `syscall` (and any instruction between it and the rewritten one)
//! stays in place, so every instruction boundary a thread may be stopped at in the old code is
//! still one in the new: a thread interrupted after the rewritten instruction runs the real
//! `syscall`, and a restarted call (the kernel rewinds %rip by 2) lands on it.
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
//! Why the bytes before a `syscall` can be trusted to be the instruction they look like: x86
//! cannot be decoded backwards, so they could be the tail of a longer instruction. A site is
//! patched only when every call that trapped there agrees with them (the `mov $nr, %eax`'s
//! immediate is the number each call came with; after `mov %rbx, %rdi`, %rdi equals %rbx at
//! each call; see [`Shape`] for the others, which are also matched byte for byte up to the
//! padding), and the byte before them is no prefix that would change them (REX, operand or
//! address size, lock, rep, segment). Sites that fail are never tried again.
//!
//! Only on PVM: with VMX/SVM `syscall` enters ring 0 directly and costs ~0.1 us.

use alloc::boxed::Box;

use uvm_abi::layout::{KERNEL_BASE, KERNEL_END, PAGE_SIZE};

use crate::arch::phys;
use crate::mm::space::AddressSpace;

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

/// The bytes before a `syscall` the shapes other than [`Shape::MovEax`] look at: the last ones
/// of [`SiteBytes`].
const SHORT_LOOK_BACK: usize = 9;

/// The bytes from [`LOOK_BACK`] before a `syscall` to its end.
type SiteBytes = [u8; LOOK_BACK as usize + 2];

/// How many bytes after a `syscall` the shapes look at: Go's `Syscall6` has 40 more bytes of
/// code and then its padding.
const LOOK_AHEAD: u64 = 48;

/// The [`LOOK_AHEAD`] bytes after a `syscall`.
type AfterBytes = [u8; LOOK_AHEAD as usize];

/// glibc's `read` after its `syscall`: `cmp $-4096, %rax; ja <error>; ret`.
const GLIBC_READ_TAIL: [u8; 9] = [0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff, 0x77, 0x00, 0xc3];

/// Where the padding after glibc's `read`'s `ret` starts, from the `syscall`.
const GLIBC_READ_PAD: u64 = 2 + GLIBC_READ_TAIL.len() as u64;

/// glibc's `read` once the process has threads, after its `syscall`: `cmp $-4096, %rax; ja
/// <error>; mov %r8d, %edi; mov %rax, 0x8(%rsp); call __pthread_disable_asynccancel; mov
/// 0x8(%rsp), %rax; add $0x28, %rsp; ret` (0 bytes here: the `ja`'s and the `call`'s
/// displacements, which differ between builds).
const GLIBC_READ_MT_TAIL: [u8; 31] = [
    0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff, 0x77, 0x00, 0x44, 0x89, 0xc7, 0x48, 0x89, 0x44, 0x24, 0x08, 0xe8, 0x00, 0x00,
    0x00, 0x00, 0x48, 0x8b, 0x44, 0x24, 0x08, 0x48, 0x83, 0xc4, 0x28, 0xc3,
];

/// Which bytes of [`GLIBC_READ_MT_TAIL`] are displacements, matched by anything.
const GLIBC_READ_MT_ANY: [usize; 5] = [7, 17, 18, 19, 20];

/// Where the padding after that path's `ret` starts, from the `syscall`.
const GLIBC_READ_MT_PAD: u64 = 2 + GLIBC_READ_MT_TAIL.len() as u64;

/// Where the padding after musl's `__syscall_cp_c` starts, from the `syscall`: after its `ret`.
const MUSL_CP_PAD: u64 = 3;

/// Go's `Syscall6` after its `syscall` (the same from Go 1.19 on, hand-written assembly): the
/// error check and its two returns, `cmp $-4095, %rax; jbe ok; neg %rax; mov %rax, %rcx; mov
/// $-1, %rax; mov $0, %rbx; ret; ok: mov %rdx, %rbx; mov $0, %rcx; ret`.
const GO_SYSCALL6_TAIL: [u8; 40] = [
    0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x76, 0x15, 0x48, 0xf7, 0xd8, 0x48, 0x89, 0xc1, 0x48, 0xc7, 0xc0, 0xff, 0xff,
    0xff, 0xff, 0x48, 0xc7, 0xc3, 0x00, 0x00, 0x00, 0x00, 0xc3, 0x48, 0x89, 0xd3, 0x48, 0xc7, 0xc1, 0x00, 0x00, 0x00,
    0x00, 0xc3,
];

/// Where the `int3` padding after Go's `Syscall6` starts, from the `syscall`.
const GO_PAD: u64 = 2 + GO_SYSCALL6_TAIL.len() as u64;

/// Bytes a [`Code`] holds: a trampoline, or a site's rewrite, the longest of which, Go's (from
/// its `mov` to the end of the `jmp rel32` in the padding), takes 50.
const CODE_CAPACITY: usize = 64;
const _: () = assert!(3 + GO_PAD as usize + 5 <= CODE_CAPACITY && TRAMPOLINE_SIZE <= CODE_CAPACITY);
const _: () = assert!(
    GO_PAD + 5 <= LOOK_AHEAD + 2 && GLIBC_READ_PAD + 15 <= LOOK_AHEAD + 2 && GLIBC_READ_MT_PAD + 15 <= LOOK_AHEAD + 2
);

/// What the traps at a site showed of the registers (bits, ANDed over the traps; the stack's
/// word is read only from the [`PATCH_AFTER`]` / 2`th trap on, as reading it earlier would be
/// the first touch of a stack page the app may not have touched yet: a shadow-page fault).
pub mod evidence {
    /// %rdi equalled %rbx.
    pub const RDI_IS_RBX: u8 = 1 << 0;
    /// %r9 equalled the 8 bytes at %rsp + 8.
    pub const R9_IS_RSP_8: u8 = 1 << 1;
    /// The register-only instructions between the site's `mov $nr, %eax` and its `syscall`,
    /// if it has that shape, showed their effects (`moves::effects_shown`).
    pub const MOVES_SHOWN: u8 = 1 << 2;
}

/// The sites this rewrites, by the bytes that end at the `syscall`'s end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// `mov $nr, %eax; syscall` (`b8 imm32 0f 05`): glibc's wrappers and the Go runtime's own
    /// calls; or with `then` bytes of register-only instructions between the two (`moves`),
    /// as compilers schedule an inline `syscall`'s argument moves: musl's `stat`, `mmap`,
    /// `munmap`, `readv`, `socket`, `accept4` and more. The jump replaces the `mov`, and the
    /// trampoline runs it and a copy of the instructions after it; those and the `syscall`
    /// stay, so every instruction boundary does. Trusted when every call came with the
    /// immediate as its number, the byte before the `mov` is no prefix and the instructions in
    /// between showed their effects (`evidence::MOVES_SHOWN`).
    MovEax { nr: u32, then: u8 },
    /// The end of Go's `Syscall6`, which all Go I/O goes through: `mov %rbx, %rdi; syscall`,
    /// the [`GO_SYSCALL6_TAIL`], then `int3` padding to the next function. The `mov` becomes
    /// a `jmp rel8` (and a `nop`) to the padding, which takes the `jmp rel32`; the `syscall`
    /// stays. Trusted when %rdi equalled %rbx at every call and the bytes are these to the last.
    GoSyscall6,
    /// The end of musl's `__syscall_cp_c`, which its reads, writes, sends and receives go
    /// through: `mov 0x8(%rsp), %r9; mov %rcx, %rdx; syscall; ret`, then padding to the next
    /// function. The `mov %rcx, %rdx` becomes a `jmp rel8` (and a `nop`) to the padding, which
    /// takes the `jmp rel32` to the trampoline; the `syscall` stays, so no instruction boundary
    /// a thread may be stopped at moves. Trusted when %r9 equalled the bytes at %rsp + 8 at
    /// every call (so the load ran and ends where the `mov` begins; %rcx itself cannot tell:
    /// `syscall` overwrites it) and the bytes are these to the last.
    MuslSyscallCp,
    /// glibc's `read` while the process has one thread: `je; xor %eax, %eax; syscall; cmp
    /// $-4096, %rax; ja; ret`, then padding up to the next function (nops or `int3`s to an
    /// 8-byte boundary). The `xor` becomes a `jmp rel8` into the padding, which nothing runs
    /// (it follows a `ret`), and the padding's first 5 bytes the `jmp rel32` to the
    /// trampoline. The `syscall` stays. Trusted when every call came with number 0 and the
    /// bytes are these to the last.
    GlibcRead,
    /// glibc's `read` once the process has threads (its cancellable path): `mov %eax, %r8d;
    /// mov 0x8(%rsp), %edi; xor %eax, %eax; syscall`, the [`GLIBC_READ_MT_TAIL`] to its `ret`,
    /// then padding. Rewritten as [`Shape::GlibcRead`] is: only the `xor`, into a `jmp rel8`
    /// to that padding. Trusted the same way.
    GlibcReadThreaded,
}

impl Shape {
    /// The shape of the site whose `syscall` is at `at`, from its `bytes` (and the bytes
    /// `after` it, if they could be read), given the one number every trap there came with (if
    /// one) and the [`evidence`] all of them showed.
    fn of(at: u64, bytes: &SiteBytes, after: Option<&AfterBytes>, nr: Option<u32>, shown: u8) -> Option<Shape> {
        if bytes[LOOK_BACK as usize..] != [0x0f, 0x05] {
            return None;
        }
        if let Some(nr) = nr {
            match mov_eax_then(bytes, nr) {
                Some(0) => return Some(Shape::MovEax { nr, then: 0 }),
                Some(then) if shown & evidence::MOVES_SHOWN != 0 => return Some(Shape::MovEax { nr, then }),
                _ => {}
            }
        }
        let bytes = &bytes[LOOK_BACK as usize - SHORT_LOOK_BACK..];
        let mov = [bytes[6], bytes[7], bytes[8]];
        let go = mov == [0x48, 0x89, 0xdf] && shown & evidence::RDI_IS_RBX != 0 && !is_prefix(bytes[5]);
        let go_tail = after.is_some_and(|after| {
            after[..GO_SYSCALL6_TAIL.len()] == GO_SYSCALL6_TAIL
                && after[GO_PAD as usize - 2..].iter().take_while(|&&b| b == 0xcc).count() >= 5
        });
        if go && go_tail {
            return Some(Shape::GoSyscall6);
        }
        // The padding a `jmp rel8` can reach, `pad` bytes after the `syscall`, if it is there.
        let padded = |pad: u64| after.is_some_and(|after| padding_len(&after[pad as usize - 2..], at + pad) >= 5);
        let musl = mov == [0x48, 0x89, 0xca]
            && bytes[1..6] == [0x4c, 0x8b, 0x4c, 0x24, 0x08]
            && shown & evidence::R9_IS_RSP_8 != 0
            && !is_prefix(bytes[0]);
        if musl && after.is_some_and(|after| after[0] == 0xc3) && padded(MUSL_CP_PAD) {
            return Some(Shape::MuslSyscallCp);
        }
        if bytes[7..9] != [0x31, 0xc0] || nr != Some(0) {
            return None;
        }
        let tail_matches = |tail: &[u8], any: &[usize]| {
            after.is_some_and(|after| {
                after.iter().zip(tail).enumerate().all(|(i, (&b, &want))| b == want || any.contains(&i))
            })
        };
        if bytes[5] == 0x74 && tail_matches(&GLIBC_READ_TAIL, &[7]) && padded(GLIBC_READ_PAD) {
            return Some(Shape::GlibcRead);
        }
        let threaded = bytes[..7] == [0x41, 0x89, 0xc0, 0x8b, 0x7c, 0x24, 0x08];
        (threaded && tail_matches(&GLIBC_READ_MT_TAIL, &GLIBC_READ_MT_ANY) && padded(GLIBC_READ_MT_PAD))
            .then_some(Shape::GlibcReadThreaded)
    }

    /// How many bytes before the `syscall` the rewrite starts.
    fn jump_back(self) -> u64 {
        match self {
            Shape::MovEax { then, .. } => 5 + u64::from(then),
            Shape::GoSyscall6 | Shape::MuslSyscallCp => 3,
            Shape::GlibcRead | Shape::GlibcReadThreaded => 2,
        }
    }

    /// For a shape that jumps through the padding after the function: how many bytes after
    /// the `syscall` the padding starts.
    fn padding(self) -> Option<u64> {
        match self {
            Shape::GoSyscall6 => Some(GO_PAD),
            Shape::MuslSyscallCp => Some(MUSL_CP_PAD),
            Shape::GlibcRead => Some(GLIBC_READ_PAD),
            Shape::GlibcReadThreaded => Some(GLIBC_READ_MT_PAD),
            Shape::MovEax { .. } => None,
        }
    }

    /// The instructions before the `syscall` (in the site's `bytes`) that the trampoline does
    /// before it enters the kernel: the one the rewrite replaces, and for a [`Shape::MovEax`]
    /// site the register-only ones after it, which also stay in place.
    fn replayed(self, bytes: &SiteBytes) -> &[u8] {
        match self {
            Shape::MovEax { then, .. } => &bytes[LOOK_BACK as usize - 5 - usize::from(then)..LOOK_BACK as usize],
            Shape::GoSyscall6 => &[0x48, 0x89, 0xdf],
            Shape::MuslSyscallCp => &[0x48, 0x89, 0xca],
            Shape::GlibcRead | Shape::GlibcReadThreaded => &[0x31, 0xc0],
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
/// run short of any label there (labels that padding leads to are aligned).
fn padding_len(code: &[u8], at: u64) -> usize {
    let mut len = 0;
    loop {
        if len > 0 && (at + len as u64).is_multiple_of(8) {
            return len;
        }
        let rest = &code[len..];
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
    /// The [`evidence`] every call there showed.
    shown: u8,
    state: SiteState,
}

/// A free table entry.
const FREE: Site = Site { at: 0, nr: None, shown: 0, state: SiteState::Counting(0) };

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

    /// Counts a trapped syscall `nr` whose `syscall` instruction is at `at`, with the
    /// [`evidence`] its registers `regs` show, and rewrites the site once it has trapped
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
            *site = Site { at, nr, shown: !0, state: SiteState::Counting(0) };
        }
        let SiteState::Counting(count) = site.state else { return };
        let after = if count + 1 >= PATCH_AFTER / 2 { patch_after(space, at) } else { PATCH_AFTER };
        if site.nr != nr {
            site.nr = None;
        }
        let shown = evidence_of(space, at, site.nr, regs, count + 1 >= after / 2);
        site.shown &= shown;
        site.state = SiteState::Counting(count + 1);
        if count + 1 < after {
            return;
        }
        // This site, and the warm ones too, under the same flush.
        let Some(mut sites) = self.sites.take() else { return };
        for (i, site) in sites.iter_mut().enumerate() {
            let warm = matches!(site.state, SiteState::Counting(n)
                if n >= PATCH_AFTER / 2 && site.at != 0 && n >= patch_after(space, site.at) / 2);
            if i == index || warm {
                let patched = self.patch(space, site).is_some();
                site.state = if patched { SiteState::Patched } else { SiteState::Refused };
            }
        }
        self.sites = Some(sites);
    }

    /// Rewrites `site` (see the module doc); `None` when its bytes, its page or the
    /// trampolines do not allow it.
    fn patch(&mut self, space: &mut AddressSpace, site: &Site) -> Option<()> {
        let taken = TRAMPOLINES_TAKEN.load(core::sync::atomic::Ordering::Relaxed);
        if taken >= TRAMPOLINES {
            return None;
        }
        let at = site.at;
        let bytes = site_bytes(space, at)?;
        let after: Option<AfterBytes> =
            crate::user::read(space, at + 2, LOOK_AHEAD).ok().and_then(|after| after.try_into().ok());
        let shape = Shape::of(at, &bytes, after.as_ref(), site.nr, site.shown)?;
        let trampoline = trampoline_address(taken);
        let code = trampoline_code(shape.replayed(&bytes), trampoline, at + 2, patched_entry())?;
        let rewrite = site_rewrite(shape, at, after.as_ref(), trampoline)?;
        let (start, page) = (rewrite.at, rewrite.at & !(PAGE_SIZE - 1));
        // One page copy and one entry switch: the rewrite lies in one page, and so does the
        // `syscall` it leads to (a `mov $nr, %eax` site's rewrite ends before it).
        let end = (start + rewrite.len as u64).max(at + 2);
        if (end - 1) & !(PAGE_SIZE - 1) != page {
            return None;
        }
        phys::write_bytes(trampoline, &code);
        space.patch_code_page(page, (start - page) as usize, rewrite.as_slice()).ok()?;
        TRAMPOLINES_TAKEN.store(taken + 1, core::sync::atomic::Ordering::Relaxed);
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

/// The registers of a trapped call that the shapes' evidence looks at: the general-purpose
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

/// The [`evidence`] `regs` show at the site whose `syscall` is at `at` (all of whose calls
/// came with number `nr`, if they did); the stack's word and the site's instructions only if
/// `look_closer` (from `space`).
fn evidence_of(space: &mut AddressSpace, at: u64, nr: Option<u32>, regs: &Regs, look_closer: bool) -> u8 {
    let gpr = &regs.gpr;
    let mut shown = 0;
    let reg = |number: u8| gpr[usize::from(number)];
    if reg(moves::reg::RDI) == reg(moves::reg::RBX) {
        shown |= evidence::RDI_IS_RBX;
    }
    if !look_closer {
        return shown | evidence::R9_IS_RSP_8 | evidence::MOVES_SHOWN;
    }
    let rsp_8 = reg(moves::reg::RSP).checked_add(8).and_then(|at| crate::user::read_u64(space, at).ok());
    if rsp_8 == Some(reg(moves::reg::R9)) {
        shown |= evidence::R9_IS_RSP_8;
    }
    shown | moves_shown(space, at, nr, gpr)
}

/// [`evidence::MOVES_SHOWN`] unless the site at `at` is a `mov $nr, %eax` one with
/// register-only instructions before its `syscall` whose effects the registers `gpr` do not
/// show.
#[inline(never)]
fn moves_shown(space: &mut AddressSpace, at: u64, nr: Option<u32>, gpr: &[u64; 16]) -> u8 {
    let Some((bytes, nr)) = site_bytes(space, at).zip(nr) else { return evidence::MOVES_SHOWN };
    let shown = match mov_eax_then(&bytes, nr) {
        Some(then) => {
            let end = LOOK_BACK as usize;
            moves::effects_shown(&bytes[end - usize::from(then)..end], gpr)
        }
        None => true,
    };
    if shown {
        evidence::MOVES_SHOWN
    } else {
        0
    }
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
/// code's address): a `jmp rel32` to `trampoline` over the replaced instruction; for a shape
/// that jumps through the padding after its function, a `jmp rel8` there over the replaced
/// instruction (`nop`s after it to that instruction's end), the code from the `syscall` to the
/// padding as it is (from `after`), and the `jmp rel32` in the padding. `None` if the
/// trampoline is out of reach.
fn site_rewrite(shape: Shape, at: u64, after: Option<&AfterBytes>, trampoline: u64) -> Option<Code> {
    let mut rewrite = Code::new(at - shape.jump_back());
    if let Some(pad) = shape.padding() {
        let after = after?;
        // The `jmp rel8` ends 2 bytes after its start, `jump_back` before the `syscall`.
        rewrite.put(&[0xeb, u8::try_from(pad + shape.jump_back() - 2).ok()?]);
        for _ in 2..shape.jump_back() {
            rewrite.put(&[0x90]);
        }
        rewrite.put(&[0x0f, 0x05]);
        rewrite.put(&after[..pad as usize - 2]);
    }
    rewrite.put(&[0xe9]);
    rewrite.rel32(trampoline)?;
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

    /// Where the sites of the shape tests end their `syscall`s (no shape but glibc's `read`
    /// looks at the address).
    const AT: u64 = 0x40_1000;

    /// `code` as the first bytes after a site's `syscall`, code (`0x48` bytes) after it.
    fn after_bytes(code: &[u8]) -> AfterBytes {
        let mut after = [0x48; LOOK_AHEAD as usize];
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
    fn only_sites_every_call_agrees_with_are_patched() {
        let all = evidence::RDI_IS_RBX | evidence::R9_IS_RSP_8;
        // getppid: mov $0x6e, %eax; syscall, after a `ret` (c3).
        let mov_eax = site(&[0xc3, 0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05]);
        assert_eq!(Shape::of(AT, &mov_eax, None, Some(0x6e), 0), Some(Shape::MovEax { nr: 0x6e, then: 0 }));
        assert_eq!(Shape::of(AT, &mov_eax, None, Some(0x27), all), None, "another number: the mov did not set %eax");
        assert_eq!(Shape::of(AT, &mov_eax, None, None, all), None, "calls with different numbers");
        let rex = site(&[0x41, 0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05]); // mov $0x6e, %r8d
        assert_eq!(Shape::of(AT, &rex, None, Some(0x6e), 0), None);
        let not_syscall = site(&[0xc3, 0xb8, 0x6e, 0, 0, 0, 0x0f, 0x0b]); // ud2
        assert_eq!(Shape::of(AT, &not_syscall, None, Some(0x6e), 0), None);
        // Go's Syscall6: (mov %rcx, %rsi's last two bytes) mov %rbx, %rdi; syscall; its tail.
        let (go, go_after) = go_syscall6();
        assert_eq!(Shape::of(AT, &go, Some(&go_after), None, evidence::RDI_IS_RBX), Some(Shape::GoSyscall6));
        let shape = Shape::of(AT, &go, Some(&go_after), None, evidence::R9_IS_RSP_8);
        assert_eq!(shape, None, "%rdi was not %rbx at some call");
        assert_eq!(Shape::of(AT, &go, None, None, all), None, "the bytes after could not be read");
        let mut other_tail = go_after;
        other_tail[7] = 0x16;
        assert_eq!(Shape::of(AT, &go, Some(&other_tail), None, all), None, "another tail");
        let mut short_padding = go_after;
        short_padding[44] = 0x90;
        assert_eq!(Shape::of(AT, &go, Some(&short_padding), None, all), None, "4 int3s are too few");
        let prefixed = site(&[0x66, 0x48, 0x89, 0xdf, 0x0f, 0x05]);
        assert_eq!(Shape::of(AT, &prefixed, None, None, all), None);
        // musl's __syscall_cp_c: mov 0x8(%rsp), %r9; mov %rcx, %rdx; syscall; ret; nopw.
        let (musl, after) = musl_syscall_cp();
        let shape = Shape::of(MUSL_AT, &musl, Some(&after), None, evidence::R9_IS_RSP_8);
        assert_eq!(shape, Some(Shape::MuslSyscallCp));
        let shape = Shape::of(MUSL_AT, &musl, Some(&after), None, evidence::RDI_IS_RBX);
        assert_eq!(shape, None, "%r9 was not the stack's word");
        assert_eq!(Shape::of(MUSL_AT, &musl, None, None, all), None, "the bytes after could not be read");
        let mut no_ret = after;
        no_ret[0] = 0x90;
        assert_eq!(Shape::of(MUSL_AT, &musl, Some(&no_ret), None, all), None, "no ret after the syscall");
        let other_load = site(&[0xd6, 0x4c, 0x8b, 0x4c, 0x24, 0x10, 0x48, 0x89, 0xca, 0x0f, 0x05]);
        assert_eq!(Shape::of(MUSL_AT, &other_load, Some(&after), None, all), None, "not musl's sequence");
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
        let shown = evidence::MOVES_SHOWN;
        assert_eq!(Shape::of(AT, &stat, None, Some(4), shown), Some(Shape::MovEax { nr: 4, then: 6 }));
        assert_eq!(Shape::of(AT, &stat, None, Some(4), 0), None, "a call whose registers did not show the moves");
        assert_eq!(Shape::of(AT, &stat, None, Some(6), shown), None, "another number");
        assert_eq!(Shape::of(AT, &stat, None, None, shown), None, "calls with different numbers");
        let mut loaded = MUSL_STAT;
        loaded[11..14].copy_from_slice(&[0x8b, 0x37, 0x90]); // mov (%rdi), %esi; nop
        assert_eq!(Shape::of(AT, &site(&loaded), None, Some(4), shown), None, "a load from memory between");
        let mut prefixed = MUSL_STAT;
        prefixed[2] = 0x41; // the mov is mov $4, %r8d
        assert_eq!(Shape::of(AT, &site(&prefixed), None, Some(4), shown), None);
        // The most bytes between is what a trampoline holds: two `mov $1, %r10d` (6 bytes
        // each) and a `mov %rdx, %rsi`; three `mov $1, %r10d` are out of reach.
        let mut most = [0x90; LOOK_BACK as usize + 2];
        most[1..6].copy_from_slice(&[0xb8, 0x04, 0, 0, 0]);
        most[6..12].copy_from_slice(&[0x41, 0xba, 1, 0, 0, 0]);
        most[12..18].copy_from_slice(&[0x41, 0xba, 1, 0, 0, 0]);
        most[18..21].copy_from_slice(&[0x48, 0x89, 0xd6]);
        most[21..].copy_from_slice(&[0x0f, 0x05]);
        assert_eq!(Shape::of(AT, &most, None, Some(4), shown), Some(Shape::MovEax { nr: 4, then: 15 }));
        let mut far = [0x90; 3 + LOOK_BACK as usize + 2];
        far[1..6].copy_from_slice(&[0xb8, 0x04, 0, 0, 0]);
        for i in 0..3 {
            far[6 + 6 * i..12 + 6 * i].copy_from_slice(&[0x41, 0xba, 1, 0, 0, 0]);
        }
        far[24..].copy_from_slice(&[0x0f, 0x05]);
        let far: SiteBytes = far[3..].try_into().unwrap();
        assert_eq!(Shape::of(AT, &far, None, Some(4), shown), None, "the mov is beyond the bytes looked at");
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

    /// Go 1.19's `Syscall6` (its `syscall` at [`AT`]): the bytes before it, and its tail and
    /// 10 `int3`s after.
    fn go_syscall6() -> (SiteBytes, AfterBytes) {
        let bytes = site(&[0x89, 0xce, 0x48, 0x89, 0xdf, 0x0f, 0x05]);
        let mut code = [0xcc; 47];
        code[..40].copy_from_slice(&GO_SYSCALL6_TAIL);
        (bytes, after_bytes(&code))
    }

    #[test]
    fn gos_site_jumps_through_its_int3_padding_and_keeps_its_syscall() {
        let (_, after) = go_syscall6();
        check_padding_rewrite(Shape::GoSyscall6, AT, &after, GO_PAD);
        let rewrite = site_rewrite(Shape::GoSyscall6, AT, Some(&after), 0x25_0040).unwrap();
        assert_eq!(rewrite.as_slice()[..3], [0xeb, 0x2b, 0x90], "42 bytes on, past the 40-byte tail");
    }

    #[test]
    fn the_site_table_stays_within_a_page() {
        assert!(core::mem::size_of::<[Site; TABLE_SIZE]>() <= PAGE_SIZE as usize);
    }

    /// glibc 2.36's `read` at 0x430800: its `syscall` is at 0x43080b.
    const GLIBC_READ_AT: u64 = 0x43_080b;

    /// The bytes of glibc's `read` before its `syscall` (`cmpb $0, __libc_single_threaded;
    /// je; xor %eax, %eax`) and after it (`cmp; ja; ret`, then 10 bytes of `nopw` to 0x430820).
    fn glibc_read() -> (SiteBytes, AfterBytes) {
        let bytes = site(&[0x48, 0x07, 0x00, 0x00, 0x74, 0x17, 0x31, 0xc0, 0x0f, 0x05]);
        let after = after_bytes(&[
            0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff, 0x77, 0x5b, 0xc3, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00,
            0x00,
        ]);
        (bytes, after)
    }

    #[test]
    fn glibc_read_is_patched_only_with_its_whole_sequence_and_padding() {
        let (bytes, after) = glibc_read();
        let at = GLIBC_READ_AT;
        assert_eq!(Shape::of(at, &bytes, Some(&after), Some(0), 0), Some(Shape::GlibcRead));
        assert_eq!(Shape::of(at, &bytes, Some(&after), Some(1), 0), None, "a call with another number");
        assert_eq!(Shape::of(at, &bytes, None, Some(0), 0), None, "the bytes after could not be read");
        assert_eq!(Shape::of(at + 4, &bytes, Some(&after), Some(0), 0), None, "the padding would end unaligned");
        let mut no_ret = after;
        no_ret[8] = 0x90;
        assert_eq!(Shape::of(at, &bytes, Some(&no_ret), Some(0), 0), None, "no ret after the error check");
        let mut no_je = bytes;
        no_je[LOOK_BACK as usize - SHORT_LOOK_BACK + 5] = 0x75;
        assert_eq!(Shape::of(at, &no_je, Some(&after), Some(0), 0), None, "not glibc's sequence");
        let mut code_after_ret = after;
        code_after_ret[9] = 0x48;
        assert_eq!(Shape::of(at, &bytes, Some(&code_after_ret), Some(0), 0), None, "code, not padding, after the ret");
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
    }

    /// Checks the rewrite of a site of `shape` (its `syscall` at `at`, `after` the bytes after
    /// it) that jumps through the padding `pad` bytes after the `syscall`, and its trampoline:
    /// a `jmp rel8` over the replaced instruction (`nop`s to its end), the code from the
    /// `syscall` to the padding unchanged, the `jmp rel32` to the trampoline there; the
    /// trampoline redoes the instruction, returns right after the `syscall`, jumps to the entry.
    fn check_padding_rewrite(shape: Shape, at: u64, after: &AfterBytes, pad: u64) {
        let (trampoline, entry) = (0x25_0040, 0x20_3000);
        let rewrite = site_rewrite(shape, at, Some(after), trampoline).unwrap();
        let (start, code) = (rewrite.at, rewrite.as_slice());
        let replayed = shape.replayed(&[0; LOOK_BACK as usize + 2]);
        let len = replayed.len();
        assert_eq!(start, at - len as u64, "over the instruction before the syscall");
        assert_eq!(code[0], 0xeb, "jmp rel8");
        assert_eq!(start + 2 + u64::from(code[1]), at + pad, "to the padding");
        assert!(code[2..len].iter().all(|&b| b == 0x90), "nops to the instruction's end");
        assert_eq!(code[len..len + 2], [0x0f, 0x05], "the syscall stays");
        assert_eq!(code[len + 2..len + pad as usize], after[..pad as usize - 2], "and the code after it");
        let jump = len + pad as usize;
        assert_eq!(code[jump], 0xe9);
        assert_eq!(rel_target(code, start, jump + 1), trampoline);
        assert_eq!(code.len(), jump + 5);
        let tramp = trampoline_code(replayed, trampoline, at + 2, entry).unwrap();
        assert_eq!(tramp[..len], *replayed, "the replaced instruction");
        assert_eq!(tramp[len..len + 3], [0x48, 0x8d, 0x0d], "lea");
        assert_eq!(rel_target(&tramp, trampoline, len + 3), at + 2, "%rcx = right after the syscall");
        assert_eq!(tramp[len + 7], 0xe9);
        assert_eq!(rel_target(&tramp, trampoline, len + 8), entry);
        assert!(tramp[len + 12..].iter().all(|&b| b == 0xcc));
        assert!(site_rewrite(shape, at, None, trampoline).is_none(), "nothing without the bytes after");
    }

    #[test]
    fn glibc_read_jumps_through_its_padding_and_keeps_its_syscall() {
        let (_, after) = glibc_read();
        check_padding_rewrite(Shape::GlibcRead, GLIBC_READ_AT, &after, GLIBC_READ_PAD);
        let rewrite = site_rewrite(Shape::GlibcRead, GLIBC_READ_AT, Some(&after), 0x25_0040).unwrap();
        assert_eq!(rewrite.as_slice()[..2], [0xeb, 0x0b], "to 0x430816, after the ret");
    }

    /// glibc 2.36's threaded `read` path: its `syscall` at 0x43084a, the padding at 0x43086b.
    fn glibc_read_threaded() -> (u64, SiteBytes, AfterBytes) {
        let bytes = site(&[0x41, 0x89, 0xc0, 0x8b, 0x7c, 0x24, 0x08, 0x31, 0xc0, 0x0f, 0x05]);
        let after = after_bytes(&[
            0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff, 0x77, 0x34, 0x44, 0x89, 0xc7, 0x48, 0x89, 0x44, 0x24, 0x08, 0xe8, 0xbf,
            0xfa, 0x01, 0x00, 0x48, 0x8b, 0x44, 0x24, 0x08, 0x48, 0x83, 0xc4, 0x28, 0xc3, 0x0f, 0x1f, 0x44, 0x00, 0x00,
        ]);
        (0x43_084a, bytes, after)
    }

    #[test]
    fn glibc_threaded_read_jumps_through_its_padding_and_keeps_its_syscall() {
        let (at, bytes, after) = glibc_read_threaded();
        assert_eq!(Shape::of(at, &bytes, Some(&after), Some(0), 0), Some(Shape::GlibcReadThreaded));
        assert_eq!(Shape::of(at, &bytes, Some(&after), Some(1), 0), None, "a call with another number");
        let mut other = after;
        other[10] = 0xc6;
        assert_eq!(Shape::of(at, &bytes, Some(&other), Some(0), 0), None, "another instruction after the ja");
        assert_eq!(Shape::of(at + 4, &bytes, Some(&after), Some(0), 0), None, "the padding would end unaligned");
        check_padding_rewrite(Shape::GlibcReadThreaded, at, &after, GLIBC_READ_MT_PAD);
        let rewrite = site_rewrite(Shape::GlibcReadThreaded, at, Some(&after), 0x25_0040).unwrap();
        assert_eq!(rewrite.as_slice()[..2], [0xeb, 0x21], "to 0x43086b, after the ret");
    }

    /// musl 1.2's `__syscall_cp_c` at 0x406270: its `syscall` is at 0x406287.
    const MUSL_AT: u64 = 0x40_6287;

    /// The bytes of musl's `__syscall_cp_c` before its `syscall` and after it (`ret`, then 6
    /// bytes of `nopw` to 0x406290).
    fn musl_syscall_cp() -> (SiteBytes, AfterBytes) {
        let bytes = site(&[0xd6, 0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x48, 0x89, 0xca, 0x0f, 0x05]);
        (bytes, after_bytes(&[0xc3, 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00]))
    }

    #[test]
    fn musls_site_jumps_through_its_padding_and_keeps_every_boundary() {
        let (_, after) = musl_syscall_cp();
        check_padding_rewrite(Shape::MuslSyscallCp, MUSL_AT, &after, MUSL_CP_PAD);
        let rewrite = site_rewrite(Shape::MuslSyscallCp, MUSL_AT, Some(&after), 0x25_0040).unwrap();
        assert_eq!(rewrite.as_slice()[..6], [0xeb, 0x04, 0x90, 0x0f, 0x05, 0xc3], "the syscall and the ret unchanged");
    }
}
