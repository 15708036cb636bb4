//! The VM's vCPUs as their host threads share them: which are started, their parks, the
//! run slots that bound how many run guest code at once (`[vm] cpus`), the in-guest
//! bookkeeping that lets one vCPU's TLB flush reach all the others, and the outcome that ends
//! the VM (the first one wins). No KVM here: the run loop (`run_loop.rs`) drives it, and the
//! unit tests below drive it with plain threads.
//!
//! Parks wait on the vCPU's doorbell (`doorbell.rs`, an eventfd the guest rings too), other
//! waits on its bell in `stop.rs` (a futex word), not on a condition variable,
//! because a stop requested from a signal handler must be able to end them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use uvm_abi::layout::MAX_VCPUS;

use crate::doorbell;
use crate::error::VmError;
use crate::exit::{ExitCounts, Outcome};
use crate::stop;

/// How long a vCPU waits for a run slot before it asks the longest-running holder to yield.
pub const TIME_SLICE: Duration = Duration::from_millis(10);
/// How soon a waiter asks again when a holder put its yield off ([`RunSlots::put_off`]).
pub const YIELD_RETRY: Duration = Duration::from_millis(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a vCPU cannot be started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartError {
    /// The index is out of range or already started (-EINVAL).
    Invalid,
    /// The host could not create the vCPU or its thread (-EAGAIN).
    Again,
}

impl StartError {
    /// The hypercall result for this error.
    pub fn errno(self) -> i64 {
        match self {
            StartError::Invalid => -i64::from(libc::EINVAL),
            StartError::Again => -i64::from(libc::EAGAIN),
        }
    }
}

/// What one vCPU's thread shares with the others.
#[derive(Default)]
struct VcpuState {
    started: AtomicBool,
    run: Mutex<RunState>,
    /// Signalled when the vCPU leaves KVM_RUN while a flush waits for it.
    left_guest: Condvar,
}

#[derive(Default)]
struct RunState {
    /// Inside KVM_RUN (or about to enter it).
    in_guest: bool,
    /// Another vCPU flushed: resync before the next entry.
    pending_flush: bool,
    /// A vCPU waiting for a run slot asked this one to give its slot up.
    yield_requested: bool,
    /// Flushes waiting for this vCPU to leave KVM_RUN.
    flush_waiters: u32,
    /// A signal waits for its thread: send it to the guest's interrupt entry before it next
    /// runs app code (the Interrupt hypercall).
    interrupt_pending: bool,
    /// How many times it left KVM_RUN: a flush waits for this to move (the vCPU may well be
    /// back in the guest by the time the flush wakes up, resynced).
    exits: u64,
}

/// What a vCPU does before entering the guest (see [`Vcpus::enter_guest`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Enter; resync the TLB first if `flush`.
    Run {
        /// Another vCPU flushed since this one last entered.
        flush: bool,
        /// An interrupt is pending (the Interrupt hypercall): send the vCPU to the guest's
        /// interrupt entry first, or put it back with [`Vcpus::interrupt_later`].
        interrupt: bool,
    },
    /// Give the run slot up (and queue for it again) first.
    Yield,
}

/// The VM's vCPUs.
pub struct Vcpus {
    vcpus: Box<[VcpuState]>,
    /// One past the highest index started.
    bound: AtomicU32,
    started: AtomicU32,
    slots: RunSlots,
    outcome: Mutex<Option<Result<Outcome, VmError>>>,
    exits: Mutex<ExitCounts>,
}

impl Vcpus {
    /// The vCPUs of a VM that runs at most `cpus` of them at once; vCPU 0 is started.
    pub fn new(cpus: u32) -> Vcpus {
        let vcpus: Box<[VcpuState]> = (0..MAX_VCPUS).map(|_| VcpuState::default()).collect();
        vcpus[0].started.store(true, Ordering::SeqCst);
        Vcpus {
            vcpus,
            bound: AtomicU32::new(1),
            started: AtomicU32::new(1),
            slots: RunSlots::new(cpus),
            outcome: Mutex::new(None),
            exits: Mutex::new(ExitCounts::default()),
        }
    }

    fn state(&self, index: u32) -> Option<&VcpuState> {
        self.vcpus.get(index as usize)
    }

    /// How many vCPUs were started (vCPU 0 included).
    pub fn started(&self) -> u32 {
        self.started.load(Ordering::SeqCst)
    }

    /// Claims vCPU `index` for a start: it must be in `1..MAX_VCPUS` and not started yet.
    pub fn claim(&self, index: u32) -> Result<(), StartError> {
        if index == 0 {
            return Err(StartError::Invalid);
        }
        let state = self.state(index).ok_or(StartError::Invalid)?;
        if state.started.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            return Err(StartError::Invalid);
        }
        self.bound.fetch_max(index + 1, Ordering::SeqCst);
        self.started.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Gives back a claim whose vCPU could not be created (KVM has no vCPU of that index).
    pub fn unclaim(&self, index: u32) {
        if let Some(state) = self.state(index) {
            if index != 0 && state.started.swap(false, Ordering::SeqCst) {
                self.started.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Parks vCPU `index` for up to `timeout`: returns true when an unpark's token was (or
    /// becomes) there to consume, false when the time ran out or the VM is stopping. The
    /// caller gives its run slot up meanwhile.
    pub fn park(&self, index: u32, timeout: Duration) -> bool {
        self.state(index).is_some() && doorbell::wait(index, timeout)
    }

    /// Rings vCPU `index`'s doorbell, which wakes it. False if that vCPU was never started.
    pub fn unpark(&self, index: u32) -> bool {
        let Some(state) = self.state(index) else { return false };
        if !state.started.load(Ordering::SeqCst) {
            return false;
        }
        doorbell::ring(index)
    }

    /// vCPU `index` is about to enter KVM_RUN: marks it in the guest and says whether it must
    /// resync its TLB first, or yield its run slot.
    pub fn enter_guest(&self, index: u32) -> Entry {
        let Some(state) = self.state(index) else { return Entry::Run { flush: false, interrupt: false } };
        let mut run = lock(&state.run);
        if run.yield_requested {
            run.yield_requested = false;
            return Entry::Yield;
        }
        run.in_guest = true;
        Entry::Run {
            flush: std::mem::take(&mut run.pending_flush),
            interrupt: std::mem::take(&mut run.interrupt_pending),
        }
    }

    /// Asks for vCPU `index` to be interrupted (the Interrupt hypercall): unparks it, marks
    /// the interrupt pending and kicks it out of the guest if it is there. False if it was
    /// never started.
    pub fn interrupt(&self, index: u32, kick: &dyn Fn(u32)) -> bool {
        if !self.unpark(index) {
            return false;
        }
        let Some(state) = self.state(index) else { return false };
        let mut run = lock(&state.run);
        run.interrupt_pending = true;
        if run.in_guest {
            kick(index);
        }
        true
    }

    /// Interrupts every vCPU started so far (see [`Vcpus::interrupt`]): signals from outside
    /// the VM are for whichever thread of the app meets them first.
    pub fn interrupt_all(&self, kick: &dyn Fn(u32)) {
        for index in 0..self.bound.load(Ordering::SeqCst) {
            self.interrupt(index, kick);
        }
    }

    /// vCPU `index` could not take its interrupt now (it ran guest kernel code): keep it pending.
    pub fn interrupt_later(&self, index: u32) {
        if let Some(state) = self.state(index) {
            lock(&state.run).interrupt_pending = true;
        }
    }

    /// vCPU `index` left KVM_RUN: clears its `immediate_exit` (unless the VM is stopping) and
    /// lets flushes waiting for it go on.
    pub fn left_guest(&self, index: u32) {
        let Some(state) = self.state(index) else { return };
        let mut run = lock(&state.run);
        run.in_guest = false;
        run.exits = run.exits.wrapping_add(1);
        stop::rearm(index);
        if run.flush_waiters > 0 {
            state.left_guest.notify_all();
        }
    }

    /// Vcpu `from` changed present page-table entries (and resyncs itself): makes the other
    /// vCPUs in `others` (bit `i`: vCPU `i`; the guest names those on the changed tables)
    /// resync before they next run guest code, and returns once none of them is still in the
    /// guest with a stale translation. `kick` makes a vCPU leave KVM_RUN.
    pub fn flush_others(&self, from: u32, others: u64, kick: &dyn Fn(u32)) {
        let bound = self.bound.load(Ordering::SeqCst).min(u64::BITS);
        for index in 0..bound {
            if index == from || others & (1 << index) == 0 {
                continue;
            }
            let Some(state) = self.state(index) else { continue };
            if !state.started.load(Ordering::SeqCst) {
                continue;
            }
            let mut run = lock(&state.run);
            run.pending_flush = true;
            if run.in_guest {
                kick(index);
                let seen = run.exits;
                run.flush_waiters += 1;
                while run.exits == seen {
                    run = state.left_guest.wait(run).unwrap_or_else(PoisonError::into_inner);
                }
                run.flush_waiters -= 1;
            }
        }
    }

    /// Asks vCPU `index` to give its run slot up: at its next entry, or now if it is in the
    /// guest (kicked out by `kick`).
    pub fn request_yield(&self, index: u32, kick: &dyn Fn(u32)) {
        let Some(state) = self.state(index) else { return };
        let mut run = lock(&state.run);
        run.yield_requested = true;
        if run.in_guest {
            kick(index);
        }
    }

    /// Takes a run slot for vCPU `index` (fair: first come, first served). False if the VM
    /// is stopping. See [`RunSlots::acquire`].
    pub fn acquire_slot(&self, index: u32, kick: &dyn Fn(u32)) -> bool {
        self.slots.acquire(index, &|holder| self.request_yield(holder, kick))
    }

    /// vCPU `index` was asked to yield but is in the middle of something it should finish
    /// first (guest kernel code, which may hold a lock the others will spin on): it keeps its
    /// slot, and a waiter asks again after [`YIELD_RETRY`].
    pub fn put_off_yield(&self, index: u32) {
        self.slots.put_off(index);
    }

    /// Gives vCPU `index`'s run slot back (a yield asked of it meanwhile is moot).
    pub fn release_slot(&self, index: u32) {
        if let Some(state) = self.state(index) {
            lock(&state.run).yield_requested = false;
        }
        self.slots.release(index);
    }

    /// Records how vCPU `from` ended the VM, if it is the first to end it (a stop from outside
    /// or another vCPU's outcome may have come first), and stops every other vCPU.
    pub fn finish(&self, from: u32, outcome: Result<Outcome, VmError>) {
        let mut slot = lock(&self.outcome);
        if stop::end(from) {
            *slot = Some(outcome);
        }
    }

    /// The outcome the first vCPU to end the VM recorded.
    pub fn take_outcome(&self) -> Option<Result<Outcome, VmError>> {
        lock(&self.outcome).take()
    }

    /// Adds a vCPU's exit counts to the VM's.
    pub fn add_exits(&self, counts: &ExitCounts) {
        lock(&self.exits).add(counts);
    }

    /// The exit counts of every vCPU, summed.
    pub fn exits(&self) -> ExitCounts {
        lock(&self.exits).clone()
    }
}

/// The run slots: at most `cpus` vCPUs hold one (run guest code) at a time. A vCPU holds its
/// slot while in KVM_RUN and while handling exits that do not block; it gives it up while
/// parked or sleeping. Waiters are served first come, first served (a release hands the slot
/// straight to the oldest waiter). A waiter that has waited [`TIME_SLICE`] asks the holder that
/// has held its slot longest to yield it (that one queues again at the back), so that a vCPU
/// spinning in the guest cannot keep the others out. A holder may put the yield off
/// ([`RunSlots::put_off`]); it is then asked again [`YIELD_RETRY`] later.
pub struct RunSlots {
    state: Mutex<SlotState>,
}

struct SlotState {
    free: u32,
    /// vCPUs waiting, oldest first.
    queue: VecDeque<u32>,
    /// Bit `i`: vCPU `i` was handed a slot while it waited.
    granted: u64,
    /// vCPUs holding a slot, oldest first: (index, asked to yield).
    holders: Vec<(u32, bool)>,
}

impl RunSlots {
    /// `cpus` slots (at least one).
    pub fn new(cpus: u32) -> RunSlots {
        RunSlots {
            state: Mutex::new(SlotState {
                free: cpus.max(1),
                queue: VecDeque::new(),
                granted: 0,
                holders: Vec::with_capacity(cpus.clamp(1, MAX_VCPUS) as usize),
            }),
        }
    }

    /// Takes a slot for vCPU `index`, waiting (on its bell) for one if none is free. Once it
    /// has waited [`TIME_SLICE`], it asks the longest holder not yet asked to yield, through
    /// `ask_yield`, and then every [`YIELD_RETRY`] the next one not asked (holders that put
    /// their yield off count as not asked). False if the VM is stopping (no slot is held then).
    pub fn acquire(&self, index: u32, ask_yield: &dyn Fn(u32)) -> bool {
        {
            let mut s = lock(&self.state);
            if s.free > 0 && s.queue.is_empty() {
                s.free -= 1;
                s.holders.push((index, false));
                return true;
            }
            s.queue.push_back(index);
        }
        let bell = stop::bell(index);
        let mut next_ask = Instant::now() + TIME_SLICE;
        loop {
            let seen = bell.load(Ordering::SeqCst);
            let mut ask = None;
            {
                let mut s = lock(&self.state);
                let bit = 1u64 << (index % 64);
                if s.granted & bit != 0 {
                    s.granted &= !bit;
                    return true;
                }
                if stop::stopping() {
                    s.queue.retain(|&i| i != index);
                    return false;
                }
                let now = Instant::now();
                if now >= next_ask {
                    // Soon again after an ask (the holder may put it off), else a slice later.
                    next_ask = now + TIME_SLICE;
                    if let Some(holder) = s.holders.iter_mut().find(|(_, asked)| !asked) {
                        holder.1 = true;
                        ask = Some(holder.0);
                        next_ask = now + YIELD_RETRY;
                    }
                }
            }
            if let Some(holder) = ask {
                ask_yield(holder);
            }
            let left = next_ask.saturating_duration_since(Instant::now());
            stop::wait_bell(bell, seen, Some(left.max(Duration::from_micros(100))));
        }
    }

    /// Holder `index` put off the yield it was asked for: it may be asked again.
    pub fn put_off(&self, index: u32) {
        let mut s = lock(&self.state);
        if let Some(holder) = s.holders.iter_mut().find(|(i, _)| *i == index) {
            holder.1 = false;
        }
    }

    /// Gives vCPU `index`'s slot back: to the oldest waiter if there is one.
    pub fn release(&self, index: u32) {
        let next = {
            let mut s = lock(&self.state);
            let Some(at) = s.holders.iter().position(|&(i, _)| i == index) else { return };
            s.holders.remove(at);
            match s.queue.pop_front() {
                Some(next) => {
                    s.granted |= 1u64 << (next % 64);
                    s.holders.push((next, false));
                    Some(next)
                }
                None => {
                    s.free += 1;
                    None
                }
            }
        };
        if let Some(next) = next {
            stop::ring(stop::bell(next));
        }
    }

    #[cfg(test)]
    fn holders(&self) -> Vec<u32> {
        lock(&self.state).holders.iter().map(|&(i, _)| i).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    // Tests use vCPU indices of their own (the bells are process-wide): a ring meant for
    // another test is a spurious wake-up, which every wait tolerates anyway.

    #[test]
    fn start_indices_are_checked_and_claimed_once() {
        let v = Vcpus::new(2);
        assert_eq!(v.claim(0), Err(StartError::Invalid), "vCPU 0 is the boot vCPU");
        assert_eq!(v.claim(MAX_VCPUS), Err(StartError::Invalid));
        assert_eq!(v.claim(u32::MAX), Err(StartError::Invalid));
        assert_eq!(v.claim(3), Ok(()));
        assert_eq!(v.claim(3), Err(StartError::Invalid), "twice");
        assert_eq!(v.claim(MAX_VCPUS - 1), Ok(()));
        assert_eq!(v.started(), 3);
        v.unclaim(3);
        assert_eq!(v.started(), 2);
        assert_eq!(v.claim(3), Ok(()), "a failed start can be retried");
        assert_eq!(StartError::Invalid.errno(), -22);
        assert_eq!(StartError::Again.errno(), -11);
    }

    #[test]
    fn unpark_needs_a_started_vcpu() {
        let v = Vcpus::new(1);
        assert!(v.unpark(0), "vCPU 0 is always started");
        assert!(!v.unpark(5));
        assert!(!v.unpark(MAX_VCPUS));
        v.claim(5).unwrap();
        assert!(v.unpark(5));
    }

    #[test]
    fn a_token_set_before_the_park_is_consumed_once() {
        let v = Vcpus::new(1);
        v.claim(10).unwrap();
        assert!(v.unpark(10));
        assert!(v.unpark(10), "tokens do not add up");
        assert!(v.park(10, Duration::from_secs(5)));
        let started = Instant::now();
        assert!(!v.park(10, Duration::from_millis(20)), "the token was consumed");
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert!(!v.park(10, Duration::ZERO));
    }

    #[test]
    fn an_unpark_wakes_a_parked_vcpu() {
        let v = Vcpus::new(1);
        v.claim(11).unwrap();
        std::thread::scope(|s| {
            let parked = s.spawn(|| {
                let started = Instant::now();
                (v.park(11, Duration::from_secs(10)), started.elapsed())
            });
            std::thread::sleep(Duration::from_millis(30));
            assert!(v.unpark(11));
            let (woken, took) = parked.join().unwrap();
            assert!(woken);
            assert!(took < Duration::from_secs(5), "{took:?}");
        });
    }

    #[test]
    fn slots_bound_how_many_hold_and_serve_in_order() {
        let slots = RunSlots::new(1);
        let no_yield = |_: u32| {};
        assert!(slots.acquire(20, &no_yield));
        let order = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for index in [21, 22] {
                let (slots, order) = (&slots, &order);
                s.spawn(move || {
                    assert!(slots.acquire(index, &|_| {}));
                    lock(order).push(index);
                    std::thread::sleep(Duration::from_millis(5));
                    slots.release(index);
                });
                // Queue 21 before 22.
                while lock(&slots.state).queue.len() < (index - 20) as usize {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            assert_eq!(slots.holders(), vec![20]);
            slots.release(20);
        });
        assert_eq!(*lock(&order), vec![21, 22]);
        assert!(slots.holders().is_empty());
        assert_eq!(lock(&slots.state).free, 1);
        // Releasing a slot one does not hold changes nothing.
        slots.release(23);
        assert_eq!(lock(&slots.state).free, 1);
    }

    #[test]
    fn a_waiter_asks_the_oldest_holder_to_yield_after_a_time_slice() {
        let slots = Arc::new(RunSlots::new(2));
        assert!(slots.acquire(30, &|_| {}));
        assert!(slots.acquire(31, &|_| {}));
        let asked = Mutex::new(Vec::new());
        let started = Instant::now();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                slots.acquire(32, &|holder| {
                    lock(&asked).push(holder);
                    // The holder yields: gives its slot up (it would queue again).
                    slots.release(holder);
                })
            });
            assert!(waiter.join().unwrap());
        });
        assert!(started.elapsed() >= TIME_SLICE);
        assert_eq!(*lock(&asked), vec![30], "the longest holder is asked first");
        assert_eq!(slots.holders(), vec![31, 32]);
    }

    #[test]
    fn a_holder_that_puts_its_yield_off_is_asked_again_soon() {
        let slots = RunSlots::new(1);
        assert!(slots.acquire(35, &|_| {}));
        let asked = AtomicUsize::new(0);
        let started = Instant::now();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                slots.acquire(36, &|holder| {
                    assert_eq!(holder, 35);
                    // Twice in the kernel, then the holder yields.
                    if asked.fetch_add(1, Ordering::SeqCst) < 2 {
                        slots.put_off(holder);
                    } else {
                        slots.release(holder);
                    }
                })
            });
            assert!(waiter.join().unwrap());
        });
        assert_eq!(asked.load(Ordering::SeqCst), 3);
        let took = started.elapsed();
        assert!(took >= TIME_SLICE + 2 * YIELD_RETRY, "{took:?}");
        assert_eq!(slots.holders(), vec![36]);
    }

    #[test]
    fn flushes_mark_idle_vcpus_and_wait_for_running_ones() {
        let v = Vcpus::new(4);
        v.claim(40).unwrap();
        v.claim(41).unwrap();
        // 40 is in the guest, 41 is not.
        assert_eq!(v.enter_guest(40), Entry::Run { flush: false, interrupt: false });
        let kicks = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                // The kicked vCPU leaves KVM_RUN a little later.
                while kicks.load(Ordering::SeqCst) == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_millis(10));
                v.left_guest(40);
            });
            v.flush_others(0, u64::MAX, &|index| {
                assert_eq!(index, 40, "only vCPUs in the guest are kicked");
                kicks.fetch_add(1, Ordering::SeqCst);
            });
            assert!(!lock(&v.vcpus[40].run).in_guest, "returned only once 40 left the guest");
        });
        assert_eq!(kicks.load(Ordering::SeqCst), 1);
        // Both resync before their next entry, once.
        assert_eq!(v.enter_guest(40), Entry::Run { flush: true, interrupt: false });
        v.left_guest(40);
        assert_eq!(v.enter_guest(40), Entry::Run { flush: false, interrupt: false });
        v.left_guest(40);
        assert_eq!(v.enter_guest(41), Entry::Run { flush: true, interrupt: false });
        v.left_guest(41);
        // vCPU 0, the caller, was skipped; never-started vCPUs too.
        assert_eq!(v.enter_guest(0), Entry::Run { flush: false, interrupt: false });
        v.left_guest(0);
        assert!(!lock(&v.vcpus[42].run).pending_flush);
    }

    #[test]
    fn a_flush_concerns_only_the_vcpus_it_names() {
        let v = Vcpus::new(4);
        v.claim(40).unwrap();
        v.claim(41).unwrap();
        v.claim(42).unwrap();
        // 40 is in the guest on other tables, 41 parked on the changed ones, 42 parked.
        assert_eq!(v.enter_guest(40), Entry::Run { flush: false, interrupt: false });
        v.flush_others(0, 1 << 41, &|index| panic!("vCPU {index} was kicked"));
        v.left_guest(40);
        assert_eq!(v.enter_guest(40), Entry::Run { flush: false, interrupt: false });
        v.left_guest(40);
        assert_eq!(v.enter_guest(41), Entry::Run { flush: true, interrupt: false });
        v.left_guest(41);
        assert_eq!(v.enter_guest(42), Entry::Run { flush: false, interrupt: false });
        v.left_guest(42);
    }

    #[test]
    fn a_flush_returns_even_if_the_kicked_vcpu_is_back_in_the_guest() {
        let v = Vcpus::new(4);
        v.claim(45).unwrap();
        assert_eq!(v.enter_guest(45), Entry::Run { flush: false, interrupt: false });
        let kicked = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                while kicked.load(Ordering::SeqCst) == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                // Leaves and re-enters (resynced) before the flusher gets to look.
                let mut run = lock(&v.vcpus[45].run);
                run.in_guest = false;
                run.exits += 1;
                v.vcpus[45].left_guest.notify_all();
                run.in_guest = true;
                assert!(std::mem::take(&mut run.pending_flush));
            });
            v.flush_others(0, u64::MAX, &|_| {
                kicked.fetch_add(1, Ordering::SeqCst);
            });
        });
        assert!(lock(&v.vcpus[45].run).in_guest);
    }

    #[test]
    fn two_flushers_do_not_wait_for_each_other() {
        let v = Vcpus::new(4);
        v.claim(50).unwrap();
        // 0 and 50 flush at once: neither is in the guest while it flushes, so neither waits.
        std::thread::scope(|s| {
            s.spawn(|| v.flush_others(50, u64::MAX, &|_| panic!("no one is in the guest")));
            v.flush_others(0, u64::MAX, &|_| panic!("no one is in the guest"));
        });
        assert_eq!(v.enter_guest(0), Entry::Run { flush: true, interrupt: false });
        assert_eq!(v.enter_guest(50), Entry::Run { flush: true, interrupt: false });
    }

    #[test]
    fn an_interrupt_unparks_and_kicks_a_running_vcpu() {
        let v = Vcpus::new(1);
        let kicked = std::cell::RefCell::new(Vec::new());
        let kick = |i: u32| kicked.borrow_mut().push(i);
        assert!(!v.interrupt(3, &kick), "never started");
        assert!(v.interrupt(0, &kick));
        assert!(kicked.borrow().is_empty(), "not in the guest: nothing to kick");
        assert!(v.park(0, std::time::Duration::ZERO), "the interrupt unparked it");
        assert_eq!(v.enter_guest(0), Entry::Run { flush: false, interrupt: true });
        v.left_guest(0);
        assert_eq!(v.enter_guest(0), Entry::Run { flush: false, interrupt: false }, "taken once");
        assert!(v.interrupt(0, &kick));
        assert_eq!(*kicked.borrow(), vec![0], "in the guest: kicked");
        v.left_guest(0);
        v.interrupt_later(0);
        assert_eq!(v.enter_guest(0), Entry::Run { flush: false, interrupt: true }, "put back");
    }

    #[test]
    fn a_yield_request_is_seen_at_entry_or_kicks_a_running_vcpu() {
        let v = Vcpus::new(1);
        v.claim(60).unwrap();
        let kicked = AtomicUsize::new(0);
        let kick = |_: u32| {
            kicked.fetch_add(1, Ordering::SeqCst);
        };
        v.request_yield(60, &kick);
        assert_eq!(kicked.load(Ordering::SeqCst), 0, "not in the guest: no kick");
        assert_eq!(v.enter_guest(60), Entry::Yield);
        assert_eq!(v.enter_guest(60), Entry::Run { flush: false, interrupt: false });
        v.request_yield(60, &kick);
        assert_eq!(kicked.load(Ordering::SeqCst), 1);
        v.left_guest(60);
        assert_eq!(v.enter_guest(60), Entry::Yield);
    }
}
