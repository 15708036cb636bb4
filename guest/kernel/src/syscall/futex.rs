//! futex(2) for a process of one thread. With no other thread, nobody can be waiting when the
//! app wakes (WAKE finds no waiters: 0) and nobody can wake the app when it waits: a WAIT whose
//! value still matches sleeps out its timeout (ETIMEDOUT) or parks for good, as Linux would
//! block. Every argument is checked as Linux checks it. Real waiting queues come with threads.

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
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

/// futex(uaddr, op, val, timeout, uaddr2, val3).
pub fn sys_futex(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [uaddr, op, val, timeout, uaddr2, val3] = f.syscall_args();
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT {
        return Err(Errno::ENOSYS);
    }
    match cmd {
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            if cmd == FUTEX_WAKE_BITSET && val3 as u32 == 0 {
                return Err(Errno::EINVAL);
            }
            read_word(p, uaddr)?;
            Ok(0)
        }
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            if cmd == FUTEX_WAIT_BITSET && val3 as u32 == 0 {
                return Err(Errno::EINVAL);
            }
            if read_word(p, uaddr)? != val as u32 {
                return Err(Errno::EAGAIN);
            }
            if timeout == 0 {
                super::time::wait_forever();
            }
            let ns = super::time::read_timespec(p, timeout)?;
            if cmd == FUTEX_WAIT {
                // FUTEX_WAIT's timeout is relative (CLOCK_MONOTONIC).
                super::time::sleep_for(p, ns);
            } else {
                let clock = if op & FUTEX_CLOCK_REALTIME != 0 { CLOCK_REALTIME } else { CLOCK_MONOTONIC };
                super::time::sleep_until(p, clock, ns)?;
            }
            Err(Errno::ETIMEDOUT)
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            read_word(p, uaddr)?;
            read_word(p, uaddr2)?;
            if cmd == FUTEX_CMP_REQUEUE && read_word(p, uaddr)? != val3 as u32 {
                return Err(Errno::EAGAIN);
            }
            Ok(0)
        }
        FUTEX_WAKE_OP => {
            read_word(p, uaddr)?;
            let old = read_word(p, uaddr2)?;
            let new = wake_op(val3 as u32, old)?;
            user::write_u32(&mut p.space, uaddr2, new)?;
            Ok(0)
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
}
