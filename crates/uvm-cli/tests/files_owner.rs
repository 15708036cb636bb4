//! A `[[files]]` entry's `owner` (docker's `COPY --chown`) from the host's side, booting no VM:
//! `uvm build` resolves it against the image's own /etc/passwd and /etc/group and gives the
//! entry and everything copied into it those ids, not the directories on the way nor anything
//! else; a name the image lacks stops the build, naming the manifest, the entry, the name and
//! the fix; `uvm inspect` shows the owners.

use std::path::{Path, PathBuf};

use uvm_image::{Image, Owner};

mod files_common;
use files_common::*;

/// An entry with an `owner` (or none) and no `mode`.
fn owned<'a>(src: &'a str, dst: &'a str, owner: Option<&'a str>) -> Entry<'a> {
    Entry(src, dst, owner, None)
}

/// A fresh work directory for `test`, with the test ELF as `app`, an `etc` directory holding a
/// passwd and a group file (www's primary group is 44, not its uid) and a `site` tree.
fn work_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uvm-files-owner-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let elf = test_elf();
    for (path, content) in [
        ("etc/passwd", "root:x:0:0::/root:/bin/sh\nwww:x:33:44::/var/www:/bin/sh\napp:x:1000:1000::/:/bin/sh\n"),
        ("etc/group", "root:x:0:\nwww:x:44:\nstaff:x:50:www\n"),
        ("site/index.html", "<h1>hi</h1>\n"),
        ("site/static/app.js", "1;\n"),
        ("site/static/img/logo.svg", "<svg/>\n"),
        ("conf/app.conf", "key = 1\n"),
    ] {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    std::fs::copy(elf, dir.join("app")).unwrap();
    dir
}

/// Every entry of the image `dir/app.uvm` with an owner that is not root, by path.
fn owned_entries(dir: &Path) -> Vec<(String, Owner)> {
    let image = Image::open(&dir.join("app.uvm")).expect("open the image");
    image.indexed_entries().map(|(index, path, _)| (path, image.owner(index))).filter(|(_, o)| !o.is_root()).collect()
}

#[test]
fn an_owner_reaches_every_entry_under_a_directory_but_not_its_parents() {
    let dir = work_dir("tree");
    let manifest = manifest(
        &dir,
        &[
            owned("etc", "/etc", None),
            owned("site", "/srv/www/site", Some("www")),
            owned("conf/app.conf", "/opt/app/app.conf", Some("1000:staff")),
        ],
    );
    expect(&["build", path(&manifest)], 0);
    let www = Owner { uid: 33, gid: 44 }; // www's primary group, as COPY --chown=www gives it
    let app = Owner { uid: 1000, gid: 50 };
    assert_eq!(
        owned_entries(&dir),
        [
            ("/opt/app/app.conf".to_string(), app),
            ("/srv/www/site".into(), www),
            ("/srv/www/site/index.html".into(), www),
            ("/srv/www/site/static".into(), www),
            ("/srv/www/site/static/app.js".into(), www),
            ("/srv/www/site/static/img".into(), www),
            ("/srv/www/site/static/img/logo.svg".into(), www),
        ],
        "/srv, /srv/www, /opt, /opt/app, /etc and its generated files stay root's"
    );

    let (stdout, _) = expect(&["inspect", path(&dir.join("app.uvm"))], 0);
    assert!(stdout.contains("  /srv/www/site/static/img/logo.svg  owner 33:44\n"), "{stdout}");
    assert!(stdout.contains("  /opt/app/app.conf  owner 1000:50\n"), "{stdout}");
    assert!(stdout.contains("  /srv/www\n") && stdout.contains("  /etc/passwd\n"), "root's: no owner shown: {stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_form_of_copy_chown_resolves() {
    let dir = work_dir("forms");
    for (owner, ids) in [
        ("www", (33, 44)),
        ("www:staff", (33, 50)),
        ("www:7", (33, 7)),
        ("1000", (1000, 1000)),
        ("1000:staff", (1000, 50)),
        ("4242:4343", (4242, 4343)),
        ("app:root", (1000, 0)),
    ] {
        let manifest = manifest(&dir, &[owned("etc", "/etc", None), owned("conf/app.conf", "/app.conf", Some(owner))]);
        expect(&["build", path(&manifest)], 0);
        let expected = vec![("/app.conf".to_string(), Owner { uid: ids.0, gid: ids.1 })];
        assert_eq!(owned_entries(&dir), expected, "owner = {owner:?}");
    }
    let manifest = manifest(&dir, &[owned("etc", "/etc", None), owned("conf/app.conf", "/app.conf", Some("root"))]);
    expect(&["build", path(&manifest)], 0);
    let image = Image::open(&dir.join("app.uvm")).unwrap();
    assert_eq!(image.header().owners, Default::default(), "root's: no owners section");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn numeric_owners_need_no_passwd() {
    let dir = work_dir("numeric");
    let manifest = manifest(&dir, &[owned("site", "/srv/site", Some("1000:1000")), owned("conf", "/conf", Some("7"))]);
    expect(&["build", path(&manifest)], 0);
    let (site, conf) = (Owner { uid: 1000, gid: 1000 }, Owner { uid: 7, gid: 7 });
    let expected: Vec<(String, Owner)> = [
        ("/conf", conf),
        ("/conf/app.conf", conf),
        ("/srv/site", site),
        ("/srv/site/index.html", site),
        ("/srv/site/static", site),
        ("/srv/site/static/app.js", site),
        ("/srv/site/static/img", site),
        ("/srv/site/static/img/logo.svg", site),
    ]
    .into_iter()
    .map(|(path, owner)| (path.to_string(), owner))
    .collect();
    assert_eq!(owned_entries(&dir), expected, "an image without /etc/passwd or /etc/group");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_name_the_image_lacks_stops_the_build() {
    let dir = work_dir("unknown");
    let manifest = manifest(&dir, &[owned("etc", "/etc", None), owned("site", "/srv/site", Some("nginx"))]);
    let (_, stderr) = expect(&["build", path(&manifest)], 125);
    let expected = format!(
        "{}: [[files]] entry 2: `owner` \"nginx\": user `nginx` is not in the image's /etc/passwd; write numeric ids \
         such as owner = \"1000:1000\" in that [[files]] entry, or package an /etc/passwd that lists `nginx`",
        manifest.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!dir.join("app.uvm").exists(), "no image is written");

    let manifest = self::manifest(&dir, &[owned("etc", "/etc", None), owned("site", "/srv/site", Some("www:wheel"))]);
    let (_, stderr) = expect(&["build", path(&manifest)], 125);
    assert!(
        stderr.contains("[[files]] entry 2: `owner` \"www:wheel\": group `wheel` is not in the image's /etc/group;"),
        "{stderr}"
    );

    let manifest = self::manifest(&dir, &[owned("site", "/srv/site", Some("www"))]);
    let (_, stderr) = expect(&["build", path(&manifest)], 125);
    assert!(
        stderr.contains(
            "[[files]] entry 1: `owner` \"www\": user `www` is not in the image's /etc/passwd (the image has none)"
        ),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_owner_spec_stops_the_build() {
    let dir = work_dir("syntax");
    let manifest = manifest(&dir, &[owned("site", "/srv/site", Some("www:"))]);
    let (_, stderr) = expect(&["build", path(&manifest)], 125);
    let expected = format!(
        "{}: [[files]] entry 1: `owner` is \"www:\", which is not a user spec: the group is empty",
        manifest.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}
