//! Time from Rust std: Instant is monotonic and elapsed() >= 0, SystemTime is after 2020 and
//! within a minute of the host's clock (argv[1], seconds since the epoch). `-- HOST sleep`
//! also checks that thread::sleep(30 ms) sleeps at least that long.
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let host: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(0);
    let start = Instant::now();
    let mut last = start;
    let mut backwards = 0;
    for _ in 0..10_000 {
        let now = Instant::now();
        if now < last {
            backwards += 1;
        }
        last = now;
    }
    println!("Instant went backwards: {backwards} times in 10000 reads");
    println!("elapsed() >= 0: {}", start.elapsed() >= Duration::ZERO);
    println!("later instant - earlier >= 0: {}", last.duration_since(start) >= Duration::ZERO);

    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after the epoch").as_secs();
    println!("SystemTime after 2020: {}", now > 1_577_836_800);
    println!("SystemTime within a minute of the host: {}", now.abs_diff(host) <= 60);
    let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    println!("UNIX_EPOCH + 1700000000 s, back: {:?}", t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()));

    if args.get(2).map(String::as_str) == Some("sleep") {
        let before = Instant::now();
        std::thread::sleep(Duration::from_millis(30));
        let took = before.elapsed();
        println!("thread::sleep(30 ms) slept at least 30 ms: {}", took >= Duration::from_millis(30));
        println!("... and less than 2 s: {}", took < Duration::from_secs(2));
    }
}
