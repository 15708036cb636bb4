//! The VM's one alarm (the Alarm hypercall): at a time the guest sets, a thread of the VM
//! interrupts a vCPU, as the Interrupt hypercall does, so the guest's timers that signal
//! (alarm, setitimer) fire even while every thread of the app spins in app code, which never
//! enters the guest kernel by itself. The guest re-checks the time when the interrupt comes
//! (the host's clock and the guest's TSC clock may differ by a little) and arms again if it
//! came early.
//!
//! The thread (`uvm-alarm`) starts with the first alarm armed and ends with the VM.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// What the alarm thread waits for.
#[derive(Debug, Default)]
struct State {
    /// When to interrupt which vCPU; `None`: nothing armed.
    due: Option<(Instant, u32)>,
    /// The thread was started.
    running: bool,
    /// The VM is stopping: the thread ends.
    stopping: bool,
}

/// The VM's alarm.
#[derive(Debug, Default)]
pub struct Alarm {
    state: Mutex<State>,
    changed: Condvar,
}

impl Alarm {
    /// An alarm with nothing armed and no thread.
    pub fn new() -> Alarm {
        Alarm::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Arms the alarm to interrupt vCPU `index` after `timeout` (`None`: cancels it).
    /// Returns whether the thread that waits for it must be started now (the first time).
    pub fn arm(&self, timeout: Option<Duration>, index: u32) -> bool {
        let mut state = self.lock();
        state.due = timeout.map(|t| (Instant::now() + t, index));
        self.changed.notify_all();
        let start = !state.running && state.due.is_some() && !state.stopping;
        state.running |= start;
        start
    }

    /// The thread could not be started: nothing will fire.
    pub fn thread_failed(&self) {
        let mut state = self.lock();
        state.running = false;
        state.due = None;
    }

    /// The alarm thread: waits for the armed time and calls `fire(index)` then, until
    /// [`Alarm::stop_thread`].
    pub fn run_thread(&self, fire: &dyn Fn(u32)) {
        let mut state = self.lock();
        loop {
            if state.stopping {
                return;
            }
            match state.due {
                None => state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner),
                Some((when, index)) => {
                    let now = Instant::now();
                    if now >= when {
                        state.due = None;
                        drop(state);
                        fire(index);
                        state = self.lock();
                    } else {
                        state = self.changed.wait_timeout(state, when - now).unwrap_or_else(PoisonError::into_inner).0;
                    }
                }
            }
        }
    }

    /// Ends the alarm thread (the VM stops).
    pub fn stop_thread(&self) {
        self.lock().stopping = true;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn an_armed_alarm_fires_once_at_its_time_for_its_vcpu() {
        let alarm = Alarm::new();
        let fired = Mutex::new(Vec::new());
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        std::thread::scope(|scope| {
            assert!(alarm.arm(Some(Duration::from_millis(30)), 3), "the first arming starts the thread");
            scope.spawn(|| {
                alarm.run_thread(&|index| {
                    fired.lock().unwrap().push((index, started.elapsed()));
                    calls.fetch_add(1, Ordering::SeqCst);
                })
            });
            while calls.load(Ordering::SeqCst) == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(50));
            alarm.stop_thread();
        });
        let fired = fired.into_inner().unwrap();
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].0, 3);
        assert!(fired[0].1 >= Duration::from_millis(30), "{fired:?}");
    }

    #[test]
    fn rearming_replaces_and_cancelling_stops_it() {
        let alarm = Alarm::new();
        let calls = AtomicU32::new(0);
        std::thread::scope(|scope| {
            assert!(alarm.arm(Some(Duration::from_millis(20)), 0));
            scope.spawn(|| {
                alarm.run_thread(&|_| {
                    calls.fetch_add(1, Ordering::SeqCst);
                })
            });
            assert!(!alarm.arm(Some(Duration::from_secs(60)), 1), "the thread runs already");
            assert!(!alarm.arm(None, 1));
            std::thread::sleep(Duration::from_millis(60));
            alarm.stop_thread();
        });
        assert_eq!(calls.load(Ordering::SeqCst), 0, "the first time was replaced, the second cancelled");
    }

    #[test]
    fn a_failed_thread_leaves_nothing_armed() {
        let alarm = Alarm::new();
        assert!(alarm.arm(Some(Duration::from_secs(1)), 0));
        alarm.thread_failed();
        assert!(alarm.arm(Some(Duration::from_secs(1)), 0), "the next arming tries to start it again");
    }
}
