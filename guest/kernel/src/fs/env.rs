//! [`FsEnv`]: what the file systems need from the rest of the kernel — the console, a
//! random source, the clock, the app's credentials and a few facts about the machine —
//! handed to [`crate::fs::Vfs::new`] once at boot.

use alloc::sync::Arc;

use crate::fs::console::Console;

/// The current time: `(seconds, nanoseconds)` since the epoch (CLOCK_REALTIME).
pub type Clock = fn() -> (i64, u32);

/// Fills a buffer with random bytes (for `/dev/random` and `/dev/urandom`).
pub type RandomSource = fn(&mut [u8]);

/// Free memory in bytes, asked when `/proc/meminfo` is read.
pub type FreeMemory = fn() -> u64;

/// Facts about the VM that `/proc` reports.
#[derive(Clone, Copy, Debug)]
pub struct SystemInfo {
    /// Number of vCPUs.
    pub cpu_count: u32,
    /// CPU (TSC) frequency in kHz.
    pub cpu_khz: u64,
    /// Bytes of RAM.
    pub mem_total_bytes: u64,
    /// Bytes of RAM free right now.
    pub mem_free_bytes: FreeMemory,
}

/// The kernel services the file systems use.
#[derive(Clone)]
pub struct FsEnv {
    /// The host's stdin, stdout and stderr.
    pub console: Arc<dyn Console>,
    /// Random bytes.
    pub random: RandomSource,
    /// The wall clock, for file timestamps.
    pub now: Clock,
    /// Owner of the files the app creates (should match what `getuid` reports).
    pub uid: u32,
    /// Group of the files the app creates (should match what `getgid` reports).
    pub gid: u32,
    /// What `/proc/cpuinfo` and `/proc/meminfo` report.
    pub system: SystemInfo,
    /// Where the tmpfs instances keep their files' pages (the VM's frame allocator).
    pub frames: crate::fs::tmpfs::page::Frames,
}
