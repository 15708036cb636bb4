//! `uvm run --hostname NAME`: the name checked (docker's rule: dot-separated labels of
//! letters, digits and inner hyphens), and what the guest is told: uname's nodename, and the
//! line that makes the name resolve in the VM (the VM's address and NAME, appended to the
//! image's `/etc/hosts`, as docker's generated `/etc/hosts` names a container's host name).

use std::net::Ipv4Addr;

use anyhow::{bail, Result};
use uvm_abi::net::GUEST_ADDRESS_V4;

use crate::guest_etc::GUEST_HOSTNAME;

/// The longest host name (Linux's `__NEW_UTS_LEN`, what `sethostname` takes).
const HOSTNAME_MAX: usize = 64;

/// The guest's host name for `name` (`--hostname`): `None` for the default, which the
/// image's generated `/etc/hosts` names already. With a read-only root nothing is appended
/// (the guest could not), so the name does not resolve there.
pub fn host_name(name: &str, read_only_root: bool) -> Result<Option<uvm_vmm::HostName>> {
    check(name)?;
    if name == GUEST_HOSTNAME {
        return Ok(None);
    }
    let (append_to, line) = if read_only_root {
        (String::new(), String::new())
    } else {
        ("/etc/hosts".to_owned(), format!("{}\t{name}\n", Ipv4Addr::from(GUEST_ADDRESS_V4)))
    };
    Ok(Some(uvm_vmm::HostName { name: name.to_owned(), append_to, line }))
}

/// Checks `name` as docker checks `--hostname`: at most 64 bytes, dot-separated labels of 1
/// to 63 ASCII letters, digits and hyphens, none starting or ending with a hyphen.
fn check(name: &str) -> Result<()> {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.is_empty() || name.len() > HOSTNAME_MAX || !name.split('.').all(label_ok) {
        bail!(
            "`--hostname` is {name:?}: a host name is 1 to {HOSTNAME_MAX} characters, labels of letters, digits \
             and inner hyphens joined by dots (`web`, `api-1.internal`)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_as_docker_does() {
        for good in ["web", "api-1.internal", "a", "x".repeat(63).as_str(), "UPPER.case-9"] {
            assert!(check(good).is_ok(), "{good}");
        }
        let long = format!("{}.{}", "a".repeat(40), "b".repeat(30));
        for bad in ["", "-web", "web-", "a..b", ".web", "web.", "we b", "wéb", "a_b", "x".repeat(64).as_str(), &long] {
            let err = check(bad).expect_err(bad).to_string();
            assert!(err.contains("`--hostname` is") && err.contains("labels of letters"), "{err}");
        }
    }

    #[test]
    fn another_name_joins_the_images_hosts_file_unless_the_root_is_read_only() {
        let host = host_name("web", false).unwrap().unwrap();
        assert_eq!((host.name.as_str(), host.append_to.as_str()), ("web", "/etc/hosts"));
        assert_eq!(host.line, "10.0.2.15\tweb\n");
        let read_only = host_name("web", true).unwrap().unwrap();
        assert_eq!((read_only.append_to.as_str(), read_only.line.as_str()), ("", ""));
        assert_eq!(host_name(GUEST_HOSTNAME, false).unwrap(), None, "the default needs nothing");
        assert!(host_name("bad name", false).is_err());
    }
}
