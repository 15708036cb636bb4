//! Ending badly, by argv[1]: `panic` (message on stderr, exit 101), `catch` (catch_unwind
//! catches a panic and carries on: unwinding through the static-pie's own eh_frame),
//! `abort` (process::abort: SIGABRT, 134), `exit` (process::exit(42) after output).
fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    println!("mode {mode}");
    match mode.as_str() {
        "panic" => {
            let v: Vec<u32> = Vec::new();
            let i = v.len() + 3;
            panic!("boom at index {i}");
        }
        "catch" => {
            let caught = std::panic::catch_unwind(|| {
                let inner: Option<u32> = None;
                inner.expect("nothing inside")
            });
            match caught {
                Ok(v) => println!("no panic?! {v}"),
                Err(payload) => {
                    let text = payload.downcast_ref::<String>().cloned().or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
                    println!("caught: {text:?}")
                }
            }
            println!("still running");
        }
        "abort" => std::process::abort(),
        "exit" => {
            print!("no newline before exit");
            std::process::exit(42);
        }
        _ => println!("unknown mode"),
    }
}
