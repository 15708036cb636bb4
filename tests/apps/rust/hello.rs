// Tests a Rust std program: args, env, reading a packaged file, stderr, and its own exit code.
use std::{env, fs, process};

fn main() {
    let args: Vec<String> = env::args().collect();
    let who = args.get(1).map_or("nobody", String::as_str);
    let code: i32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let greeting = env::var("GREETING").unwrap_or_else(|_| "(no GREETING)".to_string());
    println!("{greeting}, {who}! (from Rust)");
    println!("argv0={:?} argc={}", args[0], args.len());
    let conf = fs::read_to_string("/etc/app.conf").expect("read /etc/app.conf");
    let answer = conf.lines().find_map(|l| l.strip_prefix("answer = ")).unwrap_or("?");
    println!("app.conf: {} lines, answer={answer}", conf.lines().count());
    eprintln!("exiting with {code}");
    process::exit(code);
}
