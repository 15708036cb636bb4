//! `uvm inspect`: what an image holds (its files with their modes, sizes and, when not root,
//! owners).

use anyhow::Result;
use uvm_abi::image::EntryKind;
use uvm_image::{digest_hex, Image, Owner};
use uvm_manifest::RunConfig;

use crate::build::human_size;
use crate::cli::InspectArgs;
use crate::network::describe;

/// `uvm inspect`.
pub fn command(args: &InspectArgs) -> Result<()> {
    let image = Image::open(&args.image)?;
    if args.verify {
        image.verify_digest()?;
    }
    let header = image.header();
    println!("image:        {}", args.image.display());
    println!("size:         {} ({} bytes)", human_size(image.len()), image.len());
    println!("digest:       {}{}", digest_hex(&header.digest), if args.verify { " (verified)" } else { "" });
    println!("format:       version {}, built by a uvm of ABI version {}", header.format_version, header.abi_version);
    println!(
        "guest kernel: uvm's own at run time ({} here, ABI version {})",
        human_size(uvm_embedded_kernel::guest_kernel().len() as u64),
        uvm_abi::ABI_VERSION
    );
    let config_toml = image.config_toml()?;
    println!("config:");
    for line in config_toml.lines() {
        println!("  {line}");
    }
    println!("network:");
    let config = RunConfig::from_toml(config_toml);
    match &config {
        Ok(config) => describe(&config.network(), "  ").iter().for_each(|line| println!("{line}")),
        Err(error) => println!("  unreadable: {error}"),
    }
    if let Some(spec) = config.as_ref().ok().and_then(RunConfig::user) {
        let ids = match crate::user::for_image(&spec, crate::user::Origin::Image, &image) {
            Ok(user) => describe_user(&user),
            Err(error) => format!("does not resolve: {error:#}"),
        };
        println!("user:         {spec} ({ids}; looked up in the image's /etc/passwd and /etc/group when it runs)");
    }
    let elf = image.app_elf_info()?;
    println!("app binary:   {:?}, entry {:#x}, TLS {}", elf.kind, elf.entry, if elf.has_tls { "yes" } else { "no" });
    for s in &elf.segments {
        println!("  segment {:#x} memsz {:#x} filesz {:#x} {}", s.vaddr, s.memsz, s.filesz, s.flags_str());
    }
    let app_offset = image.app_entry().data.offset;
    let large = match (elf.first_large_chunk(), elf.large_chunk_in_image(app_offset)) {
        (None, _) => "none (no 2 MiB chunk of its address space is read-only segments alone)".to_string(),
        (Some(_), Some(_)) => {
            format!("its read-only 2 MiB chunks map with large pages with `uvm run --no-hot-pages`, where the host has huge pages (app at image offset {app_offset:#x})")
        }
        (Some(_), None) => {
            "none: the image lays the app out without them (built by an older uvm; rebuild it)".to_string()
        }
    };
    println!("large pages:  {large}");
    println!("files:");
    for (index, path, entry) in image.indexed_entries() {
        let kind = match EntryKind::from_raw(entry.kind) {
            Some(EntryKind::Directory) => "dir ",
            Some(EntryKind::File) => "file",
            Some(EntryKind::Symlink) => "link",
            None => "?   ",
        };
        // Modes right-aligned in four columns, so that a setuid or sticky bit does not shift the
        // sizes and paths after it.
        println!("  {kind} {:>4o} {:>10}  {path}{}", entry.mode, entry.data.size, owner_note(image.owner(index)));
    }
    Ok(())
}

/// What `uvm inspect` adds to a file's line for its owner: nothing for root's (most entries),
/// `  owner 1000:1000` for others.
fn owner_note(owner: Owner) -> String {
    if owner.is_root() {
        String::new()
    } else {
        format!("  owner {owner}")
    }
}

/// `uid 33, gid 33, groups 50, 29`: the ids a user spec resolves to.
fn describe_user(user: &uvm_vmm::AppUser) -> String {
    let groups = match &user.groups[..] {
        [] => "no supplementary groups".to_owned(),
        groups => format!("groups {}", groups.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")),
    };
    format!("uid {}, gid {}, {groups}", user.uid, user.gid)
}
