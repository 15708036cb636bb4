//! The syscall table: one line per implemented Linux x86-64 syscall number, with its name,
//! its argument count (for the trace) and its handler. Anything not listed is ENOSYS.
//!
//! Calls answered with a harmless no-op (allowed by Linux semantics for a one-process VM) are
//! marked `// no-op:` with the reason; docs/syscalls.md lists them.

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::process::Process;

use super::{
    caps, clone, creds, epoll, exec, fs, futex, inotify, itimer, locks, memfd, misc, mm, net, pidfd, poll, posix_timer,
    prctl, priority, proc, signal, signalfd, time, timerfd, xattr,
};

macro_rules! syscall_table {
    ($($nr:literal $name:ident $argc:literal => $handler:path;)*) => {
        /// Runs syscall `nr`. Always inlined into `syscall_handler`, which `hot-text.ld`
        /// places in the hot text: on its own (the compiler stopped inlining it once the table
        /// grew past ~300 entries) it landed in the cold text, and every start paid shadow-page
        /// faults for it (musl hello 14 -> 17).
        #[inline(always)]
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

/// [`ARGC`]'s value for a number the kernel does not serve.
const NOT_SERVED: u8 = u8::MAX;

/// The argument count of each served syscall by number, [`NOT_SERVED`] for the others: built
/// at compile time from [`IMPLEMENTED`], which the kernel does not keep (read-only data is
/// copied into every VM; its names are `names::linux_name`'s).
static ARGC: [u8; super::names::SLOTS] = {
    let mut argc = [NOT_SERVED; super::names::SLOTS];
    let mut i = 0;
    while i < IMPLEMENTED.len() {
        argc[IMPLEMENTED[i].0 as usize] = IMPLEMENTED[i].2 as u8;
        i += 1;
    }
    argc
};

/// The name and argument count of an implemented syscall.
pub fn entry(nr: u64) -> Option<(&'static str, usize)> {
    let argc = *ARGC.get(usize::try_from(nr).ok()?)?;
    if argc == NOT_SERVED {
        return None;
    }
    Some((super::names::linux_name(nr)?, usize::from(argc)))
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
    15 rt_sigreturn 0 => signal::sys_rt_sigreturn;
    16 ioctl 3 => fs::sys_ioctl;
    17 pread64 4 => fs::sys_pread64;
    18 pwrite64 4 => fs::sys_pwrite64;
    19 readv 3 => fs::sys_readv;
    20 writev 3 => fs::sys_writev;
    21 access 2 => fs::sys_access;
    22 pipe 1 => fs::sys_pipe;
    23 select 5 => poll::sys_select;
    24 sched_yield 0 => clone::sys_sched_yield;
    25 mremap 5 => mm::sys_mremap;
    26 msync 3 => mm::sys_msync;
    27 mincore 3 => mm::sys_mincore;
    28 madvise 3 => mm::sys_madvise;
    32 dup 1 => fs::sys_dup;
    33 dup2 2 => fs::sys_dup2;
    34 pause 0 => signal::sys_pause;
    35 nanosleep 2 => time::sys_nanosleep;
    36 getitimer 2 => itimer::sys_getitimer;
    37 alarm 1 => itimer::sys_alarm;
    38 setitimer 3 => itimer::sys_setitimer;
    39 getpid 0 => proc::sys_getpid;
    40 sendfile 4 => fs::sys_sendfile;
    41 socket 3 => net::sys_socket;
    42 connect 3 => net::sys_connect;
    43 accept 3 => net::sys_accept;
    44 sendto 6 => net::sys_sendto;
    45 recvfrom 6 => net::sys_recvfrom;
    46 sendmsg 3 => net::sys_sendmsg;
    47 recvmsg 3 => net::sys_recvmsg;
    48 shutdown 2 => net::sys_shutdown;
    49 bind 3 => net::sys_bind;
    50 listen 2 => net::sys_listen;
    51 getsockname 3 => net::sys_getsockname;
    52 getpeername 3 => net::sys_getpeername;
    53 socketpair 4 => net::sys_socketpair;
    54 setsockopt 5 => net::sys_setsockopt;
    55 getsockopt 5 => net::sys_getsockopt;
    56 clone 5 => clone::sys_clone;
    57 fork 0 => clone::sys_fork;
    58 vfork 0 => clone::sys_vfork;
    59 execve 3 => exec::sys_execve;
    60 exit 1 => clone::sys_exit;
    61 wait4 4 => proc::sys_wait4;
    62 kill 2 => signal::sys_kill;
    63 uname 1 => proc::sys_uname;
    72 fcntl 3 => fs::sys_fcntl;
    73 flock 2 => locks::sys_flock;
    74 fsync 1 => fs::sys_fsync;
    75 fdatasync 1 => fs::sys_fdatasync;
    76 truncate 2 => fs::sys_truncate;
    77 ftruncate 2 => fs::sys_ftruncate;
    79 getcwd 2 => fs::sys_getcwd;
    80 chdir 1 => fs::sys_chdir;
    81 fchdir 1 => fs::sys_fchdir;
    82 rename 2 => fs::sys_rename;
    83 mkdir 2 => fs::sys_mkdir;
    84 rmdir 1 => fs::sys_rmdir;
    85 creat 2 => fs::sys_creat;
    86 link 2 => fs::sys_link;
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
    98 getrusage 2 => misc::sys_getrusage;
    99 sysinfo 1 => misc::sys_sysinfo;
    100 times 1 => misc::sys_times;
    102 getuid 0 => creds::sys_getuid;
    103 syslog 3 => misc::sys_syslog;
    104 getgid 0 => creds::sys_getgid;
    105 setuid 1 => creds::sys_setuid;
    106 setgid 1 => creds::sys_setgid;
    107 geteuid 0 => creds::sys_geteuid;
    108 getegid 0 => creds::sys_getegid;
    109 setpgid 2 => misc::sys_setpgid;
    110 getppid 0 => proc::sys_getppid;
    111 getpgrp 0 => misc::sys_getpgrp;
    112 setsid 0 => misc::sys_setsid;
    113 setreuid 2 => creds::sys_setreuid;
    114 setregid 2 => creds::sys_setregid;
    115 getgroups 2 => creds::sys_getgroups;
    116 setgroups 2 => creds::sys_setgroups;
    117 setresuid 3 => creds::sys_setresuid;
    118 getresuid 3 => creds::sys_getresuid;
    119 setresgid 3 => creds::sys_setresgid;
    120 getresgid 3 => creds::sys_getresgid;
    121 getpgid 1 => misc::sys_getpgid;
    122 setfsuid 1 => creds::sys_setfsuid;
    123 setfsgid 1 => creds::sys_setfsgid;
    124 getsid 1 => misc::sys_getsid;
    125 capget 2 => caps::sys_capget;
    126 capset 2 => caps::sys_capset;
    127 rt_sigpending 2 => signal::sys_rt_sigpending;
    128 rt_sigtimedwait 4 => signal::sys_rt_sigtimedwait;
    129 rt_sigqueueinfo 3 => signal::sys_rt_sigqueueinfo;
    130 rt_sigsuspend 2 => signal::sys_rt_sigsuspend;
    131 sigaltstack 2 => signal::sys_sigaltstack;
    132 utime 2 => fs::sys_utime;
    133 mknod 3 => fs::sys_mknod;
    135 personality 1 => prctl::sys_personality;
    137 statfs 2 => fs::sys_statfs;
    138 fstatfs 2 => fs::sys_fstatfs;
    140 getpriority 2 => priority::sys_getpriority;
    141 setpriority 3 => priority::sys_setpriority;
    142 sched_setparam 2 => priority::sys_sched_setparam;
    143 sched_getparam 2 => priority::sys_sched_getparam;
    144 sched_setscheduler 3 => priority::sys_sched_setscheduler;
    145 sched_getscheduler 1 => priority::sys_sched_getscheduler;
    146 sched_get_priority_max 1 => priority::sys_sched_get_priority_max;
    147 sched_get_priority_min 1 => priority::sys_sched_get_priority_min;
    148 sched_rr_get_interval 2 => priority::sys_sched_rr_get_interval;
    149 mlock 2 => mm::sys_mlock;
    150 munlock 2 => mm::sys_mlock;
    151 mlockall 1 => mm::sys_mlockall;
    152 munlockall 0 => mm::sys_munlockall;
    157 prctl 5 => prctl::sys_prctl;
    158 arch_prctl 2 => proc::sys_arch_prctl;
    160 setrlimit 2 => proc::sys_setrlimit;
    162 sync 0 => fs::sys_sync;
    164 settimeofday 2 => time::sys_settimeofday;
    170 sethostname 2 => proc::sys_sethostname;
    171 setdomainname 2 => proc::sys_setdomainname;
    186 gettid 0 => clone::sys_gettid;
    187 readahead 3 => fs::sys_readahead;
    188 setxattr 5 => xattr::sys_path_xattr;
    189 lsetxattr 5 => xattr::sys_link_xattr;
    190 fsetxattr 5 => xattr::sys_fd_xattr;
    191 getxattr 4 => xattr::sys_path_xattr;
    192 lgetxattr 4 => xattr::sys_link_xattr;
    193 fgetxattr 4 => xattr::sys_fd_xattr;
    194 listxattr 3 => xattr::sys_listxattr;
    195 llistxattr 3 => xattr::sys_llistxattr;
    196 flistxattr 3 => xattr::sys_flistxattr;
    197 removexattr 2 => xattr::sys_path_xattr;
    198 lremovexattr 2 => xattr::sys_link_xattr;
    199 fremovexattr 2 => xattr::sys_fd_xattr;
    200 tkill 2 => signal::sys_tkill;
    201 time 1 => time::sys_time;
    202 futex 6 => futex::sys_futex;
    203 sched_setaffinity 3 => proc::sys_sched_setaffinity;
    204 sched_getaffinity 3 => proc::sys_sched_getaffinity;
    213 epoll_create 1 => epoll::sys_epoll_create;
    217 getdents64 3 => fs::sys_getdents64;
    218 set_tid_address 1 => clone::sys_set_tid_address;
    221 fadvise64 4 => fs::sys_fadvise64;
    222 timer_create 3 => posix_timer::sys_timer_create;
    223 timer_settime 4 => posix_timer::sys_timer_settime;
    224 timer_gettime 2 => posix_timer::sys_timer_gettime;
    225 timer_getoverrun 1 => posix_timer::sys_timer_getoverrun;
    226 timer_delete 1 => posix_timer::sys_timer_delete;
    227 clock_settime 2 => time::sys_clock_settime;
    228 clock_gettime 2 => time::sys_clock_gettime;
    229 clock_getres 2 => time::sys_clock_getres;
    230 clock_nanosleep 4 => time::sys_clock_nanosleep;
    231 exit_group 1 => clone::sys_exit_group;
    232 epoll_wait 4 => epoll::sys_epoll_wait;
    233 epoll_ctl 4 => epoll::sys_epoll_ctl;
    234 tgkill 3 => signal::sys_tgkill;
    235 utimes 2 => fs::sys_utimes;
    247 waitid 5 => proc::sys_waitid;
    251 ioprio_set 3 => priority::sys_ioprio_set;
    252 ioprio_get 2 => priority::sys_ioprio_get;
    253 inotify_init 0 => inotify::sys_inotify_init;
    254 inotify_add_watch 3 => inotify::sys_inotify_add_watch;
    255 inotify_rm_watch 2 => inotify::sys_inotify_rm_watch;
    257 openat 4 => fs::sys_openat;
    258 mkdirat 3 => fs::sys_mkdirat;
    259 mknodat 4 => fs::sys_mknodat;
    260 fchownat 5 => fs::sys_fchownat;
    261 futimesat 3 => fs::sys_futimesat;
    262 newfstatat 4 => fs::sys_newfstatat;
    263 unlinkat 3 => fs::sys_unlinkat;
    264 renameat 4 => fs::sys_renameat;
    265 linkat 5 => fs::sys_linkat;
    266 symlinkat 3 => fs::sys_symlinkat;
    267 readlinkat 4 => fs::sys_readlinkat;
    268 fchmodat 3 => fs::sys_fchmodat;
    269 faccessat 3 => fs::sys_faccessat;
    270 pselect6 6 => poll::sys_pselect6;
    271 ppoll 5 => poll::sys_ppoll;
    273 set_robust_list 2 => clone::sys_set_robust_list;
    274 get_robust_list 3 => clone::sys_get_robust_list;
    277 sync_file_range 4 => fs::sys_sync_file_range;
    280 utimensat 4 => fs::sys_utimensat;
    281 epoll_pwait 6 => epoll::sys_epoll_pwait;
    282 signalfd 3 => signalfd::sys_signalfd;
    283 timerfd_create 2 => timerfd::sys_timerfd_create;
    284 eventfd 1 => epoll::sys_eventfd;
    285 fallocate 4 => fs::sys_fallocate;
    286 timerfd_settime 4 => timerfd::sys_timerfd_settime;
    287 timerfd_gettime 2 => timerfd::sys_timerfd_gettime;
    288 accept4 4 => net::sys_accept4;
    289 signalfd4 4 => signalfd::sys_signalfd4;
    290 eventfd2 2 => epoll::sys_eventfd2;
    291 epoll_create1 1 => epoll::sys_epoll_create1;
    292 dup3 3 => fs::sys_dup3;
    293 pipe2 2 => fs::sys_pipe2;
    294 inotify_init1 1 => inotify::sys_inotify_init1;
    295 preadv 5 => fs::sys_preadv;
    296 pwritev 5 => fs::sys_pwritev;
    297 rt_tgsigqueueinfo 4 => signal::sys_rt_tgsigqueueinfo;
    299 recvmmsg 5 => net::sys_recvmmsg;
    302 prlimit64 4 => proc::sys_prlimit64;
    306 syncfs 1 => fs::sys_syncfs;
    307 sendmmsg 4 => net::sys_sendmmsg;
    309 getcpu 3 => misc::sys_getcpu;
    316 renameat2 5 => fs::sys_renameat2;
    318 getrandom 3 => proc::sys_getrandom;
    319 memfd_create 2 => memfd::sys_memfd_create;
    322 execveat 5 => exec::sys_execveat;
    325 mlock2 3 => mm::sys_mlock2;
    326 copy_file_range 6 => fs::sys_copy_file_range;
    327 preadv2 6 => fs::sys_preadv2;
    328 pwritev2 6 => fs::sys_pwritev2;
    332 statx 5 => fs::sys_statx;
    424 pidfd_send_signal 4 => pidfd::sys_pidfd_send_signal;
    434 pidfd_open 2 => pidfd::sys_pidfd_open;
    435 clone3 2 => clone::sys_clone3;
    436 close_range 3 => fs::sys_close_range;
    438 pidfd_getfd 3 => pidfd::sys_pidfd_getfd;
    439 faccessat2 4 => fs::sys_faccessat2;
    441 epoll_pwait2 6 => epoll::sys_epoll_pwait2;
    452 fchmodat2 4 => fs::sys_fchmodat2;
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
            assert_eq!(entry(nr), Some((name, argc)), "syscall {nr}");
        }
        assert_eq!(entry(340), None, "no such syscall");
        assert_eq!(entry(134), None, "uselib: not served");
        assert_eq!(entry(1 << 40), None);
    }
}
