//! [`RunConfig`]: what `uvm run` needs to start the app, as stored inside an image.
//!
//! `uvm build` derives it from an [`AppConfig`] and stores it as TOML in the image's config
//! section; `uvm run` reads it back. Only the host reads it; the guest kernel gets the same
//! facts through its boot info. Reading it back applies the same value rules as the manifest,
//! so a damaged or hand-edited image is refused with a message rather than booted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ManifestError;
use crate::rules::{
    binary_guest_path, check_cpu_count, check_env_var, check_memory, check_name, check_no_nul, normalise_guest_path,
};
use crate::AppConfig;

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
        }
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
        Ok(())
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
        }
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
        assert_eq!(RunConfig::from_toml(&config.to_toml()).unwrap(), config);
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
