//! The console ring: the app's stdout and stderr bytes handed to the VMM without an exit.
//!
//! A console hypercall costs an exit to the VMM and back (~20-60 us on PVM), which an app
//! that logs a line per request pays on every line. So once the app has written
//! [`RING_AFTER_WRITES`] times, the guest registers a ring in its RAM
//! ([`crate::hypercall::Hypercall::ConsoleRing`]): from then on a write that fits is copied
//! into the ring as a record, and the VMM's console thread writes the records out to the
//! host's stdout and stderr in order, so the two streams interleave as the app wrote them.
//! The guest wakes that thread by writing [`CONSOLE_DOORBELL_GPA`], which KVM turns into an
//! eventfd signal inside the host kernel (no exit), and only when the thread said it is about
//! to sleep ([`IDLE`]).
//!
//! Layout: a header of [`HEADER_SIZE`] bytes (aligned to its size, so in one page) and a
//! data area of [`DATA_SIZE`] bytes (page-aligned), each physically contiguous; all fields
//! little-endian, at offsets from the header's guest-physical address:
//!
//! | offset | field | written by |
//! |---|---|---|
//! | [`TAIL`] | u64: stream offset after the last record published | guest |
//! | [`HEAD`] | u64: stream offset up to which records are written out | VMM |
//! | [`IDLE`] | u32: 1 while the console thread sleeps or is about to | VMM sets, guest clears |
//! | [`ERRORS`] | two u32: errno of a failed write to stdout, to stderr (0: none) | VMM |
//!
//! The data area holds the records, a stream wrapping at `DATA_SIZE` (stream offset `o` is at
//! byte `o % DATA_SIZE`).
//!
//! A record is an 8-byte header (`fd | len << 32`, fd 1 or 2, `len` at most
//! [`RECORD_MAX`]) and `len` bytes, padded to a multiple of 8; a record's header never wraps,
//! its bytes may. The VMM bounds everything by the ring's size, whatever the guest writes.
//!
//! Only streams that are not regular files on the host go through the ring (the registering
//! call says which): a full disk then fails the write that met it, as on Linux.
//!
//! An error the VMM meets writing a record out (`EPIPE`: the reader went away) is stored in
//! [`ERRORS`]; the guest returns it to the app's next write to that stream, once, and writes
//! to that stream then go through the console hypercall again, as Linux reports an error of
//! an earlier write on a later call. The bytes of the failed record are lost, as they would
//! be in a pipe without a reader.

use crate::hypercall::UNPARK_DOORBELLS;
use crate::layout::{HYPERCALL_GPA, MAX_VCPUS, PAGE_SIZE};

/// The guest-physical address whose write wakes the VMM's console thread (right after the
/// unpark doorbells in the hypercall page).
pub const CONSOLE_DOORBELL_GPA: u64 = HYPERCALL_GPA + UNPARK_DOORBELLS + 8 * MAX_VCPUS as u64;

const _: () = assert!(CONSOLE_DOORBELL_GPA + 8 <= HYPERCALL_GPA + PAGE_SIZE);

/// The guest's console writes made through the console hypercall before it registers a
/// ring: a short-lived app (a hello) never pays for the ring's thread. Setting the ring up
/// costs ~0.15-0.35 ms of a run (its thread's start on the other CPU), ~5 writes' exits: an
/// app with 20 writes ran in 2.96-3.07 ms with the ring from its 4th write, 3.69-3.70 ms
/// from its 16th; one with 4 writes in 2.59-2.98 ms against 2.39-2.60 ms without a ring
/// (`bench/ab.py`, 80-100 rounds, session 16). So after 8.
pub const RING_AFTER_WRITES: u64 = 8;

/// Offset of `tail`.
pub const TAIL: u64 = 0;
/// Offset of `head`.
pub const HEAD: u64 = 8;
/// Offset of `idle`.
pub const IDLE: u64 = 16;
/// Offset of the two error words (stdout's, then stderr's).
pub const ERRORS: u64 = 20;
/// Size of the header.
pub const HEADER_SIZE: u64 = 32;
/// Size of the record area (a power of two).
pub const DATA_SIZE: u64 = 64 << 10;
/// The most bytes one record carries; a larger write goes through the console hypercall.
pub const RECORD_MAX: u64 = 16 << 10;
/// Size of a record's header.
pub const RECORD_HEADER: u64 = 8;

const _: () = assert!(DATA_SIZE.is_power_of_two() && RECORD_HEADER + RECORD_MAX <= DATA_SIZE / 2);

/// The stream offset a record of `len` bytes takes up (header and padding included).
pub const fn record_size(len: u64) -> u64 {
    RECORD_HEADER + len.div_ceil(8) * 8
}

/// A record's header word.
pub const fn record_header(fd: u32, len: u32) -> u64 {
    fd as u64 | (len as u64) << 32
}

/// The fd and length a record's header word holds.
pub const fn parse_record_header(word: u64) -> (u32, u32) {
    (word as u32, (word >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_stay_aligned_and_their_headers_round_trip() {
        assert_eq!(record_size(0), 8);
        assert_eq!(record_size(1), 16);
        assert_eq!(record_size(8), 16);
        assert_eq!(record_size(9), 24);
        assert_eq!(parse_record_header(record_header(2, 12345)), (2, 12345));
        assert!(DATA_SIZE.is_multiple_of(8));
    }

    #[test]
    fn the_console_doorbell_is_no_unpark_doorbell_nor_hypercall() {
        assert_eq!(crate::hypercall::unpark_doorbell_of(CONSOLE_DOORBELL_GPA), None);
        assert_eq!(crate::hypercall::Hypercall::from_gpa(CONSOLE_DOORBELL_GPA), None);
    }
}
