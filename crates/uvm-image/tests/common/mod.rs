//! Helpers shared by the integration tests: fixture paths, scratch directories, a standard
//! test image, and an independent re-implementation of the checksum/digest rules (so tests can
//! corrupt a field and re-seal the image, and so the rules are checked against the spec).
#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use uvm_image::{pack, DefaultFile, PackInput, PackOutput};

/// A run configuration.
pub const CONFIG: &str = "args = [\"/bin/hello\", \"--flag\"]\n";

/// Path of a committed fixture.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A scratch directory under the target directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(label: &str) -> Scratch {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("uvm-image-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes a file (creating parent directories).
    pub fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, content).expect("write");
        path
    }

    /// Names of the files directly inside the scratch directory.
    pub fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Packs the standard test image (app = static.elf at /bin/hello, plus `files`) into
/// `scratch/image.uvm`.
pub fn pack_with(scratch: &Scratch, files: &[(PathBuf, String)]) -> PackOutput {
    pack_with_defaults(scratch, files, &[])
}

/// [`pack_with`], with default files.
pub fn pack_with_defaults(scratch: &Scratch, files: &[(PathBuf, String)], defaults: &[DefaultFile]) -> PackOutput {
    let app = fixture("static.elf");
    let input = PackInput { app_binary: &app, app_guest_path: "/bin/hello", files, defaults, config_toml: CONFIG };
    pack(&input, &scratch.path("image.uvm")).expect("pack")
}

/// Default files as a build would pass them: `/etc/hosts` and `/etc/resolv.conf`.
pub const DEFAULTS: [DefaultFile<'static>; 2] = [
    DefaultFile { guest_path: "/etc/hosts", content: b"127.0.0.1\tlocalhost\n", mode: 0o644 },
    DefaultFile { guest_path: "/etc/resolv.conf", content: b"nameserver 10.0.2.3\n", mode: 0o644 },
];

/// A standard image with one data file; returns its path.
pub fn standard_image(scratch: &Scratch) -> PathBuf {
    let data = scratch.write("src/data.txt", b"hello from the image\n");
    pack_with(scratch, &[(data, "/etc/data.txt".into())]).path
}

/// Byte offsets of header fields (from uvm_abi::image; repeated here as the spec).
pub const FORMAT_VERSION_AT: usize = 8;
pub const ABI_VERSION_AT: usize = 12;
pub const TABLE_OFFSET_AT: usize = 24;
pub const CONFIG_OFFSET_AT: usize = 40;
pub const ENTRY_COUNT_AT: usize = 56;
pub const APP_ENTRY_AT: usize = 60;
pub const CHECKSUM_AT: usize = 64;
pub const DIGEST_AT: usize = 72;
pub const OWNERS_OFFSET_AT: usize = 104;
pub const OWNERS_SIZE_AT: usize = 112;

/// SHA-256 of the image with checksum and digest zeroed.
pub fn spec_digest(bytes: &[u8]) -> [u8; 32] {
    let mut copy = bytes.to_vec();
    copy[CHECKSUM_AT..DIGEST_AT + 32].fill(0);
    Sha256::digest(&copy).into()
}

/// XXH3-64 of the image with the checksum zeroed.
pub fn spec_checksum(bytes: &[u8]) -> u64 {
    let mut copy = bytes.to_vec();
    copy[CHECKSUM_AT..CHECKSUM_AT + 8].fill(0);
    xxhash_rust::xxh3::xxh3_64(&copy)
}

/// Recomputes digest, then checksum, after a test edited the image.
pub fn reseal(bytes: &mut [u8]) {
    let digest = spec_digest(bytes);
    bytes[DIGEST_AT..DIGEST_AT + 32].copy_from_slice(&digest);
    let checksum = spec_checksum(bytes);
    bytes[CHECKSUM_AT..CHECKSUM_AT + 8].copy_from_slice(&checksum.to_le_bytes());
}

pub fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

pub fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

pub fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

pub fn put_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}
