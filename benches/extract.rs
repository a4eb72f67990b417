//! Article extraction throughput, in process, over the real pages in ../shared/data/extraction
//! (when present). `cargo bench --bench extract`; `benches/extract_peer.py` runs Python
//! trafilatura over the same pages for the side-by-side figure (see docs/BENCHMARKS.md).

use std::io::Read;
use std::time::Instant;

// The allocator the daemon runs with (src/main.rs), so the figure is the daemon's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/extraction/html");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("extract: {} not found; nothing measured", dir.display());
        return;
    };
    let mut pages = Vec::new();
    for e in entries.flatten() {
        let raw = std::fs::read(e.path()).unwrap_or_default();
        let mut html = Vec::new();
        if flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut html)
            .is_err()
        {
            html = raw;
        }
        pages.push(html);
    }
    let bytes: usize = pages.iter().map(Vec::len).sum();
    let mut rates = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        for p in &pages {
            std::hint::black_box(wirewatch::extract::extract_bytes(p, None, None));
        }
        rates.push(pages.len() as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "extract: {} pages, {:.1} MB, one thread: median {:.1} pages/s (runs: {})",
        pages.len(),
        bytes as f64 / 1e6,
        rates[2],
        rates
            .iter()
            .map(|r| format!("{r:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
