//! std::fs in /tmp and on packaged files: create/write/read/append, rename, copy, remove,
//! create_dir_all/read_dir (sorted)/remove_dir_all, metadata, set_len, seek, symlinks,
//! canonicalize, and the errors for missing and read-only paths.
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

fn errno(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(2) => "ENOENT".into(),
        Some(17) => "EEXIST".into(),
        Some(20) => "ENOTDIR".into(),
        Some(21) => "EISDIR".into(),
        Some(30) => "EROFS".into(),
        Some(39) => "ENOTEMPTY".into(),
        Some(n) => format!("E{n}"),
        None => format!("{:?}", e.kind()),
    }
}

fn names(dir: &str) -> io::Result<Vec<String>> {
    let mut v: Vec<String> = fs::read_dir(dir)?
        .map(|e| {
            let e = e?;
            let kind = e.file_type()?;
            let tag = if kind.is_dir() { "/" } else if kind.is_symlink() { "@" } else { "" };
            Ok(format!("{}{tag}", e.file_name().to_string_lossy()))
        })
        .collect::<io::Result<_>>()?;
    v.sort();
    Ok(v)
}

fn main() -> io::Result<()> {
    fs::write("/tmp/hello.txt", "Hello, /tmp!\n")?;
    println!("read back: {:?}", fs::read_to_string("/tmp/hello.txt")?);
    {
        let mut f = OpenOptions::new().append(true).open("/tmp/hello.txt")?;
        writeln!(f, "second line")?;
    }
    let meta = fs::metadata("/tmp/hello.txt")?;
    println!("after append: {} bytes, file={}, mode={:o}", meta.len(), meta.is_file(), meta.permissions().mode() & 0o777);
    match OpenOptions::new().write(true).create_new(true).open("/tmp/hello.txt") {
        Ok(_) => println!("create_new on an existing file: succeeded?!"),
        Err(e) => println!("create_new on an existing file: {}", errno(&e)),
    }

    let mut f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open("/tmp/seek.bin")?;
    f.write_all(b"0123456789")?;
    f.seek(SeekFrom::Start(3))?;
    let mut three = [0u8; 3];
    f.read_exact(&mut three)?;
    f.seek(SeekFrom::End(-2))?;
    let mut rest = String::new();
    f.read_to_string(&mut rest)?;
    f.set_len(4)?;
    println!("seek: {:?} then {:?}; set_len(4) -> {} bytes", String::from_utf8_lossy(&three), rest, f.metadata()?.len());
    drop(f);

    fs::rename("/tmp/hello.txt", "/tmp/renamed.txt")?;
    println!("old name exists after rename: {}", Path::new("/tmp/hello.txt").exists());
    let copied = fs::copy("/usr/share/compat/text/jabberwocky.txt", "/tmp/jabberwocky.txt")?;
    println!("copied {copied} bytes from a packaged file");
    let lines = BufReader::new(File::open("/tmp/jabberwocky.txt")?).lines().count();
    println!("the copy has {lines} lines");

    fs::create_dir_all("/tmp/a/b/c")?;
    fs::write("/tmp/a/b/c/deep.txt", "deep")?;
    fs::write("/tmp/a/one.txt", "1")?;
    fs::write("/tmp/a/two.txt", "22")?;
    std::os::unix::fs::symlink("one.txt", "/tmp/a/link")?;
    println!("read_dir /tmp/a: {:?}", names("/tmp/a")?);
    println!("read_link /tmp/a/link: {:?}", fs::read_link("/tmp/a/link")?);
    println!("canonicalize /tmp/a/b/../link: {:?}", fs::canonicalize("/tmp/a/b/../link")?);
    println!("symlink_metadata is_symlink: {}", fs::symlink_metadata("/tmp/a/link")?.file_type().is_symlink());
    match fs::remove_dir("/tmp/a") {
        Ok(()) => println!("remove_dir of a non-empty directory: succeeded?!"),
        Err(e) => println!("remove_dir of a non-empty directory: {}", errno(&e)),
    }
    fs::remove_dir_all("/tmp/a")?;
    println!("after remove_dir_all: /tmp/a exists: {}", Path::new("/tmp/a").exists());
    fs::remove_file("/tmp/seek.bin")?;
    println!("read_dir /tmp: {:?}", names("/tmp")?);

    println!("read_dir /usr/share/compat: {:?}", names("/usr/share/compat")?);
    let words = fs::read_to_string("/usr/share/compat/text/words.txt")?;
    let meta = fs::metadata("/usr/share/compat/text/words.txt")?;
    println!(
        "packaged words.txt: {} words, {} bytes, uid {}, mtime {}, readonly flag {}",
        words.lines().count(),
        meta.len(),
        meta.uid(),
        meta.mtime(),
        meta.permissions().readonly()
    );
    for (what, result) in [
        ("read a missing file", fs::read("/tmp/missing").map(drop)),
        ("write a packaged file", fs::write("/usr/share/compat/text/words.txt", "x")),
        ("create a packaged directory", fs::create_dir("/usr/share/compat/new")),
        ("read a directory as a file", fs::read("/usr/share/compat/text").map(drop)),
        ("read_dir of a file", fs::read_dir("/usr/share/compat/text/words.txt").map(drop)),
        ("remove a missing file", fs::remove_file("/tmp/missing")),
    ] {
        match result {
            Ok(()) => println!("{what}: succeeded?!"),
            Err(e) => println!("{what}: {}", errno(&e)),
        }
    }
    Ok(())
}
