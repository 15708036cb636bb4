//! Capabilities ([`Capabilities`]): a process's sets and Linux's rules for changing them
//! (capset, the bounding set, the ambient set, execve), kept for capget, prctl and
//! `/proc/PID/status` (`syscall::caps` serves the calls).
//!
//! An app that runs as root (the default) starts with every capability permitted and
//! effective and all of them in the bounding set, as a privileged container's first process
//! does; one started as another user (`[app] user`) with none permitted or effective, as
//! after Linux's execve by a user. A process may drop them (capset, PR_CAPBSET_DROP,
//! PR_CAP_AMBIENT), as daemons do before serving, and leaving root drops them
//! (`creds::fix_capabilities_for_uids`); fork copies them; at execve a root process gets back
//! the bounding set and its inheritable ones, another keeps its ambient ones (Linux's rules
//! without file capabilities).
//!
//! Checked where they govern the sets and ids themselves (capset, the bounding set, setuid
//! and setgid's CAP_SETUID and CAP_SETGID) and files (`fs::access`: CAP_DAC_OVERRIDE,
//! CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_CHOWN); the others are recorded, not enforced (the VM
//! is the isolation boundary), so a call another dropped capability would refuse on Linux
//! still succeeds here. Linux keeps the sets per thread; here they are the process's.

use crate::errno::Errno;

/// The highest capability number (CAP_CHECKPOINT_RESTORE, Linux 5.9 on).
pub const CAP_LAST_CAP: u64 = 40;
/// Every capability.
pub const ALL: u64 = (1 << (CAP_LAST_CAP + 1)) - 1;
/// CAP_SETPCAP: what dropping from the bounding set and raising inheritable ones need.
const CAP_SETPCAP: u64 = 1 << 8;

/// A process's capability sets, one bit per capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub bounding: u64,
    pub ambient: u64,
    /// PR_SET_KEEPCAPS: leaving root keeps the permitted set (`creds`).
    pub keep: bool,
}

impl Default for Capabilities {
    /// Root's: every capability permitted, effective and in the bounding set.
    fn default() -> Capabilities {
        Capabilities { effective: ALL, permitted: ALL, inheritable: 0, bounding: ALL, ambient: 0, keep: false }
    }
}

impl Capabilities {
    /// capset's checks (Linux's `cap_capset`), then the new sets: EPERM for a permitted
    /// capability it does not have, an effective one not permitted, or an inheritable one
    /// outside its inheritable and permitted ones (unless it holds CAP_SETPCAP) or outside the
    /// bounding set. Ambient ones no longer both permitted and inheritable go.
    pub fn set(&mut self, effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
        let capped = self.effective & CAP_SETPCAP == 0;
        if (capped && inheritable & !(self.inheritable | self.permitted) != 0)
            || inheritable & !(self.inheritable | self.bounding) != 0
            || permitted & !self.permitted != 0
            || effective & !permitted != 0
        {
            return Err(Errno::EPERM);
        }
        self.effective = effective;
        self.permitted = permitted;
        self.inheritable = inheritable;
        self.ambient &= permitted & inheritable;
        Ok(())
    }

    /// PR_CAPBSET_DROP: EINVAL past the last capability, EPERM without CAP_SETPCAP.
    pub fn drop_bounding(&mut self, cap: u64) -> Result<(), Errno> {
        if cap > CAP_LAST_CAP {
            return Err(Errno::EINVAL);
        }
        if self.effective & CAP_SETPCAP == 0 {
            return Err(Errno::EPERM);
        }
        self.bounding &= !(1 << cap);
        Ok(())
    }

    /// PR_CAP_AMBIENT_RAISE: the capability must be permitted and inheritable (EPERM).
    pub fn raise_ambient(&mut self, cap: u64) -> Result<(), Errno> {
        let bit = 1 << cap;
        if self.permitted & self.inheritable & bit == 0 {
            return Err(Errno::EPERM);
        }
        self.ambient |= bit;
        Ok(())
    }

    /// The sets after an execve (programs have no file capabilities here; Linux's
    /// `cap_bprm_creds_from_file`): with a real or effective uid of 0 (`uids`) the bounding
    /// set and the inheritable ones are permitted (with `no_new_privs`, no more than it
    /// had), and effective too with an effective uid of 0; otherwise only the ambient ones
    /// are, permitted and effective. PR_SET_KEEPCAPS ends.
    pub fn after_exec(&mut self, no_new_privs: bool, uids: crate::creds::IdSet) {
        let root = uids.real == 0 || uids.effective == 0;
        let gained = if root { self.bounding | self.inheritable } else { 0 } | self.ambient;
        self.permitted = if no_new_privs { gained & self.permitted } else { gained };
        self.ambient &= self.permitted & self.inheritable;
        self.effective = if uids.effective == 0 { self.permitted } else { self.ambient };
        self.keep = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHOWN: u64 = 1 << 0;
    const NET_BIND: u64 = 1 << 10;

    #[test]
    fn root_starts_with_everything_and_may_only_drop() {
        let mut caps = Capabilities::default();
        assert_eq!((caps.effective, caps.permitted, caps.bounding, caps.inheritable), (ALL, ALL, ALL, 0));
        assert_eq!(caps.set(NET_BIND, NET_BIND | CHOWN, NET_BIND), Ok(()));
        assert_eq!(caps.set(NET_BIND, ALL, 0), Err(Errno::EPERM), "no permitted capability comes back");
        assert_eq!(caps.set(CHOWN | NET_BIND, NET_BIND, 0), Err(Errno::EPERM), "effective within permitted");
        assert_eq!(caps.set(NET_BIND, NET_BIND | CHOWN, NET_BIND | (1 << 20)), Err(Errno::EPERM), "no SETPCAP");
        assert_eq!(caps.drop_bounding(3), Err(Errno::EPERM), "dropping from the bounding set needs SETPCAP");
        assert_eq!(caps.raise_ambient(10), Ok(()));
        assert_eq!(caps.raise_ambient(0), Err(Errno::EPERM), "CHOWN is not inheritable");
        assert_eq!(caps.set(NET_BIND, NET_BIND | CHOWN, 0), Ok(()));
        assert_eq!(caps.ambient, 0, "an ambient capability goes with its inheritable one");
    }

    #[test]
    fn execve_gives_root_its_bounding_set_back() {
        let mut caps = Capabilities::default();
        caps.drop_bounding(CAP_LAST_CAP).unwrap();
        assert_eq!(caps.drop_bounding(CAP_LAST_CAP + 1), Err(Errno::EINVAL));
        caps.set(0, CHOWN, 0).unwrap();
        let mut without_new_privs = caps;
        let root = crate::creds::IdSet::all(0);
        caps.after_exec(false, root);
        assert_eq!(caps.permitted, ALL & !(1 << CAP_LAST_CAP));
        assert_eq!(caps.effective, caps.permitted);
        without_new_privs.after_exec(true, root);
        assert_eq!(without_new_privs.permitted, CHOWN, "no_new_privs: nothing gained");
    }

    #[test]
    fn execve_as_a_user_keeps_only_the_ambient_set() {
        let mut caps = Capabilities::default();
        caps.set(ALL, ALL, NET_BIND).unwrap();
        caps.raise_ambient(10).unwrap();
        caps.after_exec(false, crate::creds::IdSet::all(1000));
        assert_eq!((caps.permitted, caps.effective, caps.ambient), (NET_BIND, NET_BIND, NET_BIND));
        let mut setuid_like = Capabilities::default();
        setuid_like.after_exec(false, crate::creds::IdSet { real: 0, effective: 1000, saved: 1000, fs: 1000 });
        assert_eq!((setuid_like.permitted, setuid_like.effective), (ALL, 0), "real root: permitted, not effective");
    }
}
