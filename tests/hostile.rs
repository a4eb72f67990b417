//! Hostile pages on loopback: four 2 MB article pages built to be slow to parse (300,000
//! nested elements, formatting left open in every paragraph, a flood of elements, deep XML in
//! a sitemap). The daemon must digest them on its CPU pool while `/healthz` and the API keep
//! answering, finish the poll, and keep the articles' feed text.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn nested(levels: usize) -> String {
    format!(
        "<html><body>{}<p>Deep text about export controls.</p>{}</body></html>",
        "<div>".repeat(levels),
        "</div>".repeat(levels)
    )
}

fn open_formatting(paragraphs: usize) -> String {
    let body: String = (0..paragraphs)
        .map(|i| format!("<p><b id={i}>x</p>"))
        .collect();
    format!("<html><body>{body}</body></html>")
}

fn flood(elements: usize) -> String {
    format!(
        "<html><body>{}</body></html>",
        "<span>a</span>".repeat(elements)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_pages_neither_stall_the_poll_nor_the_api() {
    let pages = [
        nested(300_000),
        open_formatting(110_000),
        flood(150_000),
        nested(150_000).replace("<div>", "<div class=\"share\">"),
    ];
    for p in &pages {
        assert!(p.len() >= 1_900_000, "{} bytes", p.len());
    }
    let server = serve(Site::default()).await;
    let items: Vec<(String, String, String)> = (0..pages.len())
        .map(|i| {
            (
                format!("Hostile page {i} on export controls"),
                server.url(&format!("/articles/{i}")),
                "Export controls teaser.".to_string(),
            )
        })
        .collect();
    for (i, p) in pages.into_iter().enumerate() {
        server.site.pages.lock().unwrap().insert(i, p);
    }
    let items = item_refs(&items);
    server
        .site
        .feeds
        .lock()
        .unwrap()
        .insert("/feeds/hostile.xml".into(), rss("Hostile", &items));
    let env = Env::new(
        &source("Hostile", "feed", &server.url("/feeds/hostile.xml")),
        "max_page_body = \"4MiB\"\nrespect_robots = false\n",
    );
    env.edit_config("info,wirewatch=debug", "warn");
    let port = free_port();
    let started = Instant::now();
    let daemon = env.start_daemon(port).await;
    // Probe the API until the poll is recorded; every answer must come within a second.
    let mut slowest = Duration::ZERO;
    let mut probes = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let t = Instant::now();
        let (code, _) = tokio::task::spawn_blocking(move || http_get(port, "/healthz"))
            .await
            .unwrap();
        let (_, sources) = tokio::task::spawn_blocking(move || http_get(port, "/api/v1/sources"))
            .await
            .unwrap();
        let took = t.elapsed();
        slowest = slowest.max(took);
        probes += 1;
        assert_eq!(code, 200);
        let health: serde_json::Value = serde_json::from_str(&sources).unwrap();
        if health["sources"][0]["status"] == "ok" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the poll never finished: {health}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        slowest < Duration::from_secs(1),
        "an API answer took {slowest:?} while hostile pages were digested ({probes} probes)"
    );
    let poll_took = started.elapsed();
    stop(daemon).await;
    assert_eq!(
        server
            .site
            .seen
            .articles_served
            .load(std::sync::atomic::Ordering::SeqCst),
        4,
        "every page was fetched"
    );
    assert_eq!(env.total("hostile"), 4, "every entry is in the archive");
    // Generous for an unoptimised build on two busy cores; the release figures are in
    // docs/BENCHMARKS.md (extract bench, hostile mode).
    assert!(poll_took < Duration::from_secs(90), "{poll_took:?}");
}
