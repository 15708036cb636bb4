//! A process's user and group ids ([`Identity`]) and Linux's rules for changing them: the
//! setuid family (setuid, setreuid, setresuid, setfsuid and the gid ones), setgroups, and
//! what execve does to them; with the capability changes a uid change brings
//! ([`Capabilities`]: leaving root drops them, unless PR_SET_KEEPCAPS).
//!
//! The app starts with the ids the boot info names (`[app] user`, `uvm run --user`; root by
//! default), all four of each the same. A change needs CAP_SETUID (CAP_SETGID for gids and
//! groups) in the effective set, or only moves among the ids the process already has, as on
//! Linux; so `su-exec`, `gosu` and daemons that drop root work, and cannot come back.
//!
//! The ids are reported (`getresuid`, `/proc/PID/status`, a signal's sender, a socket's
//! peer), files a process makes are owned by its file-system ids, and file permissions are
//! checked against them (`fs::access`).

use alloc::vec::Vec;

use crate::caps::Capabilities;
use crate::errno::Errno;

/// CAP_SETGID: changing gids and groups freely.
const CAP_SETGID: u64 = 1 << 6;
/// CAP_SETUID: changing uids freely.
const CAP_SETUID: u64 = 1 << 7;
/// The capabilities that follow the file-system uid (Linux's `CAP_FS_SET`): CHOWN,
/// DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID, LINUX_IMMUTABLE, MKNOD, MAC_OVERRIDE.
const FS_CAPABILITIES: u64 = 0x1f | 1 << 9 | 1 << 27 | 1 << 32;
/// The most supplementary groups a process may have (`NGROUPS_MAX`).
pub const NGROUPS_MAX: usize = 65536;
/// `-1` as an id argument: "leave it" (setreuid, setresuid) or invalid (setuid, setfsuid).
const UNCHANGED: u32 = u32::MAX;

/// One kind of id (uids, or gids): the real, effective, saved and file-system one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdSet {
    pub real: u32,
    pub effective: u32,
    pub saved: u32,
    pub fs: u32,
}

impl IdSet {
    /// All four `id`.
    pub const fn all(id: u32) -> IdSet {
        IdSet { real: id, effective: id, saved: id, fs: id }
    }

    /// Whether `id` is its real, effective or saved id.
    fn holds(self, id: u32) -> bool {
        id == self.real || id == self.effective || id == self.saved
    }

    /// Whether any of the real, effective and saved ids is 0.
    fn any_root(self) -> bool {
        self.holds(0)
    }

    /// setuid/setgid(`id`): all four with the privilege, else the effective and file-system
    /// ones, if `id` is the real or saved one (EPERM otherwise; EINVAL for -1).
    pub fn set(self, id: u32, privileged: bool) -> Result<IdSet, Errno> {
        if id == UNCHANGED {
            return Err(Errno::EINVAL);
        }
        if privileged {
            return Ok(IdSet::all(id));
        }
        if id != self.real && id != self.saved {
            return Err(Errno::EPERM);
        }
        Ok(IdSet { effective: id, fs: id, ..self })
    }

    /// setreuid/setregid(`real`, `effective`) (-1: left): without the privilege the real id
    /// may become the effective one and the effective one any of the three. The saved id
    /// follows the effective one when the real one is set or the effective one becomes other
    /// than the old real one.
    pub fn set_real_effective(self, real: u32, effective: u32, privileged: bool) -> Result<IdSet, Errno> {
        let allowed_real = real == UNCHANGED || privileged || real == self.real || real == self.effective;
        if !allowed_real || !(effective == UNCHANGED || privileged || self.holds(effective)) {
            return Err(Errno::EPERM);
        }
        let mut new = self;
        if real != UNCHANGED {
            new.real = real;
        }
        if effective != UNCHANGED {
            new.effective = effective;
        }
        if real != UNCHANGED || (effective != UNCHANGED && effective != self.real) {
            new.saved = new.effective;
        }
        new.fs = new.effective;
        Ok(new)
    }

    /// setresuid/setresgid(`real`, `effective`, `saved`) (-1: left): without the privilege
    /// each must be one of the three it has.
    pub fn set_all_three(self, ids: [u32; 3], privileged: bool) -> Result<IdSet, Errno> {
        if !privileged && ids.iter().any(|&id| id != UNCHANGED && !self.holds(id)) {
            return Err(Errno::EPERM);
        }
        let pick = |id: u32, old: u32| if id == UNCHANGED { old } else { id };
        let effective = pick(ids[1], self.effective);
        Ok(IdSet { real: pick(ids[0], self.real), effective, saved: pick(ids[2], self.saved), fs: effective })
    }

    /// setfsuid/setfsgid(`id`): the new file-system id when allowed (one of the four, or the
    /// privilege); `None` when it stays (the call still succeeds, returning the old one).
    pub fn set_fs(self, id: u32, privileged: bool) -> Option<IdSet> {
        let allowed = privileged || self.holds(id) || id == self.fs;
        (id != UNCHANGED && id != self.fs && allowed).then_some(IdSet { fs: id, ..self })
    }

    /// The ids after an execve: the saved and file-system ids become the effective one.
    pub fn after_exec(self) -> IdSet {
        IdSet { saved: self.effective, fs: self.effective, ..self }
    }
}

/// A process's ids and supplementary groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub uid: IdSet,
    pub gid: IdSet,
    /// Sorted, as Linux keeps them (getgroups lists them so).
    pub groups: Vec<u32>,
}

impl Identity {
    /// The app's at boot: `uid`, `gid` and `groups` (sorted here).
    pub fn new(uid: u32, gid: u32, groups: &[u32]) -> Identity {
        let mut identity = Identity { uid: IdSet::all(uid), gid: IdSet::all(gid), groups: Vec::new() };
        identity.set_groups(groups.to_vec());
        identity
    }

    /// Replaces the supplementary groups (setgroups), kept sorted (duplicates stay, as on
    /// Linux).
    pub fn set_groups(&mut self, mut groups: Vec<u32>) {
        crate::sort::sort_by_key(&mut groups, |&g| g);
        self.groups = groups;
    }

    /// Who owns the files it makes: its file-system uid and gid.
    pub fn fs_owner(&self) -> (u32, u32) {
        (self.uid.fs, self.gid.fs)
    }
}

/// Whether `caps`' effective set allows changing uids freely.
pub fn may_set_uids(caps: &Capabilities) -> bool {
    caps.effective & CAP_SETUID != 0
}

/// Whether `caps`' effective set allows changing gids and groups freely.
pub fn may_set_gids(caps: &Capabilities) -> bool {
    caps.effective & CAP_SETGID != 0
}

/// The capability changes of a change of uids from `old` to `new` by the setuid family
/// (Linux's `cap_emulate_setxuid`): leaving root altogether (none of the real, effective and
/// saved uids 0 any more) clears the permitted and effective sets (unless PR_SET_KEEPCAPS)
/// and the ambient one; an effective uid that leaves 0 clears the effective set, one that
/// becomes 0 gets the permitted set.
pub fn fix_capabilities_for_uids(caps: &mut Capabilities, old: IdSet, new: IdSet) {
    if old.any_root() && !new.any_root() {
        if !caps.keep {
            caps.permitted = 0;
            caps.effective = 0;
        }
        caps.ambient = 0;
    }
    if old.effective == 0 && new.effective != 0 {
        caps.effective = 0;
    }
    if old.effective != 0 && new.effective == 0 {
        caps.effective = caps.permitted;
    }
}

/// The capability changes of setfsuid from `old` to `new`: the file-system capabilities
/// leave the effective set with a file-system uid that leaves 0, and come back (as far as
/// permitted) with one that becomes 0.
pub fn fix_capabilities_for_fsuid(caps: &mut Capabilities, old: u32, new: u32) {
    if old == 0 && new != 0 {
        caps.effective &= !FS_CAPABILITIES;
    }
    if old != 0 && new == 0 {
        caps.effective |= caps.permitted & FS_CAPABILITIES;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(real: u32, effective: u32, saved: u32) -> IdSet {
        IdSet { real, effective, saved, fs: effective }
    }

    #[test]
    fn setuid_as_root_sets_all_four_and_as_a_user_only_moves_among_its_own() {
        assert_eq!(IdSet::all(0).set(1000, true), Ok(IdSet::all(1000)));
        assert_eq!(IdSet::all(1000).set(0, false), Err(Errno::EPERM), "no way back");
        assert_eq!(IdSet::all(1000).set(UNCHANGED, true), Err(Errno::EINVAL));
        let moved = ids(1000, 1000, 0).set(0, false).unwrap();
        assert_eq!(moved, ids(1000, 0, 0), "the saved uid may become the effective one");
    }

    #[test]
    fn setreuid_follows_linuxs_saved_id_rule() {
        // Swapping the real and effective uids keeps a way back through the saved one.
        let swapped = ids(0, 1000, 0).set_real_effective(1000, 0, false);
        assert_eq!(swapped, Ok(ids(1000, 0, 0)));
        assert_eq!(ids(1000, 1000, 1000).set_real_effective(0, UNCHANGED, false), Err(Errno::EPERM));
        // Only the effective uid, to the real one: the saved uid stays.
        assert_eq!(ids(5, 0, 0).set_real_effective(UNCHANGED, 5, true), Ok(ids(5, 5, 0)));
        // To another one: the saved uid follows.
        assert_eq!(ids(5, 0, 0).set_real_effective(UNCHANGED, 7, true), Ok(ids(5, 7, 7)));
    }

    #[test]
    fn setresuid_and_setfsuid() {
        assert_eq!(IdSet::all(0).set_all_three([1, 2, 3], true), Ok(ids(1, 2, 3)));
        assert_eq!(ids(1, 2, 3).set_all_three([3, 1, UNCHANGED], false), Ok(ids(3, 1, 3)));
        assert_eq!(ids(1, 2, 3).set_all_three([4, UNCHANGED, UNCHANGED], false), Err(Errno::EPERM));
        assert_eq!(ids(1, 2, 3).set_fs(3, false).map(|s| s.fs), Some(3));
        assert_eq!(ids(1, 2, 3).set_fs(9, false), None, "not one of its own");
        assert_eq!(ids(1, 2, 3).set_fs(9, true).map(|s| s.fs), Some(9));
        assert_eq!(ids(1, 2, 3).after_exec(), IdSet { real: 1, effective: 2, saved: 2, fs: 2 });
    }

    #[test]
    fn leaving_root_drops_capabilities_unless_kept() {
        let mut caps = Capabilities::default();
        fix_capabilities_for_uids(&mut caps, IdSet::all(0), IdSet::all(1000));
        assert_eq!((caps.permitted, caps.effective), (0, 0));
        let mut kept = Capabilities { keep: true, ..Capabilities::default() };
        fix_capabilities_for_uids(&mut kept, IdSet::all(0), IdSet::all(1000));
        assert_eq!((kept.permitted, kept.effective), (crate::caps::ALL, 0), "kept, but not effective");
        // The effective uid alone leaves and comes back.
        let mut caps = Capabilities::default();
        fix_capabilities_for_uids(&mut caps, IdSet::all(0), ids(0, 1000, 0));
        assert_eq!((caps.permitted, caps.effective), (crate::caps::ALL, 0));
        fix_capabilities_for_uids(&mut caps, ids(0, 1000, 0), IdSet::all(0));
        assert_eq!(caps.effective, crate::caps::ALL);
        fix_capabilities_for_fsuid(&mut caps, 0, 1000);
        assert_eq!(caps.effective & FS_CAPABILITIES, 0);
        assert!(may_set_uids(&caps), "CAP_SETUID is not a file-system capability");
        fix_capabilities_for_fsuid(&mut caps, 1000, 0);
        assert_eq!(caps.effective, crate::caps::ALL);
    }

    #[test]
    fn groups_are_kept_sorted() {
        let identity = Identity::new(1, 2, &[30, 10, 30, 20]);
        assert_eq!(identity.groups, [10, 20, 30, 30]);
        assert_eq!(identity.fs_owner(), (1, 2));
    }
}
