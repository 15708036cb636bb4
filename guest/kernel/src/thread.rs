//! The app's threads: one per vCPU, for the thread's whole life. A thread's registers are its
//! vCPU's, so there is no scheduler in the guest: the host schedules the vCPUs' threads, and
//! a thread that waits parks its vCPU in the VMM (the `Park` hypercall) until another thread
//! unparks it.
//!
//! The thread running the current syscall is `Process::thread` (so its state borrows apart
//! from the rest of the process); the others wait in [`Threads`]. Taking the process lock on
//! a vCPU swaps that vCPU's thread in ([`crate::process::Process::switch_to`]). A vCPU whose
//! thread ended parks in the guest and is reused for the next thread.

use alloc::vec::Vec;

use crate::signal::ThreadSignals;

/// The process's pid, which is also its first thread's tid.
pub const MAIN_TID: u32 = 1;

/// One app thread.
pub struct Thread {
    /// Its thread id (gettid).
    pub tid: u32,
    /// The vCPU it runs on.
    pub cpu: u32,
    /// Its signal mask, pending signals and alternate stack.
    pub signals: ThreadSignals,
    /// set_tid_address / CLONE_CHILD_CLEARTID: zeroed and futex-woken at thread exit.
    pub clear_child_tid: u64,
    /// set_robust_list's head.
    pub robust_list: u64,
    /// The network area's generation when this thread last looked at socket readiness (at
    /// syscall entry, and after each wait): a wait for I/O returns at once if it moved since.
    pub net_mark: u64,
    /// Its name (prctl PR_SET_NAME), NUL-padded; `None`: the program's name, as Linux's
    /// `comm` starts.
    pub name: Option<[u8; crate::syscall::prctl::NAME_LEN]>,
    /// When it started (monotonic ns; the app's first thread: 0, the VM's start).
    pub started_ns: u64,
    /// How long it waited in the VMM with the process unlocked (`crate::cputime`).
    pub waited_ns: u64,
    /// Its CPU affinity mask (`sched_setaffinity`; bit n: vCPU n; all bits: every CPU), as
    /// `sched_getaffinity` reports it (with the VM's CPUs): recorded, inherited by the threads
    /// and processes it makes, not applied (a thread runs on a vCPU of its own).
    pub affinity: u64,
    /// Its scheduling policy and priority (`sched_setscheduler`), as `sched_getscheduler`
    /// and `sched_getparam` report them: recorded, inherited as the affinity is, not applied.
    pub sched: SchedPolicy,
    /// Whether it waits in a park with the process unlocked (`Process::park`): it looks at
    /// its signals when it wakes, so a signal's sender only wakes it ([`Thread::nudge`]).
    pub parked_in_kernel: bool,
}

/// A thread's scheduling policy (`SCHED_*`), its static priority (1-99 for the real-time
/// policies, 0 for the others) and `SCHED_RESET_ON_FORK`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedPolicy {
    pub policy: u32,
    pub priority: u32,
    pub reset_on_fork: bool,
}

impl SchedPolicy {
    /// What a thread or process it makes starts with: the same, or `SCHED_OTHER` at priority
    /// 0 after `SCHED_RESET_ON_FORK` (which the child does not keep), as on Linux.
    pub fn inherited(self) -> SchedPolicy {
        if self.reset_on_fork {
            // Linux keeps SCHED_BATCH and SCHED_IDLE and resets the real-time ones.
            let policy = if self.policy == 1 || self.policy == 2 { 0 } else { self.policy };
            SchedPolicy { policy, priority: 0, reset_on_fork: false }
        } else {
            self
        }
    }
}

impl Thread {
    /// A thread `tid` on vCPU `cpu` with signal state `signals`, started at `started_ns`.
    pub fn new(tid: u32, cpu: u32, signals: ThreadSignals, started_ns: u64) -> Thread {
        Thread {
            tid,
            cpu,
            signals,
            clear_child_tid: 0,
            robust_list: 0,
            net_mark: 0,
            name: None,
            started_ns,
            waited_ns: 0,
            affinity: u64::MAX,
            sched: SchedPolicy::default(),
            parked_in_kernel: false,
        }
    }

    /// Makes this thread (another vCPU's) look at its signals, an ending or a stop: one
    /// parked in the kernel looks when it wakes, so a wake does (a store, and a doorbell only
    /// if it has stopped spinning); one that may run app code is interrupted (the VMM sends
    /// it to the fault entry, and kicks it again every 200 us while it runs kernel code: a
    /// shell waiting for its pipeline paid that for every SIGCHLD, -16% on a loop of them).
    pub fn nudge(&self) {
        if self.parked_in_kernel {
            crate::hypercall::unpark(self.cpu);
        } else {
            crate::hypercall::interrupt(self.cpu);
        }
    }

    /// Its CPU time at `now_ns` (`crate::cputime`).
    pub fn cpu_ns(&self, now_ns: u64) -> u64 {
        crate::cputime::thread_cpu_ns(self.started_ns, self.waited_ns, now_ns)
    }
}

/// A thread waiting in futex(FUTEX_WAIT): woken by a FUTEX_WAKE on `addr` whose bitset
/// shares a bit with `bitset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FutexWaiter {
    /// The futex word's address.
    pub addr: u64,
    /// FUTEX_WAIT_BITSET's mask (all ones for FUTEX_WAIT).
    pub bitset: u32,
    /// The waiting thread.
    pub tid: u32,
    /// Its vCPU (to unpark).
    pub cpu: u32,
}

/// The process's threads not running the current syscall, and its futex wait queue.
pub struct Threads {
    /// Every thread but `Process::thread`.
    pub others: Vec<Thread>,
    /// Threads waiting on futexes, in the order they started waiting.
    pub futex_waiters: Vec<FutexWaiter>,
}

/// What the VM's threads share, whichever process they belong to: the vCPUs, the thread ids
/// and who waits for a file to change.
pub struct Vcpus {
    /// vCPUs whose thread ended, parked in the guest, ready for a new thread.
    pub idle: Vec<u32>,
    /// The per-CPU area of every vCPU started so far, by index (vCPU 0's is set at boot).
    pub areas: Vec<u64>,
    /// The next thread id to hand out (a process's id is its first thread's).
    pub next_tid: u32,
    /// vCPUs parked waiting for any file to change (pipes, poll, a child's end): woken by
    /// [`Vcpus::io_changed`].
    pub io_waiters: u64,
}

impl Vcpus {
    /// The bookkeeping of a VM whose only thread runs on vCPU 0.
    pub fn new() -> Vcpus {
        Vcpus { idle: Vec::new(), areas: alloc::vec![0], next_tid: MAIN_TID + 1, io_waiters: 0 }
    }

    /// Records that vCPU `cpu` waits for a file to change.
    pub fn wait_for_io(&mut self, cpu: u32) {
        self.io_waiters |= 1 << (cpu % 64);
    }

    /// A file changed (data, room, a closed end): the vCPUs waiting for that, to unpark.
    pub fn io_changed(&mut self) -> u64 {
        core::mem::take(&mut self.io_waiters)
    }
}

impl Default for Vcpus {
    /// An empty one, as the processes that are not current carry (no allocation).
    fn default() -> Vcpus {
        Vcpus { idle: Vec::new(), areas: Vec::new(), next_tid: 0, io_waiters: 0 }
    }
}

impl Threads {
    /// The bookkeeping of a process with one thread.
    pub fn new() -> Threads {
        Threads { others: Vec::new(), futex_waiters: Vec::new() }
    }

    /// The other thread with id `tid`.
    pub fn get_mut(&mut self, tid: u32) -> Option<&mut Thread> {
        self.others.iter_mut().find(|t| t.tid == tid)
    }

    /// Removes up to `count` waiters on `addr` whose bitset meets `bitset`, oldest first;
    /// returns their vCPUs (to unpark).
    pub fn take_futex_waiters(&mut self, addr: u64, bitset: u32, count: usize) -> Vec<u32> {
        let mut woken = Vec::new();
        self.futex_waiters.retain(|w| {
            if woken.len() < count && w.addr == addr && w.bitset & bitset != 0 {
                woken.push(w.cpu);
                false
            } else {
                true
            }
        });
        woken
    }

    /// Moves up to `count` waiters on `from` to wait on `to` (FUTEX_CMP_REQUEUE); how many.
    pub fn requeue_futex_waiters(&mut self, from: u64, to: u64, count: usize) -> usize {
        let mut moved = 0;
        for w in self.futex_waiters.iter_mut() {
            if moved < count && w.addr == from {
                w.addr = to;
                moved += 1;
            }
        }
        moved
    }

    /// Whether thread `tid` still waits on a futex (a wake removes it).
    pub fn is_futex_waiting(&self, tid: u32) -> bool {
        self.futex_waiters.iter().any(|w| w.tid == tid)
    }

    /// Stops thread `tid` waiting on a futex (timeout, signal).
    pub fn cancel_futex_wait(&mut self, tid: u32) {
        self.futex_waiters.retain(|w| w.tid != tid);
    }
}

impl Default for Threads {
    fn default() -> Threads {
        Threads::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(addr: u64, bitset: u32, tid: u32) -> FutexWaiter {
        FutexWaiter { addr, bitset, tid, cpu: tid }
    }

    #[test]
    fn futex_wakes_oldest_matching_waiters() {
        let mut t = Threads::new();
        t.futex_waiters = alloc::vec![waiter(8, !0, 2), waiter(16, !0, 3), waiter(8, 1, 4), waiter(8, 2, 5)];
        assert_eq!(t.take_futex_waiters(8, 2, 10), alloc::vec![2, 5]);
        assert!(t.is_futex_waiting(4));
        assert_eq!(t.take_futex_waiters(8, !0, 0), Vec::<u32>::new());
        assert_eq!(t.take_futex_waiters(8, !0, 1), alloc::vec![4]);
        assert_eq!(t.futex_waiters, alloc::vec![waiter(16, !0, 3)]);
    }

    #[test]
    fn requeue_moves_waiters() {
        let mut t = Threads::new();
        t.futex_waiters = alloc::vec![waiter(8, !0, 2), waiter(8, !0, 3), waiter(8, !0, 4)];
        assert_eq!(t.requeue_futex_waiters(8, 24, 2), 2);
        assert_eq!(t.take_futex_waiters(24, !0, 10), alloc::vec![2, 3]);
        t.cancel_futex_wait(4);
        assert!(!t.is_futex_waiting(4));
    }

    #[test]
    fn io_waiters_are_taken_once() {
        let mut t = Vcpus::new();
        t.wait_for_io(1);
        t.wait_for_io(3);
        assert_eq!(t.io_changed(), 0b1010);
        assert_eq!(t.io_changed(), 0);
    }
}
