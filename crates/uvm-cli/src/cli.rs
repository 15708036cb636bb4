//! The command line: clap, and a direct reading of the plain `uvm run` that skips it.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// uvm turns one static Linux program into a micro-VM image and runs it on KVM.
#[derive(Parser, Debug)]
#[command(name = "uvm", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The command line `args` (the program's name first). The plain run command (`uvm run`,
    /// with or without a target and `-- ARGS`, no option) is read directly: clap builds its
    /// whole command tree (three commands, their options and help texts) before it parses, and
    /// skipping that makes every such start ~40 us faster here (musl hello 1.88 -> 1.84 ms,
    /// 500 rounds in random order, three copies of each binary). Everything else goes through
    /// clap, which also makes every error and help message; a unit test checks that both read
    /// the plain forms alike.
    pub fn from_args(args: Vec<OsString>) -> Cli {
        match plain_run(&args) {
            Some(run) => Cli { command: Command::Run(run) },
            None => Cli::parse_from(args).with_command_as_args(),
        }
    }

    /// A run's command after its target (docker's form, `uvm run IMAGE CMD ARGS...`, where
    /// everything from the command's first word on is the app's, `--` included) becomes its
    /// app arguments, as those after `--` are.
    fn with_command_as_args(mut self) -> Cli {
        if let Command::Run(run) = &mut self.command {
            if !run.command.is_empty() {
                let mut args = core::mem::take(&mut run.command);
                args.append(&mut run.args);
                run.args = args;
            }
        }
        self
    }
}

/// `uvm run [TARGET] [-- ARGS...]` or `uvm run TARGET COMMAND [ARGS...]` with no option, as
/// clap reads them; `None` for anything else: another command, an option, a target that
/// starts with `-` or is empty, an app argument that is not UTF-8.
fn plain_run(args: &[OsString]) -> Option<RunArgs> {
    let [_, command, rest @ ..] = args else { return None };
    if command != "run" {
        return None;
    }
    let (target, app_args) = match rest {
        [] => (None, &[][..]),
        [separator, app @ ..] if separator == "--" => (None, app),
        [target] => (Some(target), &[][..]),
        [target, separator, app @ ..] if separator == "--" => (Some(target), app),
        // Docker's form: from the command's first word on, everything is the app's.
        [target, app @ ..] if !app[0].as_encoded_bytes().starts_with(b"-") => (Some(target), app),
        _ => return None,
    };
    if target.is_some_and(|t| t.is_empty() || t.as_encoded_bytes().starts_with(b"-")) {
        return None;
    }
    let args = app_args.iter().map(|a| a.to_str().map(str::to_owned)).collect::<Option<Vec<_>>>()?;
    Some(RunArgs {
        target: target.map(PathBuf::from),
        env: Vec::new(),
        env_file: Vec::new(),
        workdir: None,
        entrypoint: None,
        hostname: None,
        memory_mib: None,
        cpus: None,
        publish: Vec::new(),
        egress: Vec::new(),
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
        args,
    })
}

// One `Command` per process, made once: the run variant's size costs nothing, a box would
// cost an allocation on the start path.
#[allow(clippy::large_enum_variant)]
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

#[derive(Args, Debug, Clone, PartialEq)]
pub struct RunArgs {
    /// An image, or a manifest to build (when its image is missing or older than its inputs)
    /// and run, or a static program to run without a manifest (packed alone into an image in
    /// uvm's cache). Default: the image of ./app.toml.
    pub target: Option<PathBuf>,
    /// Set an environment variable for the app (repeatable); overrides the manifest's and the
    /// env files'. KEY alone takes the value KEY has here (left unset if it has none), as
    /// docker's -e.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables for the app from a file (repeatable), as docker's
    /// --env-file: a NAME=VALUE a line (the value as written, quotes included), NAME alone for
    /// the value it has here, # comments; overrides the manifest's, -e overrides these.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// The app's working directory (an absolute path), as docker's -w; overrides the
    /// manifest's [app] workdir. Made in the VM if the image lacks it (not with --read-only).
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// Run PROGRAM instead of the image's app, as docker's --entrypoint: a path in the VM, or
    /// a name looked up in the app's PATH. Its arguments are those after --, not the
    /// manifest's args (an image's app and args both give way, as docker's ENTRYPOINT and
    /// CMD do). It exits 127 if there is no such program, 126 if it cannot run.
    ///
    /// Example:
    ///   uvm run --entrypoint /bin/sh app.uvm -- -c 'ls /etc'
    #[arg(long, value_name = "PROGRAM", verbatim_doc_comment)]
    pub entrypoint: Option<String>,
    /// The VM's host name, as docker's --hostname (overrides the manifest's [vm] hostname;
    /// default: uvm): what uname and hostname report, and a name the app resolves to the VM's
    /// address (added to its /etc/hosts; not with --read-only).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
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
    /// Mount a host directory into the VM (repeatable): HOST:GUEST[:ro|:rw], as docker's -v.
    ///
    /// The app sees the host directory HOST (relative to the current directory) at the
    /// absolute path GUEST, read-only with :ro. Reads and writes go straight to the host files.
    /// Directories on GUEST's path the image lacks are made in the VM, as docker makes mount
    /// points (with --read-only GUEST's parent must be a directory of the image, or /); /proc,
    /// /dev and /tmp are the guest kernel's own. At most 16 volumes.
    ///
    /// Examples:
    ///   -v ./data:/data             the app reads and writes ./data at /data
    ///   -v /etc/myapp:/config:ro    configuration the app may only read
    #[arg(short = 'v', long = "volume", value_name = "HOST:GUEST[:ro]", verbatim_doc_comment)]
    pub volume: Vec<String>,
    /// Mount a new, empty tmpfs at PATH (repeatable), as docker's --tmpfs: a directory in
    /// the VM's memory, like /tmp, that starts empty whatever the image has there, and stays
    /// writable with --read-only (/run, /var/cache/...). Directories on PATH the image lacks
    /// are made, as for a volume.
    ///
    /// Example:
    ///   --tmpfs /run --tmpfs /var/cache/nginx
    #[arg(long = "tmpfs", value_name = "PATH", verbatim_doc_comment)]
    pub tmpfs: Vec<String>,
    /// Keep the root file system read-only, as docker's --read-only: a change outside /tmp,
    /// the tmpfs mounts and volumes fails with EROFS. Without it (unless the manifest's [vm]
    /// read_only says so) the app may change any file; changes live in the VM's memory and
    /// are gone when it ends.
    #[arg(long)]
    pub read_only: bool,
    /// Neither copy the app's hot pages into the VM nor learn them (nor the fresh memory an
    /// earlier start used, which is otherwise backed ahead): every page of the image stays
    /// shared with other VMs through the page cache from the start (the copies are otherwise
    /// given back a second after boot; ~0.5 MiB per VM for a glibc app until then), and the
    /// start takes a page fault for each page of its code and read-only data
    /// it touches (a glibc hello ~13% slower where faults are dear). An app whose code and
    /// read-only data span whole 2 MiB chunks (Go and other services from ~4 MB) then has those
    /// mapped with large pages where the host allows: one fault a chunk, shared too.
    #[arg(long)]
    pub no_hot_pages: bool,
    /// Print every system call of the app on stderr.
    #[arg(long)]
    pub trace_syscalls: bool,
    /// Print where the time went (boot phases and exit counts) on stderr.
    #[arg(long)]
    pub timings: bool,
    /// End the app after this long (e.g. 30, 30s, 500ms, 2m, 1h), as timeout(1) does: it is
    /// sent SIGTERM, and the VM is stopped if it still runs --stop-timeout later. Exit status
    /// 124 either way.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// How long the app may run on after uvm passed SIGINT or SIGTERM on to it (e.g. 10s,
    /// 500ms; 0: no time, they stop the VM at once). Default 10s, as docker stop's.
    ///
    /// uvm passes SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 on to the app, which
    /// may handle them and end on its own terms. A second SIGINT or SIGTERM, or this time
    /// running out, stops the VM (exit status 130 or 143).
    #[arg(long, value_name = "DURATION", value_parser = parse_stop_timeout)]
    pub stop_timeout: Option<std::time::Duration>,
    /// The signal the app gets for SIGTERM (and when --timeout runs out): a name or number,
    /// e.g. SIGQUIT for a server whose graceful stop it is (overrides the manifest's [app]
    /// stop_signal, as docker's --stop-signal its STOPSIGNAL).
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Run the app as this user, as docker's -u: USER[:GROUP], each a name or a numeric id
    /// (overrides the manifest's [app] user; default root). Names are looked up in the image's
    /// /etc/passwd and /etc/group.
    ///
    /// The app starts with that uid and gid (real, effective, saved) and, unless GROUP is
    /// given, the supplementary groups /etc/group lists the user in.
    ///
    /// Examples:
    ///   -u 1000:1000       uid 1000, gid 1000
    ///   -u 1000            uid 1000, gid from /etc/passwd's entry for it (0 without one)
    ///   -u www             the user www of the image's /etc/passwd, with its groups
    ///   -u www:staff       the user www, group staff of the image's /etc/group
    #[arg(short = 'u', long = "user", value_name = "USER[:GROUP]", verbatim_doc_comment)]
    pub user: Option<String>,
    /// Accepted for docker's -i: the app's stdin is always uvm's own.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Accepted for docker's -t: the app's stdin, stdout and stderr are terminals where
    /// uvm's own are (uvm makes no pseudo-terminal of its own).
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// The app's command and its arguments, as docker takes them after the image: they
    /// replace the manifest's args. uvm's options go before it; everything from here on is
    /// the app's (the same as after `--`).
    #[arg(value_name = "COMMAND", num_args = 0.., allow_hyphen_values = true)]
    pub command: Vec<String>,
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

/// How long the app may run on after uvm passed SIGINT or SIGTERM on to it, unless
/// `--stop-timeout` says (docker stop's default).
pub const DEFAULT_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `--stop-timeout`: a duration, or 0 (no time).
fn parse_stop_timeout(text: &str) -> Result<std::time::Duration, String> {
    if matches!(text.trim(), "0" | "0ms" | "0s" | "0m" | "0h" | "0d") {
        return Ok(std::time::Duration::ZERO);
    }
    parse_duration(text)
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
    use super::{parse_duration, parse_stop_timeout, plain_run, Cli, Command, RunArgs};
    use clap::Parser;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    use std::time::Duration;

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn clap_run(args: Vec<OsString>) -> RunArgs {
        let cli = Cli::try_parse_from(args).expect("clap accepts it");
        match cli.with_command_as_args().command {
            Command::Run(run) => run,
            other => panic!("not a run command: {other:?}"),
        }
    }

    #[test]
    fn docker_s_command_after_the_image_and_its_i_and_t_flags() {
        let run = clap_run(argv(&["uvm", "run", "-it", "x.uvm", "sh", "-c", "echo -n hi"]));
        assert_eq!((run.interactive, run.tty), (true, true));
        assert_eq!(run.target, Some("x.uvm".into()));
        assert_eq!(run.args, ["sh", "-c", "echo -n hi"], "everything after the command's first word is the app's");
        let run = clap_run(argv(&["uvm", "run", "x.uvm", "--timings", "ls", "--timings"]));
        assert!(run.timings, "an option after the target, before the command, is uvm's");
        assert_eq!(run.args, ["ls", "--timings"]);
        assert_eq!(clap_run(argv(&["uvm", "run", "x.uvm", "--", "ls", "-l"])).args, ["ls", "-l"]);
        assert_eq!(clap_run(argv(&["uvm", "run", "x.uvm"])).args, Vec::<String>::new());
        let run = clap_run(argv(&["uvm", "run", "x.uvm", "ls", "--", "-l"]));
        assert_eq!(run.args, ["ls", "--", "-l"], "after the command's first word, `--` is the app's too (docker's)");
        let run = clap_run(argv(&["uvm", "run", "x.uvm", "-e", "A=1", "ls", "-e", "B=2"]));
        assert_eq!((run.env, run.args), (vec!["A=1".to_string()], vec!["ls".to_string(), "-e".into(), "B=2".into()]));
        let run = clap_run(argv(&["uvm", "run", "--timings", "--", "ls"]));
        assert_eq!((run.target, run.args), (None, vec!["ls".to_string()]), "no target: the manifest's, ARGS after --");
    }

    #[test]
    fn plain_run_commands_read_as_clap_reads_them() {
        for words in [
            &["uvm", "run"][..],
            &["uvm", "run", "hello.uvm"],
            &["uvm", "run", "dir/app.toml"],
            &["uvm", "run", "hello.uvm", "--"],
            &["uvm", "run", "hello.uvm", "--", "-v", "", "--", "x y"],
            &["uvm", "run", "--", "a", "--timings"],
            &["uvm", "run", "x.uvm", "sh", "-c", "echo --timings"],
            &["uvm", "run", "x.uvm", "ls", "--", "-l"],
        ] {
            let args = argv(words);
            let plain = plain_run(&args).unwrap_or_else(|| panic!("{words:?} is a plain run"));
            assert_eq!(plain, clap_run(args), "{words:?}");
        }
        let not_utf8 = OsString::from_vec(vec![b'a', 0xff]);
        let args = vec![OsString::from("uvm"), OsString::from("run"), not_utf8.clone()];
        assert_eq!(plain_run(&args).and_then(|r| r.target), Some(not_utf8.into()), "a target need not be UTF-8");
        assert_eq!(plain_run(&args), Some(clap_run(args)));
    }

    #[test]
    fn everything_else_is_left_to_clap() {
        for words in [
            &["uvm"][..],
            &["uvm", "build"],
            &["uvm", "inspect", "x.uvm"],
            &["uvm", "run", "--timings", "x.uvm"],
            &["uvm", "run", "x.uvm", "--timings"],
            &["uvm", "run", "-e", "A=1", "x.uvm"],
            &["uvm", "run", "-v", "a:/a", "x.uvm"],
            &["uvm", "run", "--help"],
            &["uvm", "run", "-"],
            &["uvm", "run", ""],
            &["uvm", "run", "-it", "a"],
            &["uvm", "run", "a", "-e", "A=1", "b"],
            &["uvm", "--version"],
        ] {
            assert_eq!(plain_run(&argv(words)), None, "{words:?}");
        }
        let mut args = argv(&["uvm", "run", "x.uvm", "--"]);
        args.push(OsString::from_vec(vec![0xff]));
        assert_eq!(plain_run(&args), None, "app arguments that are not UTF-8 are clap's to refuse");
    }

    #[test]
    fn env_files_are_repeatable_and_env_flags_may_name_a_key_alone() {
        let run = clap_run(argv(&["uvm", "run", "--env-file", "a.env", "--env-file=b.env", "-e", "HOME", "x.uvm"]));
        assert_eq!(run.env_file, [std::path::PathBuf::from("a.env"), std::path::PathBuf::from("b.env")]);
        assert_eq!(run.env, ["HOME"]);
        assert_eq!(plain_run(&argv(&["uvm", "run", "--env-file", "a.env", "x.uvm"])), None, "clap's to read");
    }

    #[test]
    fn volumes_are_repeatable() {
        let run = clap_run(argv(&["uvm", "run", "-v", "a:/a", "--volume", "b:/b:ro", "x.uvm", "--", "-v"]));
        assert_eq!(run.volume, ["a:/a", "b:/b:ro"]);
        assert_eq!(run.args, ["-v"], "after --, -v is the app's");
    }

    #[test]
    fn the_user_has_docker_s_short_and_long_flag() {
        assert_eq!(clap_run(argv(&["uvm", "run", "-u", "1000:1000", "x.uvm"])).user.as_deref(), Some("1000:1000"));
        assert_eq!(clap_run(argv(&["uvm", "run", "--user", "www", "x.uvm"])).user.as_deref(), Some("www"));
        assert_eq!(clap_run(argv(&["uvm", "run", "--user=www:staff", "x.uvm"])).user.as_deref(), Some("www:staff"));
        assert_eq!(clap_run(argv(&["uvm", "run", "x.uvm", "--", "-u", "x"])).user, None, "after --, -u is the app's");
        assert_eq!(plain_run(&argv(&["uvm", "run", "-u", "7", "x.uvm"])), None, "an option: clap's");
    }

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

    #[test]
    fn a_stop_timeout_may_be_zero() {
        let run = |t: &str| clap_run(argv(&["uvm", "run", "--stop-timeout", t, "x.uvm"])).stop_timeout;
        assert_eq!(run("0"), Some(Duration::ZERO));
        assert_eq!(run("0s"), Some(Duration::ZERO));
        assert_eq!(run("2.5s"), Some(Duration::from_millis(2500)));
        assert_eq!(clap_run(argv(&["uvm", "run", "x.uvm"])).stop_timeout, None);
        assert!(parse_stop_timeout("0x").is_err());
        assert!(parse_stop_timeout("-1").is_err());
    }
}
