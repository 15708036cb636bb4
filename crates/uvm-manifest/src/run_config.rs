//! [`RunConfig`]: what `uvm run` needs to start the app, as stored inside an image.
//!
//! `uvm build` derives it from an [`AppConfig`] and stores it as TOML in the image's config
//! section; `uvm run` reads it back. Only the host reads it; the guest kernel gets the same
//! facts through its boot info. Reading it back applies the same value rules as the manifest,
//! so a damaged or hand-edited image is refused with a message rather than booted.
//!
//! Published ports and egress rules are stored as lists of strings in the syntax of `-p` and
//! `--egress` (`ports = ["8080:80"]`, `egress = ["10.0.0.0/8:5432"]`), and only when there are
//! some: the configuration of an app without them is the same as before they existed. The
//! same holds for every key added since (`cpus`, `tmpfs`, `stop_signal`, `read_only`, `user`):
//! absent means the default, so an image built before a key existed reads as it always did.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ManifestError;
use crate::rules::{
    binary_guest_path, check_cpu_count, check_env_var, check_hostname, check_memory, check_name, check_no_nul,
    check_stop_signal, check_tmpfs, normalise_guest_path,
};
use crate::user::{check_user, UserSpec};
use crate::AppConfig;
use uvm_net::{EgressPolicy, EgressRule, NetworkConfig, PortMapping};

/// The run configuration stored inside an image.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The app's name (the manifest's `[app] name`).
    pub name: String,
    /// The file name of the binary; `argv[0]`.
    pub binary_name: String,
    /// Where the binary sits in the VM: `/bin/<binary_name>`.
    pub guest_path: String,
    /// `argv[1..]`.
    pub args: Vec<String>,
    /// The environment, sorted by name.
    pub env: BTreeMap<String, String>,
    /// The working directory, a normalised absolute guest path.
    pub workdir: String,
    /// Guest RAM in MiB.
    pub memory_mib: u32,
    /// How many app threads may run at once; absent: the host's CPU count at run time. Left out
    /// of the TOML when absent, so images of manifests without it are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    /// Guest ports published on the host (`[[ports]]`), in manifest order. Left out of the
    /// TOML when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "as_strings")]
    pub ports: Vec<PortMapping>,
    /// What the app may reach (`[network] egress`); empty: nothing. Left out of the TOML when
    /// empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "as_strings")]
    pub egress: Vec<EgressRule>,
    /// Where the VM gets a new, empty tmpfs (`[vm] tmpfs`). Left out of the TOML when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    /// The signal the app gets when uvm is asked to stop it (`[app] stop_signal`), by its name
    /// (`SIGQUIT`). Left out of the TOML when absent (SIGTERM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// The root file system is the image, read-only (`[vm] read_only`). Left out of the TOML
    /// when false (the default: a writable root).
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// The user the app runs as (`[app] user`), as a spec (`"www:staff"`, `"1000:1000"`) whose
    /// names `uvm run` looks up in the image's /etc/passwd and /etc/group. Left out of the TOML
    /// when absent (root), so images without it, older ones included, run as root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The VM's host name (`[vm] hostname`), which the image's generated /etc/hosts names.
    /// Left out of the TOML when absent (`uvm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Where run-configuration values come from, for error messages.
const AT: &str = "the image's run configuration";

impl RunConfig {
    /// The run configuration for a validated app.
    pub fn from_app(app: &AppConfig) -> RunConfig {
        let binary_name = app.binary_name();
        RunConfig {
            name: app.name.clone(),
            guest_path: binary_guest_path(&binary_name),
            binary_name,
            args: app.args.clone(),
            env: app.env.clone(),
            workdir: app.workdir.clone(),
            memory_mib: app.vm.memory_mib,
            cpus: app.vm.cpus,
            ports: app.network.ports.clone(),
            egress: app.network.egress.rules.clone(),
            tmpfs: app.vm.tmpfs.clone(),
            stop_signal: app.stop_signal.and_then(uvm_abi::signal::name).map(str::to_owned),
            read_only: app.vm.read_only,
            user: app.user.as_ref().map(UserSpec::to_string),
            hostname: app.vm.hostname.clone(),
        }
    }

    /// The user spec, if the image names one (checked when it was read); `None`: root.
    pub fn user(&self) -> Option<UserSpec> {
        self.user.as_deref().and_then(|spec| check_user(spec, AT).ok())
    }

    /// The stop signal's number, if the image names one (checked when it was read).
    pub fn stop_signal(&self) -> Option<u32> {
        self.stop_signal.as_deref().and_then(|name| check_stop_signal(name, AT).ok())
    }

    /// The published ports and egress policy, as the VMM takes them.
    pub fn network(&self) -> NetworkConfig {
        NetworkConfig { ports: self.ports.clone(), egress: EgressPolicy { rules: self.egress.clone() } }
    }

    /// The configuration as TOML. Deterministic: equal configurations give equal bytes (keys
    /// are written in field order, `env` sorted by name).
    pub fn to_toml(&self) -> String {
        // A RunConfig holds only strings, a list and a map of strings and an integer, and TOML
        // can quote any string, so serialisation cannot fail.
        toml::to_string(self).expect("a RunConfig always serialises to TOML")
    }

    /// Parses and checks a configuration written by [`RunConfig::to_toml`]. Every value must
    /// pass the same rules as in a manifest, and `guest_path` must be `/bin/<binary_name>`.
    pub fn from_toml(text: &str) -> Result<RunConfig, ManifestError> {
        let config: RunConfig = toml::from_str(text)
            .map_err(|e| ManifestError::RunConfigSyntax { message: e.to_string().trim_end().to_owned() })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ManifestError> {
        check_name(&self.name, &format!("{AT}: `name`"))?;
        check_no_nul(&self.binary_name, &format!("{AT}: `binary_name`"))?;
        if self.binary_name.is_empty() || self.binary_name.contains('/') || matches!(&*self.binary_name, "." | "..") {
            return Err(ManifestError::RunConfigInconsistent {
                key: "binary_name",
                value: self.binary_name.clone(),
                expected: "a file name".to_owned(),
            });
        }
        let expected = binary_guest_path(&self.binary_name);
        if self.guest_path != expected {
            return Err(ManifestError::RunConfigInconsistent {
                key: "guest_path",
                value: self.guest_path.clone(),
                expected,
            });
        }
        for (i, arg) in self.args.iter().enumerate() {
            check_no_nul(arg, &format!("{AT}: `args` item {}", i + 1))?;
        }
        for (key, value) in &self.env {
            check_env_var(key, value, &format!("{AT}: `env`"))?;
        }
        let workdir = normalise_guest_path(&self.workdir, &format!("{AT}: `workdir`"))?;
        if workdir != self.workdir {
            return Err(ManifestError::RunConfigInconsistent {
                key: "workdir",
                value: self.workdir.clone(),
                expected: workdir,
            });
        }
        check_memory(i64::from(self.memory_mib), &format!("{AT}: `memory_mib`"))?;
        if let Some(cpus) = self.cpus {
            check_cpu_count(i64::from(cpus), &format!("{AT}: `cpus`"))?;
        }
        let tmpfs = check_tmpfs(&self.tmpfs, &[], &|i| format!("{AT}: `tmpfs` item {i}"))?;
        if tmpfs != self.tmpfs {
            return Err(ManifestError::RunConfigInconsistent {
                key: "tmpfs",
                value: self.tmpfs.join(", "),
                expected: tmpfs.join(", "),
            });
        }
        if let Some(name) = &self.stop_signal {
            let sig = check_stop_signal(name, &format!("{AT}: `stop_signal`"))?;
            if uvm_abi::signal::name(sig) != Some(name.as_str()) {
                return Err(ManifestError::RunConfigInconsistent {
                    key: "stop_signal",
                    value: name.clone(),
                    expected: uvm_abi::signal::name(sig).unwrap_or_default().to_owned(),
                });
            }
        }
        if let Some(name) = &self.hostname {
            check_hostname(name, &format!("{AT}: `hostname`"))?;
        }
        if let Some(spec) = &self.user {
            let canonical = check_user(spec, &format!("{AT}: `user`"))?.to_string();
            if canonical != *spec {
                return Err(ManifestError::RunConfigInconsistent {
                    key: "user",
                    value: spec.clone(),
                    expected: canonical,
                });
            }
        }
        self.network().check().map_err(|error| ManifestError::Network { at: format!("{AT}: `ports`"), error })
    }
}

/// Serde for a list of values kept as their `Display` strings and read back with `FromStr`
/// (port mappings, egress rules).
mod as_strings {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<T: Display, S: Serializer>(values: &[T], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(ToString::to_string))
    }

    pub(super) fn deserialize<'de, T, D>(deserializer: D) -> Result<Vec<T>, D::Error>
    where
        T: FromStr<Err: Display>,
        D: Deserializer<'de>,
    {
        Vec::<String>::deserialize(deserializer)?.iter().map(|text| text.parse().map_err(D::Error::custom)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunConfig {
        RunConfig {
            name: "hello".into(),
            binary_name: "hello".into(),
            guest_path: "/bin/hello".into(),
            args: vec!["world".into(), "with \"quotes\" and\nnewline".into()],
            env: [("Z", "last"), ("A", "first=1"), ("odd key.x", "ü")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            workdir: "/srv".into(),
            memory_mib: 128,
            cpus: Some(2),
            ports: vec!["8080:80".parse().unwrap(), "[::1]:5353:53/udp".parse().unwrap()],
            egress: vec!["10.0.0.0/8:5432".parse().unwrap(), "any".parse().unwrap()],
            tmpfs: vec!["/run".into()],
            stop_signal: Some("SIGQUIT".into()),
            read_only: true,
            user: Some("www:1000".into()),
            hostname: None,
        }
    }

    #[test]
    fn the_host_name_is_left_out_when_absent_and_checked_when_read() {
        let mut config = sample();
        assert!(!config.to_toml().contains("hostname"), "an image without one is as before");
        config.hostname = Some("db-1".into());
        let text = config.to_toml();
        assert!(text.contains("\nhostname = \"db-1\"\n"), "{text}");
        assert_eq!(RunConfig::from_toml(&text).unwrap().hostname.as_deref(), Some("db-1"));
        config.hostname = Some("db_1".into());
        let err = RunConfig::from_toml(&config.to_toml()).unwrap_err().to_string();
        assert!(err.contains("`hostname` is \"db_1\", which is not a host name"), "{err}");
    }

    #[test]
    fn the_user_is_a_spec_left_out_when_absent_and_checked_when_read() {
        let mut config = sample();
        let text = config.to_toml();
        assert!(text.contains("\nuser = \"www:1000\"\n"), "{text}");
        let read = RunConfig::from_toml(&text).unwrap();
        assert_eq!(read.user().map(|u| u.to_string()).as_deref(), Some("www:1000"));
        config.user = None;
        let text = config.to_toml();
        assert!(!text.contains("user"), "an image without one is as before: {text}");
        assert_eq!(RunConfig::from_toml(&text).unwrap().user(), None, "root");
        for (bad, expected) in [("www:", "not a user spec"), ("a b", "not a user spec"), ("007", "expected \"7\"")] {
            config.user = Some(bad.into());
            let err = RunConfig::from_toml(&config.to_toml()).unwrap_err();
            assert!(err.to_string().contains(expected), "{bad}: {err}");
        }
        let err = RunConfig::from_toml(&sample().to_toml().replace("\"www:1000\"", "1000")).unwrap_err();
        assert!(matches!(err, ManifestError::RunConfigSyntax { .. }), "a number is not a spec: {err}");
    }

    #[test]
    fn an_image_written_before_the_newer_keys_reads_with_their_defaults() {
        // The document of an image built by a uvm that knew none of cpus, ports, egress,
        // tmpfs, stop_signal, read_only and user.
        let text = "name = \"hello\"\nbinary_name = \"hello\"\nguest_path = \"/bin/hello\"\nargs = []\nworkdir = \"/\"\nmemory_mib = 64\n\n[env]\n";
        let config = RunConfig::from_toml(text).unwrap();
        assert_eq!((config.cpus, config.stop_signal(), config.read_only, config.user()), (None, None, false, None));
        assert!(config.ports.is_empty() && config.egress.is_empty() && config.tmpfs.is_empty());
        assert_eq!(config.to_toml(), text, "and writes back the same bytes");
    }

    #[test]
    fn a_read_only_root_is_stored_only_when_asked_for() {
        let mut config = sample();
        assert!(config.to_toml().contains("\nread_only = true\n"), "{}", config.to_toml());
        assert!(RunConfig::from_toml(&config.to_toml()).unwrap().read_only);
        config.read_only = false;
        assert!(!config.to_toml().contains("read_only"), "an image with a writable root is as before");
        assert!(!RunConfig::from_toml(&config.to_toml()).unwrap().read_only);
        let text = config.to_toml().replace("[env]", "read_only = \"yes\"\n\n[env]");
        assert!(RunConfig::from_toml(&text).is_err());
    }

    #[test]
    fn round_trips_and_is_deterministic() {
        let config = sample();
        let text = config.to_toml();
        assert_eq!(text, config.clone().to_toml());
        assert_eq!(RunConfig::from_toml(&text).unwrap(), config);
        // Insertion order of env does not matter.
        let mut other = config.clone();
        other.env = config.env.iter().rev().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(other.to_toml(), text);
    }

    #[test]
    fn the_stop_signal_is_a_name_left_out_when_absent_and_checked_when_read() {
        let mut config = sample();
        assert!(config.to_toml().contains("stop_signal = \"SIGQUIT\""));
        assert_eq!(config.stop_signal(), Some(3));
        config.stop_signal = None;
        assert!(!config.to_toml().contains("stop_signal"), "an image without one is as before");
        assert_eq!(config.stop_signal(), None);
        for bad in ["quit", "3", "SIGSTOP", "SIGNOPE"] {
            config.stop_signal = Some(bad.into());
            assert!(RunConfig::from_toml(&config.to_toml()).is_err(), "{bad}");
        }
    }

    #[test]
    fn tmpfs_is_left_out_when_empty_and_checked_when_read() {
        let mut config = sample();
        assert!(config.to_toml().contains("tmpfs = [\"/run\"]"));
        config.tmpfs.clear();
        assert!(!config.to_toml().contains("tmpfs"), "an image without tmpfs mounts is as before");
        for bad in ["/run/", "/tmp/x", "/"] {
            config.tmpfs = vec![bad.into()];
            assert!(RunConfig::from_toml(&config.to_toml()).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpus_is_optional_and_left_out_when_absent() {
        let mut config = sample();
        config.cpus = None;
        let text = config.to_toml();
        assert!(!text.contains("cpus"), "{text}");
        assert_eq!(RunConfig::from_toml(&text).unwrap(), config);
        let mut bad = sample();
        bad.cpus = Some(0);
        assert!(matches!(RunConfig::from_toml(&bad.to_toml()), Err(ManifestError::CpusOutOfRange { .. })));
    }

    #[test]
    fn empty_lists_round_trip() {
        let mut config = sample();
        config.args.clear();
        config.env.clear();
        config.ports.clear();
        config.egress.clear();
        assert_eq!(RunConfig::from_toml(&config.to_toml()).unwrap(), config);
    }

    #[test]
    fn network_settings_are_stored_as_flag_syntax_and_only_when_present() {
        let text = sample().to_toml();
        assert!(text.contains("ports = [\"8080:80\", \"[::1]:5353:53/udp\"]"), "{text}");
        assert!(text.contains("egress = [\"10.0.0.0/8:5432\", \"any\"]"), "{text}");

        let mut without = sample();
        without.ports.clear();
        without.egress.clear();
        let text = without.to_toml();
        assert!(!text.contains("ports") && !text.contains("egress"), "{text}");
        assert_eq!(RunConfig::from_toml(&text).unwrap().network(), NetworkConfig::default());
    }

    #[test]
    fn rejects_bad_or_clashing_network_settings() {
        let text = sample().to_toml().replace("\"8080:80\"", "\"8080:0\"");
        let err = RunConfig::from_toml(&text).unwrap_err();
        assert!(matches!(err, ManifestError::RunConfigSyntax { .. }), "{err}");
        assert!(err.to_string().contains("port mapping `8080:0` is not valid"), "{err}");

        let text = sample().to_toml().replace("\"any\"", "\"10.0.0.1/8\"");
        let err = RunConfig::from_toml(&text).unwrap_err();
        assert!(err.to_string().contains("egress rule `10.0.0.1/8` is not valid"), "{err}");

        let mut bad = sample();
        bad.ports.push("8080:81".parse().unwrap());
        let err = RunConfig::from_toml(&bad.to_toml()).unwrap_err();
        assert!(matches!(err, ManifestError::Network { .. }), "{err}");
        assert!(err.to_string().contains("both bind host port 8080/tcp"), "{err}");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let text = sample().to_toml();
        let err = RunConfig::from_toml(&format!("extra = 1\n{text}")).unwrap_err();
        assert!(matches!(err, ManifestError::RunConfigSyntax { .. }), "{err}");
        assert!(err.to_string().contains("extra"), "{err}");

        let mut bad = sample();
        bad.guest_path = "/usr/bin/hello".into();
        let err = RunConfig::from_toml(&bad.to_toml()).unwrap_err();
        assert!(matches!(err, ManifestError::RunConfigInconsistent { key: "guest_path", .. }), "{err}");

        let mut bad = sample();
        bad.binary_name = "a/b".into();
        bad.guest_path = "/bin/a/b".into();
        assert!(matches!(
            RunConfig::from_toml(&bad.to_toml()),
            Err(ManifestError::RunConfigInconsistent { key: "binary_name", .. })
        ));

        let mut bad = sample();
        bad.memory_mib = 1;
        assert!(matches!(RunConfig::from_toml(&bad.to_toml()), Err(ManifestError::MemoryOutOfRange { .. })));

        let mut bad = sample();
        bad.workdir = "/srv/".into();
        assert!(matches!(
            RunConfig::from_toml(&bad.to_toml()),
            Err(ManifestError::RunConfigInconsistent { key: "workdir", .. })
        ));

        let mut bad = sample();
        bad.args.push("a\0b".into());
        let err = RunConfig::from_toml(&bad.to_toml()).unwrap_err();
        assert!(err.to_string().contains("`args` item 3"), "{err}");
    }
}
