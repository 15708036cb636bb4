//! execve(2) and execveat(2): the process replaces its program with another one from the
//! image, as a container's entrypoint script does with `exec "$@"`. The process stays the
//! VM's one process (no fork: `syscall::notes`); what survives the call is what survives it
//! on Linux: the fds not marked close-on-exec, the working directory, the signal mask and
//! pending signals, ignored signals, the umask and the identity. The memory, the signal
//! handlers, the alternate stack, the thread pointer and the FPU state start afresh.
//!
//! What can run: a static x86-64 ELF file (one packaged in the image is mapped from it as the
//! app is; one the app wrote to `/tmp` or `/dev/shm` is copied), or a script whose `#!` line
//! names one (up to [`INTERPRETER_DEPTH`] scripts deep, as Linux). A dynamically linked
//! program is ENOEXEC, with a note on stderr once per run.
//!
//! Everything that can fail is checked before the old program is gone; past that point
//! (out of memory while the new program is mapped) the process dies of SIGSEGV, as on Linux.
//! A process with more than one thread ends its other threads first
//! (`clone::end_other_threads`).
//!
//! The boot starts `uvm run --entrypoint`'s program the same way ([`start_entrypoint`]), in
//! the process it made without loading the image's app.

use alloc::sync::Arc;
use alloc::vec::Vec;

use uvm_abi::layout::{USER_END_VA, USER_MIN_VA};

use crate::arch::frame::TrapFrame;
use crate::elf::{self, ElfFile};
use crate::errno::{Errno, SysResult};
use crate::fs::stat::FileType;
use crate::fs::{Location, OpenFile};
use crate::process::Process;
use crate::program::{self, ARG_BYTES_MAX, ARG_STRING_MAX};
use crate::signal::{Signal, SIG_DFL, SIG_IGN};
use crate::user;

use super::fs::{base_of, empty_path_file, path_arg, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW};
use super::notes::dynamic_program_note;

/// How many `#!` scripts may stand between the call and the ELF file (Linux: ELOOP beyond).
pub const INTERPRETER_DEPTH: usize = 4;
/// How much of a script's first line is read for its `#!` line (Linux's BINPRM_BUF_SIZE).
const SHEBANG_LINE_MAX: usize = 256;

/// Whether syscall `nr` replaced the program when it succeeded (the syscall entry then
/// forgets the old program's site).
pub fn replaces_program(nr: u64) -> bool {
    nr == 59 || nr == 322
}

/// execve(path, argv, envp).
pub fn sys_execve(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [path, argv, envp, ..] = f.syscall_args();
    execute(p, f, AT_FDCWD, path, argv, envp, 0)
}

/// execveat(dirfd, path, argv, envp, flags).
pub fn sys_execveat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path, argv, envp, flags, ..] = f.syscall_args();
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    execute(p, f, dirfd as i32, path, argv, envp, flags)
}

/// The strings of a NULL-terminated array of string pointers at `addr` (none for a null
/// `addr`, as Linux allows). E2BIG if one is longer than [`ARG_STRING_MAX`] or all of them
/// (with `taken` bytes already counted) take more than [`ARG_BYTES_MAX`] on the stack.
fn read_strings(p: &mut Process, addr: u64, taken: &mut u64) -> Result<Vec<Vec<u8>>, Errno> {
    let mut strings = Vec::new();
    if addr == 0 {
        return Ok(strings);
    }
    loop {
        let slot = addr.checked_add(strings.len() as u64 * 8).ok_or(Errno::EFAULT)?;
        let at = user::read_u64(&mut p.space, slot)?;
        if at == 0 {
            return Ok(strings);
        }
        let s = user::read_cstr(&mut p.space, at, ARG_STRING_MAX - 1).map_err(|e| match e {
            Errno::ENAMETOOLONG => Errno::E2BIG,
            other => other,
        })?;
        // The string, its NUL and its pointer.
        *taken += s.len() as u64 + 1 + 8;
        if *taken > ARG_BYTES_MAX {
            return Err(Errno::E2BIG);
        }
        strings.push(s);
    }
}

/// A script's `#!` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shebang<'a> {
    /// The interpreter's path.
    pub interpreter: &'a [u8],
    /// Its one optional argument: the rest of the line, trimmed, as Linux passes it (not
    /// split at spaces).
    pub argument: Option<&'a [u8]>,
}

/// The `#!` line `bytes` start with; `None` when they do not start with `#!`; ENOEXEC when
/// the line names no interpreter or does not end within [`SHEBANG_LINE_MAX`] bytes.
pub fn shebang(bytes: &[u8]) -> Option<Result<Shebang<'_>, Errno>> {
    let line = bytes.strip_prefix(b"#!")?;
    let head = &line[..line.len().min(SHEBANG_LINE_MAX - 2)];
    let Some(end) = head.iter().position(|&b| b == b'\n').or((line.len() <= head.len()).then_some(line.len())) else {
        return Some(Err(Errno::ENOEXEC));
    };
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let line = trim(&head[..end], blank);
    let interpreter_end = line.iter().position(blank).unwrap_or(line.len());
    let (interpreter, rest) = line.split_at(interpreter_end);
    if interpreter.is_empty() {
        return Some(Err(Errno::ENOEXEC));
    }
    let argument = trim(rest, blank);
    Some(Ok(Shebang { interpreter, argument: (!argument.is_empty()).then_some(argument) }))
}

fn trim(mut s: &[u8], blank: impl Fn(&u8) -> bool) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !blank(first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !blank(last) {
            break;
        }
        s = rest;
    }
    s
}

/// A program's bytes: in the image (mapped from it), or read from a file outside it.
enum Bytes {
    /// The image's bytes, at this offset in the image.
    Image(&'static [u8], u64),
    /// A copy of a file the app wrote (tmpfs).
    Copied(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Image(bytes, _) => bytes,
            Bytes::Copied(bytes) => bytes,
        }
    }
}

/// The bytes of `file`, if it may be run: a regular file with an execute bit. A file outside
/// the image is read whole (ENOMEM if the VM has no room for its copy).
fn runnable_bytes(p: &Process, file: &OpenFile) -> Result<Bytes, Errno> {
    let stat = file.stat()?;
    if file.is_dir() || stat.file_type() != Some(FileType::Regular) || stat.mode & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    if crate::fs::access::restricted() {
        crate::fs::access::check_as(p.vfs.caller(), &stat, crate::fs::access::MAY_EXEC, false)?;
    }
    if let Some((offset, size)) = file.image_extent() {
        return p.vfs.image().bytes(offset, size).map(|bytes| Bytes::Image(bytes, offset)).ok_or(Errno::EIO);
    }
    let size = usize::try_from(stat.size).map_err(|_| Errno::ENOMEM)?;
    let mut copy = Vec::new();
    copy.try_reserve_exact(size).map_err(|_| Errno::ENOMEM)?;
    copy.resize(size, 0);
    let read = file.pread_full(&mut copy, 0)?;
    copy.truncate(read);
    Ok(Bytes::Copied(copy))
}

/// Tells the user, once per run, that the dynamically linked program at `path` cannot run
/// (the app may hide the error, as an entrypoint script's `exec` of a tool shows only its
/// status).
fn note_dynamic_once(p: &mut Process, path: &[u8]) {
    if !p.exec_noted {
        p.exec_noted = true;
        crate::hypercall::console_write_all(2, dynamic_program_note(path).as_bytes());
    }
}

/// The program to run: its ELF, its bytes and the path `/proc/self/exe` shows.
struct Program {
    elf: ElfFile,
    bytes: Bytes,
    exe_path: Vec<u8>,
}

/// Finds the program `file` is (following `#!` lines, whose interpreters are looked up from
/// `cwd`), and prepends each script's interpreter and argument to `argv`, whose first string
/// becomes the script's `path`, as Linux does.
fn resolve(
    p: &mut Process,
    cwd: &Location,
    mut file: Arc<OpenFile>,
    mut path: Vec<u8>,
    argv: &mut Vec<Vec<u8>>,
) -> Result<Program, Errno> {
    for _ in 0..=INTERPRETER_DEPTH {
        let bytes = runnable_bytes(p, &file)?;
        let Some(line) = shebang(bytes.as_slice()) else {
            let elf = elf::parse(bytes.as_slice()).inspect_err(|_| {
                if elf::is_dynamic(bytes.as_slice()) {
                    note_dynamic_once(p, &path);
                }
            })?;
            return Ok(Program { elf, bytes, exe_path: file.location().path.clone() });
        };
        let Shebang { interpreter, argument } = line?;
        let mut head = alloc::vec![interpreter.to_vec()];
        head.extend(argument.map(<[u8]>::to_vec));
        head.push(path);
        if !argv.is_empty() {
            argv.remove(0);
        }
        argv.splice(0..0, head);
        path = interpreter.to_vec();
        let base = if path.first() == Some(&b'/') { p.vfs.root() } else { cwd.clone() };
        file = p.vfs.open_to_run(&base, &path, true)?;
    }
    Err(Errno::ELOOP)
}

/// execve and execveat: everything is read and checked, then the old program goes.
fn execute(p: &mut Process, f: &mut TrapFrame, dirfd: i32, path: u64, argv: u64, envp: u64, flags: u64) -> SysResult {
    let path = path_arg(p, path)?;
    let mut taken = 0;
    let mut argv = read_strings(p, argv, &mut taken)?;
    let envp = read_strings(p, envp, &mut taken)?;
    let cwd = p.files.cwd.lock().clone();
    let (file, shown_path) = match empty_path_file(p, dirfd, &path, flags)? {
        // The fd itself; a script run this way is named by its fd, as Linux does.
        Some(file) => (file, alloc::format!("/dev/fd/{dirfd}").into_bytes()),
        None => {
            let base = base_of(p, dirfd, &path)?;
            (p.vfs.open_to_run(&base, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?, path.clone())
        }
    };
    // AT_EXECFN: the path as given (the script's, when it is one), as Linux.
    let execfn = shown_path.clone();
    let program = resolve(p, &cwd, file, shown_path, &mut argv)?;
    match replace_program(p, program, argv, envp, &execfn)? {
        Some(start) => *f = TrapFrame::new_app(start.entry, start.rsp, f.cs, f.ss),
        None => crate::signal::kill_with(p, Signal::SIGSEGV, 0, f.rip, u32::MAX, 0),
    }
    Ok(0)
}

/// Starts the first program in the boot's process instead of the image's app (`uvm run
/// --entrypoint`, the boot info's entrypoint): the first of `candidates` (paths joined by
/// `:`, relative ones from the working directory: the VMM's lookup of a name in the app's
/// PATH, or the one path given) that opens, run as execve would run it, with `argv` and `envp`.
pub fn start_entrypoint(
    p: &mut Process,
    candidates: &[u8],
    mut argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<program::Start, Errno> {
    let cwd = p.files.cwd.lock().clone();
    let mut found = Err(Errno::ENOENT);
    for path in candidates.split(|&b| b == b':') {
        found =
            base_of(p, AT_FDCWD, path).and_then(|base| p.vfs.open_to_run(&base, path, true)).map(|file| (file, path));
        if found.is_ok() {
            break;
        }
    }
    let (file, path) = found?;
    let program = resolve(p, &cwd, file, path.to_vec(), &mut argv)?;
    replace_program(p, program, argv, envp, path)?.ok_or(Errno::ENOMEM)
}

/// Replaces the process's program with `program`, started with `argv`, `envp` and AT_EXECFN
/// `execfn`: everything that can fail is checked first (E2BIG); past the point of no return,
/// `None` if the new program could not be mapped (out of memory: execve then kills the
/// process, as Linux does), else where it starts. (Out of line: execve and the boot call it.)
#[inline(never)]
fn replace_program(
    p: &mut Process,
    program: Program,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    execfn: &[u8],
) -> Result<Option<program::Start>, Errno> {
    let (argv_borrowed, envp_borrowed) = (program::borrowed(&argv), program::borrowed(&envp));
    let args = program::Arguments { argv: &argv_borrowed, envp: &envp_borrowed, execfn };
    if program::stack_bound(&args) > ARG_BYTES_MAX {
        return Err(Errno::E2BIG);
    }
    super::clone::end_other_threads(p);
    // A process other than the app takes fresh tables (a vfork child gives back the memory
    // it ran on); the app unmaps its old program below. Tables an earlier run of the same
    // program left keep its read-only pages of the image.
    let in_place = match &program.bytes {
        Bytes::Image(_, offset) => elf::InPlace::of(&program.elf, *offset),
        Bytes::Copied(_) => elf::InPlace::default(),
    };
    let keep = |va, entry| in_place.entry(va) == Some(entry);
    let fresh_tables = crate::family::take_fresh_space(p, in_place.fit(), &keep)?;

    // The point of no return: the old program's memory goes.
    let closed = p.files.fds.lock().close_on_exec();
    for file in &closed {
        super::locks::closed(p, file);
    }
    drop(closed);
    if !fresh_tables {
        let _ = p.space.unmap(USER_MIN_VA, USER_END_VA - USER_MIN_VA);
    }
    p.patcher.forget_sites();
    let machine = p.machine;
    let loaded = match &program.bytes {
        Bytes::Image(_, offset) => elf::load(&mut p.space, &program.elf, *offset, false),
        Bytes::Copied(bytes) => elf::load_copy(&mut p.space, &program.elf, bytes),
    };
    let Ok(start) = loaded.and_then(|loaded| program::start(&mut p.space, &loaded, &machine, &args)) else {
        return Ok(None);
    };
    for action in p.signals.actions.iter_mut() {
        if action.handler != SIG_IGN && action.handler != SIG_DFL {
            *action = Default::default();
        }
    }
    // POSIX timers end (ITIMER_REAL survives), as on Linux.
    super::posix_timer::end_all(p);
    let pid = p.pid;
    let thread = &mut p.thread;
    // Called from another thread, this one is the process's only thread now, and takes the
    // first thread's id, as on Linux (its tid equals the pid again).
    thread.tid = pid;
    thread.signals.alt_stack = crate::signal::AltStack::DISABLED;
    thread.signals.saved_mask = None;
    thread.clear_child_tid = 0;
    // The new program's name is its file's (`set_program` below), as Linux's `comm`.
    thread.name = None;
    thread.robust_list = 0;
    p.set_fs_base(0);
    crate::arch::xstate::reset_for_exec();
    p.set_command_line(argv, envp);
    p.view.set_program(&program.exe_path);
    let mut identity = p.view.identity();
    identity.uid = identity.uid.after_exec();
    identity.gid = identity.gid.after_exec();
    let mut caps = p.view.capabilities();
    caps.after_exec(p.attributes.no_new_privs, identity.uid);
    p.view.set_capabilities(caps);
    // Dumpable again unless it runs with other effective ids than its real ones.
    p.view.set_dumpable(identity.uid.effective == identity.uid.real && identity.gid.effective == identity.gid.real);
    p.view.set_identity(identity);
    // A vfork parent waits no longer: this process has memory of its own now.
    crate::family::release_vfork_parent(p);
    Ok(Some(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shebang_line_names_the_interpreter_and_one_argument() {
        let line =
            |interpreter: &'static [u8], argument: Option<&'static [u8]>| Some(Ok(Shebang { interpreter, argument }));
        assert_eq!(shebang(b"#!/bin/sh\necho hi\n"), line(b"/bin/sh", None));
        assert_eq!(shebang(b"#! /bin/busybox  sh -e \nx"), line(b"/bin/busybox", Some(b"sh -e")));
        assert_eq!(shebang(b"#!\t/x\targ"), line(b"/x", Some(b"arg")), "no newline: the file's end");
        assert_eq!(shebang(b"\x7fELF"), None);
        assert_eq!(shebang(b"echo hi"), None);
    }

    #[test]
    fn a_shebang_line_without_an_interpreter_or_an_end_is_refused() {
        assert_eq!(shebang(b"#!\n"), Some(Err(Errno::ENOEXEC)));
        assert_eq!(shebang(b"#!   \n/bin/sh"), Some(Err(Errno::ENOEXEC)));
        let mut long = b"#!/bin/".to_vec();
        long.resize(400, b'x');
        long.push(b'\n');
        assert_eq!(shebang(&long), Some(Err(Errno::ENOEXEC)));
        let mut fits = b"#!/bin/".to_vec();
        fits.resize(SHEBANG_LINE_MAX - 1, b'x');
        fits.push(b'\n');
        assert!(matches!(shebang(&fits), Some(Ok(_))), "a line of 255 bytes and its newline");
    }

    #[test]
    fn only_execve_and_execveat_replace_the_program() {
        assert!(replaces_program(59) && replaces_program(322));
        assert!(!replaces_program(57) && !replaces_program(60));
    }
}
