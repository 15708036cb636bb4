//! prctl(2): the options programs use to describe themselves. A thread's name (PR_SET_NAME,
//! PR_GET_NAME: Rust's std names its threads, busybox reads its own; the first thread's is
//! `/proc/self/comm`), and the process attributes Linux keeps and reports back: the parent
//! death signal (stored; the parent is outside the VM, whose end ends the app first), the
//! dumpable flag, no_new_privs (set once, for good), the child subreaper flag, and the
//! capabilities' bounding set, ambient set and keep-caps flag (`crate::caps`: recorded, not
//! enforced). Any other option is EINVAL, as Linux answers an option it does not know.

use crate::arch::frame::TrapFrame;
use crate::caps::CAP_LAST_CAP;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::user;

const PR_SET_PDEATHSIG: u64 = 1;
const PR_GET_PDEATHSIG: u64 = 2;
const PR_GET_DUMPABLE: u64 = 3;
const PR_SET_DUMPABLE: u64 = 4;
const PR_SET_NAME: u64 = 15;
const PR_GET_NAME: u64 = 16;
const PR_GET_KEEPCAPS: u64 = 7;
const PR_SET_KEEPCAPS: u64 = 8;
const PR_CAPBSET_READ: u64 = 23;
const PR_CAPBSET_DROP: u64 = 24;
const PR_CAP_AMBIENT: u64 = 47;
const PR_CAP_AMBIENT_IS_SET: u64 = 1;
const PR_CAP_AMBIENT_RAISE: u64 = 2;
const PR_CAP_AMBIENT_LOWER: u64 = 3;
const PR_CAP_AMBIENT_CLEAR_ALL: u64 = 4;
const PR_SET_CHILD_SUBREAPER: u64 = 36;
const PR_GET_CHILD_SUBREAPER: u64 = 37;
const PR_SET_NO_NEW_PRIVS: u64 = 38;
const PR_GET_NO_NEW_PRIVS: u64 = 39;

/// personality(2)'s Linux execution domain, with no flags.
const PER_LINUX: u32 = 0;
/// personality(2)'s argument that only asks.
const PERSONALITY_QUERY: u32 = 0xffff_ffff;

/// personality(persona): returns the process's persona and sets `persona` unless it is
/// 0xffffffff (a query), as Linux does (no value is refused). Fork and execve keep it. Kept
/// and reported, not applied: the flags programs set with it (`setarch -R`'s
/// ADDR_NO_RANDOMIZE: the VM places mappings the same way every run anyway;
/// READ_IMPLIES_EXEC, ADDR_LIMIT_32BIT, UNAME26) change nothing here.
pub fn sys_personality(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let persona = f.rdi as u32;
    let old = p.attributes.personality;
    if persona != PERSONALITY_QUERY {
        p.attributes.personality = persona;
    }
    Ok(old as usize)
}

/// The bytes of a thread's name, its NUL included (Linux's TASK_COMM_LEN).
pub const NAME_LEN: usize = 16;

/// The process attributes prctl sets and reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// PR_SET_PDEATHSIG's signal (0: none).
    pub parent_death_signal: u32,
    /// PR_SET_NO_NEW_PRIVS.
    pub no_new_privs: bool,
    /// PR_SET_CHILD_SUBREAPER.
    pub child_subreaper: bool,
    /// personality(2)'s execution domain and flags (recorded, not applied: see
    /// [`sys_personality`]).
    pub personality: u32,
}

impl Default for Attributes {
    /// A new process's: nothing set.
    fn default() -> Attributes {
        Attributes { parent_death_signal: 0, no_new_privs: false, child_subreaper: false, personality: PER_LINUX }
    }
}

/// A thread name as PR_SET_NAME stores it: the string at most 15 bytes long, NUL-padded.
pub fn name_of(bytes: &[u8]) -> [u8; NAME_LEN] {
    let mut name = [0u8; NAME_LEN];
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len()).min(NAME_LEN - 1);
    name[..len].copy_from_slice(&bytes[..len]);
    name
}

/// prctl(option, arg2, arg3, arg4, arg5).
pub fn sys_prctl(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [option, arg2, arg3, arg4, arg5, _] = f.syscall_args();
    let unused_zero = |args: &[u64]| if args.iter().all(|&a| a == 0) { Ok(()) } else { Err(Errno::EINVAL) };
    match option {
        PR_SET_NAME => {
            // Up to 15 bytes are read: a longer name is cut there, as Linux does.
            let mut raw = [0u8; NAME_LEN];
            for (i, byte) in raw.iter_mut().take(NAME_LEN - 1).enumerate() {
                let at = arg2.checked_add(i as u64).ok_or(Errno::EFAULT)?;
                *byte = user::read(&mut p.space, at, 1)?[0];
                if *byte == 0 {
                    break;
                }
            }
            let name = name_of(&raw);
            p.thread.name = Some(name);
            if p.thread.tid == p.pid {
                p.view.set_comm(Some(&name[..name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN)]));
            }
            Ok(0)
        }
        PR_GET_NAME => {
            let name = match p.thread.name {
                Some(name) => name,
                None => name_of(&p.vfs.comm()),
            };
            user::copy_out(&mut p.space, arg2, &name)?;
            Ok(0)
        }
        PR_SET_PDEATHSIG => {
            if !crate::signal::valid(arg2) && arg2 != 0 {
                return Err(Errno::EINVAL);
            }
            p.attributes.parent_death_signal = arg2 as u32;
            Ok(0)
        }
        PR_GET_PDEATHSIG => {
            user::write_u32(&mut p.space, arg2, p.attributes.parent_death_signal)?;
            Ok(0)
        }
        PR_GET_DUMPABLE => Ok(usize::from(p.view.dumpable())),
        PR_SET_DUMPABLE => {
            if arg2 > 1 {
                return Err(Errno::EINVAL);
            }
            p.view.set_dumpable(arg2 == 1);
            Ok(0)
        }
        PR_CAPBSET_READ => {
            if arg2 > CAP_LAST_CAP {
                return Err(Errno::EINVAL);
            }
            Ok(usize::from(p.view.capabilities().bounding & (1 << arg2) != 0))
        }
        PR_CAPBSET_DROP => {
            let mut caps = p.view.capabilities();
            caps.drop_bounding(arg2)?;
            p.view.set_capabilities(caps);
            Ok(0)
        }
        PR_GET_KEEPCAPS => Ok(usize::from(p.view.capabilities().keep)),
        PR_SET_KEEPCAPS => {
            if arg2 > 1 {
                return Err(Errno::EINVAL);
            }
            let mut caps = p.view.capabilities();
            caps.keep = arg2 == 1;
            p.view.set_capabilities(caps);
            Ok(0)
        }
        PR_CAP_AMBIENT => ambient(p, arg2, arg3, [arg4, arg5]),
        PR_SET_CHILD_SUBREAPER => {
            p.attributes.child_subreaper = arg2 != 0;
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => {
            user::write_u32(&mut p.space, arg2, u32::from(p.attributes.child_subreaper))?;
            Ok(0)
        }
        PR_SET_NO_NEW_PRIVS => {
            if arg2 != 1 {
                return Err(Errno::EINVAL);
            }
            unused_zero(&[arg3, arg4, arg5])?;
            p.attributes.no_new_privs = true;
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS => {
            unused_zero(&[arg2, arg3, arg4, arg5])?;
            Ok(usize::from(p.attributes.no_new_privs))
        }
        _ => Err(Errno::EINVAL),
    }
}

/// PR_CAP_AMBIENT's operations (`op`) on capability `cap`; the unused arguments must be 0
/// (EINVAL), as must `cap` for CLEAR_ALL.
fn ambient(p: &mut Process, op: u64, cap: u64, rest: [u64; 2]) -> SysResult {
    if rest != [0, 0] || (op == PR_CAP_AMBIENT_CLEAR_ALL && cap != 0) {
        return Err(Errno::EINVAL);
    }
    let mut caps = p.view.capabilities();
    if op == PR_CAP_AMBIENT_CLEAR_ALL {
        caps.ambient = 0;
        p.view.set_capabilities(caps);
        return Ok(0);
    }
    if cap > CAP_LAST_CAP {
        return Err(Errno::EINVAL);
    }
    match op {
        PR_CAP_AMBIENT_IS_SET => return Ok(usize::from(caps.ambient & (1 << cap) != 0)),
        PR_CAP_AMBIENT_RAISE => caps.raise_ambient(cap)?,
        PR_CAP_AMBIENT_LOWER => caps.ambient &= !(1 << cap),
        _ => return Err(Errno::EINVAL),
    }
    p.view.set_capabilities(caps);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_to_fifteen_bytes_and_nul_padded() {
        assert_eq!(&name_of(b"worker-1")[..9], b"worker-1\0");
        assert_eq!(name_of(b"a-name-longer-than-fifteen"), *b"a-name-longer-t\0");
        assert_eq!(name_of(b"ab\0cd"), *b"ab\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    }

    #[test]
    fn a_new_process_has_nothing_set() {
        let a = Attributes::default();
        assert!(!a.no_new_privs && !a.child_subreaper && a.parent_death_signal == 0);
    }
}
