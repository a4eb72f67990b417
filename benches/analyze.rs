//! Analysis throughput on one core: articles of ~400 words through the shipped rule pack,
//! gazetteer and topic model, side by side with the same rules alone (no model).
//! `cargo bench --bench analyze` (add `-- N` for N articles, default 5,000).
//!
//! Side by side with another rule pack (e.g. the one before a change):
//! `git show REV:config/topics.toml > /tmp/before.toml; cargo bench --bench analyze -- --before /tmp/before.toml`
//! times both on the same articles, in alternating passes, and prints the ratio.
//!
//! The articles are generated from sentences written for this benchmark in the beat's register
//! (sanctions, tariffs, export controls, smuggling, and plain business news), shuffled per article.

use std::time::Instant;

use wirewatch::analyze::{Analyzer, TopicModel};

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

/// Median articles/s over three passes, and how many articles got a topic.
struct Rate {
    median: f64,
    runs: Vec<f64>,
    tagged: usize,
}

fn pass(analyzer: &Analyzer, articles: &[(String, String)]) -> (f64, usize) {
    let started = Instant::now();
    let mut tagged = 0;
    for (t, b) in articles {
        let a = analyzer.analyze(t, b);
        tagged += usize::from(!a.topics.is_empty());
        std::hint::black_box(a);
    }
    (
        articles.len() as f64 / started.elapsed().as_secs_f64(),
        tagged,
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5000);
    let before = args
        .iter()
        .position(|a| a == "--before")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let gazetteer = root.join("config/gazetteer.tsv");
    let rules = || {
        Analyzer::load(&root.join("config/topics.toml"), &gazetteer).expect("shipped rules load")
    };
    let model_file = root.join("config/topic_model.json");
    let model = TopicModel::parse(
        &std::fs::read_to_string(&model_file).expect("shipped model reads"),
        &model_file.display().to_string(),
    )
    .expect("shipped model loads");
    let mut analyzers = vec![
        (
            "config/topics.toml + config/topic_model.json".to_string(),
            rules().with_model(model),
        ),
        ("config/topics.toml alone".to_string(), rules()),
    ];
    if let Some(path) = before {
        let a = Analyzer::load(&path, &gazetteer).expect("--before rules load");
        analyzers.push((path.display().to_string(), a));
    }
    let articles: Vec<(String, String)> = (0..n).map(|i| article(i, 400)).collect();
    let words: usize = articles
        .iter()
        .map(|(_, b)| b.split_whitespace().count())
        .sum();
    // Warm up, then three timed passes per rule pack, alternating; report the medians.
    for (_, a) in &analyzers {
        for (t, b) in articles.iter().take(200) {
            std::hint::black_box(a.analyze(t, b));
        }
    }
    let mut rates: Vec<Rate> = analyzers
        .iter()
        .map(|_| Rate {
            median: 0.0,
            runs: Vec::new(),
            tagged: 0,
        })
        .collect();
    for _ in 0..3 {
        for ((_, a), r) in analyzers.iter().zip(rates.iter_mut()) {
            let (rate, tagged) = pass(a, &articles);
            r.runs.push(rate);
            r.tagged = tagged;
        }
    }
    for r in &mut rates {
        let mut sorted = r.runs.clone();
        sorted.sort_by(f64::total_cmp);
        r.median = sorted[1];
    }
    for ((name, _), r) in analyzers.iter().zip(&rates) {
        println!(
            "analyze ({name}): {n} articles, {:.0} words each on average, one thread: median {:.0} articles/s (runs: {}), {} tagged",
            words as f64 / n as f64,
            r.median,
            r.runs
                .iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            r.tagged
        );
    }
    let ratio = |what: &str, now: &Rate, before: &Rate| {
        println!(
            "ratio {what}: {:.2} (per pass: {})",
            now.median / before.median,
            now.runs
                .iter()
                .zip(&before.runs)
                .map(|(a, b)| format!("{:.2}", a / b))
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    ratio("rules + model / rules alone", &rates[0], &rates[1]);
    if let Some(before) = rates.get(2) {
        ratio("rules + model / before", &rates[0], before);
        ratio("rules alone / before", &rates[1], before);
    }
}
