//! Analysis throughput on one core: articles of ~400 words through the shipped rule pack and
//! gazetteer. `cargo bench --bench analyze` (add `-- N` for N articles, default 5,000).
//!
//! The articles are generated from sentences written for this benchmark in the beat's register
//! (sanctions, tariffs, export controls, smuggling, and plain business news), shuffled per article.

use std::time::Instant;

use wirewatch::analyze::Analyzer;

// The allocator the daemon runs with (src/main.rs), so the figure is the daemon's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SENTENCES: &[&str] = &[
    "The Commerce Department added a dozen Chinese firms to the Entity List on Friday, citing support for military end users.",
    "Officials said the new export controls would cover advanced AI accelerators and the tools used to make them.",
    "Beijing said it firmly opposed the move and would take necessary measures to protect its companies.",
    "Prosecutors alleged the ring smuggled Nvidia H100 chips to China through shell companies in Singapore and Malaysia.",
    "The Treasury's Office of Foreign Assets Control imposed sanctions on three shipping firms and froze their assets.",
    "Washington will raise tariffs on legacy semiconductors from 25% to 50% next year, the trade representative said.",
    "Analysts expect chipmakers to redesign products to stay under the performance thresholds set by the rules.",
    "Shares of the company rose 3 per cent in Hong Kong trading after quarterly revenue beat forecasts.",
    "The ministry said exports of gallium and germanium would require a licence from next month.",
    "Customs officers found accelerator boards declared as network equipment in a container bound for a third country.",
    "The European Union is weighing countervailing duties on subsidised imports of electric vehicles.",
    "A spokesman for the company said it complied with all applicable laws and regulations in the markets where it operates.",
    "The league sanctioned the club for fielding an ineligible player, fining it and deducting points.",
    "Electricity tariffs will rise by 8 per cent in April, the regulator announced.",
    "Demand for high bandwidth memory has surged as data centres expand to train larger models.",
    "The Dutch government widened restrictions on ASML lithography systems, following talks with Washington.",
    "Lawmakers called for tighter enforcement after reports that restricted GPUs were being diverted through intermediaries.",
    "The rule closes a loophole that had allowed cloud access to controlled chips from abroad.",
    "Trading volumes were thin ahead of the holiday, and the currency was little changed against the dollar.",
    "The retaliatory tariffs, which take effect on Monday, target agricultural products and machinery.",
];

fn article(seed: usize, words: usize) -> (String, String) {
    let mut body = String::new();
    let mut i = seed.wrapping_mul(2654435761) % SENTENCES.len();
    let mut n = 0;
    while n < words {
        let s = SENTENCES[i % SENTENCES.len()];
        body.push_str(s);
        body.push(if n % 60 < 20 { ' ' } else { '\n' });
        n += s.split_whitespace().count();
        i = i.wrapping_mul(31).wrapping_add(7 + seed);
    }
    (SENTENCES[seed % SENTENCES.len()].to_string(), body)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let analyzer = Analyzer::load(
        &root.join("config/topics.toml"),
        &root.join("config/gazetteer.tsv"),
    )
    .expect("shipped rules load");
    let articles: Vec<(String, String)> = (0..n).map(|i| article(i, 400)).collect();
    let words: usize = articles
        .iter()
        .map(|(_, b)| b.split_whitespace().count())
        .sum();
    // Warm up, then three timed passes; report the median.
    for (t, b) in articles.iter().take(200) {
        std::hint::black_box(analyzer.analyze(t, b));
    }
    let mut rates = Vec::new();
    let mut tagged = 0;
    for _ in 0..3 {
        let started = Instant::now();
        tagged = 0;
        for (t, b) in &articles {
            let a = analyzer.analyze(t, b);
            tagged += usize::from(!a.topics.is_empty());
            std::hint::black_box(a);
        }
        rates.push(n as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "analyze: {n} articles, {:.0} words each on average, one thread: median {:.0} articles/s (runs: {}), {tagged} tagged",
        words as f64 / n as f64,
        rates[1],
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
