//! Network settings from the host's side, without networking in the VM: bad `-p/--publish`
//! and `--egress` values and a bad `[[ports]]` entry are refused with exit status 125 and a
//! message naming the flag or key, the value and the fix; a port clashing with the image's is
//! refused naming both; `uvm inspect` lists the published ports and egress rules; `uvm build`
//! adds `/etc/hosts`, `/etc/resolv.conf` and `/etc/nsswitch.conf` unless the app packages its
//! own.

mod support;

use std::path::{Path, PathBuf};

use support::apps::Toolchain;
use support::cases::{self, contains};
use support::guest_etc::{self, RESOLV_CONF};
use support::process::show;
use support::vm::{self, expect_code, uvm};

/// A fresh work directory for `test`.
fn work_dir(test: &str) -> PathBuf {
    let dir = vm::work_dir(test);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("rm -r {}: {e}", dir.display()));
    }
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    dir
}

/// Asserts that stderr holds every one of `needles`.
fn assert_stderr_has(test: &str, stderr: &[u8], needles: &[&str]) {
    for needle in needles {
        assert!(contains(stderr, needle.as_bytes()), "{test}: stderr lacks {needle:?}: {}", show(stderr));
    }
}

/// The hello app staged and built, with `network_toml` appended to a copy of its manifest:
/// the manifest's path and the image's.
fn hello_image_with(test: &str, network_toml: &str) -> Option<(PathBuf, PathBuf)> {
    let staged = vm::stage_case(test, &cases::hello(Toolchain::Glibc))?;
    let manifest = staged.dir.join("hello_net.toml");
    let text = std::fs::read_to_string(&staged.manifest_path).expect("read the staged manifest");
    let text = text.replace("name = \"hello\"", "name = \"hello-net\"");
    std::fs::write(&manifest, format!("{text}\n{network_toml}")).expect("write the manifest");
    let out = expect_code(test, uvm([Path::new("build"), &manifest]), 0);
    let image = staged.dir.join("hello-net.uvm");
    assert!(image.is_file(), "{test}: `uvm build` did not write {}; stdout {}", image.display(), show(&out.stdout));
    Some((manifest, image))
}

#[test]
fn a_bad_publish_flag_is_refused_before_anything_else() {
    let test = "a_bad_publish_flag_is_refused_before_anything_else";
    // The image does not exist: the flag is checked first.
    let missing = work_dir(test).join("missing.uvm");
    for (flag, value, needles) in [
        ("-p", "8080", &["`-p/--publish 8080`", "give both the host port and the guest port", "`8080:80`"][..]),
        ("--publish", "8080:0", &["`-p/--publish 8080:0`", "the guest port 0 is out of range"][..]),
        ("-p", "::1:8080:80", &["`[::1]:8080:80`"][..]),
    ] {
        let out = expect_code(test, uvm(["run".as_ref(), flag.as_ref(), value.as_ref(), missing.as_os_str()]), 125);
        assert_stderr_has(test, &out.stderr, needles);
        assert!(!contains(&out.stderr, b"missing.uvm"), "{test}: the flag comes first; stderr {}", show(&out.stderr));
    }
}

#[test]
fn a_bad_egress_flag_is_refused_with_the_network_meant() {
    let test = "a_bad_egress_flag_is_refused_with_the_network_meant";
    let missing = work_dir(test).join("missing.uvm");
    let args = ["run".as_ref(), "--egress".as_ref(), "10.0.0.1/8:5432".as_ref(), missing.as_os_str()];
    let out = expect_code(test, uvm(args), 125);
    assert_stderr_has(test, &out.stderr, &["`--egress 10.0.0.1/8:5432`", "host bits set", "write `10.0.0.0/8:5432`"]);
    let out = expect_code(
        test,
        uvm(["run".as_ref(), "--egress".as_ref(), "2001:db8::/32".as_ref(), missing.as_os_str()]),
        125,
    );
    assert_stderr_has(test, &out.stderr, &["`--egress 2001:db8::/32`", "in brackets: `[2001:db8::/32]`"]);
}

#[test]
fn a_bad_ports_entry_in_a_manifest_is_refused() {
    let test = "a_bad_ports_entry_in_a_manifest_is_refused";
    let dir = work_dir(test);
    // The manifest is checked before the binary is read as an ELF: any regular file will do.
    std::fs::write(dir.join("app"), b"not run").expect("write the binary");
    let manifest = dir.join("app.toml");
    let write = |ports: &str| {
        let text = format!("[app]\nname = \"app\"\nbinary = \"app\"\n\n[[ports]]\nhost = 8080\nguest = 80\n\n{ports}");
        std::fs::write(&manifest, text).expect("write the manifest");
    };

    write("[[ports]]\nhost = 0\nguest = 81\n");
    for command in ["build", "run"] {
        let out = expect_code(test, uvm([command.as_ref(), manifest.as_os_str()]), 125);
        assert_stderr_has(test, &out.stderr, &["app.toml: [[ports]] entry 2: `host`", "got 0", "from 1 to 65535"]);
    }

    write("[[ports]]\nhost = 8081\nguest = 80\n");
    let out = expect_code(test, uvm(["build".as_ref(), manifest.as_os_str()]), 125);
    assert_stderr_has(
        test,
        &out.stderr,
        &["[[ports]] entry 2 (`8081:80`) and [[ports]] entry 1 (`8080:80`)", "guest port 80/tcp"],
    );

    write("[[ports]]\nhost = 5353\nguest = 53\nproto = \"UDP\"\n");
    let out = expect_code(test, uvm(["build".as_ref(), manifest.as_os_str()]), 125);
    assert_stderr_has(test, &out.stderr, &["[[ports]] entry 2: `proto`", "\"UDP\"", "proto = \"udp\""]);

    write("[network]\negress = [\"any\", \"10.0.0.0/33\"]\n");
    let out = expect_code(test, uvm(["build".as_ref(), manifest.as_os_str()]), 125);
    assert_stderr_has(test, &out.stderr, &["[network] `egress` item 2", "`10.0.0.0/33`", "from 0 to 32"]);
}

#[test]
fn inspect_lists_published_ports_and_egress_rules() {
    let test = "inspect_lists_published_ports_and_egress_rules";
    let network = "[[ports]]\nhost = 8080\nguest = 80\n\n[[ports]]\nhost = 5353\nguest = 53\nproto = \"udp\"\nhost_ip = \"::1\"\n\n[network]\negress = [\"10.0.0.0/8:5432\", \"host:6379\"]\n";
    let Some((_, image)) = hello_image_with(test, network) else { return };
    let out = expect_code(test, uvm(["inspect".as_ref(), image.as_os_str()]), 0);
    for needle in [
        "port:   host 0.0.0.0:8080 -> guest 80/tcp  (-p 8080:80)",
        "port:   host [::1]:5353 -> guest 53/udp  (-p [::1]:5353:53/udp)",
        "egress: 10.0.0.0/8:5432",
        "egress: 10.0.2.2:6379",
    ] {
        assert!(contains(&out.stdout, needle.as_bytes()), "{test}: stdout lacks {needle:?}: {}", show(&out.stdout));
    }

    let Some(staged) = vm::stage_case(&format!("{test}_plain"), &cases::hello(Toolchain::Glibc)) else { return };
    let plain = vm::build(test, &staged);
    let out = expect_code(test, uvm(["inspect".as_ref(), plain.as_os_str()]), 0);
    for needle in ["ports:  none published", "egress: none"] {
        assert!(contains(&out.stdout, needle.as_bytes()), "{test}: stdout lacks {needle:?}: {}", show(&out.stdout));
    }
}

/// A static test program that needs no toolchain: the image builder's ELF fixture.
fn static_elf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../uvm-image/tests/fixtures/static.elf")
}

/// Builds a manifest for [`static_elf`] with `files_toml` appended, in a fresh work directory
/// where `host_files` (name, content) are written first; returns the image.
fn build_static(test: &str, files_toml: &str, host_files: &[(&str, &[u8])]) -> PathBuf {
    let dir = work_dir(test);
    for (name, content) in host_files {
        std::fs::write(dir.join(name), content).unwrap_or_else(|e| panic!("write {name}: {e}"));
    }
    let manifest = dir.join("app.toml");
    let binary = static_elf();
    let text = format!("[app]\nname = \"app\"\nbinary = {:?}\n\n{files_toml}", binary.display().to_string());
    std::fs::write(&manifest, text).expect("write the manifest");
    expect_code(test, uvm([Path::new("build"), &manifest]), 0);
    dir.join("app.uvm")
}

/// The bytes of the regular file at `path` in `image`, if there is one.
fn image_file(image: &Path, path: &str) -> Option<Vec<u8>> {
    let image = uvm_image::Image::open(image).expect("open the image");
    let (_, entry) = image.lookup(path)?;
    (uvm_abi::image::EntryKind::from_raw(entry.kind) == Some(uvm_abi::image::EntryKind::File))
        .then(|| image.data(&entry).to_vec())
}

#[test]
fn build_adds_the_network_files_under_etc() {
    let test = "build_adds_the_network_files_under_etc";
    let image = build_static(test, "", &[]);
    for (path, content) in guest_etc::FILES {
        let got = image_file(&image, path).unwrap_or_else(|| panic!("{test}: {path} is not a file in the image"));
        assert_eq!(String::from_utf8_lossy(&got), content, "{test}: {path}");
    }
    let out = expect_code(test, uvm(["inspect".as_ref(), image.as_os_str()]), 0);
    for (path, content) in guest_etc::FILES {
        let line = format!("file  644 {:>10}  {path}\n", content.len());
        assert!(contains(&out.stdout, line.as_bytes()), "{test}: stdout lacks {line:?}: {}", show(&out.stdout));
    }
}

#[test]
fn a_packaged_etc_hosts_wins_over_the_generated_one() {
    let test = "a_packaged_etc_hosts_wins_over_the_generated_one";
    let files = "[[files]]\nsrc = \"my-hosts\"\ndst = \"/etc/hosts\"\n";
    let image = build_static(test, files, &[("my-hosts", b"10.9.8.7\tdb\n")]);
    assert_eq!(image_file(&image, "/etc/hosts").as_deref(), Some(&b"10.9.8.7\tdb\n"[..]), "{test}");
    assert_eq!(image_file(&image, "/etc/resolv.conf").as_deref(), Some(RESOLV_CONF.as_bytes()), "{test}");

    // An app whose /etc is a file gets none of them, and builds.
    let files = "[[files]]\nsrc = \"etc\"\ndst = \"/etc\"\n";
    let image = build_static(&format!("{test}_etc_file"), files, &[("etc", b"not a directory\n")]);
    assert_eq!(image_file(&image, "/etc").as_deref(), Some(&b"not a directory\n"[..]), "{test}");
    assert_eq!(image_file(&image, "/etc/hosts"), None, "{test}");
}

#[test]
fn a_publish_flag_clashing_with_the_image_names_both() {
    let test = "a_publish_flag_clashing_with_the_image_names_both";
    let Some((manifest, image)) = hello_image_with(test, "[[ports]]\nhost = 8080\nguest = 80\n") else { return };
    for target in [&image, &manifest] {
        let args = ["run".as_ref(), "-p".as_ref(), "127.0.0.1:8080:81".as_ref(), target.as_os_str()];
        let out = expect_code(test, uvm(args), 125);
        assert_stderr_has(
            test,
            &out.stderr,
            &["`-p 127.0.0.1:8080:81` and the image's [[ports]] entry 1 (`8080:80`)", "host port 8080/tcp", "overlap"],
        );
        assert!(out.stdout.is_empty(), "{test}: the app must not run; stdout {}", show(&out.stdout));
    }
}
