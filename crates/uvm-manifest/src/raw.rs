//! The manifest exactly as written: serde structs that mirror app.toml key for key.
//!
//! Every struct denies unknown fields, so a misspelt key is an error rather than silently
//! ignored. Types are as wide as TOML's (integers are `i64`) so that an out-of-range number
//! reaches the validator, which names the allowed range, instead of failing inside serde.
//! Nothing here is checked beyond TOML types and required keys: see [`crate::validate`].

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawManifest {
    /// Manifest format version; only [`crate::FORMAT_VERSION`] is accepted.
    pub version: Option<i64>,
    /// `[app]`: what to run.
    pub app: RawApp,
    /// `[[files]]`: host files and directories to copy into the image.
    #[serde(default)]
    pub files: Vec<RawFile>,
    /// `[vm]`: the VM's resources.
    #[serde(default)]
    pub vm: RawVm,
    /// `[[ports]]`: guest ports published on the host.
    #[serde(default)]
    pub ports: Vec<RawPort>,
    /// `[network]`: what the app may reach.
    #[serde(default)]
    pub network: RawNetwork,
}

/// `[app]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApp {
    pub name: String,
    pub binary: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    pub stop_signal: Option<String>,
    pub user: Option<String>,
}

/// One `[[files]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub src: String,
    pub dst: String,
    pub owner: Option<String>,
    pub mode: Option<String>,
}

/// `[vm]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVm {
    pub memory_mib: Option<i64>,
    pub cpus: Option<i64>,
    pub tmpfs: Option<Vec<String>>,
    pub read_only: Option<bool>,
    pub hostname: Option<String>,
}

/// One `[[ports]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPort {
    pub host: i64,
    pub guest: i64,
    pub proto: Option<String>,
    pub host_ip: Option<String>,
}

/// `[network]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNetwork {
    #[serde(default)]
    pub egress: Vec<String>,
}

/// The TOML parser's report for `error`, with serde's Rust type names replaced by the TOML
/// words a manifest author knows ("i64" becomes "an integer", "struct RawApp" "a table").
pub(crate) fn describe_toml_error(error: &toml::de::Error) -> String {
    const WORDS: [(&str, &str); 9] = [
        ("expected i64", "expected an integer"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
        ("expected struct RawManifest", "expected a table"),
        ("expected struct RawApp", "expected a table"),
        ("expected struct RawFile", "expected a table"),
        ("expected struct RawVm", "expected a table"),
        ("expected struct RawPort", "expected a table"),
        ("expected struct RawNetwork", "expected a table"),
    ];
    let mut message = error.to_string().trim_end().to_owned();
    for (rust, toml) in WORDS {
        message = message.replace(rust, toml);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_for(text: &str) -> String {
        match toml::from_str::<RawManifest>(text) {
            Ok(raw) => panic!("accepted: {raw:?}"),
            Err(e) => describe_toml_error(&e),
        }
    }

    #[test]
    fn type_errors_use_toml_words() {
        let app = "[app]\nname = \"a\"\nbinary = \"b\"\n";
        for (text, expected) in [
            ("app = 5".to_owned(), "invalid type: integer `5`, expected a table"),
            (format!("{app}args = \"x\""), "expected an array"),
            (format!("{app}env = [\"x\"]"), "expected a table"),
            (format!("{app}[vm]\nmemory_mib = 1.5"), "expected an integer"),
            (format!("{app}[files]\nsrc = \"a\"\ndst = \"/a\""), "expected an array"),
            (format!("{app}[[files]]\nsrc = 1\ndst = \"/a\""), "expected a string"),
            (format!("{app}[[ports]]\nhost = \"8080\"\nguest = 80"), "expected an integer"),
            (format!("{app}[network]\negress = \"any\""), "expected an array"),
            (format!("ports = 5\n{app}"), "expected an array"),
            // serde reads a struct from an array by position, so this one is reported at the
            // first field; the line still points at `[[vm]]`.
            (format!("{app}[[vm]]\nmemory_mib = 64"), "line 4"),
        ] {
            let message = error_for(&text);
            assert!(message.contains(expected), "{text:?}: {message}");
            assert!(!message.contains("Raw") && !message.contains("i64"), "{text:?}: {message}");
        }
    }

    #[test]
    fn unknown_and_missing_keys_are_named() {
        let message = error_for("[app]\nname = \"a\"\nbinary = \"b\"\n[[files]]\nsrc = \"a\"\ndst = \"/a\"\nperms = 1");
        assert!(message.contains("unknown field `perms`, expected one of `src`, `dst`, `owner`, `mode`"), "{message}");
        assert!(message.contains("line 7"), "{message}");
        let message = error_for("[app]\nbinary = \"b\"");
        assert!(message.contains("missing field `name`"), "{message}");
        let message = error_for("[app]\nname = \"a\"\nbinary = \"b\"\n[network]\nmode = 1");
        assert!(message.contains("unknown field `mode`, expected `egress`"), "{message}");
        let message = error_for("[app]\nname = \"a\"\nbinary = \"b\"\n[[ports]]\nhost = 8080\nguest = 80\nport = 1");
        assert!(
            message.contains("unknown field `port`, expected one of `host`, `guest`, `proto`, `host_ip`"),
            "{message}"
        );
        let message = error_for("[app]\nname = \"a\"\nbinary = \"b\"\n[[ports]]\nhost = 8080");
        assert!(message.contains("missing field `guest`"), "{message}");
        let message = error_for("");
        assert!(message.contains("missing field `app`"), "{message}");
    }
}
