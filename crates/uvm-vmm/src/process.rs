//! The process set-up `uvm` needs before anything else. `uvm` skips the Rust runtime's own
//! start-up (its `main` is the C entry point: see uvm-cli's main.rs), which on this kind of
//! host costs ~0.1 ms per start (it reads and parses /proc/self/maps to place a guard page
//! under the main thread's stack, and gives every spawned thread an alternate signal stack);
//! this module does the two parts of it that matter: the standard descriptors are open, and
//! SIGPIPE is ignored.

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
