//! The writable root (`tmpfs::lower`) through the VFS: the image's tree as it was, every
//! change the app makes, and what stays the image's.

use super::*;
use crate::fs::file::OpenFile;

fn writable() -> Vfs {
    Vfs::new(image(), "/bin/app", env_with([false; 3]).0, 1 << 24, false).unwrap()
}

fn read_path(vfs: &Vfs, path: &str) -> Vec<u8> {
    read_all(&open(vfs, path, O_RDONLY).unwrap())
}

fn append(file: &OpenFile, data: &[u8]) {
    assert_eq!(file.write(data), Ok(data.len()));
}

#[test]
fn the_tree_is_the_images_until_changed() {
    let vfs = writable();
    let root = vfs.root();
    assert_eq!(list(&vfs, "/"), [".", "..", "bin", "dev", "etc", "home", "lib", "usr", "tmp", "proc"]);
    assert_eq!(read_path(&vfs, "/etc/passwd"), b"root:x:0:0::/root:/bin/sh\n");
    assert_eq!(read_path(&vfs, "/lib/libc.so"), vec![0xcc; 5000], "through the image's symlink");
    assert_eq!(vfs.readlink(&root, b"/bin/sh").unwrap(), b"app");
    let passwd = vfs.stat(&root, b"/etc/passwd", true).unwrap();
    let image_only = super::vfs();
    let read_only = image_only.stat(&image_only.root(), b"/etc/passwd", true).unwrap();
    assert_eq!((passwd.ino, passwd.dev, passwd.mode, passwd.size), (read_only.ino, DEV_IMAGE, 0o100644, 26));
    assert_eq!(passwd.mtime, read_only.mtime);
    assert_eq!(vfs.stat(&root, b"/usr", true).unwrap().nlink, 3, "the image's link count: one subdirectory");
    let (root_stat, image_root) =
        (vfs.stat(&root, b"/", true).unwrap(), image_only.stat(&image_only.root(), b"/", true).unwrap());
    assert_eq!(
        (root_stat.nlink, root_stat.mode, root_stat.ino, root_stat.mtime),
        (image_root.nlink, image_root.mode, 1, image_root.mtime)
    );
    let app = open(&vfs, "/bin/app", O_RDONLY).unwrap();
    assert!(app.image_extent().is_some(), "an unchanged file maps the image's bytes in place");
    assert_eq!(vfs.statfs(&root).fs_type, OVERLAYFS_SUPER_MAGIC);
    assert_eq!(vfs.statfs(&root).flags & ST_RDONLY, 0);
    vfs.access(&root, b"/etc/passwd", W_OK, true, false).unwrap();
}

#[test]
fn files_of_the_image_change_in_memory() {
    let vfs = writable();
    let root = vfs.root();
    let reader = open(&vfs, "/etc/passwd", O_RDONLY).unwrap();
    let file = open(&vfs, "/etc/passwd", O_WRONLY | O_APPEND).unwrap();
    assert_eq!(file.image_extent(), None, "opened for writing: copied up");
    append(&file, b"app:x:1000:1000::/home/app:/bin/sh\n");
    assert_eq!(read_path(&vfs, "/etc/passwd"), b"root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
    assert_eq!(read_all(&reader).len(), 61, "an earlier open sees the change (one node)");
    // O_TRUNC keeps nothing of the image's bytes.
    write_file(&vfs, "/usr/lib/libc.so", b"short");
    assert_eq!(read_path(&vfs, "/usr/lib/libc.so"), b"short");
    // truncate by path, longer and shorter.
    vfs.truncate(&root, b"/bin/app", 3).unwrap();
    assert_eq!(read_path(&vfs, "/bin/app"), b"\x7fEL");
    vfs.truncate(&root, b"/bin/app", 5).unwrap();
    assert_eq!(read_path(&vfs, "/bin/app"), b"\x7fEL\0\0");
    // Metadata changes keep the bytes where they are.
    vfs.chmod(&root, b"/etc/passwd", 0o600, true).unwrap();
    assert_eq!(vfs.stat(&root, b"/etc/passwd", true).unwrap().mode, 0o100600);
    // A positioned write in the middle of an image file.
    let rw = open(&vfs, "/lib/libc.so", O_RDWR).unwrap();
    rw.lseek(1, SEEK_SET).unwrap();
    append(&rw, b"xy");
    assert_eq!(read_path(&vfs, "/lib/libc.so"), b"sxyrt");
}

#[test]
fn names_of_the_image_change_too() {
    let vfs = writable();
    let root = vfs.root();
    vfs.mkdir(&root, b"/etc/app", 0o755).unwrap();
    write_file(&vfs, "/etc/app/conf", b"on");
    vfs.mkdir(&root, b"/var", 0o755).unwrap();
    vfs.mkdir(&root, b"/var/run", 0o755).unwrap();
    write_file(&vfs, "/var/run/app.pid", b"1\n");
    assert_eq!(list(&vfs, "/etc"), [".", "..", "dangling", "loop", "passwd", "to_tmp", "app"]);
    assert_eq!(vfs.stat(&root, b"/etc", true).unwrap().nlink, 3);
    let new_ino = vfs.stat(&root, b"/var/run/app.pid", true).unwrap().ino;
    assert!(new_ino > 14, "new files are numbered after the image's entries: {new_ino}");

    vfs.unlink(&root, b"/etc/passwd").unwrap();
    assert_eq!(err(vfs.stat(&root, b"/etc/passwd", true)), Errno::ENOENT);
    vfs.rename(&root, b"/bin/app", &root, b"/bin/renamed", 0).unwrap();
    assert_eq!(read_path(&vfs, "/bin/renamed"), APP);
    assert_eq!(err(vfs.readlink(&root, b"/bin/sh").and_then(|_| vfs.stat(&root, b"/bin/sh", true))), Errno::ENOENT);
    vfs.link(&root, b"/bin/renamed", &root, b"/home/app", false).unwrap();
    assert_eq!(vfs.stat(&root, b"/home/app", true).unwrap().nlink, 2);
    assert_eq!(err(vfs.rmdir(&root, b"/usr")), Errno::ENOTEMPTY, "an image directory is not empty");
    vfs.unlink(&root, b"/usr/lib/libc.so").unwrap();
    vfs.rmdir(&root, b"/usr/lib").unwrap();
    vfs.rmdir(&root, b"/usr").unwrap();
    vfs.unlink(&root, b"/lib").unwrap();
    vfs.symlink(b"/etc/app", &root, b"/lib").unwrap();
    assert_eq!(read_path(&vfs, "/lib/conf"), b"on");
    assert_eq!(list(&vfs, "/"), [".", "..", "bin", "dev", "etc", "home", "var", "lib", "tmp", "proc"]);
    assert_eq!(err(vfs.rmdir(&root, b"/tmp")), Errno::EBUSY, "a mount point");
    assert_eq!(err(vfs.rename(&root, b"/etc/app/conf", &root, b"/tmp/conf", 0)), Errno::EXDEV);
}

#[test]
fn what_the_app_adds_is_charged_and_the_image_is_not() {
    let vfs = Vfs::new(image(), "/bin/app", env_with([false; 3]).0, 2 * NODE_COST + 4096, false).unwrap();
    let root = vfs.root();
    // Walking and listing the whole image costs the budget nothing.
    for dir in ["/", "/bin", "/etc", "/usr", "/usr/lib"] {
        list(&vfs, dir);
    }
    assert_eq!(vfs.tmpfs_budget().used(), 2 * NODE_COST, "the two boot tmpfs roots only");
    // libc.so is 5000 bytes: two pages do not fit, and nothing changes.
    assert_eq!(err(open(&vfs, "/usr/lib/libc.so", O_RDWR)), Errno::ENOSPC);
    assert_eq!(read_path(&vfs, "/usr/lib/libc.so"), vec![0xcc; 5000]);
    assert_eq!(vfs.tmpfs_budget().used(), 2 * NODE_COST);
    // One page does.
    open(&vfs, "/etc/passwd", O_RDWR).unwrap();
    assert_eq!(vfs.tmpfs_budget().used(), 2 * NODE_COST + 4096);
    vfs.unlink(&root, b"/etc/passwd").unwrap();
    assert_eq!(vfs.tmpfs_budget().used(), 2 * NODE_COST, "given back with the file");
}

#[test]
fn proc_mounts_shows_the_root_as_an_overlay() {
    let vfs = writable();
    let mounts = String::from_utf8(read_path(&vfs, "/proc/mounts")).unwrap();
    assert!(mounts.starts_with("overlay / overlay rw,relatime 0 0\n"), "{mounts}");
    let read_only = super::vfs();
    let mounts = String::from_utf8(read_path(&read_only, "/proc/mounts")).unwrap();
    assert!(mounts.starts_with("/dev/root / uvmimage ro,relatime 0 0\n"), "{mounts}");
}

#[test]
fn a_large_file_is_copied_whole_in_one_run_of_pages() {
    let mut data: Vec<u8> = (0..10 * 4096u32).map(|i| (i % 251) as u8).collect();
    data[4 * 4096..5 * 4096].fill(0);
    data.truncate(10 * 4096 - 100);
    let image = build_image(&[TestEntry::dir("var", 0o755), TestEntry::file("var/big.db", 0o644, &data)]);
    let vfs = Vfs::new(image, "/bin/app", env_with([false; 3]).0, 1 << 24, false).unwrap();
    let before = vfs.tmpfs_budget().used();
    let file = open(&vfs, "/var/big.db", O_RDWR).unwrap();
    assert_eq!(vfs.tmpfs_budget().used() - before, 10 * 4096, "taken as one run, the zero page with it");
    assert_eq!(file.pwrite(b"!", 0), Ok(1));
    data[0] = b'!';
    assert_eq!(read_path(&vfs, "/var/big.db"), data);
    assert_eq!(file.stat().unwrap().size, data.len() as u64);
}

#[test]
fn a_mount_point_gets_the_directories_the_image_lacks() {
    let mut vfs = writable();
    let frames = crate::fs::tmpfs::page::test_frames();
    vfs.mount_tmpfs(b"/srv/app/cache", 0, frames).unwrap();
    vfs.mount_tmpfs(b"/etc/app.d", 1, frames).unwrap();
    let root = vfs.root();
    assert_eq!(vfs.stat(&root, b"/srv/app", true).unwrap().mode, S_IFDIR | 0o755);
    assert_eq!(vfs.statfs(&vfs.resolve(&root, b"/srv/app/cache", true).unwrap()).fs_type, TMPFS_MAGIC);
    write_file(&vfs, "/srv/app/cache/x", b"x");
    assert_eq!(list(&vfs, "/srv/app"), [".", "..", "cache"]);
    // Only the writable root makes them; a file on the way is no directory.
    let mut read_only = super::vfs();
    assert_eq!(read_only.mount_tmpfs(b"/srv/app/cache", 0, frames), Err(Errno::ENOENT));
    assert_eq!(vfs.mount_tmpfs(b"/etc/passwd/x", 2, frames), Err(Errno::ENOTDIR));
}

#[test]
fn make_dirs_makes_what_is_missing_and_no_more() {
    let vfs = writable();
    let root = vfs.root();
    vfs.make_dirs(b"/srv/app/data").unwrap();
    vfs.make_dirs(b"/srv/app/data").unwrap();
    vfs.make_dirs(b"/etc").unwrap();
    assert_eq!(vfs.stat(&root, b"/srv/app/data", true).unwrap().mode, S_IFDIR | 0o755);
    assert_eq!(list(&vfs, "/srv"), [".", "..", "app"]);
    assert_eq!(vfs.make_dirs(b"/etc/passwd/x"), Err(Errno::ENOTDIR));
    assert_eq!(super::vfs().make_dirs(b"/srv/app"), Err(Errno::EROFS));
}

#[test]
fn the_images_owners_stay_with_its_files_in_the_writable_root() {
    let image = build_image(&[
        TestEntry::dir("srv", 0o755).owned_by(1000, 1000),
        TestEntry::file("srv/data", 0o600, b"data").owned_by(1000, 50),
        TestEntry::file("srv/root", 0o644, b"root's"),
    ]);
    let vfs = Vfs::new(image, "/bin/app", env_with([false; 3]).0, 1 << 24, false).unwrap();
    let root = vfs.root();
    let owner = |path: &[u8]| {
        let st = vfs.stat(&root, path, true).unwrap();
        (st.uid, st.gid)
    };
    assert_eq!(owner(b"/srv"), (1000, 1000));
    assert_eq!(owner(b"/srv/data"), (1000, 50));
    assert_eq!(owner(b"/srv/root"), (0, 0));
    assert_eq!(owner(b"/"), (0, 0));
    let file = open(&vfs, "/srv/data", O_WRONLY | O_APPEND).unwrap();
    append(&file, b"!");
    assert_eq!(owner(b"/srv/data"), (1000, 50), "copied up with its owner");
}
