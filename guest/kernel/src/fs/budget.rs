//! [`SpaceBudget`]: the byte budget that bounds what the tmpfs instances may hold.
//!
//! tmpfs lives in the VM's RAM, so its size is capped by a budget fixed at boot; a write or
//! create that would exceed it fails with `ENOSPC` instead of exhausting guest memory.
//! Several tmpfs instances (`/tmp`, `/dev/shm`) share one budget.

use crate::errno::Errno;
use crate::sync::SpinLock;

/// A byte budget: a fixed limit and what is in use.
pub struct SpaceBudget {
    limit: u64,
    used: SpinLock<u64>,
}

impl SpaceBudget {
    /// A budget of `limit` bytes, none used.
    pub const fn new(limit: u64) -> SpaceBudget {
        SpaceBudget { limit, used: SpinLock::new(0) }
    }

    /// The limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes in use.
    pub fn used(&self) -> u64 {
        *self.used.lock()
    }

    /// Takes `bytes` from the budget: `ENOSPC` (and nothing taken) if they do not fit.
    pub fn charge(&self, bytes: u64) -> Result<(), Errno> {
        let mut used = self.used.lock();
        match used.checked_add(bytes) {
            Some(total) if total <= self.limit => {
                *used = total;
                Ok(())
            }
            _ => Err(Errno::ENOSPC),
        }
    }

    /// Gives `bytes` back.
    pub fn release(&self, bytes: u64) {
        let mut used = self.used.lock();
        *used = used.saturating_sub(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_up_to_the_limit() {
        let budget = SpaceBudget::new(100);
        assert_eq!(budget.limit(), 100);
        assert_eq!(budget.charge(60), Ok(()));
        assert_eq!(budget.charge(41), Err(Errno::ENOSPC));
        assert_eq!(budget.used(), 60);
        assert_eq!(budget.charge(40), Ok(()));
        assert_eq!(budget.charge(u64::MAX), Err(Errno::ENOSPC));
        budget.release(70);
        assert_eq!(budget.used(), 30);
        budget.release(1000);
        assert_eq!(budget.used(), 0);
    }
}
