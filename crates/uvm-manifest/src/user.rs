//! [`UserSpec`]: the user the app runs as (`[app] user`, `uvm run -u/--user`), docker's
//! `USER` syntax: `UID`, `UID:GID`, `NAME`, `NAME:GROUP`, `UID:GROUP` or `NAME:GID`; and the
//! owner of a `[[files]]` entry (`owner`), docker's `COPY --chown`, which has the same syntax.
//!
//! This module owns the syntax only: a part of decimal digits is an id (a `u32`), anything
//! else a name as /etc/passwd and /etc/group allow it (not empty, no `:`, no whitespace, no
//! NUL). Names are looked up in the image's own /etc/passwd and /etc/group, by `uvm run` for
//! the app's user and by `uvm build` for an owner, not here (and by different rules: a numeric
//! owner without a group gets its uid as its gid, as `COPY --chown` gives it).

use std::fmt;

use crate::error::ManifestError;

/// A user or group as a spec names it: by number or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdOrName {
    /// A decimal id.
    Id(u32),
    /// A name, to be looked up in the image's /etc/passwd or /etc/group.
    Name(String),
}

impl fmt::Display for IdOrName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdOrName::Id(id) => write!(f, "{id}"),
            IdOrName::Name(name) => f.write_str(name),
        }
    }
}

/// A checked user spec: `USER[:GROUP]`, each part an id or a name. Its `Display` is the spec
/// as written, but for leading zeros of an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSpec {
    /// The user.
    pub user: IdOrName,
    /// The group, when the spec names one (`:GROUP`); otherwise the user's primary group.
    pub group: Option<IdOrName>,
}

impl fmt::Display for UserSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.group {
            Some(group) => write!(f, "{}:{group}", self.user),
            None => write!(f, "{}", self.user),
        }
    }
}

impl UserSpec {
    /// Root: uid 0, gid 0, no supplementary groups (the default).
    pub const ROOT: UserSpec = UserSpec { user: IdOrName::Id(0), group: None };
}

/// The id Linux reserves as "no change" (`(uid_t)-1`): no user or group may have it.
const RESERVED_ID: u32 = u32::MAX;

/// Reads a user spec from `at` (the manifest path and key, or the flag), which the error
/// names.
pub(crate) fn check_user(value: &str, at: &str) -> Result<UserSpec, ManifestError> {
    let bad = |why: String| ManifestError::User { at: at.to_owned(), value: value.to_owned(), why };
    let (user, group) = match value.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (value, None),
    };
    let user = id_or_name(user, "user").map_err(bad)?;
    let group = group.map(|group| id_or_name(group, "group")).transpose().map_err(bad)?;
    Ok(UserSpec { user, group })
}

/// One part of a spec (`what`: "user" or "group"): all digits is an id, anything else a name.
fn id_or_name(part: &str, what: &str) -> Result<IdOrName, String> {
    if part.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if part.bytes().all(|b| b.is_ascii_digit()) {
        return match part.parse::<u32>() {
            Ok(RESERVED_ID) => Err(format!("{what} id {RESERVED_ID} is (uid_t)-1, which Linux reserves")),
            Ok(id) => Ok(IdOrName::Id(id)),
            Err(_) => Err(format!("{what} id {part} is more than {} (ids are 32-bit)", RESERVED_ID - 1)),
        };
    }
    if let Some(c) = part.chars().find(|&c| c == ':' || c == '\0' || c.is_whitespace()) {
        let c = match c {
            ':' => "':' (the spec has more than one)".to_owned(),
            '\0' => "a NUL byte".to_owned(),
            c => format!("whitespace ({c:?})"),
        };
        return Err(format!("the {what} name {part:?} contains {c}"));
    }
    Ok(IdOrName::Name(part.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(value: &str) -> UserSpec {
        check_user(value, "`--user`").unwrap_or_else(|e| panic!("{value}: {e}"))
    }

    fn error(value: &str) -> String {
        match check_user(value, "`--user`") {
            Ok(spec) => panic!("{value:?} accepted as {spec:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_docker_form_is_read() {
        let id = IdOrName::Id;
        let name = |n: &str| IdOrName::Name(n.to_owned());
        for (value, user, group) in [
            ("0", id(0), None),
            ("1000", id(1000), None),
            ("1000:100", id(1000), Some(id(100))),
            ("www", name("www"), None),
            ("www:staff", name("www"), Some(name("staff"))),
            ("1000:staff", id(1000), Some(name("staff"))),
            ("www:100", name("www"), Some(id(100))),
            ("007", id(7), None),
            ("4294967294", id(4294967294), None),
            ("-1", name("-1"), None),
            ("user.name-1_x$", name("user.name-1_x$"), None),
            ("ünïcode", name("ünïcode"), None),
        ] {
            assert_eq!(spec(value), UserSpec { user, group }, "{value}");
        }
        assert_eq!(spec("www:staff").to_string(), "www:staff");
        assert_eq!(spec("007:010").to_string(), "7:10");
        assert_eq!(UserSpec::ROOT.to_string(), "0");
    }

    #[test]
    fn bad_specs_are_named_with_the_fix() {
        for (value, why) in [
            ("", "the user is empty"),
            (":100", "the user is empty"),
            ("www:", "the group is empty"),
            ("a:b:c", "the group name \"b:c\" contains ':'"),
            ("www data", "the user name \"www data\" contains whitespace (' ')"),
            ("www:st\taff", "the group name \"st\\taff\" contains whitespace ('\\t')"),
            ("www\0", "contains a NUL byte"),
            ("4294967296", "user id 4294967296 is more than 4294967294"),
            ("1:99999999999999999999", "group id 99999999999999999999 is more than"),
            ("4294967295", "user id 4294967295 is (uid_t)-1"),
        ] {
            let message = error(value);
            assert!(message.starts_with(&format!("`--user` is {value:?}, which is not a user spec: ")), "{message}");
            assert!(message.contains(why), "{value:?}: {message}");
            assert!(message.contains("e.g. \"1000\", \"1000:1000\", \"www\" or \"www:www\""), "{message}");
        }
    }
}
