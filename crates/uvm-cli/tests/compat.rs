//! The compatibility suite: real programs under uvm with their exact expected stdout, stderr
//! and exit status. The host's busybox-static (unmodified: shell, text and file utilities,
//! archives), and static C (glibc and musl) and Rust std programs from `tests/compat/apps/`.
//! The cases are in `support/compat.rs`; `native.rs` (`native_compat_*`) checks every
//! expectation against Linux itself. See tests/README.md.
//!
//! `cargo test -p uvm-cli --test compat`. Without /dev/kvm (or musl-gcc / busybox / rustc) the
//! affected tests print a note and pass; with `CI=true` they fail instead.

mod support;

use support::apps::Toolchain::{Glibc, Musl};
use support::compat;
use support::vm::check_case;

/// One `#[test]` per case; also the list of names, checked against `compat::all()`.
macro_rules! compat_tests {
    ($($(#[$meta:meta])* $test:ident => $case:expr;)*) => {
        $(
            #[test]
            $(#[$meta])*
            fn $test() {
                check_case(stringify!($test), $case);
            }
        )*
        const TESTS: &[&str] = &[$(stringify!($test)),*];
    };
}

compat_tests! {
    busybox_echo_printf => compat::busybox_echo_printf();
    busybox_cat => compat::busybox_cat();
    busybox_ls => compat::busybox_ls();
    busybox_ls_long => compat::busybox_ls_long();
    busybox_wc => compat::busybox_wc();
    busybox_head_tail => compat::busybox_head_tail();
    busybox_cut => compat::busybox_cut();
    busybox_tr => compat::busybox_tr();
    busybox_sort => compat::busybox_sort();
    busybox_uniq => compat::busybox_uniq();
    busybox_grep => compat::busybox_grep();
    busybox_sed => compat::busybox_sed();
    busybox_awk => compat::busybox_awk();
    busybox_find => compat::busybox_find();
    busybox_du => compat::busybox_du();
    busybox_stat => compat::busybox_stat();
    busybox_sha256sum => compat::busybox_sha256sum();
    busybox_md5sum => compat::busybox_md5sum();
    busybox_base64 => compat::busybox_base64();
    busybox_date => compat::busybox_date();
    busybox_sleep => compat::busybox_sleep();
    busybox_misc => compat::busybox_misc();
    busybox_mkdir => compat::busybox_mkdir();
    busybox_rm => compat::busybox_rm();
    busybox_mv => compat::busybox_mv();
    busybox_cp => compat::busybox_cp();
    busybox_touch => compat::busybox_touch();
    busybox_ln => compat::busybox_ln();
    busybox_tar => compat::busybox_tar();
    busybox_zcat_tar_z => compat::busybox_zcat_tar_z();
    busybox_gzip => compat::busybox_gzip();
    busybox_sh_loops => compat::busybox_sh_loops();
    busybox_sh_functions => compat::busybox_sh_functions();
    busybox_sh_params => compat::busybox_sh_params();
    busybox_sh_heredoc => compat::busybox_sh_heredoc();
    busybox_sh_exit => compat::busybox_sh_exit();
    busybox_sh_stdin => compat::busybox_sh_stdin();
    busybox_sh_files => compat::busybox_sh_files();
    busybox_sh_exec => compat::busybox_sh_exec();
    busybox_sh_pipeline => compat::busybox_sh_pipeline();
    busybox_sh_fifo => compat::busybox_sh_fifo();
    busybox_sh_fileops => compat::busybox_sh_fileops();
    busybox_writable_root => compat::busybox_writable_root();
    bash_script => compat::bash_script();
    glibc_fileops => compat::c_fileops(Glibc);
    musl_fileops => compat::c_fileops(Musl);
    glibc_dirops => compat::c_dirops(Glibc);
    musl_dirops => compat::c_dirops(Musl);
    glibc_links => compat::c_links(Glibc);
    musl_links => compat::c_links(Musl);
    glibc_clocks => compat::c_clocks(Glibc);
    musl_clocks => compat::c_clocks(Musl);
    glibc_sleep => compat::c_sleep(Glibc);
    musl_sleep => compat::c_sleep(Musl);
    glibc_heap => compat::c_heap(Glibc);
    musl_heap => compat::c_heap(Musl);
    glibc_mmap => compat::c_mmap(Glibc);
    musl_mmap => compat::c_mmap(Musl);
    glibc_shm => compat::c_shm(Glibc);
    musl_shm => compat::c_shm(Musl);
    glibc_shm_churn => compat::c_shm_churn(Glibc);
    musl_shm_churn => compat::c_shm_churn(Musl);
    glibc_sqlite_wal => compat::c_sqlite_wal();
    glibc_abort => compat::c_abort(Glibc);
    musl_abort => compat::c_abort(Musl);
    glibc_abort_handler => compat::c_abort_handler(Glibc);
    musl_abort_handler => compat::c_abort_handler(Musl);
    glibc_wild_pointer => compat::c_wild_pointer(Glibc);
    musl_wild_pointer => compat::c_wild_pointer(Musl);
    glibc_stack_overflow => compat::c_stack_overflow(Glibc);
    musl_stack_overflow => compat::c_stack_overflow(Musl);
    glibc_cpu_traps => compat::c_cpu_traps(Glibc);
    musl_cpu_traps => compat::c_cpu_traps(Musl);
    glibc_oom => compat::c_oom(Glibc);
    musl_oom => compat::c_oom(Musl);
    glibc_malloc_huge => compat::c_malloc_huge(Glibc);
    musl_malloc_huge => compat::c_malloc_huge(Musl);
    glibc_threads => compat::c_threads(Glibc);
    musl_threads => compat::c_threads(Musl);
    glibc_futex => compat::c_futex(Glibc);
    musl_futex => compat::c_futex(Musl);
    glibc_net_loopback => compat::c_net_loopback(Glibc);
    musl_net_loopback => compat::c_net_loopback(Musl);
    rust_files => compat::rust_files();
    rust_env => compat::rust_env();
    rust_wordfreq => compat::rust_wordfreq();
    rust_clock => compat::rust_clock();
    rust_panic => compat::rust_panic();
    rust_abort_exit => compat::rust_abort_exit();
    rust_threads => compat::rust_threads();
    go_runtime => compat::go_runtime();
}

/// Every case in `compat::all()` has its `#[test]` here, and the other way round.
#[test]
fn every_case_has_a_test() {
    let mut cases: Vec<&str> = compat::all().into_iter().map(|(name, _)| name).collect();
    let mut tests = TESTS.to_vec();
    cases.sort_unstable();
    tests.sort_unstable();
    assert_eq!(cases, tests, "compat_tests! in compat.rs and compat::all() must list the same cases");
    assert!(cases.windows(2).all(|w| w[0] != w[1]), "duplicate case names");
}
