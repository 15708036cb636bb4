//! Tests Rust's stack-overflow report: unbounded recursion hits the stack's end, std's
//! SIGSEGV handler (on its sigaltstack) prints "thread 'main' ... has overflowed its stack"
//! and aborts: killed by SIGABRT, status 134.

use std::hint::black_box;

fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[3])
}

fn main() {
    println!("recursing until the stack runs out");
    let total = recurse(0);
    println!("recursion ended?! {total}");
}
