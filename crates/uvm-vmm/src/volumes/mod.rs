//! Volumes: host directories mounted into the VM (`uvm run -v HOST:GUEST[:ro]`), the VMM side
//! of the HostFs hypercall (`uvm_abi::hostfs`).
//!
//! Each volume's host directory is opened (`O_PATH`) before boot, so a missing one ends the
//! run before anything boots. The guest names files by handles ([`table`]); the VMM walks a
//! volume one checked name at a time with `*at` calls relative to a handle's fd, never follows
//! a symlink for the guest and never lets [`FsOp::Parent`] climb above a volume's root, so
//! nothing the guest sends reaches outside its volumes. A read-only volume refuses every op
//! that would change it with `EROFS` before any host call.
//!
//! - `table`: the handle table;
//! - `ops`: the operations, one function each;
//! - `sys`: the host calls (every `unsafe` of the volume code).

mod ops;
mod sys;
mod table;
#[cfg(test)]
mod tests;

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};

use uvm_abi::hostfs::{FsCall, HostStat, FS_MAX_CLOSES, MAX_VOLUMES};
use uvm_abi::hypercall::Hypercall;

use crate::error::{HypercallError, VmError};
use crate::memory::GuestMemory;
use sys::Errno;
use table::{Access, Entry, Handles, Kind};

/// One volume as `uvm run -v` gives it: a host directory and where the guest mounts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeSpec {
    /// The host directory (absolute, as the CLI resolved it).
    pub host: PathBuf,
    /// The absolute guest path it is mounted at.
    pub guest: String,
    /// Whether the guest may only read it.
    pub read_only: bool,
}

impl VolumeSpec {
    /// Its boot-info string: `r` or `w`, then the guest path (`uvm_abi::hostfs`).
    pub fn boot_string(&self) -> String {
        format!("{}{}", if self.read_only { 'r' } else { 'w' }, self.guest)
    }
}

/// What the VMM knows of one open volume.
#[derive(Debug)]
struct Volume {
    read_only: bool,
    /// Its root directory's host device and inode: [`uvm_abi::hostfs::FsOp::Parent`] stops there.
    root_id: (u64, u64),
}

/// One VM's volumes and their handles.
pub struct Volumes {
    volumes: Vec<Volume>,
    handles: Mutex<Handles>,
}

/// Why an op failed: an errno for the guest, or a call the VM must stop for (a parameter
/// block or buffer outside RAM).
#[derive(Debug)]
enum FsError {
    Errno(i32),
    Stop(HypercallError),
}

impl From<Errno> for FsError {
    fn from(e: Errno) -> FsError {
        FsError::Errno(e.0)
    }
}

impl From<HypercallError> for FsError {
    fn from(e: HypercallError) -> FsError {
        FsError::Stop(e)
    }
}

/// An op's answer: its result, or why it failed.
type FsResult<T> = Result<T, FsError>;

/// Fails with `errno`.
fn fail<T>(errno: i32) -> FsResult<T> {
    Err(FsError::Errno(errno))
}

impl Volumes {
    /// No volumes (every handle is `EBADF`).
    pub fn none() -> Volumes {
        Volumes { volumes: Vec::new(), handles: Mutex::new(Handles::new(Vec::new())) }
    }

    /// Opens each volume's host directory (before boot): an error names the first that is
    /// missing, not a directory or not accessible. The first volume raises this process's
    /// open-file limit to its hard limit (each file the guest holds is a host fd).
    pub fn open(specs: &[VolumeSpec]) -> Result<Volumes, VmError> {
        if specs.len() > MAX_VOLUMES as usize {
            return Err(VmError::TooManyVolumes { count: specs.len(), max: MAX_VOLUMES });
        }
        if !specs.is_empty() {
            static RAISE: Once = Once::new();
            RAISE.call_once(sys::raise_fd_limit);
        }
        let mut volumes = Vec::with_capacity(specs.len());
        let mut roots = Vec::with_capacity(specs.len());
        for (index, spec) in specs.iter().enumerate() {
            if !spec.guest.starts_with('/') || spec.guest.len() < 2 || spec.guest.contains('\0') {
                return Err(VmError::VolumeGuestPath { guest: spec.guest.clone() });
            }
            let (fd, st) = open_root(spec)?;
            let root_id = (st.st_dev, st.st_ino);
            volumes.push(Volume { read_only: spec.read_only, root_id });
            roots.push(Entry { volume: index, fd: Arc::new(fd), kind: Kind::Dir, id: root_id, access: Access::Path });
        }
        Ok(Volumes { volumes, handles: Mutex::new(Handles::new(roots)) })
    }

    /// How many volumes there are.
    pub fn len(&self) -> usize {
        self.volumes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, Handles> {
        self.handles.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves a HostFs hypercall whose parameter block is at `params_gpa`. A block, name or
    /// buffer outside RAM is an error (the VM stops: only the guest kernel makes these calls,
    /// with its own buffers); everything else is a `-errno` result.
    pub fn serve(&self, params_gpa: u64, memory: &GuestMemory) -> Result<(), HypercallError> {
        let call_kind = Hypercall::HostFs;
        let mut call: FsCall = crate::hypercall::read_params(memory, call_kind, params_gpa)?;
        call.value = 0;
        call.stat = HostStat::default();
        let closed = self.close_deferred(&call, memory);
        call.result = match closed.and_then(|()| self.dispatch(&mut call, memory)) {
            Ok(result) => result,
            Err(FsError::Errno(errno)) => -i64::from(errno),
            Err(FsError::Stop(e)) => return Err(e),
        };
        crate::hypercall::write_params(memory, call_kind, params_gpa, &call)
    }

    /// Closes the handles the call lists first ([`FsCall::close_gpa`]): `EINVAL` (nothing
    /// closed) for more than `FS_MAX_CLOSES`; one that is not live is passed over.
    fn close_deferred(&self, call: &FsCall, memory: &GuestMemory) -> FsResult<()> {
        if call.close_count == 0 {
            return Ok(());
        }
        if call.close_count > FS_MAX_CLOSES {
            return fail(libc::EINVAL);
        }
        let bytes = crate::hypercall::guest_buffer(
            memory,
            Hypercall::HostFs,
            call.close_gpa,
            call.close_count * 8,
            FS_MAX_CLOSES * 8,
        )?;
        let mut handles = self.lock();
        for raw in bytes.chunks_exact(8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(raw);
            handles.remove(u64::from_le_bytes(word));
        }
        Ok(())
    }

    /// The entry of `handle` (`EBADF` if it is not live).
    fn entry(&self, handle: u64) -> FsResult<Entry> {
        self.lock().get(handle).ok_or(FsError::Errno(libc::EBADF))
    }

    /// Makes a handle of `fd` in volume `volume` and fills `call.stat` with its metadata: the
    /// handle (`ENFILE` when the table is full; the fd is closed).
    fn add(&self, call: &mut FsCall, volume: usize, fd: OwnedFd, access: Access) -> FsResult<i64> {
        let st = sys::fstat(&fd)?;
        let stat = host_stat(&st);
        let entry =
            Entry { volume, fd: Arc::new(fd), kind: Kind::of_mode(stat.mode), id: (stat.dev, stat.ino), access };
        let handle = self.lock().insert(entry).ok_or(FsError::Errno(libc::ENFILE))?;
        call.stat = stat;
        Ok(handle as i64)
    }
}

/// Opens a volume's root directory (`O_PATH`): its fd and metadata.
fn open_root(spec: &VolumeSpec) -> Result<(OwnedFd, libc::stat), VmError> {
    let unopenable = |errno: i32| match errno {
        libc::ENOENT => VmError::VolumeMissing { host: spec.host.clone() },
        libc::ENOTDIR => VmError::VolumeNotDirectory { host: spec.host.clone() },
        errno => {
            VmError::VolumeUnopenable { host: spec.host.clone(), source: std::io::Error::from_raw_os_error(errno) }
        }
    };
    let path = CString::new(spec.host.as_os_str().as_bytes()).map_err(|_| unopenable(libc::EINVAL))?;
    let fd = sys::openat(libc::AT_FDCWD, &path, libc::O_PATH | libc::O_DIRECTORY, 0).map_err(|e| unopenable(e.0))?;
    let st = sys::fstat(&fd).map_err(|e| unopenable(e.0))?;
    Ok((fd, st))
}

/// A host `stat` as the guest gets it.
fn host_stat(st: &libc::stat) -> HostStat {
    HostStat {
        dev: st.st_dev,
        ino: st.st_ino,
        nlink: st.st_nlink,
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        reserved: 0,
        rdev: st.st_rdev,
        size: st.st_size,
        blksize: st.st_blksize,
        blocks: st.st_blocks,
        atime: [st.st_atime, st.st_atime_nsec],
        mtime: [st.st_mtime, st.st_mtime_nsec],
        ctime: [st.st_ctime, st.st_ctime_nsec],
    }
}
