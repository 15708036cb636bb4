//! The VM's host name: `[vm] hostname` (the image's, which its generated `/etc/hosts` names)
//! or `uvm run --hostname NAME` (checked by docker's rule, `uvm_manifest::check_hostname`),
//! and what the guest is told: uname's nodename, and for a name the image's `/etc/hosts` does
//! not list, the line that makes it resolve in the VM (the VM's address and NAME, appended to
//! that file at boot, as docker's generated `/etc/hosts` names a container's host name).

use std::net::Ipv4Addr;

use anyhow::Result;
use uvm_abi::net::GUEST_ADDRESS_V4;

use crate::guest_etc::GUEST_HOSTNAME;

/// The guest's host name: `flag` (`--hostname`) or else the image's (`image`, `[vm]
/// hostname`); `None` for the default, `uvm`. A name other than the one the image's
/// generated `/etc/hosts` lists is appended to it, unless the root is read-only (the guest
/// could not), where the name then does not resolve.
pub fn host_name(flag: Option<&str>, image: Option<&str>, read_only_root: bool) -> Result<Option<uvm_vmm::HostName>> {
    let listed = image.unwrap_or(GUEST_HOSTNAME);
    let Some(name) = flag.or(image) else { return Ok(None) };
    if flag.is_some() {
        uvm_manifest::check_hostname(name, "`--hostname`")?;
    }
    if name == GUEST_HOSTNAME && image.is_none() {
        return Ok(None);
    }
    let (append_to, line) = if name == listed || read_only_root {
        (String::new(), String::new())
    } else {
        ("/etc/hosts".to_owned(), format!("{}\t{name}\n", Ipv4Addr::from(GUEST_ADDRESS_V4)))
    };
    Ok(Some(uvm_vmm::HostName { name: name.to_owned(), append_to, line }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_is_checked_as_docker_checks_it() {
        for bad in ["", "-web", "web-", "a..b", "we b", "a_b", "x".repeat(65).as_str()] {
            let err = host_name(Some(bad), None, false).expect_err(bad).to_string();
            assert!(err.contains("`--hostname` is") && err.contains("not a host name"), "{err}");
        }
        assert!(host_name(Some("api-1.internal"), None, false).is_ok());
    }

    #[test]
    fn a_name_the_images_hosts_file_lacks_is_appended_to_it_unless_the_root_is_read_only() {
        let host = host_name(Some("web"), None, false).unwrap().unwrap();
        assert_eq!((host.name.as_str(), host.append_to.as_str()), ("web", "/etc/hosts"));
        assert_eq!(host.line, "10.0.2.15\tweb\n");
        let read_only = host_name(Some("web"), None, true).unwrap().unwrap();
        assert_eq!((read_only.append_to.as_str(), read_only.line.as_str()), ("", ""));
        assert_eq!(host_name(None, None, false).unwrap(), None, "the default needs nothing");
        assert_eq!(host_name(Some(GUEST_HOSTNAME), None, false).unwrap(), None, "nor the default named");
        let image = host_name(None, Some("db"), false).unwrap().unwrap();
        assert_eq!((image.name.as_str(), image.line.as_str()), ("db", ""), "the image's /etc/hosts names it");
        let other = host_name(Some("web"), Some("db"), false).unwrap().unwrap();
        assert_eq!(other.line, "10.0.2.15\tweb\n", "the flag over the image's");
        let back = host_name(Some("uvm"), Some("db"), false).unwrap().unwrap();
        assert_eq!((back.name.as_str(), back.line.as_str()), ("uvm", "10.0.2.15\tuvm\n"));
    }
}
