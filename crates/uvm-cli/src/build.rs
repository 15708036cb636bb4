//! `uvm build`: manifest -> image, with each `[[files]]` entry's `owner` resolved against
//! the image's own /etc/passwd and /etc/group (as the image will hold them) and, with its
//! `mode`, given to the entry and everything copied into it (docker's `COPY --chown` and
//! `COPY --chmod`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use uvm_image::{digest_hex, stage, PackInput, Staged};
use uvm_manifest::{AppConfig, RunConfig};

use crate::cli::BuildArgs;
use crate::guest_etc::GuestEtc;
use crate::user::{resolve_owner, staged_file, Origin};

/// The default image path of a manifest: `<name>.uvm` beside it.
pub fn default_image_path(app: &AppConfig) -> PathBuf {
    let dir = app.manifest_path.parent().map(Path::to_path_buf).unwrap_or_default();
    dir.join(format!("{}.uvm", app.name))
}

/// Packs `app` into `output`, with the generated `/etc` network files where the app's own
/// files leave room (see [`crate::guest_etc`]) and the `[[files]]` entries' modes and owners.
pub fn build_image(app: &AppConfig, output: &Path) -> Result<uvm_image::PackOutput> {
    let config = RunConfig::from_app(app).to_toml();
    let files: Vec<(PathBuf, String)> = app.files.iter().map(|f| (f.src.clone(), f.dst.clone())).collect();
    let guest_path = app.binary_guest_path();
    let etc = GuestEtc::generate(app.vm.hostname.as_deref());
    let defaults = etc.defaults();
    let input = PackInput {
        app_binary: &app.binary,
        app_guest_path: &guest_path,
        files: &files,
        defaults: &defaults,
        config_toml: &config,
    };
    let context = || format!("cannot build {}", output.display());
    let mut staged = stage(&input).with_context(context)?;
    give_modes(app, &mut staged);
    give_owners(app, &mut staged).with_context(context)?;
    staged.write(output).with_context(context)
}

/// Gives each `[[files]]` entry that has a `mode` those permission bits (`COPY --chmod`): its
/// entry and everything copied into it, but not its symlinks.
fn give_modes(app: &AppConfig, staged: &mut Staged) {
    for (index, file) in app.files.iter().enumerate() {
        if let Some(mode) = file.mode {
            staged.set_mode(index, mode);
        }
    }
}

/// Gives each `[[files]]` entry that has an `owner` the ids it resolves to (`COPY --chown`'s
/// rules), names looked up in the /etc/passwd and /etc/group of the image being built.
fn give_owners(app: &AppConfig, staged: &mut Staged) -> Result<()> {
    if app.files.iter().all(|file| file.owner.is_none()) {
        return Ok(());
    }
    let passwd = staged_file(staged, "/etc/passwd")?;
    let group = staged_file(staged, "/etc/group")?;
    for (index, file) in app.files.iter().enumerate() {
        let Some(spec) = &file.owner else { continue };
        let origin = Origin::Owner { manifest: &app.manifest_path, entry: index + 1 };
        let owner = resolve_owner(spec, origin, passwd.as_deref(), group.as_deref())?;
        staged.set_owner(index, owner);
    }
    Ok(())
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
