//! futex(2): WAIT/WAKE (with bitsets), REQUEUE/CMP_REQUEUE and WAKE_OP over the process's
//! wait queue (`thread::Threads::futex_waiters`). A waiting thread parks its vCPU; a wake
//! removes it from the queue and unparks it. Every argument is checked as Linux checks it.
//! PI futexes (LOCK_PI and friends) return ENOSYS.
//!
//! A futex is known by its address in the process, except a shared one (an op without
//! FUTEX_PRIVATE_FLAG on a page of a shared file mapping, such as `MAP_SHARED` anonymous
//! memory a forked child shares: process-shared mutexes, semaphores and condition
//! variables): that one is known by its place in memory, the frame and offset, and a wake
//! looks in every process's queue.

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::mm::paging;
use crate::process::Process;
use crate::thread::FutexWaiter;
use crate::user;

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_REQUEUE: u64 = 3;
const FUTEX_CMP_REQUEUE: u64 = 4;
const FUTEX_WAKE_OP: u64 = 5;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
const FUTEX_PRIVATE_FLAG: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;
const CLOCK_MONOTONIC: u64 = 1;
const CLOCK_REALTIME: u64 = 0;

fn read_word(p: &mut Process, addr: u64) -> Result<u32, Errno> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let b = user::read(&mut p.space, addr, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The new value and the comparison result of a FUTEX_WAKE_OP encoding on `old`.
fn wake_op(encoded: u32, old: u32) -> Result<u32, Errno> {
    let op = (encoded >> 28) & 7;
    let shift = (encoded >> 28) & 8 != 0;
    let mut oparg = (encoded >> 12) & 0xfff;
    if shift {
        if oparg > 31 {
            return Err(Errno::EINVAL);
        }
        oparg = 1 << oparg;
    }
    Ok(match op {
        0 => oparg,
        1 => old.wrapping_add(oparg),
        2 => old | oparg,
        3 => old & !oparg,
        4 => old ^ oparg,
        _ => return Err(Errno::ENOSYS),
    })
}

/// Whether FUTEX_WAKE_OP's comparison of the old value holds.
fn wake_op_compare(encoded: u32, old: u32) -> Result<bool, Errno> {
    let cmp = (encoded >> 24) & 15;
    let arg = (encoded & 0xfff) as i32;
    let old = old as i32;
    Ok(match cmp {
        0 => old == arg,
        1 => old != arg,
        2 => old < arg,
        3 => old <= arg,
        4 => old > arg,
        5 => old >= arg,
        _ => return Err(Errno::ENOSYS),
    })
}

/// The mark of a shared futex's key ([`key`]): no user address has it (the lower half ends
/// at bit 47).
const SHARED_KEY: u64 = 1 << 63;

/// What a futex at `addr` is known by (the word was read, so its page is mapped): its
/// address, or for a shared op on a page of a shared file mapping its frame and offset,
/// marked [`SHARED_KEY`].
fn key(p: &Process, addr: u64, op: u64) -> u64 {
    if op & FUTEX_PRIVATE_FLAG != 0 {
        return addr;
    }
    let entry = paging::lookup(p.space.root(), addr);
    match paging::entry_frame(entry) {
        Some(frame) if entry & paging::SOFT_BORROWED != 0 => SHARED_KEY | frame | (addr & 0xfff),
        _ => addr,
    }
}

/// Wakes up to `count` threads waiting on futex `key` whose bitset meets `bitset`; how
/// many. A shared futex's waiters may be in any process.
pub fn wake(p: &mut Process, key: u64, bitset: u32, count: usize) -> usize {
    let mut woken = p.threads.take_futex_waiters(key, bitset, count);
    if key & SHARED_KEY != 0 {
        for q in p.shared.processes.iter_mut() {
            let left = count.saturating_sub(woken.len());
            if left == 0 {
                break;
            }
            woken.extend(q.threads.take_futex_waiters(key, bitset, left));
        }
    }
    let mask = woken.iter().fold(0u64, |m, cpu| m | 1 << (cpu % 64));
    p.unpark_mask(mask);
    woken.len()
}

/// Wakes one waiter on the futex at `addr` as the kernel's own wakes do (a thread's
/// clear_child_tid word, a dead owner's robust lock): as a shared futex, so a waiter in
/// another process that shares the memory wakes too, as on Linux.
pub fn wake_word(p: &mut Process, addr: u64) -> usize {
    let key = key(p, addr, 0);
    wake(p, key, u32::MAX, 1)
}

/// Moves up to `count` waiters on futex `from` to `to` (any process's, for a shared one).
fn requeue(p: &mut Process, from: u64, to: u64, count: usize) -> usize {
    let mut moved = p.threads.requeue_futex_waiters(from, to, count);
    if from & SHARED_KEY != 0 {
        for q in p.shared.processes.iter_mut() {
            moved += q.threads.requeue_futex_waiters(from, to, count.saturating_sub(moved));
        }
    }
    moved
}

/// Waits on `addr` while it holds `val`, until a wake (0), the monotonic `deadline`
/// (ETIMEDOUT) or a signal (EINTR).
fn wait(p: &mut Process, addr: u64, op: u64, val: u32, bitset: u32, deadline: Option<u64>) -> SysResult {
    if read_word(p, addr)? != val {
        return Err(Errno::EAGAIN);
    }
    let (tid, cpu) = (p.thread.tid, p.thread.cpu);
    let addr = key(p, addr, op);
    p.threads.futex_waiters.push(FutexWaiter { addr, bitset, tid, cpu });
    let result = crate::wait::wait_until(p, deadline, |p| !p.threads.is_futex_waiting(tid));
    if result.is_err() {
        p.threads.cancel_futex_wait(tid);
    }
    result.map(|()| 0)
}

/// The monotonic deadline of a futex wait's `timeout` argument: relative for FUTEX_WAIT,
/// absolute on CLOCK_MONOTONIC (or CLOCK_REALTIME with the flag) for FUTEX_WAIT_BITSET.
fn deadline_of(p: &mut Process, cmd: u64, op: u64, timeout: u64) -> Result<Option<u64>, Errno> {
    if timeout == 0 {
        return Ok(None);
    }
    let ns = super::time::read_timespec(p, timeout)?;
    let now = crate::wait::now_ns(p);
    if cmd == FUTEX_WAIT {
        return Ok(Some(now.saturating_add(ns)));
    }
    let clock = if op & FUTEX_CLOCK_REALTIME != 0 { CLOCK_REALTIME } else { CLOCK_MONOTONIC };
    let clock_now = super::time::clock_ns(p, clock)?;
    Ok(Some(now.saturating_add(ns.saturating_sub(clock_now))))
}

/// futex(uaddr, op, val, timeout, uaddr2, val3): each futex known by its [`key`].
pub fn sys_futex(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [uaddr, op, val, timeout, uaddr2, val3] = f.syscall_args();
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT {
        return Err(Errno::ENOSYS);
    }
    // The count arguments are ints: a negative one means "all" to Linux's callers.
    let count = |v: u64| (v as i32).max(0) as usize;
    match cmd {
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE_BITSET { val3 as u32 } else { u32::MAX };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            read_word(p, uaddr)?;
            let key = key(p, uaddr, op);
            Ok(wake(p, key, bitset, count(val)))
        }
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT_BITSET { val3 as u32 } else { u32::MAX };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            let deadline = deadline_of(p, cmd, op, timeout)?;
            wait(p, uaddr, op, val as u32, bitset, deadline)
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            read_word(p, uaddr)?;
            read_word(p, uaddr2)?;
            if cmd == FUTEX_CMP_REQUEUE && read_word(p, uaddr)? != val3 as u32 {
                return Err(Errno::EAGAIN);
            }
            // `timeout` carries the most waiters to requeue.
            let (from, to) = (key(p, uaddr, op), key(p, uaddr2, op));
            let woken = wake(p, from, u32::MAX, count(val));
            let moved = requeue(p, from, to, count(timeout));
            Ok(woken + moved)
        }
        FUTEX_WAKE_OP => {
            read_word(p, uaddr)?;
            let old = read_word(p, uaddr2)?;
            let new = wake_op(val3 as u32, old)?;
            let also = wake_op_compare(val3 as u32, old)?;
            user::write_u32(&mut p.space, uaddr2, new)?;
            let (first, second) = (key(p, uaddr, op), key(p, uaddr2, op));
            let mut woken = wake(p, first, u32::MAX, count(val));
            if also {
                woken += wake(p, second, u32::MAX, count(timeout));
            }
            Ok(woken)
        }
        _ => Err(Errno::ENOSYS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_op_encodings() {
        // FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 0) as glibc encodes it.
        let add_one = (1 << 28) | (1 << 12);
        assert_eq!(wake_op(add_one, 5), Ok(6));
        let set_shift = (8 << 28) | (3 << 12);
        assert_eq!(wake_op(set_shift, 0), Ok(8));
        assert_eq!(wake_op((8 << 28) | (40 << 12), 0), Err(Errno::EINVAL));
        assert_eq!(wake_op(6 << 28, 0), Err(Errno::ENOSYS));
    }

    #[test]
    fn wake_op_comparisons() {
        // FUTEX_OP_CMP_GT 0, as glibc's condition variables use.
        let gt_zero = 4 << 24;
        assert_eq!(wake_op_compare(gt_zero, 1), Ok(true));
        assert_eq!(wake_op_compare(gt_zero, 0), Ok(false));
        assert_eq!(wake_op_compare(gt_zero, u32::MAX), Ok(false), "compared as signed");
        assert_eq!(wake_op_compare(5, 5), Ok(true));
        assert_eq!(wake_op_compare((1 << 24) | 5, 5), Ok(false));
        assert_eq!(wake_op_compare(9 << 24, 0), Err(Errno::ENOSYS));
    }
}
