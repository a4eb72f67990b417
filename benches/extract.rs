//! Article extraction throughput, in process, over the real pages in ../shared/data/extraction
//! (when present). `cargo bench --bench extract`; `benches/extract_peer.py` runs Python
//! trafilatura over the same pages for the side-by-side figure (see docs/BENCHMARKS.md).
//!
//! First, always (the pages are generated): hostile pages of 100k, 200k and 400k nested
//! elements and the other shapes that made the HTML tree builder quadratic, with seconds per
//! MB and the ratio to the 100k page: work must stay linear in the input (issue 16).

use std::io::Read;
use std::time::Instant;

use wirewatch::extract::{Engine, extract_bytes_with};

// The allocator the daemon runs with (src/main.rs), so the figure is the daemon's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median_secs(page: &[u8]) -> f64 {
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(wirewatch::extract::extract_bytes(page, None, None));
            started.elapsed().as_secs_f64()
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[2]
}

fn hostile() {
    let nested = |n: usize| {
        format!(
            "<html><body>{}<p>deep</p>{}</body></html>",
            "<div>".repeat(n),
            "</div>".repeat(n)
        )
        .into_bytes()
    };
    let mut base = None;
    for n in [100_000, 200_000, 400_000] {
        let page = nested(n);
        let secs = median_secs(&page);
        let per_mb = secs / (page.len() as f64 / 1e6);
        let ratio = per_mb / *base.get_or_insert(per_mb);
        println!(
            "extract hostile: {n} nested elements, {:.2} MB: median {:.3} s, {:.3} s/MB, {:.2}x the 100k page's s/MB",
            page.len() as f64 / 1e6,
            secs,
            per_mb,
            ratio
        );
    }
    let shapes: [(&str, Vec<u8>); 3] = [
        (
            "formatting left open in 110k paragraphs",
            (0..110_000)
                .map(|i| format!("<p><b id={i}>x</p>"))
                .collect::<String>()
                .into_bytes(),
        ),
        (
            "150k-element flood",
            "<span>a</span>".repeat(150_000).into_bytes(),
        ),
        (
            "300k nested boilerplate classes",
            nested(300_000)
                .iter()
                .map(|b| *b as char)
                .collect::<String>()
                .replace("<div>", "<div class=share>")
                .into_bytes(),
        ),
    ];
    for (name, page) in shapes {
        println!(
            "extract hostile: {name}, {:.2} MB: median {:.3} s",
            page.len() as f64 / 1e6,
            median_secs(&page)
        );
    }
}

fn load(set: &str) -> Option<Vec<Vec<u8>>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(set)
        .join("html");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("extract: {} not found; nothing measured", dir.display());
        return None;
    };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    let mut pages = Vec::new();
    for path in paths {
        let raw = std::fs::read(path).unwrap_or_default();
        let mut html = Vec::new();
        if flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut html)
            .is_err()
        {
            html = raw;
        }
        pages.push(html);
    }
    Some(pages)
}

/// Median pages/s of `passes` passes over `pages` with one engine.
fn rate(pages: &[Vec<u8>], engine: Engine, passes: usize) -> (f64, Vec<f64>) {
    let mut rates = Vec::new();
    for _ in 0..passes {
        let started = Instant::now();
        for p in pages {
            std::hint::black_box(extract_bytes_with(p, None, None, engine));
        }
        rates.push(pages.len() as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    (rates[passes / 2], rates)
}

fn main() {
    hostile();
    // `auto` is what the daemon runs; the others are its parts, for comparison.
    let engines = [
        ("auto", Engine::Auto),
        ("ours", Engine::Ours),
        ("trafilatura crate", Engine::Trafilatura),
        ("dom_smoothie", Engine::Readability),
    ];
    // `WIREWATCH_BENCH_ENGINES=auto,ours` measures only those (names as in `--engine`).
    let wanted = std::env::var("WIREWATCH_BENCH_ENGINES").ok();
    let engines: Vec<_> = engines
        .into_iter()
        .filter(|(name, engine)| {
            wanted.as_deref().is_none_or(|w| {
                w.split(',')
                    .any(|n| n.trim().parse::<Engine>().ok() == Some(*engine) || n.trim() == *name)
            })
        })
        .collect();
    for (set, passes) in [("extraction", 5), ("extraction-snippets", 3)] {
        let Some(pages) = load(set) else { continue };
        let bytes: usize = pages.iter().map(Vec::len).sum();
        for &(name, engine) in &engines {
            // The libraries alone are measured for comparison, once over the 971 pages (minutes).
            let passes = if matches!(engine, Engine::Auto | Engine::Ours) || pages.len() < 200 {
                passes
            } else {
                1
            };
            let (median, rates) = rate(&pages, engine, passes);
            println!(
                "extract {set} [{name}]: {} pages, {:.1} MB, one thread: median {:.1} pages/s (runs: {})",
                pages.len(),
                bytes as f64 / 1e6,
                median,
                rates
                    .iter()
                    .map(|r| format!("{r:.1}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
}
