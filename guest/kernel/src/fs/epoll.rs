//! [`Epoll`]: an epoll instance — its interest list and Linux's rules for what `epoll_wait`
//! reports — and [`Changes`], the wake-up counts that pipes, eventfds and the console keep so
//! that edge-triggered entries can tell a new event from an old one.
//!
//! # The interest list
//!
//! An entry is keyed, as on Linux, by the open file *and* the fd number it was added with
//! (a `dup` of an fd can be added too, as another entry). It holds the file weakly: an entry
//! whose file's last reference is gone (its last fd closed) disappears, as Linux removes it
//! when the file is released; while a `dup` keeps the file alive, the entry stays and still
//! reports with the data it was given. [`control`] is `epoll_ctl` once the syscall layer has
//! found both files, with Linux's checks in Linux's order: `EPERM` for a file that cannot
//! be polled (regular files, directories, most devices: see `OpenFile::can_poll`), `EINVAL`
//! for an epfd that is no epoll file, for the epoll file itself, for a misused
//! `EPOLLEXCLUSIVE` and for an unknown op, `ELOOP` for an epoll file that would watch itself
//! through others (or nest deeper than [`EP_MAX_NESTS`]), then `EEXIST` / `ENOENT`.
//! `EPOLLERR | EPOLLHUP` are added to every entry's events, so they are always reported.
//!
//! # Reporting
//!
//! [`Epoll::wait_ready`] scans the interest list (from where the last full scan stopped, so
//! that with more ready entries than `maxevents` every one gets its turn, as Linux's ready
//! list rotates) and reports `readiness & events` of each entry that qualifies:
//! - level-triggered (the default): whenever that is not empty;
//! - `EPOLLET`: only if the entry was triggered since the scan that last looked at it: it was
//!   just added or modified, its file changed in a way its events care about (its
//!   [`Changes`]: a write for readers, a read that made room for writers, a hang-up for
//!   everyone — what wakes an epoll entry on Linux), or it gained a readiness bit;
//! - `EPOLLONESHOT`: once; then the entry is disarmed (reports nothing, not even
//!   `EPOLLHUP`) until `EPOLL_CTL_MOD` arms it again.
//!
//! `EPOLLWAKEUP` is accepted and has no effect (nothing suspends here); `EPOLLEXCLUSIVE` is
//! accepted on `EPOLL_CTL_ADD` and changes nothing (a wait wakes every waiting thread, which
//! then rescans: the exclusive wake-up is an optimisation).
//!
//! An epoll file can itself be watched (by `poll`/`select` or by another epoll instance):
//! it is readable (`POLLIN | POLLRDNORM`) when a scan would report something, without
//! consuming edge-triggered events. Nesting is checked for loops on `EPOLL_CTL_ADD`; a chain
//! deeper than [`EP_MAX_NESTS`] grown from below reads as not ready past that depth.
//!
//! # Waiting
//!
//! Nothing here waits: the syscall layer scans, and with nothing to report waits for a
//! change (another thread's syscall, or the host's input when [`Epoll::console_input`]
//! names a watched console with no input yet) and scans again.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::file::OpenFile;
use crate::fs::stat::{Stat, Timespec};
use crate::sync::SpinLock;

/// There is data to read.
pub const EPOLLIN: u32 = 0x1;
/// There is urgent data.
pub const EPOLLPRI: u32 = 0x2;
/// Writing will not block.
pub const EPOLLOUT: u32 = 0x4;
/// An error condition; always reported.
pub const EPOLLERR: u32 = 0x8;
/// Hung up; always reported.
pub const EPOLLHUP: u32 = 0x10;
/// Normal data to read.
pub const EPOLLRDNORM: u32 = 0x40;
/// Priority-band data to read.
pub const EPOLLRDBAND: u32 = 0x80;
/// Writing normal data will not block.
pub const EPOLLWRNORM: u32 = 0x100;
/// Writing priority-band data will not block.
pub const EPOLLWRBAND: u32 = 0x200;
/// A message (unused by Linux).
pub const EPOLLMSG: u32 = 0x400;
/// The peer shut down its writing half (sockets).
pub const EPOLLRDHUP: u32 = 0x2000;
/// Wake one of the instances that watch the file (`EPOLL_CTL_ADD` only).
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
/// Keep the system awake while the event is pending (no effect here).
pub const EPOLLWAKEUP: u32 = 1 << 29;
/// Report once, then disarm until `EPOLL_CTL_MOD`.
pub const EPOLLONESHOT: u32 = 1 << 30;
/// Edge-triggered.
pub const EPOLLET: u32 = 1 << 31;

/// `epoll_ctl`: add an entry.
pub const EPOLL_CTL_ADD: i32 = 1;
/// `epoll_ctl`: remove an entry.
pub const EPOLL_CTL_DEL: i32 = 2;
/// `epoll_ctl`: change an entry.
pub const EPOLL_CTL_MOD: i32 = 3;
/// `epoll_create1` flag: `O_CLOEXEC`.
pub const EPOLL_CLOEXEC: u32 = crate::fs::flags::O_CLOEXEC;

/// Bytes of a `struct epoll_event` (packed on x86-64: `u32 events`, `u64 data`).
pub const EPOLL_EVENT_SIZE: usize = 12;
/// The most events one `epoll_wait` may ask for (Linux's `EP_MAX_EVENTS`).
pub const EP_MAX_EVENTS: usize = i32::MAX as usize / EPOLL_EVENT_SIZE;
/// How deep epoll instances may watch each other (Linux's `EP_MAX_NESTS`).
pub const EP_MAX_NESTS: u32 = 4;

/// The bits of `events` that are flags rather than poll events.
const FLAG_BITS: u32 = EPOLLET | EPOLLONESHOT | EPOLLWAKEUP | EPOLLEXCLUSIVE;
/// What `EPOLLEXCLUSIVE` may come with.
const EXCLUSIVE_OK: u32 = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/// Events a write by the other side (new data) concerns.
const INPUT_EVENTS: u32 = EPOLLIN | EPOLLRDNORM | EPOLLRDBAND | EPOLLPRI | EPOLLRDHUP | EPOLLMSG;
/// Events a read by the other side (new room) concerns.
const OUTPUT_EVENTS: u32 = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;

/// How many times a file's readiness may have changed, by kind of wake-up: what an
/// edge-triggered entry compares with what it saw. Only equality matters (the counts wrap).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Wake-ups of readers: data was added.
    pub input: u64,
    /// Wake-ups of writers: room was made.
    pub output: u64,
    /// Wake-ups of everyone: an end closed.
    pub hangup: u64,
}

impl Changes {
    /// Data was added.
    pub fn input_changed(&mut self) {
        self.input = self.input.wrapping_add(1);
        crate::wait::note_io_event();
    }

    /// Room was made.
    pub fn output_changed(&mut self) {
        self.output = self.output.wrapping_add(1);
        crate::wait::note_io_event();
    }

    /// An end closed: every watcher is woken.
    pub fn hung_up(&mut self) {
        self.hangup = self.hangup.wrapping_add(1);
        crate::wait::note_io_event();
    }

    /// Whether going from `seen` to `self` wakes an entry watching `events`.
    fn wakes(self, seen: Changes, events: u32) -> bool {
        self.hangup != seen.hangup
            || (self.input != seen.input && events & INPUT_EVENTS != 0)
            || (self.output != seen.output && events & OUTPUT_EVENTS != 0)
    }
}

/// A `struct epoll_event`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EpollEvent {
    /// Events (interest in `epoll_ctl`, what holds in `epoll_wait`).
    pub events: u32,
    /// The app's data, echoed.
    pub data: u64,
}

impl EpollEvent {
    /// Decodes the app's bytes.
    pub fn from_bytes(bytes: &[u8; EPOLL_EVENT_SIZE]) -> EpollEvent {
        let mut events = [0u8; 4];
        events.copy_from_slice(&bytes[..4]);
        let mut data = [0u8; 8];
        data.copy_from_slice(&bytes[4..]);
        EpollEvent { events: u32::from_le_bytes(events), data: u64::from_le_bytes(data) }
    }

    /// The app's bytes.
    pub fn to_bytes(self) -> [u8; EPOLL_EVENT_SIZE] {
        let mut out = [0u8; EPOLL_EVENT_SIZE];
        out[..4].copy_from_slice(&self.events.to_le_bytes());
        out[4..].copy_from_slice(&self.data.to_le_bytes());
        out
    }
}

/// What a scan sees of a watched file.
#[derive(Clone, Copy)]
struct Observed {
    ready: u32,
    changes: Option<Changes>,
}

impl Observed {
    fn of(file: &OpenFile, depth: u32) -> Observed {
        Observed { ready: u32::from(file.poll_events_nested(depth)), changes: file.poll_changes_nested(depth) }
    }
}

/// One entry of the interest list.
struct Entry {
    fd: i32,
    file: Weak<OpenFile>,
    /// The interest and flags, with `EPOLLERR | EPOLLHUP`.
    events: u32,
    data: u64,
    /// `EPOLLONESHOT` entries are disarmed once reported.
    armed: bool,
    /// Edge-triggered: added or modified since a scan last looked.
    pending: bool,
    /// Edge-triggered: what the last scan saw.
    seen_changes: Option<Changes>,
    seen_ready: u32,
}

impl Entry {
    fn new(fd: i32, file: &Arc<OpenFile>, event: EpollEvent) -> Entry {
        Entry {
            fd,
            file: Arc::downgrade(file),
            events: event.events | EPOLLERR | EPOLLHUP,
            data: event.data,
            armed: true,
            pending: true,
            seen_changes: None,
            seen_ready: 0,
        }
    }

    fn is(&self, file: &Arc<OpenFile>, fd: i32) -> bool {
        self.fd == fd && Weak::as_ptr(&self.file) == Arc::as_ptr(file)
    }

    /// The poll events this entry reports (none while disarmed).
    fn interest(&self) -> u32 {
        if self.armed {
            self.events & !FLAG_BITS
        } else {
            0
        }
    }

    fn edge_triggered(&self) -> bool {
        self.events & EPOLLET != 0
    }

    /// Whether an edge-triggered entry was woken since the last scan looked at it.
    fn triggered(&self, now: &Observed) -> bool {
        let interest = self.interest();
        let woken = match (now.changes, self.seen_changes) {
            (Some(now), Some(seen)) => now.wakes(seen, interest),
            (Some(_), None) => true,
            (None, _) => false,
        };
        self.pending || woken || now.ready & interest & !self.seen_ready != 0
    }

    /// What this entry reports for `now`, if anything.
    fn report(&self, now: &Observed) -> Option<u32> {
        let revents = now.ready & self.interest();
        if revents == 0 || (self.edge_triggered() && !self.triggered(now)) {
            return None;
        }
        Some(revents)
    }

    /// A scan looked at the entry (and reported it if `reported`).
    fn looked(&mut self, now: &Observed, reported: bool) {
        self.pending = false;
        self.seen_changes = now.changes;
        self.seen_ready = now.ready;
        if reported && self.events & EPOLLONESHOT != 0 {
            self.armed = false;
        }
    }
}

struct State {
    entries: Vec<Entry>,
    /// Where the next scan starts (after the last entry a full scan reported).
    next: usize,
    /// Interest-list changes, for the edge-triggered entries of instances watching this one.
    generation: u64,
}

impl State {
    /// Forgets the entries whose file is gone.
    fn prune(&mut self) {
        let mut index = 0;
        while index < self.entries.len() {
            if self.entries[index].file.strong_count() == 0 {
                self.remove(index);
            } else {
                index += 1;
            }
        }
    }

    fn remove(&mut self, index: usize) {
        self.entries.remove(index);
        if index < self.next {
            self.next -= 1;
        }
    }

    fn find(&self, file: &Arc<OpenFile>, fd: i32) -> Option<usize> {
        self.entries.iter().position(|entry| entry.is(file, fd))
    }
}

/// An epoll instance.
pub struct Epoll {
    time: Timespec,
    state: SpinLock<State>,
}

impl Epoll {
    /// An instance with an empty interest list; `time` is the anonymous inode's time.
    pub fn new(time: Timespec) -> Arc<Epoll> {
        Arc::new(Epoll { time, state: SpinLock::new(State { entries: Vec::new(), next: 0, generation: 0 }) })
    }

    /// The metadata: the anonymous inode's.
    pub fn stat(&self) -> Stat {
        crate::fs::anon::stat(self.time)
    }

    /// How many entries the interest list holds (files that are gone not counted).
    pub fn len(&self) -> usize {
        let mut state = self.state.lock();
        state.prune();
        state.entries.len()
    }

    /// Whether the interest list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies `op` for `file` as fd `fd` (the checks before are [`control`]'s).
    fn apply(&self, op: i32, fd: i32, file: &Arc<OpenFile>, event: EpollEvent) -> Result<(), Errno> {
        let mut state = self.state.lock();
        state.prune();
        let found = state.find(file, fd);
        match (op, found) {
            (EPOLL_CTL_ADD, None) => state.entries.push(Entry::new(fd, file, event)),
            (EPOLL_CTL_ADD, Some(_)) => return Err(Errno::EEXIST),
            (EPOLL_CTL_DEL, Some(index)) => state.remove(index),
            (EPOLL_CTL_MOD, Some(index)) => {
                let entry = &mut state.entries[index];
                if entry.events & EPOLLEXCLUSIVE != 0 {
                    return Err(Errno::EINVAL);
                }
                *entry = Entry::new(fd, file, event);
            }
            (EPOLL_CTL_DEL | EPOLL_CTL_MOD, None) => return Err(Errno::ENOENT),
            _ => return Err(Errno::EINVAL),
        }
        state.generation = state.generation.wrapping_add(1);
        Ok(())
    }

    /// `ELOOP` if this instance can be reached from `target` (an instance it is about to
    /// watch, `depth` levels below it) through entries, or if instances nest deeper than
    /// [`EP_MAX_NESTS`] below it that way.
    fn check_reach(&self, target: &Epoll, depth: u32) -> Result<(), Errno> {
        if core::ptr::eq(self, target) {
            return Err(Errno::ELOOP);
        }
        if depth > EP_MAX_NESTS {
            return Err(Errno::ELOOP);
        }
        let nested: Vec<Arc<Epoll>> = {
            let state = target.state.lock();
            state
                .entries
                .iter()
                .filter_map(|entry| entry.file.upgrade())
                .filter_map(|file| file.epoll().cloned())
                .collect()
        };
        for inner in nested {
            self.check_reach(&inner, depth + 1)?;
        }
        Ok(())
    }

    /// `epoll_wait`'s scan: finds up to `max` entries to report and hands their events to
    /// `deliver` (which copies them to the app). They count as reported (edge-triggered
    /// entries consumed, one-shot entries disarmed) only if `deliver` succeeds; its error is
    /// returned otherwise. Returns how many were reported (0: nothing to report).
    pub fn wait_ready(
        &self,
        max: usize,
        deliver: impl FnOnce(&[EpollEvent]) -> Result<(), Errno>,
    ) -> Result<usize, Errno> {
        let mut state = self.state.lock();
        state.prune();
        let count = state.entries.len();
        let start = if state.next < count { state.next } else { 0 };
        let mut events = Vec::new();
        let mut looked = Vec::new();
        let mut last = 0;
        for step in 0..count {
            if events.len() >= max {
                break;
            }
            let index = (start + step) % count;
            let entry = &state.entries[index];
            let Some(file) = entry.file.upgrade() else { continue };
            let now = Observed::of(&file, 1);
            let report = entry.report(&now);
            if let Some(revents) = report {
                events.push(EpollEvent { events: revents, data: entry.data });
                last = index;
            }
            looked.push((index, now, report.is_some()));
        }
        if !events.is_empty() {
            deliver(&events)?;
            if events.len() >= max {
                state.next = last + 1;
            }
        }
        for (index, now, reported) in looked {
            state.entries[index].looked(&now, reported);
        }
        Ok(events.len())
    }

    /// The `poll` events of the epoll file itself: `POLLIN | POLLRDNORM` when a scan would
    /// report something (nothing is consumed). `depth`: how deep in a chain of instances this
    /// one is (past [`EP_MAX_NESTS`], nothing is looked at).
    pub fn poll(&self, depth: u32) -> u16 {
        use crate::fs::flags::{POLLIN, POLLRDNORM};
        if depth > EP_MAX_NESTS {
            return 0;
        }
        let state = self.state.lock();
        let ready = state.entries.iter().any(|entry| match entry.file.upgrade() {
            Some(file) if entry.interest() != 0 => entry.report(&Observed::of(&file, depth + 1)).is_some(),
            _ => false,
        });
        if ready {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }

    /// The epoll file's [`Changes`], for the edge-triggered entries of instances watching it:
    /// any change of the interest list or of a watched file its entries care about.
    pub fn changes(&self, depth: u32) -> Changes {
        if depth > EP_MAX_NESTS {
            return Changes::default();
        }
        let state = self.state.lock();
        let mut input = state.generation << 32;
        for entry in &state.entries {
            let (Some(file), true) = (entry.file.upgrade(), entry.armed) else { continue };
            let Some(changes) = file.poll_changes_nested(depth + 1) else { continue };
            let interest = entry.interest();
            input = input.wrapping_add(changes.hangup);
            if interest & INPUT_EVENTS != 0 {
                input = input.wrapping_add(changes.input);
            }
            if interest & OUTPUT_EVENTS != 0 {
                input = input.wrapping_add(changes.output);
            }
        }
        Changes { input, output: 0, hangup: 0 }
    }

    /// A watched console file with no input yet whose input would be reported (here or in a
    /// watched instance): the waiting syscall waits for the host's input on it.
    pub fn console_input(&self, depth: u32) -> Option<Arc<OpenFile>> {
        if depth > EP_MAX_NESTS {
            return None;
        }
        let state = self.state.lock();
        for entry in &state.entries {
            let Some(file) = entry.file.upgrade() else { continue };
            if entry.interest() & (EPOLLIN | EPOLLRDNORM) == 0 {
                continue;
            }
            if file.console_input().is_some() {
                if u32::from(file.poll_events()) & EPOLLIN == 0 {
                    return Some(file);
                }
            } else if let Some(inner) = file.epoll() {
                if let Some(console) = inner.console_input(depth + 1) {
                    return Some(console);
                }
            }
        }
        None
    }
}

/// `epoll_ctl(epfd, op, fd, event)` once the syscall layer has the files: `epoll_file` is
/// epfd's, `target` fd's (`event` is ignored for `EPOLL_CTL_DEL`). See the module docs for
/// the checks.
pub fn control(
    epoll_file: &OpenFile,
    op: i32,
    fd: i32,
    target: &Arc<OpenFile>,
    event: EpollEvent,
) -> Result<(), Errno> {
    if !target.can_poll() {
        return Err(Errno::EPERM);
    }
    let epoll = epoll_file.epoll().ok_or(Errno::EINVAL)?;
    let nested = target.epoll();
    if nested.is_some_and(|inner| Arc::ptr_eq(inner, epoll)) {
        return Err(Errno::EINVAL);
    }
    if op != EPOLL_CTL_DEL
        && event.events & EPOLLEXCLUSIVE != 0
        && (op == EPOLL_CTL_MOD || (op == EPOLL_CTL_ADD && (nested.is_some() || event.events & !EXCLUSIVE_OK != 0)))
    {
        return Err(Errno::EINVAL);
    }
    if let (EPOLL_CTL_ADD, Some(inner)) = (op, nested) {
        epoll.check_reach(inner, 1)?;
    }
    epoll.apply(op, fd, target, event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::anon::AnonNode;
    use crate::fs::eventfd::EventFd;
    use crate::fs::flags::{O_RDONLY, O_RDWR, O_WRONLY};
    use crate::fs::node::{Location, Node};
    use crate::fs::pipe::Pipe;
    use alloc::vec;

    fn eventfd(initval: u64) -> Arc<OpenFile> {
        let node = Node::Anon(AnonNode::EventFd(EventFd::new(initval, false, Timespec::default())));
        Arc::new(OpenFile::new(Location::new(6, node, b"anon_inode:[eventfd]".to_vec()), O_RDWR, Vec::new()))
    }

    fn epoll() -> Arc<OpenFile> {
        let node = Node::Anon(AnonNode::Epoll(Epoll::new(Timespec::default())));
        Arc::new(OpenFile::new(Location::new(6, node, b"anon_inode:[eventpoll]".to_vec()), O_RDWR, Vec::new()))
    }

    fn pipe() -> (Arc<OpenFile>, Arc<OpenFile>) {
        let location = Location::new(5, Node::Pipe(Pipe::new(1, 0, 0, Timespec::default())), b"pipe:[1]".to_vec());
        let read_end = Arc::new(OpenFile::new(location.clone(), O_RDONLY, Vec::new()));
        let write_end = Arc::new(OpenFile::new(location, O_WRONLY, Vec::new()));
        (read_end, write_end)
    }

    fn add(ep: &OpenFile, fd: i32, file: &Arc<OpenFile>, events: u32) -> Result<(), Errno> {
        control(ep, EPOLL_CTL_ADD, fd, file, EpollEvent { events, data: fd as u64 })
    }

    /// What a wait without waiting reports: (data, events) pairs.
    fn wait(ep: &OpenFile, max: usize) -> Vec<(u64, u32)> {
        let mut got = Vec::new();
        ep.epoll()
            .unwrap()
            .wait_ready(max, |events| {
                got.extend(events.iter().map(|e| (e.data, e.events)));
                Ok(())
            })
            .unwrap();
        got
    }

    fn signal(efd: &OpenFile, value: u64) {
        efd.write(&value.to_ne_bytes()).unwrap();
    }

    fn drain(efd: &OpenFile) {
        efd.read(&mut [0u8; 8]).unwrap();
    }

    #[test]
    fn epoll_event_layout_is_packed() {
        let event = EpollEvent { events: EPOLLIN | EPOLLET, data: 0x1122_3344_5566_7788 };
        let bytes = event.to_bytes();
        assert_eq!(bytes.len(), 12);
        assert_eq!(&bytes[..4], &(EPOLLIN | EPOLLET).to_le_bytes());
        assert_eq!(&bytes[4..], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(EpollEvent::from_bytes(&bytes), event);
        assert_eq!(EP_MAX_EVENTS, 178_956_970);
    }

    #[test]
    fn interest_list_errors_follow_linux() {
        let ep = epoll();
        let efd = eventfd(0);
        let event = EpollEvent { events: EPOLLIN, data: 1 };
        assert_eq!(control(&ep, EPOLL_CTL_MOD, 4, &efd, event), Err(Errno::ENOENT));
        assert_eq!(control(&ep, EPOLL_CTL_DEL, 4, &efd, event), Err(Errno::ENOENT));
        assert_eq!(control(&ep, EPOLL_CTL_ADD, 4, &efd, event), Ok(()));
        assert_eq!(control(&ep, EPOLL_CTL_ADD, 4, &efd, event), Err(Errno::EEXIST));
        assert_eq!(control(&ep, EPOLL_CTL_ADD, 5, &efd, event), Ok(()), "another fd of the file: another entry");
        assert_eq!(control(&ep, 9, 4, &efd, event), Err(Errno::EINVAL), "unknown op");
        assert_eq!(control(&ep, EPOLL_CTL_MOD, 4, &efd, EpollEvent { events: EPOLLOUT, data: 7 }), Ok(()));
        assert_eq!(wait(&ep, 8), vec![(7, EPOLLOUT)], "MOD changed the events and the data");
        assert_eq!(control(&ep, EPOLL_CTL_DEL, 4, &efd, event), Ok(()));
        assert_eq!(control(&ep, EPOLL_CTL_DEL, 4, &efd, event), Err(Errno::ENOENT));
        assert_eq!(ep.epoll().unwrap().len(), 1);
        // The epoll file itself, a file that is no epoll file as epfd.
        assert_eq!(add(&ep, 3, &ep, EPOLLIN), Err(Errno::EINVAL));
        assert_eq!(add(&efd, 3, &eventfd(0), EPOLLIN), Err(Errno::EINVAL));
    }

    #[test]
    fn exclusive_is_add_only_and_limited() {
        let ep = epoll();
        let efd = eventfd(1);
        let other = eventfd(0);
        assert_eq!(add(&ep, 3, &efd, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT), Err(Errno::EINVAL));
        assert_eq!(add(&ep, 3, &efd, EPOLLIN | EPOLLRDHUP | EPOLLEXCLUSIVE), Err(Errno::EINVAL));
        assert_eq!(add(&ep, 3, &efd, EPOLLIN | EPOLLET | EPOLLEXCLUSIVE), Ok(()));
        let modify = EpollEvent { events: EPOLLIN, data: 0 };
        assert_eq!(control(&ep, EPOLL_CTL_MOD, 3, &efd, modify), Err(Errno::EINVAL), "MOD of an exclusive entry");
        let exclusive = EpollEvent { events: EPOLLIN | EPOLLEXCLUSIVE, data: 0 };
        add(&ep, 4, &other, EPOLLIN).unwrap();
        assert_eq!(control(&ep, EPOLL_CTL_MOD, 4, &other, exclusive), Err(Errno::EINVAL), "MOD with EXCLUSIVE");
        assert_eq!(add(&epoll(), 3, &ep, EPOLLIN | EPOLLEXCLUSIVE), Err(Errno::EINVAL), "of an epoll file");
        assert_eq!(wait(&ep, 8), vec![(3, EPOLLIN)]);
    }

    #[test]
    fn level_triggered_reports_while_ready() {
        let ep = epoll();
        let efd = eventfd(0);
        let (read_end, write_end) = pipe();
        add(&ep, 3, &efd, EPOLLIN).unwrap();
        add(&ep, 4, &read_end, EPOLLIN).unwrap();
        add(&ep, 5, &write_end, EPOLLOUT).unwrap();
        assert_eq!(wait(&ep, 8), vec![(5, EPOLLOUT)]);
        signal(&efd, 2);
        write_end.write(b"x").unwrap();
        let both = vec![(3, EPOLLIN), (4, EPOLLIN), (5, EPOLLOUT)];
        assert_eq!(wait(&ep, 8), both);
        assert_eq!(wait(&ep, 8), both, "still ready, reported again");
        drain(&efd);
        assert_eq!(wait(&ep, 8), vec![(4, EPOLLIN), (5, EPOLLOUT)]);
        drop(write_end);
        assert_eq!(wait(&ep, 8), vec![(4, EPOLLIN | EPOLLHUP)], "HUP is always reported; the write end is gone");
    }

    #[test]
    fn level_triggered_rotates_past_maxevents() {
        let ep = epoll();
        let files: Vec<_> = (0..3).map(|_| eventfd(1)).collect();
        for (i, file) in files.iter().enumerate() {
            add(&ep, 10 + i as i32, file, EPOLLIN).unwrap();
        }
        let data = |got: Vec<(u64, u32)>| got.into_iter().map(|(d, _)| d).collect::<Vec<_>>();
        assert_eq!(data(wait(&ep, 2)), [10, 11]);
        assert_eq!(data(wait(&ep, 2)), [12, 10]);
        assert_eq!(data(wait(&ep, 2)), [11, 12]);
    }

    #[test]
    fn edge_triggered_reports_new_events_only() {
        let ep = epoll();
        let efd = eventfd(0);
        add(&ep, 3, &efd, EPOLLIN | EPOLLET).unwrap();
        assert_eq!(wait(&ep, 8), vec![]);
        signal(&efd, 1);
        assert_eq!(wait(&ep, 8), vec![(3, EPOLLIN)]);
        assert_eq!(wait(&ep, 8), vec![], "still readable, but nothing new");
        signal(&efd, 1);
        assert_eq!(wait(&ep, 8), vec![(3, EPOLLIN)], "another write is another event");
        drain(&efd);
        assert_eq!(wait(&ep, 8), vec![], "a read does not wake a reader");
        let both = EpollEvent { events: EPOLLIN | EPOLLOUT | EPOLLET, data: 3 };
        control(&ep, EPOLL_CTL_MOD, 3, &efd, both).unwrap();
        assert_eq!(wait(&ep, 8), vec![(3, EPOLLOUT)], "MOD looks again");
        assert_eq!(wait(&ep, 8), vec![]);
        signal(&efd, 1);
        assert_eq!(wait(&ep, 8), vec![(3, EPOLLIN | EPOLLOUT)], "everything that holds is reported");
    }

    #[test]
    fn edge_triggered_pipes_follow_wakeups() {
        let ep = epoll();
        let (read_end, write_end) = pipe();
        add(&ep, 3, &read_end, EPOLLIN | EPOLLET).unwrap();
        add(&ep, 4, &write_end, EPOLLOUT | EPOLLET).unwrap();
        assert_eq!(wait(&ep, 8), vec![(4, EPOLLOUT)]);
        write_end.write(b"x").unwrap();
        assert_eq!(wait(&ep, 8), vec![(3, EPOLLIN)], "a write wakes readers, not writers");
        read_end.read(&mut [0u8; 1]).unwrap();
        assert_eq!(wait(&ep, 8), vec![], "a read of a pipe that was not full wakes nobody");
        write_end.write(b"xy").unwrap();
        read_end.read(&mut [0u8; 1]).unwrap();
        assert_eq!(wait(&ep, 8), vec![(3, EPOLLIN)]);
        drop(write_end);
        assert_eq!(wait(&ep, 8), vec![(3, EPOLLIN | EPOLLHUP)], "a hang-up wakes everyone");
        assert_eq!(wait(&ep, 8), vec![]);
    }

    #[test]
    fn edge_triggered_full_pipe_wakes_writers_when_drained() {
        let ep = epoll();
        let (read_end, write_end) = pipe();
        add(&ep, 4, &write_end, EPOLLOUT | EPOLLET).unwrap();
        assert_eq!(wait(&ep, 8), vec![(4, EPOLLOUT)]);
        while write_end.write(&[0u8; 4096]).is_ok() {}
        assert_eq!(wait(&ep, 8), vec![]);
        read_end.read(&mut [0u8; 4096]).unwrap();
        assert_eq!(wait(&ep, 8), vec![(4, EPOLLOUT)]);
    }

    #[test]
    fn oneshot_reports_once_until_modified() {
        let ep = epoll();
        let efd = eventfd(1);
        add(&ep, 3, &efd, EPOLLIN | EPOLLONESHOT).unwrap();
        assert_eq!(ep.poll_events(), crate::fs::flags::POLLIN | crate::fs::flags::POLLRDNORM);
        assert_eq!(wait(&ep, 8), vec![(3, EPOLLIN)]);
        assert_eq!(wait(&ep, 8), vec![], "disarmed");
        assert_eq!(ep.poll_events(), 0, "a disarmed entry makes nothing ready");
        signal(&efd, 1);
        assert_eq!(wait(&ep, 8), vec![]);
        let rearm = EpollEvent { events: EPOLLIN | EPOLLONESHOT, data: 9 };
        control(&ep, EPOLL_CTL_MOD, 3, &efd, rearm).unwrap();
        assert_eq!(wait(&ep, 8), vec![(9, EPOLLIN)]);
        assert_eq!(wait(&ep, 8), vec![]);
    }

    #[test]
    fn entries_of_dropped_files_disappear() {
        let ep = epoll();
        let efd = eventfd(1);
        let dup = efd.clone();
        add(&ep, 3, &efd, EPOLLIN).unwrap();
        drop(efd);
        assert_eq!(wait(&ep, 8), vec![(3, EPOLLIN)], "a dup keeps the file and its entry");
        drop(dup);
        assert_eq!(wait(&ep, 8), vec![]);
        assert!(ep.epoll().unwrap().is_empty());
        // A new file at the same fd number is another entry.
        let other = eventfd(0);
        assert_eq!(add(&ep, 3, &other, EPOLLOUT), Ok(()));
        assert_eq!(wait(&ep, 8), vec![(3, EPOLLOUT)]);
    }

    #[test]
    fn failed_delivery_reports_nothing() {
        let ep = epoll();
        let efd = eventfd(1);
        add(&ep, 3, &efd, EPOLLIN | EPOLLONESHOT).unwrap();
        let result = ep.epoll().unwrap().wait_ready(8, |_| Err(Errno::EFAULT));
        assert_eq!(result, Err(Errno::EFAULT));
        assert_eq!(wait(&ep, 8), vec![(3, EPOLLIN)], "still armed");
    }

    /// A host stdin whose readiness the test sets.
    struct Stdin {
        ready: core::sync::atomic::AtomicBool,
    }

    impl crate::fs::console::Console for Stdin {
        fn write(&self, _fd: u32, bytes: &[u8]) -> Result<usize, Errno> {
            Ok(bytes.len())
        }
        fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
            Ok(buf.len().min(1))
        }
        fn is_tty(&self, _fd: u32) -> bool {
            false
        }
        fn wait_input(&self, _timeout_ns: u64) -> bool {
            self.ready.load(core::sync::atomic::Ordering::Relaxed)
        }
    }

    fn stdin() -> (Arc<Stdin>, Arc<OpenFile>) {
        use crate::fs::console::{ConsoleDevice, ConsoleNode, ConsoleRole};
        let host = Arc::new(Stdin { ready: core::sync::atomic::AtomicBool::new(false) });
        let device = Arc::new(ConsoleDevice::new(host.clone(), 0, 0, Timespec::default()));
        let node = Node::Console(ConsoleNode::new(device, ConsoleRole::Stdin));
        (host, Arc::new(OpenFile::new(Location::new(2, node, b"/dev/stdin".to_vec()), O_RDONLY, Vec::new())))
    }

    #[test]
    fn the_console_is_watched_through_the_host() {
        use core::sync::atomic::Ordering;
        let (host, console) = stdin();
        let level = epoll();
        let edge = epoll();
        let outer = epoll();
        add(&level, 0, &console, EPOLLIN).unwrap();
        add(&edge, 0, &console, EPOLLIN | EPOLLET).unwrap();
        add(&outer, 5, &level, EPOLLIN).unwrap();
        assert_eq!(wait(&level, 8), vec![]);
        assert_eq!(wait(&edge, 8), vec![]);
        let waits_on = |ep: &Arc<OpenFile>| ep.epoll().unwrap().console_input(0).map(|f| Arc::as_ptr(&f));
        assert_eq!(waits_on(&level), Some(Arc::as_ptr(&console)), "no input yet: wait for the host's");
        assert_eq!(waits_on(&outer), Some(Arc::as_ptr(&console)), "through a watched instance too");
        host.ready.store(true, Ordering::Relaxed);
        assert_eq!(wait(&level, 8), vec![(0, EPOLLIN)]);
        assert_eq!(wait(&level, 8), vec![(0, EPOLLIN)]);
        assert_eq!(waits_on(&level), None);
        assert_eq!(wait(&edge, 8), vec![(0, EPOLLIN)], "input came");
        assert_eq!(wait(&edge, 8), vec![]);
        assert_eq!(waits_on(&edge), None, "input is there but was reported: waiting on it would spin");
        console.read(&mut [0u8; 1]).unwrap();
        assert_eq!(wait(&edge, 8), vec![(0, EPOLLIN)], "after a read, remaining input counts as new");
    }

    #[test]
    fn nested_instances() {
        let outer = epoll();
        let inner = epoll();
        let efd = eventfd(0);
        add(&inner, 3, &efd, EPOLLIN).unwrap();
        add(&outer, 4, &inner, EPOLLIN | EPOLLET).unwrap();
        assert_eq!(add(&inner, 5, &outer, EPOLLIN), Err(Errno::ELOOP));
        assert_eq!(add(&outer, 4, &inner, EPOLLIN), Err(Errno::EEXIST));
        assert_eq!(wait(&outer, 8), vec![]);
        signal(&efd, 1);
        assert_eq!(inner.poll_events(), crate::fs::flags::POLLIN | crate::fs::flags::POLLRDNORM);
        assert_eq!(wait(&outer, 8), vec![(4, EPOLLIN)]);
        assert_eq!(wait(&outer, 8), vec![], "edge-triggered on the inner instance");
        signal(&efd, 1);
        assert_eq!(wait(&outer, 8), vec![(4, EPOLLIN)]);
        assert_eq!(wait(&inner, 8), vec![(3, EPOLLIN)], "watching did not consume the inner entry");
        // A chain deeper than EP_MAX_NESTS is refused.
        let chain: Vec<_> = (0..6).map(|_| epoll()).collect();
        for pair in chain.windows(2).take(4) {
            add(&pair[0], 3, &pair[1], EPOLLIN).unwrap();
        }
        assert_eq!(add(&epoll(), 3, &chain[0], EPOLLIN), Err(Errno::ELOOP));
    }
}
