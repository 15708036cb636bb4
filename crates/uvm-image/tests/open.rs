//! Opening: every rejection of `Image::open`, each on an image built by `pack` and then
//! damaged, plus the digest check of `verify_digest`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use uvm_abi::image::{EntryKind, FsEntry, FS_ENTRY_SIZE};
use uvm_image::{Image, ImageError};

/// Builds the standard image and returns (scratch, image path, its bytes).
fn image(label: &str) -> (Scratch, PathBuf, Vec<u8>) {
    let scratch = Scratch::new(label);
    let path = standard_image(&scratch);
    let bytes = fs::read(&path).expect("read");
    (scratch, path, bytes)
}

/// Writes `bytes` over the image and opens it; asserts the error names the file.
fn open_damaged(path: &Path, bytes: &[u8]) -> ImageError {
    fs::write(path, bytes).expect("write");
    let err = Image::open(path).expect_err("damaged image must be refused");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "message does not name the file: {msg}");
    err
}

/// Offset of the file table and the number of entries.
fn table(bytes: &[u8]) -> (usize, u32) {
    (read_u64(bytes, TABLE_OFFSET_AT) as usize, read_u32(bytes, ENTRY_COUNT_AT))
}

/// Edits record `index` of the file table, then re-seals the image.
fn edit_entry(bytes: &mut [u8], index: u32, edit: impl FnOnce(&mut FsEntry)) {
    let (offset, _) = table(bytes);
    let records = &mut bytes[offset..];
    let mut entry = FsEntry::read(records, index).expect("entry");
    edit(&mut entry);
    entry.write_to(&mut records[index as usize * FS_ENTRY_SIZE..][..FS_ENTRY_SIZE]);
    reseal(bytes);
}

/// Index of the entry with this name.
fn index_of(bytes: &[u8], name: &[u8]) -> u32 {
    let (offset, count) = table(bytes);
    let names = &bytes[offset + count as usize * FS_ENTRY_SIZE..];
    (0..count)
        .find(|&i| {
            let e = FsEntry::read(&bytes[offset..], i).expect("entry");
            &names[e.name_offset as usize..(e.name_offset + e.name_len) as usize] == name
        })
        .expect("name present")
}

#[test]
fn a_good_image_opens() {
    let (_scratch, path, _) = image("good");
    let image = Image::open(&path).expect("open");
    image.verify_digest().expect("digest");
    assert_eq!(image.data(&image.lookup("/etc/data.txt").expect("data").1), b"hello from the image\n");
}

#[test]
fn truncated() {
    let (_scratch, path, bytes) = image("truncated");
    let err = open_damaged(&path, &bytes[..bytes.len() - 4096]);
    assert!(matches!(err, ImageError::Truncated { expected: Some(_), .. }), "{err:?}");
    let err = open_damaged(&path, &bytes[..100]);
    assert!(matches!(err, ImageError::Truncated { actual: 100, expected: Some(_), .. }), "{err:?}");
    let err = open_damaged(&path, &bytes[..10]);
    assert!(matches!(err, ImageError::Truncated { actual: 10, expected: None, .. }), "{err:?}");
}

#[test]
fn appended_bytes() {
    let (_scratch, path, mut bytes) = image("appended");
    bytes.extend_from_slice(b"trailing");
    assert!(matches!(open_damaged(&path, &bytes), ImageError::SizeMismatch { .. }));
}

#[test]
fn not_an_image() {
    let (_scratch, path, mut bytes) = image("magic");
    bytes[0] = b'X';
    assert!(matches!(open_damaged(&path, &bytes), ImageError::NotAnImage { .. }));
    assert!(matches!(open_damaged(&path, b"#!/bin/sh\n"), ImageError::NotAnImage { .. }));
    assert!(matches!(open_damaged(&path, b""), ImageError::NotAnImage { .. }));
    let elf = fs::read(fixture("static.elf")).expect("fixture");
    assert!(matches!(open_damaged(&path, &elf), ImageError::NotAnImage { .. }));
}

#[test]
fn other_format_version() {
    let (_scratch, path, mut bytes) = image("format");
    put_u32(&mut bytes, FORMAT_VERSION_AT, 1);
    reseal(&mut bytes);
    let err = open_damaged(&path, &bytes);
    assert!(matches!(err, ImageError::FormatVersion { found: 1, oldest: 2, newest: 3, .. }), "{err:?}");
    assert!(err.to_string().contains("Rebuild it with this uvm's `uvm build`."), "{err}");
}

#[test]
fn corrupted_content_fails_the_checksum() {
    let (_scratch, path, mut bytes) = image("checksum");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40; // in the padding after the data file
    let err = open_damaged(&path, &bytes);
    assert!(matches!(err, ImageError::ChecksumMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("corrupted"));
}

/// An image built by a uvm of another guest/host ABI runs: images carry no kernel, and their
/// compatibility is their format version's alone (a format-1 image is refused above).
#[test]
fn another_abi_version_still_opens() {
    let (_scratch, path, mut bytes) = image("abi");
    put_u32(&mut bytes, ABI_VERSION_AT, 99);
    reseal(&mut bytes);
    std::fs::write(&path, &bytes).expect("write the image");
    let image = Image::open(&path).expect("an image of another ABI version opens");
    assert_eq!(image.header().abi_version, 99);
}

#[test]
fn misplaced_sections() {
    let (_scratch, path, mut bytes) = image("section");
    let config = read_u64(&bytes, CONFIG_OFFSET_AT);
    put_u64(&mut bytes, CONFIG_OFFSET_AT, config + 4); // not 8-byte aligned
    reseal(&mut bytes);
    assert!(matches!(open_damaged(&path, &bytes), ImageError::BadSection { section: "config", .. }));
    put_u64(&mut bytes, CONFIG_OFFSET_AT, 64); // inside the header
    reseal(&mut bytes);
    assert!(matches!(open_damaged(&path, &bytes), ImageError::BadSection { section: "config", .. }));

    let (_scratch, path, mut bytes) = image("overlap");
    let table_offset = read_u64(&bytes, TABLE_OFFSET_AT);
    put_u64(&mut bytes, CONFIG_OFFSET_AT, table_offset); // config over the file table
    reseal(&mut bytes);
    let err = open_damaged(&path, &bytes);
    assert!(matches!(err, ImageError::BadSection { reason, .. } if reason.contains("overlaps")), "{err:?}");
}

/// Damages the table with `edit`, re-seals, and expects BadFsTable mentioning `expect`.
fn bad_table(label: &str, expect: &str, edit: impl FnOnce(&mut Vec<u8>)) {
    let (_scratch, path, mut bytes) = image(label);
    edit(&mut bytes);
    let err = open_damaged(&path, &bytes);
    match &err {
        ImageError::BadFsTable { reason, .. } => {
            assert!(reason.contains(expect), "{label}: {reason}")
        }
        other => panic!("{label}: expected BadFsTable, got {other:?}"),
    }
}

#[test]
fn bad_kind() {
    bad_table("kind", "kind 9", |b| {
        let i = index_of(b, b"data.txt");
        edit_entry(b, i, |e| e.kind = 9)
    });
}

#[test]
fn app_entry_must_be_a_file() {
    bad_table("app-dir", "app entry", |b| {
        put_u32(b, APP_ENTRY_AT, 0);
        reseal(b);
    });
}

#[test]
fn app_entry_out_of_range() {
    bad_table("app-range", "out of range", |b| {
        put_u32(b, APP_ENTRY_AT, 1000);
        reseal(b);
    });
}

#[test]
fn unaligned_file_data() {
    bad_table("align", "page-aligned", |b| {
        let i = index_of(b, b"data.txt");
        edit_entry(b, i, |e| e.data.offset += 1)
    });
}

#[test]
fn file_data_past_the_end() {
    bad_table("past-end", "outside the image", |b| {
        let i = index_of(b, b"data.txt");
        edit_entry(b, i, |e| e.data.size = 1 << 40)
    });
}

#[test]
fn name_with_a_slash() {
    bad_table("slash", "/ or NUL", |b| {
        let (offset, count) = table(b);
        let i = index_of(b, b"data.txt");
        let e = FsEntry::read(&b[offset..], i).expect("entry");
        b[offset + count as usize * FS_ENTRY_SIZE + e.name_offset as usize] = b'/';
        reseal(b);
    });
}

#[test]
fn name_outside_the_blob() {
    bad_table("name-range", "names blob", |b| edit_entry(b, 1, |e| e.name_len = 1 << 20));
}

#[test]
fn wrong_parent() {
    bad_table("parent", "parent", |b| {
        let i = index_of(b, b"data.txt");
        edit_entry(b, i, |e| e.parent = 0)
    });
}

#[test]
fn children_out_of_order() {
    // Root's children are "bin" and "etc": give them each other's names' order by renaming.
    bad_table("order", "sorted", |b| {
        let bin = index_of(b, b"bin");
        let etc = index_of(b, b"etc");
        let (offset, _) = table(b);
        let etc_entry = FsEntry::read(&b[offset..], etc).expect("etc");
        edit_entry(b, bin, |e| {
            e.name_offset = etc_entry.name_offset;
            e.name_len = etc_entry.name_len;
        })
    });
}

#[test]
fn child_range_outside_the_table() {
    bad_table("children", "outside the table", |b| edit_entry(b, 0, |e| e.child_count = 1000));
}

#[test]
fn root_must_be_a_directory() {
    bad_table("root", "root directory", |b| edit_entry(b, 0, |e| e.kind = EntryKind::File as u8));
}

#[test]
fn orphan_entries() {
    // Root claims one child fewer: the last of its children is in no directory.
    bad_table("orphan", "in no directory", |b| edit_entry(b, 0, |e| e.child_count -= 1));
}

#[test]
fn detached_directory_cycle() {
    // Standard image, breadth-first: 0 "/", 1 "bin", 2 "etc", 3 "hello", 4 "data.txt".
    // Make "etc" and "data.txt" two directories containing each other, and drop "etc" from the
    // root: every entry still has exactly one parent, but two are unreachable from the root.
    bad_table("cycle", "cycle", |b| {
        let (etc, data) = (index_of(b, b"etc"), index_of(b, b"data.txt"));
        assert_eq!((etc, data), (2, 4), "layout assumed by this test");
        edit_entry(b, 0, |e| e.child_count = 1);
        edit_entry(b, etc, |e| e.parent = data);
        edit_entry(b, data, |e| {
            e.kind = EntryKind::Directory as u8;
            e.data = Default::default();
            e.first_child = etc;
            e.child_count = 1;
        });
    });
}

#[test]
fn digest_mismatch_is_found_by_verify_digest_only() {
    let (_scratch, path, mut bytes) = image("digest");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    // Fix the checksum only: open() accepts, verify_digest() refuses.
    let checksum = spec_checksum(&bytes);
    put_u64(&mut bytes, CHECKSUM_AT, checksum);
    fs::write(&path, &bytes).expect("write");
    let image = Image::open(&path).expect("checksum is fine");
    let err = image.verify_digest().expect_err("digest must fail");
    assert!(matches!(err, ImageError::DigestMismatch { .. }));
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn config_must_be_utf8() {
    let (_scratch, path, mut bytes) = image("config");
    let config = read_u64(&bytes, CONFIG_OFFSET_AT) as usize;
    bytes[config] = 0xff;
    reseal(&mut bytes);
    fs::write(&path, &bytes).expect("write");
    let image = Image::open(&path).expect("open");
    assert!(matches!(image.config_toml(), Err(ImageError::ConfigNotUtf8 { .. })));
}

#[test]
fn missing_image() {
    let scratch = Scratch::new("missing-image");
    let err = Image::open(&scratch.path("nope.uvm")).expect_err("missing");
    assert!(matches!(err, ImageError::ReadImage { .. }) && err.to_string().contains("nope.uvm"));
}

/// Rough cost of `Image::open` on a ~1 MiB image. Run with
/// `cargo test --release -p uvm-image --test open -- --ignored --nocapture`.
#[test]
#[ignore]
fn open_timing() {
    let scratch = Scratch::new("timing");
    let big: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let data = scratch.write("big.bin", &big);
    let mut files = vec![(data, "/data/big.bin".to_string())];
    for i in 0..200 {
        files.push((scratch.write(&format!("small/{i:03}"), b"x"), format!("/data/small/{i:03}")));
    }
    let out = pack_with(&scratch, &files);
    let rounds = 200u32;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(Image::open(&out.path).expect("open"));
    }
    let open = start.elapsed() / rounds;
    let image = Image::open(&out.path).expect("open");
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        image.verify_digest().expect("digest");
    }
    let digest = start.elapsed() / rounds;
    println!(
        "image {} bytes, {} entries: open {open:?}, verify_digest {digest:?}",
        out.size,
        image.header().entry_count
    );
}
