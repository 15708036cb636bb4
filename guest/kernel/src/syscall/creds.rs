//! The user and group id calls: getuid and friends, the setuid family, setfsuid/setfsgid,
//! getgroups and setgroups, on the caller's `crate::creds::Identity` (kept in its `/proc`
//! view), with Linux's rules (`crate::creds`) and the capability changes a uid change brings.

use alloc::vec::Vec;

use crate::arch::frame::TrapFrame;
use crate::creds::{self, IdSet, NGROUPS_MAX};
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::user;

/// getuid(): the real uid.
pub fn sys_getuid(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(p.view.uids().real as usize)
}

/// geteuid(): the effective uid.
pub fn sys_geteuid(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(p.view.uids().effective as usize)
}

/// getgid(): the real gid.
pub fn sys_getgid(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(p.view.gids().real as usize)
}

/// getegid(): the effective gid.
pub fn sys_getegid(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(p.view.gids().effective as usize)
}

/// Writes the real, effective and saved ids of `ids` at the three addresses.
fn write_ids(p: &mut Process, addrs: [u64; 3], ids: IdSet) -> SysResult {
    for (addr, id) in addrs.into_iter().zip([ids.real, ids.effective, ids.saved]) {
        user::write_u32(&mut p.space, addr, id)?;
    }
    Ok(0)
}

/// getresuid(ruid, euid, suid).
pub fn sys_getresuid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let ids = p.view.uids();
    write_ids(p, [f.rdi, f.rsi, f.rdx], ids)
}

/// getresgid(rgid, egid, sgid).
pub fn sys_getresgid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let ids = p.view.gids();
    write_ids(p, [f.rdi, f.rsi, f.rdx], ids)
}

/// Changes the caller's uids as `change` says (given its uids and whether it holds
/// CAP_SETUID), with the capability changes that brings.
#[cold]
fn change_uids(p: &mut Process, change: &dyn Fn(IdSet, bool) -> Result<IdSet, Errno>) -> SysResult {
    let mut identity = p.view.identity();
    let mut caps = p.view.capabilities();
    let old = identity.uid;
    identity.uid = change(old, creds::may_set_uids(&caps))?;
    creds::fix_capabilities_for_uids(&mut caps, old, identity.uid);
    lose_dumpable_if_changed(p, old, identity.uid);
    p.view.set_identity(identity);
    p.view.set_capabilities(caps);
    Ok(0)
}

/// Changes the caller's gids as `change` says (given its gids and whether it holds
/// CAP_SETGID).
#[cold]
fn change_gids(p: &mut Process, change: &dyn Fn(IdSet, bool) -> Result<IdSet, Errno>) -> SysResult {
    let mut identity = p.view.identity();
    let old = identity.gid;
    identity.gid = change(old, creds::may_set_gids(&p.view.capabilities()))?;
    lose_dumpable_if_changed(p, old, identity.gid);
    p.view.set_identity(identity);
    Ok(0)
}

/// A change of the effective or file-system id makes the process not dumpable (its `/proc`
/// files root's), as Linux's commit_creds does.
fn lose_dumpable_if_changed(p: &Process, old: IdSet, new: IdSet) {
    if old.effective != new.effective || old.fs != new.fs {
        p.view.set_dumpable(false);
    }
}

/// setuid(uid).
pub fn sys_setuid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let uid = f.rdi as u32;
    change_uids(p, &|ids, privileged| ids.set(uid, privileged))
}

/// setgid(gid).
pub fn sys_setgid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let gid = f.rdi as u32;
    change_gids(p, &|ids, privileged| ids.set(gid, privileged))
}

/// setreuid(ruid, euid).
pub fn sys_setreuid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (real, effective) = (f.rdi as u32, f.rsi as u32);
    change_uids(p, &|ids, privileged| ids.set_real_effective(real, effective, privileged))
}

/// setregid(rgid, egid).
pub fn sys_setregid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (real, effective) = (f.rdi as u32, f.rsi as u32);
    change_gids(p, &|ids, privileged| ids.set_real_effective(real, effective, privileged))
}

/// setresuid(ruid, euid, suid).
pub fn sys_setresuid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let wanted = [f.rdi as u32, f.rsi as u32, f.rdx as u32];
    change_uids(p, &|ids, privileged| ids.set_all_three(wanted, privileged))
}

/// setresgid(rgid, egid, sgid).
pub fn sys_setresgid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let wanted = [f.rdi as u32, f.rsi as u32, f.rdx as u32];
    change_gids(p, &|ids, privileged| ids.set_all_three(wanted, privileged))
}

/// setfsuid(fsuid): the previous fsuid, whether or not it changed (Linux's way: the call
/// cannot fail); the file-system capabilities follow it in and out of 0.
#[cold]
pub fn sys_setfsuid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let mut identity = p.view.identity();
    let mut caps = p.view.capabilities();
    let old = identity.uid;
    if let Some(new) = old.set_fs(f.rdi as u32, creds::may_set_uids(&caps)) {
        identity.uid = new;
        creds::fix_capabilities_for_fsuid(&mut caps, old.fs, new.fs);
        lose_dumpable_if_changed(p, old, new);
        p.view.set_identity(identity);
        p.view.set_capabilities(caps);
    }
    Ok(old.fs as usize)
}

/// setfsgid(fsgid): as setfsuid, with CAP_SETGID.
#[cold]
pub fn sys_setfsgid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let mut identity = p.view.identity();
    let old = identity.gid;
    if let Some(new) = old.set_fs(f.rdi as u32, creds::may_set_gids(&p.view.capabilities())) {
        identity.gid = new;
        lose_dumpable_if_changed(p, old, new);
        p.view.set_identity(identity);
    }
    Ok(old.fs as usize)
}

/// getgroups(size, list): the supplementary groups (sorted); size 0 asks only how many.
/// EINVAL for a negative size or one smaller than the count.
pub fn sys_getgroups(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let size = f.rdi as i32;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let groups = p.view.identity().groups;
    if size == 0 || groups.is_empty() {
        return Ok(groups.len());
    }
    if (size as usize) < groups.len() {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_le_bytes()).collect();
    user::copy_out(&mut p.space, f.rsi, &bytes)?;
    Ok(groups.len())
}

/// setgroups(size, list): replaces the supplementary groups; EINVAL for a negative size or
/// one past NGROUPS_MAX, EPERM without CAP_SETGID, EFAULT for an unreadable list.
#[cold]
pub fn sys_setgroups(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let size = f.rdi as i32;
    if size < 0 || size as usize > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    if !creds::may_set_gids(&p.view.capabilities()) {
        return Err(Errno::EPERM);
    }
    let raw: &[u8] = if size == 0 { &[] } else { user::read(&mut p.space, f.rsi, size as u64 * 4)? };
    let groups = raw.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let mut identity = p.view.identity();
    identity.set_groups(groups);
    p.view.set_identity(identity);
    Ok(0)
}
