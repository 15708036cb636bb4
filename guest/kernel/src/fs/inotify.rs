//! [`Inotify`]: file-system change notification (`inotify_init1`, `inotify_add_watch`), with
//! Linux's semantics for the changes the VM's own processes make.
//!
//! - A watch is on a file or directory as its path resolved when it was added (a node: the
//!   same file however it is reached later). Adding one for a file already watched by the
//!   instance gives its watch descriptor back, with the new mask (`IN_MASK_ADD` ORs it,
//!   `IN_MASK_CREATE` makes it `EEXIST`).
//! - Events come from the VFS and the open files as they happen ([`file_event`],
//!   [`child_event`], [`self_event`]): a watch on a directory gets its children's events with
//!   their name (`IN_CREATE`, `IN_DELETE`, `IN_MOVED_FROM`/`IN_MOVED_TO` with one cookie, and
//!   the `IN_ACCESS`, `IN_MODIFY`, `IN_ATTRIB`, `IN_OPEN`, `IN_CLOSE_*` of the files in it);
//!   a watch on the file itself gets them without one, and `IN_DELETE_SELF` /
//!   `IN_MOVE_SELF`. `IN_ISDIR` marks events about a directory.
//! - A child's event reaches its directory's watch under the name the file was opened or
//!   found by (`Location::path`), once a lookup of that name finds the same file: a file
//!   renamed while open no longer reaches its directory's watch (in a volume, where the name
//!   is trusted without a lookup, it reports under its old name).
//! - When a file's last link goes, its watches get `IN_DELETE_SELF` then `IN_IGNORED` and
//!   end, at the unlink (Linux waits until the last open file of it closes too).
//! - The queue holds up to [`MAX_QUEUED_EVENTS`]; then one `IN_Q_OVERFLOW` (wd -1) and
//!   nothing more until it is read. An event equal to the last one still queued merges
//!   with it, as on Linux.
//! - `read` returns whole `struct inotify_event` records (the name NUL-padded to a multiple
//!   of 16 bytes): `EINVAL` if the first does not fit; with none queued it has to wait
//!   ([`MUST_WAIT`]: the syscall layer waits for a blocking file). `POLLIN` while events are
//!   queued; each event counts as input for edge-triggered epoll entries. `FIONREAD` gives the
//!   queued bytes.
//! - Changes a host process makes in a volume are not seen (only the VM's own).
//!
//! Costs nothing while no watch exists anywhere ([`active`], one load, is what the hooks
//! check first).

use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::errno::Errno;
use crate::fs::epoll::Changes;
use crate::fs::flags::{POLLIN, POLLRDNORM};
use crate::fs::node::{Location, Node};
use crate::fs::stat::{Stat, Timespec};
use crate::sync::SpinLock;

/// What a read that finds no event returns, blocking or not.
pub const MUST_WAIT: Errno = Errno::EAGAIN;

/// `inotify_init1` flag: `O_NONBLOCK`.
pub const IN_NONBLOCK: u32 = crate::fs::flags::O_NONBLOCK;
/// `inotify_init1` flag: `O_CLOEXEC`.
pub const IN_CLOEXEC: u32 = crate::fs::flags::O_CLOEXEC;

/// The file was read.
pub const IN_ACCESS: u32 = 0x1;
/// The file was written or truncated.
pub const IN_MODIFY: u32 = 0x2;
/// Metadata changed: mode, owner, times, link count.
pub const IN_ATTRIB: u32 = 0x4;
/// An open file that could write was closed.
pub const IN_CLOSE_WRITE: u32 = 0x8;
/// An open file that could not write was closed.
pub const IN_CLOSE_NOWRITE: u32 = 0x10;
/// The file was opened.
pub const IN_OPEN: u32 = 0x20;
/// A name moved out of the watched directory.
pub const IN_MOVED_FROM: u32 = 0x40;
/// A name moved into the watched directory.
pub const IN_MOVED_TO: u32 = 0x80;
/// A name was made in the watched directory.
pub const IN_CREATE: u32 = 0x100;
/// A name was removed from the watched directory.
pub const IN_DELETE: u32 = 0x200;
/// The watched file itself was deleted.
pub const IN_DELETE_SELF: u32 = 0x400;
/// The watched file itself was moved.
pub const IN_MOVE_SELF: u32 = 0x800;
/// Every event a watch may ask for.
pub const IN_ALL_EVENTS: u32 = 0xfff;
/// The queue overflowed (wd -1).
pub const IN_Q_OVERFLOW: u32 = 0x4000;
/// The watch ended (removed, its file deleted, or one-shot).
pub const IN_IGNORED: u32 = 0x8000;
/// Only watch a directory (`ENOTDIR` otherwise).
pub const IN_ONLYDIR: u32 = 0x0100_0000;
/// Do not follow a last symlink.
pub const IN_DONT_FOLLOW: u32 = 0x0200_0000;
/// No events for children after they are unlinked (accepted: an unlinked child has no name
/// left to report it by here).
pub const IN_EXCL_UNLINK: u32 = 0x0400_0000;
/// `EEXIST` if the file is already watched.
pub const IN_MASK_CREATE: u32 = 0x1000_0000;
/// Add to an existing watch's mask instead of replacing it.
pub const IN_MASK_ADD: u32 = 0x2000_0000;
/// The event is about a directory.
pub const IN_ISDIR: u32 = 0x4000_0000;
/// End the watch after its first event.
pub const IN_ONESHOT: u32 = 0x8000_0000;

/// Events a file's directory hears about it (Linux's `FS_EVENTS_POSS_ON_CHILD`).
const ON_CHILD: u32 = IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_OPEN;
/// Every bit a watch's mask may hold (Linux's `ALL_INOTIFY_BITS`): one of them is needed.
const ALL_BITS: u32 = IN_ALL_EVENTS
    | IN_Q_OVERFLOW
    | IN_IGNORED
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
    | IN_MASK_CREATE
    | IN_MASK_ADD
    | IN_ISDIR
    | IN_ONESHOT;

/// `inotify_add_watch`'s first checks, before the fd's (Linux's order): `EINVAL` for
/// `IN_MASK_ADD` with `IN_MASK_CREATE`, or a mask with no bit Linux knows.
pub fn check_mask(mask: u32) -> Result<(), Errno> {
    if mask & (IN_MASK_ADD | IN_MASK_CREATE) == IN_MASK_ADD | IN_MASK_CREATE || mask & ALL_BITS == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}
/// Linux's default `max_queued_events`.
pub const MAX_QUEUED_EVENTS: usize = 16384;
/// Watches in the whole VM (Linux's `max_user_watches` for one user): `ENOSPC` past it.
pub const MAX_WATCHES: usize = 65536;
/// Instances in the whole VM (Linux's default `max_user_instances`): `EMFILE` past it.
pub const MAX_INSTANCES: usize = 128;
/// Bytes of a `struct inotify_event` without its name.
pub const EVENT_HEADER_SIZE: usize = 16;

/// Watches in the VM: the hooks do nothing while there are none.
static WATCHES: AtomicUsize = AtomicUsize::new(0);
/// Every instance (the dead ones pruned as new ones come).
static INSTANCES: SpinLock<Vec<Weak<Inotify>>> = SpinLock::new(Vec::new());
/// The last rename's cookie.
static COOKIE: AtomicU32 = AtomicU32::new(0);

/// Whether any watch exists (the hooks' first check).
#[inline(always)]
pub fn active() -> bool {
    WATCHES.load(Ordering::Relaxed) != 0
}

/// [`file_event`] if any watch exists (one load otherwise): what the VFS and the open files
/// call after a change.
#[inline(always)]
pub fn notify(location: &Location, mask: u32) {
    if active() {
        file_event(location, mask);
    }
}

/// `IN_CREATE` for the new entry `name` of directory `dir` (`is_dir` if it is one), if any
/// watch exists.
#[inline(always)]
pub fn created(dir: &Node, name: &[u8], is_dir: bool) {
    if active() {
        child_event(dir, name, IN_CREATE, 0, is_dir);
    }
}

/// A new cookie for the `IN_MOVED_FROM`/`IN_MOVED_TO` pair of one rename.
pub fn next_cookie() -> u32 {
    COOKIE.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
}

/// One watch.
struct Watch {
    wd: i32,
    node: Node,
    /// The watched directory's path, for its children's events ([`file_event`]).
    path: Vec<u8>,
    /// Events asked for, with `IN_ONESHOT`.
    mask: u32,
}

/// One queued event.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Event {
    wd: i32,
    mask: u32,
    cookie: u32,
    name: Vec<u8>,
}

impl Event {
    /// The record's length: the header and the name NUL-padded to a multiple of 16.
    fn size(&self) -> usize {
        EVENT_HEADER_SIZE + padded_name_len(&self.name)
    }

    fn encode_into(&self, out: &mut [u8]) {
        let name_len = padded_name_len(&self.name);
        out[0..4].copy_from_slice(&self.wd.to_le_bytes());
        out[4..8].copy_from_slice(&self.mask.to_le_bytes());
        out[8..12].copy_from_slice(&self.cookie.to_le_bytes());
        out[12..16].copy_from_slice(&(name_len as u32).to_le_bytes());
        let name = &mut out[EVENT_HEADER_SIZE..EVENT_HEADER_SIZE + name_len];
        name.fill(0);
        name[..self.name.len()].copy_from_slice(&self.name);
    }
}

/// A name's room in a record: with its NUL, rounded up to 16 (0 for no name).
fn padded_name_len(name: &[u8]) -> usize {
    if name.is_empty() {
        0
    } else {
        (name.len() + 1).div_ceil(EVENT_HEADER_SIZE) * EVENT_HEADER_SIZE
    }
}

struct State {
    watches: Vec<Watch>,
    queue: VecDeque<Event>,
    next_wd: i32,
    changes: Changes,
}

impl State {
    /// Queues `event` (merged with an equal last one; past the limit one overflow event).
    fn push(&mut self, event: Event) {
        if self.queue.back() == Some(&event) {
            return;
        }
        if self.queue.len() >= MAX_QUEUED_EVENTS {
            let overflow = Event { wd: -1, mask: IN_Q_OVERFLOW, cookie: 0, name: Vec::new() };
            if self.queue.back() != Some(&overflow) {
                self.queue.push_back(overflow);
                self.changes.input_changed();
            }
            return;
        }
        self.queue.push_back(event);
        self.changes.input_changed();
    }

    /// Ends the watch at `index`: `IN_IGNORED` is queued for it.
    fn end_watch(&mut self, index: usize) {
        let watch = self.watches.remove(index);
        WATCHES.fetch_sub(1, Ordering::Relaxed);
        self.push(Event { wd: watch.wd, mask: IN_IGNORED, cookie: 0, name: Vec::new() });
    }

    /// Queues `mask` (an event, maybe with `IN_ISDIR`) for the watch at `index` if it asks
    /// for it; a one-shot watch then ends. Returns whether the watch is still at `index`.
    fn deliver(&mut self, index: usize, mask: u32, cookie: u32, name: &[u8]) -> bool {
        let watch = &self.watches[index];
        if watch.mask & mask & IN_ALL_EVENTS == 0 {
            return true;
        }
        let (wd, oneshot) = (watch.wd, watch.mask & IN_ONESHOT != 0);
        self.push(Event { wd, mask, cookie, name: name.to_vec() });
        if oneshot {
            self.end_watch(index);
            return false;
        }
        true
    }
}

/// An inotify instance.
pub struct Inotify {
    time: Timespec,
    state: SpinLock<State>,
}

impl Inotify {
    /// A new instance with no watch (`EMFILE` past [`MAX_INSTANCES`]); `time` is the
    /// anonymous inode's time.
    pub fn new(time: Timespec) -> Result<Arc<Inotify>, Errno> {
        let inotify = Arc::new(Inotify {
            time,
            state: SpinLock::new(State {
                watches: Vec::new(),
                queue: VecDeque::new(),
                next_wd: 1,
                changes: Changes::default(),
            }),
        });
        let mut instances = INSTANCES.lock();
        instances.retain(|instance| instance.strong_count() > 0);
        if instances.len() >= MAX_INSTANCES {
            return Err(Errno::EMFILE);
        }
        instances.push(Arc::downgrade(&inotify));
        Ok(inotify)
    }

    /// `inotify_add_watch` once the path is resolved to `location`: the watch descriptor.
    /// [`check_mask`]'s checks come first (the syscall makes them before the fd's, as Linux
    /// does), then `ENOTDIR` for `IN_ONLYDIR` on another file.
    pub fn add_watch(&self, location: &Location, mask: u32) -> Result<i32, Errno> {
        check_mask(mask)?;
        if mask & IN_ONLYDIR != 0 && !location.node.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let kept = mask & (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK);
        let mut state = self.state.lock();
        if let Some(watch) = state.watches.iter_mut().find(|watch| watch.node.same_file(&location.node)) {
            if mask & IN_MASK_CREATE != 0 {
                return Err(Errno::EEXIST);
            }
            watch.mask = if mask & IN_MASK_ADD != 0 { watch.mask | kept } else { kept };
            return Ok(watch.wd);
        }
        if WATCHES.load(Ordering::Relaxed) >= MAX_WATCHES {
            return Err(Errno::ENOSPC);
        }
        let wd = state.next_wd;
        state.next_wd = state.next_wd.checked_add(1).unwrap_or(1);
        state.watches.push(Watch { wd, node: location.node.clone(), path: location.path.clone(), mask: kept });
        WATCHES.fetch_add(1, Ordering::Relaxed);
        Ok(wd)
    }

    /// `inotify_rm_watch`: `EINVAL` for a watch descriptor it does not have.
    pub fn remove_watch(&self, wd: i32) -> Result<(), Errno> {
        let mut state = self.state.lock();
        let index = state.watches.iter().position(|watch| watch.wd == wd).ok_or(Errno::EINVAL)?;
        state.end_watch(index);
        Ok(())
    }

    /// Reads whole events into `buf` (see the module docs).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut state = self.state.lock();
        let first = state.queue.front().ok_or(MUST_WAIT)?;
        if first.size() > buf.len() {
            return Err(Errno::EINVAL);
        }
        let mut filled = 0;
        while let Some(event) = state.queue.front() {
            let size = event.size();
            if filled + size > buf.len() {
                break;
            }
            event.encode_into(&mut buf[filled..filled + size]);
            filled += size;
            state.queue.pop_front();
        }
        Ok(filled)
    }

    /// The bytes a read could take now (`FIONREAD`).
    pub fn queued_bytes(&self) -> usize {
        self.state.lock().queue.iter().map(Event::size).sum()
    }

    /// `POLLIN | POLLRDNORM` while events are queued.
    pub fn poll(&self) -> u16 {
        if self.state.lock().queue.is_empty() {
            0
        } else {
            POLLIN | POLLRDNORM
        }
    }

    /// Every event queued counts as input.
    pub fn changes(&self) -> Changes {
        self.state.lock().changes
    }

    /// The metadata: the anonymous inode's.
    pub fn stat(&self) -> Stat {
        crate::fs::anon::stat(self.time)
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        let watches = self.state.lock().watches.len();
        WATCHES.fetch_sub(watches, Ordering::Relaxed);
    }
}

/// The live instances (taken out of the registry's lock before their own are taken).
fn instances() -> Vec<Arc<Inotify>> {
    INSTANCES.lock().iter().filter_map(Weak::upgrade).collect()
}

/// Whether events about `node` can reach a watch (files reached by a path).
fn has_path(node: &Node) -> bool {
    matches!(node, Node::Image(_) | Node::Tmp(_) | Node::Host(_) | Node::Dev(_) | Node::Proc(_) | Node::Console(_))
}

/// An event about the file at `location` (`IN_ACCESS`, `IN_MODIFY`, `IN_ATTRIB`, `IN_OPEN`,
/// `IN_CLOSE_*`): for its own watches, and for its directory's under its name.
#[cold]
#[inline(never)]
pub fn file_event(location: &Location, mask: u32) {
    if !has_path(&location.node) {
        return;
    }
    let mask = mask | if location.node.is_dir() { IN_ISDIR } else { 0 };
    let (parent, name) = split_path(&location.path);
    for instance in instances() {
        let mut state = instance.state.lock();
        let mut index = 0;
        while index < state.watches.len() {
            let watch = &state.watches[index];
            let kept = if watch.node.same_file(&location.node) {
                state.deliver(index, mask, 0, b"")
            } else if mask & ON_CHILD != 0
                && !name.is_empty()
                && watch.path == parent
                && watch.node.is_dir()
                && is_child(&watch.node, name, &location.node)
            {
                state.deliver(index, mask, 0, name)
            } else {
                true
            };
            if kept {
                index += 1;
            }
        }
    }
}

/// Whether `name` in directory `dir` is `node`. A volume's directory is trusted by path (a
/// lookup there is a round trip to the host).
fn is_child(dir: &Node, name: &[u8], node: &Node) -> bool {
    match dir {
        Node::Host(_) => true,
        _ => dir.lookup(name).is_ok_and(|child| child.same_file(node)),
    }
}

/// An event about entry `name` of directory `dir` (`IN_CREATE`, `IN_DELETE`,
/// `IN_MOVED_FROM`, `IN_MOVED_TO`), `is_dir` if the entry is a directory.
#[cold]
#[inline(never)]
pub fn child_event(dir: &Node, name: &[u8], mask: u32, cookie: u32, is_dir: bool) {
    let mask = mask | if is_dir { IN_ISDIR } else { 0 };
    for instance in instances() {
        let mut state = instance.state.lock();
        let mut index = 0;
        while index < state.watches.len() {
            let kept = !state.watches[index].node.same_file(dir) || state.deliver(index, mask, cookie, name);
            if kept {
                index += 1;
            }
        }
    }
}

/// An event about `node` itself (`IN_ATTRIB` for a file's link count, `IN_MOVE_SELF`,
/// `IN_DELETE_SELF`): for its own watches only, without `IN_ISDIR` (as Linux reports
/// these). After `IN_DELETE_SELF` they end (`IN_IGNORED`).
#[cold]
#[inline(never)]
pub fn self_event(node: &Node, mask: u32) {
    for instance in instances() {
        let mut state = instance.state.lock();
        let mut index = 0;
        while index < state.watches.len() {
            if !state.watches[index].node.same_file(node) {
                index += 1;
                continue;
            }
            if state.deliver(index, mask, 0, b"") {
                if mask & IN_DELETE_SELF != 0 {
                    state.end_watch(index);
                } else {
                    index += 1;
                }
            }
        }
    }
}

/// A file was opened (not `O_PATH`): `IN_OPEN`, then `IN_MODIFY` if the open truncated it
/// (Linux truncates after the open).
#[cold]
#[inline(never)]
pub fn opened(location: &Location, truncated: bool) {
    file_event(location, IN_OPEN);
    if truncated && location.node.file_type() == crate::fs::stat::FileType::Regular {
        file_event(location, IN_MODIFY);
    }
}

/// Entry `name` of `dir`, `child`, was removed (unlink, rmdir): `IN_DELETE` for the
/// directory; for the child `IN_ATTRIB` (a file's link count fell) and, once it has no link
/// left (a directory always), `IN_DELETE_SELF`, which ends its watches.
#[cold]
#[inline(never)]
pub fn removed(dir: &Node, name: &[u8], child: &Node) {
    let is_dir = child.is_dir();
    if !is_dir {
        self_event(child, IN_ATTRIB);
    }
    child_event(dir, name, IN_DELETE, 0, is_dir);
    let gone = is_dir || child.stat().map(|stat| stat.nlink == 0).unwrap_or(true);
    if gone {
        self_event(child, IN_DELETE_SELF);
    }
}

/// `moving` was renamed from entry `from` to entry `to` (each a directory and a name),
/// replacing `replaced` there (or, for `RENAME_EXCHANGE`, trading places with it), in
/// Linux's order: `IN_MOVED_FROM` and `IN_MOVED_TO` with one cookie, `IN_ATTRIB` for a file
/// replaced (and `IN_DELETE_SELF` if that was its last link), `IN_MOVE_SELF` for the file
/// moved.
#[cold]
#[inline(never)]
pub fn renamed(
    from: (&Location, &[u8]),
    to: (&Location, &[u8]),
    moving: &Node,
    replaced: Option<&Node>,
    exchange: bool,
) {
    let replaced = replaced.filter(|other| !other.same_file(moving));
    moved(from, to, moving, if exchange { None } else { replaced });
    if let (Some(other), true) = (replaced, exchange) {
        moved(to, from, other, None);
    }
}

/// One name's move (see [`renamed`]), `replaced` the file the move unlinked.
fn moved(from: (&Location, &[u8]), to: (&Location, &[u8]), node: &Node, replaced: Option<&Node>) {
    let cookie = next_cookie();
    let is_dir = node.is_dir();
    child_event(&from.0.node, from.1, IN_MOVED_FROM, cookie, is_dir);
    child_event(&to.0.node, to.1, IN_MOVED_TO, cookie, is_dir);
    if let Some(other) = replaced {
        let other_is_dir = other.is_dir();
        if !other_is_dir {
            self_event(other, IN_ATTRIB);
        }
        if other_is_dir || other.stat().map(|stat| stat.nlink == 0).unwrap_or(true) {
            self_event(other, IN_DELETE_SELF);
        }
    }
    self_event(node, IN_MOVE_SELF);
    if is_dir {
        directory_moved(&join(&from.0.path, from.1), &join(&to.0.path, to.1));
    }
}

/// `dir`'s path joined with `name`.
fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = dir.to_vec();
    if !path.ends_with(b"/") {
        path.push(b'/');
    }
    path.extend_from_slice(name);
    path
}

/// A directory moved from `from` to `to`: watches on it and below it follow the new path.
#[cold]
#[inline(never)]
pub fn directory_moved(from: &[u8], to: &[u8]) {
    for instance in instances() {
        let mut state = instance.state.lock();
        for watch in &mut state.watches {
            let rest = match watch.path.strip_prefix(from) {
                Some(rest) if rest.is_empty() || rest.starts_with(b"/") => rest.to_vec(),
                _ => continue,
            };
            let mut path = to.to_vec();
            path.extend_from_slice(&rest);
            watch.path = path;
        }
    }
}

/// `path`'s directory and last name (`("/", "a")` for `/a`; an empty name for `/`).
fn split_path(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => (&path[..1], &path[1..]),
        Some(at) => (&path[..at], &path[at + 1..]),
        None => (&path[..0], path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_pad_names_to_sixteen_bytes() {
        let event = Event { wd: 3, mask: IN_CREATE, cookie: 0, name: b"abc".to_vec() };
        assert_eq!(event.size(), 32);
        let mut out = [0xffu8; 32];
        event.encode_into(&mut out);
        assert_eq!(&out[0..4], &3i32.to_le_bytes());
        assert_eq!(&out[12..16], &16u32.to_le_bytes());
        assert_eq!(&out[16..20], b"abc\0");
        assert!(out[20..].iter().all(|&b| b == 0));
        let sixteen = Event { wd: 1, mask: 0, cookie: 0, name: [b'x'; 16].to_vec() };
        assert_eq!(sixteen.size(), 48, "the NUL needs a second block");
        assert_eq!(Event { wd: 1, mask: IN_IGNORED, cookie: 0, name: Vec::new() }.size(), 16);
    }

    #[test]
    fn paths_split_into_directory_and_name() {
        assert_eq!(split_path(b"/a"), (&b"/"[..], &b"a"[..]));
        assert_eq!(split_path(b"/tmp/x/y"), (&b"/tmp/x"[..], &b"y"[..]));
        assert_eq!(split_path(b"/"), (&b"/"[..], &b""[..]));
    }

    #[test]
    fn equal_events_merge_and_the_queue_overflows_once() {
        let mut state = State { watches: Vec::new(), queue: VecDeque::new(), next_wd: 1, changes: Changes::default() };
        let event = Event { wd: 1, mask: IN_MODIFY, cookie: 0, name: Vec::new() };
        state.push(event.clone());
        state.push(event.clone());
        assert_eq!(state.queue.len(), 1);
        for i in 0..MAX_QUEUED_EVENTS + 5 {
            state.push(Event { wd: 1, mask: IN_MODIFY, cookie: i as u32, name: Vec::new() });
        }
        assert_eq!(state.queue.len(), MAX_QUEUED_EVENTS + 1);
        assert_eq!(state.queue.back().map(|e| e.mask), Some(IN_Q_OVERFLOW));
    }
}
