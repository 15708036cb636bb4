//! The guest's side of the console ring (uvm-abi's `console`): [`ConsoleRing`] holds the
//! records of the app's stdout and stderr writes until the VMM's console thread writes them
//! out, so a write costs a copy instead of an exit. The guest produces (`tail`), the VMM
//! consumes (`head`); producing is serialised by the console's lock (`hostio`).
//!
//! The ring is two heap allocations: a [`uvm_abi::console::HEADER_SIZE`]-byte header aligned
//! to its size (so in one page) and a page-run data area (page-aligned and physically
//! contiguous through the direct map, as the network rings' are). It is never freed: the
//! VMM reads it until the VM ends.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use uvm_abi::console::{record_header, record_size, DATA_SIZE, HEADER_SIZE, RECORD_HEADER, RECORD_MAX};

use crate::netring::copy_to_words;

/// The header the VMM and the guest share (offsets in uvm-abi's `console`).
#[repr(C, align(32))]
#[derive(Default)]
struct Header {
    tail: AtomicU64,
    head: AtomicU64,
    idle: AtomicU32,
    errors: [AtomicU32; 2],
    reserved: AtomicU32,
}

const _: () = assert!(core::mem::size_of::<Header>() == HEADER_SIZE as usize);

/// One console ring.
pub struct ConsoleRing {
    header: Box<Header>,
    data: Box<[AtomicU64]>,
}

impl ConsoleRing {
    /// A zeroed ring; `None` when the kernel heap has no room for it (the console then keeps
    /// its hypercalls).
    pub fn new() -> Option<ConsoleRing> {
        let mut words: Vec<AtomicU64> = Vec::new();
        words.try_reserve_exact((DATA_SIZE / 8) as usize).ok()?;
        words.extend((0..DATA_SIZE / 8).map(|_| AtomicU64::new(0)));
        Some(ConsoleRing { header: Box::default(), data: words.into_boxed_slice() })
    }

    /// A new ring registered with the VMM (`Hypercall::ConsoleRing`), and the streams it may
    /// carry (bit 1 stdout, bit 2 stderr); `None` when there is no memory for one or the VMM
    /// refuses it (the console then keeps its hypercalls).
    #[inline(never)]
    pub fn register() -> Option<(ConsoleRing, u32)> {
        let ring = ConsoleRing::new()?;
        let header = &*ring.header as *const Header as u64;
        let data = ring.data.as_ptr() as u64;
        // The heap hands out a large block as a page run; the VMM refuses anything else.
        if !data.is_multiple_of(uvm_abi::layout::PAGE_SIZE) {
            return None;
        }
        let streams = crate::hypercall::console_ring(crate::hypercall::gpa_of(header), crate::hypercall::gpa_of(data));
        u32::try_from(streams).ok().filter(|&s| s != 0).map(|s| (ring, s))
    }

    /// Copies a record of `bytes` for stream `fd` (1 or 2) into the ring and publishes it.
    /// False when it is larger than a record may be or the ring has no room for it now: the
    /// caller writes through the hypercall, which writes the ring out first.
    /// Kept out of line: a hello never gets this far, and its text stays in fewer of KVM's
    /// 8-page groups (`hot-text.ld`).
    #[inline(never)]
    pub fn push(&self, fd: u32, bytes: &[u8]) -> bool {
        let len = bytes.len() as u64;
        if len > RECORD_MAX {
            return false;
        }
        let size = record_size(len);
        let tail = self.header.tail.load(Ordering::Relaxed);
        let used = tail.wrapping_sub(self.header.head.load(Ordering::Acquire));
        if used > DATA_SIZE || DATA_SIZE - used < size {
            return false;
        }
        let at = (tail % DATA_SIZE) as usize;
        copy_to_words(&self.data, at, &record_header(fd, len as u32).to_le_bytes());
        let start = ((tail + RECORD_HEADER) % DATA_SIZE) as usize;
        let first = bytes.len().min(DATA_SIZE as usize - start);
        copy_to_words(&self.data, start, &bytes[..first]);
        copy_to_words(&self.data, 0, &bytes[first..]);
        // SeqCst, with `take_idle`'s swap after it: the console thread either sees this
        // record when it looks once more before sleeping, or has said it sleeps by then.
        self.header.tail.store(tail.wrapping_add(size), Ordering::SeqCst);
        true
    }

    /// Whether the console thread sleeps (or is about to): then the caller rings the console
    /// doorbell. Clears the flag, so a burst of writes rings once.
    pub fn take_idle(&self) -> bool {
        self.header.idle.swap(0, Ordering::SeqCst) != 0
    }

    /// Marks stream `fd` (1 or 2) failed with `errno`, as the VMM does (tests).
    #[cfg(test)]
    pub fn fail_for_test(&self, fd: u32, errno: u32) {
        self.header.errors[fd as usize - 1].store(errno, Ordering::SeqCst);
    }

    /// Records published and not yet taken by the VMM (tests).
    #[cfg(test)]
    pub fn pending_for_test(&self) -> u64 {
        self.header.tail.load(Ordering::SeqCst) - self.header.head.load(Ordering::SeqCst)
    }

    /// The errno of a write to stream `fd` (1 or 2) that failed on the host, or 0.
    pub fn error(&self, fd: u32) -> u32 {
        self.header.errors.get(fd.wrapping_sub(1) as usize).map_or(0, |e| e.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netring::copy_from_words;
    use uvm_abi::console::parse_record_header;

    /// Takes every record published, as the VMM does.
    fn consume(ring: &ConsoleRing) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        let tail = ring.header.tail.load(Ordering::SeqCst);
        let mut at = ring.header.head.load(Ordering::SeqCst);
        while at != tail {
            let mut word = [0u8; 8];
            copy_from_words(&ring.data, (at % DATA_SIZE) as usize, &mut word);
            let (fd, len) = parse_record_header(u64::from_le_bytes(word));
            let mut bytes = alloc::vec![0u8; len as usize];
            let start = ((at + RECORD_HEADER) % DATA_SIZE) as usize;
            let first = bytes.len().min(DATA_SIZE as usize - start);
            let (a, b) = bytes.split_at_mut(first);
            copy_from_words(&ring.data, start, a);
            copy_from_words(&ring.data, 0, b);
            out.push((fd, bytes));
            at += record_size(u64::from(len));
        }
        ring.header.head.store(tail, Ordering::SeqCst);
        out
    }

    #[test]
    fn records_come_out_as_pushed_across_the_wrap() {
        let ring = ConsoleRing::new().expect("ring");
        let mut pushed = 0;
        for round in 0..50u32 {
            let line: Vec<u8> = (0..(2000 + round * 13)).map(|i| (i ^ round) as u8).collect();
            let fd = 1 + round % 2;
            assert!(ring.push(fd, &line));
            assert_eq!(consume(&ring), alloc::vec![(fd, line)]);
            pushed += 1;
        }
        assert_eq!(pushed, 50);
        assert!(ring.header.tail.load(Ordering::SeqCst) > DATA_SIZE, "the stream wrapped");
    }

    #[test]
    fn a_full_ring_or_a_large_write_is_refused() {
        let ring = ConsoleRing::new().expect("ring");
        assert!(!ring.push(1, &alloc::vec![0u8; RECORD_MAX as usize + 1]));
        let big = alloc::vec![7u8; RECORD_MAX as usize];
        let mut taken = 0;
        while ring.push(1, &big) {
            taken += 1;
        }
        assert_eq!(taken, (DATA_SIZE / record_size(RECORD_MAX)) as usize);
        assert_eq!(consume(&ring).len(), taken);
        assert!(ring.push(1, &big), "room again once consumed");
    }

    #[test]
    fn idle_is_taken_once_and_errors_read_per_stream() {
        let ring = ConsoleRing::new().expect("ring");
        assert!(!ring.take_idle());
        ring.header.idle.store(1, Ordering::SeqCst);
        assert!(ring.take_idle());
        assert!(!ring.take_idle());
        ring.header.errors[1].store(32, Ordering::SeqCst);
        assert_eq!((ring.error(1), ring.error(2), ring.error(7)), (0, 32, 0));
    }
}
