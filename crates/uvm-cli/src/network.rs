//! The VM's network settings for `uvm run`: the image's published ports and egress rules (from
//! its manifest) joined by those of `-p/--publish` and `--egress`.
//!
//! The flags are parsed first, before the image is opened, so a bad value is reported at
//! once; they are joined to the image's settings once its run configuration is read. A port
//! that clashes with another is reported with where each came from.

use anyhow::{anyhow, Result};
use uvm_manifest::RunConfig;
use uvm_net::{EgressRule, NetConfigError, NetworkConfig, PortMapping};

use crate::cli::RunArgs;

/// The network flags of `uvm run`, parsed.
#[derive(Clone, Debug, Default)]
pub struct NetworkFlags {
    /// `-p/--publish` values, in order.
    pub ports: Vec<PortMapping>,
    /// `--egress` values, in order.
    pub egress: Vec<EgressRule>,
}

impl NetworkFlags {
    /// Parses `-p/--publish` and `--egress`. An error names the flag, the value and the fix.
    pub fn parse(args: &RunArgs) -> Result<NetworkFlags> {
        let ports = args
            .publish
            .iter()
            .map(|value| value.parse().map_err(|e: NetConfigError| anyhow!("`-p/--publish {value}`: {e}")))
            .collect::<Result<Vec<PortMapping>>>()?;
        let egress = args
            .egress
            .iter()
            .map(|value| value.parse().map_err(|e: NetConfigError| anyhow!("`--egress {value}`: {e}")))
            .collect::<Result<Vec<EgressRule>>>()?;
        Ok(NetworkFlags { ports, egress })
    }

    /// The image's settings followed by these. A clash between two published ports (the
    /// image's or these) is an error naming both and where each came from.
    pub fn join(&self, config: &RunConfig) -> Result<NetworkConfig> {
        let image_ports = config.ports.len();
        let ports = config.ports.iter().chain(&self.ports).copied().collect();
        let egress = config.egress.iter().chain(&self.egress).copied().collect();
        NetworkConfig::new(ports, egress).map_err(|error| match error {
            NetConfigError::PortClash { first_index, second_index, first, second, clash } => anyhow!(
                "{} and {} {}",
                source(second_index, &second, image_ports),
                source(first_index, &first, image_ports),
                clash.explain(&second, &first)
            ),
            error => anyhow!("{error}"),
        })
    }
}

/// Where published port `index` of the joined list came from: "the image's [[ports]] entry 1
/// (`8080:80`)" or "`-p 8080:80`".
fn source(index: usize, mapping: &PortMapping, image_ports: usize) -> String {
    if index < image_ports {
        format!("the image's [[ports]] entry {} (`{mapping}`)", index + 1)
    } else {
        format!("`-p {mapping}`")
    }
}

/// The ports and egress rules, one per line with `indent`, for `uvm inspect`.
pub fn describe(network: &NetworkConfig, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if network.ports.is_empty() {
        lines.push(format!("{indent}ports:  none published"));
    }
    for port in &network.ports {
        let host = match port.host_ip {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        lines.push(format!(
            "{indent}port:   host {host}:{} -> guest {}/{}  (-p {port})",
            port.host_port, port.guest_port, port.proto
        ));
    }
    if network.egress.rules.is_empty() {
        lines.push(format!("{indent}egress: none (the app reaches nothing outside the VM)"));
    }
    for rule in &network.egress.rules {
        lines.push(format!("{indent}egress: {rule}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(publish: &[&str], egress: &[&str]) -> RunArgs {
        RunArgs {
            target: None,
            env: Vec::new(),
            env_file: Vec::new(),
            workdir: None,
            entrypoint: None,
            hostname: None,
            memory_mib: None,
            cpus: None,
            publish: publish.iter().map(|s| s.to_string()).collect(),
            egress: egress.iter().map(|s| s.to_string()).collect(),
            volume: Vec::new(),
            tmpfs: Vec::new(),
            read_only: false,
            no_hot_pages: false,
            trace_syscalls: false,
            timings: false,
            timeout: None,
            stop_timeout: None,
            stop_signal: None,
            user: None,
            interactive: false,
            tty: false,
            command: Vec::new(),
            args: Vec::new(),
        }
    }

    fn image_config(ports: &[&str], egress: &[&str]) -> RunConfig {
        let mut config = RunConfig::from_toml(
            "name = \"app\"\nbinary_name = \"app\"\nguest_path = \"/bin/app\"\nargs = []\nworkdir = \"/\"\nmemory_mib = 64\n[env]\n",
        )
        .expect("a valid run configuration");
        config.ports = ports.iter().map(|p| p.parse().unwrap()).collect();
        config.egress = egress.iter().map(|r| r.parse().unwrap()).collect();
        config
    }

    #[test]
    fn flags_join_the_image_settings() {
        let flags = NetworkFlags::parse(&run_args(&["9090:90/udp"], &["host:5432"])).unwrap();
        let network = flags.join(&image_config(&["8080:80"], &["10.0.0.0/8"])).unwrap();
        let ports: Vec<String> = network.ports.iter().map(ToString::to_string).collect();
        assert_eq!(ports, ["8080:80", "9090:90/udp"]);
        let rules: Vec<String> = network.egress.rules.iter().map(ToString::to_string).collect();
        assert_eq!(rules, ["10.0.0.0/8", "10.0.2.2:5432"]);
        let none = NetworkFlags::parse(&run_args(&[], &[])).unwrap().join(&image_config(&[], &[])).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn bad_flags_name_the_flag_the_value_and_the_fix() {
        let err = NetworkFlags::parse(&run_args(&["8080:80", "80"], &[])).unwrap_err().to_string();
        assert!(err.starts_with("`-p/--publish 80`: port mapping `80` is not valid: "), "{err}");
        assert!(err.contains("write [IP:]HOST:GUEST[/udp]"), "{err}");
        let err = NetworkFlags::parse(&run_args(&[], &["10.0.0.1/8"])).unwrap_err().to_string();
        assert!(err.starts_with("`--egress 10.0.0.1/8`: egress rule `10.0.0.1/8` is not valid: "), "{err}");
        assert!(err.contains("write `10.0.0.0/8`"), "{err}");
    }

    #[test]
    fn clashes_name_both_sources() {
        let flags = NetworkFlags::parse(&run_args(&["8080:81"], &[])).unwrap();
        let err = flags.join(&image_config(&["9090:90", "8080:80"], &[])).unwrap_err().to_string();
        assert_eq!(
            err,
            "`-p 8080:81` and the image's [[ports]] entry 2 (`8080:80`) both bind host port 8080/tcp on 0.0.0.0; give each its own host port"
        );
        let flags = NetworkFlags::parse(&run_args(&["8080:80", "8081:80"], &[])).unwrap();
        let err = flags.join(&image_config(&[], &[])).unwrap_err().to_string();
        assert!(err.starts_with("`-p 8081:80` and `-p 8080:80` both lead to guest port 80/tcp"), "{err}");
    }

    #[test]
    fn describe_lists_ports_and_rules() {
        let network = image_config(&["8080:80", "[::1]:5353:53/udp"], &["any"]).network();
        assert_eq!(
            describe(&network, "  "),
            [
                "  port:   host 0.0.0.0:8080 -> guest 80/tcp  (-p 8080:80)",
                "  port:   host [::1]:5353 -> guest 53/udp  (-p [::1]:5353:53/udp)",
                "  egress: any",
            ]
        );
        assert_eq!(
            describe(&NetworkConfig::default(), ""),
            ["ports:  none published", "egress: none (the app reaches nothing outside the VM)"]
        );
    }
}
