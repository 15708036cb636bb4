//! Owners: a `files` item's owner reaches its entry and everything copied into it and nothing
//! else; an image whose entries are all root's has no owners section; `Image::open` refuses a
//! damaged owners section; a format-2 image (from before owners) still opens.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use uvm_abi::image::{Section, IMAGE_FORMAT_VERSION, OWNER_RECORD_SIZE, SECTION_ALIGN};
use uvm_image::{pack, stage, Image, ImageError, Owner, PackInput, PackOutput, StagedData};

const APP: Owner = Owner { uid: 1000, gid: 1000 };
const WWW: Owner = Owner { uid: 33, gid: 50 };

/// Host files: tree/{a.txt, sub/b.txt, sub/deep/c.txt, link -> a.txt} and single.conf.
fn sources(scratch: &Scratch) -> Vec<(PathBuf, String)> {
    scratch.write("tree/a.txt", b"a");
    scratch.write("tree/sub/b.txt", b"b");
    scratch.write("tree/sub/deep/c.txt", b"c");
    std::os::unix::fs::symlink("a.txt", scratch.path("tree/link")).expect("symlink");
    let single = scratch.write("single.conf", b"key = 1\n");
    let plain = scratch.write("plain.txt", b"root's\n");
    vec![
        (scratch.path("tree"), "/srv/app".to_string()),
        (single, "/etc/app/single.conf".to_string()),
        (plain, "/etc/plain.txt".to_string()),
    ]
}

/// What to pack: the ELF `app` at /bin/hello with `files`, the default files and `config`.
fn hello_input<'a>(app: &'a Path, files: &'a [(PathBuf, String)], config: &'a str) -> PackInput<'a> {
    PackInput { app_binary: app, app_guest_path: "/bin/hello", files, defaults: &DEFAULTS, config_toml: config }
}

/// Stages the test ELF at /bin/hello with `files` and the default files, gives `files` item
/// `i` the owner `owners[i]` where there is one, and writes `scratch/image.uvm`.
fn pack_owned(scratch: &Scratch, files: &[(PathBuf, String)], owners: &[Option<Owner>]) -> PackOutput {
    let app = fixture("static.elf");
    let input = hello_input(&app, files, CONFIG);
    let mut staged = stage(&input).expect("stage");
    for (index, owner) in owners.iter().enumerate() {
        if let Some(owner) = owner {
            staged.set_owner(index, *owner);
        }
    }
    staged.write(&scratch.path("image.uvm")).expect("write")
}

/// Every entry's path and owner.
fn owners_by_path(image: &Image) -> Vec<(String, Owner)> {
    image.indexed_entries().map(|(index, path, _)| (path, image.owner(index))).collect()
}

#[test]
fn an_owner_reaches_its_entry_and_everything_under_it_but_not_the_parents() {
    let scratch = Scratch::new("owners-round-trip");
    let files = sources(&scratch);
    let out = pack_owned(&scratch, &files, &[Some(APP), Some(WWW), None]);
    let image = Image::open(&out.path).expect("open");
    image.verify_digest().expect("digest");
    assert_eq!(image.header().format_version, IMAGE_FORMAT_VERSION);
    let root = Owner::ROOT;
    assert_eq!(
        owners_by_path(&image),
        [
            ("/".to_string(), root),
            ("/bin".into(), root),
            ("/bin/hello".into(), root),
            ("/etc".into(), root),
            ("/etc/app".into(), root),
            ("/etc/app/single.conf".into(), WWW),
            ("/etc/hosts".into(), root),
            ("/etc/plain.txt".into(), root),
            ("/etc/resolv.conf".into(), root),
            ("/srv".into(), root),
            ("/srv/app".into(), APP),
            ("/srv/app/a.txt".into(), APP),
            ("/srv/app/link".into(), APP),
            ("/srv/app/sub".into(), APP),
            ("/srv/app/sub/b.txt".into(), APP),
            ("/srv/app/sub/deep".into(), APP),
            ("/srv/app/sub/deep/c.txt".into(), APP),
        ]
    );
    let records: Vec<(u32, Owner)> = image.owners().collect();
    assert_eq!(records.len(), 8, "one record per owned entry: {records:?}");
    assert!(records.windows(2).all(|pair| pair[0].0 < pair[1].0), "sorted by entry: {records:?}");
    assert_eq!(image.lookup("/srv/app/sub").map(|(index, _)| image.owner(index)), Some(APP));
}

#[test]
fn the_owners_section_lies_between_the_file_table_and_the_config() {
    let scratch = Scratch::new("owners-layout");
    let files = sources(&scratch);
    let out = pack_owned(&scratch, &files, &[None, Some(WWW), None]);
    let image = Image::open(&out.path).expect("open");
    let header = image.header();
    let table_end = header.fs_table.end().expect("table end");
    assert_eq!(header.owners.offset, table_end.next_multiple_of(SECTION_ALIGN), "right after the table");
    assert_eq!(header.owners.size, OWNER_RECORD_SIZE as u64, "one owned entry");
    assert_eq!(header.config.offset, header.owners.end().expect("owners end").next_multiple_of(SECTION_ALIGN));
    assert_eq!(image.config_toml().expect("config"), CONFIG);
    let bytes = fs::read(&out.path).expect("read");
    assert_eq!(read_u64(&bytes, OWNERS_OFFSET_AT), header.owners.offset, "the header field at 104");
    assert_eq!(read_u64(&bytes, OWNERS_SIZE_AT), 16);
}

#[test]
fn an_image_whose_entries_are_all_roots_has_no_owners_section() {
    let scratch = Scratch::new("owners-none");
    let files = sources(&scratch);
    let app = fixture("static.elf");
    let input = hello_input(&app, &files, CONFIG);
    let packed = pack(&input, &scratch.path("packed.uvm")).expect("pack");
    let owned_by_root = pack_owned(&scratch, &files, &[Some(Owner::ROOT), None, Some(Owner::ROOT)]);
    let (packed, owned_by_root) = (fs::read(packed.path).expect("read"), fs::read(owned_by_root.path).expect("read"));
    assert_eq!(packed, owned_by_root, "root given explicitly is no owner at all");
    assert_eq!(read_u64(&packed, OWNERS_OFFSET_AT), 0);
    assert_eq!(read_u64(&packed, OWNERS_SIZE_AT), 0);
    let image = Image::open(&scratch.path("packed.uvm")).expect("open");
    let header = image.header();
    assert_eq!(header.owners, Section::default());
    let table_end = header.fs_table.end().expect("table end");
    assert_eq!(header.config.offset, table_end.next_multiple_of(SECTION_ALIGN), "the config follows the table");
    assert_eq!(image.owners().count(), 0);
    assert!(image.indexed_entries().all(|(index, _, _)| image.owner(index) == Owner::ROOT));
}

#[test]
fn the_first_source_of_a_merged_directory_owns_it() {
    let scratch = Scratch::new("owners-merge");
    scratch.write("one/a", b"1");
    scratch.write("two/b", b"2");
    let files = [(scratch.path("one"), "/usr/share".to_string()), (scratch.path("two"), "/usr/share/".to_string())];
    let out = pack_owned(&scratch, &files, &[Some(APP), Some(WWW)]);
    let image = Image::open(&out.path).expect("open");
    let owner = |path: &str| image.lookup(path).map(|(index, _)| image.owner(index));
    assert_eq!(owner("/usr"), Some(Owner::ROOT));
    assert_eq!(owner("/usr/share"), Some(APP));
    assert_eq!(owner("/usr/share/a"), Some(APP));
    assert_eq!(owner("/usr/share/b"), Some(WWW));
}

#[test]
fn a_staged_image_shows_what_it_will_hold() {
    let scratch = Scratch::new("owners-staged");
    let files = sources(&scratch);
    let app = fixture("static.elf");
    let input = hello_input(&app, &files, "");
    let staged = stage(&input).expect("stage");
    let read = |path: &str| staged.read(path).expect("read");
    assert_eq!(read("/srv/app/sub/b.txt"), Some(StagedData::File(b"b".to_vec())));
    assert_eq!(read("//srv/app/./a.txt"), None, "`.` is a name like any other");
    assert_eq!(read("/srv/app/link"), Some(StagedData::Symlink(b"a.txt".to_vec())));
    assert_eq!(read("/srv/app"), Some(StagedData::Directory));
    assert_eq!(read("/"), Some(StagedData::Directory));
    assert_eq!(read("/etc/hosts"), Some(StagedData::File(DEFAULTS[0].content.to_vec())), "a default file");
    assert_eq!(read("/etc/passwd"), None);
    assert_eq!(read("/etc/plain.txt/x"), None);
    fs::write(&files[2].0, b"longer than it was").expect("grow");
    let err = staged.read("/etc/plain.txt").expect_err("a changed file");
    assert!(matches!(err, ImageError::InputChanged { .. }), "{err:?}");
    assert!(staged.read("/srv/app/a.txt").is_ok());
    assert!(stage(&PackInput { app_binary: Path::new("/nonexistent"), ..input }).is_err());
}

/// An image with owners for `/srv/app` (and what it holds) and `/etc/app/single.conf`, its
/// path and its bytes.
fn owned_image(label: &str) -> (Scratch, PathBuf, Vec<u8>) {
    let scratch = Scratch::new(label);
    let files = sources(&scratch);
    let out = pack_owned(&scratch, &files, &[Some(APP), Some(WWW), None]);
    let bytes = fs::read(&out.path).expect("read");
    (scratch, out.path, bytes)
}

/// Offset and number of the owners section's records.
fn owner_records(bytes: &[u8]) -> (usize, usize) {
    (read_u64(bytes, OWNERS_OFFSET_AT) as usize, read_u64(bytes, OWNERS_SIZE_AT) as usize / OWNER_RECORD_SIZE)
}

/// Applies `edit` to the owners section's bytes, re-seals, and expects `BadOwners` saying
/// `expect`.
fn bad_owners(label: &str, expect: &str, edit: impl FnOnce(&mut [u8])) {
    let (_scratch, path, mut bytes) = owned_image(label);
    let (offset, count) = owner_records(&bytes);
    edit(&mut bytes[offset..offset + count * OWNER_RECORD_SIZE]);
    reseal(&mut bytes);
    fs::write(&path, &bytes).expect("write");
    let err = Image::open(&path).expect_err("a damaged owners section");
    let message = err.to_string();
    assert!(matches!(err, ImageError::BadOwners { .. }), "{label}: {err:?}");
    assert!(message.contains(expect), "{label}: {message}");
    assert!(message.contains(&path.display().to_string()), "{label}: {message}");
    assert!(message.contains("damaged owners section") && message.ends_with("Rebuild it with `uvm build`."));
}

#[test]
fn owner_records_out_of_order_are_refused() {
    bad_owners("owners-order", "not strictly sorted by entry", |records| {
        let (first, rest) = records.split_at_mut(OWNER_RECORD_SIZE);
        first.swap_with_slice(&mut rest[..OWNER_RECORD_SIZE]);
    });
}

#[test]
fn an_entry_named_twice_is_refused() {
    bad_owners("owners-twice", "names entry", |records| {
        let first_entry = read_u32(records, 0);
        put_u32(records, OWNER_RECORD_SIZE, first_entry);
    });
}

#[test]
fn an_owner_record_past_the_file_table_is_refused() {
    bad_owners("owners-range", "but the file table has", |records| {
        let last = records.len() - OWNER_RECORD_SIZE;
        put_u32(records, last, 1_000_000);
    });
}

#[test]
fn a_non_zero_reserved_field_is_refused() {
    bad_owners("owners-reserved", "non-zero reserved field", |records| put_u32(records, 12, 1));
}

#[test]
fn a_misplaced_owners_section_is_refused() {
    for (label, offset, size, reason) in [
        ("owners-misaligned", Some(4), None, "8-byte aligned"),
        ("owners-partial", None, Some(-8), "16-byte records"),
        ("owners-overlap", Some(-8), None, "overlaps the file table or the config"),
    ] {
        let (_scratch, path, mut bytes) = owned_image(label);
        let (old_offset, old_size) = (read_u64(&bytes, OWNERS_OFFSET_AT), read_u64(&bytes, OWNERS_SIZE_AT));
        if let Some(delta) = offset {
            put_u64(&mut bytes, OWNERS_OFFSET_AT, old_offset.wrapping_add_signed(delta));
        }
        if let Some(delta) = size {
            put_u64(&mut bytes, OWNERS_SIZE_AT, old_size.wrapping_add_signed(delta));
        }
        reseal(&mut bytes);
        fs::write(&path, &bytes).expect("write");
        let err = Image::open(&path).expect_err("a misplaced owners section");
        assert!(matches!(err, ImageError::BadSection { section: "owners", .. }), "{label}: {err:?}");
        assert!(err.to_string().contains(reason), "{label}: {err}");
    }
}

#[test]
fn a_format_2_image_still_opens_and_is_all_roots() {
    let scratch = Scratch::new("owners-format-2");
    let path = standard_image(&scratch);
    let mut bytes = fs::read(&path).expect("read");
    assert_eq!(read_u64(&bytes, OWNERS_OFFSET_AT), 0, "no owners: the bytes a format-2 header has there");
    put_u32(&mut bytes, FORMAT_VERSION_AT, 2);
    reseal(&mut bytes);
    fs::write(&path, &bytes).expect("write");
    let image = Image::open(&path).expect("a format-2 image opens");
    image.verify_digest().expect("digest");
    assert_eq!(image.header().format_version, 2);
    assert_eq!(image.data(&image.lookup("/etc/data.txt").expect("data").1), b"hello from the image\n");
    assert!(image.indexed_entries().all(|(index, _, _)| image.owner(index) == Owner::ROOT));
}

#[test]
fn format_versions_this_uvm_does_not_read_say_what_to_do() {
    let (_scratch, path, bytes) = owned_image("owners-versions");
    for (version, advice) in [
        (1, "Rebuild it with this uvm's `uvm build`."),
        (4, "Run it with the newer uvm that built it, or rebuild it with this uvm's `uvm build`."),
    ] {
        let mut bytes = bytes.clone();
        put_u32(&mut bytes, FORMAT_VERSION_AT, version);
        reseal(&mut bytes);
        fs::write(&path, &bytes).expect("write");
        let err = Image::open(&path).expect_err("another format version");
        assert!(matches!(err, ImageError::FormatVersion { found, oldest: 2, newest: 3, .. } if found == version));
        let expected = format!(
            "{} uses image format version {version}, but this uvm reads versions 2 to 3. {advice}",
            path.display()
        );
        assert_eq!(err.to_string(), expected);
    }
}
