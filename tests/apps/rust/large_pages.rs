// A static-pie Rust program with 3 MiB of read-only data (a table, as a service's embedded
// assets or tables would be): its read-only segment is one run of pages longer than 2 MiB, so
// uvm loads it where that run starts on a 2 MiB boundary (uvm_abi::boot::pie_load_bias) and
// the guest maps a whole 2 MiB chunk of it with one large page. It reads every page of the
// table and prints a sum that the test knows.

/// 3 MiB of sevens.
static TABLE: [u8; 3 << 20] = [7; 3 << 20];

fn main() {
    let table = std::hint::black_box(&TABLE);
    // One byte of every page, then the whole last page: 768 pages touched.
    let mut sum: u64 = table.iter().step_by(4096).map(|&b| b as u64).sum();
    sum += table[table.len() - 4096..].iter().map(|&b| b as u64).sum::<u64>();
    println!("read {} KiB of read-only data: sum {sum}", table.len() / 1024);
}
