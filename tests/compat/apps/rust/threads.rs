//! Threads from Rust std: spawn + join with return values, Mutex + Condvar, an mpsc channel
//! fed by 4 producers, Barrier, thread::scope borrowing locals, thread::sleep(10 ms) in
//! threads, a panicking thread caught at join (the panic message goes to stderr), thread
//! names, available_parallelism, and an AtomicUsize counted up by 8 threads. Only the main
//! thread prints, never an id or a time; a failed check prints FAILED and exits 1.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Prints "<what>: <got>"; another value than `want` is a failure.
fn report(failures: &mut u32, what: &str, got: impl std::fmt::Debug, want: impl std::fmt::Debug) {
    let (got, want) = (format!("{got:?}"), format!("{want:?}"));
    println!("{what}: {got}");
    if got != want {
        *failures += 1;
        println!("  FAILED: expected {want}");
    }
}

fn main() {
    let mut failures = 0;
    let f = &mut failures;

    let handles: Vec<_> = (1..=4u64).map(|i| thread::spawn(move || i * i)).collect();
    let squares: Vec<u64> = handles.into_iter().map(|h| h.join().expect("join")).collect();
    report(f, "spawn + join return values", squares, [1, 4, 9, 16]);

    // 4 threads add to a counter under a Mutex; the last one notifies main through the Condvar.
    let shared = Arc::new((Mutex::new(0u32), Condvar::new()));
    for _ in 0..4 {
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            let (count, done) = &*shared;
            for _ in 0..1000 {
                *count.lock().unwrap() += 1;
            }
            if *count.lock().unwrap() == 4000 {
                done.notify_all();
            }
        });
    }
    let (count, done) = &*shared;
    let (total, timeout) =
        done.wait_timeout_while(count.lock().unwrap(), Duration::from_secs(10), |n| *n < 4000).unwrap();
    report(f, "Mutex + Condvar: (count when main woke up, timed out)", (*total, timeout.timed_out()), (4000, false));
    drop(total);

    let (tx, rx) = mpsc::channel();
    for producer in 0..4u32 {
        let tx = tx.clone();
        thread::spawn(move || (0..1000u32).for_each(|i| tx.send((producer, i)).unwrap()));
    }
    drop(tx);
    let (mut received, mut next) = (0, [0u32; 4]);
    let mut in_order = true;
    for (producer, i) in rx {
        in_order &= next[producer as usize] == i;
        next[producer as usize] = i + 1;
        received += 1;
    }
    report(f, "mpsc: messages from 4 producers x 1000", received, 4000);
    report(f, "mpsc: each producer's messages arrived in order", in_order, true);

    let barrier = Arc::new(Barrier::new(3));
    let arrived = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (barrier, arrived) = (Arc::clone(&barrier), Arc::clone(&arrived));
            thread::spawn(move || {
                arrived.fetch_add(1, Ordering::SeqCst);
                let leader = barrier.wait().is_leader();
                (leader, arrived.load(Ordering::SeqCst))
            })
        })
        .collect();
    let results: Vec<(bool, usize)> = waiters.into_iter().map(|h| h.join().unwrap()).collect();
    report(f, "Barrier(3): leaders", results.iter().filter(|r| r.0).count(), 1);
    report(f, "Barrier(3): every thread saw 3 arrivals", results.iter().all(|r| r.1 == 3), true);

    let data: Vec<u64> = (1..=1000).collect();
    let mut slots = [0usize; 4];
    let (low, high) = thread::scope(|s| {
        for (i, slot) in slots.iter_mut().enumerate() {
            s.spawn(move || *slot = i * 10);
        }
        let low = s.spawn(|| data[..500].iter().sum::<u64>());
        let high = s.spawn(|| data[500..].iter().sum::<u64>());
        (low.join().unwrap(), high.join().unwrap())
    });
    report(f, "thread::scope: sums of the two halves of 1..=1000", (low, high), (125250, 375250));
    report(f, "thread::scope: slots written by 4 scoped threads", slots, [0, 10, 20, 30]);

    let sleepers: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(|| {
                let start = Instant::now();
                thread::sleep(Duration::from_millis(10));
                start.elapsed() >= Duration::from_millis(10)
            })
        })
        .collect();
    let slept = sleepers.into_iter().all(|h| h.join().unwrap());
    report(f, "thread::sleep(10 ms) in 4 threads: each slept at least 10 ms", slept, true);

    let doomed = thread::Builder::new().name("doomed".into()).spawn(|| -> u32 { panic!("thread failed on purpose") });
    let joined = doomed.expect("spawn").join();
    report(f, "a panicking thread: join is_err", joined.is_err(), true);
    let message = joined.err().and_then(|p| p.downcast_ref::<&str>().map(|s| s.to_string()));
    report(f, "its panic payload", message, Some("thread failed on purpose"));

    let name = thread::Builder::new().name("worker-1".into()).spawn(|| thread::current().name().map(String::from));
    report(f, "thread::current().name() in a named thread", name.unwrap().join().unwrap(), Some("worker-1"));
    report(f, "thread::current().name() in main", thread::current().name(), Some("main"));
    let other_id = thread::spawn(|| thread::current().id()).join().unwrap();
    report(f, "another thread's ThreadId differs from main's", other_id != thread::current().id(), true);

    let cpus = thread::available_parallelism().map(|n| n.get());
    report(f, "available_parallelism() >= 1", cpus.is_ok_and(|n| n >= 1), true);

    let counter = Arc::new(AtomicUsize::new(0));
    let counters: Vec<_> = (0..8)
        .map(|_| {
            let counter = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..10_000 {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    counters.into_iter().for_each(|h| h.join().unwrap());
    report(f, "AtomicUsize: 8 threads x 10000 fetch_add", counter.load(Ordering::SeqCst), 80_000);

    if failures > 0 {
        println!("{failures} check(s) failed");
        std::process::exit(1);
    }
    println!("all ok");
}
