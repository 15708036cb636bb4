//! The process set-up `uvm` needs before anything else, and where its threads start. `uvm`
//! skips the Rust runtime's own start-up (its `main` is the C entry point: see uvm-cli's
//! main.rs), which on this kind of host costs ~0.1 ms per start (it reads and parses
//! /proc/self/maps to place a guard page under the main thread's stack, and gives every
//! spawned thread an alternate signal stack); this module does the two parts of it that
//! matter: the standard descriptors are open, and SIGPIPE is ignored. [`AllowedCpus`] reads
//! which CPUs uvm may run on and starts a helper thread on another one than its spawner's.

/// Makes sure descriptors 0, 1 and 2 are open (on /dev/null if the caller closed them), so no
/// file uvm opens can take their place and receive the guest's console output; and ignores
/// SIGPIPE, so a write to a closed pipe fails with EPIPE (handed to the guest) instead of
/// killing uvm.
pub fn start() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
    // SAFETY: `fds` is a valid array of 3 pollfds for the duration of the call; a zero timeout
    // never blocks.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if polled >= 0 {
        for pollfd in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
            // SAFETY: the path is a NUL-terminated string; open has no other preconditions.
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            if fd >= 0 && fd != pollfd.fd {
                // SAFETY: dup2 between two descriptor numbers; `fd` is ours to close after.
                unsafe {
                    libc::dup2(fd, pollfd.fd);
                    libc::close(fd);
                }
            }
        }
    }
    // SAFETY: setting a signal's disposition to SIG_IGN has no memory-safety preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// The CPUs the calling thread may run on: its affinity mask, what `nproc` reports, read with
/// one `sched_getaffinity` (unlike `std::thread::available_parallelism`, no cgroup quota
/// files: some 20 syscalls, 25-100 us, on the start-up path).
pub struct AllowedCpus(libc::cpu_set_t);

impl AllowedCpus {
    /// The calling thread's mask, or `None` if the kernel would not tell.
    pub fn of_this_thread() -> Option<AllowedCpus> {
        // SAFETY: an all-zero cpu_set_t is a valid empty set; sched_getaffinity writes at most
        // `size_of::<cpu_set_t>()` bytes into it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            (libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0)
                .then_some(AllowedCpus(set))
        }
    }

    /// How many CPUs the mask holds.
    pub fn count(&self) -> u32 {
        // SAFETY: CPU_COUNT only reads the set it is given.
        u32::try_from(unsafe { libc::CPU_COUNT(&self.0) }).unwrap_or(0)
    }

    /// Moves `thread`, just spawned by the calling thread, to the allowed CPUs other than the
    /// one the caller runs on, so that the two run side by side from the start. Linux queues a
    /// new thread on its spawner's CPU when it finds no better one at once (seen on this
    /// project's 2-CPU host in 9 starts of 10, with the other CPU idle): it then runs only
    /// when the spawner sleeps or a load balance moves it, ~0.6-0.9 ms later, and a helper
    /// meant to overlap the spawner's work ends up after it. A thread not yet running is moved
    /// without running; one already running elsewhere stays where it is. The thread keeps the
    /// narrower mask for its life, so it is for short-lived helpers that do not read their own
    /// affinity. Nothing is done when the caller may run on one CPU only, or when the kernel
    /// refuses: the thread then runs where Linux put it. Returns the CPU the thread was kept
    /// off, if it was.
    pub fn start_elsewhere<T>(&self, thread: &std::thread::JoinHandle<T>) -> Option<usize> {
        use std::os::unix::thread::JoinHandleExt;
        // SAFETY: sched_getcpu has no preconditions.
        let here = unsafe { libc::sched_getcpu() };
        let here = usize::try_from(here).ok().filter(|&cpu| cpu < 8 * std::mem::size_of::<libc::cpu_set_t>())?;
        let mut others = self.0;
        // SAFETY: `here` is within the set (checked above); CPU_CLR and CPU_COUNT only touch
        // the set they are given.
        if unsafe {
            libc::CPU_CLR(here, &mut others);
            libc::CPU_COUNT(&others)
        } == 0
        {
            return None;
        }
        // SAFETY: `thread` is a live, joinable thread (its JoinHandle is borrowed, so it has
        // been neither joined nor detached), so its pthread_t is valid; `others` is a valid
        // cpu_set_t of the size passed.
        let set = unsafe {
            libc::pthread_setaffinity_np(thread.as_pthread_t(), std::mem::size_of::<libc::cpu_set_t>(), &others)
        };
        (set == 0).then_some(here)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_started_elsewhere_runs_on_another_allowed_cpu() {
        let allowed = AllowedCpus::of_this_thread().expect("sched_getaffinity");
        assert!(allowed.count() >= 1);
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _ = wait.recv();
            // SAFETY: sched_getcpu has no preconditions.
            let cpu = unsafe { libc::sched_getcpu() };
            (cpu, AllowedCpus::of_this_thread().map(|a| a.count()))
        });
        let kept_off = allowed.start_elsewhere(&thread);
        let _ = go.send(());
        let (cpu, its_count) = thread.join().expect("the thread ran");
        if allowed.count() == 1 {
            assert_eq!((kept_off, its_count), (None, Some(1)), "a one-CPU mask is left alone");
        } else {
            let kept_off = kept_off.expect("the thread was moved");
            assert_eq!(its_count, Some(allowed.count() - 1), "the spawner's CPU is taken out of the thread's mask");
            assert_ne!(usize::try_from(cpu).ok(), Some(kept_off), "the thread ran on another CPU than its spawner's");
        }
    }
}
