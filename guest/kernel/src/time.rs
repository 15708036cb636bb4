//! Clocks from the TSC: the VMM publishes the TSC frequency and a (TSC, CLOCK_REALTIME) pair
//! taken together at boot; every clock is derived from `rdtsc` with no exit.

/// Converts TSC readings to nanoseconds.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    boot_tsc: u64,
    boot_realtime_ns: u64,
    /// Nanoseconds per TSC tick, as a 32.32 fixed-point number.
    mult: u64,
}

impl Clock {
    /// A clock for a TSC of `tsc_khz`, read as `boot_tsc` at `boot_realtime_ns`.
    pub fn new(tsc_khz: u64, boot_tsc: u64, boot_realtime_ns: u64) -> Clock {
        let mult = if tsc_khz == 0 { 1 << 32 } else { ((1_000_000u128 << 32) / tsc_khz as u128) as u64 };
        Clock { boot_tsc, boot_realtime_ns, mult }
    }

    /// Nanoseconds since boot at TSC value `tsc`.
    pub fn since_boot_ns(&self, tsc: u64) -> u64 {
        ((tsc.saturating_sub(self.boot_tsc) as u128 * self.mult as u128) >> 32) as u64
    }

    /// CLOCK_REALTIME in nanoseconds at TSC value `tsc`.
    pub fn realtime_ns(&self, tsc: u64) -> u64 {
        self.boot_realtime_ns + self.since_boot_ns(tsc)
    }

    /// CLOCK_MONOTONIC in nanoseconds at TSC value `tsc` (the VM's uptime).
    pub fn monotonic_ns(&self, tsc: u64) -> u64 {
        self.since_boot_ns(tsc)
    }
}

static CLOCK: crate::sync::SpinLock<Option<Clock>> = crate::sync::SpinLock::new(None);

/// Installs the VM's clock (once, at boot).
pub fn init(clock: Clock) {
    *CLOCK.lock() = Some(clock);
}

/// The VM's clock (a clock at the epoch before boot has set it).
pub fn clock() -> Clock {
    CLOCK.lock().unwrap_or(Clock::new(0, 0, 0))
}

/// CLOCK_REALTIME now, as (seconds, nanoseconds).
pub fn now() -> (i64, u32) {
    let ns = clock().realtime_ns(rdtsc());
    ((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32)
}

/// Reads the TSC (0 in host unit tests).
pub fn rdtsc() -> u64 {
    #[cfg(not(test))]
    {
        crate::arch::instr::rdtsc()
    }
    #[cfg(test)]
    {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_ticks_to_nanoseconds() {
        let c = Clock::new(2_000_000, 1000, 5_000_000_000);
        assert_eq!(c.since_boot_ns(1000), 0);
        assert_eq!(c.since_boot_ns(1000 + 2_000_000_000), 1_000_000_000);
        assert_eq!(c.realtime_ns(1000 + 2_000), 5_000_001_000);
        assert_eq!(c.since_boot_ns(0), 0, "a TSC before boot is clamped");
        // Ten years of uptime does not overflow.
        let ten_years = 2_000_000_000u64 * 3600 * 24 * 365 * 10;
        assert_eq!(c.since_boot_ns(1000 + ten_years), ten_years / 2);
    }
}
