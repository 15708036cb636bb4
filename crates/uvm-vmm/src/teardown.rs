//! Ending `uvm` without making the caller wait for the VM's teardown.
//!
//! Destroying a VM (closing its fds, unmapping guest memory, the exit of the address space)
//! costs 0.3-1 ms here, all of it after the app's exit status is known. [`exit_process`] hands
//! that work to a reaper: a `CLONE_VM` child that holds its own copy of every fd (so the VM
//! stays referenced) and the shared address space, and waits, through a pidfd, until uvm's
//! whole thread group is gone. uvm exits at once with the status; the reaper's own exit then
//! tears the VM down in the background. The caller sees uvm's exit and EOF on its pipes
//! (the reaper closes stdin/stdout/stderr first).

const REAPER_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct ReaperStack([u8; REAPER_STACK_SIZE]);

static mut REAPER_STACK: ReaperStack = ReaperStack([0; REAPER_STACK_SIZE]);

extern "C" fn reaper(arg: *mut libc::c_void) -> libc::c_int {
    let parent = arg as libc::pid_t;
    // SAFETY: raw, async-signal-safe syscalls only: the reaper shares uvm's memory but must not
    // touch its Rust runtime state. Its parent may be exiting concurrently.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::close(0);
        libc::close(1);
        libc::close(2);
        let pidfd = libc::syscall(libc::SYS_pidfd_open, parent, 0) as libc::c_int;
        if pidfd >= 0 {
            let mut pfd = libc::pollfd { fd: pidfd, events: libc::POLLIN, revents: 0 };
            while libc::poll(&mut pfd, 1, -1) < 0 {}
        }
        libc::_exit(0)
    }
}

/// Exits the process with `status` now, leaving the teardown of `vm` (and everything else the
/// process holds) to a reaper. Flush stdout and stderr before calling: nothing runs after.
pub fn exit_process<T>(status: i32, vm: T) -> ! {
    // The VM's fds and memory must not be released by this process before it exits.
    std::mem::forget(vm);
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    let stack_top = core::ptr::addr_of_mut!(REAPER_STACK) as usize + REAPER_STACK_SIZE;
    // SAFETY: the child runs `reaper` on a static stack nobody else uses (exit_process runs
    // once), shares the address space (CLONE_VM) and gets a copy of the fd table; `reaper`
    // only makes raw syscalls. If clone fails, the process simply exits and tears down itself.
    unsafe {
        libc::clone(reaper, stack_top as *mut libc::c_void, libc::CLONE_VM, parent as usize as *mut libc::c_void);
        libc::_exit(status)
    }
}
