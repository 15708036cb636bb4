//! Large reads of packaged files, copied by the VMM. Reading through the guest's mapping of
//! the image takes a shadow-page fault on the first touch of every 4 KiB page (~15 us each on
//! PVM hosts: 100 MB read at ~250 MB/s); one hypercall that has the host copy from the page
//! cache straight into the app's buffer costs one exit per call instead. Small reads keep the
//! in-guest copy (no exit, and hot pages are already mapped).

use uvm_abi::hypercall::COPY_MAX_CHUNKS;

use crate::errno::{Errno, SysResult};
use crate::fs::OpenFile;
use crate::process::Process;

/// Reads of at least this many bytes go through the VMM.
pub const VMM_COPY_THRESHOLD: u64 = 64 * 1024;
/// The most bytes one copy moves (the chunk list is bounded too).
const VMM_COPY_MAX: u64 = 4 << 20;

/// Serves read/pread of `count` bytes at `offset` (or the file position) of `file` into app
/// memory at `buf` through the VMM, if `file` is a packaged file and the read is large.
/// `None`: not applicable, use the ordinary path.
pub fn try_read(p: &mut Process, file: &OpenFile, buf: u64, count: u64, offset: Option<u64>) -> Option<SysResult> {
    let (start, size) = file.image_extent()?;
    if count < VMM_COPY_THRESHOLD || !file.is_readable() {
        return None;
    }
    let pos = offset.unwrap_or_else(|| file.position());
    if pos >= size {
        return Some(Ok(0));
    }
    let want = count.min(size - pos).min(VMM_COPY_MAX);
    let chunks = match p.space.user_chunks(buf, want) {
        Ok(chunks) => chunks,
        Err(e) => return Some(Err(e)),
    };
    if chunks.len() as u64 > COPY_MAX_CHUNKS {
        return None;
    }
    let copied = crate::hypercall::copy_from_image(start + pos, &chunks);
    if copied < 0 {
        return Some(Err(Errno::EIO));
    }
    if offset.is_none() {
        if let Err(e) = file.lseek((pos + copied as u64) as i64, 0) {
            return Some(Err(e));
        }
    }
    file.notify_if(copied > 0, crate::fs::inotify::IN_ACCESS);
    Some(Ok(copied as usize))
}
