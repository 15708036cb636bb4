//! Boot-phase timings for `uvm run --timings`.

use std::time::{Duration, Instant};

/// Named phases with their durations, in order.
#[derive(Debug, Clone)]
pub struct Timings {
    started: Instant,
    last: Instant,
    /// (phase, duration) in the order they happened.
    pub phases: Vec<(&'static str, Duration)>,
}

impl Timings {
    /// Starts the clock.
    pub fn start() -> Timings {
        let now = Instant::now();
        Timings { started: now, last: now, phases: Vec::new() }
    }

    /// Ends the current phase under `name`.
    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.phases.push((name, now - self.last));
        self.last = now;
    }

    /// Time since the clock started.
    pub fn total(&self) -> Duration {
        self.last - self.started
    }
}
