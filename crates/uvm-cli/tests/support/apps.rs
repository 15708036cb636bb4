//! Building the test apps: `tests/apps/<app>.c` with gcc and musl-gcc, `tests/apps/rust/<app>.rs`
//! with rustc, `apps/go/<app>.go` with go (CGO_ENABLED=0), all static. Each (toolchain, app) pair is built at most once per test process,
//! into `$CARGO_TARGET_TMPDIR/uvm-boot/apps/<toolchain>/<app>`. The compatibility suite's apps
//! (`tests/compat/apps/`) are built the same way into `.../uvm-boot/compat/apps/`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use super::Suite;

/// Where an app comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Toolchain {
    /// `tests/apps/<app>.c`, `gcc -static -O2`.
    Glibc,
    /// `tests/apps/<app>.c`, `musl-gcc -static -O2`.
    Musl,
    /// `tests/apps/rust/<app>.rs`, `rustc -O -C target-feature=+crt-static`.
    Rust,
    /// `apps/go/<app>.go`, `go build` with CGO_ENABLED=0 (Debian's golang-go).
    Go,
    /// Not built: the host's `/bin/busybox` (busybox-static).
    Busybox,
    /// Not built: the host's `/bin/bash-static` (bash-static).
    Bash,
}

impl fmt::Display for Toolchain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Toolchain::Glibc => "glibc",
            Toolchain::Musl => "musl",
            Toolchain::Rust => "rust",
            Toolchain::Go => "go",
            Toolchain::Busybox => "busybox",
            Toolchain::Bash => "bash",
        })
    }
}

/// The host's busybox-static, used as is.
pub const BUSYBOX: &str = "/bin/busybox";
/// The host's bash-static, used as is.
pub const BASH: &str = "/bin/bash-static";

/// Why an app is not available.
#[derive(Clone, Debug)]
pub enum BuildError {
    /// The toolchain is not installed: skip (or fail under CI).
    Unavailable(String),
    /// The toolchain is there but the build failed: always a failure.
    Failed(String),
}

type Slot = Arc<OnceLock<Result<PathBuf, BuildError>>>;
/// Every build of this test process, by (suite, toolchain, app).
type Builds = Mutex<HashMap<(Suite, Toolchain, String), Slot>>;

/// The built boot-test app (or busybox), building it on first use.
pub fn app(toolchain: Toolchain, name: &str) -> Result<PathBuf, BuildError> {
    app_in(Suite::Boot, toolchain, name)
}

/// The built app of `suite` (or busybox), building it on first use.
pub fn app_in(suite: Suite, toolchain: Toolchain, name: &str) -> Result<PathBuf, BuildError> {
    static BUILDS: OnceLock<Builds> = OnceLock::new();
    let slot = BUILDS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry((suite, toolchain, name.to_string()))
        .or_default()
        .clone();
    // The map lock is released: different apps build in parallel, each one only once.
    slot.get_or_init(|| build(suite, toolchain, name)).clone()
}

/// A program of the host's used as is: `Unavailable` (naming its Debian package) if missing.
fn host_binary(path: &str, package: &str) -> Result<PathBuf, BuildError> {
    if Path::new(path).is_file() {
        Ok(PathBuf::from(path))
    } else {
        Err(BuildError::Unavailable(format!("{path} is missing (install {package})")))
    }
}

/// The libraries a C app links besides libc: `sqlite_wal` links Debian's static SQLite
/// (libsqlite3-dev, built for glibc), `Unavailable` where the compiler cannot find it.
fn c_libraries(toolchain: Toolchain, name: &str, compiler: &Path) -> Result<&'static [&'static str], BuildError> {
    if name != "sqlite_wal" || !matches!(toolchain, Toolchain::Glibc | Toolchain::Musl) {
        return Ok(&[]);
    }
    let found = Command::new(compiler)
        .arg("-print-file-name=libsqlite3.a")
        .output()
        .ok()
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        .is_some_and(|path| path.is_absolute() && path.is_file());
    if !found {
        return Err(BuildError::Unavailable("libsqlite3.a is missing (install libsqlite3-dev)".into()));
    }
    Ok(&["-lsqlite3", "-lm"])
}

fn build(suite: Suite, toolchain: Toolchain, name: &str) -> Result<PathBuf, BuildError> {
    let apps = suite.dir().join("apps");
    let (tool, source) = match toolchain {
        Toolchain::Glibc => ("gcc", apps.join(format!("{name}.c"))),
        Toolchain::Musl => ("musl-gcc", apps.join(format!("{name}.c"))),
        Toolchain::Rust => ("rustc", apps.join("rust").join(format!("{name}.rs"))),
        Toolchain::Go => ("go", apps.join("go").join(format!("{name}.go"))),
        Toolchain::Busybox => return host_binary(BUSYBOX, "busybox-static"),
        Toolchain::Bash => return host_binary(BASH, "bash-static"),
    };
    let Some(tool_path) = super::find_tool(tool) else {
        return Err(BuildError::Unavailable(format!("`{tool}` is not installed (needed for the {toolchain} apps)")));
    };
    if !source.is_file() {
        return Err(BuildError::Failed(format!("no source for app `{name}`: {} is missing", source.display())));
    }
    let dir = suite.tmp().join("apps").join(toolchain.to_string());
    std::fs::create_dir_all(&dir).map_err(|e| BuildError::Failed(format!("mkdir {}: {e}", dir.display())))?;
    let out = dir.join(name);
    // Build under a private name, then rename: another test process may be reading `out`.
    let tmp = dir.join(format!("{name}.tmp{}", std::process::id()));
    let libraries = c_libraries(toolchain, name, &tool_path)?;
    let mut cmd = Command::new(tool_path);
    match toolchain {
        Toolchain::Glibc | Toolchain::Musl => {
            cmd.args(["-static", "-O2", "-Wall", "-I"]).arg(&apps).arg("-o").arg(&tmp).arg(&source).args(libraries);
        }
        Toolchain::Rust => {
            cmd.args(["-O", "-C", "target-feature=+crt-static", "--edition", "2021", "--crate-name", name, "-o"])
                .arg(&tmp)
                .arg(&source);
        }
        Toolchain::Go => {
            // The build cache stays under the test directory: nothing from $HOME, no network.
            let cache = suite.tmp().join("go-cache");
            cmd.args(["build", "-trimpath", "-o"]).arg(&tmp).arg(&source);
            cmd.env("CGO_ENABLED", "0").env("GOCACHE", &cache).env("GOPATH", cache.join("path"));
            cmd.env("GOFLAGS", "-mod=mod").env("GOPROXY", "off").env("GO111MODULE", "off");
        }
        Toolchain::Busybox | Toolchain::Bash => unreachable!(),
    }
    let output = cmd.output().map_err(|e| BuildError::Failed(format!("cannot run {cmd:?}: {e}")))?;
    if !output.status.success() {
        return Err(BuildError::Failed(format!(
            "{cmd:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    std::fs::rename(&tmp, &out).map_err(|e| BuildError::Failed(format!("rename to {}: {e}", out.display())))?;
    Ok(out)
}
