//! Search latency over HTTP (issue #6), wirewatch against SQLite FTS5 over the same articles.
//!
//! One process: a deterministic generator writes N articles (default 1,000,000) into a wirewatch
//! index (through the crate's own `ArticleIndex` writer) and into an SQLite FTS5 database; both are
//! cached under `target/bench-search/N/` so that re-runs skip the build. Then wirewatch is served
//! through its real router and FTS5 through a small axum handler answering the same query kinds
//! (with `highlight()` / `snippet()`), both on 127.0.0.1, and 16 concurrent clients measure each
//! query kind for a fixed time.
//!
//! ```sh
//! cargo bench --bench search -- --articles 1000000 --clients 16 --seconds 10 [--warmup 2]
//!     [--dir target/bench-search/N] [--data ../shared/data]
//! ```
//!
//! Text: when `../shared/data` exists, the vocabulary and word transitions come from the real news
//! text there (topic sentences, extraction ground-truth bodies, the seed article); articles are
//! random walks over that text (a word-bigram chain with random restarts drawn by real word
//! frequency). Otherwise a built-in Zipf-distributed vocabulary is used. The output says which.
//! Nothing from `../shared` is written into the repository.
//!
//! Ingest cost and CJK (issue 19): `--build-only` builds the wirewatch index (always afresh in
//! `--dir`), prints the time to index and commit and the size on disk, and stops (no FTS5, no
//! HTTP). `--corpus cjk` writes a CJK-heavy archive instead (articles in simplified and traditional
//! Chinese, Japanese and Korean from sentences written for this bench, with random runs of common
//! characters for unseen words); with `--build-only` it then times `ArticleIndex::search` in
//! process on CJK queries (p50/p99). The harness only uses APIs that older versions have, so the
//! same file measures an older checkout side by side.
//!
//! ```sh
//! cargo bench --bench search -- --build-only --articles 50000 --data /nonexistent --dir /tmp/en
//! cargo bench --bench search -- --build-only --corpus cjk --articles 50000 --dir /tmp/cjk
//! ```

// The allocator the daemon runs with (src/main.rs), so wirewatch's figures are the daemon's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::routing::get;
use chrono::DateTime;
use rusqlite::{Connection, OpenFlags, params};
use serde::Deserialize;
use wirewatch::analyze::{Analysis, Entity, TopicScore};
use wirewatch::store::{ArticleIndex, StoredArticle};

const SEED: u64 = 0x5eed_0006;
/// Publication dates are spread over the two years before this instant (2026-11-28T00:00:00Z), so
/// that the generated corpus does not depend on when it is generated.
const ANCHOR: i64 = 1_795_824_000;
const SPAN_DAYS: i64 = 730;
const TOPICS: &[&str] = &["sanctions", "tariffs", "export_controls", "chip_smuggling"];
const ENTITIES: &[(&str, &str)] = &[
    ("nvidia", "Nvidia"),
    ("huawei", "Huawei"),
    ("smic", "SMIC"),
    ("asml", "ASML"),
    ("tsmc", "TSMC"),
    ("entity_list", "Entity List"),
    ("ofac", "OFAC"),
    ("bis", "BIS"),
    ("mofcom", "MOFCOM"),
    ("ustr", "USTR"),
];
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "that", "with", "this", "from", "have", "has", "had", "was", "were",
    "are", "its", "it's", "but", "not", "you", "your", "they", "their", "them", "his", "her",
    "she", "will", "would", "been", "which", "who", "what", "when", "where", "there", "than",
    "then", "also", "into", "more", "said", "one", "all", "can", "about", "our", "out", "after",
    "over", "some", "such", "only", "other", "could", "these", "those", "being", "just", "like",
    "any", "how", "may", "most", "very", "even", "because", "while", "many", "much", "did", "does",
    "here", "both", "each", "same", "should", "says", "say", "two", "new", "now", "get", "way",
];

// ---------------------------------------------------------------------------------------------
// Arguments

struct Args {
    articles: usize,
    clients: usize,
    seconds: f64,
    warmup: f64,
    dir: PathBuf,
    data: PathBuf,
    /// Only the query kinds whose name holds this (`--only phrase`).
    only: Option<String>,
    /// Build the wirewatch index, report its cost and stop.
    build_only: bool,
    /// `news` (the default generator) or `cjk`.
    corpus: String,
    /// Leave FTS5 out (for quick runs while working on wirewatch; no ratio is printed).
    wirewatch_only: bool,
}

fn parse_args() -> Args {
    let mut articles = 1_000_000usize;
    let mut clients = 16usize;
    let mut seconds = 10.0f64;
    let mut warmup = 2.0f64;
    let mut dir: Option<PathBuf> = None;
    let (mut only, mut wirewatch_only) = (None, false);
    let (mut build_only, mut corpus) = (false, String::from("news"));
    let mut data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--articles" => {
                articles = value()
                    .replace(['_', ','], "")
                    .parse()
                    .expect("--articles: a whole number")
            }
            "--clients" => clients = value().parse().expect("--clients: a whole number"),
            "--seconds" => seconds = value().parse().expect("--seconds: a number"),
            "--warmup" => warmup = value().parse().expect("--warmup: a number"),
            "--dir" => dir = Some(PathBuf::from(value())),
            "--data" => data = PathBuf::from(value()),
            "--only" => only = Some(value()),
            "--wirewatch-only" => wirewatch_only = true,
            "--build-only" => build_only = true,
            "--corpus" => corpus = value(),
            "--bench" => {}
            other => eprintln!("search bench: ignoring argument `{other}`"),
        }
    }
    assert!(
        articles > 0 && clients > 0,
        "--articles and --clients must be > 0"
    );
    let dir = dir.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/bench-search")
            .join(articles.to_string())
    });
    Args {
        articles,
        clients,
        seconds,
        warmup,
        dir,
        data,
        only,
        wirewatch_only,
        build_only,
        corpus,
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic generator

/// SplitMix64: small, fast, and the same stream on every platform and crate version.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Words, their frequencies (as a stream of word ids to sample from) and the words that follow
/// each word in the source text.
struct Corpus {
    words: Vec<String>,
    stream: Vec<u32>,
    next: Vec<Vec<u32>>,
    description: String,
}

impl Corpus {
    fn load(data: &Path) -> Corpus {
        match real_texts(data) {
            Some((texts, what)) if texts.iter().map(|t| t.len()).sum::<usize>() > 100_000 => {
                Corpus::from_texts(&texts, what)
            }
            _ => Corpus::builtin(),
        }
    }

    fn from_texts(texts: &[String], what: String) -> Corpus {
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let mut words: Vec<String> = Vec::new();
        let mut stream = Vec::new();
        for t in texts {
            for w in t.split_whitespace() {
                let id = *ids.entry(w).or_insert_with(|| {
                    words.push(w.to_string());
                    (words.len() - 1) as u32
                });
                stream.push(id);
            }
        }
        let mut next = vec![Vec::new(); words.len()];
        for pair in stream.windows(2) {
            next[pair[0] as usize].push(pair[1]);
        }
        let description = format!(
            "real text: {what} ({} words, {} distinct), word-bigram walks with restarts",
            stream.len(),
            words.len()
        );
        Corpus {
            words,
            stream,
            next,
            description,
        }
    }

    /// No real text: 50,000 made-up words plus the beat's words, drawn Zipf-like (s = 1).
    fn builtin() -> Corpus {
        let beat = [
            "sanctions",
            "tariffs",
            "export",
            "controls",
            "chips",
            "nvidia",
            "huawei",
            "smuggling",
            "semiconductor",
            "commerce",
            "treasury",
            "beijing",
            "washington",
            "customs",
            "lithography",
        ];
        let mut words: Vec<String> = beat.iter().map(|w| w.to_string()).collect();
        words.extend((0..50_000).map(|k| format!("w{k}")));
        let mut r = Rng::new(SEED);
        let v = words.len() as f64;
        let stream = (0..500_000)
            .map(|_| ((v + 1.0).ln() * r.unit()).exp() as u32 - 1)
            .map(|k| k.min(words.len() as u32 - 1))
            .collect();
        let n = words.len();
        Corpus {
            words,
            stream,
            next: vec![Vec::new(); n],
            description: "built-in vocabulary (../shared/data not found): 50,015 words, Zipf s=1"
                .into(),
        }
    }

    fn start(&self, r: &mut Rng) -> u32 {
        self.stream[r.below(self.stream.len())]
    }

    fn step(&self, cur: u32, r: &mut Rng) -> u32 {
        let next = &self.next[cur as usize];
        if next.is_empty() || r.unit() < 0.08 {
            self.start(r)
        } else {
            next[r.below(next.len())]
        }
    }

    fn walk(&self, r: &mut Rng, n: usize, out: &mut String) {
        let mut cur = self.start(r);
        for i in 0..n {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&self.words[cur as usize]);
            cur = self.step(cur, r);
        }
    }
}

/// The `text` of the labelled topic sentences, the true bodies of the extraction pages, and the
/// seed article.
fn real_texts(data: &Path) -> Option<(Vec<String>, String)> {
    if !data.is_dir() {
        return None;
    }
    let mut texts = Vec::new();
    let mut parts = Vec::new();
    if let Ok(s) = std::fs::read_to_string(data.join("topics/dev.jsonl")) {
        let before = texts.len();
        for line in s.lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
                && let Some(t) = v.get("text").and_then(|t| t.as_str())
            {
                texts.push(t.to_string());
            }
        }
        parts.push(format!("{} topic sentences", texts.len() - before));
    }
    if let Ok(s) = std::fs::read_to_string(data.join("extraction/ground-truth.json"))
        && let Ok(serde_json::Value::Object(m)) = serde_json::from_str(&s)
    {
        let before = texts.len();
        for v in m.values() {
            if let Some(t) = v.get("articleBody").and_then(|t| t.as_str()) {
                texts.push(t.to_string());
            }
        }
        parts.push(format!("{} article bodies", texts.len() - before));
    }
    if let Ok(rd) = std::fs::read_dir(data.join("seed")) {
        for e in rd.flatten() {
            if let Ok(t) = std::fs::read_to_string(e.path()) {
                texts.push(t);
                parts.push("the seed article".into());
            }
        }
    }
    (!texts.is_empty()).then(|| (texts, format!("../shared/data: {}", parts.join(", "))))
}

/// Article `n`: ~250 words (200..300), a 6..12-word title, one of 40 sources, a language, a
/// publication time in the last two years, at most one topic (65% have one) and 0..2 entities.
fn article(c: &Corpus, n: usize) -> StoredArticle {
    let mut r = Rng::new(SEED ^ (n as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut body = String::with_capacity(1800);
    let len = 200 + r.below(101);
    c.walk(&mut r, len, &mut body);
    let mut title = String::with_capacity(80);
    let tlen = 6 + r.below(7);
    c.walk(&mut r, tlen, &mut title);
    let title = title
        .trim_end_matches(|ch: char| !ch.is_alphanumeric())
        .to_string();
    let source = format!("Source {:02}", r.below(40));
    let language = match r.below(20) {
        0 => "zh",
        1 => "de",
        _ => "en",
    };
    let published =
        DateTime::from_timestamp(ANCHOR - r.below((SPAN_DAYS * 86_400) as usize) as i64, 0)
            .expect("a valid timestamp");
    let topics = if r.below(100) < 65 {
        vec![TopicScore {
            name: TOPICS[r.below(TOPICS.len())].into(),
            score: 0.5 + r.unit() / 2.0,
        }]
    } else {
        vec![]
    };
    let entities = (0..r.below(3))
        .map(|_| {
            let (id, name) = ENTITIES[r.below(ENTITIES.len())];
            Entity {
                id: id.into(),
                kind: "organisation".into(),
                name: name.into(),
                count: 1,
            }
        })
        .collect();
    let id = format!("{n:032x}");
    StoredArticle {
        url: format!("https://bench.invalid/{n}"),
        canonical_url: format!("https://bench.invalid/{n}"),
        id,
        source,
        title,
        body,
        summary: String::new(),
        published: Some(published),
        fetched: published,
        language: Some(language.into()),
        authors: vec![],
        analysis: Analysis {
            topics,
            entities,
            ..Default::default()
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Building the two indexes

fn build_wirewatch(make: &dyn Fn(usize) -> StoredArticle, n: usize, dir: &Path) -> PathBuf {
    let done = dir.join("wirewatch");
    let meta = std::fs::read_to_string(done.join("meta.json")).unwrap_or_default();
    // An index cached before the archive indexed word pairs would measure the old phrase path.
    if meta.contains("\"body_pairs\"") {
        println!("wirewatch index: cached at {}", done.display());
        return done;
    }
    if !meta.is_empty() {
        println!("wirewatch index: the cached one predates word pairs; building it again");
        std::fs::remove_dir_all(&done).expect("remove the outdated index");
    }
    let tmp = dir.join("wirewatch.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let started = Instant::now();
    {
        let index = ArticleIndex::open(&tmp).expect("open the wirewatch index");
        let mut writer = index.writer().expect("the index writer");
        for i in 0..n {
            writer.upsert(&make(i)).expect("upsert");
            if (i + 1) % 100_000 == 0 {
                writer.commit().expect("commit");
                println!(
                    "  wirewatch: {} articles, {:.0} s",
                    i + 1,
                    started.elapsed().as_secs_f64()
                );
            }
        }
        writer.commit().expect("commit");
        let indexed = started.elapsed().as_secs_f64();
        // The daemon keeps its writer, so background merges finish; wait for them the same way
        // (segment count unchanged for 15 s, at most 15 minutes).
        let mut last = segments(&tmp);
        let mut stable = 0;
        let wait = Instant::now();
        while stable < 3 && wait.elapsed() < Duration::from_secs(900) {
            std::thread::sleep(Duration::from_secs(5));
            let now = segments(&tmp);
            stable = if now == last { stable + 1 } else { 0 };
            last = now;
        }
        println!(
            "wirewatch index: {n} articles indexed in {indexed:.1} s, merges settled after {:.1} s more ({last} segments)",
            wait.elapsed().as_secs_f64()
        );
        drop(writer);
    }
    std::fs::rename(&tmp, &done).expect("rename the finished index");
    done
}

fn segments(dir: &Path) -> usize {
    tantivy::Index::open_in_dir(dir)
        .and_then(|i| i.searchable_segment_ids())
        .map(|s| s.len())
        .unwrap_or(0)
}

fn build_fts(c: &Corpus, n: usize, dir: &Path) -> PathBuf {
    let done = dir.join("fts5.sqlite");
    if done.exists() {
        println!("FTS5 database: cached at {}", done.display());
        return done;
    }
    let tmp = dir.join("fts5.sqlite.tmp");
    let _ = std::fs::remove_file(&tmp);
    let started = Instant::now();
    let mut db = Connection::open(&tmp).expect("create the FTS5 database");
    db.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -524288;
         CREATE TABLE articles(
             id INTEGER PRIMARY KEY, uid TEXT NOT NULL, url TEXT NOT NULL, title TEXT NOT NULL,
             body TEXT NOT NULL, source TEXT NOT NULL, lang TEXT, topic TEXT,
             published INTEGER NOT NULL);
         CREATE VIRTUAL TABLE fts USING fts5(title, body, content = 'articles', content_rowid = 'id');
         INSERT INTO fts(fts, rank) VALUES ('rank', 'bm25(2.0, 1.0)');",
    )
    .expect("FTS5 schema (is FTS5 compiled in?)");
    let mut i = 0;
    while i < n {
        let tx = db.transaction().expect("transaction");
        {
            let mut art = tx
                .prepare_cached("INSERT INTO articles(id, uid, url, title, body, source, lang, topic, published) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
                .expect("prepare");
            let mut fts = tx
                .prepare_cached("INSERT INTO fts(rowid, title, body) VALUES (?1, ?2, ?3)")
                .expect("prepare");
            for k in i..(i + 50_000).min(n) {
                let a = article(c, k);
                let rowid = k as i64 + 1;
                art.execute(params![
                    rowid,
                    a.id,
                    a.url,
                    a.title,
                    a.body,
                    a.source,
                    a.language,
                    a.analysis.topics.first().map(|t| t.name.as_str()),
                    a.published.map(|p| p.timestamp()).unwrap_or(0),
                ])
                .expect("insert article");
                fts.execute(params![rowid, a.title, a.body])
                    .expect("insert into fts");
            }
        }
        tx.commit().expect("commit");
        i = (i + 50_000).min(n);
        if i % 100_000 == 0 || i == n {
            println!(
                "  FTS5: {i} articles, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let inserted = started.elapsed().as_secs_f64();
    db.execute_batch(
        "CREATE INDEX articles_published ON articles(published);
         CREATE INDEX articles_topic ON articles(topic, published);",
    )
    .expect("indexes");
    let optimize = Instant::now();
    db.execute_batch("INSERT INTO fts(fts) VALUES ('optimize'); ANALYZE;")
        .expect("optimize");
    println!(
        "FTS5 database: {n} articles inserted in {inserted:.1} s, indexes + 'optimize' + ANALYZE {:.1} s",
        optimize.elapsed().as_secs_f64()
    );
    drop(db);
    std::fs::rename(&tmp, &done).expect("rename the finished database");
    done
}

fn du(path: &Path) -> u64 {
    if path.is_dir() {
        std::fs::read_dir(path)
            .map(|rd| rd.flatten().map(|e| du(&e.path())).sum())
            .unwrap_or(0)
    } else {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------------------------
// The FTS5 peer over HTTP

struct Fts {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
}

fn open_ro(path: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.execute_batch("PRAGMA mmap_size = 17179869184; PRAGMA cache_size = -65536;")?;
    c.set_prepared_statement_cache_capacity(32);
    Ok(c)
}

impl Fts {
    /// Runs `f` on a pooled connection (one per concurrent request; a new one when all are busy).
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let pooled = self.pool.lock().ok().and_then(|mut p| p.pop());
        let conn = match pooled {
            Some(c) => c,
            None => open_ro(&self.path)?,
        };
        let out = f(&conn);
        if let Ok(mut p) = self.pool.lock() {
            p.push(conn);
        }
        out
    }
}

#[derive(Debug, Deserialize)]
struct FtsParams {
    q: Option<String>,
    topic: Option<String>,
    from: Option<String>,
    to: Option<String>,
    sort: Option<String>,
}

fn day(s: &str) -> Option<i64> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}

/// The filter clause and its values (?2 topic, ?3 from, ?4 to-exclusive), as wirewatch reads them.
fn filters(p: &FtsParams) -> (String, Option<String>, i64, i64) {
    let topic = p.topic.clone().filter(|t| !t.is_empty());
    let from = p.from.as_deref().and_then(day);
    let to = p.to.as_deref().and_then(day).map(|d| d + 86_400);
    let mut sql = String::new();
    if topic.is_some() {
        sql.push_str(" AND a.topic = ?2");
    }
    if from.is_some() {
        sql.push_str(" AND a.published >= ?3");
    }
    if to.is_some() {
        sql.push_str(" AND a.published < ?4");
    }
    (sql, topic, from.unwrap_or(0), to.unwrap_or(0))
}

fn fts_search(c: &Connection, p: &FtsParams) -> rusqlite::Result<serde_json::Value> {
    let q = p.q.as_deref().unwrap_or("");
    let (filter, topic, from, to) = filters(p);
    let order = if p.sort.as_deref() == Some("newest") {
        "a.published DESC"
    } else {
        "rank"
    };
    // Only the 20 hits get highlight()/snippet(): a query that computed them in the ORDER BY
    // statement would compute them for every match before sorting.
    // The articles table is joined only when a filter or the order needs it.
    let join = |needed: bool| {
        if needed {
            " JOIN articles a ON a.id = fts.rowid"
        } else {
            ""
        }
    };
    let ids_sql = format!(
        "SELECT fts.rowid FROM fts{} WHERE fts MATCH ?1{filter} ORDER BY {order} LIMIT 20",
        join(!filter.is_empty() || order != "rank")
    );
    let count_sql = format!(
        "SELECT count(*) FROM fts{} WHERE fts MATCH ?1{filter}",
        join(!filter.is_empty())
    );
    let bind = |stmt: &mut rusqlite::CachedStatement<'_>| -> rusqlite::Result<()> {
        stmt.raw_bind_parameter(1, q)?;
        if let Some(t) = &topic {
            stmt.raw_bind_parameter(2, t)?;
        }
        if filter.contains("?3") {
            stmt.raw_bind_parameter(3, from)?;
        }
        if filter.contains("?4") {
            stmt.raw_bind_parameter(4, to)?;
        }
        Ok(())
    };
    let mut stmt = c.prepare_cached(&ids_sql)?;
    bind(&mut stmt)?;
    let mut ids = Vec::with_capacity(20);
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next()? {
        ids.push(row.get::<_, i64>(0)?);
    }
    drop(rows);
    let mut stmt = c.prepare_cached(&count_sql)?;
    bind(&mut stmt)?;
    let total: i64 = {
        let mut rows = stmt.raw_query();
        match rows.next()? {
            Some(row) => row.get(0)?,
            None => 0,
        }
    };
    let mut hit = c.prepare_cached(
        "SELECT a.uid, a.url, a.title, a.source, a.published, a.topic, \
         highlight(fts, 0, '<mark>', '</mark>'), snippet(fts, 1, '<mark>', '</mark>', '…', 40), rank \
         FROM fts JOIN articles a ON a.id = fts.rowid WHERE fts MATCH ?1 AND fts.rowid = ?2",
    )?;
    let mut hits = Vec::with_capacity(ids.len());
    for id in ids {
        let h = hit.query_row(params![q, id], |r| {
            Ok(serde_json::json!({
                "id": r.get::<_, String>(0)?,
                "url": r.get::<_, String>(1)?,
                "title": r.get::<_, String>(2)?,
                "source": r.get::<_, String>(3)?,
                "published": DateTime::from_timestamp(r.get::<_, i64>(4)?, 0),
                "topics": r.get::<_, Option<String>>(5)?.into_iter().collect::<Vec<_>>(),
                "score": -r.get::<_, f64>(8)?,
                "highlights": {"title": r.get::<_, String>(6)?, "body": r.get::<_, String>(7)?},
            }))
        })?;
        hits.push(h);
    }
    Ok(serde_json::json!({"total": total, "hits": hits}))
}

fn fts_timeline(c: &Connection, p: &FtsParams) -> rusqlite::Result<serde_json::Value> {
    let q = p.q.as_deref().unwrap_or("");
    let mut stmt = c.prepare_cached(
        "SELECT a.published / 86400, count(*) FROM fts JOIN articles a ON a.id = fts.rowid \
         WHERE fts MATCH ?1 GROUP BY 1 ORDER BY 1",
    )?;
    let counts: BTreeMap<i64, i64> = stmt
        .query_map([q], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let total: i64 = counts.values().sum();
    let mut buckets = Vec::new();
    if let (Some(first), Some(last)) = (counts.keys().next(), counts.keys().next_back()) {
        for d in *first..=*last {
            let start = DateTime::from_timestamp(d * 86_400, 0).map(|t| t.date_naive());
            buckets.push(
                serde_json::json!({"start": start, "count": counts.get(&d).copied().unwrap_or(0)}),
            );
        }
    }
    Ok(serde_json::json!({"interval": "day", "total": total, "buckets": buckets}))
}

type FtsReply = Result<axum::Json<serde_json::Value>, (StatusCode, String)>;

async fn fts_handler(
    fts: Arc<Fts>,
    p: FtsParams,
    f: fn(&Connection, &FtsParams) -> rusqlite::Result<serde_json::Value>,
) -> FtsReply {
    // The same bound on concurrent queries as wirewatch's API (cores + 1; the engines are loaded
    // one after the other), so neither is measured time-slicing sixteen queries over two cores.
    let _slot = wirewatch::api::query_slots()
        .acquire()
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    tokio::task::spawn_blocking(move || fts.with(|c| f(c, &p)))
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map(axum::Json)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

fn fts_router(fts: Arc<Fts>) -> Router {
    Router::new()
        .route(
            "/api/v1/search",
            get(
                |AxState(s): AxState<Arc<Fts>>, Query(p): Query<FtsParams>| async move {
                    fts_handler(s, p, fts_search).await
                },
            ),
        )
        .route(
            "/api/v1/timeline",
            get(
                |AxState(s): AxState<Arc<Fts>>, Query(p): Query<FtsParams>| async move {
                    fts_handler(s, p, fts_timeline).await
                },
            ),
        )
        .with_state(fts)
}

// ---------------------------------------------------------------------------------------------
// wirewatch over HTTP, through its real router

fn wirewatch_router(index: ArticleIndex, state_dir: &Path) -> Router {
    use std::sync::atomic::AtomicBool;
    let state = wirewatch::store::State::open(&state_dir.join("state.sqlite")).expect("state db");
    let config = Arc::new(wirewatch::config::Config::parse("", "bench").expect("default config"));
    let health = Arc::new(wirewatch::app::Health {
        ready: AtomicBool::new(true),
        heartbeats: wirewatch::telemetry::Heartbeats::default(),
    });
    wirewatch::api::router(wirewatch::api::ApiState {
        index,
        state,
        config: Arc::new(RwLock::new(config)),
        metrics: Arc::new(wirewatch::telemetry::Metrics::new()),
        health,
        alerts: wirewatch::api::AlertApi {
            registry: Default::default(),
            stream: tokio::sync::broadcast::channel(8).0,
            token: None,
            streams: std::sync::Arc::new(tokio::sync::Semaphore::new(32)),
            closing: Default::default(),
        },
    })
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("server on {addr} failed: {e}");
        }
    });
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------------
// Queries

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query word: letters and digits only, not all digits, at least 3 long, not a stop word.
fn content_word(raw: &str) -> Option<String> {
    let w = raw
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_ascii_lowercase();
    (w.len() >= 3
        && w.bytes().all(|b| b.is_ascii_alphanumeric())
        && !w.bytes().all(|b| b.is_ascii_digit())
        && !STOPWORDS.contains(&w.as_str()))
    .then_some(w)
}

struct Kind {
    name: &'static str,
    /// Path and query string, the same for both engines.
    urls: Vec<String>,
}

/// Query terms are words at random positions of generated articles (so common words are drawn
/// more often, as in real query logs), phrases are adjacent word pairs that occur in them, and
/// AND pairs are two words of the same article.
fn queries(c: &Corpus, n: usize) -> Vec<Kind> {
    let sample: Vec<Vec<String>> = (0..n.min(2_000))
        .map(|i| {
            article(c, i)
                .body
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .collect();
    let mut r = Rng::new(SEED ^ 0x9e);
    let per_kind = 400;
    let term = |r: &mut Rng, doc: &[String]| loop {
        if let Some(w) = content_word(&doc[r.below(doc.len())]) {
            return w;
        }
    };
    let mut single = Vec::new();
    let mut and = Vec::new();
    let mut phrase = Vec::new();
    let mut topic = Vec::new();
    let mut newest = Vec::new();
    let mut timeline = Vec::new();
    while single.len() < per_kind {
        let doc = &sample[r.below(sample.len())];
        let a = term(&mut r, doc);
        single.push(format!("/api/v1/search?q={}", encode(&a)));
        let b = term(&mut r, doc);
        if a != b {
            and.push(format!(
                "/api/v1/search?q={}",
                encode(&format!("{a} AND {b}"))
            ));
        }
        // A phrase: two adjacent words, no punctuation between them, one of them not a stop word.
        for _ in 0..50 {
            let i = r.below(doc.len() - 1);
            let clean = |w: &str| {
                let l = w.to_ascii_lowercase();
                (l.len() >= 2 && l.bytes().all(|b| b.is_ascii_alphabetic())).then_some(l)
            };
            if let (Some(x), Some(y)) = (clean(&doc[i]), clean(&doc[i + 1]))
                && (content_word(&x).is_some() || content_word(&y).is_some())
            {
                phrase.push(format!(
                    "/api/v1/search?q={}",
                    encode(&format!("\"{x} {y}\""))
                ));
                break;
            }
        }
        let t = term(&mut r, doc);
        let from = ANCHOR - SPAN_DAYS * 86_400 + r.below((SPAN_DAYS - 30) as usize) as i64 * 86_400;
        let date = |ts: i64| {
            DateTime::from_timestamp(ts, 0)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        topic.push(format!(
            "/api/v1/search?q={}&topic={}&from={}&to={}",
            encode(&t),
            TOPICS[r.below(TOPICS.len())],
            date(from),
            date(from + 29 * 86_400)
        ));
        let t = term(&mut r, doc);
        newest.push(format!("/api/v1/search?q={}&sort=newest", encode(&t)));
        let t = term(&mut r, doc);
        timeline.push(format!("/api/v1/timeline?q={}&interval=day", encode(&t)));
    }
    let kinds = vec![
        Kind {
            name: "single term",
            urls: single,
        },
        Kind {
            name: "AND",
            urls: and,
        },
        Kind {
            name: "phrase",
            urls: phrase,
        },
        Kind {
            name: "topic + 30 days",
            urls: topic,
        },
        Kind {
            name: "newest first",
            urls: newest,
        },
        Kind {
            name: "timeline (day)",
            urls: timeline,
        },
    ];
    let mut mix = Vec::new();
    for i in 0..per_kind {
        for k in &kinds {
            if let Some(u) = k.urls.get(i) {
                mix.push(u.clone());
            }
        }
    }
    let mut kinds = kinds;
    kinds.push(Kind {
        name: "mix of all",
        urls: mix,
    });
    kinds
}

// ---------------------------------------------------------------------------------------------
// Load

struct Run {
    latencies: Vec<f64>,
    errors: usize,
    wall: f64,
    /// CPU time of this whole process (servers and clients) per completed request, ms.
    cpu_per_request: f64,
}

/// User + system CPU time of this process so far, in ms (Linux; clock ticks of 10 ms).
fn cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks * 10.0)
        })
        .unwrap_or(f64::NAN)
}

impl Run {
    fn pct(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let k = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[k.clamp(1, self.latencies.len()) - 1]
    }
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.wall
    }
}

async fn load(
    client: &reqwest::Client,
    base: &str,
    urls: &[String],
    clients: usize,
    seconds: f64,
) -> Run {
    let started = Instant::now();
    let cpu = cpu_ms();
    let deadline = started + Duration::from_secs_f64(seconds);
    let counter = Arc::new(AtomicUsize::new(0));
    let urls: Arc<Vec<String>> = Arc::new(urls.iter().map(|u| format!("{base}{u}")).collect());
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, counter, urls) = (client.clone(), counter.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let url = &urls[counter.fetch_add(1, Ordering::Relaxed) % urls.len()];
                let t = Instant::now();
                let ok = match client.get(url).send().await {
                    Ok(resp) if resp.status().is_success() => resp.bytes().await.is_ok(),
                    Ok(resp) => {
                        if errors < 3 {
                            eprintln!("{url}: {}", resp.status());
                        }
                        false
                    }
                    Err(e) => {
                        if errors < 3 {
                            eprintln!("{url}: {e}");
                        }
                        false
                    }
                };
                if ok {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut run = Run {
        latencies: Vec::new(),
        errors: 0,
        wall: 0.0,
        cpu_per_request: 0.0,
    };
    for t in tasks {
        let (lat, errors) = t.await.expect("a load task");
        run.latencies.extend(lat);
        run.errors += errors;
    }
    run.wall = started.elapsed().as_secs_f64();
    run.cpu_per_request = (cpu_ms() - cpu) / run.latencies.len().max(1) as f64;
    run.latencies.sort_by(f64::total_cmp);
    run
}

async fn get_json(client: &reqwest::Client, url: &str) -> Option<serde_json::Value> {
    let body = client.get(url).send().await.ok()?.bytes().await.ok()?;
    serde_json::from_slice(&body).ok()
}

/// Both engines should count the same matches for the same query (their tokenizers agree on
/// plain ASCII words); a sample of each kind is compared.
async fn agreement(client: &reqwest::Client, ww: &str, fts: &str, kinds: &[Kind]) {
    for k in kinds.iter().filter(|k| k.name != "mix of all") {
        let (mut same, mut checked, mut example) = (0, 0, String::new());
        let mut highlighted = 0;
        let mut totals = Vec::new();
        for u in k.urls.iter().take(10) {
            let (Some(a), Some(b)) = (
                get_json(client, &format!("{ww}{u}")).await,
                get_json(client, &format!("{fts}{u}")).await,
            ) else {
                continue;
            };
            checked += 1;
            totals.push(a.get("total").and_then(|t| t.as_f64()).unwrap_or(f64::NAN));
            if a.get("total") == b.get("total") {
                same += 1;
            } else if example.is_empty() {
                example = format!(
                    " (e.g. {u}: wirewatch {} vs FTS5 {})",
                    a.get("total").unwrap_or(&serde_json::Value::Null),
                    b.get("total").unwrap_or(&serde_json::Value::Null)
                );
            }
            let marked = |p: &str| {
                a.get("hits")
                    .and_then(|h| h.get(0))
                    .and_then(|h| h.pointer(p))
                    .and_then(|b| b.as_str())
                    .is_some_and(|b| b.contains("<mark>"))
            };
            if marked("/highlights/title") || marked("/highlights/body") {
                highlighted += 1;
            }
        }
        println!(
            "  {:<16} totals equal in {same}/{checked}{example}; median total {:.0}; wirewatch first hit highlighted in {highlighted}/{checked}",
            k.name,
            median(totals)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Where wirewatch's time goes: one thread, in process, no HTTP

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Medians over up to 100 queries of each search kind: `ArticleIndex::search` as the API calls it,
/// and its parts rebuilt on raw tantivy (match count; top 20; the same with the `fetched <= now`
/// filter every search adds; loading the 20 stored documents; highlighting them).
fn breakdown(dir: &Path, index: &ArticleIndex, kinds: &[Kind], http: &HashMap<String, f64>) {
    use tantivy::collector::{Count, TopDocs};
    use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, RangeQuery};
    use tantivy::snippet::SnippetGenerator;
    use wirewatch::store::{SearchRequest, Sort};
    let raw = tantivy::Index::open_in_dir(dir).expect("open the index with tantivy");
    let reader = raw.reader().expect("reader");
    let searcher = reader.searcher();
    let schema = raw.schema();
    let field = |n: &str| schema.get_field(n).expect("schema field");
    let (title, body, summary, fetched) = (
        field("title"),
        field("body"),
        field("summary"),
        field("fetched"),
    );
    let mut parser = QueryParser::for_index(&raw, vec![title, body, summary]);
    parser.set_field_boost(title, 2.0);
    parser.set_conjunction_by_default();
    println!(
        "\nwirewatch in process, one thread, medians in ms ({} segments):\n",
        searcher.segment_readers().len()
    );
    println!(
        "| query kind | HTTP, 1 client | ArticleIndex::search | Count | Count + fetched filter | top 20 | top 20 + fetched filter | load 20 docs | highlight 20 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for k in kinds
        .iter()
        .filter(|k| k.urls.iter().all(|u| u.starts_with("/api/v1/search")))
        .filter(|k| k.name != "mix of all")
    {
        let mut cols: Vec<Vec<f64>> = vec![Vec::new(); 7];
        for u in k.urls.iter().take(100) {
            let query: HashMap<String, String> = url::form_urlencoded::parse(
                u.split_once('?').map(|(_, q)| q).unwrap_or("").as_bytes(),
            )
            .into_owned()
            .collect();
            let Some(q) = query.get("q") else { continue };
            let newest = query.get("sort").is_some_and(|s| s == "newest");
            let req = SearchRequest {
                q: q.clone(),
                topic: query.get("topic").cloned(),
                from: query
                    .get("from")
                    .and_then(|d| day(d))
                    .and_then(|t| DateTime::from_timestamp(t, 0)),
                to: query
                    .get("to")
                    .and_then(|d| day(d))
                    .and_then(|t| DateTime::from_timestamp(t + 86_400, 0)),
                sort: if newest {
                    Sort::Newest
                } else {
                    Sort::Relevance
                },
                limit: 20,
                ..Default::default()
            };
            let t = Instant::now();
            if index.search(&req).is_err() {
                continue;
            }
            cols[0].push(ms(t));
            let user = parser.parse_query(q).expect("query parses");
            let asof: Box<dyn Query> = Box::new(ConstScoreQuery::new(
                Box::new(RangeQuery::new(
                    std::ops::Bound::Unbounded,
                    std::ops::Bound::Included(tantivy::Term::from_field_date(
                        fetched,
                        tantivy::DateTime::from_timestamp_secs(chrono::Utc::now().timestamp()),
                    )),
                )),
                0.0,
            ));
            let with_asof =
                BooleanQuery::new(vec![(Occur::Must, user.box_clone()), (Occur::Must, asof)]);
            let t = Instant::now();
            let _ = searcher.search(&*user, &Count);
            cols[1].push(ms(t));
            let t = Instant::now();
            let _ = searcher.search(&with_asof, &Count);
            cols[2].push(ms(t));
            // Top 20 by score, or by the `published` fast field for newest-first.
            let top20 = |q: &dyn Query| -> Vec<tantivy::DocAddress> {
                if newest {
                    let by_date = TopDocs::with_limit(20).order_by_fast_field::<tantivy::DateTime>(
                        "published",
                        tantivy::Order::Desc,
                    );
                    searcher
                        .search(q, &by_date)
                        .map(|v| v.into_iter().map(|(_, a)| a).collect())
                        .unwrap_or_default()
                } else {
                    searcher
                        .search(q, &TopDocs::with_limit(20))
                        .map(|v| v.into_iter().map(|(_, a)| a).collect())
                        .unwrap_or_default()
                }
            };
            let t = Instant::now();
            let top = top20(&*user);
            cols[3].push(ms(t));
            let t = Instant::now();
            let _ = top20(&with_asof);
            cols[4].push(ms(t));
            let t = Instant::now();
            let docs: Vec<tantivy::TantivyDocument> =
                top.iter().filter_map(|a| searcher.doc(*a).ok()).collect();
            cols[5].push(ms(t));
            let t = Instant::now();
            if let (Ok(ts), Ok(bs)) = (
                SnippetGenerator::create(&searcher, &*user, title),
                SnippetGenerator::create(&searcher, &*user, body),
            ) {
                for d in &docs {
                    let _ = ts.snippet_from_doc(d).to_html();
                    let _ = bs.snippet_from_doc(d).to_html();
                }
            }
            cols[6].push(ms(t));
        }
        let h = http.get(k.name).copied().unwrap_or(f64::NAN);
        let m: Vec<String> = cols
            .into_iter()
            .map(|c| format!("{:.2}", median(c)))
            .collect();
        println!("| {} | {h:.2} | {} |", k.name, m.join(" | "));
    }
}

/// Median latency of each search kind from one client, one request at a time.
async fn sequential(client: &reqwest::Client, base: &str, kinds: &[Kind]) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for k in kinds {
        let mut lat = Vec::new();
        for u in k.urls.iter().take(100) {
            let t = Instant::now();
            if let Ok(r) = client.get(format!("{base}{u}")).send().await
                && r.bytes().await.is_ok()
            {
                lat.push(ms(t));
            }
        }
        out.insert(k.name.to_string(), median(lat));
    }
    out
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args = parse_args();
    std::fs::create_dir_all(&args.dir).expect("create the bench directory");
    let t = Instant::now();
    let corpus = Corpus::load(&args.data);
    println!(
        "search bench: {} articles; text from {}",
        args.articles, corpus.description
    );
    let g = Instant::now();
    let sample_bytes: usize = (0..2_000)
        .map(|i| {
            let a = article(&corpus, i);
            a.body.len() + a.title.len()
        })
        .sum();
    println!(
        "  generator: {:.0} articles/s, {:.0} bytes of text per article (corpus loaded in {:.2} s)",
        2_000.0 / g.elapsed().as_secs_f64(),
        sample_bytes as f64 / 2_000.0,
        t.elapsed().as_secs_f64() - g.elapsed().as_secs_f64()
    );
    if args.build_only {
        build_only(&corpus, &args);
        return;
    }
    let ww_dir = build_wirewatch(&|i| article(&corpus, i), args.articles, &args.dir);
    let fts_path = build_fts(&corpus, args.articles, &args.dir);
    println!(
        "on disk: wirewatch {:.0} MB ({} segments), FTS5 {:.0} MB, in {}",
        du(&ww_dir) as f64 / 1e6,
        segments(&ww_dir),
        du(&fts_path) as f64 / 1e6,
        args.dir.display()
    );
    let mut kinds = queries(&corpus, args.articles);
    if let Some(only) = &args.only {
        kinds.retain(|k| k.name.contains(only.as_str()));
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let index = ArticleIndex::open(&ww_dir).expect("open the wirewatch index");
    let served = index.clone();
    let http = rt.block_on(async {
        let index = served;
        assert_eq!(
            index.num_docs(),
            args.articles as u64,
            "the cached index holds another number of articles"
        );
        let state_dir = tempfile::tempdir().expect("temp dir");
        let ww = serve(wirewatch_router(index, state_dir.path())).await;
        let fts = Arc::new(Fts {
            pool: Mutex::new(
                (0..args.clients)
                    .map(|_| open_ro(&fts_path).expect("open FTS5 read-only"))
                    .collect(),
            ),
            path: fts_path.clone(),
        });
        let fts = serve(fts_router(fts)).await;
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(args.clients * 2)
            .timeout(Duration::from_secs(120))
            .build()
            .expect("HTTP client");
        if !args.wirewatch_only {
            println!("wirewatch on {ww}, FTS5 on {fts}; checking the engines agree:");
            agreement(&client, &ww, &fts, &kinds).await;
        }
        println!(
            "\n{} clients, {} s per kind and engine after {} s warm-up, loopback HTTP\n",
            args.clients, args.seconds, args.warmup
        );
        println!(
            "| query kind | wirewatch p50 ms | wirewatch p99 ms | wirewatch req/s | FTS5 p50 ms | FTS5 p99 ms | FTS5 req/s | FTS5 p99 / wirewatch p99 | wirewatch p99 ≤ 25 ms | ratio ≥ 10 |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for k in &kinds {
            let mut runs = Vec::new();
            let engines = if args.wirewatch_only {
                vec![&ww]
            } else {
                vec![&ww, &fts]
            };
            for base in engines {
                if args.warmup > 0.0 {
                    load(&client, base, &k.urls, args.clients, args.warmup).await;
                }
                runs.push(load(&client, base, &k.urls, args.clients, args.seconds).await);
            }
            if runs.len() == 1 {
                // FTS5 left out: its columns print as NaN.
                runs.push(Run {
                    latencies: Vec::new(),
                    errors: 0,
                    wall: 1.0,
                    cpu_per_request: f64::NAN,
                });
            }
            let (a, b) = (&runs[0], &runs[1]);
            let errors = if a.errors + b.errors > 0 {
                format!(" (errors: wirewatch {}, FTS5 {})", a.errors, b.errors)
            } else {
                String::new()
            };
            let ratio = b.pct(99.0) / a.pct(99.0);
            println!(
                "| {}{errors} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1}× | {} | {} |",
                k.name,
                a.pct(50.0),
                a.pct(99.0),
                a.rate(),
                b.pct(50.0),
                b.pct(99.0),
                b.rate(),
                ratio,
                if a.pct(99.0) <= 25.0 { "yes" } else { "no" },
                if ratio >= 10.0 { "yes" } else { "no" },
            );
            eprintln!(
                "  [{}: {} + {} requests; CPU per request (servers + clients) wirewatch {:.2} ms, FTS5 {:.1} ms; load average {}]",
                k.name,
                a.latencies.len(),
                b.latencies.len(),
                a.cpu_per_request,
                b.cpu_per_request,
                std::fs::read_to_string("/proc/loadavg")
                    .unwrap_or_default()
                    .trim()
            );
        }
        sequential(&client, &ww, &kinds).await
    });
    breakdown(&ww_dir, &index, &kinds, &http);
}

// ---------------------------------------------------------------------------------------------
// Ingest cost and the CJK-heavy archive (`--build-only`, `--corpus cjk`)

fn build_only(corpus: &Corpus, args: &Args) {
    let done = args.dir.join("wirewatch");
    let _ = std::fs::remove_dir_all(&done);
    let cjk = args.corpus == "cjk";
    let make = |i: usize| {
        if cjk {
            cjk_article(i)
        } else {
            article(corpus, i)
        }
    };
    let text_bytes: usize = (0..args.articles.min(2_000))
        .map(|i| {
            let a = make(i);
            a.title.len() + a.body.len()
        })
        .sum::<usize>()
        / args.articles.clamp(1, 2_000);
    println!(
        "corpus {}: {text_bytes} bytes of text per article",
        args.corpus
    );
    let dir = build_wirewatch(&make, args.articles, &args.dir);
    println!(
        "on disk: wirewatch {:.1} MB ({} segments) for {} articles",
        du(&dir) as f64 / 1e6,
        segments(&dir),
        args.articles
    );
    if !cjk {
        return;
    }
    let index = ArticleIndex::open(&dir).expect("open the index");
    let queries = [
        "中芯国际",
        "中芯國際",
        "芯片",
        "走私",
        "出口管制",
        "实体清单",
        "\"先进芯片\"",
        "H100 芯片",
        "半導体",
        "輸出規制",
        "반도체",
        "光刻胶",
    ];
    let mut all = Vec::new();
    println!("in-process ArticleIndex::search, 20 hits with highlights, sequential:");
    for q in queries {
        let req = wirewatch::store::SearchRequest {
            q: q.into(),
            limit: 20,
            ..Default::default()
        };
        let first = index.search(&req).expect("search");
        let mut times = Vec::with_capacity(200);
        for _ in 0..200 {
            let t = Instant::now();
            index.search(&req).expect("search");
            times.push(ms(t));
        }
        times.sort_by(f64::total_cmp);
        println!(
            "  {q:<14} {:>7} hits  p50 {:.2} ms  p99 {:.2} ms",
            first.total,
            times[times.len() / 2],
            times[times.len() * 99 / 100]
        );
        all.extend(times);
    }
    all.sort_by(f64::total_cmp);
    println!(
        "  all CJK queries: p50 {:.2} ms, p99 {:.2} ms over {} searches",
        all[all.len() / 2],
        all[all.len() * 99 / 100],
        all.len()
    );
}

/// Sentences written for this bench, by language (simplified and traditional Chinese, Japanese,
/// Korean); articles are drawn from one language's list, with runs of random common characters.
const ZH_HANS: &[&str] = &[
    "美国商务部工业与安全局周二宣布，将中芯国际等多家中国企业列入实体清单。",
    "新规定收紧了对先进芯片的出口管制。",
    "警方破获一起H100芯片走私案，涉案金额超过一亿元。",
    "商务部新闻发言人表示，中方坚决反对美方滥用出口管制措施。",
    "华为和长江存储的供应链受到影响。",
    "英伟达表示将遵守所有适用的出口管制规定。",
    "海关总署加强了对进口关税的征收管理。",
    "分析人士认为，制裁将推动国产替代进程。",
    "台积电的先进制程产能依然紧张。",
    "市场对半导体行业的前景保持谨慎乐观。",
];
const ZH_HANT: &[&str] = &[
    "美國商務部表示，中芯國際與華為的晶片採購將受到更嚴格的出口管制。",
    "輝達的 A100 與 H100 不得出口至中國。",
    "台積電強調，公司遵守所有出口管制規定。",
    "檢方指控該集團將晶片走私至第三國。",
    "經濟部表示將密切關注關稅政策的變化。",
    "分析師認為半導體供應鏈將進一步重組。",
];
const JA: &[&str] = &[
    "経済産業省は先端半導体の製造装置を輸出規制の対象に加えると発表した。",
    "米商務省産業安全保障局はエンティティー・リストに中国企業を追加した。",
    "エヌビディア製の画像処理半導体を中国に密輸したとして男が逮捕された。",
    "政府は対露制裁として資産凍結の対象を拡大した。",
    "米政府は中国製の電気自動車に対する追加関税を発表した。",
    "東京エレクトロンの株価は一時下落した。",
    "半導体の国内生産を強化する方針を示した。",
    "専門家は技術流出への懸念を指摘している。",
];
const KO: &[&str] = &[
    "산업통상자원부는 첨단 반도체 장비에 대한 수출 규제를 강화한다고 밝혔다.",
    "삼성전자와 SK하이닉스는 영향이 제한적일 것이라고 설명했다.",
    "정부는 관세 인상에 대응하기 위한 대책을 마련하고 있다.",
    "전문가들은 공급망 재편이 가속화될 것으로 내다봤다.",
];
const COMMON: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质";

fn cjk_article(n: usize) -> StoredArticle {
    let mut r = Rng::new(SEED ^ 0xc1c ^ (n as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let (pool, lang) = match r.below(20) {
        0..=7 => (ZH_HANS, "zh-Hans"),
        8..=11 => (ZH_HANT, "zh-Hant"),
        12..=16 => (JA, "ja"),
        _ => (KO, "ko"),
    };
    let common: Vec<char> = COMMON.chars().collect();
    let mut body = String::with_capacity(2400);
    for k in 0..(12 + r.below(12)) {
        if k % 3 == 2 {
            // Unseen words: a run of common characters.
            for _ in 0..(8 + r.below(16)) {
                body.push(common[r.below(common.len())]);
            }
            body.push('。');
        } else {
            body.push_str(pool[r.below(pool.len())]);
        }
    }
    let title: String = pool[r.below(pool.len())]
        .trim_end_matches('。')
        .chars()
        .take(30)
        .collect();
    let published =
        DateTime::from_timestamp(ANCHOR - r.below((SPAN_DAYS * 86_400) as usize) as i64, 0)
            .expect("a valid timestamp");
    StoredArticle {
        url: format!("https://bench.invalid/cjk/{n}"),
        canonical_url: format!("https://bench.invalid/cjk/{n}"),
        id: format!("{n:032x}"),
        source: format!("Source {:02}", r.below(40)),
        title,
        body,
        summary: String::new(),
        published: Some(published),
        fetched: published,
        language: Some(lang.into()),
        authors: vec![],
        analysis: Analysis::default(),
    }
}
