//! Fuzzing on stable Rust, bounded in time: mutations of a seed corpus the project wrote
//! (`tests/fuzz/seeds/<target>/`) through feed parsing, HTML extraction, the query language and
//! configuration loading. Each input must finish without a panic, within a time bound, with
//! output bounded by its input. proptest generates the mutations and shrinks a failure to a
//! small input; `WIREWATCH_FUZZ_CASES` sets the cases per target (default 400) and
//! `WIREWATCH_FUZZ_SEED` the inputs (default: the same on every run); `WIREWATCH_FUZZ_DUMP=DIR`
//! keeps the input being tried in `DIR/<target>.last` (a stack overflow aborts before any report). For long runs
//! by hand, the cargo-fuzz targets in `fuzz/` take the same seeds as their corpus.

mod common;

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Far above what any seed takes (milliseconds), far below a hang; generous because CI
/// runs unoptimised builds on two busy cores.
const PER_INPUT: Duration = Duration::from_secs(8);
/// Mutated inputs are cut to this size: big enough to nest deeply, small enough to stay quick.
const MAX_INPUT: usize = 256 * 1024;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/seeds")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// Fragments that reach deep into each grammar (a random byte rarely forms `<![CDATA[`).
fn dictionary(target: &str) -> &'static [&'static str] {
    match target {
        "feed" => &[
            "<item>",
            "</item>",
            "<entry>",
            "<![CDATA[",
            "]]>",
            "<!--",
            "&amp;",
            "&#x0;",
            "&bogus;",
            "<link href=\"",
            "<url><loc>",
            "<sitemap><loc>",
            "{\"items\":[",
            "\"}",
            "\u{feff}",
            "<?xml version=\"1.0\" encoding=\"gbk\"?>",
            "<pubDate>",
            "<a:b xmlns:a=\"x\">",
            "<!DOCTYPE x [<!ENTITY e \"&e;&e;\">]>",
            "\0",
            "\u{fffd}",
        ],
        "html" => &[
            "<div>",
            "</div>",
            "<p>",
            "<b id=1>",
            "<table>",
            "<td>",
            "<template>",
            "<svg>",
            "<math>",
            "<script>",
            "</script>",
            "<!--",
            "-->",
            "<noscript>",
            "<a href=x>",
            "<meta charset=\"utf-16\">",
            "<article>",
            "<select>",
            "<frameset>",
            "&#0;",
            "<font>",
            "\u{0}",
            "<plaintext>",
            "<textarea>",
            "<xmp>",
            "\"",
            "'",
            "<base href=\"//x\">",
        ],
        "query" => &[
            "\"",
            "(",
            ")",
            "*",
            "~",
            "~99999",
            ":",
            "AND ",
            "OR ",
            "NOT ",
            "-",
            "+",
            "^",
            "title:",
            "topic:",
            "entity:",
            "source:\"",
            "lang:",
            "author:",
            "[",
            "]",
            "{",
            "}",
            "\\",
            "*:*",
            "中芯国际",
            "\u{0}",
            "TO",
            "/re/",
        ],
        _ => &[
            "[daemon]\n",
            "[fetch]\n",
            "[[source]]\n",
            "[[alert]]\n",
            "[[channel]]\n",
            "=",
            "\"",
            "'''",
            "\"1s\"",
            "\"-1s\"",
            "\"99999999999999d\"",
            "\"8EiB\"",
            "[",
            "]",
            "{",
            "}",
            "#",
            "\n",
            "name = ",
            "url = \"",
            "kind = \"",
            "0x",
            "inf",
            "nan",
            "\\u0000",
        ],
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, Vec<u8>),
    Token(usize, usize),
    Delete(usize, usize),
    /// Repeat a slice: the way deep nesting and floods of tags are made.
    Repeat(usize, usize, usize),
    Flip(usize, u8),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(p, t)| Mutation::Token(p, t)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), 1usize..32, 2usize..4096).prop_map(|(p, n, k)| Mutation::Repeat(p, n, k)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(seed: &[u8], muts: &[Mutation], dict: &[&str]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for m in muts {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % (len + 1) };
        match m {
            Mutation::Insert(p, b) => {
                let i = at(*p, data.len());
                data.splice(i..i, b.iter().copied());
            }
            Mutation::Token(p, t) => {
                let i = at(*p, data.len());
                data.splice(i..i, dict[t % dict.len()].bytes());
            }
            Mutation::Delete(p, n) => {
                let i = at(*p, data.len());
                let j = (i + n).min(data.len());
                data.drain(i..j);
            }
            Mutation::Repeat(p, n, k) => {
                let i = at(*p, data.len());
                let j = (i + n).min(data.len());
                let piece = data[i..j].to_vec();
                if !piece.is_empty() {
                    let times = (*k).min(MAX_INPUT / piece.len());
                    let copies: Vec<u8> = piece.repeat(times);
                    data.splice(j..j, copies);
                }
            }
            Mutation::Flip(p, b) => {
                if !data.is_empty() {
                    let i = p % data.len();
                    data[i] ^= b | 1;
                }
            }
            Mutation::Truncate(p) => {
                let i = at(*p, data.len());
                data.truncate(i.max(1));
            }
        }
        data.truncate(MAX_INPUT);
    }
    data
}

/// The same inputs on every run unless `WIREWATCH_FUZZ_SEED` asks for others: CI stays
/// deterministic, and a long run by hand explores with a seed of its own.
fn rng() -> TestRng {
    let seed: u64 = std::env::var("WIREWATCH_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

fn cases() -> u32 {
    std::env::var("WIREWATCH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

/// Runs `check` on mutated seeds of `target`; a panic, an error from `check` or a slow input
/// fails the test with the (shrunk) input.
fn fuzz(target: &str, check: impl Fn(&[u8]) -> Result<(), String>) {
    let seeds = seeds(target);
    let dict = dictionary(target);
    let config = Config {
        cases: cases(),
        max_shrink_iters: 256,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng());
    let strategy = (0..seeds.len(), prop::collection::vec(mutation(), 0..8));
    let result = runner.run(&strategy, |(seed, muts)| {
        let input = apply(&seeds[seed], &muts, dict);
        // An abort (stack overflow) reports no input: keep the one being tried, when asked.
        if let Some(dir) = std::env::var_os("WIREWATCH_FUZZ_DUMP") {
            let _ = std::fs::write(Path::new(&dir).join(format!("{target}.last")), &input);
        }
        let started = Instant::now();
        let outcome = check(&input);
        let took = started.elapsed();
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
        prop_assert!(
            took < PER_INPUT,
            "{} bytes took {took:?} (limit {PER_INPUT:?})",
            input.len()
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("fuzz target `{target}` failed: {e}");
    }
}

#[test]
fn fuzz_feed_parsing() {
    fuzz("feed", |bytes| {
        match wirewatch::parse::parse_document(bytes, Some("https://news.example/"), None) {
            Err(wirewatch::parse::ParseError::Panicked(p)) => Err(format!("parser panicked: {p}")),
            Ok(f) if f.entries.len() > wirewatch::parse::MAX_ENTRIES => {
                Err(format!("{} entries", f.entries.len()))
            }
            _ => Ok(()),
        }
    });
}

#[test]
fn fuzz_html_extraction() {
    fuzz("html", |bytes| {
        let a = wirewatch::extract::extract_bytes(bytes, None, Some("https://news.example/a"));
        // Text can only shrink, give or take the blank lines put between blocks.
        let out = a.body.len() + a.title.map_or(0, |t| t.len());
        if out > bytes.len() * 3 + 1024 {
            return Err(format!(
                "{out} bytes of output from {} of input",
                bytes.len()
            ));
        }
        wirewatch::discover::feed_links(
            &String::from_utf8_lossy(bytes),
            &url::Url::parse("https://news.example/").unwrap(),
        );
        Ok(())
    });
}

fn archive() -> &'static common::archive::Fixture {
    static F: OnceLock<common::archive::Fixture> = OnceLock::new();
    F.get_or_init(common::archive::fixture)
}

#[test]
fn fuzz_query_language() {
    let index = archive().state.index.clone();
    fuzz("query", |bytes| {
        let q = String::from_utf8_lossy(bytes).into_owned();
        let req = wirewatch::store::SearchRequest {
            q,
            topic: None,
            entity: None,
            source: None,
            lang: None,
            from: None,
            to: None,
            min_score: None,
            sort: wirewatch::store::Sort::Relevance,
            limit: 20,
            cursor: None,
        };
        // Any answer is fine (a query the parser cannot read runs with a note); a panic is not.
        let _ = index.search(&req);
        Ok(())
    });
}

#[test]
fn fuzz_config_loading() {
    fuzz("config", |bytes| {
        let text = String::from_utf8_lossy(bytes);
        match wirewatch::config::Config::parse(&text, "fuzz.toml") {
            Err(e) if e.problems.is_empty() => Err("an error that names no problem".into()),
            _ => Ok(()),
        }
    });
}
