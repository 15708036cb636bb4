//! Packing: layout, table invariants, metadata, determinism, atomicity and the build-time
//! rejections (conflicts, bad names, bad sources).

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use common::*;
use uvm_abi::image::{EntryKind, IMAGE_ALIGN, IMAGE_HEADER_SIZE};
use uvm_image::DefaultFile;
use uvm_image::{digest_hex, pack, ElfError, Image, ImageError, PackInput};

fn set_mtime(path: &std::path::Path, secs: u64) {
    let file = fs::File::options().write(true).open(path).expect("open for mtime");
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)).expect("set mtime");
}

/// A host tree: tree/{a.txt, bin/tool (0o750), empty, link -> ../a.txt, sub/deep/x}.
fn host_tree(scratch: &Scratch) -> PathBuf {
    scratch.write("tree/a.txt", b"alpha");
    let tool = scratch.write("tree/bin/tool", b"#!/bin/sh\n");
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o750)).expect("chmod");
    scratch.write("tree/empty", b"");
    scratch.write("tree/sub/deep/x", &[7u8; 5000]);
    symlink("../a.txt", scratch.path("tree/link")).expect("symlink");
    set_mtime(&scratch.path("tree/a.txt"), 1_000_000);
    scratch.path("tree")
}

#[test]
fn round_trip() {
    let scratch = Scratch::new("round-trip");
    let tree = host_tree(&scratch);
    let single = scratch.write("single.conf", b"key = 1\n");
    let out = pack_with(&scratch, &[(tree, "/opt/app".into()), (single, "/etc/app/single.conf".into())]);

    let bytes = fs::read(&out.path).expect("read image");
    assert_eq!(out.size, bytes.len() as u64);
    assert_eq!(out.size % IMAGE_ALIGN, 0, "the file is padded to a page");
    assert_eq!(out.digest, spec_digest(&bytes), "digest follows the documented rule");
    assert_eq!(read_u64(&bytes, CHECKSUM_AT), spec_checksum(&bytes), "checksum follows the documented rule");
    assert!(digest_hex(&out.digest).starts_with("sha256:"));

    let image = Image::open(&out.path).expect("open");
    image.verify_digest().expect("digest");
    assert_eq!(image.len(), out.size);
    assert_eq!(image.path(), out.path.as_path());
    assert_eq!(image.config_toml().expect("config"), CONFIG);
    assert_eq!(image.header().fs_table.offset, IMAGE_HEADER_SIZE, "the file table follows the header");
    assert!(image.header().config.end().expect("in range") <= IMAGE_ALIGN, "header, table and config share a page");

    let paths: Vec<String> = image.entries().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            "/",
            "/bin",
            "/bin/hello",
            "/etc",
            "/etc/app",
            "/etc/app/single.conf",
            "/opt",
            "/opt/app",
            "/opt/app/a.txt",
            "/opt/app/bin",
            "/opt/app/bin/tool",
            "/opt/app/empty",
            "/opt/app/link",
            "/opt/app/sub",
            "/opt/app/sub/deep",
            "/opt/app/sub/deep/x",
        ]
    );

    let get = |p: &str| image.lookup(p).unwrap_or_else(|| panic!("{p} missing")).1;
    let app = get("/bin/hello");
    assert_eq!(image.lookup("/bin/hello").map(|(i, _)| i), Some(image.header().app_entry));
    assert_eq!(app.mode, 0o755);
    assert_eq!(image.data(&app), fs::read(fixture("static.elf")).expect("fixture").as_slice());
    assert_eq!(image.app_elf_info().expect("elf").entry, 0x4000e8);

    let implied = get("/etc");
    assert_eq!(
        (EntryKind::from_raw(implied.kind), implied.mode, implied.mtime),
        (Some(EntryKind::Directory), 0o755, 0)
    );
    let a = get("/opt/app/a.txt");
    assert_eq!((image.data(&a), a.mtime), (&b"alpha"[..], 0), "host mtimes are not recorded");
    assert_eq!(get("/opt/app/bin/tool").mode, 0o750);
    let link = get("/opt/app/link");
    assert_eq!((EntryKind::from_raw(link.kind), image.data(&link)), (Some(EntryKind::Symlink), &b"../a.txt"[..]));
    let x = get("/opt/app/sub/deep/x");
    assert_eq!(image.data(&x), &[7u8; 5000][..]);
    let empty = get("/opt/app/empty");
    assert_eq!(empty.data.size, 0);

    for (path, entry) in image.entries() {
        if EntryKind::from_raw(entry.kind) == Some(EntryKind::File) {
            assert_eq!(entry.data.offset % IMAGE_ALIGN, 0, "{path} is page-aligned");
        }
    }
    assert!(image.lookup("/opt/app/nope").is_none());
    assert!(image.lookup("/opt/app/a.txt/x").is_none());
    assert_eq!(image.lookup("/").map(|(i, _)| i), Some(0));
}

#[test]
fn same_inputs_give_identical_bytes() {
    let scratch = Scratch::new("determinism");
    let tree = host_tree(&scratch);
    let app = fixture("static.elf");
    let files = [(tree, "/data".to_string())];
    let input =
        PackInput { app_binary: &app, app_guest_path: "/app", files: &files, defaults: &DEFAULTS, config_toml: CONFIG };
    let one = pack(&input, &scratch.path("one.uvm")).expect("pack one");
    std::thread::sleep(Duration::from_millis(1100)); // a build timestamp would now differ
    let two = pack(&input, &scratch.path("two.uvm")).expect("pack two");
    assert_eq!(one.digest, two.digest);
    assert_eq!(fs::read(&one.path).expect("one"), fs::read(&two.path).expect("two"));
}

#[test]
fn packing_replaces_the_old_image_and_leaves_no_temporary_files() {
    let scratch = Scratch::new("replace");
    let first = pack_with(&scratch, &[]);
    let data = scratch.write("src/data", b"more");
    let second = pack_with(&scratch, &[(data, "/data".into())]);
    assert_ne!(first.digest, second.digest);
    assert_eq!(scratch.listing(), ["image.uvm", "src"]);
    assert!(Image::open(&second.path).expect("open").lookup("/data").is_some());
}

#[test]
fn directories_from_several_sources_merge() {
    let scratch = Scratch::new("merge");
    scratch.write("one/a", b"1");
    scratch.write("two/b", b"2");
    scratch.write("two/sub/c", b"3");
    let out =
        pack_with(&scratch, &[(scratch.path("one"), "/usr/share".into()), (scratch.path("two"), "/usr/share/".into())]);
    let image = Image::open(&out.path).expect("open");
    for p in ["/usr/share/a", "/usr/share/b", "/usr/share/sub/c"] {
        assert!(image.lookup(p).is_some(), "{p}");
    }
}

#[test]
fn a_directory_can_fill_the_root() {
    let scratch = Scratch::new("root");
    scratch.write("rootfs/etc/hostname", b"uvm\n");
    let out = pack_with(&scratch, &[(scratch.path("rootfs"), "/".into())]);
    let image = Image::open(&out.path).expect("open");
    assert!(image.lookup("/etc/hostname").is_some());
    assert!(image.lookup("/bin/hello").is_some());
}

/// The kind, mode, mtime and bytes of the entry at `path`.
fn entry_at(image: &Image, path: &str) -> (Option<EntryKind>, u16, i64, Vec<u8>) {
    let entry = image.lookup(path).unwrap_or_else(|| panic!("{path} missing")).1;
    (EntryKind::from_raw(entry.kind), entry.mode, entry.mtime, image.data(&entry).to_vec())
}

#[test]
fn default_files_go_where_the_sources_leave_room() {
    let scratch = Scratch::new("defaults");
    let conf = scratch.write("app.conf", b"key = 1\n");
    let out = pack_with_defaults(&scratch, &[(conf, "/etc/app.conf".into())], &DEFAULTS);
    let image = Image::open(&out.path).expect("open");
    let paths: Vec<String> = image.entries().map(|(p, _)| p).collect();
    assert_eq!(paths, ["/", "/bin", "/bin/hello", "/etc", "/etc/app.conf", "/etc/hosts", "/etc/resolv.conf"]);
    let file = Some(EntryKind::File);
    assert_eq!(entry_at(&image, "/etc/hosts"), (file, 0o644, 0, b"127.0.0.1\tlocalhost\n".to_vec()));
    assert_eq!(entry_at(&image, "/etc/resolv.conf"), (file, 0o644, 0, b"nameserver 10.0.2.3\n".to_vec()));
    assert_eq!(entry_at(&image, "/etc/app.conf").3, b"key = 1\n");

    // Without sources, the defaults' directory is implied.
    let alone = Scratch::new("defaults-alone");
    let out = pack_with_defaults(&alone, &[], &DEFAULTS);
    let image = Image::open(&out.path).expect("open");
    assert_eq!(entry_at(&image, "/etc"), (Some(EntryKind::Directory), 0o755, 0, Vec::new()));
}

#[test]
fn a_packaged_file_wins_over_a_default_file() {
    let scratch = Scratch::new("defaults-own");
    let hosts = scratch.write("my-hosts", b"10.9.8.7 db\n");
    let out = pack_with_defaults(&scratch, &[(hosts, "/etc/hosts".into())], &DEFAULTS);
    let image = Image::open(&out.path).expect("open");
    assert_eq!(entry_at(&image, "/etc/hosts").3, b"10.9.8.7 db\n");
    assert_eq!(entry_at(&image, "/etc/resolv.conf").3, b"nameserver 10.0.2.3\n", "the others are still added");

    // The same from a whole tree copied to the root, whatever it holds at the path.
    let scratch = Scratch::new("defaults-rootfs");
    scratch.write("rootfs/etc/hosts", b"from the tree\n");
    scratch.write("rootfs/etc/resolv.conf/oddly-a-directory", b"");
    let out = pack_with_defaults(&scratch, &[(scratch.path("rootfs"), "/".into())], &DEFAULTS);
    let image = Image::open(&out.path).expect("open");
    assert_eq!(entry_at(&image, "/etc/hosts").3, b"from the tree\n");
    assert_eq!(entry_at(&image, "/etc/resolv.conf").0, Some(EntryKind::Directory));
}

#[test]
fn a_packaged_etc_that_is_not_a_directory_leaves_the_defaults_out() {
    let scratch = Scratch::new("defaults-etc-file");
    let etc = scratch.write("etc-file", b"not a directory\n");
    let out = pack_with_defaults(&scratch, &[(etc, "/etc".into())], &DEFAULTS);
    let image = Image::open(&out.path).expect("open");
    assert_eq!(entry_at(&image, "/etc").0, Some(EntryKind::File));
    assert!(image.lookup("/etc/hosts").is_none());

    let scratch = Scratch::new("defaults-etc-link");
    scratch.write("rootfs/private/etc/hosts", b"behind a symlink\n");
    symlink("private/etc", scratch.path("rootfs/etc")).expect("symlink");
    let out = pack_with_defaults(&scratch, &[(scratch.path("rootfs"), "/".into())], &DEFAULTS);
    let image = Image::open(&out.path).expect("open");
    assert_eq!(entry_at(&image, "/etc"), (Some(EntryKind::Symlink), 0o777, 0, b"private/etc".to_vec()));
    assert!(image.lookup("/private/etc/resolv.conf").is_none(), "a default is never placed through a symlink");
}

#[test]
fn a_default_file_with_a_bad_path_is_an_error() {
    let scratch = Scratch::new("defaults-bad");
    let app = fixture("static.elf");
    let defaults = [DefaultFile { guest_path: "etc/hosts", content: b"", mode: 0o644 }];
    let input = PackInput {
        app_binary: &app,
        app_guest_path: "/bin/hello",
        files: &[],
        defaults: &defaults,
        config_toml: CONFIG,
    };
    let err = pack(&input, &scratch.path("image.uvm")).expect_err("a relative default path");
    assert!(matches!(&err, ImageError::BadGuestPath { guest_path, .. } if guest_path == "etc/hosts"), "{err:?}");
    assert_eq!(scratch.listing(), Vec::<String>::new(), "nothing written");
}

fn pack_err(scratch: &Scratch, app: &str, app_guest: &str, files: &[(PathBuf, String)]) -> ImageError {
    let app = fixture(app);
    let input = PackInput { app_binary: &app, app_guest_path: app_guest, files, defaults: &[], config_toml: CONFIG };
    let err = pack(&input, &scratch.path("image.uvm")).expect_err("pack must fail");
    // Nothing is left behind: no image, no temporary file.
    assert!(!scratch.listing().iter().any(|n| n.contains("image.uvm")), "{:?}", scratch.listing());
    err
}

#[test]
fn two_sources_for_one_path_conflict() {
    let scratch = Scratch::new("conflict");
    let one = scratch.write("one.txt", b"1");
    let two = scratch.write("two.txt", b"2");
    let err = pack_err(&scratch, "static.elf", "/bin/hello", &[(one, "/etc/x".into()), (two, "/etc/x".into())]);
    let msg = err.to_string();
    assert!(matches!(err, ImageError::Conflict { .. }), "{err:?}");
    assert!(msg.contains("one.txt") && msg.contains("two.txt") && msg.contains("/etc/x"), "{msg}");
}

#[test]
fn a_file_over_the_app_conflicts() {
    let scratch = Scratch::new("app-conflict");
    let other = scratch.write("other", b"x");
    let err = pack_err(&scratch, "static.elf", "/bin/hello", &[(other, "/bin/hello".into())]);
    let msg = err.to_string();
    assert!(msg.contains("the app binary") && msg.contains("static.elf") && msg.contains("other"), "{msg}");
}

#[test]
fn a_file_where_a_directory_is_needed() {
    let scratch = Scratch::new("not-dir");
    let file = scratch.write("plain", b"x");
    let deep = scratch.write("deep", b"y");
    let err = pack_err(&scratch, "static.elf", "/bin/hello", &[(file, "/etc".into()), (deep, "/etc/deep".into())]);
    let msg = err.to_string();
    assert!(matches!(&err, ImageError::NotADirectory { guest_path, .. } if guest_path == "/etc"), "{err:?}");
    assert!(msg.contains("plain") && msg.contains("deep"), "{msg}");
    // Also when the app binary is the non-directory.
    let below_app = scratch.write("below", b"z");
    let err = pack_err(&scratch, "static.elf", "/bin/hello", &[(below_app, "/bin/hello/x".into())]);
    assert!(matches!(err, ImageError::NotADirectory { .. }), "{err:?}");
}

#[test]
fn a_file_onto_a_directory_conflicts() {
    let scratch = Scratch::new("file-on-dir");
    let file = scratch.write("plain", b"x");
    let err = pack_err(&scratch, "static.elf", "/bin/hello", &[(file, "/bin".into())]);
    assert!(matches!(err, ImageError::Conflict { .. }), "{err:?}");
}

#[test]
fn bad_guest_paths_and_names() {
    let scratch = Scratch::new("names");
    let file = scratch.write("f", b"x");
    let err = pack_err(&scratch, "static.elf", "/bin/hello", &[(file.clone(), "etc/f".into())]);
    assert!(matches!(err, ImageError::BadGuestPath { .. }), "{err:?}");
    let err = pack_err(&scratch, "static.elf", "/bin/hello", &[(file.clone(), "/etc/../f".into())]);
    assert!(matches!(err, ImageError::BadGuestPath { .. }), "{err:?}");
    let err = pack_err(&scratch, "static.elf", "/bin/hello", &[(file.clone(), "/etc/a\0b".into())]);
    assert!(matches!(err, ImageError::BadName { .. }), "{err:?}");
    let long = format!("/{}", "n".repeat(256));
    let err = pack_err(&scratch, "static.elf", "/bin/hello", &[(file, long)]);
    assert!(matches!(err, ImageError::BadName { .. }), "{err:?}");
    assert!(err.to_string().contains("255"));
    let err = pack_err(&scratch, "static.elf", "bin/hello", &[]);
    assert!(
        matches!(&err, ImageError::BadGuestPath { source_desc, .. } if source_desc.contains("app binary")),
        "{err:?}"
    );
    let err = pack_err(&scratch, "static.elf", "/", &[]);
    assert!(matches!(err, ImageError::Conflict { .. }), "{err:?}");
}

#[test]
fn the_app_is_checked_before_anything_is_written() {
    let scratch = Scratch::new("bad-app");
    let err = pack_err(&scratch, "dynamic.elf", "/bin/hello", &[]);
    assert!(matches!(err, ImageError::Elf(ElfError::Dynamic { .. })), "{err:?}");
    let err = pack_err(&scratch, "no-such-app", "/bin/hello", &[]);
    assert!(matches!(err, ImageError::ReadInput { .. }), "{err:?}");
}

#[test]
fn missing_sources_are_read_errors() {
    let scratch = Scratch::new("missing");
    let err = pack_err(&scratch, "static.elf", "/bin/hello", &[(scratch.path("nope"), "/nope".into())]);
    assert!(matches!(err, ImageError::ReadInput { .. }) && err.to_string().contains("nope"), "{err:?}");
}

#[test]
fn sockets_are_refused() {
    let scratch = Scratch::new("socket");
    fs::create_dir(scratch.path("dir")).expect("mkdir");
    let _listener = std::os::unix::net::UnixListener::bind(scratch.path("dir/sock")).expect("bind");
    let err = pack_err(&scratch, "static.elf", "/bin/hello", &[(scratch.path("dir"), "/d".into())]);
    assert!(matches!(err, ImageError::UnsupportedFileType { kind: "socket", .. }), "{err:?}");
    assert!(err.to_string().contains("sock"));
}

#[test]
fn a_file_that_changes_size_is_refused_and_no_partial_image_is_left() {
    // /proc files report size 0 but have content: exactly "changed since it was listed".
    let scratch = Scratch::new("changed");
    let err = pack_err(&scratch, "static.elf", "/bin/hello", &[("/proc/self/status".into(), "/status".into())]);
    assert!(matches!(err, ImageError::InputChanged { expected: 0, .. }), "{err:?}");
}

#[test]
fn writing_into_a_missing_directory_fails_cleanly() {
    let scratch = Scratch::new("no-dir");
    let app = fixture("static.elf");
    let input = PackInput { app_binary: &app, app_guest_path: "/a", files: &[], defaults: &[], config_toml: "" };
    let err = pack(&input, &scratch.path("missing/image.uvm")).expect_err("no dir");
    assert!(matches!(err, ImageError::WriteImage { .. }), "{err:?}");
}

#[test]
fn empty_config_and_static_pie_app() {
    let scratch = Scratch::new("pie");
    let app = fixture("static-pie.elf");
    let input = PackInput { app_binary: &app, app_guest_path: "/app", files: &[], defaults: &[], config_toml: "" };
    let out = pack(&input, &scratch.path("image.uvm")).expect("pack");
    let image = Image::open(&out.path).expect("open");
    assert_eq!(image.config_toml().expect("config"), "");
    assert!(image.app_elf_info().expect("elf").has_tls);
}

/// A static ELF of `size` bytes whose read-only segments fill it: text (r-x) at 0x400000 for
/// the first 0x180000 bytes, then read-only data (r--) back to back.
fn large_static_elf(size: u64) -> Vec<u8> {
    let mut f = vec![0u8; size as usize];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // 64-bit
    f[5] = 1; // little-endian
    f[6] = 1; // version
    f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&0x40_1000u64.to_le_bytes()); // entry
    f[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
    f[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
    f[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
    f[56..58].copy_from_slice(&2u16.to_le_bytes()); // phnum
    let text = 0x18_0000u64;
    for (i, (flags, offset, len)) in [(5u32, 0, text), (4, text, size - text)].into_iter().enumerate() {
        let at = 64 + 56 * i;
        f[at..at + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        f[at + 4..at + 8].copy_from_slice(&flags.to_le_bytes());
        f[at + 8..at + 16].copy_from_slice(&offset.to_le_bytes());
        f[at + 16..at + 24].copy_from_slice(&(0x40_0000 + offset).to_le_bytes());
        f[at + 24..at + 32].copy_from_slice(&(0x40_0000 + offset).to_le_bytes());
        f[at + 32..at + 40].copy_from_slice(&len.to_le_bytes());
        f[at + 40..at + 48].copy_from_slice(&len.to_le_bytes());
        f[at + 48..at + 56].copy_from_slice(&0x1000u64.to_le_bytes());
    }
    for (i, byte) in f.iter_mut().enumerate().skip(0x1000) {
        *byte = (i % 251) as u8 | 1;
    }
    f
}

#[test]
fn an_app_with_a_whole_read_only_2_mib_chunk_starts_2_mib_aligned_after_a_hole() {
    let scratch = Scratch::new("large-pages");
    let elf = large_static_elf(0x28_0000);
    let app = scratch.write("big-app", &elf);
    let info = uvm_image::check_elf_file(&app).expect("a valid ELF");
    assert_eq!(info.large_page_residue(), Some(0));
    let data = scratch.write("src/data.txt", b"data\n");
    let files = [(data, "/etc/data.txt".to_string())];
    let input =
        PackInput { app_binary: &app, app_guest_path: "/bin/big", files: &files, defaults: &[], config_toml: CONFIG };
    let out = pack(&input, &scratch.path("image.uvm")).expect("pack");

    let bytes = fs::read(&out.path).expect("read image");
    assert_eq!(out.size, bytes.len() as u64);
    assert_eq!(out.digest, spec_digest(&bytes), "the hole is hashed as the zeroes it reads as");
    assert_eq!(read_u64(&bytes, CHECKSUM_AT), spec_checksum(&bytes));
    let image = Image::open(&out.path).expect("open");
    image.verify_digest().expect("digest");
    let entry = image.app_entry();
    assert_eq!(entry.data.offset % (2 << 20), 0, "the app's first byte is 2 MiB-aligned, as its address");
    assert_eq!(image.data(&entry), &elf[..]);
    let (_, _, _, content) = entry_at(&image, "/etc/data.txt");
    assert_eq!(content, b"data\n");
    let config_end = image.header().config.end().expect("in range") as usize;
    assert!(bytes[config_end..entry.data.offset as usize].iter().all(|&b| b == 0), "the gap reads as zeroes");

    // A small app keeps the compact layout.
    let small = pack_with(&scratch, &[]);
    let small_image = Image::open(&small.path).expect("open");
    assert!(small_image.app_entry().data.offset < 2 << 20);
}
