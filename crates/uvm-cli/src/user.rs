//! User specs resolved against an image's own /etc/passwd and /etc/group: the app's user for
//! `uvm run` (the image's `[app] user`, or `-u/--user`) into the uid, gid and supplementary
//! groups the guest kernel starts the app with ([`for_image`]), and a `[[files]]` entry's
//! `owner` for `uvm build` into the uid and gid its entries get ([`resolve_owner`], against
//! the files of the image being built: [`staged_file`]).
//!
//! The rules are docker's (runc's `GetExecUser`):
//! - `NAME`: the first /etc/passwd entry named NAME gives the uid and the primary gid; an
//!   error if there is none.
//! - `UID`: that uid, and the primary gid of the first entry with that uid (0 if none).
//! - `:GROUP` by name: the gid of the first /etc/group entry named GROUP (an error if none);
//!   `:GID`: that gid.
//! - Supplementary groups, when the spec names no group and the user has a passwd entry:
//!   every /etc/group entry that lists the user's name among its members, in file order,
//!   without repeats and without the primary gid; at most [`MAX_BOOT_GROUPS`]. A spec with a
//!   group gets none, as with docker.
//!
//! An owner follows `COPY --chown` as docker's builder (BuildKit) applies it instead: a name
//! without a group gets its passwd entry's primary gid, a uid without a group that uid as its
//! gid, and an id needs no /etc/passwd entry.
//!
//! The files are read leniently, as libc reads them: blank lines, `#` comments and lines that
//! are not `name:password:uid:gid...` (passwd) or `name:password:gid[:members]` (group) are
//! skipped. A file the image lacks reads as empty; a symlink in the last component is followed
//! inside the image.

use std::borrow::Cow;
use std::convert::Infallible;
use std::path::Path;

use anyhow::{bail, Result};
use uvm_abi::boot::MAX_BOOT_GROUPS;
use uvm_abi::image::EntryKind;
use uvm_image::{Image, ImageError, Owner, Staged, StagedData};
use uvm_manifest::{IdOrName, UserSpec};
use uvm_vmm::AppUser;

/// Where a user spec came from, for error messages and their fix.
#[derive(Clone, Copy, Debug)]
pub enum Origin<'a> {
    /// `-u/--user`, with its value as written.
    Flag(&'a str),
    /// The image's run configuration (the manifest's `[app] user`).
    Image,
    /// The `owner` of `[[files]]` entry `entry` (from 1) of `manifest`.
    Owner {
        /// The manifest's path.
        manifest: &'a Path,
        /// The entry's number, from 1.
        entry: usize,
    },
}

impl Origin<'_> {
    /// The start of an error: where the spec came from.
    fn at(&self, spec: &UserSpec) -> String {
        match self {
            Origin::Flag(value) => format!("`--user {value}`"),
            Origin::Image => format!("the image's user \"{spec}\" ([app] user)"),
            Origin::Owner { manifest, entry } => {
                format!("{}: [[files]] entry {entry}: `owner` \"{spec}\"", manifest.display())
            }
        }
    }

    /// How to give a numeric spec instead.
    fn numeric_fix(&self) -> &'static str {
        match self {
            Origin::Flag(_) => "use numeric ids such as --user 1000:1000",
            Origin::Image => {
                "write numeric ids such as user = \"1000:1000\" in the manifest's [app] (or run with --user 1000:1000)"
            }
            Origin::Owner { .. } => "write numeric ids such as owner = \"1000:1000\" in that [[files]] entry",
        }
    }
}

/// Resolves `spec` against the image's /etc/passwd and /etc/group.
pub fn for_image(spec: &UserSpec, origin: Origin, image: &Image) -> Result<AppUser> {
    let passwd = image_file(image, "/etc/passwd");
    let group = image_file(image, "/etc/group");
    resolve(spec, origin, passwd.as_deref(), group.as_deref())
}

/// Resolves `spec` against the text of /etc/passwd and /etc/group (`None`: the image has no
/// such file, which reads as empty).
pub fn resolve(spec: &UserSpec, origin: Origin, passwd: Option<&str>, group: Option<&str>) -> Result<AppUser> {
    let (uid, mut gid, name) = match &spec.user {
        IdOrName::Name(name) => {
            let entry = user_named(name, spec, origin, passwd)?;
            (entry.uid, entry.gid, Some(entry.name))
        }
        IdOrName::Id(uid) => match passwd.into_iter().flat_map(passwd_entries).find(|e| e.uid == *uid) {
            Some(entry) => (entry.uid, entry.gid, Some(entry.name)),
            None => (*uid, 0, None),
        },
    };
    match &spec.group {
        Some(IdOrName::Id(id)) => gid = *id,
        Some(IdOrName::Name(name)) => gid = group_named(name, spec, origin, group)?,
        None => {}
    }
    let group_entries = || group.into_iter().flat_map(group_entries);
    let mut groups: Vec<u32> = Vec::new();
    if let (None, Some(name)) = (&spec.group, name) {
        for entry in group_entries().filter(|e| e.has_member(name)) {
            if entry.gid != gid && !groups.contains(&entry.gid) {
                groups.push(entry.gid);
            }
        }
    }
    if groups.len() > MAX_BOOT_GROUPS {
        bail!(
            "{}: user `{}` is a member of {} groups in the image's /etc/group besides its primary group, more than the {MAX_BOOT_GROUPS} uvm gives an app; remove it from some, or name its group (USER:GROUP), which gives it no others",
            origin.at(spec),
            name.unwrap_or_default(),
            groups.len()
        );
    }
    Ok(AppUser { uid, gid, groups })
}

/// Resolves a `[[files]]` entry's `owner` against the text of /etc/passwd and /etc/group
/// (`None`: the image has no such file) by `COPY --chown`'s rules as docker's builder
/// (BuildKit) applies them: a name is looked up and, without a group, gives its passwd entry's
/// primary gid; an id is taken as it is and, without a group, is the gid too.
pub fn resolve_owner(spec: &UserSpec, origin: Origin, passwd: Option<&str>, group: Option<&str>) -> Result<Owner> {
    let (uid, primary_gid) = match &spec.user {
        IdOrName::Name(name) => {
            let entry = user_named(name, spec, origin, passwd)?;
            (entry.uid, entry.gid)
        }
        IdOrName::Id(uid) => (*uid, *uid),
    };
    let gid = match &spec.group {
        None => primary_gid,
        Some(IdOrName::Id(gid)) => *gid,
        Some(IdOrName::Name(name)) => group_named(name, spec, origin, group)?,
    };
    Ok(Owner { uid, gid })
}

/// The first /etc/passwd entry named `name`, or an error saying where `spec` came from and
/// how to fix it.
fn user_named<'a>(name: &str, spec: &UserSpec, origin: Origin, passwd: Option<&'a str>) -> Result<PasswdEntry<'a>> {
    match passwd.into_iter().flat_map(passwd_entries).find(|e| e.name == name) {
        Some(entry) => Ok(entry),
        None => bail!(
            "{}: user `{name}` is not in {}; {}, or package an /etc/passwd that lists `{name}`",
            origin.at(spec),
            in_the_image("/etc/passwd", passwd),
            origin.numeric_fix()
        ),
    }
}

/// The gid of the first /etc/group entry named `name`, or an error saying where `spec` came
/// from and how to fix it.
fn group_named(name: &str, spec: &UserSpec, origin: Origin, group: Option<&str>) -> Result<u32> {
    match group.into_iter().flat_map(group_entries).find(|e| e.name == name) {
        Some(entry) => Ok(entry.gid),
        None => bail!(
            "{}: group `{name}` is not in {}; {}, or package an /etc/group that lists `{name}`",
            origin.at(spec),
            in_the_image("/etc/group", group),
            origin.numeric_fix()
        ),
    }
}

/// "the image's /etc/passwd", saying so when the image has none (`text` is `None`).
fn in_the_image(path: &str, text: Option<&str>) -> String {
    match text {
        Some(_) => format!("the image's {path}"),
        None => format!("the image's {path} (the image has none)"),
    }
}

/// One /etc/passwd entry: `name:password:uid:gid[:gecos:home:shell]`.
#[derive(Debug, PartialEq, Eq)]
struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
}

/// One /etc/group entry: `name:password:gid[:member,member...]`.
#[derive(Debug, PartialEq, Eq)]
struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    /// The comma-separated member list (may be empty).
    members: &'a str,
}

impl GroupEntry<'_> {
    fn has_member(&self, name: &str) -> bool {
        self.members.split(',').any(|member| member.trim() == name)
    }
}

/// The well-formed entries of /etc/passwd text, in file order.
fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    records(text).filter_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next().filter(|name| !name.is_empty())?;
        let _password = fields.next()?;
        let uid = id(fields.next()?)?;
        let gid = id(fields.next()?)?;
        Some(PasswdEntry { name, uid, gid })
    })
}

/// The well-formed entries of /etc/group text, in file order.
fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    records(text).filter_map(|line| {
        let mut fields = line.splitn(4, ':');
        let name = fields.next().filter(|name| !name.is_empty())?;
        let _password = fields.next()?;
        let gid = id(fields.next()?)?;
        let members = fields.next().unwrap_or("");
        // A fifth field is not a group line.
        (!members.contains(':')).then_some(GroupEntry { name, gid, members })
    })
}

/// The lines of a passwd or group file that may be entries: not blank, not comments.
fn records(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// A uid or gid field: a decimal number, not Linux's "no id" (`(uid_t)-1`).
fn id(field: &str) -> Option<u32> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok().filter(|&id| id != u32::MAX)
}

/// How many symlinks are followed to reach a file of the image.
const MAX_SYMLINKS: usize = 8;

/// What a path of an image (opened, or staged by `uvm build`) holds, as far as reading a text
/// file goes.
enum Node<'a> {
    /// A regular file's text.
    Text(Cow<'a, str>),
    /// A symlink's target.
    Link(String),
    /// A directory.
    Other,
}

/// The text of the image's regular file at `path` (a symlink in its last component followed,
/// relative to the link's directory or absolute); `None` if there is no such file.
fn image_file<'a>(image: &'a Image, path: &str) -> Option<Cow<'a, str>> {
    let node = |path: &str| {
        Ok::<_, Infallible>(image.lookup(path).map(|(_, entry)| {
            let data = || String::from_utf8_lossy(image.data(&entry));
            match EntryKind::from_raw(entry.kind) {
                Some(EntryKind::File) => Node::Text(data()),
                Some(EntryKind::Symlink) => Node::Link(data().into_owned()),
                _ => Node::Other,
            }
        }))
    };
    let Ok(text) = follow(path, node);
    text
}

/// The text of the regular file at `path` of the image `uvm build` is making, as
/// [`image_file`] reads it from an image: the app's `[[files]]` and the generated defaults.
pub fn staged_file(staged: &Staged, path: &str) -> Result<Option<String>, ImageError> {
    let node = |path: &str| {
        Ok::<_, ImageError>(staged.read(path)?.map(|data| match data {
            StagedData::File(bytes) => Node::Text(Cow::Owned(text_of(bytes))),
            StagedData::Symlink(target) => Node::Link(text_of(target)),
            StagedData::Directory => Node::Other,
        }))
    };
    Ok(follow(path, node)?.map(Cow::into_owned))
}

/// `bytes` as text, invalid UTF-8 replaced (as the files are read from an opened image).
fn text_of(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The text of the regular file at `path` of an image whose paths `node` looks up (no
/// symlink followed), a symlink in the last component followed (relative to the link's
/// directory, or absolute) up to [`MAX_SYMLINKS`] times; `None` if there is no such file.
fn follow<'a, E>(
    path: &str,
    mut node: impl FnMut(&str) -> Result<Option<Node<'a>>, E>,
) -> Result<Option<Cow<'a, str>>, E> {
    let mut path = path.to_owned();
    for _ in 0..=MAX_SYMLINKS {
        match node(&path)? {
            Some(Node::Text(text)) => return Ok(Some(text)),
            Some(Node::Link(target)) => {
                let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
                path = normalise(&if target.starts_with('/') { target } else { format!("{dir}/{target}") });
            }
            Some(Node::Other) | None => return Ok(None),
        }
    }
    Ok(None)
}

/// An absolute path with `.` and `..` components resolved (`..` at the root stays there).
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "\
# the image's users
root:x:0:0:root:/root:/bin/sh

www:x:33:33:www-data:/var/www:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
broken line without colons
bad:x:notanumber:1
short:x:5
:x:6:6::/:/bin/sh
neg:x:-1:1::/:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
app:x:2000:2000:a second app, ignored::
twin:x:1000:50::/:/bin/sh
";

    const GROUP: &str = "\
root:x:0:
www:x:33:
app:x:1000:
staff:x:50:app,www
# audio:x:29:app
audio:x:29:www, app
bad:x:nope:app
wheel:x:10:app:extra
video:x:44:appx,xapp
dialout:x:20:app
staff-again:x:50:app
users:x:100:app
";

    fn user(text: &str) -> UserSpec {
        uvm_manifest::parse_user(text, "test").unwrap()
    }

    fn resolved(spec: &str) -> AppUser {
        resolve(&user(spec), Origin::Flag(spec), Some(PASSWD), Some(GROUP)).unwrap_or_else(|e| panic!("{spec}: {e:#}"))
    }

    fn ids(uid: u32, gid: u32, groups: &[u32]) -> AppUser {
        AppUser { uid, gid, groups: groups.to_vec() }
    }

    fn error(spec: &str, origin: Origin, passwd: Option<&str>, group: Option<&str>) -> String {
        match resolve(&user(spec), origin, passwd, group) {
            Ok(user) => panic!("{spec}: resolved to {user:?}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn numeric_ids() {
        assert_eq!(resolve(&UserSpec::ROOT, Origin::Image, None, None).unwrap(), AppUser::default(), "root");
        assert_eq!(resolved("0"), ids(0, 0, &[]));
        assert_eq!(resolved("4242"), ids(4242, 0, &[]), "no passwd entry: gid 0, no groups");
        assert_eq!(resolved("4242:77"), ids(4242, 77, &[]));
        assert_eq!(resolved("33"), ids(33, 33, &[50, 29]), "an entry with that uid: its gid and groups");
        assert_eq!(resolved("33:7"), ids(33, 7, &[]), "a group given: no others, as docker");
        assert_eq!(resolve(&user("12:34"), Origin::Image, None, None).unwrap(), ids(12, 34, &[]), "no files needed");
    }

    #[test]
    fn names() {
        assert_eq!(resolved("root"), ids(0, 0, &[]));
        assert_eq!(resolved("www"), ids(33, 33, &[50, 29]), "file order");
        assert_eq!(resolved("nobody"), ids(65534, 65534, &[]));
        assert_eq!(resolved("www:100"), ids(33, 100, &[]));
    }

    #[test]
    fn group_names() {
        assert_eq!(resolved("www:staff"), ids(33, 50, &[]));
        assert_eq!(resolved("4242:users"), ids(4242, 100, &[]));
        assert_eq!(resolved("app:root"), ids(1000, 0, &[]));
    }

    #[test]
    fn supplementary_groups() {
        // app is in staff (50), audio (29, " app" trimmed), dialout (20), staff-again (50 again)
        // and users (100); not in the comment, the bad line, wheel (five fields) or video
        // (a different name that contains it).
        assert_eq!(resolved("app"), ids(1000, 1000, &[50, 29, 20, 100]));
        assert_eq!(resolved("1000"), ids(1000, 1000, &[50, 29, 20, 100]), "the first entry with uid 1000");
        let group = "app:x:1000:app\nother:x:7:app\n";
        let app = resolve(&user("app"), Origin::Image, Some(PASSWD), Some(group)).unwrap();
        assert_eq!(app, ids(1000, 1000, &[7]), "not the primary gid");
        assert_eq!(resolve(&user("app"), Origin::Image, Some(PASSWD), None).unwrap(), ids(1000, 1000, &[]));
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let names: Vec<&str> = passwd_entries(PASSWD).map(|e| e.name).collect();
        assert_eq!(names, ["root", "www", "app", "nobody", "app", "twin"]);
        let groups: Vec<&str> = group_entries(GROUP).map(|e| e.name).collect();
        assert_eq!(groups, ["root", "www", "app", "staff", "audio", "video", "dialout", "staff-again", "users"]);
        assert_eq!(passwd_entries("\r\nx:x:1:2\r\n").collect::<Vec<_>>(), [PasswdEntry { name: "x", uid: 1, gid: 2 }]);
        assert_eq!(passwd_entries("x:x:4294967295:1\ny:x:+1:1\nz:x:1:4294967296").count(), 0);
        let err = error("bad", Origin::Flag("bad"), Some(PASSWD), Some(GROUP));
        assert!(err.contains("user `bad` is not in the image's /etc/passwd"), "{err}");
    }

    #[test]
    fn a_missing_user_names_the_value_its_origin_and_the_fix() {
        let err = error("ghost:staff", Origin::Flag("ghost:staff"), Some(PASSWD), Some(GROUP));
        assert_eq!(
            err,
            "`--user ghost:staff`: user `ghost` is not in the image's /etc/passwd; use numeric ids such as \
             --user 1000:1000, or package an /etc/passwd that lists `ghost`"
        );
        let err = error("www", Origin::Image, None, None);
        assert_eq!(
            err,
            "the image's user \"www\" ([app] user): user `www` is not in the image's /etc/passwd (the image has \
             none); write numeric ids such as user = \"1000:1000\" in the manifest's [app] (or run with --user \
             1000:1000), or package an /etc/passwd that lists `www`"
        );
    }

    #[test]
    fn a_missing_group_names_the_value_its_origin_and_the_fix() {
        let err = error("www:ghosts", Origin::Flag("www:ghosts"), Some(PASSWD), Some(GROUP));
        assert_eq!(
            err,
            "`--user www:ghosts`: group `ghosts` is not in the image's /etc/group; use numeric ids such as \
             --user 1000:1000, or package an /etc/group that lists `ghosts`"
        );
        let err = error("1:staff", Origin::Image, Some(PASSWD), None);
        assert!(err.starts_with("the image's user \"1:staff\" ([app] user): group `staff`"), "{err}");
        assert!(err.contains("/etc/group (the image has none)"), "{err}");
    }

    #[test]
    fn too_many_groups() {
        let member_of = |count: u32| (0..count).map(|i| format!("g{i}:x:{}:app\n", 2000 + i)).collect::<String>();
        let most = member_of(MAX_BOOT_GROUPS as u32);
        let app = resolve(&user("app"), Origin::Flag("app"), Some(PASSWD), Some(&most)).unwrap();
        assert_eq!(app.groups, (2000..2000 + MAX_BOOT_GROUPS as u32).collect::<Vec<_>>());
        let too_many = member_of(MAX_BOOT_GROUPS as u32 + 1);
        let err = error("app", Origin::Flag("app"), Some(PASSWD), Some(&too_many));
        assert!(
            err.starts_with("`--user app`: user `app` is a member of 33 groups in the image's /etc/group besides its primary group, more than the 32"),
            "{err}"
        );
        let app = resolve(&user("app:1000"), Origin::Flag("app:1000"), Some(PASSWD), Some(&too_many)).unwrap();
        assert!(app.groups.is_empty(), "with a group named, none are added");
        let with_primary = format!("{}p:x:1000:app\n", member_of(MAX_BOOT_GROUPS as u32));
        assert_eq!(resolve(&user("app"), Origin::Image, Some(PASSWD), Some(&with_primary)).unwrap().groups.len(), 32);
    }

    /// An image (in temp dir `name`) of the test ELF at /bin/app and the host files `layout`
    /// (`(path, content)`, a content `->TARGET` a symlink) packaged as `dsts` (`(host
    /// directory under the layout, guest path)`).
    fn image_with(name: &str, layout: &[(&str, &str)], dsts: &[(&str, &str)]) -> (std::path::PathBuf, Image) {
        let dir = std::env::temp_dir().join(format!("uvm-cli-user-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, content) in layout {
            let path = dir.join("tree").join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            match content.strip_prefix("->") {
                Some(target) => std::os::unix::fs::symlink(target, &path).unwrap(),
                None => std::fs::write(&path, content).unwrap(),
            }
        }
        let files: Vec<_> = dsts.iter().map(|(src, dst)| (dir.join("tree").join(src), dst.to_string())).collect();
        let image = crate::test_image::pack(&dir, &files);
        (dir, image)
    }

    #[test]
    fn the_files_are_read_from_the_image() {
        let (dir, image) = image_with(
            "files",
            &[
                ("etc/passwd", "->../usr/lib/passwd"),
                ("etc/group", "->/usr/lib/group"),
                ("usr/lib/passwd", "app:x:1000:1000::/:/bin/sh\n"),
                ("usr/lib/group", "staff:x:50:app\n"),
            ],
            &[("etc", "/etc"), ("usr", "/usr")],
        );
        let app = for_image(&user("app"), Origin::Flag("app"), &image).unwrap();
        assert_eq!(app, ids(1000, 1000, &[50]), "relative and absolute symlinks followed");
        std::fs::remove_dir_all(dir).unwrap();

        let (dir, image) = image_with("none", &[("srv/x", "x")], &[("srv", "/srv")]);
        assert_eq!(for_image(&user("7"), Origin::Image, &image).unwrap(), ids(7, 0, &[]));
        let err = format!("{:#}", for_image(&user("app"), Origin::Image, &image).unwrap_err());
        assert!(err.contains("not in the image's /etc/passwd (the image has none)"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();

        let (dir, image) = image_with("loop", &[("etc/passwd", "->passwd"), ("etc/group/x", "")], &[("etc", "/etc")]);
        assert_eq!(image_file(&image, "/etc/passwd"), None, "a symlink loop reads as no file");
        assert_eq!(image_file(&image, "/etc/group"), None, "so does a directory");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn owner(spec: &str, passwd: Option<&str>, group: Option<&str>) -> Result<Owner> {
        let origin = Origin::Owner { manifest: Path::new("app.toml"), entry: 2 };
        resolve_owner(&user(spec), origin, passwd, group)
    }

    fn owned(spec: &str) -> Owner {
        owner(spec, Some(PASSWD), Some(GROUP)).unwrap_or_else(|e| panic!("{spec}: {e:#}"))
    }

    #[test]
    fn an_owner_without_a_group_gets_its_primary_group_or_its_uid() {
        // Docker's COPY --chown (BuildKit): a name's passwd gid, an id's own number, no lookup
        // for an id.
        assert_eq!(owned("www"), Owner { uid: 33, gid: 33 });
        assert_eq!(owned("twin"), Owner { uid: 1000, gid: 50 }, "twin's passwd gid is 50");
        assert_eq!(owned("nobody"), Owner { uid: 65534, gid: 65534 });
        assert_eq!(owned("4242"), Owner { uid: 4242, gid: 4242 }, "no passwd entry needed");
        assert_eq!(owned("0"), Owner::ROOT);
        assert_eq!(owner("1000", None, None).unwrap(), Owner { uid: 1000, gid: 1000 }, "no files needed");
    }

    #[test]
    fn an_owner_with_a_group_gets_that_group() {
        assert_eq!(owned("www:staff"), Owner { uid: 33, gid: 50 });
        assert_eq!(owned("1000:50"), Owner { uid: 1000, gid: 50 });
        assert_eq!(owned("1000:users"), Owner { uid: 1000, gid: 100 });
        assert_eq!(owned("app:7"), Owner { uid: 1000, gid: 7 });
        assert_eq!(owned("www:root"), Owner { uid: 33, gid: 0 });
        assert_eq!(owner("12:34", None, None).unwrap(), Owner { uid: 12, gid: 34 });
    }

    #[test]
    fn an_owner_name_the_image_lacks_names_the_entry_and_the_fix() {
        let error = |spec: &str, passwd, group| format!("{:#}", owner(spec, passwd, group).unwrap_err());
        assert_eq!(
            error("ghost", Some(PASSWD), Some(GROUP)),
            "app.toml: [[files]] entry 2: `owner` \"ghost\": user `ghost` is not in the image's /etc/passwd; \
             write numeric ids such as owner = \"1000:1000\" in that [[files]] entry, or package an /etc/passwd \
             that lists `ghost`"
        );
        assert_eq!(
            error("app", None, None),
            "app.toml: [[files]] entry 2: `owner` \"app\": user `app` is not in the image's /etc/passwd (the \
             image has none); write numeric ids such as owner = \"1000:1000\" in that [[files]] entry, or package \
             an /etc/passwd that lists `app`"
        );
        assert_eq!(
            error("1000:ghosts", Some(PASSWD), Some(GROUP)),
            "app.toml: [[files]] entry 2: `owner` \"1000:ghosts\": group `ghosts` is not in the image's \
             /etc/group; write numeric ids such as owner = \"1000:1000\" in that [[files]] entry, or package an \
             /etc/group that lists `ghosts`"
        );
        assert!(error("www:staff", Some(PASSWD), None).contains("/etc/group (the image has none)"));
    }

    /// A staged image of the test ELF at /bin/app with the host files `layout` (as in
    /// [`image_with`]) packaged as `dsts`, handed to `check`.
    fn staged_with(name: &str, layout: &[(&str, &str)], dsts: &[(&str, &str)], check: impl FnOnce(&Staged)) {
        let dir = std::env::temp_dir().join(format!("uvm-cli-owner-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, content) in layout {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            match content.strip_prefix("->") {
                Some(target) => std::os::unix::fs::symlink(target, &path).unwrap(),
                None => std::fs::write(&path, content).unwrap(),
            }
        }
        let files: Vec<_> = dsts.iter().map(|(src, dst)| (dir.join(src), dst.to_string())).collect();
        let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../uvm-image/tests/fixtures/static.elf");
        let input = uvm_image::PackInput {
            app_binary: &app,
            app_guest_path: "/bin/app",
            files: &files,
            defaults: &[],
            config_toml: "",
        };
        check(&uvm_image::stage(&input).unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_files_are_read_from_the_image_being_built() {
        let layout = [
            ("etc/passwd", "->../usr/lib/passwd"),
            ("etc/group", "->/usr/lib/group"),
            ("usr/lib/passwd", "app:x:1000:1000::/:/bin/sh\n"),
            ("usr/lib/group", "staff:x:50:app\n"),
        ];
        staged_with("files", &layout, &[("etc", "/etc"), ("usr", "/usr")], |staged| {
            let passwd = staged_file(staged, "/etc/passwd").unwrap();
            assert_eq!(passwd.as_deref(), Some("app:x:1000:1000::/:/bin/sh\n"), "a relative symlink followed");
            let group = staged_file(staged, "/etc/group").unwrap();
            assert_eq!(group.as_deref(), Some("staff:x:50:app\n"), "an absolute symlink followed");
            let resolved = owner("app:staff", passwd.as_deref(), group.as_deref()).unwrap();
            assert_eq!(resolved, Owner { uid: 1000, gid: 50 });
        });
        staged_with("single", &[("passwd", "www:x:33:33::/:/bin/sh\n")], &[("passwd", "/etc/passwd")], |staged| {
            assert_eq!(staged_file(staged, "/etc/passwd").unwrap().as_deref(), Some("www:x:33:33::/:/bin/sh\n"));
            assert_eq!(staged_file(staged, "/etc/group").unwrap(), None, "no such file");
            assert_eq!(staged_file(staged, "/etc").unwrap(), None, "a directory");
        });
        staged_with("loop", &[("etc/passwd", "->passwd")], &[("etc", "/etc")], |staged| {
            assert_eq!(staged_file(staged, "/etc/passwd").unwrap(), None, "a symlink loop reads as no file");
        });
    }

    #[test]
    fn symlinked_paths_resolve_inside_the_image() {
        assert_eq!(normalise("/etc/../usr/./share//passwd"), "/usr/share/passwd");
        assert_eq!(normalise("/../../etc/passwd"), "/etc/passwd");
    }
}
