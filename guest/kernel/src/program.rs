//! Starting a program in the process's address space: its ELF mapped from the image, the
//! program break, the main stack with argv, envp and the auxiliary vector on it. The boot
//! starts the app this way (`boot`), and `execve` every program after it (`syscall::exec`).

use alloc::vec::Vec;

use uvm_abi::layout::{align_up, PAGE_SIZE, STACK_TOP_VA};

use crate::elf::Loaded;
use crate::errno::Errno;
use crate::mm::space::AddressSpace;
use crate::process::{STACK_FILLED, STACK_RESERVE};
use crate::stack::{self, at, StackSpec};

/// The most bytes argv and envp may take on the new stack, strings and pointers: a quarter
/// of the stack limit, as Linux (E2BIG beyond).
pub const ARG_BYTES_MAX: u64 = STACK_RESERVE / 4;
/// The longest one argument or environment string may be (Linux's MAX_ARG_STRLEN).
pub const ARG_STRING_MAX: usize = 32 * PAGE_SIZE as usize;

/// What every program's auxiliary vector says about the machine, the same for the life of
/// the VM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MachineFacts {
    /// AT_HWCAP.
    pub hwcap: u64,
    /// AT_HWCAP2.
    pub hwcap2: u64,
    /// AT_SYSINFO_EHDR: where the vDSO is.
    pub vdso: u64,
}

/// What a program starts with.
pub struct Arguments<'a> {
    /// argv, argv[0] first.
    pub argv: &'a [&'a [u8]],
    /// The environment, `KEY=VALUE`.
    pub envp: &'a [&'a [u8]],
    /// AT_EXECFN: the path the program was started by.
    pub execfn: &'a [u8],
}

/// Where the program starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    /// Its entry point.
    pub entry: u64,
    /// Its initial stack pointer (at argc).
    pub rsp: u64,
}

/// Starts the program `loaded` into `space` (by `elf::load` or `elf::load_copy`, into an
/// address space that held no app mapping): sets the break after it and builds the main
/// stack. E2BIG if the arguments take more than [`ARG_BYTES_MAX`].
///
/// Inlined: the boot's copy lies in the kernel's hot text with the rest of a start's code
/// (`hot-text.ld`), execve's in the cold text.
#[inline(always)]
pub fn start(
    space: &mut AddressSpace,
    loaded: &Loaded,
    facts: &MachineFacts,
    args: &Arguments<'_>,
) -> Result<Start, Errno> {
    space.init_brk(loaded.end);
    let mut random = [0u8; 16];
    crate::random::fill(&mut random);
    let auxv = [
        (at::PHDR, loaded.phdr),
        (at::PHENT, loaded.phent),
        (at::PHNUM, loaded.phnum),
        (at::PAGESZ, PAGE_SIZE),
        (at::BASE, 0),
        (at::FLAGS, 0),
        (at::ENTRY, loaded.entry),
        (at::UID, 0),
        (at::EUID, 0),
        (at::GID, 0),
        (at::EGID, 0),
        (at::SECURE, 0),
        (at::HWCAP, facts.hwcap),
        (at::HWCAP2, facts.hwcap2),
        (at::CLKTCK, 100),
        (at::SYSINFO_EHDR, facts.vdso),
    ];
    let spec = StackSpec { argv: args.argv, envp: args.envp, auxv: &auxv, random, execfn: args.execfn };
    let built = stack::build(STACK_TOP_VA, &spec);
    let bytes = built.bytes.len() as u64;
    if bytes > ARG_BYTES_MAX {
        return Err(Errno::E2BIG);
    }
    // The stack's top is filled now (a page fault each would cost more); a long command line
    // gets all the pages it needs.
    let filled = align_up(bytes, PAGE_SIZE).unwrap_or(STACK_RESERVE).max(STACK_FILLED);
    space.map_stack(STACK_TOP_VA, STACK_RESERVE, filled)?;
    crate::user::copy_out(space, built.rsp, &built.bytes)?;
    Ok(Start { entry: loaded.entry, rsp: built.rsp })
}

/// What the auxiliary vector and the stack's fixed parts take at most besides the strings:
/// 20 entries of 16 bytes, argc and two NULLs, AT_RANDOM's 16 bytes, "x86_64" and the
/// alignment.
const FIXED_STACK_BYTES: u64 = 1024;

/// At least the bytes [`start`] puts on the stack for `args`: execve checks it against
/// [`ARG_BYTES_MAX`] before the old program goes, so that `start` cannot fail with E2BIG.
pub fn stack_bound(args: &Arguments<'_>) -> u64 {
    let strings = |v: &[&[u8]]| v.iter().map(|s| s.len() as u64 + 1 + 8).sum::<u64>();
    strings(args.argv) + strings(args.envp) + args.execfn.len() as u64 + 1 + FIXED_STACK_BYTES
}

/// Borrows each string of `strings`.
pub fn borrowed(strings: &[Vec<u8>]) -> Vec<&[u8]> {
    strings.iter().map(Vec::as_slice).collect()
}
