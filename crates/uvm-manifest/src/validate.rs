//! The manifest validator: turns a [`RawManifest`] into an [`AppConfig`].
//!
//! It applies the value rules of [`crate::rules`] to every key, resolves host paths against the
//! manifest's directory and checks that they exist and are of the right kind, checks the
//! `[[files]]` destinations against each other and against the binary's place in the VM, and
//! checks `[[ports]]` and `[network]` ([`crate::network`]). It stops at the first rejection.

use std::collections::BTreeMap;
use std::fs::{self, FileType};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::error::ManifestError;
use crate::network::check_network;
use crate::raw::{RawFile, RawManifest};
use crate::rules::{
    binary_guest_path, check_cpu_count, check_dst, check_env_var, check_hostname, check_memory, check_mode, check_name,
    check_no_nul, check_stop_signal, check_tmpfs, is_same_or_inside, normalise_guest_path,
};
use crate::user::check_user;
use crate::{AppConfig, FileMapping, VmConfig, DEFAULT_WORKDIR, FORMAT_VERSION, MEMORY_MIB_DEFAULT};

/// Validates `raw`, read from `manifest_path`. Relative host paths are resolved against the
/// manifest's directory.
pub(crate) fn validate(raw: RawManifest, manifest_path: &Path) -> Result<AppConfig, ManifestError> {
    let manifest = Manifest { path: manifest_path };

    if let Some(version) = raw.version {
        if version != i64::from(FORMAT_VERSION) {
            return Err(ManifestError::UnsupportedVersion { path: manifest_path.to_owned(), version });
        }
    }

    let app = raw.app;
    check_name(&app.name, &manifest.at("[app] `name`"))?;

    let binary_at = manifest.at("[app] `binary`");
    let binary = manifest.resolve(&app.binary, &binary_at)?;
    let binary_name = binary_file_name(&binary, &binary_at)?;
    check_binary_kind(&binary, &binary_at)?;

    for (i, arg) in app.args.iter().enumerate() {
        check_no_nul(arg, &manifest.at(&format!("[app] `args` item {}", i + 1)))?;
    }
    for (key, value) in &app.env {
        check_env_var(key, value, &manifest.at("[app] `env`"))?;
    }
    let workdir = match &app.workdir {
        Some(workdir) => normalise_guest_path(workdir, &manifest.at("[app] `workdir`"))?,
        None => DEFAULT_WORKDIR.to_owned(),
    };

    let stop_signal =
        app.stop_signal.as_deref().map(|v| check_stop_signal(v, &manifest.at("[app] `stop_signal`"))).transpose()?;
    let user = app.user.as_deref().map(|v| check_user(v, &manifest.at("[app] `user`"))).transpose()?;

    let files = check_files(&manifest, &raw.files, &binary_guest_path(&binary_name))?;

    let memory_mib = match raw.vm.memory_mib {
        Some(v) => check_memory(v, &manifest.at("[vm] `memory_mib`"))?,
        None => MEMORY_MIB_DEFAULT,
    };
    let cpus = raw.vm.cpus.map(|v| check_cpu_count(v, &manifest.at("[vm] `cpus`"))).transpose()?;
    let taken: Vec<&str> = files.iter().map(|f| f.dst.as_str()).collect();
    let tmpfs_at = |i: usize| manifest.at(&format!("[vm] `tmpfs` item {i}"));
    let tmpfs = check_tmpfs(raw.vm.tmpfs.as_deref().unwrap_or_default(), &taken, &tmpfs_at)?;
    let network = check_network(&raw.ports, &raw.network, &|key| manifest.at(key))?;
    let hostname = raw.vm.hostname.map(|name| check_hostname(&name, &manifest.at("[vm] `hostname`")).map(|()| name));
    let hostname = hostname.transpose()?;

    Ok(AppConfig {
        manifest_path: manifest_path.to_owned(),
        name: app.name,
        binary,
        args: app.args,
        env: app.env,
        workdir,
        stop_signal,
        user,
        files,
        vm: VmConfig { memory_mib, cpus, tmpfs, read_only: raw.vm.read_only.unwrap_or(false), hostname },
        network,
    })
}

/// The manifest being validated: its path, for error messages and for resolving host paths.
struct Manifest<'a> {
    path: &'a Path,
}

impl Manifest<'_> {
    /// `"<manifest path>: <key>"`, the `at` of an error.
    fn at(&self, key: &str) -> String {
        format!("{}: {key}", self.path.display())
    }

    /// Resolves host path `value` (of the key described by `at`): an absolute path is kept, a
    /// relative one is joined to the manifest's directory. Nothing is looked up here.
    fn resolve(&self, value: &str, at: &str) -> Result<PathBuf, ManifestError> {
        if value.is_empty() {
            return Err(ManifestError::EmptyPath { at: at.to_owned() });
        }
        check_no_nul(value, at)?;
        let value = Path::new(value);
        if value.is_absolute() {
            return Ok(value.to_owned());
        }
        Ok(match self.path.parent() {
            Some(dir) => dir.join(value),
            None => value.to_owned(),
        })
    }
}

/// The binary's file name, which becomes `argv[0]` and its name in the VM's /bin.
fn binary_file_name(binary: &Path, at: &str) -> Result<String, ManifestError> {
    binary
        .file_name()
        .and_then(|name| name.to_str())
        .map(str::to_owned)
        .ok_or_else(|| ManifestError::BinaryFileName { at: at.to_owned(), resolved: binary.to_owned() })
}

/// `binary` must exist and be a regular file (after following symlinks). Whether it is a
/// static x86-64 ELF is the image builder's check.
fn check_binary_kind(binary: &Path, at: &str) -> Result<(), ManifestError> {
    let file_type = file_type(binary, at)?;
    if file_type.is_file() {
        return Ok(());
    }
    Err(ManifestError::BinaryNotRegular { at: at.to_owned(), resolved: binary.to_owned(), kind: describe(file_type) })
}

/// Validates every `[[files]]` entry, in order: `src` resolved and present, `dst` a valid
/// destination that neither repeats nor nests with an earlier one nor with `binary_path`,
/// `owner`, when given, a user spec (`USER[:GROUP]`, as `COPY --chown` takes it), and `mode`,
/// when given, octal permission bits (as `COPY --chmod` takes them).
fn check_files(manifest: &Manifest, raw: &[RawFile], binary_path: &str) -> Result<Vec<FileMapping>, ManifestError> {
    let mut files: Vec<FileMapping> = Vec::with_capacity(raw.len());
    // Destination -> 1-based entry number, for duplicate reports.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, entry) in raw.iter().enumerate() {
        let number = i + 1;
        let src_at = manifest.at(&format!("[[files]] entry {number}: `src`"));
        let dst_at = manifest.at(&format!("[[files]] entry {number}: `dst`"));

        let dst = check_dst(&entry.dst, &dst_at)?;
        if is_same_or_inside(&dst, binary_path) || is_same_or_inside(binary_path, &dst) {
            return Err(ManifestError::DstBinary { at: dst_at, value: dst, binary_path: binary_path.to_owned() });
        }
        if let Some(&first_entry) = seen.get(&dst) {
            return Err(ManifestError::DstDuplicate { at: dst_at, value: dst, first_entry });
        }
        if let Some((other_entry, other)) = seen
            .iter()
            .find(|(other, _)| is_same_or_inside(&dst, other) || is_same_or_inside(other, &dst))
            .map(|(other, &n)| (n, other.clone()))
        {
            return Err(ManifestError::DstOverlap { at: dst_at, value: dst, other, other_entry });
        }

        let src = manifest.resolve(&entry.src, &src_at)?;
        let file_type = file_type(&src, &src_at)?;
        if !file_type.is_file() && !file_type.is_dir() {
            return Err(ManifestError::SrcNotFileOrDir { at: src_at, resolved: src, kind: describe(file_type) });
        }

        let owner_at = manifest.at(&format!("[[files]] entry {number}: `owner`"));
        let owner = entry.owner.as_deref().map(|value| check_user(value, &owner_at)).transpose()?;
        let mode_at = manifest.at(&format!("[[files]] entry {number}: `mode`"));
        let mode = entry.mode.as_deref().map(|value| check_mode(value, &mode_at)).transpose()?;

        seen.insert(dst.clone(), number);
        files.push(FileMapping { src, dst, owner, mode });
    }
    Ok(files)
}

/// The type of the file at `path`, following symlinks.
fn file_type(path: &Path, at: &str) -> Result<FileType, ManifestError> {
    fs::metadata(path).map(|m| m.file_type()).map_err(|error| ManifestError::HostPathUnreadable {
        at: at.to_owned(),
        resolved: path.to_owned(),
        error,
    })
}

/// "a directory", "a FIFO", ...: what a file is, for messages.
fn describe(file_type: FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_file() {
        "a regular file"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::parse;

    /// A unique scratch directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(test: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("uvm-manifest-unit-{}-{test}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn file(&self, name: &str) -> PathBuf {
            let path = self.0.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, name).unwrap();
            path
        }

        fn manifest(&self) -> PathBuf {
            self.0.join("app.toml")
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn minimal_manifest_gets_defaults() {
        let s = Scratch::new("minimal");
        let binary = s.file("hello");
        let app = parse("[app]\nname = \"hello\"\nbinary = \"hello\"\n", &s.manifest()).unwrap();
        assert_eq!(app.binary, binary);
        assert!(app.args.is_empty() && app.env.is_empty() && app.files.is_empty());
        assert_eq!(app.workdir, "/");
        assert_eq!(app.vm.memory_mib, 64);
        assert_eq!(app.vm.cpus, None, "the host's CPU count, decided at run time");
        assert_eq!(app.user, None, "root");
        assert_eq!(app.input_paths(), vec![s.manifest(), binary]);
    }

    #[test]
    fn absolute_paths_and_symlinks() {
        let s = Scratch::new("absolute");
        let real = s.file("real/busybox");
        symlink(&real, s.0.join("sh")).unwrap();
        s.file("data/dir/a.txt");
        symlink(s.0.join("data/dir"), s.0.join("dirlink")).unwrap();
        let text = format!(
            "[app]\nname = \"sh\"\nbinary = {:?}\n[[files]]\nsrc = {:?}\ndst = \"/data\"\n[[files]]\nsrc = \"dirlink\"\ndst = \"/bin/other\"\n",
            s.0.join("sh").to_str().unwrap(),
            s.0.join("data/dir/a.txt").to_str().unwrap(),
        );
        // The manifest file itself need not exist for parse().
        let app = parse(&text, &s.manifest()).unwrap();
        // argv[0] is the name the manifest gives, not the symlink's target.
        assert_eq!(app.binary_name(), "sh");
        assert_eq!(app.binary_guest_path(), "/bin/sh");
        assert_eq!(app.files[0].src, s.0.join("data/dir/a.txt"));
        assert_eq!(app.files[1].src, s.0.join("dirlink"));
    }

    #[test]
    fn binary_symlink_to_directory_is_rejected() {
        let s = Scratch::new("dirlink");
        fs::create_dir(s.0.join("dir")).unwrap();
        symlink(s.0.join("dir"), s.0.join("link")).unwrap();
        let err = parse("[app]\nname = \"x\"\nbinary = \"link\"\n", &s.manifest()).unwrap_err();
        assert!(matches!(err, ManifestError::BinaryNotRegular { kind: "a directory", .. }), "{err:?}");
    }

    #[test]
    fn destinations_nest_with_nothing() {
        let s = Scratch::new("nest");
        s.file("hello");
        s.file("a.conf");
        let with_dsts = |dsts: &[&str]| {
            let mut text = String::from("[app]\nname = \"x\"\nbinary = \"hello\"\n");
            for dst in dsts {
                text.push_str(&format!("[[files]]\nsrc = \"a.conf\"\ndst = {dst:?}\n"));
            }
            parse(&text, &s.manifest())
        };
        let app = with_dsts(&["/etc/a.conf", "/etc/b.conf", "/etc.d", "/bin/hello2", "/usr/bin/hello"]).unwrap();
        assert_eq!(app.files.len(), 5);
        assert!(matches!(with_dsts(&["/bin/hello"]), Err(ManifestError::DstBinary { .. })));
        assert!(matches!(with_dsts(&["/bin/hello/x"]), Err(ManifestError::DstBinary { .. })));
        assert!(matches!(with_dsts(&["/bin/"]), Err(ManifestError::DstBinary { .. })));
        assert!(matches!(with_dsts(&["/a/b", "/a"]), Err(ManifestError::DstOverlap { other_entry: 1, .. })));
        assert!(matches!(with_dsts(&["/a", "/b", "/a/./b/c"]), Err(ManifestError::DstOverlap { other_entry: 1, .. })));
        assert!(matches!(with_dsts(&["/a", "/b", "//b/"]), Err(ManifestError::DstDuplicate { first_entry: 2, .. })));
    }

    #[test]
    fn dst_and_workdir_are_normalised() {
        let s = Scratch::new("normalise");
        s.file("hello");
        s.file("a.conf");
        let text = "[app]\nname = \"x\"\nbinary = \"hello\"\nworkdir = \"//srv/./x/\"\n[[files]]\nsrc = \"./a.conf\"\ndst = \"/etc/./app//a.conf/\"\n";
        let app = parse(text, &s.manifest()).unwrap();
        assert_eq!(app.workdir, "/srv/x");
        assert_eq!(app.files[0].dst, "/etc/app/a.conf");
        // workdir may be anywhere, /tmp included.
        let text = "[app]\nname = \"x\"\nbinary = \"hello\"\nworkdir = \"/tmp\"\n";
        assert_eq!(parse(text, &s.manifest()).unwrap().workdir, "/tmp");
    }

    #[test]
    fn manifest_without_directory_resolves_against_the_current_directory() {
        let manifest = Manifest { path: Path::new("app.toml") };
        assert_eq!(manifest.resolve("hello", "at").unwrap(), PathBuf::from("hello"));
        let manifest = Manifest { path: Path::new("manifests/app.toml") };
        assert_eq!(manifest.resolve("bin/hello", "at").unwrap(), PathBuf::from("manifests/bin/hello"));
        assert_eq!(manifest.resolve("/opt/hello", "at").unwrap(), PathBuf::from("/opt/hello"));
        assert!(matches!(manifest.resolve("a\0", "at"), Err(ManifestError::Nul { .. })));
    }

    #[test]
    fn an_owner_takes_every_form_of_copy_chown() {
        use crate::{IdOrName, UserSpec};
        let s = Scratch::new("owner");
        s.file("hello");
        s.file("a.conf");
        let with_owner = |owner: &str| {
            let text = format!(
                "[app]\nname = \"x\"\nbinary = \"hello\"\n[[files]]\nsrc = \"a.conf\"\ndst = \"/a\"\n\
                 [[files]]\nsrc = \"a.conf\"\ndst = \"/b\"\nowner = {owner:?}\n"
            );
            parse(&text, &s.manifest())
        };
        let (id, name) = (IdOrName::Id, |n: &str| IdOrName::Name(n.to_owned()));
        for (owner, user, group) in [
            ("app", name("app"), None),
            ("app:staff", name("app"), Some(name("staff"))),
            ("1000", id(1000), None),
            ("1000:50", id(1000), Some(id(50))),
            ("1000:app", id(1000), Some(name("app"))),
            ("app:50", name("app"), Some(id(50))),
            ("0", id(0), None),
            ("4294967294:4294967294", id(4294967294), Some(id(4294967294))),
        ] {
            let app = with_owner(owner).unwrap_or_else(|e| panic!("{owner}: {e}"));
            assert_eq!(app.files[0].owner, None, "no `owner`: root's");
            assert_eq!(app.files[1].owner, Some(UserSpec { user, group }), "{owner}");
        }
        for (owner, why) in [
            ("", "the user is empty"),
            (":50", "the user is empty"),
            ("app:", "the group is empty"),
            ("a:b:c", "the group name \"b:c\" contains ':' (the spec has more than one)"),
            ("my app", "the user name \"my app\" contains whitespace (' ')"),
            ("4294967295", "user id 4294967295 is (uid_t)-1, which Linux reserves"),
            ("1:4294967296", "group id 4294967296 is more than 4294967294 (ids are 32-bit)"),
        ] {
            let err = with_owner(owner).expect_err(owner);
            assert!(matches!(err, ManifestError::User { .. }), "{owner}: {err:?}");
            let expected = format!(
                "{}: [[files]] entry 2: `owner` is {owner:?}, which is not a user spec: {why}; write USER or \
                 USER:GROUP, each a name (as in the image's /etc/passwd and /etc/group) or a decimal id, e.g. \
                 \"1000\", \"1000:1000\", \"www\" or \"www:www\"",
                s.manifest().display()
            );
            assert_eq!(err.to_string(), expected);
        }
        let err = parse(
            "[app]\nname = \"x\"\nbinary = \"hello\"\n[[files]]\nsrc = \"a.conf\"\ndst = \"/a\"\nowner = 1000\n",
            &s.manifest(),
        )
        .expect_err("a number, not a string");
        assert!(err.to_string().contains("invalid type: integer `1000`, expected a string"), "{err}");
    }

    #[test]
    fn a_mode_takes_copy_chmods_octal_form() {
        let s = Scratch::new("mode");
        s.file("hello");
        s.file("a.conf");
        let with_mode = |mode: &str| {
            let text = format!(
                "[app]\nname = \"x\"\nbinary = \"hello\"\n[[files]]\nsrc = \"a.conf\"\ndst = \"/a\"\n\
                 [[files]]\nsrc = \"a.conf\"\ndst = \"/b\"\nowner = \"1000\"\nmode = {mode:?}\n"
            );
            parse(&text, &s.manifest())
        };
        for (mode, bits) in [("0644", 0o644), ("755", 0o755), ("4755", 0o4755), ("07777", 0o7777), ("0", 0)] {
            let app = with_mode(mode).unwrap_or_else(|e| panic!("{mode}: {e}"));
            assert_eq!(app.files[0].mode, None, "no `mode`: the host's");
            assert_eq!(app.files[1].mode, Some(bits), "{mode}");
            assert!(app.files[1].owner.is_some(), "{mode}: with an owner");
        }
        for (mode, why) in [
            ("", "it is empty"),
            ("10000", "it is more than 07777 (permission bits, setuid, setgid and sticky)"),
            ("0o644", "'o' is not an octal digit"),
            (
                "u=rwx,go=rx",
                "it is a symbolic mode, which uvm does not apply (\"u=rwx,go=rx\" is \"755\", \"u=rw,go=r\" is \
                 \"644\")",
            ),
        ] {
            let err = with_mode(mode).expect_err(mode);
            assert!(matches!(err, ManifestError::Mode { .. }), "{mode}: {err:?}");
            let expected = format!(
                "{}: [[files]] entry 2: `mode` is {mode:?}, which is not an octal mode: {why}; write the permission \
                 bits as octal digits, as COPY --chmod takes them, e.g. \"0644\", \"755\" or \"4755\" (at most \
                 \"07777\")",
                s.manifest().display()
            );
            assert_eq!(err.to_string(), expected);
        }
        let err = parse(
            "[app]\nname = \"x\"\nbinary = \"hello\"\n[[files]]\nsrc = \"a.conf\"\ndst = \"/a\"\nmode = 0o644\n",
            &s.manifest(),
        )
        .expect_err("a number, not a string");
        assert!(err.to_string().contains("invalid type: integer `420`, expected a string"), "{err}");
    }

    #[test]
    fn version_one_is_accepted() {
        let s = Scratch::new("version");
        s.file("hello");
        parse("version = 1\n[app]\nname = \"x\"\nbinary = \"hello\"\n", &s.manifest()).unwrap();
        let err = parse("version = 0\n[app]\nname = \"x\"\nbinary = \"hello\"\n", &s.manifest()).unwrap_err();
        assert!(matches!(err, ManifestError::UnsupportedVersion { version: 0, .. }), "{err:?}");
    }
}
