//! inotify through the VFS (`fs::inotify`): the events path operations and open files give,
//! here on the image's own files in the writable root (their nodes stand for the image's
//! until they change, so a watch must follow a file across its copy-up).

use super::*;
use crate::fs::inotify::{
    Inotify, IN_ALL_EVENTS, IN_ATTRIB, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_IGNORED, IN_MODIFY,
    IN_MOVED_FROM, IN_MOVED_TO, IN_OPEN,
};

/// The queued events as (wd, mask, cookie, name).
fn events(inotify: &Inotify) -> Vec<(i32, u32, u32, String)> {
    let mut buf = [0u8; 1024];
    let n = inotify.read(&mut buf).unwrap_or(0);
    let mut out = Vec::new();
    let mut at = 0;
    while at < n {
        let word = |i: usize| u32::from_le_bytes(buf[at + i..at + i + 4].try_into().unwrap());
        let len = word(12) as usize;
        let name = &buf[at + 16..at + 16 + len];
        let end = name.iter().position(|&b| b == 0).unwrap_or(len);
        out.push((word(0) as i32, word(4), word(8), String::from_utf8(name[..end].to_vec()).unwrap()));
        at += 16 + len;
    }
    out
}

#[test]
fn a_watch_on_a_packaged_directory_sees_its_files_change() {
    let vfs = Vfs::new(image(), "/bin/app", env_with([false; 3]).0, 1 << 24, false).unwrap();
    let root = vfs.root();
    let inotify = Inotify::new(Timespec::default()).unwrap();
    let etc = vfs.resolve(&root, b"/etc", true).unwrap();
    let dir = inotify.add_watch(&etc, IN_ALL_EVENTS).unwrap();
    let passwd = vfs.resolve(&root, b"/etc/passwd", true).unwrap();
    let file = inotify.add_watch(&passwd, IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF).unwrap();
    assert_ne!(dir, file);

    // Opening for writing copies the file up: its watch is still on it.
    let opened = open(&vfs, "/etc/passwd", O_WRONLY | O_APPEND).unwrap();
    assert_eq!(opened.write(b"x"), Ok(1));
    drop(opened);
    let name = || String::from("passwd");
    assert_eq!(
        events(&inotify),
        [
            (dir, IN_OPEN, 0, name()),
            (dir, IN_MODIFY, 0, name()),
            (file, IN_MODIFY, 0, String::new()),
            (dir, IN_CLOSE_WRITE, 0, name())
        ]
    );

    vfs.rename(&root, b"/etc/passwd", &root, b"/etc/users", 0).unwrap();
    let moved = events(&inotify);
    assert_eq!(moved.len(), 2);
    assert_eq!((moved[0].1, moved[1].1), (IN_MOVED_FROM, IN_MOVED_TO));
    assert!(moved[0].2 != 0 && moved[0].2 == moved[1].2, "one cookie for the pair");

    vfs.unlink(&root, b"/etc/users").unwrap();
    assert_eq!(
        events(&inotify),
        [
            (file, IN_ATTRIB, 0, String::new()),
            (dir, IN_DELETE, 0, String::from("users")),
            (file, IN_DELETE_SELF, 0, String::new()),
            (file, IN_IGNORED, 0, String::new())
        ]
    );
    vfs.mkdir(&root, b"/etc/conf.d", 0o755).unwrap();
    assert_eq!(events(&inotify), [(dir, IN_CREATE | crate::fs::inotify::IN_ISDIR, 0, String::from("conf.d"))]);
    assert_eq!(inotify.remove_watch(file), Err(Errno::EINVAL), "it ended with its file");
}
