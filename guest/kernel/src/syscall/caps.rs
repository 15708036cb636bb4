//! capget and capset: the calls over `crate::caps` (which owns the sets and their rules;
//! prctl serves the bounding set, the ambient set and keep-caps).

use crate::arch::frame::TrapFrame;
use crate::caps::ALL;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::user;

/// `capget`/`capset` header versions.
const VERSION_1: u32 = 0x1998_0330;
const VERSION_2: u32 = 0x2007_1026;
const VERSION_3: u32 = 0x2008_0522;

/// The header's version as a count of 32-bit words per set (1 for version 1, 2 after), or
/// EINVAL for another, with the preferred version written back to the header (how libcap
/// asks which version the kernel speaks).
fn words(p: &mut Process, header: u64) -> Result<usize, Errno> {
    match user::read_u32(&mut p.space, header)? {
        VERSION_1 => Ok(1),
        VERSION_2 | VERSION_3 => Ok(2),
        _ => {
            user::write_u32(&mut p.space, header, VERSION_3)?;
            Err(Errno::EINVAL)
        }
    }
}

/// capget(header, data): the sets of the caller's process or of any process of the VM, named
/// by its pid or one of its threads' ids (ESRCH if none); with a NULL `data`, only the
/// version check (0 for an unknown version, which is written back).
pub fn sys_capget(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (header, data) = (f.rdi, f.rsi);
    let words = match words(p, header) {
        Err(Errno::EINVAL) if data == 0 => return Ok(0),
        Err(e) => return Err(e),
        Ok(_) if data == 0 => return Ok(0),
        Ok(words) => words,
    };
    let pid = user::read_u32(&mut p.space, header.checked_add(4).ok_or(Errno::EFAULT)?)? as i32;
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let pid = pid as u32;
    let caps = if pid == 0 || pid == p.pid || p.runs_thread(pid) {
        p.view.capabilities()
    } else {
        let owner = p.shared.processes.iter().find(|q| q.pid == pid || q.runs_thread(pid)).ok_or(Errno::ESRCH)?;
        owner.view.capabilities()
    };
    let mut out = [0u8; 24];
    for word in 0..words {
        for (i, set) in [caps.effective, caps.permitted, caps.inheritable].into_iter().enumerate() {
            let at = word * 12 + i * 4;
            out[at..at + 4].copy_from_slice(&((set >> (32 * word)) as u32).to_le_bytes());
        }
    }
    user::copy_out(&mut p.space, data, &out[..words * 12])?;
    Ok(0)
}

/// capset(header, data): the caller's own sets only (EPERM for another pid).
pub fn sys_capset(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (header, data) = (f.rdi, f.rsi);
    let words = words(p, header)?;
    let pid = user::read_u32(&mut p.space, header.checked_add(4).ok_or(Errno::EFAULT)?)? as i32;
    if pid != 0 && pid as u32 != p.pid {
        return Err(Errno::EPERM);
    }
    let raw = user::read(&mut p.space, data, words as u64 * 12)?;
    let set = |i: usize| {
        (0..words).fold(0u64, |acc, word| {
            let at = word * 12 + i * 4;
            acc | u64::from(u32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]])) << (32 * word)
        })
    };
    let (effective, permitted, inheritable) = (set(0), set(1), set(2));
    let mut caps = p.view.capabilities();
    caps.set(effective & ALL, permitted & ALL, inheritable & ALL)?;
    p.view.set_capabilities(caps);
    Ok(0)
}
