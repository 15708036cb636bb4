//! Memory syscalls: mmap, munmap, mprotect, mremap, msync, brk, madvise.

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::Node;
use crate::mm::space::{Backing, MapFlags, Prot, RemapFlags};
use crate::process::Process;

const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_SHARED_VALIDATE: u64 = 0x03;
const MAP_TYPE: u64 = 0x0f;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_NORESERVE: u64 = 0x4000;
/// A thread stack (glibc's and musl's pthread stacks): a hint on Linux. Here it means "fill
/// on first touch": a stack of megabytes of which a thread touches a few pages would
/// otherwise take all its frames at once.
const MAP_STACK: u64 = 0x2_0000;
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
const PROT_KNOWN: u64 = 0x7;
const PROT_GROWS: u64 = 0x0300_0000;

const MREMAP_MAYMOVE: u64 = 1;
const MREMAP_FIXED: u64 = 2;
const MREMAP_DONTUNMAP: u64 = 4;

const MS_ASYNC: u64 = 1;
const MS_INVALIDATE: u64 = 2;
const MS_SYNC: u64 = 4;

const MADV_DONTNEED: u64 = 4;
const MADV_FREE: u64 = 8;
const MADV_REMOVE: u64 = 9;
const MADV_DONTNEED_LOCKED: u64 = 24;

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
        lazy: flags & (MAP_NORESERVE | MAP_STACK) != 0,
        defer_fill: false,
    };
    if flags & MAP_ANONYMOUS != 0 && kind == MAP_PRIVATE {
        return p.space.map(addr, len, prot, map_flags, Backing::Anonymous).map(|a| a as usize);
    }
    if flags & MAP_ANONYMOUS != 0 {
        return p.map_shared_anonymous(addr, len, prot, map_flags).map(|a| a as usize);
    }
    let shared = kind != MAP_PRIVATE;
    // Pipes, the console, eventfds and epoll files have no pages to map (Linux: ENODEV).
    if matches!(p.file(fd as i32)?.node(), Node::Pipe(_) | Node::Console(_) | Node::Anon(_)) {
        return Err(Errno::ENODEV);
    }
    p.map_file(fd as i32, addr, len, prot, map_flags, offset, shared).map(|a| a as usize)
}

/// mremap(old_address, old_size, new_size, flags, new_address): MREMAP_MAYMOVE and
/// MREMAP_FIXED; MREMAP_DONTUNMAP is refused (EINVAL).
pub fn sys_mremap(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [old_addr, old_len, new_len, flags, new_addr, ..] = f.syscall_args();
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED) != 0 || flags & MREMAP_DONTUNMAP != 0 {
        return Err(Errno::EINVAL);
    }
    let flags = RemapFlags { may_move: flags & MREMAP_MAYMOVE != 0, fixed: flags & MREMAP_FIXED != 0 };
    p.space.remap(old_addr, old_len, new_len, flags, new_addr).map(|a| a as usize)
}

/// msync(addr, length, flags): the arguments are checked (EINVAL for a misaligned address
/// or bad flags, ENOMEM for a range that is not all mapped); then shared mappings of
/// volumes' files are written back to the host. The other file mappings have nothing to
/// write back (tmpfs pages are the file's, the image is read-only, private ones are copies).
pub fn sys_msync(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [addr, len, flags, ..] = f.syscall_args();
    let known = MS_ASYNC | MS_INVALIDATE | MS_SYNC;
    if addr % uvm_abi::layout::PAGE_SIZE != 0
        || flags & !known != 0
        || flags & (MS_ASYNC | MS_SYNC) == MS_ASYNC | MS_SYNC
    {
        return Err(Errno::EINVAL);
    }
    let end = len
        .checked_add(uvm_abi::layout::PAGE_SIZE - 1)
        .map(|l| l & !(uvm_abi::layout::PAGE_SIZE - 1))
        .and_then(|l| addr.checked_add(l))
        .ok_or(Errno::ENOMEM)?;
    if end > addr && !p.space.is_mapped(addr, end) {
        return Err(Errno::ENOMEM);
    }
    // Shared mappings of volumes' files go back to the host (all of them: more than asked,
    // which msync allows).
    crate::fs::hostfs::write_back_all();
    Ok(0)
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

/// madvise(addr, length, advice). DONTNEED/DONTNEED_LOCKED/REMOVE drop the pages (they read
/// back as zero, or as the file's bytes); FREE may drop them or keep them, as Linux may
/// (`AddressSpace::free_lazily`). The other advice Linux knows is a hint it may ignore too
/// (no-op): NORMAL, RANDOM, SEQUENTIAL, WILLNEED (0-3), DONTFORK to KEEPONFORK (10-19: no
/// fork here, no KSM, no huge pages, no core dumps), COLD, PAGEOUT, POPULATE_READ/WRITE
/// (21-23: small mappings are filled at mmap time, large ones on first touch), COLLAPSE (25).
/// Unknown advice, and advice with effects uvm does not give (memory-failure injection
/// 100-101, guard regions 102-103), is EINVAL, as on a kernel built without them.
/// mlock(addr, len), munlock(addr, len): the range must be mapped (ENOMEM); then nothing to
/// do (no-op): the guest kernel never pages app memory out, so every page stays in RAM.
/// (The host may page out the VM's memory, as any process's; uvm does not lock it there.)
pub fn sys_mlock(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [addr, len, ..] = f.syscall_args();
    locked_range(p, addr, len)
}

/// mlock2(addr, len, flags): as mlock; MLOCK_ONFAULT is the only flag.
pub fn sys_mlock2(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [addr, len, flags, ..] = f.syscall_args();
    if flags & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    locked_range(p, addr, len)
}

const MLOCK_ONFAULT: u64 = 1;
const MCL_CURRENT: u64 = 1;
const MCL_FUTURE: u64 = 2;
const MCL_ONFAULT: u64 = 4;

/// The page-aligned range that `[addr, addr + len)` touches, checked mapped: Ok(0) or ENOMEM.
fn locked_range(p: &mut Process, addr: u64, len: u64) -> SysResult {
    use uvm_abi::layout::{align_down, align_up, PAGE_SIZE};
    let start = align_down(addr, PAGE_SIZE);
    let end = addr.checked_add(len).and_then(|e| align_up(e, PAGE_SIZE)).ok_or(Errno::ENOMEM)?;
    if len == 0 || p.space.is_mapped(start, end) {
        Ok(0)
    } else {
        Err(Errno::ENOMEM)
    }
}

/// mlockall(flags): MCL_CURRENT and/or MCL_FUTURE, optionally MCL_ONFAULT; no-op as mlock.
pub fn sys_mlockall(_: &mut Process, f: &mut TrapFrame) -> SysResult {
    let flags = f.rdi;
    if flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags & (MCL_CURRENT | MCL_FUTURE) == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// munlockall(): no-op as mlock.
pub fn sys_munlockall(_: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(0)
}

/// mincore(addr, length, vec): a byte per page of the range, 1 where the page is in memory
/// now (its entry is present: a page the app touched, or one mapped ahead of its first touch)
/// and 0 where its first touch is still to come (an image or file page not touched yet counts
/// as out, though the host's page cache may hold it). EINVAL for an unaligned `addr`, ENOMEM
/// for a range past the app's addresses or with a page no mapping holds, EFAULT for `vec`.
pub fn sys_mincore(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    use uvm_abi::layout::{pte, PAGE_SIZE, USER_END_VA};
    let [addr, len, vec, ..] = f.syscall_args();
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let pages = len.div_ceil(PAGE_SIZE);
    let end = pages.checked_mul(PAGE_SIZE).and_then(|bytes| addr.checked_add(bytes)).ok_or(Errno::ENOMEM)?;
    if end > USER_END_VA {
        return Err(Errno::ENOMEM);
    }
    if pages == 0 {
        return Ok(0);
    }
    if !p.space.is_mapped(addr, end) {
        return Err(Errno::ENOMEM);
    }
    // A page of `vec` at a time, as Linux walks it.
    const CHUNK: u64 = PAGE_SIZE;
    let root = p.space.root();
    let mut done = 0;
    while done < pages {
        let count = (pages - done).min(CHUNK);
        let resident: alloc::vec::Vec<u8> = (0..count)
            .map(|i| {
                let va = addr + (done + i) * PAGE_SIZE;
                u8::from(crate::mm::paging::lookup(root, va) & pte::PRESENT != 0)
            })
            .collect();
        crate::user::copy_out(&mut p.space, vec.checked_add(done).ok_or(Errno::EFAULT)?, &resident)?;
        done += count;
    }
    Ok(0)
}

pub fn sys_madvise(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [addr, len, advice, ..] = f.syscall_args();
    if addr % uvm_abi::layout::PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    match advice {
        MADV_DONTNEED | MADV_DONTNEED_LOCKED | MADV_REMOVE => p.space.discard(addr, len).map(|()| 0),
        MADV_FREE => p.space.free_lazily(addr, len).map(|()| 0),
        0..=3 | 10..=23 | 25 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}
