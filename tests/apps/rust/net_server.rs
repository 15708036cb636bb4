//! A std::net line echo server: TcpListener on 0.0.0.0:PORT, one thread per connection, each
//! line sent back upper-cased. A line "quit" is answered "bye" and ends the server at once;
//! otherwise it exits after N connections have come and gone. Exit status 0 either way.
//! Usage: net_server PORT N
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn serve(stream: TcpStream, lines: &AtomicU64) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut out = stream.try_clone()?;
    for line in BufReader::new(stream).lines() {
        let line = line?;
        if line == "quit" {
            out.write_all(b"bye\n")?;
            println!("quit after {} lines", lines.load(Ordering::SeqCst));
            std::process::exit(0);
        }
        lines.fetch_add(1, Ordering::SeqCst);
        out.write_all(format!("{}\n", line.to_uppercase()).as_bytes())?;
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: net_server PORT N");
        std::process::exit(2);
    }
    let port: u16 = args[1].parse().expect("PORT");
    let want: usize = args[2].parse().expect("N");
    let listener = TcpListener::bind(("0.0.0.0", port)).unwrap_or_else(|e| {
        eprintln!("bind: {e}");
        std::process::exit(1);
    });
    println!("listening on port {}", listener.local_addr().expect("local_addr").port());
    let lines = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for stream in listener.incoming().take(want) {
        let stream = stream.expect("accept");
        let lines = Arc::clone(&lines);
        threads.push(std::thread::spawn(move || serve(stream, &lines)));
    }
    let failed = threads.into_iter().map(|t| t.join()).filter(|r| !matches!(r, Ok(Ok(())))).count();
    println!("served {want} connections, {} lines, {failed} failed", lines.load(Ordering::SeqCst));
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
