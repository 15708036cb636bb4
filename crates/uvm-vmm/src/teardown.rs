//! Ending `uvm` without making the caller wait for the VM's teardown.
//!
//! Destroying a VM (closing its fds, unmapping guest memory, the exit of the address space)
//! costs 0.3-1 ms here, all of it after the app's exit status is known. A reaper does that
//! work: a `CLONE_VM` child that holds its own copy of the fds uvm had when it was made (so
//! the VM stays referenced) and the shared address space, and waits, through a pidfd, until
//! uvm's whole thread group is gone. uvm exits at once with the status; the reaper's own exit
//! then tears the VM down in the background, at `SCHED_IDLE` so that it does not compete with
//! the next start for a CPU. The caller sees uvm's exit and EOF on its pipes
//! (the reaper closes stdin/stdout/stderr first).
//!
//! [`start_reaper`] makes it once the VM and its first vCPU exist, before the guest runs, so
//! the exit pays for no clone; [`exit_process`] makes it then if that did not happen. fds
//! opened after it (sockets, the vCPUs of later threads) are closed by uvm's own exit, which
//! for these is quick, and never the last hold on the VM. Made while uvm's threads still run,
//! on their thread-local storage, the reaper makes its system calls without libc.

use std::sync::atomic::{AtomicBool, Ordering};

const REAPER_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct ReaperStack([u8; REAPER_STACK_SIZE]);

static mut REAPER_STACK: ReaperStack = ReaperStack([0; REAPER_STACK_SIZE]);

/// Whether the reaper has been made (there is one stack, so at most one reaper).
static REAPER_STARTED: AtomicBool = AtomicBool::new(false);

/// A system call made with the `syscall` instruction itself, not through libc: the reaper
/// runs on uvm's thread-local storage (it is made without `CLONE_SETTLS`, beside threads that
/// keep running), and libc's wrappers write `errno` there and flip glibc's cancellation state.
/// Returns the kernel's result (`-errno` on failure).
///
/// # Safety
/// The arguments must be valid for system call `nr`.
unsafe fn raw_syscall(nr: libc::c_long, a1: usize, a2: usize, a3: usize) -> isize {
    let result: isize;
    // SAFETY: the x86-64 Linux system call convention: number in rax, arguments in rdi, rsi,
    // rdx; the kernel clobbers rcx and r11 and leaves the stack alone. The caller vouches for
    // the arguments.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => result,
            in("rdi") a1,
            in("rsi") a2,
            in("rdx") a3,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result
}

extern "C" fn reaper(arg: *mut libc::c_void) -> libc::c_int {
    let parent = arg as usize;
    // SAFETY: raw system calls only (see `raw_syscall`), on plain values and on `pfd` and
    // `param`, which live on this stack: the reaper shares uvm's memory and thread-local
    // storage but must not touch its Rust or libc state. It starts with every signal blocked
    // and never unblocks one, so no handler of uvm's runs on its stack.
    unsafe {
        for fd in 0..3 {
            raw_syscall(libc::SYS_close, fd, 0, 0);
        }
        let pidfd = raw_syscall(libc::SYS_pidfd_open, parent, 0, 0);
        if pidfd >= 0 {
            let mut pfd = libc::pollfd { fd: pidfd as libc::c_int, events: libc::POLLIN, revents: 0 };
            // Only an interruption is retried: on any other failure the reaper ends early,
            // and uvm's own exit then tears the VM down (slower, but never a spinning reaper).
            let pfd_address = &mut pfd as *mut libc::pollfd as usize;
            while raw_syscall(libc::SYS_poll, pfd_address, 1, usize::MAX) == -(libc::EINTR as isize) {}
        }
        // The teardown runs at the lowest priority there is: when uvm runs back to back (a
        // script, a benchmark), the next start's threads get the CPU before this one (a
        // scheduling trace showed a start's image thread waiting ~2-4 ms behind a Go
        // hello's teardown on its CPU). It still runs on any CPU that would otherwise idle,
        // and gets a sliver of a busy one. A failure leaves the usual priority.
        let param = libc::sched_param { sched_priority: 0 };
        let param_address = &param as *const libc::sched_param as usize;
        raw_syscall(libc::SYS_sched_setscheduler, 0, libc::SCHED_IDLE as usize, param_address);
        raw_syscall(libc::SYS_exit, 0, 0, 0);
    }
    0
}

/// Makes the reaper now (once), holding a copy of every fd the process has: call it once the
/// VM and its vCPU exist. If it cannot be made, [`exit_process`] tries again; failing that,
/// the process tears the VM down itself as it exits.
pub fn start_reaper() {
    if REAPER_STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    let stack_top = core::ptr::addr_of_mut!(REAPER_STACK) as usize + REAPER_STACK_SIZE;
    // SAFETY: the signal masks are plain values on this stack. The child runs `reaper` on a
    // static stack nobody else uses (REAPER_STARTED lets one call through), shares the
    // address space (CLONE_VM), gets a copy of the fd table and inherits the mask with every
    // signal blocked; `reaper` only makes raw syscalls. This thread's mask is restored after.
    let pid = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut before: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut before);
        let pid =
            libc::clone(reaper, stack_top as *mut libc::c_void, libc::CLONE_VM, parent as usize as *mut libc::c_void);
        libc::pthread_sigmask(libc::SIG_SETMASK, &before, std::ptr::null_mut());
        pid
    };
    if pid < 0 {
        REAPER_STARTED.store(false, Ordering::SeqCst);
    }
}

/// Exits the process with `status` now, leaving the teardown of `vm` (and everything else the
/// process holds) to the reaper. Flush stdout and stderr before calling: nothing runs after.
pub fn exit_process<T>(status: i32, vm: T) -> ! {
    // The VM's fds and memory must not be released by this process before it exits.
    std::mem::forget(vm);
    // If no reaper can be made, the process simply exits and tears down itself.
    start_reaper();
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(status) }
}
