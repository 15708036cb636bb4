//! Running a command with given stdin, captured stdout/stderr and a timeout (a hung VM must
//! fail its test, not hang the suite).

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished command did.
pub struct Output {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
}

/// Seconds a command may run: `UVM_TEST_TIMEOUT_SECS`, default 60.
pub fn timeout() -> Duration {
    let secs = std::env::var("UVM_TEST_TIMEOUT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    Duration::from_secs(secs)
}

/// Runs `cmd`. `stdin`: `None` gives it /dev/null, `Some(data)` a pipe that delivers `data` and
/// is then closed (EOF). Panics if it cannot start or runs past [`timeout`].
pub fn run(cmd: Command, stdin: Option<&[u8]>) -> Output {
    let shown = format!("{cmd:?}");
    try_run(cmd, stdin).unwrap_or_else(|e| panic!("cannot start {shown}: {e}"))
}

/// [`run`], but a failure to start is returned, not a panic.
pub fn try_run(mut cmd: Command, stdin: Option<&[u8]>) -> std::io::Result<Output> {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn()?;

    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().expect("piped stdin");
        let data = data.to_vec();
        // The app may exit without reading everything: ignore EPIPE. Dropping closes the pipe.
        thread::spawn(move || drop(pipe.write_all(&data)))
    });
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });

    let limit = timeout();
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{cmd:?} did not finish within {limit:?} and was killed (UVM_TEST_TIMEOUT_SECS raises the limit)"
                );
            }
            Err(e) => panic!("waiting for {cmd:?}: {e}"),
        }
    };
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    Ok(Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    })
}

/// Text for a failure message: lossy UTF-8, long output cut in the middle.
pub fn show(bytes: &[u8]) -> String {
    const MAX: usize = 3000;
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= MAX {
        return format!("{text:?}");
    }
    let head: String = text.chars().take(MAX / 2).collect();
    let tail: String = text.chars().rev().take(MAX / 2).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{head:?} ... [{} bytes in all] ... {tail:?}", bytes.len())
}

/// Where two outputs first differ, for failure messages: line number and both lines.
pub fn first_difference(want: &[u8], got: &[u8]) -> String {
    let want = String::from_utf8_lossy(want);
    let got = String::from_utf8_lossy(got);
    let (mut w, mut g) = (want.split_inclusive('\n'), got.split_inclusive('\n'));
    for line in 1.. {
        match (w.next(), g.next()) {
            (None, None) => return "no difference?".into(),
            (a, b) if a == b => continue,
            (a, b) => return format!("first difference at line {line}: expected {a:?}, got {b:?}"),
        }
    }
    unreachable!()
}
