//! Collections seeded from getrandom (HashMap/HashSet with RandomState) over a packaged text,
//! printed in a deterministic order: word frequencies, set operations, BTreeMap grouping,
//! BinaryHeap, VecDeque, sort/dedup.
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::cmp::Reverse;

fn main() {
    let text = std::fs::read_to_string("/usr/share/compat/text/jabberwocky.txt").expect("read the poem");
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphabetic() && c != '\'')
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    let mut freq: HashMap<&str, usize> = HashMap::new();
    for w in &words {
        *freq.entry(w).or_default() += 1;
    }
    let mut top: Vec<(&str, usize)> = freq.iter().map(|(w, c)| (*w, *c)).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!("{} words, {} distinct", words.len(), freq.len());
    for (w, c) in top.iter().take(6) {
        println!("  {c:2} {w}");
    }

    let fruit: HashSet<String> = std::fs::read_to_string("/usr/share/compat/text/words.txt")
        .expect("read words.txt")
        .lines()
        .map(str::to_lowercase)
        .collect();
    let poem: HashSet<String> = words.iter().cloned().collect();
    let long: HashSet<String> = fruit.iter().filter(|w| w.len() > 5).cloned().collect();
    let mut sorted: Vec<&String> = fruit.iter().collect();
    sorted.sort();
    println!("distinct fruit: {sorted:?}");
    let mut long_sorted: Vec<&String> = fruit.intersection(&long).collect();
    long_sorted.sort();
    println!("fruit longer than 5 letters: {long_sorted:?}");
    println!("fruit in the poem: {}", fruit.intersection(&poem).count());

    let mut by_letter: BTreeMap<char, Vec<&str>> = BTreeMap::new();
    for w in poem.iter().filter(|w| w.len() >= 7) {
        by_letter.entry(w.chars().next().unwrap()).or_default().push(w);
    }
    for (letter, ws) in &mut by_letter {
        ws.sort();
        println!("  {letter}: {}", ws.join(" "));
    }

    let numbers: Vec<i64> = std::fs::read_to_string("/usr/share/compat/text/numbers.txt")
        .expect("read numbers.txt")
        .lines()
        .map(|l| l.parse().expect("a number"))
        .collect();
    let mut heap: BinaryHeap<Reverse<i64>> = numbers.iter().map(|&n| Reverse(n)).collect();
    let smallest: Vec<i64> = (0..3).map(|_| heap.pop().unwrap().0).collect();
    println!("three smallest: {smallest:?}");
    let mut dedup = numbers.clone();
    dedup.sort_unstable();
    dedup.dedup();
    println!("sorted distinct: {dedup:?}");
    let mut ring: VecDeque<i64> = numbers.into_iter().take(5).collect();
    ring.rotate_left(2);
    ring.push_front(-1);
    println!("ring: {ring:?}");

    let a: HashMap<u64, u64> = (0..5000).map(|i| (i, i * i)).collect();
    let b: HashMap<u64, u64> = (0..5000).rev().map(|i| (i, i * i)).collect();
    println!("two HashMaps with different seeds are equal: {}", a == b);
}
