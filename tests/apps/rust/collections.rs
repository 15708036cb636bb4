// Tests std collections: HashMap/HashSet (seeded from getrandom) must give a sorted, deterministic result.
use std::collections::{BTreeMap, HashMap, HashSet};

fn main() {
    let text = "the quick brown fox jumps over the lazy dog and the dog sleeps";
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word).or_default() += 1;
    }
    let mut sorted: Vec<(&str, usize)> = counts.into_iter().collect();
    sorted.sort();
    for (word, n) in &sorted {
        println!("{word} {n}");
    }

    let squares: HashMap<u64, u64> = (0..10_000u64).map(|i| (i, i * i)).collect();
    let sum: u64 = squares.values().sum();
    println!("squares: {} entries, sum {sum}, 1234^2 = {}", squares.len(), squares[&1234]);

    let residues: HashSet<u64> = (0..1000u64).map(|i| i * 7 % 100).collect();
    println!("distinct residues: {}", residues.len());

    let mut by_len: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (word, _) in &sorted {
        by_len.entry(word.len()).or_default().push(word);
    }
    for (len, words) in &by_len {
        println!("len {len}: {}", words.join(","));
    }

    let mut v: Vec<u32> = (0..50).map(|i| (i * 37 + 11) % 101).collect();
    v.sort_unstable();
    v.dedup();
    println!("sorted: {} values, first {:?}, last {:?}", v.len(), &v[..3], &v[v.len() - 3..]);
}
