//! Test images for the CLI's unit tests: the image crate's test ELF at /bin/app with host
//! files or directories packaged where a test says.

use std::path::{Path, PathBuf};

use uvm_image::Image;

/// Packs the test ELF at /bin/app with `files` (`(host path, guest path)`) into `dir`/test.uvm
/// and opens it.
pub fn pack(dir: &Path, files: &[(PathBuf, String)]) -> Image {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../uvm-image/tests/fixtures/static.elf");
    let input =
        uvm_image::PackInput { app_binary: &app, app_guest_path: "/bin/app", files, defaults: &[], config_toml: "" };
    let out = uvm_image::pack(&input, &dir.join("test.uvm")).expect("pack");
    Image::open(&out.path).expect("image")
}
