//! The committed fixtures: `fixtures/full` is a valid manifest using every key, and each file in
//! `fixtures/reject` breaks exactly one rule. Every rejection must name the manifest file, the
//! key and the value.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use uvm_manifest::{load, AppConfig, FileMapping, IdOrName, ManifestError, RunConfig, UserSpec, VmConfig};
use uvm_net::NetworkConfig;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn full_manifest_loads() {
    let dir = fixtures().join("full");
    let manifest = dir.join("app.toml");
    let app = load(&manifest).unwrap();
    let expected = AppConfig {
        manifest_path: manifest.clone(),
        name: "hello-full_1.0".into(),
        binary: dir.join("hello"),
        args: vec!["world".into(), "--verbose".into(), String::new()],
        env: BTreeMap::from([
            ("EMPTY".into(), String::new()),
            ("GREETING".into(), "hi".into()),
            ("WITH_EQUALS".into(), "a=b".into()),
        ]),
        workdir: "/srv/data".into(),
        stop_signal: Some(3),
        user: Some(UserSpec { user: IdOrName::Name("www".into()), group: Some(IdOrName::Id(100)) }),
        files: vec![
            FileMapping { src: dir.join("conf/app.conf"), dst: "/etc/app.conf".into(), owner: None, mode: Some(0o640) },
            FileMapping {
                src: dir.join("conf/app.d"),
                dst: "/etc/app.d".into(),
                owner: Some(UserSpec { user: IdOrName::Name("www".into()), group: Some(IdOrName::Id(50)) }),
                mode: None,
            },
        ],
        vm: VmConfig {
            memory_mib: 128,
            cpus: Some(2),
            tmpfs: vec!["/run".into(), "/var/cache/app".into()],
            read_only: true,
            hostname: Some("hello-1.internal".into()),
        },
        network: NetworkConfig::new(
            vec!["8080:80".parse().unwrap(), "127.0.0.1:5353:53/udp".parse().unwrap()],
            vec![
                "10.0.0.0/8:5432".parse().unwrap(),
                "10.0.2.2:6379".parse().unwrap(),
                "[2001:db8::/32]:443".parse().unwrap(),
            ],
        )
        .unwrap(),
    };
    assert_eq!(app, expected);
    assert_eq!(app.binary_name(), "hello");
    assert_eq!(app.binary_guest_path(), "/bin/hello");
    assert_eq!(app.input_paths(), vec![manifest, dir.join("hello"), dir.join("conf/app.conf"), dir.join("conf/app.d")]);

    let run = RunConfig::from_app(&app);
    assert_eq!(
        run,
        RunConfig {
            name: "hello-full_1.0".into(),
            binary_name: "hello".into(),
            guest_path: "/bin/hello".into(),
            args: app.args.clone(),
            env: app.env.clone(),
            workdir: "/srv/data".into(),
            memory_mib: 128,
            cpus: Some(2),
            ports: app.network.ports.clone(),
            egress: app.network.egress.rules.clone(),
            tmpfs: vec!["/run".into(), "/var/cache/app".into()],
            stop_signal: Some("SIGQUIT".into()),
            read_only: true,
            user: Some("www:100".into()),
            hostname: Some("hello-1.internal".into()),
        }
    );
    assert_eq!(run.network(), app.network);
    assert_eq!(RunConfig::from_toml(&run.to_toml()).unwrap(), run);
}

/// A rejection fixture's name, a test of the variant it must produce, and text its message must
/// contain besides the manifest path: the key, and the value where the message shows one.
type Case = (&'static str, fn(&ManifestError) -> bool, &'static [&'static str]);

/// One case per file in `fixtures/reject`.
fn expectations() -> Vec<Case> {
    use ManifestError as E;
    vec![
        ("syntax", |e| matches!(e, E::Syntax { .. }), &["line 2", "name = \"hello"]),
        ("unknown-key", |e| matches!(e, E::Syntax { .. }), &["line 4", "unknown field `colour`"]),
        ("missing-key", |e| matches!(e, E::Syntax { .. }), &["missing field `binary`", "[app]"]),
        ("wrong-type", |e| matches!(e, E::Syntax { .. }), &["line 6", "memory_mib = \"64\"", "invalid type"]),
        ("read-only-type", |e| matches!(e, E::Syntax { .. }), &["line 7", "read_only = \"yes\"", "invalid type"]),
        ("version", |e| matches!(e, E::UnsupportedVersion { version: 2, .. }), &["`version` = 2", "version = 1"]),
        ("name-length", |e| matches!(e, E::NameLength { len: 65, .. }), &["[app] `name`", "much-too-long"]),
        ("name-char", |e| matches!(e, E::NameChar { ch: ' ', .. }), &["[app] `name`", "\"my app\"", "\"my-app\""]),
        ("name-start", |e| matches!(e, E::NameStart { .. }), &["[app] `name`", "\".hidden\"", "\"hidden\""]),
        ("binary-empty", |e| matches!(e, E::EmptyPath { .. }), &["[app] `binary` must not be empty"]),
        (
            "binary-missing",
            |e| matches!(e, E::HostPathUnreadable { .. }),
            &["[app] `binary`", "reject/no-such-binary", "No such file"],
        ),
        (
            "binary-dir",
            |e| matches!(e, E::BinaryNotRegular { kind: "a directory", .. }),
            &["[app] `binary`", "full/conf is a directory"],
        ),
        ("binary-file-name", |e| matches!(e, E::BinaryFileName { .. }), &["[app] `binary`", "full/..", "argv[0]"]),
        ("args-nul", |e| matches!(e, E::Nul { .. }), &["[app] `args` item 2", "\"a\\0b\""]),
        ("env-key-empty", |e| matches!(e, E::EnvKeyEmpty { .. }), &["[app] `env`", "name must not be empty"]),
        ("env-key-equals", |e| matches!(e, E::EnvKeyEquals { .. }), &["[app] `env`", "\"A=B\""]),
        ("env-value-nul", |e| matches!(e, E::Nul { .. }), &["[app] `env`", "value of \"GREETING\"", "\"h\\0i\""]),
        (
            "workdir-relative",
            |e| matches!(e, E::GuestPathRelative { .. }),
            &["[app] `workdir`", "\"srv/data\"", "\"/srv/data\""],
        ),
        (
            "dst-relative",
            |e| matches!(e, E::GuestPathRelative { .. }),
            &["[[files]] entry 2: `dst`", "\"etc/app.conf\"", "write \"/etc/app.conf\""],
        ),
        (
            "dst-dotdot",
            |e| matches!(e, E::GuestPathDotDot { .. }),
            &["[[files]] entry 1: `dst`", "\"/etc/../app.conf\""],
        ),
        ("dst-root", |e| matches!(e, E::DstRoot { .. }), &["[[files]] entry 1: `dst`", "\"/.\""]),
        ("stop-signal", |e| matches!(e, E::StopSignal { .. }), &["[app] `stop_signal`", "\"SIGSTOP\"", "SIGQUIT"]),
        ("hostname", |e| matches!(e, E::Hostname { .. }), &["[vm] `hostname`", "\"web_1\"", "api-1.internal"]),
        ("user", |e| matches!(e, E::User { .. }), &["[app] `user`", "\"www:\"", "the group is empty", "\"www:www\""]),
        (
            "owner",
            |e| matches!(e, E::User { .. }),
            &["[[files]] entry 2: `owner`", "\"app:staff:x\"", "contains ':'", "\"1000:1000\""],
        ),
        (
            "mode",
            |e| matches!(e, E::Mode { .. }),
            &["[[files]] entry 2: `mode`", "\"u=rwx,go=rx\"", "symbolic", "\"755\"", "\"0644\""],
        ),
        (
            "tmpfs-overlap",
            |e| matches!(e, E::TmpfsOverlap { .. }),
            &["[vm] `tmpfs` item 2", "\"/etc/app\"", "\"/etc/app/app.conf\""],
        ),
        (
            "dst-reserved",
            |e| matches!(e, E::DstReserved { dir: "/tmp", .. }),
            &["[[files]] entry 1: `dst`", "\"/tmp/app.conf\""],
        ),
        (
            "dst-long-name",
            |e| matches!(e, E::GuestPathComponentTooLong { .. }),
            &["[[files]] entry 1: `dst`", "\"xxxxxxxx"],
        ),
        (
            "dst-duplicate",
            |e| matches!(e, E::DstDuplicate { first_entry: 1, .. }),
            &["[[files]] entry 2: `dst`", "\"/etc/app.conf\"", "entry 1"],
        ),
        (
            "dst-overlap",
            |e| matches!(e, E::DstOverlap { other_entry: 1, .. }),
            &["[[files]] entry 2: `dst`", "\"/etc/app.d\"", "\"/etc/app.d/app.conf\""],
        ),
        (
            "dst-binary",
            |e| matches!(e, E::DstBinary { .. }),
            &["[[files]] entry 1: `dst`", "\"/bin\"", "\"/bin/hello\""],
        ),
        ("src-empty", |e| matches!(e, E::EmptyPath { .. }), &["[[files]] entry 1: `src` must not be empty"]),
        (
            "src-missing",
            |e| matches!(e, E::HostPathUnreadable { .. }),
            &["[[files]] entry 1: `src`", "full/conf/missing.conf", "No such file"],
        ),
        (
            "src-special",
            |e| matches!(e, E::SrcNotFileOrDir { kind: "a character device", .. }),
            &["[[files]] entry 1: `src`", "/dev/null"],
        ),
        (
            "memory",
            |e| matches!(e, E::MemoryOutOfRange { value: 8, .. }),
            &["[vm] `memory_mib`", "got 8", "between 16 and 65536"],
        ),
        ("cpus", |e| matches!(e, E::CpusOutOfRange { value: 0, .. }), &["[vm] `cpus`", "got 0", "between 1 and 64"]),
        (
            "port-range",
            |e| matches!(e, E::PortOutOfRange { value: 70000, .. }),
            &["[[ports]] entry 2: `host`", "got 70000", "from 1 to 65535"],
        ),
        ("port-proto", |e| matches!(e, E::PortProto { .. }), &["[[ports]] entry 1: `proto`", "\"sctp\"", "\"udp\""]),
        (
            "port-host-ip",
            |e| matches!(e, E::PortHostIp { .. }),
            &["[[ports]] entry 1: `host_ip`", "\"[::1]\"", "host_ip = \"::1\""],
        ),
        (
            "port-clash",
            |e| matches!(e, E::PortClash { other_entry: 1, .. }),
            &["[[ports]] entry 2 (`8080:81`)", "[[ports]] entry 1 (`8080:80`)", "host port 8080/tcp"],
        ),
        (
            "egress",
            |e| matches!(e, E::Network { .. }),
            &["[network] `egress` item 2", "`10.0.0.1/8:5432`", "write `10.0.0.0/8:5432`"],
        ),
    ]
}

#[test]
fn every_rejection_names_file_key_and_value() {
    let dir = fixtures().join("reject");
    for (name, is_expected_variant, needles) in expectations() {
        let path = dir.join(format!("{name}.toml"));
        let err = match load(&path) {
            Ok(app) => panic!("{name}: accepted: {app:?}"),
            Err(err) => err,
        };
        let message = err.to_string();
        assert!(is_expected_variant(&err), "{name}: unexpected variant {err:?}\n{message}");
        let shown = path.display().to_string();
        assert!(message.starts_with(&format!("{shown}: ")), "{name}: message does not start with the path:\n{message}");
        for needle in needles {
            assert!(message.contains(needle), "{name}: message lacks {needle:?}:\n{message}");
        }
    }
}

#[test]
fn every_rejection_fixture_is_checked() {
    let mut on_disk: Vec<String> = fs::read_dir(fixtures().join("reject"))
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut checked: Vec<String> = expectations().into_iter().map(|(name, _, _)| name.to_owned()).collect();
    checked.sort();
    assert_eq!(on_disk, checked);
}

/// A unique scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("uvm-manifest-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn unreadable_and_non_utf8_manifests() {
    let scratch = Scratch::new("read");
    let missing = scratch.0.join("missing.toml");
    let err = load(&missing).unwrap_err();
    assert!(matches!(err, ManifestError::Read { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!("cannot read manifest {}: ", missing.display())), "{err}");

    let latin1 = scratch.0.join("latin1.toml");
    fs::write(&latin1, b"[app]\nname = \"caf\xe9\"\n").unwrap();
    let err = load(&latin1).unwrap_err();
    assert!(matches!(err, ManifestError::NotUtf8 { offset: 17, .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!("{}: ", latin1.display())), "{err}");
}

#[test]
fn print_messages() {
    // Not an assertion: `cargo test -- --nocapture print_messages` shows every message, to
    // review their wording.
    let dir = fixtures().join("reject");
    for (name, _, _) in expectations() {
        if let Err(err) = load(&dir.join(format!("{name}.toml"))) {
            println!("--- {name}\n{err}");
        }
    }
}

/// `uvm run PROGRAM`'s manifest takes any path the program may have, quotes, backslashes and
/// control characters included, and checks the name as a manifest's.
#[test]
fn a_programs_manifest_takes_any_path() {
    let dir = std::env::temp_dir().join(format!("uvm-manifest-{}-program", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let binary = dir.join("we\"ird\\na\tme\nx");
    fs::write(&binary, b"\x7fELF").unwrap();
    let app = uvm_manifest::program_manifest("weird", &binary, &dir.join("weird.toml")).unwrap();
    assert_eq!((app.name.as_str(), app.binary.as_path()), ("weird", binary.as_path()));
    assert!(uvm_manifest::program_manifest("-bad", &binary, &dir.join("x.toml")).is_err());
    fs::remove_dir_all(dir).unwrap();
}
