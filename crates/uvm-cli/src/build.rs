//! `uvm build`: manifest -> image.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use uvm_image::{digest_hex, pack, PackInput};
use uvm_manifest::{AppConfig, RunConfig};

use crate::cli::BuildArgs;
use crate::guest_etc::GuestEtc;

/// The default image path of a manifest: `<name>.uvm` beside it.
pub fn default_image_path(app: &AppConfig) -> PathBuf {
    let dir = app.manifest_path.parent().map(Path::to_path_buf).unwrap_or_default();
    dir.join(format!("{}.uvm", app.name))
}

/// Packs `app` into `output`, with the generated `/etc` network files where the app's own
/// files leave room (see [`crate::guest_etc`]).
pub fn build_image(app: &AppConfig, output: &Path) -> Result<uvm_image::PackOutput> {
    let config = RunConfig::from_app(app).to_toml();
    let files: Vec<(PathBuf, String)> = app.files.iter().map(|f| (f.src.clone(), f.dst.clone())).collect();
    let guest_path = app.binary_guest_path();
    let etc = GuestEtc::generate();
    let defaults = etc.defaults();
    let input = PackInput {
        app_binary: &app.binary,
        app_guest_path: &guest_path,
        files: &files,
        defaults: &defaults,
        config_toml: &config,
    };
    pack(&input, output).with_context(|| format!("cannot build {}", output.display()))
}

/// `uvm build`.
pub fn command(args: &BuildArgs) -> Result<()> {
    let app = uvm_manifest::load(&args.manifest)?;
    let output = args.output.clone().unwrap_or_else(|| default_image_path(&app));
    let out = build_image(&app, &output)?;
    println!("{}  {}  {}", out.path.display(), human_size(out.size), digest_hex(&out.digest));
    Ok(())
}

/// A size for people: "812.3 KiB".
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
