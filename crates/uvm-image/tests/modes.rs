//! Modes: a `files` item's mode (`Staged::set_mode`, docker's `COPY --chmod`) replaces the
//! permission bits of its entry and of everything copied into it, files and directories alike,
//! but not of its symlinks, the directories implied on the way, the app binary or the default
//! files; without one the host's modes stay; a mode and an owner go together.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;
use uvm_image::{pack, stage, Image, Owner, PackInput, PackOutput};

const APP: Owner = Owner { uid: 1000, gid: 1000 };

/// Sets the host mode of `path` to `mode`.
fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Host files with modes of their own: tree/{a.txt 0600, sub 0700, sub/b.txt 0644,
/// sub/deep 0750, sub/deep/c.txt 0755, link -> a.txt} (tree itself 0711), single.conf 0640 and
/// plain.txt 0604.
fn sources(scratch: &Scratch) -> Vec<(PathBuf, String)> {
    for (name, mode) in [("tree/a.txt", 0o600), ("tree/sub/b.txt", 0o644), ("tree/sub/deep/c.txt", 0o755)] {
        chmod(&scratch.write(name, b"x"), mode);
    }
    std::os::unix::fs::symlink("a.txt", scratch.path("tree/link")).expect("symlink");
    for (name, mode) in [("tree/sub/deep", 0o750), ("tree/sub", 0o700), ("tree", 0o711)] {
        chmod(&scratch.path(name), mode);
    }
    let single = scratch.write("single.conf", b"key = 1\n");
    chmod(&single, 0o640);
    let plain = scratch.write("plain.txt", b"host's mode\n");
    chmod(&plain, 0o604);
    vec![
        (scratch.path("tree"), "/srv/app".to_string()),
        (single, "/etc/app/single.conf".to_string()),
        (plain, "/etc/plain.txt".to_string()),
    ]
}

/// Stages the test ELF at /bin/hello with `files` and the default files, gives `files` item
/// `i` the mode `modes[i]` and the owner `owners[i]` where there are ones, and writes
/// `scratch/image.uvm`.
fn pack_with_modes(
    scratch: &Scratch,
    files: &[(PathBuf, String)],
    modes: &[Option<u16>],
    owners: &[Option<Owner>],
) -> PackOutput {
    let app = fixture("static.elf");
    let input =
        PackInput { app_binary: &app, app_guest_path: "/bin/hello", files, defaults: &DEFAULTS, config_toml: CONFIG };
    let mut staged = stage(&input).expect("stage");
    for (index, mode) in modes.iter().enumerate() {
        if let Some(mode) = mode {
            staged.set_mode(index, *mode);
        }
    }
    for (index, owner) in owners.iter().enumerate() {
        if let Some(owner) = owner {
            staged.set_owner(index, *owner);
        }
    }
    staged.write(&scratch.path("image.uvm")).expect("write")
}

/// Every entry's path and mode.
fn modes_by_path(image: &Image) -> Vec<(String, u16)> {
    image.entries().map(|(path, entry)| (path, entry.mode)).collect()
}

/// `pairs` with owned paths.
fn owned<T: Copy>(pairs: &[(&str, T)]) -> Vec<(String, T)> {
    pairs.iter().map(|(path, value)| (path.to_string(), *value)).collect()
}

#[test]
fn a_mode_reaches_its_entry_and_everything_under_it_but_not_the_parents() {
    let scratch = Scratch::new("modes-round-trip");
    let files = sources(&scratch);
    let out = pack_with_modes(&scratch, &files, &[Some(0o640), Some(0o4755), None], &[]);
    let image = Image::open(&out.path).expect("open");
    image.verify_digest().expect("digest");
    assert_eq!(
        modes_by_path(&image),
        owned(&[
            ("/", 0o755),
            ("/bin", 0o755),
            ("/bin/hello", 0o755),
            ("/etc", 0o755),
            ("/etc/app", 0o755),
            ("/etc/app/single.conf", 0o4755),
            ("/etc/hosts", 0o644),
            ("/etc/plain.txt", 0o604),
            ("/etc/resolv.conf", 0o644),
            ("/srv", 0o755),
            ("/srv/app", 0o640),
            ("/srv/app/a.txt", 0o640),
            ("/srv/app/link", 0o777),
            ("/srv/app/sub", 0o640),
            ("/srv/app/sub/b.txt", 0o640),
            ("/srv/app/sub/deep", 0o640),
            ("/srv/app/sub/deep/c.txt", 0o640),
        ]),
        "directories and files alike, as COPY --chmod; not the link, the parents, the app or the defaults"
    );
    assert_eq!(image.owners().count(), 0, "a mode gives no owner");
}

#[test]
fn without_a_mode_the_hosts_modes_stay() {
    let scratch = Scratch::new("modes-none");
    let files = sources(&scratch);
    let app = fixture("static.elf");
    let input = PackInput {
        app_binary: &app,
        app_guest_path: "/bin/hello",
        files: &files,
        defaults: &DEFAULTS,
        config_toml: CONFIG,
    };
    let packed = pack(&input, &scratch.path("packed.uvm")).expect("pack");
    let image = Image::open(&packed.path).expect("open");
    let modes = modes_by_path(&image);
    for (path, mode) in [
        ("/srv/app", 0o711),
        ("/srv/app/a.txt", 0o600),
        ("/srv/app/link", 0o777),
        ("/srv/app/sub", 0o700),
        ("/srv/app/sub/b.txt", 0o644),
        ("/srv/app/sub/deep", 0o750),
        ("/srv/app/sub/deep/c.txt", 0o755),
        ("/etc/app/single.conf", 0o640),
        ("/etc/plain.txt", 0o604),
    ] {
        assert!(modes.contains(&(path.to_string(), mode)), "{path} {mode:o}: {modes:?}");
    }
    let staged = pack_with_modes(&scratch, &files, &[None, None, None], &[]);
    let (staged, packed) = (fs::read(staged.path).expect("read"), fs::read(packed.path).expect("read"));
    assert!(staged == packed, "no mode set: the very image pack writes");
}

#[test]
fn a_mode_and_an_owner_go_together() {
    let scratch = Scratch::new("modes-owner");
    let files = sources(&scratch);
    let out = pack_with_modes(&scratch, &files, &[Some(0o2770), None, Some(0o600)], &[Some(APP), Some(APP), None]);
    let image = Image::open(&out.path).expect("open");
    let of = |path: &str| image.lookup(path).map(|(index, entry)| (entry.mode, image.owner(index)));
    assert_eq!(of("/srv/app"), Some((0o2770, APP)));
    assert_eq!(of("/srv/app/sub/deep/c.txt"), Some((0o2770, APP)));
    assert_eq!(of("/srv/app/link"), Some((0o777, APP)), "a symlink gets the owner, not the mode");
    assert_eq!(of("/etc/app/single.conf"), Some((0o640, APP)), "an owner alone keeps the host's mode");
    assert_eq!(of("/etc/plain.txt"), Some((0o600, Owner::ROOT)), "a mode alone stays root's");
    assert_eq!(of("/srv"), Some((0o755, Owner::ROOT)));
    assert_eq!(of("/etc/app"), Some((0o755, Owner::ROOT)));
}

#[test]
fn default_files_in_a_directory_with_a_mode_keep_theirs() {
    let scratch = Scratch::new("modes-defaults");
    chmod(&scratch.write("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"), 0o644);
    let files = [(scratch.path("etc"), "/etc".to_string())];
    let out = pack_with_modes(&scratch, &files, &[Some(0o700)], &[]);
    let image = Image::open(&out.path).expect("open");
    let mode = |path: &str| image.lookup(path).map(|(_, entry)| entry.mode);
    assert_eq!(mode("/etc"), Some(0o700));
    assert_eq!(mode("/etc/passwd"), Some(0o700));
    assert_eq!(mode("/etc/hosts"), Some(0o644), "a default file is not copied by the entry");
    assert_eq!(mode("/etc/resolv.conf"), Some(0o644));
}

#[test]
fn the_first_source_of_a_merged_directory_gives_it_its_mode() {
    let scratch = Scratch::new("modes-merge");
    scratch.write("one/a", b"1");
    scratch.write("two/b", b"2");
    let files = [(scratch.path("one"), "/usr/share".to_string()), (scratch.path("two"), "/usr/share/".to_string())];
    let out = pack_with_modes(&scratch, &files, &[Some(0o750), Some(0o600)], &[]);
    let image = Image::open(&out.path).expect("open");
    let mode = |path: &str| image.lookup(path).map(|(_, entry)| entry.mode);
    assert_eq!(mode("/usr"), Some(0o755));
    assert_eq!(mode("/usr/share"), Some(0o750));
    assert_eq!(mode("/usr/share/a"), Some(0o750));
    assert_eq!(mode("/usr/share/b"), Some(0o600));
}

#[test]
fn bits_above_the_permission_bits_are_dropped_and_a_missing_item_changes_nothing() {
    let scratch = Scratch::new("modes-mask");
    let file = scratch.write("f", b"f");
    chmod(&file, 0o644);
    let files = [(file, "/f".to_string())];
    let app = fixture("static.elf");
    let input =
        PackInput { app_binary: &app, app_guest_path: "/bin/hello", files: &files, defaults: &[], config_toml: "" };
    let mut staged = stage(&input).expect("stage");
    staged.set_mode(0, 0o170_600);
    if !cfg!(debug_assertions) {
        staged.set_mode(1, 0o777); // past the list (a debug build asserts instead)
    }
    let out = staged.write(&scratch.path("image.uvm")).expect("write");
    let image = Image::open(&out.path).expect("open");
    assert_eq!(image.lookup("/f").map(|(_, entry)| entry.mode), Some(0o600));
}
