//! The guest kernel's one lock: spins briefly, then parks.
//!
//! The guest kernel is never interrupted (no interrupts are delivered to it), so a lock is
//! only ever contended by another vCPU. Critical sections are short, so a waiter spins first;
//! but the holder's host thread may be preempted by the host (more vCPUs than host CPUs), and
//! spinning on would burn the CPU it needs. So after [`SPINS_BEFORE_PARKING`] a waiter marks
//! itself in `sleepers` and parks its vCPU in the VMM; an unlock that sees sleepers unparks
//! one. Waits that last (futexes, blocking reads) never hold a lock: they park with it
//! released ([`SpinLock::release_while`]).

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Spin-loop rounds before a waiter parks (some tens of microseconds: longer than any
/// critical section whose holder runs, shorter than a host time slice).
pub const SPINS_BEFORE_PARKING: u32 = 1024;
/// The longest one park of a lock waiter lasts before it looks again (a safety net: an
/// unlock always unparks a sleeper it sees).
const PARK_NS: u64 = 1_000_000;

/// A mutual-exclusion lock. `repr(C)` keeps the lock words before the value, so locking a
/// lock around a large buffer touches the buffer's first page, not one past its end.
#[repr(C)]
pub struct SpinLock<T> {
    raw: RawLock,
    value: UnsafeCell<T>,
}

/// The lock words and the locking itself, apart from the value: one copy of the code for
/// every `SpinLock<T>` (a copy per `T` was ~200 bytes each, all of them in the hot text).
struct RawLock {
    locked: AtomicBool,
    /// vCPUs parked waiting for the lock (bit = vCPU index mod 64).
    sleepers: AtomicU64,
}

// SAFETY: the lock hands out access to `value` to one holder at a time, so sharing the lock
// between threads is sound whenever moving a `T` between them is.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: owning the lock is owning the `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A new, unlocked lock holding `value`.
    pub const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            raw: RawLock { locked: AtomicBool::new(false), sleepers: AtomicU64::new(0) },
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock: spins a while, then parks until an unlock wakes this vCPU.
    #[inline]
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        self.raw.lock();
        SpinLockGuard { lock: self }
    }

    /// Runs `f` with the lock released and takes it again before returning: how a holder
    /// waits (parks its vCPU) without stopping other vCPUs. `held` is (part of) the value the
    /// caller holds through its guard: borrowed for the call, so neither the caller nor `f`
    /// can touch it while other vCPUs may change it.
    pub fn release_while<U, R>(&self, held: &mut U, f: impl FnOnce() -> R) -> R {
        let start = self.value.get() as usize;
        let at = held as *mut U as usize;
        assert!(
            at >= start && at + core::mem::size_of::<U>() <= start + core::mem::size_of::<T>(),
            "release_while: the value is not this lock's"
        );
        let held: *mut U = held;
        escape(held);
        self.raw.unlock();
        let result = f();
        self.raw.lock();
        escape(held);
        result
    }
}

impl RawLock {
    /// Takes the lock: spins a while, then parks until an unlock wakes this vCPU.
    #[inline(never)]
    fn lock(&self) {
        let mut spins = 0;
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while self.locked.load(Ordering::Relaxed) {
                spins += 1;
                if spins < SPINS_BEFORE_PARKING {
                    core::hint::spin_loop();
                } else {
                    spins = 0;
                    self.park_while_locked();
                }
            }
        }
    }

    /// Parks this vCPU until an unlock wakes it (or [`PARK_NS`] passes). The bit is set
    /// before the lock is looked at again, and the unlock clears `locked` before it looks at
    /// the bits (both sequentially consistent), so a wake cannot fall between the two.
    fn park_while_locked(&self) {
        let bit = 1u64 << (crate::process::current_cpu() % 64);
        self.sleepers.fetch_or(bit, Ordering::SeqCst);
        if self.locked.load(Ordering::SeqCst) {
            park(PARK_NS);
        }
        self.sleepers.fetch_and(!bit, Ordering::SeqCst);
    }

    /// Clears `locked` and wakes one parked waiter, if any.
    #[inline(never)]
    fn unlock(&self) {
        self.locked.store(false, Ordering::SeqCst);
        let sleepers = self.sleepers.load(Ordering::SeqCst);
        if sleepers != 0 {
            let bit = sleepers & sleepers.wrapping_neg();
            if self.sleepers.fetch_and(!bit, Ordering::SeqCst) & bit != 0 {
                unpark(bit.trailing_zeros());
            }
        }
    }
}

/// Tells the compiler that the memory behind `ptr` may have been read and written here (by
/// another vCPU, while the lock was released), so nothing is cached across this point.
fn escape<U>(ptr: *mut U) {
    // SAFETY: an empty asm block: it executes nothing; it only takes the pointer as an
    // operand and (without `nomem`) counts as reading and writing memory reachable from it.
    unsafe { core::arch::asm!("/* {0} */", in(reg) ptr, options(nostack, preserves_flags)) }
}

/// Access to the value while the lock is held; unlocks when dropped.
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this holder owns the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this holder owns the lock, and `&mut self`
        // makes this the only reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw.unlock();
    }
}

/// Parks this vCPU for up to `ns` (host tests: returns at once, so waiters spin).
fn park(ns: u64) {
    #[cfg(not(test))]
    crate::hypercall::park(ns);
    #[cfg(test)]
    let _ = ns;
}

/// Wakes vCPU `cpu` from a park.
fn unpark(cpu: u32) {
    #[cfg(not(test))]
    crate::hypercall::unpark(cpu);
    #[cfg(test)]
    let _ = cpu;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_gives_exclusive_access() {
        let lock = SpinLock::new(5);
        {
            let mut g = lock.lock();
            *g += 1;
            assert!(lock.raw.locked.load(Ordering::Relaxed));
        }
        assert!(!lock.raw.locked.load(Ordering::Relaxed));
        assert_eq!(*lock.lock(), 6);
    }

    #[test]
    fn release_while_lets_others_in() {
        let lock = SpinLock::new((1, 2));
        let mut guard = lock.lock();
        let seen = lock.release_while(&mut guard.1, || {
            assert!(!lock.raw.locked.load(Ordering::Relaxed));
            *lock.lock()
        });
        assert_eq!(seen, (1, 2));
        assert!(lock.raw.locked.load(Ordering::Relaxed));
    }
}
