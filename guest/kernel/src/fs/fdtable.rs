//! [`FdTable`]: the process's file descriptors — which [`OpenFile`] each fd refers to and
//! whether it closes on exec. New fds take the lowest free number; there are at most
//! [`RLIMIT_NOFILE`] of them (`EMFILE` beyond), and a new fd must be below the process's soft
//! limit ([`FdTable::set_limit`], setrlimit's: `EMFILE` for a new lowest fd, `EINVAL` for
//! `F_DUPFD`'s minimum, `EBADF` for `dup2`'s target, as Linux), while fds already open past it
//! stay usable. Every lookup of a bad fd is `EBADF`.
//!
//! The table is plain data; the syscall layer wraps it in a lock (shared by threads created
//! with `CLONE_FILES`, cloned otherwise) and must not hold that lock across VFS calls.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::file::OpenFile;
use crate::fs::flags::O_CLOEXEC;

/// The fd limit (`RLIMIT_NOFILE`, soft and hard): fds are `0..RLIMIT_NOFILE`.
pub const RLIMIT_NOFILE: u64 = 1024;

const MAX_FDS: usize = RLIMIT_NOFILE as usize;

/// One open fd.
#[derive(Clone)]
pub struct FdEntry {
    /// The open file (shared with `dup`s of this fd).
    pub file: Arc<OpenFile>,
    /// `FD_CLOEXEC`.
    pub cloexec: bool,
}

/// A process's fd table.
#[derive(Clone)]
pub struct FdTable {
    slots: Vec<Option<FdEntry>>,
    /// New fds are below this (`RLIMIT_NOFILE`'s soft limit, at most [`RLIMIT_NOFILE`]).
    limit: usize,
    /// `RLIMIT_NOFILE`'s hard limit: the most the soft one may be raised to (kept here beside
    /// the soft one, so fork copies both, as Linux's rlimits).
    hard_limit: u64,
}

impl Default for FdTable {
    fn default() -> FdTable {
        FdTable::new()
    }
}

/// The slot index of `fd`: `EBADF` if negative or past the limit.
fn slot_index(fd: i32) -> Result<usize, Errno> {
    usize::try_from(fd).ok().filter(|&index| index < MAX_FDS).ok_or(Errno::EBADF)
}

impl FdTable {
    /// An empty table.
    pub fn new() -> FdTable {
        FdTable { slots: Vec::new(), limit: MAX_FDS, hard_limit: RLIMIT_NOFILE }
    }

    /// Sets the limit new fds stay below (setrlimit's `RLIMIT_NOFILE`, at most
    /// [`RLIMIT_NOFILE`]); fds open past it stay open.
    pub fn set_limit(&mut self, soft: u64) {
        self.limit = usize::try_from(soft).unwrap_or(MAX_FDS).min(MAX_FDS);
    }

    /// The limit new fds stay below ([`FdTable::set_limit`]).
    pub fn limit(&self) -> u64 {
        self.limit as u64
    }

    /// Sets `RLIMIT_NOFILE`'s hard limit (setrlimit checks it against the soft one).
    pub fn set_hard_limit(&mut self, hard: u64) {
        self.hard_limit = hard;
    }

    /// `RLIMIT_NOFILE`'s soft and hard limits.
    pub fn limits(&self) -> (u64, u64) {
        (self.limit as u64, self.hard_limit)
    }

    /// `new_fd` as a target of `dup2`/`dup3`: `EBADF` if negative or not below the limit.
    fn new_slot_index(&self, fd: i32) -> Result<usize, Errno> {
        usize::try_from(fd).ok().filter(|&index| index < self.limit).ok_or(Errno::EBADF)
    }

    /// The entry of `fd`: `EBADF` if it is not open.
    pub fn entry(&self, fd: i32) -> Result<&FdEntry, Errno> {
        let index = slot_index(fd)?;
        self.slots.get(index).and_then(Option::as_ref).ok_or(Errno::EBADF)
    }

    /// The file open as `fd`: `EBADF` if it is not open.
    pub fn get(&self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        Ok(self.entry(fd)?.file.clone())
    }

    /// Opens `file` at the lowest free fd.
    pub fn insert(&mut self, file: Arc<OpenFile>, cloexec: bool) -> Result<i32, Errno> {
        self.insert_from(0, file, cloexec)
    }

    /// Opens `file` at the lowest free fd at or above `minimum`: `EMFILE` if none is left.
    fn insert_from(&mut self, minimum: usize, file: Arc<OpenFile>, cloexec: bool) -> Result<i32, Errno> {
        let free = (minimum..self.limit).find(|&index| self.slots.get(index).is_none_or(Option::is_none));
        let index = free.ok_or(Errno::EMFILE)?;
        self.place(index, FdEntry { file, cloexec });
        Ok(index as i32)
    }

    fn place(&mut self, index: usize, entry: FdEntry) -> Option<FdEntry> {
        if self.slots.len() <= index {
            self.slots.resize(index + 1, None);
        }
        self.slots[index].replace(entry)
    }

    /// Closes `fd`; returns its file (drop it after unlocking the table): `EBADF` if not
    /// open.
    pub fn close(&mut self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        let index = slot_index(fd)?;
        let entry = self.slots.get_mut(index).and_then(Option::take).ok_or(Errno::EBADF)?;
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        Ok(entry.file)
    }

    /// `dup`: the lowest free fd, for the same file, without close-on-exec.
    pub fn dup(&mut self, fd: i32) -> Result<i32, Errno> {
        let file = self.get(fd)?;
        self.insert_from(0, file, false)
    }

    /// `fcntl(F_DUPFD / F_DUPFD_CLOEXEC)`: the lowest free fd at or above `minimum`.
    /// `EINVAL` if `minimum` is negative or not below the limit.
    pub fn dup_at_least(&mut self, fd: i32, minimum: i32, cloexec: bool) -> Result<i32, Errno> {
        let file = self.get(fd)?;
        let minimum = usize::try_from(minimum).ok().filter(|&m| m < self.limit).ok_or(Errno::EINVAL)?;
        self.insert_from(minimum, file, cloexec)
    }

    /// `dup2`: makes `new_fd` refer to `old_fd`'s file (closing what it had; that file is
    /// returned to drop after unlocking). The same fd twice is a no-op once `old_fd` is
    /// checked. `EBADF` for a bad `old_fd` or a `new_fd` out of range.
    pub fn dup2(&mut self, old_fd: i32, new_fd: i32) -> Result<(i32, Option<Arc<OpenFile>>), Errno> {
        let file = self.get(old_fd)?;
        if old_fd == new_fd {
            return Ok((new_fd, None));
        }
        let index = self.new_slot_index(new_fd)?;
        let replaced = self.place(index, FdEntry { file, cloexec: false });
        Ok((new_fd, replaced.map(|entry| entry.file)))
    }

    /// `dup3`: `dup2` with flags (only `O_CLOEXEC`): `EINVAL` for other flags or the same
    /// fd twice.
    pub fn dup3(&mut self, old_fd: i32, new_fd: i32, flags: u32) -> Result<(i32, Option<Arc<OpenFile>>), Errno> {
        if flags & !O_CLOEXEC != 0 || old_fd == new_fd {
            return Err(Errno::EINVAL);
        }
        let file = self.get(old_fd)?;
        let index = self.new_slot_index(new_fd)?;
        let replaced = self.place(index, FdEntry { file, cloexec: flags & O_CLOEXEC != 0 });
        Ok((new_fd, replaced.map(|entry| entry.file)))
    }

    /// `F_GETFD`: whether `fd` closes on exec.
    pub fn cloexec(&self, fd: i32) -> Result<bool, Errno> {
        Ok(self.entry(fd)?.cloexec)
    }

    /// `F_SETFD`, `FIOCLEX`, `FIONCLEX`: sets whether `fd` closes on exec.
    pub fn set_cloexec(&mut self, fd: i32, cloexec: bool) -> Result<(), Errno> {
        let index = slot_index(fd)?;
        let entry = self.slots.get_mut(index).and_then(Option::as_mut).ok_or(Errno::EBADF)?;
        entry.cloexec = cloexec;
        Ok(())
    }

    /// The open fds, in increasing order.
    pub fn open_fds(&self) -> Vec<i32> {
        self.slots.iter().enumerate().filter(|(_, slot)| slot.is_some()).map(|(index, _)| index as i32).collect()
    }

    /// Number of open fds.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|slot| slot.is_some()).count()
    }

    /// Whether no fd is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `close_range(first, last, 0)`: closes every open fd in `first..=last`; returns the
    /// files to drop after unlocking.
    pub fn close_range(&mut self, first: u32, last: u32) -> Vec<Arc<OpenFile>> {
        let mut closed = Vec::new();
        let end = (last as usize).min(self.slots.len().saturating_sub(1));
        for index in (first as usize)..=end {
            if let Some(entry) = self.slots.get_mut(index).and_then(Option::take) {
                closed.push(entry.file);
            }
        }
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        closed
    }

    /// `close_range(first, last, CLOSE_RANGE_CLOEXEC)`: marks every open fd in
    /// `first..=last` close-on-exec.
    pub fn set_cloexec_range(&mut self, first: u32, last: u32) {
        let end = (last as usize).min(self.slots.len().saturating_sub(1));
        for index in (first as usize)..=end {
            if let Some(entry) = self.slots.get_mut(index).and_then(Option::as_mut) {
                entry.cloexec = true;
            }
        }
    }

    /// At `execve`: closes the close-on-exec fds; returns their files to drop after
    /// unlocking.
    pub fn close_on_exec(&mut self) -> Vec<Arc<OpenFile>> {
        let mut closed = Vec::new();
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|entry| entry.cloexec) {
                if let Some(entry) = slot.take() {
                    closed.push(entry.file);
                }
            }
        }
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::flags::O_RDWR;
    use crate::fs::node::{Location, Node};
    use crate::fs::tmpfs::TmpFs;

    fn clock() -> (i64, u32) {
        (0, 0)
    }

    fn file() -> Arc<OpenFile> {
        let fs = TmpFs::for_test(1 << 20, clock, 0o755);
        let location = Location::new(1, Node::Tmp(fs.root().clone()), b"/tmp".to_vec());
        Arc::new(OpenFile::new(location, O_RDWR, Vec::new()))
    }

    #[test]
    fn lowest_free_fd_and_close() {
        let mut table = FdTable::new();
        assert!(table.is_empty());
        let (a, b) = (file(), file());
        assert_eq!(table.insert(a.clone(), false), Ok(0));
        assert_eq!(table.insert(b.clone(), true), Ok(1));
        assert_eq!(table.insert(a.clone(), false), Ok(2));
        assert!(Arc::ptr_eq(&table.close(1).unwrap(), &b));
        assert_eq!(table.close(1).err(), Some(Errno::EBADF));
        assert_eq!(table.insert(b.clone(), false), Ok(1));
        assert!(Arc::ptr_eq(&table.get(1).unwrap(), &b));
        assert_eq!(table.get(-1).err(), Some(Errno::EBADF));
        assert_eq!(table.get(5).err(), Some(Errno::EBADF));
        assert_eq!(table.get(i32::MAX).err(), Some(Errno::EBADF));
        assert_eq!(table.close(-3).err(), Some(Errno::EBADF));
        assert_eq!(table.open_fds(), [0, 1, 2]);
        assert_eq!(table.len(), 3);
        table.close(2).unwrap();
        assert_eq!(table.slots.len(), 2, "trailing free slots are trimmed");
    }

    #[test]
    fn the_limit_is_emfile() {
        let mut table = FdTable::new();
        let f = file();
        for expected in 0..RLIMIT_NOFILE as i32 {
            assert_eq!(table.insert(f.clone(), false), Ok(expected));
        }
        assert_eq!(table.insert(f.clone(), false), Err(Errno::EMFILE));
        assert_eq!(table.dup(0), Err(Errno::EMFILE));
        table.close(500).unwrap();
        assert_eq!(table.dup(0), Ok(500));
    }

    #[test]
    fn new_fds_stay_below_the_soft_limit_and_open_ones_past_it_stay_usable() {
        let mut table = FdTable::new();
        for _ in 0..8 {
            table.insert(file(), false).unwrap();
        }
        table.set_limit(5);
        assert_eq!(table.insert(file(), false), Err(Errno::EMFILE), "fds 0-4 are taken");
        assert!(table.get(7).is_ok(), "fd 7, open before, is still there");
        assert_eq!(table.dup2(0, 7).map(|(fd, _)| fd), Err(Errno::EBADF), "a target past the limit");
        assert_eq!(table.dup2(7, 7).map(|(fd, _)| fd), Ok(7), "the same fd: no check, as Linux");
        assert_eq!(table.dup3(0, 6, 0).map(|(fd, _)| fd), Err(Errno::EBADF));
        assert_eq!(table.dup_at_least(0, 5, false), Err(Errno::EINVAL));
        table.close(2).unwrap();
        assert_eq!(table.dup(0), Ok(2), "below the limit");
        let mut child = table.clone();
        assert_eq!(child.insert(file(), false), Err(Errno::EMFILE), "a fork keeps the limit");
        table.set_limit(RLIMIT_NOFILE);
        assert_eq!(table.insert(file(), false), Ok(8), "0-7 are open");
        table.set_limit(u64::MAX);
        assert_eq!(table.dup_at_least(0, MAX_FDS as i32, false), Err(Errno::EINVAL), "never past the table");
    }

    #[test]
    fn dup_family() {
        let mut table = FdTable::new();
        let (a, b) = (file(), file());
        table.insert(a.clone(), true).unwrap();
        table.insert(b.clone(), false).unwrap();
        assert_eq!(table.dup(0), Ok(2));
        assert_eq!(table.cloexec(2), Ok(false), "dup clears close-on-exec");
        assert_eq!(table.dup(9).err(), Some(Errno::EBADF));

        assert_eq!(table.dup_at_least(0, 10, true), Ok(10));
        assert_eq!(table.cloexec(10), Ok(true));
        assert_eq!(table.dup_at_least(0, 10, false), Ok(11));
        assert_eq!(table.dup_at_least(0, -1, false), Err(Errno::EINVAL));
        assert_eq!(table.dup_at_least(0, 1024, false), Err(Errno::EINVAL));
        assert_eq!(table.dup_at_least(77, 0, false), Err(Errno::EBADF));

        let (fd, replaced) = table.dup2(0, 1).unwrap();
        assert_eq!(fd, 1);
        assert!(Arc::ptr_eq(&replaced.unwrap(), &b));
        assert!(Arc::ptr_eq(&table.get(1).unwrap(), &a));
        assert_eq!(table.dup2(0, 0).map(|(fd, r)| (fd, r.is_none())), Ok((0, true)));
        assert_eq!(table.dup2(50, 50).err(), Some(Errno::EBADF), "dup2 of a closed fd to itself");
        assert_eq!(table.dup2(0, 1024).err(), Some(Errno::EBADF));
        assert_eq!(table.dup2(0, -1).err(), Some(Errno::EBADF));
        assert_eq!(table.dup2(0, 100).map(|(fd, r)| (fd, r.is_none())), Ok((100, true)));

        assert_eq!(table.dup3(0, 0, 0).err(), Some(Errno::EINVAL));
        assert_eq!(table.dup3(0, 5, 1).err(), Some(Errno::EINVAL));
        assert_eq!(table.dup3(0, 5, O_CLOEXEC).map(|(fd, _)| fd), Ok(5));
        assert_eq!(table.cloexec(5), Ok(true));
        assert_eq!(table.dup3(42, 5, 0).err(), Some(Errno::EBADF));
    }

    #[test]
    fn cloexec_flags_and_exec() {
        let mut table = FdTable::new();
        let f = file();
        for _ in 0..5 {
            table.insert(f.clone(), false).unwrap();
        }
        table.set_cloexec(1, true).unwrap();
        assert_eq!(table.set_cloexec(9, true), Err(Errno::EBADF));
        assert_eq!(table.cloexec(9), Err(Errno::EBADF));
        table.set_cloexec_range(3, u32::MAX);
        assert_eq!(table.close_on_exec().len(), 3);
        assert_eq!(table.open_fds(), [0, 2]);
        table.insert(f.clone(), false).unwrap();
        table.insert(f.clone(), false).unwrap();
        assert_eq!(table.close_range(1, 2).len(), 2);
        assert_eq!(table.open_fds(), [0, 3]);
        assert_eq!(table.close_range(0, u32::MAX).len(), 2);
        assert!(table.is_empty());
        assert!(table.close_range(5, 2).is_empty());
        let clone = table.clone();
        assert!(clone.is_empty());
    }
}
