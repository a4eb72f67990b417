//! Saved-search matching throughput: N saved searches (default 10,000: terms, phrases, booleans,
//! filters) run against batches of newly committed articles, the way the index writer runs them
//! after each commit. `cargo bench --bench alerts [-- N]`.

use std::time::Instant;

use chrono::Utc;
use wirewatch::alert::{Alert, AlertConfig, AlertMode, matcher};
use wirewatch::analyze::{Analysis, TopicScore};
use wirewatch::store::{ArticleIndex, StoredArticle};

const WORDS: &[&str] = &[
    "sanctions",
    "tariffs",
    "export",
    "controls",
    "chips",
    "nvidia",
    "huawei",
    "smic",
    "entity",
    "list",
    "smuggling",
    "singapore",
    "malaysia",
    "gpu",
    "h100",
    "a100",
    "licence",
    "commerce",
    "treasury",
    "beijing",
    "washington",
    "duties",
    "semiconductor",
    "tools",
    "asml",
    "lithography",
    "memory",
    "hbm",
    "ban",
    "curbs",
    "rules",
    "customs",
    "shipment",
    "probe",
    "court",
    "fine",
    "penalty",
];
const TOPICS: &[&str] = &["sanctions", "tariffs", "export_controls", "chip_smuggling"];

fn query(i: usize) -> AlertConfig {
    let w = |k: usize| WORDS[(i * 7 + k * 13) % WORDS.len()];
    let query = match i % 4 {
        0 => w(1).to_string(),
        1 => format!("{} AND {}", w(1), w(2)),
        2 => format!("\"{} {}\"", w(1), w(2)),
        _ => format!("({} OR {}) AND NOT {}", w(1), w(2), w(3)),
    };
    AlertConfig {
        name: format!("alert {i}"),
        query,
        topic: i
            .is_multiple_of(5)
            .then(|| TOPICS[i % TOPICS.len()].to_string()),
        entity: None,
        source: None,
        lang: None,
        min_score: 0.0,
        channels: vec![],
        mode: AlertMode::Immediate,
        enabled: true,
    }
}

/// ~400 words from a large vocabulary, with a few of the beat's words, as real articles are: each
/// saved search matches a few per cent of a batch, not all of it.
fn article(n: usize) -> StoredArticle {
    let body: Vec<String> = (0..400)
        .map(|k| {
            let h = (n * 2_654_435_761 + k * 40_503) % 1_000_003;
            if k.is_multiple_of(97) {
                WORDS[h % WORDS.len()].to_string()
            } else {
                format!("w{}", h % 20_000)
            }
        })
        .collect();
    StoredArticle {
        id: format!("{n:032x}"),
        url: format!("https://bench.invalid/{n}"),
        canonical_url: format!("https://bench.invalid/{n}"),
        source: "Bench".into(),
        title: body[..8].join(" "),
        body: body.join(" "),
        summary: String::new(),
        published: Some(Utc::now()),
        fetched: Utc::now(),
        language: Some("en".into()),
        authors: vec![],
        analysis: Analysis {
            topics: vec![TopicScore {
                name: TOPICS[n % 4].into(),
                score: 0.6,
            }],
            ..Default::default()
        },
    }
}

fn main() {
    let n_alerts: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let batch = 500;
    let batches = 4;
    let dir = tempfile::tempdir().expect("temp dir");
    let index = ArticleIndex::open(dir.path()).expect("index");
    let alerts: Vec<Alert> = (0..n_alerts)
        .map(|i| Alert {
            id: i as i64,
            origin: "bench".into(),
            spec: query(i),
        })
        .collect();
    let mut writer = index.writer().expect("writer");
    let mut matched = 0;
    let mut secs = 0.0;
    for b in 0..batches {
        let arts: Vec<StoredArticle> = (b * batch..(b + 1) * batch).map(article).collect();
        for a in &arts {
            writer.upsert(a).expect("upsert");
        }
        writer.commit().expect("commit");
        index.reload().expect("reload");
        let ids: Vec<String> = arts.iter().map(|a| a.id.clone()).collect();
        let started = Instant::now();
        matched += matcher::match_batch(&index, &alerts, &ids).len();
        secs += started.elapsed().as_secs_f64();
    }
    println!(
        "alerts: {n_alerts} saved searches x {} articles in batches of {batch}: {:.0} articles/s, {matched} matches",
        batch * batches,
        (batch * batches) as f64 / secs
    );
}
