//! The VM's volumes for `uvm run`: `-v/--volume HOST:GUEST[:ro|:rw]`, docker's syntax, and
//! its extra tmpfs mounts, `--tmpfs PATH`; and the guest paths a run needs (mount points, the
//! working directory) checked against the image.
//!
//! The flags are parsed first, before the image is opened, so a bad value is reported at once:
//! the host directory must exist (a relative path is the current directory's; it is passed on
//! canonical), the guest path must be absolute, without `.` or `..` (repeated and trailing
//! slashes are dropped, as docker drops them), not a path the guest kernel mounts itself, and
//! not another volume's. Once the image is open, each mount point's parent must be
//! a directory of the image (the guest kernel makes the mount point there).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use uvm_abi::hostfs::{FS_NAME_MAX, FS_TARGET_MAX, MAX_VOLUMES};
use uvm_abi::image::EntryKind;
use uvm_image::Image;
use uvm_vmm::VolumeSpec;

/// Guest paths the guest kernel mounts itself: no volume goes there.
const KERNEL_MOUNTS: [&str; 4] = ["/proc", "/dev", "/tmp", "/dev/shm"];
/// Guest paths no volume goes under.
const KERNEL_TREES: [&str; 2] = ["/proc", "/dev"];

/// Parses every `-v/--volume` value. An error names the flag, the value and the fix.
pub fn parse(values: &[String]) -> Result<Vec<VolumeSpec>> {
    if values.len() > MAX_VOLUMES as usize {
        bail!("{} volumes (-v/--volume) are more than the {MAX_VOLUMES} a VM mounts: mount a common parent directory instead", values.len());
    }
    let mut volumes: Vec<VolumeSpec> = Vec::with_capacity(values.len());
    for value in values {
        let volume = parse_one(value).map_err(|why| anyhow!("`-v/--volume {value}`: {why}"))?;
        if let Some((other, clash)) = volumes.iter().zip(values).find_map(|(v, s)| clash(v, &volume).map(|c| (s, c))) {
            bail!("`-v/--volume {value}` and `-v/--volume {other}` {clash}");
        }
        volumes.push(volume);
    }
    Ok(volumes)
}

/// One `HOST:GUEST[:ro|:rw]`.
fn parse_one(value: &str) -> Result<VolumeSpec, String> {
    let parts: Vec<&str> = value.split(':').collect();
    let (host, guest, read_only) = match parts[..] {
        [host, guest] => (host, guest, false),
        [host, guest, "ro"] => (host, guest, true),
        [host, guest, "rw"] => (host, guest, false),
        [_, _, mode] => return Err(format!("`{mode}` is not a volume mode; write ro (read-only) or rw (the default)")),
        _ => {
            return Err(
                "write HOST:GUEST or HOST:GUEST:ro, e.g. ./data:/data (a path with `:` cannot be a volume)".into()
            )
        }
    };
    let host = host_dir(host)?;
    let guest = check_guest_path(guest)?;
    Ok(VolumeSpec { host, guest, read_only })
}

/// The canonical path of host directory `host` (relative to the current directory).
fn host_dir(host: &str) -> Result<PathBuf, String> {
    if host.is_empty() {
        return Err("the host directory is missing; write HOST:GUEST, e.g. ./data:/data".into());
    }
    let path = Path::new(host);
    let canonical = std::fs::canonicalize(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("host directory {host} does not exist; create it, or fix the path"),
        _ => format!("cannot resolve host directory {host}: {e}"),
    })?;
    if !canonical.is_dir() {
        return Err(format!(
            "host path {host} is not a directory; a volume is a host directory (uvm mounts no single files)"
        ));
    }
    Ok(canonical)
}

/// Checks a guest mount point and returns it normalized (as docker takes `/data/` or
/// `//data` for `/data`): absolute, without `.` or `..`, not `/` nor a path the kernel mounts.
fn check_guest_path(value: &str) -> Result<String, String> {
    let example = "e.g. /data";
    if !value.starts_with('/') {
        return Err(format!("the guest path `{value}` is not absolute; write it from /, {example}"));
    }
    let guest = normalized(value);
    if guest == "/" {
        return Err(format!("a volume cannot replace the image's root /; choose a directory, {example}"));
    }
    if guest.len() as u64 > FS_TARGET_MAX {
        return Err(format!("the guest path is longer than {FS_TARGET_MAX} bytes"));
    }
    for component in guest[1..].split('/') {
        match component {
            "." | ".." => {
                return Err(format!(
                    "the guest path `{guest}` has a `{component}` component; write it without, as the path it means"
                ))
            }
            c if c.len() as u64 > FS_NAME_MAX => {
                return Err(format!("a component of the guest path is longer than {FS_NAME_MAX} bytes"))
            }
            _ => {}
        }
    }
    if KERNEL_MOUNTS.contains(&guest.as_str()) || KERNEL_TREES.iter().any(|tree| under(&guest, tree)) {
        return Err(format!(
            "the guest path {guest} is the guest kernel's own ({}); choose another, {example}",
            KERNEL_MOUNTS.join(", ")
        ));
    }
    Ok(guest)
}

/// `guest` without empty components (what a path with `//` or a trailing `/` means).
fn normalized(guest: &str) -> String {
    let parts: Vec<&str> = guest.split('/').filter(|c| !c.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// Whether `path` lies strictly below `dir`.
fn under(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

/// Why volumes `a` and `b` cannot both be mounted, if they cannot.
fn clash(a: &VolumeSpec, b: &VolumeSpec) -> Option<String> {
    if a.guest == b.guest {
        return Some(format!("both mount at {}; give each its own guest path", a.guest));
    }
    let (outer, inner) = if under(&b.guest, &a.guest) { (a, b) } else { (b, a) };
    under(&inner.guest, &outer.guest).then(|| {
        format!("nest ({} lies inside {}); uvm mounts no volume inside another: mount the outer one alone, or give each a place of its own", inner.guest, outer.guest)
    })
}

/// Parses every `--tmpfs PATH` (docker's flag; its `:OPTIONS` are refused): a new, empty
/// tmpfs at each guest path, checked as a volume's guest path is, and against `volumes`.
pub fn parse_tmpfs(values: &[String], volumes: &[VolumeSpec]) -> Result<Vec<String>> {
    if values.len() > MAX_VOLUMES as usize {
        bail!("{} --tmpfs mounts are more than the {MAX_VOLUMES} a VM makes", values.len());
    }
    let mut mounts: Vec<VolumeSpec> = volumes.to_vec();
    for value in values {
        if value.contains(':') {
            bail!("`--tmpfs {value}`: tmpfs options are not taken; write the path alone (every tmpfs of a VM shares the VM's memory, as /tmp does)");
        }
        let guest = check_guest_path(value).map_err(|why| anyhow!("`--tmpfs {value}`: {why}"))?;
        let mount = VolumeSpec { host: PathBuf::new(), guest, read_only: false };
        if let Some(clash) = mounts.iter().find_map(|other| clash(other, &mount)) {
            bail!("`--tmpfs {value}` and another mount {clash}");
        }
        mounts.push(mount);
    }
    Ok(mounts.split_off(mounts.len() - values.len()).into_iter().map(|m| m.guest).collect())
}

/// The tmpfs mounts of a run: the image's (`[vm] tmpfs`, checked when it was built) and then
/// the `--tmpfs` flags', none clashing with another or with a volume.
pub fn join_tmpfs(image: &[String], flags: &[String], volumes: &[VolumeSpec]) -> Result<Vec<String>> {
    let mut mounts: Vec<VolumeSpec> = volumes.to_vec();
    for path in image {
        let mount = VolumeSpec { host: PathBuf::new(), guest: path.clone(), read_only: false };
        if let Some(clash) = mounts.iter().find_map(|other| clash(other, &mount)) {
            bail!("the image's tmpfs {path} and a volume {clash}");
        }
        mounts.push(mount);
    }
    let from_flags = parse_tmpfs(flags, &mounts)?;
    if image.len() + from_flags.len() > MAX_VOLUMES as usize {
        bail!(
            "{} tmpfs mounts (the image's {} and {} --tmpfs) are more than the {MAX_VOLUMES} a VM makes",
            image.len() + from_flags.len(),
            image.len(),
            from_flags.len()
        );
    }
    Ok(image.iter().cloned().chain(from_flags).collect())
}

/// Checks the volumes and tmpfs mounts against the image: whatever of a mount point's path
/// the image has is a directory. Directories it lacks are made in the VM, as docker makes
/// mount points, when the root is writable; with `read_only_root` the mount point's parent
/// must be a directory of the image.
pub fn check_against_image(
    volumes: &[VolumeSpec],
    tmpfs: &[String],
    image: &Image,
    read_only_root: bool,
) -> Result<()> {
    let points =
        volumes.iter().map(|v| ("volume", v.guest.as_str())).chain(tmpfs.iter().map(|t| ("tmpfs", t.as_str())));
    for (what, guest) in points {
        check_path(what, guest, image, read_only_root, false)?;
    }
    Ok(())
}

/// Checks the working directory (`--workdir`, `[app] workdir`) against the image, as a mount
/// point is checked, but with a read-only root it must be a directory of the image itself. One
/// in the guest kernel's own trees (`/tmp`, `/dev`, `/proc`) or in a volume or tmpfs mount is
/// left to the VM.
pub fn check_workdir(
    workdir: &str,
    image: &Image,
    read_only_root: bool,
    volumes: &[VolumeSpec],
    tmpfs: &[String],
) -> Result<()> {
    let inside =
        |mount: &str| workdir == mount || workdir.strip_prefix(mount).is_some_and(|rest| rest.starts_with('/'));
    let mounts = ["/tmp", "/dev", "/proc"].into_iter().chain(volumes.iter().map(|v| v.guest.as_str()));
    if mounts.chain(tmpfs.iter().map(String::as_str)).any(inside) {
        return Ok(());
    }
    check_path("working directory", workdir, image, read_only_root, true)
}

/// Whatever of guest path `guest` the image has must be directories; what it lacks the VM
/// makes, unless `read_only_root`: then `guest`'s parent (and with `itself`, `guest`) must be
/// there. `what` names the path in errors.
fn check_path(what: &str, guest: &str, image: &Image, read_only_root: bool, itself: bool) -> Result<()> {
    // Every ancestor, then the path itself.
    let prefixes = guest.match_indices('/').skip(1).map(|(at, _)| &guest[..at]).chain([guest]);
    for prefix in prefixes {
        match image.lookup(prefix) {
            Some((_, entry)) if EntryKind::from_raw(entry.kind) == Some(EntryKind::Directory) => {}
            Some(_) if prefix == guest => {
                bail!("{what} {guest}: {guest} is a file in the image, not a directory; choose another path")
            }
            Some(_) => bail!("{what} {guest}: {prefix} is a file in the image, not a directory; choose another path"),
            None if read_only_root && (itself || prefix != guest) => bail!(
                "{what} {guest}: {prefix} is not a directory in the image, and the root is read-only (--read-only, [vm] read_only) so the VM cannot make it: choose a directory the image has{}",
                if itself { "" } else { " as its parent, e.g. /data" }
            ),
            // Made in the VM (a missing mount point too, as on any mount).
            None => break,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| s.to_string()).collect()
    }

    fn error(values: &[&str]) -> String {
        format!("{:#}", parse(&strings(values)).expect_err("refused"))
    }

    /// A directory of its own under the host's temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    impl std::ops::Deref for TempDir {
        type Target = PathBuf;
        fn deref(&self) -> &PathBuf {
            &self.0
        }
    }

    fn temp_dir(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("uvm-cli-volumes-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    #[test]
    fn volumes_parse_as_docker_writes_them() {
        let dir = temp_dir("ok");
        let host = dir.display().to_string();
        let canonical = std::fs::canonicalize(&*dir).unwrap();
        let volumes =
            parse(&strings(&[&format!("{host}:/data"), &format!("{host}/.:/srv/a:ro"), &format!("{host}:/srv/b:rw")]))
                .unwrap();
        assert_eq!(
            volumes,
            [
                VolumeSpec { host: canonical.clone(), guest: "/data".into(), read_only: false },
                VolumeSpec { host: canonical.clone(), guest: "/srv/a".into(), read_only: true },
                VolumeSpec { host: canonical, guest: "/srv/b".into(), read_only: false },
            ]
        );
        let cwd = parse(&strings(&[".:/here"])).unwrap();
        assert_eq!(
            cwd[0].host,
            std::env::current_dir().unwrap().canonicalize().unwrap(),
            "relative to the current dir"
        );
        assert!(parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn bad_volumes_are_named_with_the_fix() {
        let dir = temp_dir("bad");
        let host = dir.display().to_string();
        let file = dir.join("file");
        std::fs::write(&file, b"x").unwrap();
        let file = file.display().to_string();
        let missing = format!("{host}/missing");
        for (value, expected) in [
            (format!("{missing}:/data"), "does not exist; create it"),
            (format!("{file}:/data"), "is not a directory"),
            (":/data".to_string(), "the host directory is missing"),
            (host.clone(), "write HOST:GUEST"),
            (format!("{host}:/data:ro:x"), "write HOST:GUEST"),
            (format!("{host}:/data:rx"), "`rx` is not a volume mode"),
            (format!("{host}:data"), "is not absolute"),
            (format!("{host}:"), "is not absolute"),
            (format!("{host}:/"), "cannot replace the image's root"),
            (format!("{host}:/a/./b"), "a `.` component"),
            (format!("{host}:/a/../etc"), "a `..` component"),
            (format!("{host}:/proc"), "the guest kernel's own"),
            (format!("{host}:/proc/sys"), "the guest kernel's own"),
            (format!("{host}:/dev"), "the guest kernel's own"),
            (format!("{host}:/dev/shm"), "the guest kernel's own"),
            (format!("{host}:/dev/x/y"), "the guest kernel's own"),
            (format!("{host}:/tmp"), "the guest kernel's own"),
            (format!("{host}:/{}", "n".repeat(256)), "longer than 255"),
        ] {
            let err = error(&[&value]);
            assert!(err.starts_with(&format!("`-v/--volume {value}`: ")), "{err}");
            assert!(err.contains(expected), "{value}: {err}");
        }
        assert!(parse(&strings(&[&format!("{host}:/tmpdata"), &format!("{host}:/device")])).is_ok(), "only the paths");
        let normalized = parse(&strings(&[&format!("{host}:/data/"), &format!("{host}://srv//x")])).unwrap();
        assert_eq!(normalized[0].guest, "/data", "a trailing / is dropped, as docker drops it");
        assert_eq!(normalized[1].guest, "/srv/x");
        let err = error(&[&format!("{host}:/data/"), &format!("{host}:/data")]);
        assert!(err.contains("both mount at /data"), "normalized before they are compared: {err}");
        let err = error(&[&format!("{host}:/data"), &format!("{host}:/data:ro")]);
        assert!(err.contains("both mount at /data"), "{err}");
        let err = error(&[&format!("{host}:/data/sub"), &format!("{host}:/data")]);
        assert!(err.contains("nest (/data/sub lies inside /data)"), "{err}");
        let many: Vec<String> = (0..=MAX_VOLUMES).map(|i| format!("{host}:/v{i}")).collect();
        assert!(format!("{:#}", parse(&many).unwrap_err()).contains("more than the 16"));
    }

    /// An image (in a temp dir of its own, named `name`) with the app at /bin/app, a directory
    /// /etc/srv and a file /etc/conf.
    fn test_image(name: &str) -> (TempDir, Image) {
        let dir = temp_dir(name);
        std::fs::create_dir_all(dir.join("tree/srv")).unwrap();
        std::fs::write(dir.join("tree/conf"), b"x").unwrap();
        let image = crate::test_image::pack(&dir, &[(dir.join("tree"), "/etc".to_string())]);
        (dir, image)
    }

    #[test]
    fn mount_points_lie_in_directories_of_the_image_or_new_ones() {
        let (dir, image) = test_image("image");
        let volume = |guest: &str| VolumeSpec { host: dir.to_path_buf(), guest: guest.into(), read_only: false };
        for ok in ["/data", "/etc/srv", "/etc/new", "/bin/x", "/etc"] {
            for read_only in [false, true] {
                check_against_image(&[volume(ok)], &[], &image, read_only).unwrap_or_else(|e| panic!("{ok}: {e}"));
            }
        }
        for ok in ["/a/b/c", "/etc/new/deeper/still"] {
            check_against_image(&[volume(ok)], &[], &image, false).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, read_only, expected) in [
            ("/a/b/c", true, "volume /a/b/c: /a is not a directory in the image, and the root is read-only"),
            ("/etc/new/x", true, "/etc/new is not a directory in the image, and the root is read-only"),
            ("/etc/conf/x", false, "volume /etc/conf/x: /etc/conf is a file in the image, not a directory; choose"),
            ("/bin/app/x/y", false, "/bin/app is a file in the image"),
            ("/bin/app", false, "volume /bin/app: /bin/app is a file in the image, not a directory; choose"),
            ("/etc/conf", true, "/etc/conf is a file in the image"),
        ] {
            let err = check_against_image(&[volume("/data"), volume(bad)], &[], &image, read_only)
                .expect_err(bad)
                .to_string();
            assert!(err.contains(expected), "{bad}: {err}");
        }
    }

    #[test]
    fn a_working_directory_the_image_lacks_needs_a_writable_root() {
        let (dir, image) = test_image("workdir");
        for (workdir, read_only, expected) in [
            ("/", true, None),
            ("/etc/srv", true, None),
            ("/tmp", true, None),
            ("/tmp/work", true, None),
            ("/run/app", true, Some("/run is not a directory in the image")),
            ("/srv/app", false, None),
            (
                "/srv/app",
                true,
                Some("working directory /srv/app: /srv is not a directory in the image, and the root is read-only"),
            ),
            ("/etc/new", true, Some("/etc/new is not a directory in the image")),
            ("/etc/conf", false, Some("working directory /etc/conf: /etc/conf is a file in the image")),
            ("/bin/app/x", false, Some("/bin/app is a file in the image")),
        ] {
            match (check_workdir(workdir, &image, read_only, &[], &[]), expected) {
                (Ok(()), None) => {}
                (Err(e), Some(text)) => assert!(e.to_string().contains(text), "{workdir}: {e}"),
                (got, _) => panic!("{workdir} (read-only {read_only}): {got:?}"),
            }
        }
        let volume = VolumeSpec { host: dir.to_path_buf(), guest: "/data".into(), read_only: false };
        check_workdir("/data/sub", &image, true, &[volume], &[]).expect("in a volume");
        check_workdir("/run/app", &image, true, &[], &["/run".into()]).expect("in a tmpfs mount");
    }

    #[test]
    fn tmpfs_mounts_are_checked_as_volumes_are() {
        let dir = temp_dir("tmpfs");
        let volumes = parse(&strings(&[&format!("{}:/data", dir.display())])).unwrap();
        assert_eq!(parse_tmpfs(&strings(&["/run", "/var/cache"]), &volumes).unwrap(), ["/run", "/var/cache"]);
        assert_eq!(parse_tmpfs(&strings(&["/run/", "//var//cache"]), &volumes).unwrap(), ["/run", "/var/cache"]);
        for (value, expected) in [
            ("run", "is not absolute"),
            ("/proc/x", "the guest kernel's own"),
            ("/run:size=64m", "options are not taken"),
            ("/data", "both mount at /data"),
            ("/data/cache", "nest (/data/cache lies inside /data)"),
        ] {
            let err = format!("{:#}", parse_tmpfs(&strings(&[value]), &volumes).expect_err(value));
            assert!(err.contains(expected), "{value}: {err}");
        }
        let err = format!("{:#}", parse_tmpfs(&strings(&["/run", "/run"]), &[]).unwrap_err());
        assert!(err.contains("both mount at /run"), "{err}");
    }

    #[test]
    fn the_images_tmpfs_mounts_come_first_and_clash_with_nothing() {
        let dir = temp_dir("join");
        let volumes = parse(&strings(&[&format!("{}:/data", dir.display())])).unwrap();
        let image = strings(&["/run"]);
        assert_eq!(join_tmpfs(&image, &strings(&["/var/cache"]), &volumes).unwrap(), ["/run", "/var/cache"]);
        let err = format!("{:#}", join_tmpfs(&image, &strings(&["/run"]), &volumes).unwrap_err());
        assert!(err.contains("`--tmpfs /run`") && err.contains("both mount at /run"), "{err}");
        let err = format!("{:#}", join_tmpfs(&strings(&["/data"]), &[], &volumes).unwrap_err());
        assert!(err.contains("the image's tmpfs /data"), "{err}");
        let image: Vec<String> = (0..10).map(|i| format!("/i{i}")).collect();
        let flags: Vec<String> = (0..7).map(|i| format!("/f{i}")).collect();
        let err = format!("{:#}", join_tmpfs(&image, &flags, &[]).unwrap_err());
        assert!(err.contains("17 tmpfs mounts (the image's 10 and 7 --tmpfs) are more than the 16"), "{err}");
    }

    #[test]
    fn paths_nest_only_below_a_component() {
        assert!(under("/data/x", "/data"));
        assert!(!under("/database", "/data"));
        assert!(!under("/data", "/data"));
        assert_eq!(normalized("//a//b/"), "/a/b");
    }
}
