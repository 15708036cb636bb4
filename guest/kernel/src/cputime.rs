//! CPU time. A thread's is the time since it started less the time it waited in the VMM with
//! the process unlocked (`Process::unlocked`: parks for sleeps, futexes, blocking I/O, the
//! host's stdin), the wait it is in now included; a process's is the sum over its threads,
//! the ended ones included. All of it
//! is reported as user time (the guest kernel's own work is not told apart), and a vCPU the
//! host preempts still counts as running (the guest cannot see it). A child's time, its own
//! reaped children's included, is added to its parent's children's time when the parent
//! waits for it (wait4's rusage, `times`' and `getrusage`'s children), as on Linux.
//!
//! The process's sums are atomics in its `/proc` view, so `/proc/<pid>/stat` shows the same
//! time as `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`; every change and every reading happens
//! with the process lock held.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// A process's CPU time, as sums over its threads.
#[derive(Debug, Default)]
pub struct ProcessCpu {
    /// The start times of its live threads, summed.
    live_starts: AtomicU64,
    /// The waits of its live threads, summed.
    live_waits: AtomicU64,
    /// The CPU time of its ended threads.
    ended: AtomicU64,
    /// The CPU time of the children it waited for (theirs included).
    children: AtomicU64,
    /// The start times of the waits its threads are in now, summed.
    waits_begun: AtomicU64,
    /// How many of its threads are in a wait now.
    waiting: AtomicU32,
}

impl ProcessCpu {
    /// A process whose one thread started at `start_ns` (monotonic).
    pub fn new(start_ns: u64) -> ProcessCpu {
        ProcessCpu { live_starts: AtomicU64::new(start_ns), ..ProcessCpu::default() }
    }

    /// A thread started at `start_ns`.
    pub fn thread_started(&self, start_ns: u64) {
        self.live_starts.fetch_add(start_ns, Ordering::Relaxed);
    }

    /// A live thread began a wait at `from_ns`: the wait is not CPU time from then on.
    pub fn wait_began(&self, from_ns: u64) {
        self.waits_begun.fetch_add(from_ns, Ordering::Relaxed);
        self.waiting.fetch_add(1, Ordering::Relaxed);
    }

    /// How many of its threads are in a wait now.
    pub fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// A live thread's wait that began at `from_ns` ended after `ns`.
    pub fn wait_ended(&self, from_ns: u64, ns: u64) {
        self.live_waits.fetch_add(ns, Ordering::Relaxed);
        self.waits_begun.fetch_sub(from_ns, Ordering::Relaxed);
        self.waiting.fetch_sub(1, Ordering::Relaxed);
    }

    /// A thread that started at `start_ns` and waited `waited_ns` in all ended at `now_ns`.
    pub fn thread_ended(&self, start_ns: u64, waited_ns: u64, now_ns: u64) {
        self.ended.fetch_add(thread_cpu_ns(start_ns, waited_ns, now_ns), Ordering::Relaxed);
        self.live_starts.fetch_sub(start_ns, Ordering::Relaxed);
        self.live_waits.fetch_sub(waited_ns, Ordering::Relaxed);
    }

    /// A child whose CPU time was `ns` (its children's included) was waited for.
    pub fn child_reaped(&self, ns: u64) {
        self.children.fetch_add(ns, Ordering::Relaxed);
    }

    /// The CPU time of the children waited for.
    pub fn children_ns(&self) -> u64 {
        self.children.load(Ordering::Relaxed)
    }

    /// The process's CPU time at `now_ns`, with `threads` live threads.
    pub fn total_ns(&self, threads: u32, now_ns: u64) -> u64 {
        let live = u128::from(threads) * u128::from(now_ns);
        // The waits in progress so far: each from its start to now.
        let waiting = (u128::from(self.waiting.load(Ordering::Relaxed)) * u128::from(now_ns))
            .saturating_sub(u128::from(self.waits_begun.load(Ordering::Relaxed)));
        let spent = live
            .saturating_sub(u128::from(self.live_starts.load(Ordering::Relaxed)))
            .saturating_sub(u128::from(self.live_waits.load(Ordering::Relaxed)))
            .saturating_sub(waiting);
        u64::try_from(spent).unwrap_or(u64::MAX).saturating_add(self.ended.load(Ordering::Relaxed))
    }
}

/// A thread's CPU time at `now_ns`: since it started at `start_ns`, less `waited_ns`.
pub fn thread_cpu_ns(start_ns: u64, waited_ns: u64, now_ns: u64) -> u64 {
    now_ns.saturating_sub(start_ns).saturating_sub(waited_ns)
}

/// The monotonic clock now, in nanoseconds.
pub fn now_ns() -> u64 {
    crate::time::clock().monotonic_ns(crate::time::rdtsc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_and_ended_threads_count_as_linux_counts_them() {
        let cpu = ProcessCpu::new(0);
        assert_eq!(cpu.total_ns(1, 100), 100, "one thread, never waited");
        cpu.wait_began(60);
        assert_eq!(cpu.total_ns(1, 80), 60, "a wait in progress is not CPU time");
        cpu.wait_ended(60, 30);
        assert_eq!(cpu.total_ns(1, 100), 70);
        cpu.thread_started(100);
        assert_eq!(cpu.total_ns(2, 150), 120 + 50, "the second thread ran 50");
        // The second thread waited 20 of its 60, then ended.
        cpu.wait_began(120);
        assert_eq!(cpu.total_ns(2, 130), 100 + 20, "the first ran 100 of its 130, the second 20 before its wait");
        cpu.wait_ended(120, 20);
        cpu.thread_ended(100, 20, 160);
        assert_eq!(cpu.total_ns(1, 160), 130 + 40);
        assert_eq!(cpu.total_ns(1, 200), 170 + 40, "an ended thread's time stays");
        assert_eq!(thread_cpu_ns(100, 20, 160), 40);
        assert_eq!(thread_cpu_ns(100, 80, 160), 0, "never below zero");
    }
}
