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

#[derive(Args, Debug)]
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
    /// Print every system call of the app on stderr.
    #[arg(long)]
    pub trace_syscalls: bool,
    /// Print where the time went (boot phases and exit counts) on stderr.
    #[arg(long)]
    pub timings: bool,
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
