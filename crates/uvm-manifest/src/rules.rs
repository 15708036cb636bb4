//! The value rules: checks on one value at a time (an app name, an environment variable, a
//! guest path, a memory size), with no file system access.
//!
//! The manifest validator, the command-line override helpers and the run-configuration reader
//! all apply these same functions, so a value is accepted or rejected the same way wherever it
//! comes from. Every function takes `at`, the human-readable place the value came from (a
//! manifest path and key, or a flag), and puts it in the error.

use crate::error::ManifestError;
use crate::{
    BINARY_GUEST_DIR, CPUS_MAX, CPUS_MIN, FILE_MODE_MAX, GUEST_NAME_MAX, GUEST_PATH_MAX, MEMORY_MIB_MAX,
    MEMORY_MIB_MIN, NAME_MAX_LEN, RESERVED_GUEST_DIRS,
};

/// A port number of a `[[ports]]` entry: 1..=65535.
pub(crate) fn check_port(value: i64, at: &str) -> Result<u16, ManifestError> {
    match u16::try_from(value) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(ManifestError::PortOutOfRange { at: at.to_owned(), value }),
    }
}

/// An app name: 1..=[`NAME_MAX_LEN`] characters from `[A-Za-z0-9._-]`, not starting with '.'
/// or '-'.
pub(crate) fn check_name(name: &str, at: &str) -> Result<(), ManifestError> {
    let len = name.chars().count();
    if len == 0 || len > NAME_MAX_LEN {
        return Err(ManifestError::NameLength { at: at.to_owned(), name: name.to_owned(), len });
    }
    if let Some(ch) = name.chars().find(|&c| !is_name_char(c)) {
        let suggestion = name.chars().map(|c| if is_name_char(c) { c } else { '-' }).collect();
        return Err(ManifestError::NameChar { at: at.to_owned(), name: name.to_owned(), ch, suggestion });
    }
    if name.starts_with(['.', '-']) {
        let rest = name.trim_start_matches(['.', '-']);
        let suggestion = if rest.is_empty() { "app".to_owned() } else { rest.to_owned() };
        return Err(ManifestError::NameStart { at: at.to_owned(), name: name.to_owned(), suggestion });
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// A string that becomes a C string in the VM must not contain NUL.
pub(crate) fn check_no_nul(value: &str, at: &str) -> Result<(), ManifestError> {
    if value.contains('\0') {
        return Err(ManifestError::Nul { at: at.to_owned(), value: value.to_owned() });
    }
    Ok(())
}

/// An environment variable: a non-empty name without '=' or NUL, a value without NUL.
/// `at` names the variable's origin; "name" and "value" are told apart in the message.
pub(crate) fn check_env_var(key: &str, value: &str, at: &str) -> Result<(), ManifestError> {
    if key.is_empty() {
        return Err(ManifestError::EnvKeyEmpty { at: at.to_owned() });
    }
    check_no_nul(key, &format!("{at}: the variable name"))?;
    if key.contains('=') {
        return Err(ManifestError::EnvKeyEquals { at: at.to_owned(), key: key.to_owned() });
    }
    check_no_nul(value, &format!("{at}: the value of {key:?}"))
}

/// Normalises an absolute guest path: collapses "." components and repeated or trailing
/// slashes. Rejects relative paths, `..` components, NUL bytes, components longer than
/// [`GUEST_NAME_MAX`] and results longer than [`GUEST_PATH_MAX`]. "/" stays "/".
pub(crate) fn normalise_guest_path(value: &str, at: &str) -> Result<String, ManifestError> {
    check_no_nul(value, at)?;
    if !value.starts_with('/') {
        let trimmed = value.trim_start_matches("./");
        return Err(ManifestError::GuestPathRelative {
            at: at.to_owned(),
            value: value.to_owned(),
            suggestion: format!("/{trimmed}"),
        });
    }
    let mut out = String::with_capacity(value.len());
    for component in value.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err(ManifestError::GuestPathDotDot { at: at.to_owned(), value: value.to_owned() }),
            name => {
                if name.len() > GUEST_NAME_MAX {
                    return Err(ManifestError::GuestPathComponentTooLong {
                        at: at.to_owned(),
                        component: name.to_owned(),
                    });
                }
                out.push('/');
                out.push_str(name);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    if out.len() > GUEST_PATH_MAX {
        return Err(ManifestError::GuestPathTooLong { at: at.to_owned(), len: out.len() });
    }
    Ok(out)
}

/// A `[[files]]` destination: a normalised guest path (see [`normalise_guest_path`]) that is
/// not "/" and not inside a directory the VM provides at run time.
pub(crate) fn check_dst(value: &str, at: &str) -> Result<String, ManifestError> {
    let dst = normalise_guest_path(value, at)?;
    if dst == "/" {
        return Err(ManifestError::DstRoot { at: at.to_owned(), value: value.to_owned() });
    }
    if let Some(dir) = RESERVED_GUEST_DIRS.iter().copied().find(|dir| is_same_or_inside(&dst, dir)) {
        return Err(ManifestError::DstReserved { at: at.to_owned(), value: dst, dir });
    }
    Ok(dst)
}

/// A `[[files]]` entry's `mode`, as `COPY --chmod` takes an octal one: one or more octal
/// digits (leading zeros allowed: "0644", "644", "4755"), at most [`FILE_MODE_MAX`]. Symbolic
/// modes ("u=rwx,go=rx", "+x") are refused, with the octal form to write instead.
pub(crate) fn check_mode(value: &str, at: &str) -> Result<u16, ManifestError> {
    let bad = |why: String| ManifestError::Mode { at: at.to_owned(), value: value.to_owned(), why };
    if value.is_empty() {
        return Err(bad("it is empty".to_owned()));
    }
    if is_symbolic_mode(value) {
        return Err(bad(
            "it is a symbolic mode, which uvm does not apply (\"u=rwx,go=rx\" is \"755\", \"u=rw,go=r\" is \
             \"644\")"
                .to_owned(),
        ));
    }
    if let Some(c) = value.chars().find(|c| !matches!(c, '0'..='7')) {
        return Err(bad(format!("{c:?} is not an octal digit")));
    }
    // Leading zeros do not count: "000644" is 0o644, as --chmod reads it.
    let digits = value.trim_start_matches('0');
    match u16::from_str_radix(if digits.is_empty() { "0" } else { digits }, 8) {
        Ok(mode) if mode <= FILE_MODE_MAX => Ok(mode),
        _ => Err(bad(format!("it is more than 0{FILE_MODE_MAX:o} (permission bits, setuid, setgid and sticky)"))),
    }
}

/// Whether `value` looks like a symbolic mode as chmod(1) writes them: clauses of `ugoa`,
/// an operator `+-=` and permissions `rwxXst` (or `ugo` to copy), separated by commas.
fn is_symbolic_mode(value: &str) -> bool {
    value.starts_with(['u', 'g', 'o', 'a', '+', '-', '='])
        && value.contains(['+', '-', '='])
        && value.chars().all(|c| "ugoa+-=rwxXst,".contains(c))
}

/// A stop signal (`[app] stop_signal`, `--stop-signal`): a standard signal's name, with or
/// without `SIG`, in any case, or its number (1 to 31), as docker reads STOPSIGNAL; not one
/// of the stop signals, which the guest kernel ignores (nothing could continue the app).
/// Checks a host name from `at` (the manifest key or the flag, which the error names) as
/// docker checks `--hostname`: at most 64 bytes (Linux's `sethostname` limit), dot-separated
/// labels of 1 to 63 ASCII letters, digits and hyphens, none starting or ending with a hyphen.
pub fn check_hostname(value: &str, at: &str) -> Result<(), ManifestError> {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if value.is_empty() || value.len() > 64 || !value.split('.').all(label_ok) {
        return Err(ManifestError::Hostname { at: at.to_owned(), value: value.to_owned() });
    }
    Ok(())
}

pub(crate) fn check_stop_signal(value: &str, at: &str) -> Result<u32, ManifestError> {
    let bad = || ManifestError::StopSignal { at: at.to_owned(), value: value.to_owned() };
    let text = value.trim().to_ascii_uppercase();
    let sig = match text.parse::<u32>() {
        Ok(number) => number,
        Err(_) => {
            let name = if text.starts_with("SIG") { text } else { format!("SIG{text}") };
            (1..=31).find(|&sig| uvm_abi::signal::name(sig) == Some(name.as_str())).ok_or_else(bad)?
        }
    };
    const IGNORED: [&str; 4] = ["SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU"];
    match uvm_abi::signal::name(sig) {
        Some(name) if !IGNORED.contains(&name) => Ok(sig),
        _ => Err(bad()),
    }
}

/// `[vm] tmpfs`: each path a `dst` may be (see [`check_dst`]), none overlapping another one
/// or one of `taken` (the `[[files]]` destinations); `at(i)` names item `i` (1-based).
pub(crate) fn check_tmpfs(
    values: &[String],
    taken: &[&str],
    at: &dyn Fn(usize) -> String,
) -> Result<Vec<String>, ManifestError> {
    if values.len() > crate::TMPFS_MAX {
        return Err(ManifestError::TooManyTmpfs { at: at(0), count: values.len() });
    }
    let mut paths: Vec<String> = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        let path = check_dst(value, &at(i + 1))?;
        let overlaps = |other: &str| is_same_or_inside(&path, other) || is_same_or_inside(other, &path);
        if let Some(other) = paths.iter().map(String::as_str).chain(taken.iter().copied()).find(|o| overlaps(o)) {
            return Err(ManifestError::TmpfsOverlap { at: at(i + 1), value: path, other: other.to_owned() });
        }
        paths.push(path);
    }
    Ok(paths)
}

/// Whether normalised guest path `path` is `dir` or lies inside it. Both must be normalised and
/// `dir` must not be "/".
pub(crate) fn is_same_or_inside(path: &str, dir: &str) -> bool {
    path == dir || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// Where the binary sits in the VM: `/bin/<binary_name>`.
pub(crate) fn binary_guest_path(binary_name: &str) -> String {
    format!("{BINARY_GUEST_DIR}/{binary_name}")
}

/// A memory size in MiB, within [`MEMORY_MIB_MIN`]..=[`MEMORY_MIB_MAX`].
pub(crate) fn check_memory(value: i64, at: &str) -> Result<u32, ManifestError> {
    if !(i64::from(MEMORY_MIB_MIN)..=i64::from(MEMORY_MIB_MAX)).contains(&value) {
        return Err(ManifestError::MemoryOutOfRange { at: at.to_owned(), value });
    }
    u32::try_from(value).map_err(|_| ManifestError::MemoryOutOfRange { at: at.to_owned(), value })
}

/// A CPU count: [`CPUS_MIN`]..=[`CPUS_MAX`].
pub(crate) fn check_cpu_count(value: i64, at: &str) -> Result<u32, ManifestError> {
    if !(i64::from(CPUS_MIN)..=i64::from(CPUS_MAX)).contains(&value) {
        return Err(ManifestError::CpusOutOfRange { at: at.to_owned(), value });
    }
    u32::try_from(value).map_err(|_| ManifestError::CpusOutOfRange { at: at.to_owned(), value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["hello", "a", "A.b_c-9", "_x", &"n".repeat(64)] {
            check_name(ok, "at").unwrap();
        }
        assert!(matches!(check_name("", "at"), Err(ManifestError::NameLength { len: 0, .. })));
        assert!(matches!(check_name(&"n".repeat(65), "at"), Err(ManifestError::NameLength { len: 65, .. })));
        match check_name("my app", "at") {
            Err(ManifestError::NameChar { ch: ' ', suggestion, .. }) => assert_eq!(suggestion, "my-app"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(check_name("a\0b", "at"), Err(ManifestError::NameChar { ch: '\0', .. })));
        assert!(matches!(check_name("héllo", "at"), Err(ManifestError::NameChar { ch: 'é', .. })));
        match check_name(".hidden", "at") {
            Err(ManifestError::NameStart { suggestion, .. }) => assert_eq!(suggestion, "hidden"),
            other => panic!("{other:?}"),
        }
        match check_name("-.", "at") {
            Err(ManifestError::NameStart { suggestion, .. }) => assert_eq!(suggestion, "app"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn env_vars() {
        check_env_var("A", "", "at").unwrap();
        check_env_var("PATH", "/bin:/usr/bin", "at").unwrap();
        check_env_var("X", "a=b", "at").unwrap();
        assert!(matches!(check_env_var("", "v", "at"), Err(ManifestError::EnvKeyEmpty { .. })));
        assert!(matches!(check_env_var("A=B", "v", "at"), Err(ManifestError::EnvKeyEquals { .. })));
        assert!(matches!(check_env_var("A\0", "v", "at"), Err(ManifestError::Nul { .. })));
        let err = check_env_var("A", "x\0y", "at").unwrap_err();
        assert!(err.to_string().contains("the value of \"A\""), "{err}");
    }

    #[test]
    fn guest_path_normalisation() {
        let n = |s: &str| normalise_guest_path(s, "at");
        assert_eq!(n("/").unwrap(), "/");
        assert_eq!(n("//").unwrap(), "/");
        assert_eq!(n("/./.").unwrap(), "/");
        assert_eq!(n("/etc/app.conf").unwrap(), "/etc/app.conf");
        assert_eq!(n("//etc//./app.conf/").unwrap(), "/etc/app.conf");
        assert_eq!(n("/a/.../b").unwrap(), "/a/.../b");
        assert!(matches!(n("/etc/../x"), Err(ManifestError::GuestPathDotDot { .. })));
        assert!(matches!(n("/.."), Err(ManifestError::GuestPathDotDot { .. })));
        match n("./etc/app.conf") {
            Err(ManifestError::GuestPathRelative { suggestion, .. }) => {
                assert_eq!(suggestion, "/etc/app.conf")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(n(""), Err(ManifestError::GuestPathRelative { .. })));
        assert!(matches!(n("/a\0"), Err(ManifestError::Nul { .. })));
        assert!(matches!(n(&format!("/{}", "x".repeat(256))), Err(ManifestError::GuestPathComponentTooLong { .. })));
        n(&format!("/{}", "x".repeat(255))).unwrap();
        let long = "/abcdefg".repeat(512); // 4096 bytes
        assert!(matches!(n(&long), Err(ManifestError::GuestPathTooLong { len: 4096, .. })));
        n(&long[..4095]).unwrap();
    }

    #[test]
    fn destinations() {
        assert_eq!(check_dst("/etc//app.conf", "at").unwrap(), "/etc/app.conf");
        assert!(matches!(check_dst("/", "at"), Err(ManifestError::DstRoot { .. })));
        assert!(matches!(check_dst("/./", "at"), Err(ManifestError::DstRoot { .. })));
        for (path, reserved) in [("/proc", "/proc"), ("/dev/x", "/dev"), ("//tmp/./a/b", "/tmp")] {
            match check_dst(path, "at") {
                Err(ManifestError::DstReserved { dir, .. }) => assert_eq!(dir, reserved),
                other => panic!("{path}: {other:?}"),
            }
        }
        check_dst("/process", "at").unwrap();
        check_dst("/tmpfiles/a", "at").unwrap();
        check_dst("/devices", "at").unwrap();
    }

    #[test]
    fn stop_signals() {
        let at = "`--stop-signal`";
        for (value, sig) in [("SIGQUIT", 3), ("quit", 3), ("SigTerm", 15), ("15", 15), (" 2 ", 2), ("SIGKILL", 9)] {
            assert_eq!(check_stop_signal(value, at).unwrap(), sig, "{value}");
        }
        for value in ["", "0", "32", "64", "SIGSTOP", "tstp", "SIGRTMIN", "TERMINATE", "-15", "SIGSIGTERM"] {
            let err = check_stop_signal(value, at).unwrap_err();
            assert!(matches!(err, ManifestError::StopSignal { .. }), "{value}");
            assert!(err.to_string().starts_with("`--stop-signal` is "), "{err}");
        }
    }

    #[test]
    fn tmpfs_paths() {
        let at = |i: usize| format!("item {i}");
        let ok = check_tmpfs(&["//run/".to_owned(), "/var/cache/app".to_owned()], &["/etc/app.conf"], &at);
        assert_eq!(ok.unwrap(), ["/run", "/var/cache/app"]);
        for (values, taken, expected_at) in [
            (vec!["/run", "/run/x"], vec![], "item 2"),
            (vec!["/etc"], vec!["/etc/app.conf"], "item 1"),
            (vec!["/srv/data/x"], vec!["/srv/data"], "item 1"),
        ] {
            let values: Vec<String> = values.into_iter().map(str::to_owned).collect();
            match check_tmpfs(&values, &taken, &at) {
                Err(ManifestError::TmpfsOverlap { at, .. }) => assert_eq!(at, expected_at),
                other => panic!("{values:?}: {other:?}"),
            }
        }
        assert!(matches!(check_tmpfs(&["/tmp/x".to_owned()], &[], &at), Err(ManifestError::DstReserved { .. })));
        assert!(matches!(check_tmpfs(&["/".to_owned()], &[], &at), Err(ManifestError::DstRoot { .. })));
        let many: Vec<String> = (0..=crate::TMPFS_MAX).map(|i| format!("/t{i}")).collect();
        assert!(matches!(check_tmpfs(&many, &[], &at), Err(ManifestError::TooManyTmpfs { count: 17, .. })));
    }

    #[test]
    fn octal_modes() {
        for (value, mode) in [
            ("0644", 0o644),
            ("644", 0o644),
            ("755", 0o755),
            ("4755", 0o4755),
            ("07777", 0o7777),
            ("0", 0),
            ("0000", 0),
            ("000000640", 0o640),
            ("1", 1),
        ] {
            assert_eq!(check_mode(value, "at").ok(), Some(mode), "{value}");
        }
        for (value, why) in [
            ("", "it is empty"),
            ("10000", "it is more than 07777"),
            ("77777", "it is more than 07777"),
            ("0o755", "'o' is not an octal digit"),
            ("0x1ed", "'x' is not an octal digit"),
            ("0648", "'8' is not an octal digit"),
            (" 644", "' ' is not an octal digit"),
            ("rwxr-xr-x", "'r' is not an octal digit"),
            ("-1", "'-' is not an octal digit"),
            ("u=rwx,go=rx", "it is a symbolic mode"),
            ("+x", "it is a symbolic mode"),
            ("a+rX", "it is a symbolic mode"),
            ("go-w", "it is a symbolic mode"),
            ("=rw,+X", "it is a symbolic mode"),
        ] {
            match check_mode(value, "at") {
                Err(ManifestError::Mode { why: got, .. }) => assert!(got.starts_with(why), "{value:?}: {got}"),
                other => panic!("{value:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn nesting() {
        assert!(is_same_or_inside("/a", "/a"));
        assert!(is_same_or_inside("/a/b", "/a"));
        assert!(!is_same_or_inside("/ab", "/a"));
        assert!(!is_same_or_inside("/a", "/a/b"));
    }

    #[test]
    fn cpu_counts() {
        assert_eq!(check_cpu_count(1, "at").unwrap(), 1);
        assert_eq!(check_cpu_count(64, "at").unwrap(), 64);
        for bad in [0, -1, 65, i64::MAX, i64::MIN] {
            assert!(matches!(check_cpu_count(bad, "at"), Err(ManifestError::CpusOutOfRange { .. })), "{bad}");
        }
    }

    #[test]
    fn memory() {
        assert_eq!(check_memory(16, "at").unwrap(), 16);
        assert_eq!(check_memory(65536, "at").unwrap(), 65536);
        for bad in [15, 0, -1, 65537, i64::MAX, i64::MIN] {
            assert!(matches!(check_memory(bad, "at"), Err(ManifestError::MemoryOutOfRange { .. })), "{bad}");
        }
    }
}
