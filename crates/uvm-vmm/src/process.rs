//! The process set-up `uvm` needs before anything else, and where its threads start. `uvm`
//! skips the Rust runtime's own start-up (its `main` is the C entry point: see uvm-cli's
//! main.rs), which on this kind of host costs ~0.1 ms per start (it reads and parses
//! /proc/self/maps to place a guard page under the main thread's stack, and gives every
//! spawned thread an alternate signal stack); this module does the two parts of it that
//! matter: the standard descriptors are open, and SIGPIPE is ignored. [`AllowedCpus`] reads
//! which CPUs uvm may run on and starts a helper thread on another one than its spawner's.

use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

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
#[derive(Clone, Copy)]
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

    /// Spawns a thread named `name` that runs `f` on another of these CPUs than the calling
    /// thread's, so that the two run side by side from the start. Linux queues a new thread on
    /// its spawner's CPU when it finds no better one at once (seen on this project's 2-CPU host
    /// in 9 starts of 10, with the other CPU idle): it then runs only when the spawner sleeps
    /// or a load balance moves it, ~0.6-0.9 ms later, and a helper meant to overlap the
    /// spawner's work ends up after it. So the spawner narrows the new thread's mask to the
    /// other CPUs, which moves a thread that has not run yet without running it, and the
    /// thread, once it runs, takes the whole mask back (it may later run anywhere, the
    /// spawner's CPU included). Nothing is narrowed when the caller may run on one CPU only or
    /// the kernel refuses: the thread then starts where Linux puts it. Returns the thread and
    /// the CPU it was kept off, if it was.
    pub fn spawn_elsewhere<F, T>(&self, name: &str, f: F) -> std::io::Result<(JoinHandle<T>, Option<usize>)>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let narrowed = Arc::new(AtomicBool::new(false));
        let narrowed_seen = Arc::clone(&narrowed);
        let whole = *self;
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            // Widened before the spawner narrowed it, the narrowing would stick: wait for it
            // (it is nearly always done by the time this thread first runs).
            while !narrowed_seen.load(Ordering::Acquire) {
                std::thread::park();
            }
            whole.apply_to_this_thread();
            f()
        })?;
        let kept_off = self.narrow_to_others(&thread);
        narrowed.store(true, Ordering::Release);
        thread.thread().unpark();
        Ok((thread, kept_off))
    }

    /// Narrows `thread`'s mask to these CPUs but the caller's; returns the caller's CPU if it
    /// did.
    fn narrow_to_others<T>(&self, thread: &JoinHandle<T>) -> Option<usize> {
        let (others, here) = self.others_than_here()?;
        // SAFETY: `thread` has not been joined or detached (its JoinHandle is borrowed) and
        // has not exited (it waits for `spawn_elsewhere` to let it go), so its pthread_t names
        // a live thread with its kernel thread id still set; `others` is a valid cpu_set_t of
        // the size passed.
        let narrowed = unsafe {
            libc::pthread_setaffinity_np(thread.as_pthread_t(), std::mem::size_of::<libc::cpu_set_t>(), &others)
        };
        (narrowed == 0).then_some(here)
    }

    /// Narrows the mask of the process's main thread to these CPUs but the caller's, before
    /// the caller wakes it; true if it did (the main thread then takes the whole mask back:
    /// [`AllowedCpus::apply_to_this_thread`]). For the hand-over from the image thread, which
    /// goes on working (the hot copies, the fresh frames) as the main thread boots the guest:
    /// Linux here wakes a thread on its waker's CPU even with the other one idle (seen: the
    /// main thread queued ~1.7 ms behind the image thread's work), which the narrowing
    /// forbids.
    pub fn keep_main_thread_off_this_cpu(&self) -> bool {
        let Some((others, _)) = self.others_than_here() else {
            return false;
        };
        // SAFETY: getpid has no preconditions, and the id it returns names the main thread,
        // which lives as long as the process (the caller runs in it). `others` is a valid
        // cpu_set_t of the size passed, which sched_setaffinity only reads.
        unsafe { libc::sched_setaffinity(libc::getpid(), std::mem::size_of::<libc::cpu_set_t>(), &others) == 0 }
    }

    /// These CPUs without the caller's, and the caller's; `None` when that leaves none.
    fn others_than_here(&self) -> Option<(libc::cpu_set_t, usize)> {
        // SAFETY: sched_getcpu has no preconditions.
        let here = unsafe { libc::sched_getcpu() };
        let here = usize::try_from(here).ok().filter(|&cpu| cpu < 8 * std::mem::size_of::<libc::cpu_set_t>())?;
        let mut others = self.0;
        // SAFETY: `here` is within the set (checked above); CPU_CLR and CPU_COUNT only touch
        // the set they are given.
        let left = unsafe {
            libc::CPU_CLR(here, &mut others);
            libc::CPU_COUNT(&others)
        };
        (left > 0).then_some((others, here))
    }

    /// Makes this the calling thread's mask.
    pub fn apply_to_this_thread(&self) {
        // SAFETY: `self.0` is a valid cpu_set_t of the size passed; sched_setaffinity only
        // reads it.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_spawned_elsewhere_starts_on_another_cpu_and_takes_the_whole_mask_back() {
        let allowed = AllowedCpus::of_this_thread().expect("sched_getaffinity");
        assert!(allowed.count() >= 1);
        // Five spawns: the CPU is read once the thread runs with the whole mask again, so a
        // preemption just then could move it back (rare); all but one must be elsewhere.
        let mut elsewhere = 0;
        for _ in 0..5 {
            let (thread, kept_off) = allowed
                .spawn_elsewhere("uvm-test-elsewhere", || {
                    // SAFETY: sched_getcpu has no preconditions.
                    let cpu = unsafe { libc::sched_getcpu() };
                    (cpu, AllowedCpus::of_this_thread().map(|a| a.count()))
                })
                .expect("spawn");
            let (cpu, its_count) = thread.join().expect("the thread ran");
            assert_eq!(its_count, Some(allowed.count()), "the thread runs with the whole mask");
            if allowed.count() == 1 {
                assert_eq!(kept_off, None, "a one-CPU mask is left alone");
                continue;
            }
            let kept_off = kept_off.expect("the thread was narrowed");
            if usize::try_from(cpu).ok() != Some(kept_off) {
                elsewhere += 1;
            }
        }
        if allowed.count() > 1 {
            assert!(elsewhere >= 4, "only {elsewhere} of 5 threads started on another CPU than their spawner's");
        }
    }

    #[test]
    fn the_main_thread_is_kept_off_the_callers_cpu_and_takes_its_mask_back() {
        let allowed = AllowedCpus::of_this_thread().expect("sched_getaffinity");
        let main_mask = || {
            // SAFETY: as in `of_this_thread`, for the main thread (the process id).
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                assert_eq!(
                    libc::sched_getaffinity(libc::getpid(), std::mem::size_of::<libc::cpu_set_t>(), &mut set),
                    0
                );
                set
            }
        };
        let (kept_off, here, narrowed) = std::thread::spawn(move || {
            // SAFETY: sched_getcpu has no preconditions.
            let here = unsafe { libc::sched_getcpu() };
            let kept_off = allowed.keep_main_thread_off_this_cpu();
            (kept_off, usize::try_from(here).expect("a CPU"), main_mask())
        })
        .join()
        .expect("the thread ran");
        if allowed.count() == 1 {
            assert!(!kept_off, "a one-CPU mask is left alone");
            return;
        }
        assert!(kept_off);
        // SAFETY: CPU_ISSET and CPU_COUNT only read the sets they are given; `here` is a CPU
        // number sched_getcpu gave.
        unsafe {
            assert!(!libc::CPU_ISSET(here, &narrowed), "the main thread may not run on CPU {here}");
            assert_eq!(libc::CPU_COUNT(&narrowed) as u32, allowed.count() - 1);
        }
        // The test harness's main thread is the process's: its whole mask back, as `uvm run`'s
        // main thread takes it back after the hand-over.
        // SAFETY: a valid cpu_set_t of the size passed, only read.
        let restored =
            unsafe { libc::sched_setaffinity(libc::getpid(), std::mem::size_of::<libc::cpu_set_t>(), &allowed.0) };
        assert_eq!(restored, 0);
        // SAFETY: CPU_EQUAL only reads the two sets.
        assert!(unsafe { libc::CPU_EQUAL(&main_mask(), &allowed.0) });
    }
}
