//! The syscall table: one line per implemented Linux x86-64 syscall number, with its name,
//! its argument count (for the trace) and its handler. Anything not listed is ENOSYS.
//!
//! Calls answered with a harmless no-op (allowed by Linux semantics for a one-process VM) are
//! marked `// no-op:` with the reason; docs/syscalls.md lists them.

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::process::Process;

use super::{fs, mm, poll, proc, signal, time};

macro_rules! syscall_table {
    ($($nr:literal $name:ident $argc:literal => $handler:path;)*) => {
        /// Runs syscall `nr`.
        pub fn dispatch(nr: u64, p: &mut Process, f: &mut TrapFrame) -> SysResult {
            match nr {
                $($nr => $handler(p, f),)*
                _ => Err(Errno::ENOSYS),
            }
        }

        /// Every implemented syscall: (number, name, argument count).
        pub const IMPLEMENTED: &[(u64, &str, usize)] = &[$(($nr, stringify!($name), $argc),)*];
    };
}

/// The name and argument count of an implemented syscall.
pub fn entry(nr: u64) -> Option<(&'static str, usize)> {
    IMPLEMENTED.iter().find(|(n, _, _)| *n == nr).map(|&(_, name, argc)| (name, argc))
}

syscall_table! {
    0 read 3 => fs::sys_read;
    1 write 3 => fs::sys_write;
    2 open 3 => fs::sys_open;
    3 close 1 => fs::sys_close;
    4 stat 2 => fs::sys_stat;
    5 fstat 2 => fs::sys_fstat;
    6 lstat 2 => fs::sys_lstat;
    7 poll 3 => poll::sys_poll;
    8 lseek 3 => fs::sys_lseek;
    9 mmap 6 => mm::sys_mmap;
    10 mprotect 3 => mm::sys_mprotect;
    11 munmap 2 => mm::sys_munmap;
    12 brk 1 => mm::sys_brk;
    13 rt_sigaction 4 => signal::sys_rt_sigaction;
    14 rt_sigprocmask 4 => signal::sys_rt_sigprocmask;
    16 ioctl 3 => fs::sys_ioctl;
    17 pread64 4 => fs::sys_pread64;
    18 pwrite64 4 => fs::sys_pwrite64;
    19 readv 3 => fs::sys_readv;
    20 writev 3 => fs::sys_writev;
    21 access 2 => fs::sys_access;
    24 sched_yield 0 => proc::sys_sched_yield;
    28 madvise 3 => mm::sys_madvise;
    32 dup 1 => fs::sys_dup;
    33 dup2 2 => fs::sys_dup2;
    35 nanosleep 2 => time::sys_nanosleep;
    39 getpid 0 => proc::sys_getpid;
    60 exit 1 => proc::sys_exit;
    62 kill 2 => signal::sys_kill;
    63 uname 1 => proc::sys_uname;
    72 fcntl 3 => fs::sys_fcntl;
    74 fsync 1 => fs::sys_fsync;
    75 fdatasync 1 => fs::sys_fsync;
    76 truncate 2 => fs::sys_truncate;
    77 ftruncate 2 => fs::sys_ftruncate;
    79 getcwd 2 => fs::sys_getcwd;
    80 chdir 1 => fs::sys_chdir;
    81 fchdir 1 => fs::sys_fchdir;
    82 rename 2 => fs::sys_rename;
    83 mkdir 2 => fs::sys_mkdir;
    84 rmdir 1 => fs::sys_rmdir;
    87 unlink 1 => fs::sys_unlink;
    88 symlink 2 => fs::sys_symlink;
    89 readlink 3 => fs::sys_readlink;
    90 chmod 2 => fs::sys_chmod;
    91 fchmod 2 => fs::sys_fchmod;
    92 chown 3 => fs::sys_chown;
    93 fchown 3 => fs::sys_fchown;
    94 lchown 3 => fs::sys_lchown;
    95 umask 1 => fs::sys_umask;
    96 gettimeofday 2 => time::sys_gettimeofday;
    97 getrlimit 2 => proc::sys_getrlimit;
    102 getuid 0 => proc::sys_getuid;
    104 getgid 0 => proc::sys_getgid;
    107 geteuid 0 => proc::sys_getuid;
    108 getegid 0 => proc::sys_getgid;
    110 getppid 0 => proc::sys_getppid;
    131 sigaltstack 2 => signal::sys_sigaltstack;
    158 arch_prctl 2 => proc::sys_arch_prctl;
    160 setrlimit 2 => proc::sys_setrlimit;
    186 gettid 0 => proc::sys_getpid;
    200 tkill 2 => signal::sys_tkill;
    201 time 1 => time::sys_time;
    204 sched_getaffinity 3 => proc::sys_sched_getaffinity;
    217 getdents64 3 => fs::sys_getdents64;
    218 set_tid_address 1 => proc::sys_set_tid_address;
    228 clock_gettime 2 => time::sys_clock_gettime;
    229 clock_getres 2 => time::sys_clock_getres;
    230 clock_nanosleep 4 => time::sys_clock_nanosleep;
    231 exit_group 1 => proc::sys_exit;
    234 tgkill 3 => signal::sys_tgkill;
    257 openat 4 => fs::sys_openat;
    258 mkdirat 3 => fs::sys_mkdirat;
    260 fchownat 5 => fs::sys_fchownat;
    262 newfstatat 4 => fs::sys_newfstatat;
    263 unlinkat 3 => fs::sys_unlinkat;
    264 renameat 4 => fs::sys_renameat;
    266 symlinkat 3 => fs::sys_symlinkat;
    267 readlinkat 4 => fs::sys_readlinkat;
    268 fchmodat 3 => fs::sys_fchmodat;
    269 faccessat 3 => fs::sys_faccessat;
    271 ppoll 5 => poll::sys_ppoll;
    273 set_robust_list 2 => proc::sys_set_robust_list;
    280 utimensat 4 => fs::sys_utimensat;
    292 dup3 3 => fs::sys_dup3;
    302 prlimit64 4 => proc::sys_prlimit64;
    316 renameat2 5 => fs::sys_renameat2;
    318 getrandom 3 => proc::sys_getrandom;
    332 statx 5 => fs::sys_statx;
    439 faccessat2 4 => fs::sys_faccessat2;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_uses_linux_names() {
        assert!(IMPLEMENTED.windows(2).all(|w| w[0].0 < w[1].0));
        for &(nr, name, argc) in IMPLEMENTED {
            assert!(argc <= 6);
            // Aliases (geteuid -> getuid handler) still carry their own Linux name.
            assert_eq!(super::super::names::linux_name(nr), Some(name), "syscall {nr}");
        }
    }
}
