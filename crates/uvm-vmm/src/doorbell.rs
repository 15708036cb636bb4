//! Park doorbells: how a parked vCPU's host thread sleeps and how it is woken.
//!
//! Each vCPU index has an eventfd, its doorbell: a park waits until the doorbell was rung
//! (consuming every ring so far: one token, however many unparks), a timeout passes or the VM
//! stops; an unpark rings it. The guest rings it itself with a write to the vCPU's doorbell
//! address (uvm-abi's `unpark_doorbell_gpa`), which KVM turns into a write of the eventfd inside
//! the host kernel once the doorbell is registered as an ioeventfd ([`register_with_kvm`]): the
//! waking vCPU never leaves KVM_RUN, ~4 us on PVM against ~18-40 us for a hypercall's exit to
//! the VMM and back (a Go program's start makes ~80 such wake-ups). Registering waits for a
//! grace period of the VM (KVM rebuilds its MMIO bus): 5-10 us here during a Go start, longer
//! when the host is busy. So each vCPU registers its own doorbell at its first park, when its
//! thread is about to sleep anyway, and an app that never parks (a C hello) registers none;
//! until then a doorbell write exits to the VMM, which rings the eventfd itself.
//!
//! The eventfds are process-wide, like the bells in `stop.rs`, and never closed: a stop rings
//! them all from a signal handler, which must never write to a descriptor number that was
//! closed and reused. A ring left from an earlier VM in the same process is one spurious
//! wake-up, which the guest tolerates (every wake re-checks what it waits for).

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use kvm_ioctls::{IoEventAddress, NoDatamatch, VmFd};
use uvm_abi::hypercall::unpark_doorbell_gpa;
use uvm_abi::layout::MAX_VCPUS;

use crate::stop;

const NO_FD: i32 = -1;

/// Each vCPU index's eventfd, made at its first use.
static DOORBELLS: [AtomicI32; MAX_VCPUS as usize] = [const { AtomicI32::new(NO_FD) }; MAX_VCPUS as usize];

/// vCPU `index`'s eventfd, made if it is the first use; `None` past the last vCPU or when the
/// host refuses an eventfd (out of descriptors).
fn eventfd(index: u32) -> Option<i32> {
    let slot = DOORBELLS.get(index as usize)?;
    let fd = slot.load(Ordering::SeqCst);
    if fd != NO_FD {
        return Some(fd);
    }
    // SAFETY: eventfd has no memory arguments.
    let new = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if new < 0 {
        return None;
    }
    match slot.compare_exchange(NO_FD, new, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => Some(new),
        Err(theirs) => {
            // SAFETY: `new` is this call's own descriptor, used by nothing else.
            unsafe { libc::close(new) };
            Some(theirs)
        }
    }
}

fn write_one(fd: i32) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live local to an eventfd; async-signal-safe. It cannot
    // block: the counter would have to reach u64::MAX - 1 first.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// Rings vCPU `index`'s doorbell: its park returns, or its next one returns at once. False
/// past the last vCPU or without an eventfd.
pub fn ring(index: u32) -> bool {
    let Some(fd) = eventfd(index) else { return false };
    write_one(fd);
    true
}

/// Rings every doorbell made so far (a stop). Async-signal-safe: makes none.
pub fn ring_all() {
    for slot in &DOORBELLS {
        let fd = slot.load(Ordering::SeqCst);
        if fd != NO_FD {
            write_one(fd);
        }
    }
}

/// Takes the rings of `fd` so far: whether there was one.
fn consume(fd: i32) -> bool {
    let mut count = 0u64;
    // SAFETY: reads 8 bytes into a live local from a non-blocking eventfd (resets it).
    let read = unsafe { libc::read(fd, (&mut count as *mut u64).cast(), 8) };
    read == 8 && count > 0
}

/// Parks the calling thread as vCPU `index`'s for up to `timeout`: true when the doorbell was
/// (or had been) rung, false when the timeout passed or the VM is stopping. Without an eventfd
/// it returns true at once, a spurious wake-up.
pub fn wait(index: u32, timeout: Duration) -> bool {
    let Some(fd) = eventfd(index) else { return true };
    let deadline = Instant::now().checked_add(timeout);
    loop {
        if consume(fd) {
            return true;
        }
        if stop::stopping() {
            return false;
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left.is_zero()) {
            return false;
        }
        let ts = left.map(stop::timespec);
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        let mut pollfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd in a live local and a valid (or null: no limit) timeout;
        // returns on a ring, a signal (a stop's kick) or the timeout.
        unsafe { libc::ppoll(&mut pollfd, 1, ts_ptr, std::ptr::null()) };
    }
}

/// Has KVM ring vCPU `index`'s doorbell itself when the guest writes its doorbell address.
/// Waits for a grace period of the VM (see the module doc). An error leaves the doorbell to
/// the VMM's exit handling, which unparks the same way, only slower.
pub fn register_with_kvm(vm: &VmFd, index: u32) -> Result<(), std::io::Error> {
    let fd = eventfd(index).ok_or_else(std::io::Error::last_os_error)?;
    // SAFETY: `fd` is an open eventfd that is never closed (see the module doc), so the
    // EventFd that borrows it here must never close it either: ManuallyDrop.
    let borrowed = std::mem::ManuallyDrop::new(unsafe {
        <vmm_sys_util::eventfd::EventFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
    });
    vm.register_ioevent(&borrowed, &IoEventAddress::Mmio(unpark_doorbell_gpa(index)), NoDatamatch)
        .map_err(|e| std::io::Error::from_raw_os_error(e.errno()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Indices of their own: the doorbells are process-wide and tests run in parallel.

    #[test]
    fn a_ring_before_the_park_is_one_token() {
        assert!(ring(60));
        assert!(ring(60), "rings do not add up");
        assert!(wait(60, Duration::from_secs(5)));
        let started = Instant::now();
        assert!(!wait(60, Duration::from_millis(20)), "the token was taken");
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert!(!wait(60, Duration::ZERO));
    }

    #[test]
    fn a_ring_wakes_a_parked_thread() {
        std::thread::scope(|s| {
            let parked = s.spawn(|| {
                let started = Instant::now();
                (wait(61, Duration::MAX), started.elapsed())
            });
            std::thread::sleep(Duration::from_millis(30));
            assert!(ring(61));
            let (woken, took) = parked.join().unwrap();
            assert!(woken);
            assert!(took >= Duration::from_millis(25) && took < Duration::from_secs(5), "{took:?}");
        });
    }

    #[test]
    fn there_is_no_doorbell_past_the_last_vcpu() {
        assert!(!ring(MAX_VCPUS));
        assert!(wait(MAX_VCPUS, Duration::from_secs(5)), "a spurious wake-up, not a hang");
    }
}
