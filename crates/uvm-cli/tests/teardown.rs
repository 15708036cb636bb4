//! Teardown: `uvm run` exits as soon as the app's status is known and leaves the VM to a
//! reaper (a `CLONE_VM` child holding copies of the VM's fds, see uvm-vmm's `teardown`), which
//! must then end by itself: after a normal exit, and after uvm was killed outright.
//!
//! One test, alone in its own test binary: it makes the test process a child subreaper, so
//! the reaper, orphaned when uvm exits, becomes this process's child and can be waited for.

mod support;

use std::ffi::{c_int, c_ulong};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::apps::Toolchain::Glibc;
use support::process::show;
use support::vm::{self, expect_code, uvm};

extern "C" {
    fn prctl(option: c_int, arg2: c_ulong, arg3: c_ulong, arg4: c_ulong, arg5: c_ulong) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
}

const PR_SET_CHILD_SUBREAPER: c_int = 36;
const WNOHANG: c_int = 1;

/// Waits up to `limit` for orphans that were handed to this process; how many ended.
fn orphans_ended(limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    let mut ended = 0;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only `status`, a valid c_int.
        let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
        if pid > 0 {
            ended += 1;
            continue;
        }
        // 0: a child is still running; -1 (ECHILD): none is left.
        if pid < 0 || Instant::now() >= deadline {
            return ended;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_reaper_ends_after_uvm_whether_it_exits_or_is_killed() {
    let test = "the_reaper_ends_after_uvm_whether_it_exits_or_is_killed";
    // Each app is staged in a work directory of its own.
    let (Some(hello), Some(sleeper)) = (
        vm::app_image(&format!("{test}_hello"), "hello", Glibc),
        vm::app_image(&format!("{test}_sleeper"), "sleep_spin", Glibc),
    ) else {
        return;
    };
    // SAFETY: prctl with integer arguments only changes this process's own attribute.
    assert_eq!(unsafe { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }, 0, "{test}: PR_SET_CHILD_SUBREAPER");
    let limit = Duration::from_secs(10);

    // A normal exit: the output and status come first, then exactly one reaper ends.
    let out = expect_code(test, uvm(["run".as_ref(), hello.as_os_str()]), 0);
    assert_eq!(show(&out.stdout), show(b"Hello, world!\n"), "{test}");
    assert_eq!(orphans_ended(limit), 1, "{test}: one reaper should end after a normal exit, within {limit:?}");

    // uvm killed outright while the guest sleeps (nothing of uvm runs after SIGKILL): the
    // reaper it made before the guest ran still ends and takes the VM with it.
    let mut child = uvm(["run".as_ref(), sleeper.as_os_str(), "--".as_ref(), "sleep".as_ref(), "5000".as_ref()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn uvm");
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill").args(["-KILL", &child.id().to_string()]).status().expect("run kill");
    assert!(killed.success(), "{test}: kill -KILL");
    let status = child.wait().expect("wait for uvm");
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{test}: {status}");
    assert_eq!(orphans_ended(limit), 1, "{test}: one reaper should end after uvm was killed, within {limit:?}");
}
