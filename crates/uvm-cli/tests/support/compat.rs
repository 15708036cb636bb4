//! The compatibility suite: real programs nobody here wrote (the host's busybox-static,
//! unmodified), and static C (glibc and musl) and Rust std programs exercising what programs
//! commonly need, each run with its exact expected stdout, stderr and exit status.
//!
//! Everything is packaged from `tests/compat/`: `manifests/`, `apps/` and `data/` (at
//! `/usr/share/compat` in every image, also the busybox cwd). Long expected outputs live in
//! `tests/compat/expected/`. Every expectation is what the same program prints on Linux: the
//! `native_compat_*` tests in `native.rs` run each case on the host, in a sandbox shaped like
//! the guest (see tests/README.md). Runs whose answer depends on the VM (its memory size) are
//! marked `vm_only`.
//!
//! The test names returned by [`all`] are the `#[test]` names in `compat.rs`.

use super::apps::Toolchain::{self, Bash, Busybox, Glibc, Go, Musl, Rust};
use super::cases::{Case, Out, Run, Status, ABRT, FPE, ILL, SEGV};
use super::{pattern, Suite};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Every case with its test name.
pub fn all() -> Vec<(&'static str, Case)> {
    let mut cases = vec![
        ("busybox_echo_printf", busybox_echo_printf()),
        ("busybox_cat", busybox_cat()),
        ("busybox_ls", busybox_ls()),
        ("busybox_ls_long", busybox_ls_long()),
        ("busybox_wc", busybox_wc()),
        ("busybox_head_tail", busybox_head_tail()),
        ("busybox_cut", busybox_cut()),
        ("busybox_tr", busybox_tr()),
        ("busybox_sort", busybox_sort()),
        ("busybox_uniq", busybox_uniq()),
        ("busybox_grep", busybox_grep()),
        ("busybox_sed", busybox_sed()),
        ("busybox_awk", busybox_awk()),
        ("busybox_find", busybox_find()),
        ("busybox_du", busybox_du()),
        ("busybox_stat", busybox_stat()),
        ("busybox_sha256sum", busybox_sha256sum()),
        ("busybox_md5sum", busybox_md5sum()),
        ("busybox_base64", busybox_base64()),
        ("busybox_date", busybox_date()),
        ("busybox_sleep", busybox_sleep()),
        ("busybox_misc", busybox_misc()),
        ("busybox_mkdir", busybox_mkdir()),
        ("busybox_rm", busybox_rm()),
        ("busybox_mv", busybox_mv()),
        ("busybox_cp", busybox_cp()),
        ("busybox_touch", busybox_touch()),
        ("busybox_ln", busybox_ln()),
        ("busybox_tar", busybox_tar()),
        ("busybox_zcat_tar_z", busybox_zcat_tar_z()),
        ("busybox_gzip", busybox_gzip()),
        ("busybox_sh_loops", busybox_sh_loops()),
        ("busybox_sh_functions", busybox_sh_functions()),
        ("busybox_sh_params", busybox_sh_params()),
        ("busybox_sh_heredoc", busybox_sh_heredoc()),
        ("busybox_sh_exit", busybox_sh_exit()),
        ("busybox_sh_stdin", busybox_sh_stdin()),
        ("busybox_sh_files", busybox_sh_files()),
        ("busybox_sh_exec", busybox_sh_exec()),
        ("busybox_sh_pipeline", busybox_sh_pipeline()),
        ("busybox_sh_fifo", busybox_sh_fifo()),
        ("busybox_sh_fileops", busybox_sh_fileops()),
        ("busybox_writable_root", busybox_writable_root()),
        ("bash_script", bash_script()),
    ];
    for (tc, names) in [
        (
            Glibc,
            [
                "glibc_fileops",
                "glibc_dirops",
                "glibc_links",
                "glibc_clocks",
                "glibc_sleep",
                "glibc_heap",
                "glibc_mmap",
                "glibc_shm",
                "glibc_shm_churn",
                "glibc_abort",
                "glibc_abort_handler",
                "glibc_wild_pointer",
                "glibc_stack_overflow",
                "glibc_cpu_traps",
                "glibc_oom",
                "glibc_malloc_huge",
                "glibc_threads",
                "glibc_futex",
                "glibc_net_loopback",
            ],
        ),
        (
            Musl,
            [
                "musl_fileops",
                "musl_dirops",
                "musl_links",
                "musl_clocks",
                "musl_sleep",
                "musl_heap",
                "musl_mmap",
                "musl_shm",
                "musl_shm_churn",
                "musl_abort",
                "musl_abort_handler",
                "musl_wild_pointer",
                "musl_stack_overflow",
                "musl_cpu_traps",
                "musl_oom",
                "musl_malloc_huge",
                "musl_threads",
                "musl_futex",
                "musl_net_loopback",
            ],
        ),
    ] {
        let c_cases = [
            c_fileops(tc),
            c_dirops(tc),
            c_links(tc),
            c_clocks(tc),
            c_sleep(tc),
            c_heap(tc),
            c_mmap(tc),
            c_shm(tc),
            c_shm_churn(tc),
            c_abort(tc),
            c_abort_handler(tc),
            c_wild_pointer(tc),
            c_stack_overflow(tc),
            c_cpu_traps(tc),
            c_oom(tc),
            c_malloc_huge(tc),
            c_threads(tc),
            c_futex(tc),
            c_net_loopback(tc),
        ];
        cases.extend(names.into_iter().zip(c_cases));
    }
    cases.push(("glibc_sqlite_wal", c_sqlite_wal()));
    cases.extend([
        ("rust_files", rust_files()),
        ("rust_env", rust_env()),
        ("rust_wordfreq", rust_wordfreq()),
        ("rust_clock", rust_clock()),
        ("rust_panic", rust_panic()),
        ("rust_abort_exit", rust_abort_exit()),
        ("rust_threads", rust_threads()),
        ("go_runtime", go_runtime()),
    ]);
    cases
}

// ---------------------------------------------------------------- helpers

fn case(manifest: &'static str, toolchain: Toolchain, app: &'static str, runs: Vec<Run>) -> Case {
    Case { suite: Suite::Compat, manifest, toolchain, app, runs }
}

/// A busybox case: the shared manifest, one run per applet invocation.
fn bb(runs: Vec<Run>) -> Case {
    case("busybox", Busybox, "busybox", runs)
}

/// A run of `busybox ARGS...` (the label is the command line).
fn cmd(args: &[&str]) -> Run {
    Run::new(&format!("busybox {}", args.join(" "))).args(args)
}

/// `tests/compat/<rel>`.
fn compat_path(rel: &str) -> PathBuf {
    Suite::Compat.dir().join(rel)
}

/// The bytes of `tests/compat/<rel>`.
fn read(rel: &str) -> Vec<u8> {
    let path = compat_path(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The text of `tests/compat/<rel>`.
fn text(rel: &str) -> String {
    String::from_utf8(read(rel)).unwrap_or_else(|e| panic!("{rel} is not UTF-8: {e}"))
}

/// A packaged data file (`tests/compat/data/<rel>`, `/usr/share/compat/<rel>` in the guest).
fn data(rel: &str) -> Vec<u8> {
    read(&format!("data/{rel}"))
}

/// Lines of `text` joined back with a newline after each.
fn lines(items: &[&str]) -> String {
    items.iter().map(|l| format!("{l}\n")).collect()
}

/// The sorted names in a packaged data directory.
fn data_dir_names(rel: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(compat_path(&format!("data/{rel}")))
        .unwrap_or_else(|e| panic!("read_dir data/{rel}: {e}"))
        .map(|e| e.expect("dir entry").file_name().into_string().expect("UTF-8 name"))
        .collect();
    names.sort();
    names
}

/// The host's clock now, in seconds since the epoch (the guest's clock must agree).
fn host_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after the epoch").as_secs()
}

/// The (UTC) year of a time in seconds since the epoch.
fn year_of(secs: u64) -> i64 {
    // Howard Hinnant's days-to-civil algorithm.
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

/// SHA-256 in hex, for checking `sha256sum` on large inputs.
pub fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend((data.len() as u64 * 8).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            (hh, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(s0.wrapping_add(maj)));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

/// Base64 as `base64` prints it: lines of 76 characters, each ending in a newline.
pub fn base64_wrapped(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ABC[(n >> (18 - 6 * i) & 63) as usize] } else { b'=' });
        }
    }
    out.chunks(76).map(|line| format!("{}\n", String::from_utf8_lossy(line))).collect()
}

// ---------------------------------------------------------------- busybox: text utilities

/// `echo` and `printf` (the applets, not the shell builtins).
pub fn busybox_echo_printf() -> Case {
    bb(vec![
        Run::new("manifest args (echo)").stdout("busybox compat\n"),
        cmd(&["echo", "hello", "world"]).stdout("hello world\n"),
        cmd(&["echo", "-n", "no", "newline"]).stdout("no newline"),
        cmd(&["echo", "-e", "tab\\there\\nnew line \\\\ backslash"]).stdout("tab\there\nnew line \\ backslash\n"),
        cmd(&["printf", "%5d|%-5s|%05.1f|%x|%o|%c|%s\\n", "42", "ab", "3.14159", "255", "8", "xyz", "a b"])
            .stdout("   42|ab   |003.1|ff|10|x|a b\n"),
        cmd(&["printf", "%s-%s\\n", "a", "b", "c"]).stdout("a-b\nc-\n"),
        cmd(&["printf", "%d\\n", "notanumber"]).stdout("0\n").stderr("printf: invalid number 'notanumber'\n").code(1),
    ])
}

/// `cat`: files, `-n`, stdin, `-`, and a missing file.
pub fn busybox_cat() -> Case {
    let mut words_nonl = data("text/words.txt");
    words_nonl.extend(data("text/nonl.txt"));
    let numbered: String =
        text("data/text/users.txt").lines().enumerate().map(|(i, l)| format!("{:6}\t{l}\n", i + 1)).collect();
    let big = pattern(300 << 10);
    bb(vec![
        cmd(&["cat", "text/words.txt", "text/nonl.txt"]).stdout(words_nonl),
        cmd(&["cat", "-n", "text/users.txt"]).stdout(numbered),
        cmd(&["cat"]).stdin("from stdin\n").stdout("from stdin\n"),
        cmd(&["cat"]).stdin(&big).stdout(&big),
        cmd(&["cat", "-", "text/nonl.txt"]).stdin("A\n").stdout("A\nno newline at the end"),
        cmd(&["cat", "/usr/share/compat/text/empty.txt"]),
        cmd(&["cat", "text/missing.txt"])
            .stderr("cat: can't open 'text/missing.txt': No such file or directory\n")
            .code(1),
    ])
}

/// `ls`: sorted names, `-a`, `-F`, `-R`, `-d`, the root, a missing file.
pub fn busybox_ls() -> Case {
    let text_names = lines(&data_dir_names("text").iter().map(String::as_str).collect::<Vec<_>>());
    let top: String = data_dir_names("").iter().map(|n| format!("{n}/\n")).collect();
    bb(vec![
        cmd(&["ls", "text"]).stdout(&text_names),
        cmd(&["ls", "/usr/share/compat/text/"]).stdout(&text_names),
        cmd(&["ls", "-a", "links"]).stdout(".\n..\nlink\ntarget.txt\n"),
        cmd(&["ls", "-F", "/usr/share/compat"]).stdout(top),
        cmd(&["ls", "-R", "tree"]).stdout("tree:\nalpha\n\ntree/alpha:\nbeta\n\ntree/alpha/beta:\ngamma.txt\n"),
        cmd(&["ls", "-d", "/usr/share/compat/tree/alpha/beta"]).stdout("/usr/share/compat/tree/alpha/beta\n"),
        cmd(&["ls", "/"]).stdout("bin\ndev\netc\nproc\ntmp\nusr\n"),
        cmd(&["ls", "/bin"]).stdout("busybox\n"),
        cmd(&["ls", "/tmp"]),
        cmd(&["ls", "missing"]).stderr("ls: missing: No such file or directory\n").code(1),
    ])
}

/// `ls -l`: modes, link counts, owner 0:0 (no /etc/passwd), sizes and mtime 0 (1970).
pub fn busybox_ls_long() -> Case {
    let busybox_size = std::fs::metadata(super::apps::BUSYBOX).map(|m| m.len()).unwrap_or(0);
    let long = |mode: &str, links: u32, size: u64, name: &str| {
        format!("{mode} {links:4} 0        0        {size:>9} Jan  1  1970 {name}\n")
    };
    bb(vec![
        cmd(&["ls", "-l", "text/words.txt", "text/empty.txt"])
            .stdout(long("-rw-r--r--", 1, 0, "text/empty.txt") + &long("-rw-r--r--", 1, 90, "text/words.txt")),
        cmd(&["ls", "-l", "links"]).stdout(
            "total 4\n".to_string()
                + &long("lrwxrwxrwx", 1, 10, "link -> target.txt")
                + &long("-rw-r--r--", 1, 25, "target.txt"),
        ),
        cmd(&["ls", "-ld", "tree", "tree/alpha/beta"])
            .stdout(long("drwxr-xr-x", 3, 4096, "tree") + &long("drwxr-xr-x", 2, 4096, "tree/alpha/beta")),
        cmd(&["ls", "-ln", "/bin/busybox"]).stdout(long("-rwxr-xr-x", 1, busybox_size, "/bin/busybox")),
    ])
}

/// `wc` on files and on stdin.
pub fn busybox_wc() -> Case {
    let big = pattern(1 << 20);
    bb(vec![
        cmd(&["wc", "text/words.txt"]).stdout("       15        15        90 text/words.txt\n"),
        cmd(&["wc", "-l", "text/words.txt", "text/numbers.txt"])
            .stdout("       15 text/words.txt\n       12 text/numbers.txt\n       27 total\n"),
        cmd(&["wc", "-w", "text/jabberwocky.txt"]).stdout("71 text/jabberwocky.txt\n"),
        cmd(&["wc", "-c", "text/empty.txt"]).stdout("0 text/empty.txt\n"),
        cmd(&["wc", "-L", "text/users.txt"]).stdout("48 text/users.txt\n"),
        cmd(&["wc"]).stdin("one two\nthree\n").stdout("        2         3        14\n"),
        cmd(&["wc", "-c"]).stdin(&big).stdout("1048576\n"),
        cmd(&["wc", "-l"]).stdout("0\n"),
    ])
}

/// `head` and `tail`, by lines and bytes, several files, stdin.
pub fn busybox_head_tail() -> Case {
    bb(vec![
        cmd(&["head", "-n", "3", "text/words.txt"]).stdout("pear\napple\nfig\n"),
        cmd(&["head", "-c", "10", "text/jabberwocky.txt"]).stdout("'Twas bril"),
        cmd(&["head", "-n", "2", "text/words.txt", "text/numbers.txt"])
            .stdout("==> text/words.txt <==\npear\napple\n\n==> text/numbers.txt <==\n42\n7\n"),
        cmd(&["tail", "-n", "2", "text/words.txt"]).stdout("cherry\nkiwi\n"),
        cmd(&["tail", "-n", "+13", "text/words.txt"]).stdout("grape\ncherry\nkiwi\n"),
        cmd(&["tail", "-c", "8", "text/nonl.txt"]).stdout(" the end"),
        cmd(&["head", "-n", "1"]).stdin("first\nsecond\n").stdout("first\n"),
        cmd(&["tail", "-n", "1"]).stdin("first\nsecond\nthird\n").stdout("third\n"),
    ])
}

/// `cut` by fields and characters.
pub fn busybox_cut() -> Case {
    bb(vec![
        cmd(&["cut", "-d:", "-f1,3", "text/users.txt"]).stdout("alice:100\nbob:100\ncarol:200\ndave:200\neve:300\n"),
        cmd(&["cut", "-d:", "-f4", "text/users.txt"])
            .stdout("Alice Liddell\nBob Builder\nCarol Danvers\nDave Bowman\nEve Moneypenny\n"),
        cmd(&["cut", "-c", "1-4", "text/words.txt"])
            .stdout("pear\nappl\nfig\nbana\nappl\ncher\nfig\nfig\ndate\nBana\nelde\nappl\ngrap\ncher\nkiwi\n"),
        cmd(&["cut", "-d,", "-f2"]).stdin("a,b,c\n1,2,3\nnocomma\n").stdout("b\n2\nnocomma\n"),
        cmd(&["cut", "-s", "-d,", "-f2"]).stdin("a,b,c\n1,2,3\nnocomma\n").stdout("b\n2\n"),
    ])
}

/// `tr`: ranges, classes, -d, -s, -c.
pub fn busybox_tr() -> Case {
    bb(vec![
        cmd(&["tr", "a-z", "A-Z"]).stdin("Hello, World!\n").stdout("HELLO, WORLD!\n"),
        cmd(&["tr", "[:lower:]", "[:upper:]"]).stdin("mixed Case 123\n").stdout("MIXED CASE 123\n"),
        cmd(&["tr", "-d", "aeiou"]).stdin("jabberwocky\n").stdout("jbbrwcky\n"),
        cmd(&["tr", "-s", " "]).stdin("a   b    c\n").stdout("a b c\n"),
        cmd(&["tr", "-cd", "0-9\\n"]).stdin("a1b2c3\nx9\n").stdout("123\n9\n"),
        cmd(&["tr", ":", "\\n"]).stdin("a:b:c").stdout("a\nb\nc"),
    ])
}

/// `sort`: plain (C locale), -u, -f, -n, -rn, keys, stdin.
pub fn busybox_sort() -> Case {
    let sorted =
        "Banana\napple\napple\napple\nbanana\ncherry\ncherry\ndate\nelderberry\nfig\nfig\nfig\ngrape\nkiwi\npear\n";
    bb(vec![
        cmd(&["sort", "text/words.txt"]).stdout(sorted),
        cmd(&["sort", "-u", "text/words.txt"])
            .stdout("Banana\napple\nbanana\ncherry\ndate\nelderberry\nfig\ngrape\nkiwi\npear\n"),
        cmd(&["sort", "-f", "text/words.txt"]).stdout(
            "apple\napple\napple\nBanana\nbanana\ncherry\ncherry\ndate\nelderberry\nfig\nfig\nfig\ngrape\nkiwi\npear\n",
        ),
        cmd(&["sort", "-n", "text/numbers.txt"]).stdout("-17\n-3\n0\n3\n7\n7\n7\n15\n42\n99\n100\n2048\n"),
        cmd(&["sort", "-rn", "text/numbers.txt"]).stdout("2048\n100\n99\n42\n15\n7\n7\n7\n3\n0\n-3\n-17\n"),
        cmd(&["sort", "-t:", "-k3,3n", "-k1,1r", "text/users.txt"]).stdout(lines(&[
            "bob:1002:100:Bob Builder:/home/bob:/bin/false",
            "alice:1001:100:Alice Liddell:/home/alice:/bin/sh",
            "dave:1004:200:Dave Bowman:/home/dave:/bin/ash",
            "carol:1003:200:Carol Danvers:/home/carol:/bin/sh",
            "eve:1005:300:Eve Moneypenny:/home/eve:/bin/sh",
        ])),
        cmd(&["sort"]).stdin(data("text/words.txt")).stdout(sorted),
    ])
}

/// `uniq`: adjacent duplicates only, -c, -d, -u, stdin.
pub fn busybox_uniq() -> Case {
    let sorted =
        "Banana\napple\napple\napple\nbanana\ncherry\ncherry\ndate\nelderberry\nfig\nfig\nfig\ngrape\nkiwi\npear\n";
    bb(vec![
        cmd(&["uniq", "text/words.txt"])
            .stdout("pear\napple\nfig\nbanana\napple\ncherry\nfig\ndate\nBanana\nelderberry\napple\ngrape\ncherry\nkiwi\n"),
        cmd(&["uniq"]).stdin(sorted).stdout("Banana\napple\nbanana\ncherry\ndate\nelderberry\nfig\ngrape\nkiwi\npear\n"),
        cmd(&["uniq", "-c"]).stdin(sorted).stdout(
            "      1 Banana\n      3 apple\n      1 banana\n      2 cherry\n      1 date\n      1 elderberry\n      3 fig\n      1 grape\n      1 kiwi\n      1 pear\n",
        ),
        cmd(&["uniq", "-d"]).stdin(sorted).stdout("apple\ncherry\nfig\n"),
        cmd(&["uniq", "-u"]).stdin(sorted).stdout("Banana\nbanana\ndate\nelderberry\ngrape\nkiwi\npear\n"),
    ])
}

/// `grep`: plain, -i -c -n -v -E -o -w -l -r, no match (1), missing file (2), stdin.
pub fn busybox_grep() -> Case {
    bb(vec![
        cmd(&["grep", "the", "text/jabberwocky.txt"]).stdout(lines(&[
            "'Twas brillig, and the slithy toves",
            "Did gyre and gimble in the wabe:",
            "All mimsy were the borogoves,",
            "And the mome raths outgrabe.",
            "\"Beware the Jabberwock, my son!",
            "The jaws that bite, the claws that catch!",
            "Beware the Jubjub bird, and shun",
            "Long time the manxome foe he sought-",
            "So rested he by the Tumtum tree",
        ])),
        cmd(&["grep", "-i", "-c", "beware", "text/jabberwocky.txt"]).stdout("2\n"),
        cmd(&["grep", "-n", "Jub", "text/jabberwocky.txt"]).stdout("8:Beware the Jubjub bird, and shun\n"),
        cmd(&["grep", "-v", "-e", "a", "-e", "e", "text/words.txt"]).stdout("fig\nfig\nfig\nkiwi\n"),
        cmd(&["grep", "-E", "^(fig|kiwi)$", "text/words.txt"]).stdout("fig\nfig\nfig\nkiwi\n"),
        cmd(&["grep", "-o", "b[a-z]*", "text/words.txt"]).stdout("banana\nberry\n"),
        cmd(&["grep", "-w", "-c", "fig", "text/words.txt"]).stdout("3\n"),
        cmd(&["grep", "-l", "apple", "text/words.txt", "text/users.txt"]).stdout("text/words.txt\n"),
        cmd(&["grep", "-ri", "gamma", "tree"]).stdout("tree/alpha/beta/gamma.txt:Gamma file at depth three.\n"),
        cmd(&["grep", "zebra", "text/words.txt"]).code(1),
        cmd(&["grep", "x", "text/nope.txt"]).stderr("grep: text/nope.txt: No such file or directory\n").code(2),
        cmd(&["grep", "-c", "o"]).stdin("one\ntwo\nthree\nfour\n").stdout("3\n"),
    ])
}

/// `sed`: substitution, addresses, ranges, -n/p, -e, -E groups, y, q, a tac script, -i on a
/// read-only file.
pub fn busybox_sed() -> Case {
    bb(vec![
        cmd(&["sed", "-n", "1,4s/the/THE/gp", "text/jabberwocky.txt"]).stdout(lines(&[
            "'Twas brillig, and THE slithy toves",
            "Did gyre and gimble in THE wabe:",
            "All mimsy were THE borogoves,",
            "And THE mome raths outgrabe.",
        ])),
        cmd(&["sed", "-n", "2p;4p", "text/words.txt"]).stdout("apple\nbanana\n"),
        cmd(&["sed", "-n", "/Jabberwock/,/Bandersnatch/p", "text/jabberwocky.txt"]).stdout(lines(&[
            "\"Beware the Jabberwock, my son!",
            "The jaws that bite, the claws that catch!",
            "Beware the Jubjub bird, and shun",
            "The frumious Bandersnatch!\"",
        ])),
        cmd(&["sed", "-e", "s/:.*//", "-e", "3q", "text/users.txt"]).stdout("alice\nbob\ncarol\n"),
        cmd(&["sed", "-E", "s/([a-z]+):([0-9]+).*/\\2 \\1/", "text/users.txt"])
            .stdout("1001 alice\n1002 bob\n1003 carol\n1004 dave\n1005 eve\n"),
        cmd(&["sed", "y/abc/ABC/"]).stdin("aabbcc abc\n").stdout("AABBCC ABC\n"),
        cmd(&["sed", "1!G;h;$!d", "text/numbers.txt"]).stdout("3\n7\n99\n-17\n2048\n0\n15\n7\n100\n-3\n7\n42\n"),
        cmd(&["sed", "/^$/d;s/^/> /", "text/nonl.txt"]).stdout("> no newline at the end"),
        cmd(&["sed", "-i", "s/a/b/", "text/words.txt"])
            .stderr_is(Out::All(vec![
                Out::Contains(b"sed: can't create temp file 'text/words.txt".to_vec()),
                Out::Contains(b"': Read-only file system\n".to_vec()),
            ]))
            .code(1),
    ])
}

/// `awk`: fields, sums, conditions, arrays, printf, string and math functions, user
/// functions, -v, stdin.
pub fn busybox_awk() -> Case {
    bb(vec![
        cmd(&["awk", "-F:", "{ print $1, $3 }", "text/users.txt"])
            .stdout("alice 100\nbob 100\ncarol 200\ndave 200\neve 300\n"),
        cmd(&["awk", "{ s += $1 } END { print \"sum\", s, \"count\", NR, \"avg\", s / NR }", "text/numbers.txt"])
            .stdout("sum 2308 count 12 avg 192.333\n"),
        cmd(&[
            "awk",
            "-F:",
            "$3 >= 200 { n++; names = names \" \" $1 } END { printf \"%d users:%s\\n\", n, names }",
            "text/users.txt",
        ])
        .stdout("3 users: carol dave eve\n"),
        cmd(&["awk", "{ c[$1]++ } END { n = 0; for (w in c) if (c[w] > 1) n++; print n, c[\"apple\"], c[\"fig\"] }", "text/words.txt"])
            .stdout("3 3 3\n"),
        cmd(&[
            "awk",
            "BEGIN { printf \"%5.2f %s %d %x\\n\", 3.14159, toupper(\"abc\"), length(\"hello\"), 255; \
             n = split(\"a,b,c\", p, \",\"); print n, p[3]; \
             t = \"hello world\"; gsub(/o/, \"0\", t); print t, substr(t, 1, 4), index(t, \"w\") }",
        ])
        .stdout(" 3.14 ABC 5 ff\n3 c\nhell0 w0rld hell 7\n"),
        cmd(&[
            "awk",
            "function fact(n) { return n <= 1 ? 1 : n * fact(n - 1) } BEGIN { print fact(10), int(7.9), 7 % 3, -7 / 2 }",
        ])
        .stdout("3628800 7 1 -3.5\n"),
        cmd(&["awk", "NR % 5 == 0 { print NR \": \" $0 }", "text/words.txt"]).stdout("5: apple\n10: Banana\n15: kiwi\n"),
        cmd(&["awk", "-v", "x=5", "BEGIN { print x * 2 }"]).stdout("10\n"),
        cmd(&["awk", "{ print NF \":\" $NF }"]).stdin("a b c\n\none\n").stdout("3:c\n0:\n1:one\n"),
    ])
}

/// `find` over a chain of directories (one entry per level, so the order does not depend on
/// the file system's readdir order).
pub fn busybox_find() -> Case {
    bb(vec![
        cmd(&["find", "tree"]).stdout("tree\ntree/alpha\ntree/alpha/beta\ntree/alpha/beta/gamma.txt\n"),
        cmd(&["find", "tree", "-type", "f"]).stdout("tree/alpha/beta/gamma.txt\n"),
        cmd(&["find", "tree", "-type", "d", "-name", "b*"]).stdout("tree/alpha/beta\n"),
        cmd(&["find", ".", "-name", "*.tar"]).stdout("./archive/sample.tar\n"),
        cmd(&["find", "/usr/share/compat/links", "-type", "l"]).stdout("/usr/share/compat/links/link\n"),
        cmd(&["find", "tree", "-maxdepth", "1"]).stdout("tree\ntree/alpha\n"),
        cmd(&["find", "tree", "-mindepth", "3"]).stdout("tree/alpha/beta/gamma.txt\n"),
        cmd(&["find", "text", "-size", "0"]).stdout("text/empty.txt\n"),
        cmd(&["find", "missing"]).stderr("find: missing: No such file or directory\n").code(1),
    ])
}

/// `du`: directories count 4 KiB, small files 4 KiB (whole pages), empty files 0.
pub fn busybox_du() -> Case {
    bb(vec![
        cmd(&["du", "tree"]).stdout("8\ttree/alpha/beta\n12\ttree/alpha\n16\ttree\n"),
        cmd(&["du", "-s", "tree"]).stdout("16\ttree\n"),
        cmd(&["du", "-a", "tree"])
            .stdout("4\ttree/alpha/beta/gamma.txt\n8\ttree/alpha/beta\n12\ttree/alpha\n16\ttree\n"),
        cmd(&["du", "-b", "text/words.txt"]).stdout("90\ttext/words.txt\n"),
        cmd(&["du", "-k", "text/empty.txt"]).stdout("0\ttext/empty.txt\n"),
        cmd(&["du", "-c", "text/words.txt", "text/users.txt"])
            .stdout("4\ttext/words.txt\n4\ttext/users.txt\n8\ttotal\n"),
    ])
}

/// `stat`: sizes, modes, types, owners, link counts, mtimes, symlinks, /tmp and /dev/null.
pub fn busybox_stat() -> Case {
    bb(vec![
        cmd(&["stat", "-c", "%n %s %a %A %F %u %g %h %Y", "text/words.txt", "tree", "links/link"]).stdout(lines(&[
            "text/words.txt 90 644 -rw-r--r-- regular file 0 0 1 0",
            "tree 4096 755 drwxr-xr-x directory 0 0 3 0",
            "links/link 10 777 lrwxrwxrwx symbolic link 0 0 1 0",
        ])),
        cmd(&["stat", "-c", "%N", "links/link"]).stdout("'links/link' -> 'target.txt'\n"),
        cmd(&["stat", "-L", "-c", "%n %s %F", "links/link"]).stdout("links/link 25 regular file\n"),
        cmd(&["stat", "-c", "%y", "text/words.txt"]).stdout("1970-01-01 00:00:00.000000000 +0000\n"),
        cmd(&["stat", "-c", "%F %a", "/tmp"]).stdout("directory 1777\n"),
        cmd(&["stat", "-c", "%F %a %t %T", "/dev/null"]).stdout("character special file 666 1 3\n"),
        cmd(&["stat", "-c", "%s", "text/missing"])
            .stderr("stat: can't stat 'text/missing': No such file or directory\n")
            .code(1),
    ])
}

/// `sha256sum`: files, stdin, a large file (the busybox binary itself), -c.
pub fn busybox_sha256sum() -> Case {
    let busybox = std::fs::read(super::apps::BUSYBOX).unwrap_or_default();
    let big = pattern(1 << 20);
    bb(vec![
        cmd(&["sha256sum", "text/words.txt", "text/empty.txt"]).stdout(lines(&[
            "aa3bd9f0e3d6c2078a3dea7689159e304e151313862b502374b482379a5db9b8  text/words.txt",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  text/empty.txt",
        ])),
        cmd(&["sha256sum"])
            .stdin("abc")
            .stdout("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n"),
        cmd(&["sha256sum"]).stdin(&big).stdout(format!("{}  -\n", sha256_hex(&big))),
        cmd(&["sha256sum", "/bin/busybox"]).stdout(format!("{}  /bin/busybox\n", sha256_hex(&busybox))),
        cmd(&["sha256sum", "-c", "text/good.sha256"])
            .stdout("text/words.txt: OK\ntext/jabberwocky.txt: OK\ntext/empty.txt: OK\n"),
        cmd(&["sha256sum", "-c", "text/bad.sha256"])
            .stdout("text/numbers.txt: FAILED\ntext/users.txt: OK\n")
            .stderr("sha256sum: WARNING: 1 of 2 computed checksums did NOT match\n")
            .code(1),
    ])
}

/// `md5sum`: files, stdin, -c from stdin.
pub fn busybox_md5sum() -> Case {
    bb(vec![
        cmd(&["md5sum", "text/words.txt", "text/empty.txt", "text/nonl.txt"]).stdout(lines(&[
            "e4bce5b7071ec698b9bc9ca9718011ba  text/words.txt",
            "d41d8cd98f00b204e9800998ecf8427e  text/empty.txt",
            "1c04762a69084a577eddecd735aed5a1  text/nonl.txt",
        ])),
        cmd(&["md5sum"]).stdin("abc").stdout("900150983cd24fb0d6963f7d28e17f72  -\n"),
        cmd(&["md5sum", "-c", "-"])
            .stdin("e4bce5b7071ec698b9bc9ca9718011ba  text/words.txt\n")
            .stdout("text/words.txt: OK\n"),
    ])
}

/// `base64`: encode files and stdin (wrapped at 76), decode.
pub fn busybox_base64() -> Case {
    let big = pattern(5000);
    bb(vec![
        cmd(&["base64", "text/nonl.txt"]).stdout("bm8gbmV3bGluZSBhdCB0aGUgZW5k\n"),
        cmd(&["base64", "text/users.txt"]).stdout(base64_wrapped(&data("text/users.txt"))),
        cmd(&["base64"]).stdin(&big).stdout(base64_wrapped(&big)),
        cmd(&["base64", "-d", "text/message.b64"]).stdout(
            "uvm runs busybox in a micro-VM.\nBase64 wraps its output at 76 columns, so this line is long enough to wrap once.\n",
        ),
        cmd(&["base64", "-d"]).stdin("aGVsbG8gd29ybGQ=\n").stdout("hello world"),
    ])
}

/// `date`: fixed times in fixed formats (UTC; no TZ and no /etc/localtime means UTC), a
/// file's mtime, and the current year against the host's clock.
pub fn busybox_date() -> Case {
    let year = year_of(host_now()).to_string() + "\n";
    bb(vec![
        cmd(&["date", "-d", "@0", "-u"]).stdout("Thu Jan  1 00:00:00 UTC 1970\n"),
        cmd(&["date", "-d", "@0"]).stdout("Thu Jan  1 00:00:00 UTC 1970\n"),
        cmd(&["date", "-u", "-d", "@1700000000", "+%Y-%m-%d %H:%M:%S %j %a %b %s"])
            .stdout("2023-11-14 22:13:20 318 Tue Nov 1700000000\n"),
        cmd(&["date", "-u", "-d", "2024-02-29 12:34:56", "+%s"]).stdout("1709210096\n"),
        cmd(&["date", "-u", "-R", "-d", "@0"]).stdout("Thu, 01 Jan 1970 00:00:00 +0000\n"),
        cmd(&["date", "-u", "-I", "-d", "@86399"]).stdout("1970-01-01\n"),
        cmd(&["date", "-u", "-r", "text/words.txt"]).stdout("Thu Jan  1 00:00:00 UTC 1970\n"),
        cmd(&["date", "-u", "+%Y"]).stdout(year),
    ])
}

/// `sleep` waits (the run takes at least that long) and exits 0.
pub fn busybox_sleep() -> Case {
    bb(vec![
        cmd(&["sleep", "0.1"]).min_elapsed(Duration::from_millis(100)),
        cmd(&["sleep", "0"]),
        cmd(&["sleep", "1"]).min_elapsed(Duration::from_secs(1)),
        cmd(&["sleep", "x"]).stderr("sleep: invalid number 'x'\n").code(1),
    ])
}

/// Small applets: env (exactly the manifest's), pwd (the workdir), id, seq, expr, basename,
/// dirname, true/false, od, hexdump, realpath, readlink.
pub fn busybox_misc() -> Case {
    bb(vec![
        cmd(&["env"]).stdout("HOME=/\nPATH=/bin\n"),
        cmd(&["env"]).env("EXTRA", "x=y").stdout("EXTRA=x=y\nHOME=/\nPATH=/bin\n"),
        cmd(&["pwd"]).stdout("/usr/share/compat\n"),
        cmd(&["id"]).stdout("uid=0 gid=0\n"),
        cmd(&["seq", "1", "3", "10"]).stdout("1\n4\n7\n10\n"),
        cmd(&["expr", "6", "*", "7"]).stdout("42\n"),
        cmd(&["expr", "length", "jabberwocky"]).stdout("11\n"),
        cmd(&["basename", "/usr/share/compat/text/words.txt", ".txt"]).stdout("words\n"),
        cmd(&["dirname", "/usr/share/compat/text/words.txt"]).stdout("/usr/share/compat/text\n"),
        cmd(&["true"]),
        cmd(&["false"]).code(1),
        cmd(&["od", "-c", "text/nonl.txt"]).stdout(
            "0000000   n   o       n   e   w   l   i   n   e       a   t       t   h\n0000020   e       e   n   d\n0000025\n",
        ),
        cmd(&["hexdump", "-C", "text/nonl.txt"]).stdout(
            "00000000  6e 6f 20 6e 65 77 6c 69  6e 65 20 61 74 20 74 68  |no newline at th|\n\
             00000010  65 20 65 6e 64                                    |e end|\n\
             00000015\n",
        ),
        cmd(&["realpath", "links/link"]).stdout("/usr/share/compat/links/target.txt\n"),
        cmd(&["readlink", "links/link"]).stdout("target.txt\n"),
    ])
}

// ---------------------------------------------------------------- busybox: writing to /tmp

/// `mkdir`: -p, -m, and the errors (missing parent, exists, read-only).
pub fn busybox_mkdir() -> Case {
    bb(vec![
        cmd(&["mkdir", "-p", "/tmp/a/b/c"]),
        cmd(&["mkdir", "-m", "700", "/tmp/private"]),
        cmd(&["mkdir", "-p", "text"]),
        cmd(&["mkdir", "/tmp/x/y"])
            .stderr("mkdir: can't create directory '/tmp/x/y': No such file or directory\n")
            .code(1),
        cmd(&["mkdir", "text"]).stderr("mkdir: can't create directory 'text': File exists\n").code(1),
        cmd(&["mkdir", "/usr/share/compat/new"])
            .stderr("mkdir: can't create directory '/usr/share/compat/new': Read-only file system\n")
            .code(1),
    ])
}

/// `rm`: -f on a missing file, and the errors (missing, directory, read-only).
pub fn busybox_rm() -> Case {
    bb(vec![
        cmd(&["rm", "-f", "/tmp/missing"]),
        cmd(&["rm", "-rf", "/tmp/missing-dir"]),
        cmd(&["rm", "/tmp/missing"]).stderr("rm: can't remove '/tmp/missing': No such file or directory\n").code(1),
        cmd(&["rm", "text"]).stderr("rm: 'text' is a directory\n").code(1),
        cmd(&["rm", "text/words.txt"]).stderr("rm: can't remove 'text/words.txt': Read-only file system\n").code(1),
        cmd(&["rm", "-r", "tree"])
            .stderr("rm: can't remove 'tree/alpha/beta/gamma.txt': Read-only file system\n")
            .code(1),
    ])
}

/// `mv`: the errors (missing source, read-only rename, and across file systems: the copy
/// to /tmp works, removing the read-only source does not).
pub fn busybox_mv() -> Case {
    bb(vec![
        cmd(&["mv", "/tmp/a", "/tmp/b"]).stderr("mv: can't rename '/tmp/a': No such file or directory\n").code(1),
        cmd(&["mv", "text/words.txt", "text/w2.txt"])
            .stderr("mv: can't rename 'text/words.txt': Read-only file system\n")
            .code(1),
        cmd(&["mv", "text/words.txt", "/tmp/words.txt"])
            .stderr("mv: can't remove 'text/words.txt': Read-only file system\n")
            .code(1),
    ])
}

/// `cp`: a file, a tree, -a with a symlink into /tmp; the errors.
pub fn busybox_cp() -> Case {
    bb(vec![
        cmd(&["cp", "text/words.txt", "/tmp/words.txt"]),
        cmd(&["cp", "-r", "tree", "/tmp/tree"]),
        cmd(&["cp", "-a", "links", "/tmp/links"]),
        cmd(&["cp", "text/words.txt", "text/users.txt", "/tmp"]),
        cmd(&["cp", "text", "/tmp/t"]).stderr("cp: omitting directory 'text'\n").code(1),
        cmd(&["cp", "text/words.txt", "text/copy.txt"])
            .stderr("cp: can't create 'text/copy.txt': Read-only file system\n")
            .code(1),
        cmd(&["cp", "text/missing", "/tmp/"])
            .stderr("cp: can't stat 'text/missing': No such file or directory\n")
            .code(1),
    ])
}

/// `touch`: create, -d, -c; the errors.
pub fn busybox_touch() -> Case {
    bb(vec![
        cmd(&["touch", "/tmp/new"]),
        cmd(&["touch", "-d", "2001-02-03 04:05:06", "/tmp/dated"]),
        cmd(&["touch", "-c", "/tmp/not-created"]),
        cmd(&["touch", "text/words.txt"]).stderr("touch: text/words.txt: Read-only file system\n").code(1),
        cmd(&["touch", "/tmp/missing/dir/x"]).stderr("touch: /tmp/missing/dir/x: No such file or directory\n").code(1),
    ])
}

/// `ln`: -s (verbose) into /tmp; the errors (read-only, hard link across file systems).
pub fn busybox_ln() -> Case {
    bb(vec![
        cmd(&["ln", "-sv", "../text/words.txt", "/tmp/link"]).stdout("'/tmp/link' -> '../text/words.txt'\n"),
        cmd(&["ln", "-s", "target", "/usr/share/compat/newlink"])
            .stderr("ln: /usr/share/compat/newlink: Read-only file system\n")
            .code(1),
        cmd(&["ln", "text/words.txt", "/tmp/hard"]).stderr("ln: /tmp/hard: Invalid cross-device link\n").code(1),
    ])
}

/// `tar`: list (-t, -tv), extract into /tmp (-xv), extract to stdout (-O), create into /tmp.
pub fn busybox_tar() -> Case {
    let names = "sample/\nsample/hello.txt\nsample/sub/\nsample/sub/data.txt\n";
    bb(vec![
        cmd(&["tar", "-tf", "archive/sample.tar"]).stdout(names),
        cmd(&["tar", "-tvf", "archive/sample.tar"]).stdout(lines(&[
            "drwxr-xr-x 0/0         0 1970-01-01 00:00:00 sample/",
            "-rw-r--r-- 0/0        33 1970-01-01 00:00:00 sample/hello.txt",
            "drwxr-xr-x 0/0         0 1970-01-01 00:00:00 sample/sub/",
            "-rw-r--r-- 0/0        21 1970-01-01 00:00:00 sample/sub/data.txt",
        ])),
        cmd(&["tar", "-xvf", "archive/sample.tar", "-C", "/tmp"]).stdout(names),
        cmd(&["tar", "-xOf", "archive/sample.tar", "sample/sub/data.txt"]).stdout("line 1\nline 2\nline 3\n"),
        cmd(&["tar", "-cvf", "/tmp/tree.tar", "tree"])
            .stdout("tree/\ntree/alpha/\ntree/alpha/beta/\ntree/alpha/beta/gamma.txt\n"),
        cmd(&["tar", "-xf", "archive/missing.tar"])
            .stderr("tar: can't open 'archive/missing.tar': No such file or directory\n")
            .code(1),
    ])
}

/// `zcat` and `tar -z`: busybox forks a decompressor and reads it through a pipe.
pub fn busybox_zcat_tar_z() -> Case {
    bb(vec![
        cmd(&["zcat", "archive/jabberwocky.txt.gz"]).stdout(data("text/jabberwocky.txt")),
        cmd(&["tar", "-tzf", "archive/sample.tar.gz"])
            .stdout("sample/\nsample/hello.txt\nsample/sub/\nsample/sub/data.txt\n"),
        cmd(&["tar", "-xzvf", "archive/sample.tar.gz", "-C", "/tmp"])
            .stdout("sample/\nsample/hello.txt\nsample/sub/\nsample/sub/data.txt\n"),
    ])
}

/// `gzip`/`gunzip`: decompress a packaged file (made by GNU gzip) and stdin, test it,
/// compress a file to stdout (the exact bytes busybox gzip makes), and the errors.
pub fn busybox_gzip() -> Case {
    let poem = data("text/jabberwocky.txt");
    bb(vec![
        cmd(&["gunzip", "-c", "archive/jabberwocky.txt.gz"]).stdout(&poem),
        cmd(&["gzip", "-t", "archive/jabberwocky.txt.gz"]),
        cmd(&["gzip", "-d", "-c"]).stdin(data("archive/jabberwocky.txt.gz")).stdout(&poem),
        cmd(&["gzip", "-c", "text/words.txt"]).stdout(read("expected/words.txt.busybox.gz")),
        cmd(&["gzip", "-c"]).stdin(data("text/words.txt")).stdout(read("expected/words.txt.busybox.gz")),
        cmd(&["gunzip", "-c", "text/words.txt"]).stderr("gunzip: invalid magic\n").code(1),
        cmd(&["gzip", "text/words.txt"])
            .stderr("gzip: can't open 'text/words.txt.gz': Read-only file system\n")
            .code(1),
    ])
}

// ---------------------------------------------------------------- busybox sh

/// `sh SCRIPT` for a packaged script, with its expected stdout in `expected/sh_<name>.out`.
fn sh_script(name: &str) -> Run {
    Run::new(&format!("busybox sh scripts/{name}.sh"))
        .args(&["sh", &format!("scripts/{name}.sh")])
        .stdout(read(&format!("expected/sh_{name}.out")))
}

/// Loops and arithmetic (builtins only).
pub fn busybox_sh_loops() -> Case {
    bb(vec![sh_script("loops")])
}

/// Functions, recursion, locals, getopts (builtins only).
pub fn busybox_sh_functions() -> Case {
    bb(vec![sh_script("functions")])
}

/// case and parameter expansion (builtins only).
pub fn busybox_sh_params() -> Case {
    bb(vec![sh_script("params")])
}

/// Here-documents (ash feeds them through a pipe).
pub fn busybox_sh_heredoc() -> Case {
    bb(vec![sh_script("heredoc")])
}

/// Exit statuses: `exit N`, `set -e`, a function's return, a syntax error, a missing script.
pub fn busybox_sh_exit() -> Case {
    bb(vec![
        cmd(&["sh", "-c", "exit 42"]).code(42),
        cmd(&["sh", "-c", "exit 300"]).code(44),
        cmd(&["sh", "-c", "false"]).code(1),
        cmd(&["sh", "-c", "true; exit"]),
        cmd(&["sh", "-c", "false; exit"]).code(1),
        cmd(&["sh", "-c", "f() { return 7; }; f; exit $?"]).code(7),
        cmd(&["sh", "-c", "set -e; echo before; false; echo after"]).stdout("before\n").code(1),
        cmd(&["sh", "-c", "echo $0 $1 $2; shift; echo $#", "zero", "one", "two"]).stdout("zero one two\n1\n"),
        cmd(&["sh", "-c", "if then"]).stderr("sh: syntax error: unexpected \"then\"\n").code(2),
        cmd(&["sh", "scripts/exit.sh"]).stdout("before exit\n").code(3),
        cmd(&["sh", "scripts/missing.sh"])
            .stderr("sh: can't open 'scripts/missing.sh': No such file or directory\n")
            .code(2),
    ])
}

/// A script reading stdin with the `read` builtin.
pub fn busybox_sh_stdin() -> Case {
    let input = "10\nsome text\n-3\n\nthe longest line of them all\n25";
    bb(vec![
        cmd(&["sh", "scripts/stdin.sh"]).stdin(input).stdout("lines=6 sum=32 longest=the longest line of them all\n"),
        cmd(&["sh", "scripts/stdin.sh"]).stdout("lines=0 sum=0 longest=\n"),
        cmd(&["sh", "-s"]).stdin("echo from a script on stdin\nexit 5\n").stdout("from a script on stdin\n").code(5),
    ])
}

/// Redirections into /tmp, read back, tests, globbing, cd/pwd, fds (builtins only).
pub fn busybox_sh_files() -> Case {
    bb(vec![sh_script("files").stderr(
        "to stderr\nscripts/files.sh: line 28: can't create /usr/share/compat/text/new.txt: Read-only file system\n\
         scripts/files.sh: cd: line 30: can't cd to /nonexistent: No such file or directory\n",
    )])
}

/// `exec`: an entrypoint script hands its process to the command it was given (`exec "$@"`),
/// which sees the script's exports and cwd; `exec` of an applet, of a missing program, and a
/// script run by execve through its `#!` line.
pub fn busybox_sh_exec() -> Case {
    let shown = r#"echo "$GREETING, in $PWD, as $0""#;
    bb(vec![
        cmd(&["sh", "scripts/entrypoint.sh", "/bin/busybox", "sh", "-c", shown, "child"]).stdout(
            "entrypoint: exec /bin/busybox sh -c echo \"$GREETING, in $PWD, as $0\" child\n\
                     set by the entrypoint, in /usr/share/compat/text, as child\n",
        ),
        cmd(&["sh", "-c", "exec busybox echo replaced; echo never"]).stdout("replaced\n"),
        cmd(&["sh", "-c", "exec /bin/missing; echo never"])
            .stderr("sh: exec: line 0: /bin/missing: not found\n")
            .code(127),
        cmd(&["sh", "-c", "exec ./scripts/hello-script.sh one 'two words'"])
            .stdout("a #! script: ./scripts/hello-script.sh, args: one two words (2)\n"),
    ])
}

/// Pipes, command substitution, subshells: needs fork, pipe and wait.
pub fn busybox_sh_pipeline() -> Case {
    bb(vec![sh_script("pipeline")])
}

/// Named pipes: a log FIFO drained by a background reader, a writer waiting for its reader.
pub fn busybox_sh_fifo() -> Case {
    bb(vec![sh_script("fifo")])
}

/// mkdir/cp/mv/ln/touch/rm/tar/gzip in /tmp checked by ls/cat/sha256sum: a process each.
pub fn busybox_sh_fileops() -> Case {
    bb(vec![sh_script("fileops")])
}

/// The default writable root, as an entrypoint script uses a container's: `sed -i`, `mv`,
/// `cp`, `rm -r` and `touch` on the packaged data, a log directory made outside /tmp, a
/// symlink to it; a second boot sees the image again.
pub fn busybox_writable_root() -> Case {
    let script = "set -e
sed -i 's/:/ /g' text/users.txt
head -n 2 text/users.txt
mv text/words.txt text/moved.txt
cp text/moved.txt text/copy.txt
cmp text/moved.txt text/copy.txt && echo copied
test -e text/words.txt || echo words.txt moved
rm -r tree
test -e tree || echo tree removed
touch -d '2001-02-03 04:05:06' text/empty.txt
date -r text/empty.txt +%Y
mkdir -p /var/log/app
echo started > /var/log/app/app.log
ln -s /var/log/app logs
cat logs/app.log
ls /var/log/app";
    let first = "alice 1001 100 Alice Liddell /home/alice /bin/sh\n\
                 bob 1002 100 Bob Builder /home/bob /bin/false\n\
                 copied\n\
                 words.txt moved\n\
                 tree removed\n\
                 2001\n\
                 started\n\
                 app.log\n";
    let again = "set -e; head -n 1 text/users.txt; test -e text/words.txt && test -d tree && echo as packaged";
    let runs = vec![
        Run::new("busybox sh -c (changes the packaged data)").args(&["sh", "-c", script]).stdout(first),
        Run::new("busybox sh -c (a new boot)")
            .args(&["sh", "-c", again])
            .stdout("alice:1001:100:Alice Liddell:/home/alice:/bin/sh\nas packaged\n"),
    ];
    case("busybox_rw", Busybox, "busybox", runs)
}

// ---------------------------------------------------------------- bash

/// Debian's bash-static, unmodified: functions, arrays, here-strings, process substitution
/// (`<(cmd)`, which bash and busybox's diff open as `/dev/fd/N`), mapfile, traps, a
/// background job, a coprocess, regexes and an EXIT trap, with busybox for the commands.
pub fn bash_script() -> Case {
    let script = "set -u
f() { local x=$1; echo \"function: f($x) = $((x * 2))\"; }
f 21
arr=(one two three); echo \"array: ${#arr[@]} items, ${arr[*]}, last ${arr[-1]}\"
declare -A map=([a]=1 [b]=2); echo \"associative: b=${map[b]}, ${#map[@]} keys\"
echo \"command substitution: $(echo a $(echo b))\"
while read -r line; do echo \"here-string: $line\"; done <<< $'l1\\nl2'
while read -r n; do echo \"process substitution, read by bash: $n\"; done < <(busybox seq 1 2)
busybox diff <(printf 'a\\nb\\n') <(printf 'a\\nc\\n') >/dev/null; echo \"process substitution, two for diff: status $?\"
mapfile -t lines < <(printf 'x\\ny\\nz\\n'); echo \"mapfile: ${#lines[@]} lines\"
trap 'echo \"trap: USR1\"' USR1; kill -USR1 $$
busybox sleep 0.05 & wait $!; echo \"background job: status $?\"
( exit 7 ); echo \"subshell: status $?\"
echo \"pipeline: $(busybox seq 1 5 | busybox paste -sd+ | busybox bc)\"
printf -v padded '%05d' 42; echo \"printf -v: $padded\"
coproc busybox cat; echo hello >&\"${COPROC[1]}\"; read -r reply <&\"${COPROC[0]}\"; echo \"coproc: $reply\"
[[ \"abc\" =~ ^a(b)c$ ]] && echo \"regex: ${BASH_REMATCH[1]}\"
case \"x.tar.gz\" in *.tar.gz) echo \"case: tarball\";; esac
echo \"brace expansion:\" {a,b}{1,2}
trap 'echo \"EXIT trap\"' EXIT
exit 3";
    let out = "function: f(21) = 42\n\
               array: 3 items, one two three, last three\n\
               associative: b=2, 2 keys\n\
               command substitution: a b\n\
               here-string: l1\n\
               here-string: l2\n\
               process substitution, read by bash: 1\n\
               process substitution, read by bash: 2\n\
               process substitution, two for diff: status 1\n\
               mapfile: 3 lines\n\
               trap: USR1\n\
               background job: status 0\n\
               subshell: status 7\n\
               pipeline: 15\n\
               printf -v: 00042\n\
               coproc: hello\n\
               regex: b\n\
               case: tarball\n\
               brace expansion: a1 a2 b1 b2\n\
               EXIT trap\n";
    case("bash", Bash, "bash", vec![Run::new("bash -c (a script)").args(&["-c", script]).stdout(out).code(3)])
}

// ---------------------------------------------------------------- C programs (glibc and musl)

fn c_only(tc: Toolchain) -> Toolchain {
    assert!(matches!(tc, Glibc | Musl), "the C programs are built with glibc or musl, not {tc}");
    tc
}

/// `fileops`: file I/O and its errors.
pub fn c_fileops(tc: Toolchain) -> Case {
    case("fileops", c_only(tc), "fileops", vec![Run::new("fileops").stdout(read("expected/fileops.out"))])
}

/// `dirops`: directories, *at(), scandir and a walk of the packaged tree.
pub fn c_dirops(tc: Toolchain) -> Case {
    let mut scandir = vec![".".to_string(), "..".to_string()];
    scandir.extend(data_dir_names("text"));
    let (dirs, files, bytes) = walk(&compat_path("data"));
    let out = text("expected/dirops.out")
        .replace("@SCANDIR@", &format!("{} entries: {}", scandir.len(), scandir.join(" ")))
        .replace("@WALK@", &format!("{dirs} directories, {files} files, {bytes} bytes"));
    case("dirops", c_only(tc), "dirops", vec![Run::new("dirops").stdout(out)])
}

/// Directories, regular files and their total size under `dir` (symlinks not followed).
fn walk(dir: &std::path::Path) -> (u64, u64, u64) {
    let (mut dirs, mut files, mut bytes) = (1, 0, 0);
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("dir entry");
        let meta = std::fs::symlink_metadata(entry.path()).expect("lstat");
        if meta.is_dir() {
            let (d, f, b) = walk(&entry.path());
            (dirs, files, bytes) = (dirs + d, files + f, bytes + b);
        } else if meta.is_file() {
            files += 1;
            bytes += meta.len();
        }
    }
    (dirs, files, bytes)
}

/// `links`: hard links and symlinks.
pub fn c_links(tc: Toolchain) -> Case {
    case("links", c_only(tc), "links", vec![Run::new("links").stdout(read("expected/links.out"))])
}

/// `clocks`: the clocks agree with each other and with the host (passed as argv[1]).
pub fn c_clocks(tc: Toolchain) -> Case {
    let run = Run::new("clocks -- HOST_NOW").args(&[&host_now().to_string()]).stdout(read("expected/clocks.out"));
    case("clocks", c_only(tc), "clocks", vec![run])
}

/// `sleep`: every way of sleeping sleeps.
pub fn c_sleep(tc: Toolchain) -> Case {
    let run = Run::new("sleep").stdout(read("expected/sleep.out")).min_elapsed(Duration::from_millis(1190));
    case("sleep", c_only(tc), "sleep", vec![run])
}

/// `heap`: malloc churn.
pub fn c_heap(tc: Toolchain) -> Case {
    case("heap", c_only(tc), "heap", vec![Run::new("heap").stdout(read("expected/heap.out"))])
}

/// `mmap`: mmap churn.
pub fn c_mmap(tc: Toolchain) -> Case {
    case("mmap", c_only(tc), "mmap", vec![Run::new("mmap").stdout(read("expected/mmap.out"))])
}

/// `shm`: memfd_create, shared mappings of tmpfs files, seals, SIGBUS past the end.
pub fn c_shm(tc: Toolchain) -> Case {
    case("shm", c_only(tc), "shm", vec![Run::new("shm").stdout(read("expected/shm.out"))])
}

/// `shm_churn`: random operations on tmpfs files and their mappings; writes through shared
/// mappings must read back at once.
pub fn c_shm_churn(tc: Toolchain) -> Case {
    case("shm_churn", c_only(tc), "shm_churn", vec![Run::new("shm_churn").stdout(read("expected/shm_churn.out"))])
}

/// `sqlite_wal`: SQLite in WAL mode, whose index is a MAP_SHARED file (glibc only: Debian's
/// static libsqlite3 is built for it).
pub fn c_sqlite_wal() -> Case {
    case("sqlite_wal", Glibc, "sqlite_wal", vec![Run::new("sqlite_wal").stdout(read("expected/sqlite_wal.out"))])
}

/// `faults abort`: SIGABRT, 134.
pub fn c_abort(tc: Toolchain) -> Case {
    let run = Run::new("abort").args(&["abort"]).stdout("mode abort\n").status(ABRT);
    case("faults", c_only(tc), "faults", vec![run])
}

/// `faults abort-handler`: the SIGABRT handler runs, then abort() kills with SIGABRT.
pub fn c_abort_handler(tc: Toolchain) -> Case {
    let run = Run::new("abort with a handler")
        .args(&["abort-handler"])
        .stdout("mode abort-handler\nSIGABRT handler ran\n")
        .status(ABRT);
    case("faults", c_only(tc), "faults", vec![run])
}

/// `faults read|write|rodata|call`: wild pointers, SIGSEGV, 139.
pub fn c_wild_pointer(tc: Toolchain) -> Case {
    let runs = ["read", "write", "rodata", "call"]
        .into_iter()
        .map(|mode| Run::new(mode).args(&[mode]).stdout(format!("mode {mode}\n")).status(SEGV))
        .collect();
    case("faults", c_only(tc), "faults", runs)
}

/// `faults stack`: unbounded recursion runs into the stack limit: SIGSEGV, 139.
pub fn c_stack_overflow(tc: Toolchain) -> Case {
    let run = Run::new("stack").args(&["stack"]).stdout("mode stack\n").status(SEGV);
    case("faults", c_only(tc), "faults", vec![run])
}

/// `faults div0|trap`: SIGFPE (136) and SIGILL (132).
pub fn c_cpu_traps(tc: Toolchain) -> Case {
    let runs = vec![
        Run::new("div0").args(&["div0"]).stdout("mode div0\n").status(FPE),
        Run::new("trap").args(&["trap"]).stdout("mode trap\n").status(ILL),
    ];
    case("faults", c_only(tc), "faults", runs)
}

/// `oom`: what fits works; touching more than the VM has is the OOM kill (137, as
/// `support/cases.rs` `memory` documents).
pub fn c_oom(tc: Toolchain) -> Case {
    let runs = vec![
        Run::new("oom 16 (fits in 64 MiB)").args(&["16"]).stdout("allocated and wrote 16 MiB, contents intact\n"),
        Run::new("oom 200 in 64 MiB")
            .args(&["200"])
            .vm_only()
            .stdout_is(Out::Lacks(b"allocated".to_vec()))
            .stderr_is(Out::Contains(b"ran out of memory".to_vec()))
            .status(Status::Code(137)),
        // The kernel's own memory, grown by calls: a full tmpfs says ENOSPC (Linux's tmpfs
        // would, at its inode limit), in /tmp and in the writable root, and recovers; the
        // signal queue stops at RLIMIT_SIGPENDING; mappings made until memory runs out are
        // the OOM kill. Each of them ended in a guest kernel panic once (exit 125). In the VM
        // only: the host's /tmp is a disk, and its mappings merge into one.
        Run::new("oom files /tmp").args(&["files", "/tmp"]).vm_only().stdout(
            "files in /tmp: ENOSPC after more than 10000\nall removed; a new file afterwards: 16 MiB written\n",
        ),
        Run::new("oom files / (the writable root)")
            .args(&["files", "/"])
            .vm_only()
            .stdout("files in /: ENOSPC after more than 10000\nall removed; a new file afterwards: 16 MiB written\n"),
        Run::new("oom sigqueue").args(&["sigqueue"]).stdout("sigqueue: EAGAIN at RLIMIT_SIGPENDING\n"),
        Run::new("oom mappings")
            .args(&["mappings"])
            .vm_only()
            .stdout("")
            .stderr_is(Out::Contains(b"ran out of memory".to_vec()))
            .status(Status::Code(137)),
    ];
    case("oom", c_only(tc), "oom", runs)
}

/// `oom huge`: a 1 TiB malloc, far beyond RAM, returns NULL (Linux's default overcommit
/// heuristic refuses it), and the program carries on.
pub fn c_malloc_huge(tc: Toolchain) -> Case {
    let run = Run::new("oom huge")
        .args(&["huge"])
        .stdout("malloc(1 TiB): NULL (ENOMEM)\nmalloc(1 MiB) afterwards: succeeded\n");
    case("oom", c_only(tc), "oom", vec![run])
}

/// `threads`: POSIX threads (mutex, condition variables, `__thread`, join and detach,
/// pthread_exit also from main, gettid, a barrier, pthread_kill, the CPU count).
pub fn c_threads(tc: Toolchain) -> Case {
    case("threads", c_only(tc), "threads", vec![Run::new("threads").stdout(read("expected/threads.out"))])
}

/// `futex`: futex(2) called directly (WAIT, WAKE, the BITSET pair, CMP_REQUEUE, timeouts).
pub fn c_futex(tc: Toolchain) -> Case {
    case("futex", c_only(tc), "futex", vec![Run::new("futex").stdout(read("expected/futex.out"))])
}

/// `net_loopback`: IP sockets inside the VM over its own loopback (127.0.0.1 and ::1): TCP
/// (listen, connect, accept4, MSG_PEEK, shutdown, a non-blocking connect, ECONNREFUSED,
/// EADDRINUSE, SO_REUSEADDR, TCP_NODELAY, poll and epoll readiness, a dual-stack [::]
/// listener, a 1 MiB stream to another thread; on a full socket an `MSG_OOB` send that times
/// out at `SO_SNDTIMEO` and a blocked sender woken by `shutdown`; a reset after the peer's FIN
/// reaching the sender), UDP over both families,
/// getaddrinfo with the packaged /etc/hosts. Never a port number in the output: only whether they are non-zero or equal.
pub fn c_net_loopback(tc: Toolchain) -> Case {
    case(
        "net_loopback",
        c_only(tc),
        "net_loopback",
        vec![Run::new("net_loopback").stdout(read("expected/net_loopback.out"))],
    )
}

// ---------------------------------------------------------------- Rust std programs

/// `files.rs`: std::fs.
pub fn rust_files() -> Case {
    // Every top-level entry of tests/compat/data is a directory.
    let top: Vec<String> = data_dir_names("").into_iter().map(|n| format!("\"{n}/\"")).collect();
    let out = text("expected/rust_files.out").replace("@TOP@", &top.join(", "));
    case("rust_files", Rust, "files", vec![Run::new("files").stdout(out)])
}

/// `env.rs`: args, the exact environment, cwd, exit code.
pub fn rust_env() -> Case {
    let runs = vec![
        Run::new("manifest args and env").host_env("UVM_HOST_LEAK", "leaked").stdout(read("expected/rust_env.out")),
        Run::new("-- ARGS and -e EXIT_CODE=3")
            .args(&["x"])
            .env("EXIT_CODE", "3")
            .stdout(read("expected/rust_env_exit.out"))
            .code(3),
    ];
    case("rust_env", Rust, "env", runs)
}

/// `wordfreq.rs`: collections.
pub fn rust_wordfreq() -> Case {
    case("rust_wordfreq", Rust, "wordfreq", vec![Run::new("wordfreq").stdout(read("expected/rust_wordfreq.out"))])
}

/// `clock.rs`: Instant and SystemTime; thread::sleep.
pub fn rust_clock() -> Case {
    let now = host_now().to_string();
    let base = text("expected/rust_clock.out");
    let runs = vec![
        Run::new("clock -- HOST_NOW").args(&[&now]).stdout(&base),
        Run::new("clock -- HOST_NOW sleep")
            .args(&[&now, "sleep"])
            .stdout(base + "thread::sleep(30 ms) slept at least 30 ms: true\n... and less than 2 s: true\n"),
    ];
    case("rust_clock", Rust, "clock", runs)
}

/// `panic.rs`: a panic (message on stderr, 101), and catch_unwind catching one.
pub fn rust_panic() -> Case {
    let src = compat_path("apps/rust/panic.rs").display().to_string();
    let runs = vec![
        Run::new("panic")
            .stdout("mode panic\n")
            .stderr_is(Out::All(vec![
                Out::Contains(format!("panicked at {src}:11:13:\nboom at index 3\n").into_bytes()),
                Out::Contains(
                    b"note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n".to_vec(),
                ),
            ]))
            .code(101),
        Run::new("catch")
            .args(&["catch"])
            .stdout("mode catch\ncaught: Some(\"nothing inside\")\nstill running\n")
            .stderr_is(Out::Contains(format!("panicked at {src}:16:23:\nnothing inside\n").into_bytes())),
    ];
    case("rust_panic", Rust, "panic", runs)
}

/// `panic.rs`: process::abort (SIGABRT, 134) and process::exit(42) after unflushed output.
pub fn rust_abort_exit() -> Case {
    let runs = vec![
        Run::new("abort").args(&["abort"]).stdout("mode abort\n").status(ABRT),
        Run::new("exit").args(&["exit"]).stdout("mode exit\nno newline before exit").code(42),
    ];
    case("rust_panic", Rust, "panic", runs)
}

/// `threads.rs`: std::thread, Mutex, Condvar, mpsc, Barrier, scope, atomics. Its thread
/// "doomed" panics on purpose: the panic line names the thread, the source location and (in
/// recent Rust versions) the thread's id, which is why stderr is matched in pieces.
pub fn rust_threads() -> Case {
    let src = compat_path("apps/rust/threads.rs");
    let at = source_location(&src, "panic!(\"thread failed on purpose\")");
    let run = Run::new("threads").stdout(read("expected/rust_threads.out")).stderr_is(Out::All(vec![
        Out::Contains(b"thread 'doomed' ".to_vec()),
        Out::Contains(format!("panicked at {}:{at}:\nthread failed on purpose\n", src.display()).into_bytes()),
    ]));
    case("rust_threads", Rust, "threads", vec![run])
}

// ---------------------------------------------------------------- Go

/// `go/runtime.go`: goroutines on several threads, channels, timers, a mutex, garbage
/// collection under load, a tight loop preempted (SIGURG to a chosen thread), os file I/O and
/// pipes through the netpoller (epoll); also with one vCPU running at a time (`--cpus 1`).
pub fn go_runtime() -> Case {
    let out = "GOMAXPROCS follows the CPUs: ok\n\
               pipeline of goroutines: ok\n\
               1000 goroutines under a mutex: ok\n\
               a ticker ticks 5 times: ok\n\
               a stopped timer does not fire: ok\n\
               garbage collection ran and freed memory: ok\n\
               a tight loop is preempted: ok\n\
               os.WriteFile then os.ReadFile: ok\n\
               os.ReadDir: ok\n\
               os.Pipe: ok\n\
               reading a pipe another goroutine writes: ok\n\
               a read at end of file: ok\n\
               a read deadline on an empty pipe: ok\n\
               os.Executable: ok\n\
               os/exec ran a child and read its output: ok\n\
               os/exec saw a child's exit status: ok\n\
               os/exec of a missing program fails with its error: ok\n\
               syscall.Exec ran the program again, with its arguments and environment: ok\n\
               all ok\n";
    let runs = vec![Run::new("runtime").stdout(out), Run::new("--cpus 1").cpus(1).stdout(out).vm_only()];
    case("go_runtime", Go, "runtime", runs)
}

/// "LINE:COLUMN" (both from 1) of the first occurrence of `needle` in the file at `path`, as a
/// Rust panic message gives the location of a `panic!`.
fn source_location(path: &std::path::Path, needle: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .find_map(|(i, line)| line.find(needle).map(|at| format!("{}:{}", i + 1, line[..at].chars().count() + 1)))
        .unwrap_or_else(|| panic!("{} does not contain {needle:?}", path.display()))
}
