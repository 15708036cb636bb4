//! The process environment from Rust std: args, the exact environment (sorted), var/var_os,
//! set_var/remove_var, current_dir (the manifest's workdir), temp_dir, and the exit code.
use std::env;

fn main() {
    let args: Vec<String> = env::args().collect();
    println!("args: {args:?}");
    let mut vars: Vec<(String, String)> = env::vars().collect();
    vars.sort();
    println!("{} variables:", vars.len());
    for (k, v) in &vars {
        println!("  {k}={v:?}");
    }
    println!("var(GREETING): {:?}", env::var("GREETING"));
    println!("var(MISSING): {:?}", env::var("MISSING").map_err(|e| e.to_string()));
    println!("var_os(PATH) is some: {}", env::var_os("PATH").is_some());
    env::set_var("ADDED", "at run time");
    env::remove_var("GREETING");
    println!("after set/remove: ADDED={:?} GREETING={:?}", env::var("ADDED").ok(), env::var("GREETING").ok());
    println!("current_dir: {:?}", env::current_dir().map_err(|e| e.to_string()));
    println!("temp_dir: {:?}", env::temp_dir());
    let code = env::var("EXIT_CODE").ok().and_then(|c| c.parse().ok()).unwrap_or(0);
    println!("exiting with {code}");
    std::process::exit(code);
}
