//! Who may read, write, search or run a file: Linux's permission check (`generic_permission`)
//! of a file's mode and owner against the calling process's file-system uid, gid and
//! supplementary groups, with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH; and who may change a
//! file's mode or owner (CAP_FOWNER, CAP_CHOWN).
//!
//! A process that holds both DAC capabilities in its effective set (root, as every app starts
//! unless `[app] user` says otherwise) passes every check but one (running a file needs an
//! execute bit), so the VFS asks nothing of it: [`restricted`] is one relaxed load, kept for
//! the calling process whenever it changes or changes its capabilities. Only a process
//! without them pays for the checks (a look at its ids under its view's lock per check). The
//! calling process is the one `/proc/self` shows ([`ProcFs::caller_satisfies`]).

use core::sync::atomic::{AtomicBool, Ordering};

use crate::errno::Errno;
use crate::fs::proc::ProcFs;
use crate::fs::stat::{Stat, TimeChange, S_ISVTX};

/// `access` mode and permission bits: execute (search, for a directory).
pub const MAY_EXEC: u32 = 1;
/// Write.
pub const MAY_WRITE: u32 = 2;
/// Read.
pub const MAY_READ: u32 = 4;

const CAP_CHOWN: u64 = 1 << 0;
const CAP_DAC_OVERRIDE: u64 = 1 << 1;
const CAP_DAC_READ_SEARCH: u64 = 1 << 2;
const CAP_FOWNER: u64 = 1 << 3;

/// Whether the calling process lacks CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH: the VFS then
/// checks permissions.
static RESTRICTED: AtomicBool = AtomicBool::new(false);

/// `EACCES` unless the calling process may `want` (`MAY_*`) on the file `stat` describes,
/// with its file-system ids or (`real_ids`) its real ones. Callers ask only a [`restricted`]
/// caller (but `access` asks every one).
#[cold]
#[inline(never)]
pub fn check_as(caller: &ProcFs, stat: &Stat, want: u32, real_ids: bool) -> Result<(), Errno> {
    let is_dir = stat.file_type() == Some(crate::fs::stat::FileType::Directory);
    if caller.caller_satisfies(real_ids, &mut |who| who.may(stat.mode, (stat.uid, stat.gid), is_dir, want)) {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// `EPERM` unless the calling process may change the mode of the file `stat` describes
/// (asked only of a [`restricted`] caller: CAP_FOWNER goes with the DAC capabilities).
pub fn check_mode_change(caller: &ProcFs, stat: &Stat) -> Result<(), Errno> {
    if !caller.caller_satisfies(false, &mut |who| who.may_change_mode(stat.uid)) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// `EPERM` unless the calling process may give the file `stat` describes the owner `uid` and
/// group `gid` (`u32::MAX`: unchanged). Without CAP_CHOWN (which root holds even when the DAC
/// capabilities are gone) only the owner may choose one of its groups.
pub fn check_chown(caller: &ProcFs, stat: &Stat, uid: u32, gid: u32) -> Result<(), Errno> {
    if !caller.caller_satisfies(false, &mut |who| who.may_chown((stat.uid, stat.gid), uid, gid)) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// The check of a time change (asked only of a [`restricted`] caller): to explicit times
/// only the owner (or CAP_FOWNER), `EPERM`; to the current time also whoever may write it,
/// else `EACCES`.
pub fn check_times(caller: &ProcFs, stat: &Stat, atime: TimeChange, mtime: TimeChange) -> Result<(), Errno> {
    if caller.caller_satisfies(false, &mut |who| who.may_change_mode(stat.uid)) {
        return Ok(());
    }
    if matches!(atime, TimeChange::Set(_)) || matches!(mtime, TimeChange::Set(_)) {
        return Err(Errno::EPERM);
    }
    check_as(caller, stat, MAY_WRITE, false)
}

/// `EPERM` unless the calling process may remove (or rename) the entry `child` describes from
/// the directory `dir` describes: in a sticky directory (`/tmp`) only the entry's owner, the
/// directory's owner or CAP_FOWNER may.
pub fn check_removal(caller: &ProcFs, dir: &Stat, child: &Stat) -> Result<(), Errno> {
    if dir.mode & S_ISVTX == 0 || !restricted() {
        return Ok(());
    }
    if caller.caller_satisfies(false, &mut |who| who.may_remove_from_sticky(child.uid, dir.uid)) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// Whether the VFS must check the calling process's permissions.
#[inline]
pub fn restricted() -> bool {
    RESTRICTED.load(Ordering::Relaxed)
}

/// Records the calling process's effective capabilities (it became the calling process, or
/// changed them).
pub fn set_caller_capabilities(effective: u64) {
    RESTRICTED.store(lacks_dac(effective), Ordering::Relaxed);
}

/// Whether `effective` lacks CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH.
fn lacks_dac(effective: u64) -> bool {
    let both = CAP_DAC_OVERRIDE | CAP_DAC_READ_SEARCH;
    effective & both != both
}

/// Who asks: ids, supplementary groups and effective capabilities.
#[derive(Clone, Copy, Debug)]
pub struct Who<'a> {
    pub uid: u32,
    pub gid: u32,
    pub groups: &'a [u32],
    pub caps: u64,
}

impl Who<'_> {
    /// Root with every capability: who asks before any process does.
    pub const ROOT: Who<'static> = Who { uid: 0, gid: 0, groups: &[], caps: crate::caps::ALL };

    fn in_group(&self, gid: u32) -> bool {
        gid == self.gid || self.groups.contains(&gid)
    }

    /// Whether `want` (`MAY_*` bits) is allowed on a file of `mode` owned by `owner`
    /// (`is_dir`: a directory), as Linux's `generic_permission` decides.
    pub fn may(&self, mode: u32, owner: (u32, u32), is_dir: bool, want: u32) -> bool {
        let bits = if self.uid == owner.0 {
            mode >> 6
        } else if self.in_group(owner.1) {
            mode >> 3
        } else {
            mode
        } & 0o7;
        if want & !bits == 0 {
            return true;
        }
        let can = |cap: u64| self.caps & cap != 0;
        if is_dir {
            (want & MAY_WRITE == 0 && can(CAP_DAC_READ_SEARCH)) || can(CAP_DAC_OVERRIDE)
        } else {
            ((want & MAY_EXEC == 0 || mode & 0o111 != 0) && can(CAP_DAC_OVERRIDE))
                || (want == MAY_READ && can(CAP_DAC_READ_SEARCH))
        }
    }

    /// Whether it may change the mode (or the times) of a file owned by `owner`: its owner,
    /// or CAP_FOWNER.
    pub fn may_change_mode(&self, owner: u32) -> bool {
        self.uid == owner || self.caps & CAP_FOWNER != 0
    }

    /// Whether it may give a file owned by `owner` the new owner `uid`/`gid` (`u32::MAX`:
    /// unchanged), as Linux's `chown_ok`/`chgrp_ok`: CAP_CHOWN, or the owner keeping the uid
    /// and choosing a group of its own.
    pub fn may_chown(&self, owner: (u32, u32), uid: u32, gid: u32) -> bool {
        if self.caps & CAP_CHOWN != 0 {
            return true;
        }
        let owns = self.uid == owner.0;
        let uid_ok = uid == u32::MAX || (owns && uid == owner.0);
        let gid_ok = gid == u32::MAX || (owns && (gid == owner.1 || self.in_group(gid)));
        uid_ok && gid_ok
    }

    /// Whether it may remove or rename an entry owned by `owner` from a sticky directory
    /// owned by `dir_owner`: it owns one of them, or holds CAP_FOWNER.
    pub fn may_remove_from_sticky(&self, owner: u32, dir_owner: u32) -> bool {
        self.uid == owner || self.uid == dir_owner || self.caps & CAP_FOWNER != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(groups: &[u32]) -> Who<'_> {
        Who { uid: 1000, gid: 100, groups, caps: 0 }
    }

    #[test]
    fn owner_group_and_other_bits() {
        let me = user(&[50]);
        assert!(me.may(0o600, (1000, 0), false, MAY_READ | MAY_WRITE));
        assert!(!me.may(0o600, (0, 0), false, MAY_READ), "root's private file");
        assert!(me.may(0o640, (0, 50), false, MAY_READ), "a supplementary group");
        assert!(!me.may(0o640, (0, 50), false, MAY_WRITE));
        assert!(me.may(0o604, (0, 0), false, MAY_READ), "other");
        assert!(!me.may(0o064, (1000, 100), false, MAY_READ), "the owner's bits decide for the owner");
        assert!(me.may(0o711, (0, 0), true, MAY_EXEC), "search");
        assert!(!me.may(0o700, (0, 0), true, MAY_EXEC));
    }

    #[test]
    fn capabilities_override() {
        let root = Who { uid: 0, gid: 0, groups: &[], caps: CAP_DAC_OVERRIDE | CAP_DAC_READ_SEARCH };
        assert!(root.may(0o000, (1000, 100), false, MAY_READ | MAY_WRITE));
        assert!(!root.may(0o644, (0, 0), false, MAY_EXEC), "running needs an execute bit");
        assert!(root.may(0o100, (1000, 0), false, MAY_EXEC));
        assert!(root.may(0o000, (1000, 0), true, MAY_EXEC | MAY_WRITE), "directories");
        let reader = Who { caps: CAP_DAC_READ_SEARCH, ..user(&[]) };
        assert!(reader.may(0o000, (0, 0), false, MAY_READ));
        assert!(!reader.may(0o000, (0, 0), false, MAY_WRITE));
        assert!(reader.may(0o000, (0, 0), true, MAY_READ | MAY_EXEC));
        assert!(!reader.may(0o000, (0, 0), true, MAY_WRITE));
    }

    #[test]
    fn owners_and_modes() {
        let me = user(&[50]);
        assert!(me.may_change_mode(1000) && !me.may_change_mode(0));
        assert!(me.may_chown((1000, 100), u32::MAX, 50), "to a group of its own");
        assert!(!me.may_chown((1000, 100), u32::MAX, 7), "not to another group");
        assert!(!me.may_chown((1000, 100), 0, u32::MAX), "no giving away");
        assert!(me.may_chown((1000, 100), 1000, 100), "no change at all");
        assert!(!me.may_chown((0, 0), u32::MAX, 50), "not another's file");
        assert!(!me.may_chown((0, 0), 0, u32::MAX), "not even to its own owner");
        assert!(me.may_remove_from_sticky(1000, 0) && me.may_remove_from_sticky(0, 1000));
        assert!(!me.may_remove_from_sticky(0, 0));
        assert!(lacks_dac(CAP_DAC_OVERRIDE) && lacks_dac(0));
        assert!(!lacks_dac(crate::caps::ALL));
    }
}
