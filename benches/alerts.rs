//! Saved-search matching throughput: N saved searches (default 10,000: terms, phrases, booleans,
//! filters) run against batches of newly committed articles, the way the index writer runs them
//! after each commit. `cargo bench --bench alerts [-- SEARCHES [BATCH [FROM_RANK]]]`.

use std::time::Instant;

/// CPU time of this thread: on a shared machine, what matching costs regardless of what else
/// runs (wall time is printed too).
fn thread_cpu() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

use chrono::Utc;
use wirewatch::alert::{Alert, AlertConfig, AlertMode, matcher};
use wirewatch::analyze::{Analysis, TopicScore};
use wirewatch::store::{ArticleIndex, StoredArticle};

// The allocator the daemon runs with (src/main.rs), so the figure is the daemon's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOPICS: &[&str] = &["sanctions", "tariffs", "export_controls", "chip_smuggling"];

/// Words follow Zipf's law, as in real text: rank r turns up with probability ~ 1/r.
const VOCABULARY: usize = 100_000;

/// A deterministic generator (splitmix64), so that every run sees the same articles and searches.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn word(rank: usize) -> String {
    // Pronounceable and distinct, so the tokenizer sees one word per rank.
    const SYL: &[&str] = &["ka", "lo", "mi", "ne", "su", "ta", "vo", "ri", "de", "pa"];
    let mut w = String::new();
    let mut r = rank + 1;
    while r > 0 {
        w.push_str(SYL[r % SYL.len()]);
        r /= SYL.len();
    }
    w
}

struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for r in 1..=n {
            total += 1.0 / r as f64;
            cdf.push(total);
        }
        cdf.iter_mut().for_each(|c| *c /= total);
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }
}

/// A saved search over words of rank FROM to 100,000 (log-uniform): the names, places and terms
/// of art analysts watch for. FROM (default 5,000) sets how selective searches are: at 5,000 an
/// article matches a few of the 10,000, at 2,000 about fifty.
fn query(i: usize, from: usize, rng: &mut Rng) -> AlertConfig {
    let span = VOCABULARY as f64 / from as f64;
    let mut w = || {
        let rank = (from as f64 * span.powf(rng.unit())) as usize;
        word(rank)
    };
    let query = match i % 5 {
        0 => w(),
        1 => format!("{} AND {}", w(), w()),
        2 => format!("\"{} {}\"", w(), w()),
        3 => format!("({} OR {}) AND NOT {}", w(), w(), w()),
        _ => format!("{} OR {} OR {}", w(), w(), w()),
    };
    AlertConfig {
        name: format!("alert {i}"),
        query,
        topic: i
            .is_multiple_of(7)
            .then(|| TOPICS[i % TOPICS.len()].to_string()),
        entity: None,
        source: None,
        lang: None,
        min_score: 0.0,
        channels: vec![],
        mode: AlertMode::Immediate,
        on_update: false,
        enabled: true,
    }
}

/// ~400 words drawn from the Zipf vocabulary, in sentences of 20 words (evidence is chosen by
/// sentence, so one 400-word "sentence" would make every payload carry the whole body).
fn article(n: usize, zipf: &Zipf, rng: &mut Rng) -> StoredArticle {
    let body: Vec<String> = (0..400)
        .map(|k| {
            let w = word(zipf.sample(rng));
            if k % 20 == 19 { w + "." } else { w }
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
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n_alerts = numbers.first().copied().unwrap_or(10_000);
    let batch = numbers.get(1).copied().unwrap_or(500);
    let from = numbers
        .get(2)
        .copied()
        .unwrap_or(5_000)
        .clamp(1, VOCABULARY - 1);
    let batches = (2_000 / batch).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let index = ArticleIndex::open(dir.path()).expect("index");
    let mut rng = Rng(0x5EED);
    let zipf = Zipf::new(VOCABULARY);
    let alerts: Vec<Alert> = (0..n_alerts)
        .map(|i| Alert {
            id: i as i64,
            origin: "bench".into(),
            spec: query(i, from, &mut rng),
        })
        .collect();
    let alerts = std::sync::Arc::new(alerts);
    let mut writer = index.writer().expect("writer");
    let mut compiled = matcher::Compiled::default();
    let started = Instant::now();
    compiled.prepare(&index, &alerts);
    let compile_secs = started.elapsed().as_secs_f64();
    let mut matched = 0;
    let mut secs = 0.0;
    let mut cpu_secs = 0.0;
    let (mut index_secs, mut presearch_secs, mut candidates) = (0.0, 0.0, 0);
    for b in 0..batches {
        let arts: Vec<StoredArticle> = (b * batch..(b + 1) * batch)
            .map(|n| article(n, &zipf, &mut rng))
            .collect();
        for a in &arts {
            writer.upsert(a).expect("upsert");
        }
        writer.commit().expect("commit");
        index.reload().expect("reload");
        let started = Instant::now();
        let cpu = thread_cpu();
        matched += matcher::match_batch(&index, &alerts, &mut compiled, &arts).len();
        cpu_secs += thread_cpu() - cpu;
        secs += started.elapsed().as_secs_f64();
        // Where the time goes: the batch's own index, and finding the candidate searches.
        let started = Instant::now();
        let refs: Vec<&StoredArticle> = arts.iter().collect();
        let one = index.batch(&refs).expect("batch index");
        index_secs += started.elapsed().as_secs_f64();
        let started = Instant::now();
        candidates += compiled.candidates(&one).len();
        presearch_secs += started.elapsed().as_secs_f64();
    }
    println!(
        "alerts: {n_alerts} saved searches x {} articles in batches of {batch}: {:.0} articles per CPU-second ({:.0}/s wall), {matched} matches ({:.2} per article); compiling the searches took {compile_secs:.2} s",
        batch * batches,
        (batch * batches) as f64 / cpu_secs,
        (batch * batches) as f64 / secs,
        matched as f64 / (batch * batches) as f64
    );
    println!(
        "  per batch: {:.1} ms indexing the batch, {:.1} ms presearching, {:.0} of {n_alerts} searches run",
        index_secs * 1e3 / batches as f64,
        presearch_secs * 1e3 / batches as f64,
        candidates as f64 / batches as f64
    );
}
