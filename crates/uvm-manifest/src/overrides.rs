//! Checks for the values `uvm run` and `uvm build` accept on the command line in place of the
//! manifest's: `-e KEY=VALUE` (or `-e KEY`) and env files (`--env-file`), a working
//! directory, a memory size, a CPU count, a stop signal and a user. They apply the manifest's
//! value rules, so an override can never give the VM something a manifest could not.

use crate::error::ManifestError;
use crate::rules::{check_cpu_count, check_env_var, check_memory, check_stop_signal, normalise_guest_path};
use crate::user::{check_user, UserSpec};

/// Parses a `-e` override into its name and value, as docker reads `-e`: `KEY=VALUE` (the name
/// is everything before the first '=' and must be a valid variable name; the value may be
/// empty and may contain '='), or `KEY` alone, which takes the value the host's environment
/// (`host_env`) gives it, and is `None` (the app does not get it) where the host has none.
/// Errors name the flag and its value.
pub fn parse_env_override(
    s: &str,
    host_env: impl Fn(&str) -> Option<String>,
) -> Result<Option<(String, String)>, ManifestError> {
    let at = format!("`-e {s:?}`");
    match s.split_once('=') {
        Some((key, value)) => {
            check_env_var(key, value, &at)?;
            Ok(Some((key.to_owned(), value.to_owned())))
        }
        None => from_host(s, &at, &host_env),
    }
}

/// The variable `key`, named without a value at `at`, with the value `host_env` gives it
/// (`None`: the host has none, and the app does not get it).
fn from_host(
    key: &str,
    at: &str,
    host_env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<(String, String)>, ManifestError> {
    check_env_var(key, "", at)?;
    let Some(value) = host_env(key) else { return Ok(None) };
    check_env_var(key, &value, at)?;
    Ok(Some((key.to_owned(), value)))
}

/// Reads the text of an env file (`--env-file`; `file` names it in errors) as docker does:
/// one variable a line, `NAME=VALUE` with the value taken as it is written (quotes and
/// trailing spaces included), or `NAME` alone for the host's value (`host_env`; left out
/// where the host has none); leading whitespace is dropped, and blank lines and lines that
/// start with `#` are skipped. Errors name the file and the line.
pub fn parse_env_file(
    text: &str,
    file: &str,
    host_env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, ManifestError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut vars = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{file}, line {}", index + 1);
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (line, None),
        };
        if key.contains(char::is_whitespace) {
            return Err(ManifestError::EnvKeyWhitespace { at, key: key.to_owned() });
        }
        match value {
            Some(value) => {
                check_env_var(key, value, &at)?;
                vars.push((key.to_owned(), value.to_owned()));
            }
            None => vars.extend(from_host(key, &at, &host_env)?),
        }
    }
    Ok(vars)
}

/// Checks a memory size in MiB from `source` (for example "`--memory`"), which the error
/// names, against the range a manifest's `[vm] memory_mib` allows.
pub fn check_memory_mib(v: u32, source: &str) -> Result<u32, ManifestError> {
    check_memory(i64::from(v), source)
}

/// Checks a CPU count from `source` (for example "`--cpus`"), which the error names, against
/// the range a manifest's `[vm] cpus` allows.
pub fn check_cpus(v: u32, source: &str) -> Result<u32, ManifestError> {
    check_cpu_count(i64::from(v), source)
}

/// Reads a working directory from `source` (for example "`--workdir`"), which the error
/// names, as a manifest's `[app] workdir` is read: an absolute guest path, normalised.
pub fn parse_workdir(value: &str, source: &str) -> Result<String, ManifestError> {
    normalise_guest_path(value, source)
}

/// Reads a stop signal from `source` (for example "`--stop-signal`"), which the error names,
/// as a manifest's `[app] stop_signal` is read: its number.
pub fn parse_stop_signal(value: &str, source: &str) -> Result<u32, ManifestError> {
    check_stop_signal(value, source)
}

/// Reads a user spec from `source` (for example "`--user www`"), which the error names, as a
/// manifest's `[app] user` is read: `USER[:GROUP]`, each an id or a name (looked up later).
pub fn parse_user(value: &str, source: &str) -> Result<UserSpec, ManifestError> {
    check_user(value, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_overrides_are_normalised_guest_paths() {
        assert_eq!(parse_workdir("//srv/./app/", "`--workdir`").unwrap(), "/srv/app");
        assert_eq!(parse_workdir("/", "`--workdir`").unwrap(), "/");
        let err = parse_workdir("srv", "`--workdir`").unwrap_err();
        assert!(err.to_string().starts_with("`--workdir`"), "{err}");
        assert!(err.to_string().contains("/srv"), "{err}");
        assert!(parse_workdir("/srv/../etc", "`--workdir`").is_err());
    }

    /// A host environment with `HOME=/root` and `EMPTY=` only.
    fn host(key: &str) -> Option<String> {
        match key {
            "HOME" => Some("/root".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn pair(key: &str, value: &str) -> Option<(String, String)> {
        Some((key.into(), value.into()))
    }

    #[test]
    fn env_overrides() {
        let parse_env_override = |s: &str| parse_env_override(s, host);
        assert_eq!(parse_env_override("A=b").unwrap(), pair("A", "b"));
        assert_eq!(parse_env_override("A=").unwrap(), pair("A", ""));
        assert_eq!(parse_env_override("A=b=c").unwrap(), pair("A", "b=c"));
        assert_eq!(parse_env_override("HOME").unwrap(), pair("HOME", "/root"), "KEY alone: the host's value");
        assert_eq!(parse_env_override("EMPTY").unwrap(), pair("EMPTY", ""));
        assert_eq!(parse_env_override("GREETING").unwrap(), None, "not set on the host: not set in the VM");

        let err = parse_env_override("=x").unwrap_err();
        assert!(matches!(err, ManifestError::EnvKeyEmpty { .. }));
        assert!(err.to_string().starts_with("`-e \"=x\"`: "), "{err}");

        let err = parse_env_override("A=x\0").unwrap_err();
        assert!(matches!(err, ManifestError::Nul { .. }));
        assert!(err.to_string().starts_with("`-e \"A=x\\0\"`: the value of \"A\""), "{err}");
    }

    #[test]
    fn env_files_read_as_docker_reads_them() {
        let text = "\u{feff}# settings\n\n  GREETING=hello world  \nQUOTED=\"kept\"\nHOME\nUNSET\r\nEQ=a=b\n\t# indented comment\nEMPTY=\n";
        let vars = parse_env_file(text, "app.env", host).unwrap();
        let expected =
            [("GREETING", "hello world  "), ("QUOTED", "\"kept\""), ("HOME", "/root"), ("EQ", "a=b"), ("EMPTY", "")];
        assert_eq!(vars, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
        let err = parse_env_file("A=1\nMY VAR=2\n", "app.env", host).unwrap_err();
        assert_eq!(
            err.to_string(),
            "app.env, line 2: environment variable name \"MY VAR\" contains whitespace; write NAME=VALUE, with no space in NAME (the value may hold spaces)"
        );
        let err = parse_env_file("\n=x\n", "app.env", host).unwrap_err();
        assert!(
            err.to_string().starts_with("app.env, line 2: an environment variable name must not be empty"),
            "{err}"
        );
        let err = parse_env_file("A=x\0y\n", "app.env", host).unwrap_err();
        assert!(err.to_string().starts_with("app.env, line 1: the value of \"A\""), "{err}");
        assert_eq!(parse_env_file("", "app.env", host).unwrap(), []);
    }

    #[test]
    fn user_overrides() {
        use crate::IdOrName;
        let spec = parse_user("www:100", "`--user`").unwrap();
        assert_eq!(spec, UserSpec { user: IdOrName::Name("www".into()), group: Some(IdOrName::Id(100)) });
        let err = parse_user("www:", "`--user`").unwrap_err();
        assert!(
            err.to_string().starts_with("`--user` is \"www:\", which is not a user spec: the group is empty"),
            "{err}"
        );
    }

    #[test]
    fn cpu_overrides() {
        assert_eq!(check_cpus(4, "`--cpus`").unwrap(), 4);
        let err = check_cpus(0, "`--cpus`").unwrap_err();
        assert!(err.to_string().starts_with("`--cpus` must be between 1 and 64"), "{err}");
        assert!(check_cpus(65, "`--cpus`").is_err());
    }

    #[test]
    fn memory_overrides() {
        assert_eq!(check_memory_mib(64, "`--memory`").unwrap(), 64);
        let err = check_memory_mib(8, "`--memory`").unwrap_err();
        assert_eq!(err.to_string(), "`--memory` must be between 16 and 65536 (MiB), got 8; pick a value in that range");
        assert!(check_memory_mib(u32::MAX, "`--memory`").is_err());
    }
}
