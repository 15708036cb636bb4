//! A `[[files]]` entry's `mode` (docker's `COPY --chmod`) from the host's side, booting no VM:
//! `uvm build` gives the entry and everything copied into it, files and directories alike,
//! those permission bits, not its symlinks, the directories on the way or anything else, and
//! with its `owner` when it has one; without `mode` the host's modes stay; a bad value stops
//! the build, naming the manifest, the entry, the value and the fix; `uvm inspect` shows the
//! modes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use uvm_image::{Image, Owner};

mod files_common;
use files_common::*;

/// A fresh work directory for `test`, with the test ELF as `app`, an `etc` directory holding a
/// passwd and a group file, a `site` tree whose entries have modes of their own (and a symlink)
/// and a `conf/app.conf`.
fn work_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uvm-files-mode-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let elf = test_elf();
    for (path, content, mode) in [
        ("etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n", 0o644),
        ("etc/group", "root:x:0:\nstaff:x:50:app\n", 0o644),
        ("site/index.html", "<h1>hi</h1>\n", 0o600),
        ("site/static/app.js", "1;\n", 0o755),
        ("conf/app.conf", "key = 1\n", 0o640),
    ] {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        chmod(&path, mode);
    }
    std::os::unix::fs::symlink("index.html", dir.join("site/current")).unwrap();
    chmod(&dir.join("site/static"), 0o700);
    chmod(&dir.join("site"), 0o711);
    std::fs::copy(elf, dir.join("app")).unwrap();
    dir
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every entry of the image `dir/app.uvm` under `prefixes`, in path order: its path, mode (in
/// octal) and owner.
fn entries_under(dir: &Path, prefixes: &[&str]) -> Vec<(String, String, Owner)> {
    let image = Image::open(&dir.join("app.uvm")).expect("open the image");
    image
        .indexed_entries()
        .filter(|(_, path, _)| prefixes.iter().any(|prefix| path.starts_with(prefix)))
        .map(|(index, path, entry)| (path, format!("{:o}", entry.mode), image.owner(index)))
        .collect()
}

/// `rows` as [`entries_under`] gives them.
fn rows(rows: &[(&str, u16, Owner)]) -> Vec<(String, String, Owner)> {
    rows.iter().map(|&(path, mode, owner)| (path.to_string(), format!("{mode:o}"), owner)).collect()
}

#[test]
fn a_mode_reaches_every_entry_under_a_directory_but_not_its_parents() {
    let dir = work_dir("tree");
    let manifest = manifest(
        &dir,
        &[
            Entry("etc", "/etc", None, None),
            Entry("site", "/srv/www/site", None, Some("0750")),
            Entry("conf/app.conf", "/opt/app/app.conf", Some("app:staff"), Some("4755")),
        ],
    );
    expect(&["build", path(&manifest)], 0);
    let (root, app) = (Owner::ROOT, Owner { uid: 1000, gid: 50 });
    assert_eq!(
        entries_under(&dir, &["/etc", "/opt", "/srv"]),
        rows(&[
            ("/etc", 0o755, root), // the host's: the entry has no mode
            ("/etc/group", 0o644, root),
            ("/etc/hosts", 0o644, root),
            ("/etc/nsswitch.conf", 0o644, root),
            ("/etc/passwd", 0o644, root),
            ("/etc/resolv.conf", 0o644, root),
            ("/opt", 0o755, root),
            ("/opt/app", 0o755, root),
            ("/opt/app/app.conf", 0o4755, app),
            ("/srv", 0o755, root),
            ("/srv/www", 0o755, root),
            ("/srv/www/site", 0o750, root),
            ("/srv/www/site/current", 0o777, root),
            ("/srv/www/site/index.html", 0o750, root),
            ("/srv/www/site/static", 0o750, root),
            ("/srv/www/site/static/app.js", 0o750, root),
        ]),
        "directories and files alike, as COPY --chmod; not the symlink, the directories on the way or /etc"
    );

    let (stdout, _) = expect(&["inspect", path(&dir.join("app.uvm"))], 0);
    for line in [
        format!("  file 4755 {:>10}  /opt/app/app.conf  owner 1000:50\n", 8),
        format!("  dir   750 {:>10}  /srv/www/site\n", 0),
        format!("  file  750 {:>10}  /srv/www/site/index.html\n", 12),
        format!("  dir   750 {:>10}  /srv/www/site/static\n", 0),
        format!("  link  777 {:>10}  /srv/www/site/current\n", 10),
        format!("  dir   755 {:>10}  /srv/www\n", 0),
    ] {
        assert!(stdout.contains(&line), "{line:?} in {stdout}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn without_a_mode_the_hosts_modes_stay() {
    let dir = work_dir("host");
    let manifest = manifest(
        &dir,
        &[Entry("site", "/srv/site", Some("1000"), None), Entry("conf/app.conf", "/app.conf", None, Some("0"))],
    );
    expect(&["build", path(&manifest)], 0);
    let owner = Owner { uid: 1000, gid: 1000 };
    assert_eq!(
        entries_under(&dir, &["/srv", "/app.conf"]),
        rows(&[
            ("/app.conf", 0, Owner::ROOT),
            ("/srv", 0o755, Owner::ROOT),
            ("/srv/site", 0o711, owner),
            ("/srv/site/current", 0o777, owner),
            ("/srv/site/index.html", 0o600, owner),
            ("/srv/site/static", 0o700, owner),
            ("/srv/site/static/app.js", 0o755, owner),
        ]),
        "an owner alone keeps the host's modes; mode = \"0\" is a mode"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_mode_stops_the_build() {
    let dir = work_dir("bad");
    for (mode, why) in [
        (
            "u=rwx,go=rx",
            "it is a symbolic mode, which uvm does not apply (\"u=rwx,go=rx\" is \"755\", \"u=rw,go=r\" is \"644\")",
        ),
        ("+x", "it is a symbolic mode"),
        ("10000", "it is more than 07777 (permission bits, setuid, setgid and sticky)"),
        ("0o755", "'o' is not an octal digit"),
    ] {
        let manifest =
            manifest(&dir, &[Entry("etc", "/etc", None, None), Entry("site", "/srv/site", None, Some(mode))]);
        let (_, stderr) = expect(&["build", path(&manifest)], 125);
        let expected =
            format!("{}: [[files]] entry 2: `mode` is {mode:?}, which is not an octal mode: {why}", manifest.display());
        assert!(stderr.contains(&expected), "{mode}: {stderr}");
        let fix = "; write the permission bits as octal digits, as COPY --chmod takes them, e.g. \"0644\", \"755\" or \
                   \"4755\" (at most \"07777\")";
        assert!(stderr.contains(fix), "{mode}: {stderr}");
        assert!(!dir.join("app.uvm").exists(), "{mode}: no image is written");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
