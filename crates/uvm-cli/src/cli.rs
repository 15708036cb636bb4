//! The command line (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// uvm turns one static Linux program into a micro-VM image and runs it on KVM.
#[derive(Parser, Debug)]
#[command(name = "uvm", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Package an app (its manifest, binary and files) into one image file.
    Build(BuildArgs),
    /// Boot an image (or a manifest, building it first) and run the app.
    Run(RunArgs),
    /// Show what an image holds.
    Inspect(InspectArgs),
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The app's manifest.
    #[arg(default_value = "app.toml")]
    pub manifest: PathBuf,
    /// Where to write the image (default: <name>.uvm beside the manifest).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// An image, or a manifest to build (when its image is missing or older than its inputs)
    /// and run. Default: the image of ./app.toml.
    pub target: Option<PathBuf>,
    /// Set an environment variable for the app (repeatable); overrides the manifest's.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Guest memory in MiB (overrides the manifest's [vm] memory_mib).
    #[arg(long, value_name = "MIB")]
    pub memory_mib: Option<u32>,
    /// How many app threads may run at once, 1 to 64 (overrides the manifest's [vm] cpus;
    /// default: the host's CPU count).
    #[arg(long, value_name = "N")]
    pub cpus: Option<u32>,
    /// Publish a guest port on the host (repeatable): [IP:]HOST:GUEST[/tcp|/udp], as docker's -p.
    ///
    /// The app's port GUEST (TCP unless /udp) is reached at port HOST of the host address IP
    /// (default 0.0.0.0, every IPv4 address; an IPv6 address goes in brackets). These ports
    /// join the manifest's [[ports]]; a clash with one of them, or between two -p, is an error.
    ///
    /// Examples:
    ///   -p 8080:80              host port 8080 reaches the app's port 80
    ///   -p 127.0.0.1:8080:80    the same, on the host's loopback only
    ///   -p [::1]:5353:53/udp    UDP, on the host's IPv6 loopback
    #[arg(short = 'p', long = "publish", value_name = "[IP:]HOST:GUEST", verbatim_doc_comment)]
    pub publish: Vec<String>,
    /// Allow the app to connect or send to a destination (repeatable): any, dns, or IP, CIDR or
    /// host, each with an optional :PORT.
    ///
    /// Without a rule, here or in the manifest's [network] egress, the app reaches nothing
    /// outside the VM. These rules join the manifest's. IPv6 goes in brackets.
    ///
    /// Examples:
    ///   --egress 10.0.0.0/8:5432          port 5432 anywhere in 10.0.0.0/8
    ///   --egress 0.0.0.0/0:443            port 443 of any IPv4 address
    ///   --egress host:6379                the host's own loopback (10.0.2.2 in the VM), port 6379
    ///   --egress dns                      the VM's DNS resolver (10.0.2.3:53), names resolve
    ///   --egress 192.0.2.7                every port of one address
    ///   --egress [2001:db8::/32]:443      port 443 in an IPv6 network
    ///   --egress any                      everywhere
    #[arg(long = "egress", value_name = "RULE", verbatim_doc_comment)]
    pub egress: Vec<String>,
    /// Print every system call of the app on stderr.
    #[arg(long)]
    pub trace_syscalls: bool,
    /// Print where the time went (boot phases and exit counts) on stderr.
    #[arg(long)]
    pub timings: bool,
    /// Stop the app after this long (e.g. 30, 30s, 500ms, 2m, 1h) with exit status 124.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Arguments for the app (replace the manifest's args).
    #[arg(last = true)]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The image.
    pub image: PathBuf,
    /// Also verify the SHA-256 digest of the whole image.
    #[arg(long)]
    pub verify: bool,
}

/// Parses a duration as timeout(1) does: a number with an optional unit (ms, s, m, h, d;
/// seconds when none), fractions allowed.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration; write e.g. 30s, 500ms, 2m"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86400.0,
        _ => return Err(format!("`{unit}` in `{text}` is not a unit; use ms, s, m, h or d")),
    };
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 1e9 {
        return Err(format!("`{text}` is not a positive duration"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_like_timeout() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("fast").unwrap_err().contains("not a duration"));
        assert!(parse_duration("3 weeks").is_err());
    }
}
