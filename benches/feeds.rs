//! Feed parsing throughput, in process, over the real feed corpus in ../shared/data/feeds (when
//! present), side by side with Python feedparser on the same files in the same run.
//!
//! `cargo bench --bench feeds [-- PASSES]`: each pass parses every file once with wirewatch's
//! parser (repair layer, feed-rs, normalisation) and then with feedparser (benches/feeds_peer.py,
//! run once, timing its own passes in process); the medians and their ratio are printed. Without
//! `python3 -c 'import feedparser'` only wirewatch is measured.

use std::process::Command;
use std::time::Instant;

// The allocator the daemon runs with (src/main.rs), so the figure is the daemon's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let passes: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/feeds");
    let Ok(reference) = std::fs::read_to_string(root.join("reference.tsv")) else {
        println!("feeds: {} not found; nothing measured", root.display());
        return;
    };
    let paths: Vec<_> = reference
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .map(|f| root.join("corpus").join(f))
        .filter(|p| p.is_file())
        .collect();
    let docs: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_default())
        .collect();
    let bytes: usize = docs.iter().map(Vec::len).sum();
    let mut ours = Vec::new();
    let mut read = 0;
    for _ in 0..passes {
        let started = Instant::now();
        read = 0;
        for d in &docs {
            if std::hint::black_box(wirewatch::parse::parse_document(d, None, None)).is_ok() {
                read += 1;
            }
        }
        ours.push(started.elapsed().as_secs_f64());
    }
    let ours = median(ours);
    println!(
        "feeds: {} files, {:.1} MB; wirewatch: median {:.0} files/s, {:.1} MB/s ({read} read)",
        docs.len(),
        bytes as f64 / 1e6,
        docs.len() as f64 / ours,
        bytes as f64 / 1e6 / ours,
    );
    let list = std::env::temp_dir().join(format!("wirewatch-feeds-{}.txt", std::process::id()));
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    if std::fs::write(&list, names.join("\n")).is_err() {
        return;
    }
    let peer = Command::new("python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/feeds_peer.py"))
        .arg(&list)
        .arg(passes.to_string())
        .output();
    let _ = std::fs::remove_file(&list);
    match peer {
        Ok(out) if out.status.success() => {
            let times: Vec<f64> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect();
            if times.is_empty() {
                println!("feeds: feedparser printed no timings");
                return;
            }
            let theirs = median(times);
            println!(
                "feeds: feedparser: median {:.0} files/s, {:.2} MB/s; wirewatch is {:.1}x feedparser",
                docs.len() as f64 / theirs,
                bytes as f64 / 1e6 / theirs,
                theirs / ours
            );
        }
        Ok(out) => println!(
            "feeds: feedparser not run ({}); `pip install feedparser` for the side-by-side figure",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => println!("feeds: python3 not run ({e})"),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
