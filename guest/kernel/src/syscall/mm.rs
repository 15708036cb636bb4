//! Memory syscalls: mmap, munmap, mprotect, brk, madvise.

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::mm::space::{Backing, MapFlags, Prot};
use crate::process::Process;

const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_SHARED_VALIDATE: u64 = 0x03;
const MAP_TYPE: u64 = 0x0f;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_NORESERVE: u64 = 0x4000;
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
const PROT_KNOWN: u64 = 0x7;
const PROT_GROWS: u64 = 0x0300_0000;

const MADV_DONTNEED: u64 = 4;
const MADV_FREE: u64 = 8;
const MADV_REMOVE: u64 = 9;

/// mmap(addr, length, prot, flags, fd, offset).
pub fn sys_mmap(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [addr, len, prot, flags, fd, offset] = f.syscall_args();
    if len == 0 || offset % uvm_abi::layout::PAGE_SIZE != 0 || prot & !(PROT_KNOWN | PROT_GROWS) != 0 {
        return Err(Errno::EINVAL);
    }
    let kind = flags & MAP_TYPE;
    if kind != MAP_SHARED && kind != MAP_PRIVATE && kind != MAP_SHARED_VALIDATE {
        return Err(Errno::EINVAL);
    }
    let prot = Prot::from_bits(prot);
    let map_flags = MapFlags {
        fixed: flags & MAP_FIXED != 0,
        fixed_noreplace: flags & MAP_FIXED_NOREPLACE != 0,
        lazy: flags & MAP_NORESERVE != 0,
    };
    if flags & MAP_ANONYMOUS != 0 {
        return p.space.map(addr, len, prot, map_flags, Backing::Anonymous).map(|a| a as usize);
    }
    let shared = kind != MAP_PRIVATE;
    p.map_file(fd as i32, addr, len, prot, map_flags, offset, shared).map(|a| a as usize)
}

/// munmap(addr, length).
pub fn sys_munmap(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [addr, len, ..] = f.syscall_args();
    p.space.unmap(addr, len).map(|()| 0)
}

/// mprotect(addr, length, prot).
pub fn sys_mprotect(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [addr, len, prot, ..] = f.syscall_args();
    if prot & !(PROT_KNOWN | PROT_GROWS) != 0 {
        return Err(Errno::EINVAL);
    }
    p.space.protect(addr, len, Prot::from_bits(prot)).map(|()| 0)
}

/// brk(addr): returns the break in effect (unchanged when it cannot move).
pub fn sys_brk(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    Ok(p.space.set_brk(f.rdi) as usize)
}

/// madvise(addr, length, advice). DONTNEED/FREE/REMOVE drop the pages (they read back as
/// zero, or as the file's bytes); every other advice is a hint Linux may ignore too (no-op).
pub fn sys_madvise(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [addr, len, advice, ..] = f.syscall_args();
    if addr % uvm_abi::layout::PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    match advice {
        MADV_DONTNEED | MADV_FREE | MADV_REMOVE => p.space.discard(addr, len).map(|()| 0),
        _ => Ok(0),
    }
}
