//! Checks for the values `uvm run` and `uvm build` accept on the command line in place of the
//! manifest's: `-e KEY=VALUE`, a working directory, a memory size, a CPU count, a stop signal
//! and a user. They apply the manifest's value rules, so an override can never give the VM
//! something a manifest could not.

use crate::error::ManifestError;
use crate::rules::{check_cpu_count, check_env_var, check_memory, check_stop_signal, normalise_guest_path};
use crate::user::{check_user, UserSpec};

/// Parses a `-e KEY=VALUE` override into its name and value. The name is everything before
/// the first '=' and must be a valid environment variable name; the value may be empty and may
/// contain '='. Errors name the flag and its value.
pub fn parse_env_override(s: &str) -> Result<(String, String), ManifestError> {
    let Some((key, value)) = s.split_once('=') else {
        return Err(ManifestError::EnvOverrideSyntax { value: s.to_owned() });
    };
    check_env_var(key, value, &format!("`-e {s:?}`"))?;
    Ok((key.to_owned(), value.to_owned()))
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

    #[test]
    fn env_overrides() {
        assert_eq!(parse_env_override("A=b").unwrap(), ("A".into(), "b".into()));
        assert_eq!(parse_env_override("A=").unwrap(), ("A".into(), String::new()));
        assert_eq!(parse_env_override("A=b=c").unwrap(), ("A".into(), "b=c".into()));

        let err = parse_env_override("GREETING").unwrap_err();
        assert!(matches!(err, ManifestError::EnvOverrideSyntax { .. }));
        assert!(err.to_string().starts_with("`-e \"GREETING\"`: "), "{err}");

        let err = parse_env_override("=x").unwrap_err();
        assert!(matches!(err, ManifestError::EnvKeyEmpty { .. }));
        assert!(err.to_string().starts_with("`-e \"=x\"`: "), "{err}");

        let err = parse_env_override("A=x\0").unwrap_err();
        assert!(matches!(err, ManifestError::Nul { .. }));
        assert!(err.to_string().starts_with("`-e \"A=x\\0\"`: the value of \"A\""), "{err}");
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
