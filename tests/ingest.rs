//! End-to-end ingestion against a fixture site on 127.0.0.1: `run --once`, conditional polling,
//! deduplication, broken sources, per-host limits and a clean stop on SIGTERM.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;

const LONG_TEXT: &str = "Officials in Washington said on Friday that the review of chip exports would continue \
through the winter, with new licence requirements for advanced processors and the tools used to make them. \
Industry groups said the rules were broad and would take months to interpret, while analysts in Singapore \
and Tokyo expected suppliers to redesign products to stay under the thresholds. The department said it \
would publish guidance for exporters and hold briefings for companies that sell equipment to factories in \
the region, and that enforcement officers would be added at several ports to check declarations.";

fn site(page_delay: Duration) -> Site {
    Site {
        seen: Default::default(),
        feeds: Default::default(),
        pages: Default::default(),
        page_delay,
    }
}

/// Four distinct articles: two teasers in RSS, one full-text RSS item, and an Atom feed that
/// repeats one RSS article under a bare link and adds a teaser of its own.
async fn news_site() -> Server {
    let server = serve(site(Duration::ZERO)).await;
    let base = format!("http://{}", server.addr);
    let s = &server.site;
    s.pages.lock().unwrap().insert(
        1,
        article_page(
            "US adds chip firms to the Entity List",
            &[
                "The Commerce Department added 12 Chinese companies to the Entity List on Friday, tightening export controls on advanced chips.",
                "The companies include designers of AI accelerators, officials said, and the quokkaword rule takes effect at once.",
                "Beijing said it firmly opposed the move and would take measures to protect its firms.",
            ],
        ),
    );
    s.pages.lock().unwrap().insert(
        2,
        article_page(
            "Tariffs on legacy chips doubled",
            &[
                "The US will raise tariffs on legacy semiconductors from 25% to 50% next year, the trade representative said.",
                "The increase covers mature-node chips used in cars and appliances, and follows a year-long review.",
            ],
        ),
    );
    s.pages.lock().unwrap().insert(
        4,
        article_page(
            "Smuggling ring moved Nvidia GPUs through third countries",
            &[
                "Prosecutors said the ring smuggled Nvidia H100 chips worth $160 million to China through Malaysia and Thailand.",
                "Two men were charged with conspiracy to violate export laws, according to the indictment unsealed on Thursday.",
            ],
        ),
    );
    let rss = rss(
        "Fixture Wire",
        &[
            (
                "US adds chip firms to the Entity List",
                &format!("{base}/articles/1.html"),
                "Commerce moves against chip designers...",
            ),
            (
                "Tariffs on legacy chips doubled",
                &format!("{base}/articles/2.html?utm_source=rss&amp;utm_medium=feed"),
                "A short teaser.",
            ),
            (
                "Washington reviews chip exports",
                &format!("{base}/articles/3.html"),
                LONG_TEXT,
            ),
        ],
    );
    let atom = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Fixture Atom</title><id>urn:fixture</id><updated>2026-11-20T08:00:00Z</updated>
<entry><title>Tariffs on legacy chips doubled</title><id>urn:a:2</id><link href="{base}/articles/2.html"/><updated>2026-11-20T08:00:00Z</updated><summary>Teaser.</summary></entry>
<entry><title>Smuggling ring moved Nvidia GPUs through third countries</title><id>urn:a:4</id><link rel="alternate" href="{base}/articles/4.html#comments"/><updated>2026-11-20T09:00:00Z</updated><summary>Teaser.</summary></entry>
</feed>"#
    );
    s.feeds.lock().unwrap().insert("/feeds/rss.xml".into(), rss);
    s.feeds
        .lock()
        .unwrap()
        .insert("/feeds/atom.xml".into(), atom);
    server
}

fn news_sources(server: &Server) -> String {
    source("Fixture RSS", "feed", &server.url("/feeds/rss.xml"))
        + &source("Fixture Atom", "feed", &server.url("/feeds/atom.xml"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_indexes_every_article_and_second_run_is_conditional() {
    let server = news_site().await;
    let env = Env::new(&news_sources(&server), "");

    let out = env.run_once().await;
    assert!(out.status.success(), "run --once failed: {}", stderr(&out));
    // Four distinct articles; the one in both feeds (once with utm_*) is stored once.
    assert_eq!(env.total("*"), 4, "{}", stderr(&out));
    // Title words, body words only the article page has (teaser in the feed), and topics.
    assert_eq!(env.total("title:legacy"), 1);
    assert_eq!(env.total("quokkaword"), 1);
    // Topics as the shipped rules give them (other articles may carry these topics too).
    assert_eq!(
        env.total("topic:export_controls AND title:\"entity list\""),
        1
    );
    assert_eq!(env.total("topic:chip_smuggling AND title:smuggling"), 1);
    let tariffs = env.search("", &["--topic", "tariffs"]);
    let urls: Vec<&str> = tariffs["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["url"].as_str().unwrap())
        .collect();
    assert!(
        urls.iter().any(|u| u.contains("/articles/2.html")),
        "{urls:?}"
    );
    // The full-text feed item was not fetched; the teasers were.
    let seen = &server.site.seen;
    assert!(
        seen.headers_for("/articles/3.html").is_empty(),
        "full-text item's page was fetched"
    );
    assert_eq!(seen.headers_for("/articles/1.html").len(), 1);
    assert_eq!(
        seen.headers_for("/articles/2.html").len(),
        1,
        "the shared article was fetched twice"
    );
    assert!(
        seen.headers_for("/feeds/rss.xml")[0]
            .get("if-none-match")
            .is_none()
    );
    let ua = seen.headers_for("/feeds/rss.xml")[0]["user-agent"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(ua.starts_with("wirewatch/"), "{ua}");

    // Second cycle: conditional requests, 304s, nothing new.
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    for feed in ["/feeds/rss.xml", "/feeds/atom.xml"] {
        let second = &seen.headers_for(feed)[1];
        assert!(
            second.get("if-none-match").is_some(),
            "{feed}: no If-None-Match"
        );
        assert!(
            second.get("if-modified-since").is_some(),
            "{feed}: no If-Modified-Since"
        );
    }
    assert_eq!(seen.not_modified.load(Ordering::SeqCst), 2);
    assert_eq!(env.total("*"), 4);
    assert_eq!(
        seen.articles_served.load(Ordering::SeqCst),
        3,
        "pages were fetched again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_txt_is_honoured_for_article_pages() {
    let server = serve(site(Duration::ZERO)).await;
    let base = format!("http://{}", server.addr);
    let feed = rss(
        "Robots",
        &[(
            "Sanctions on shipping firms widened",
            &format!("{base}/private/9.html"),
            "OFAC added 20 vessels to the SDN list...",
        )],
    );
    server
        .site
        .feeds
        .lock()
        .unwrap()
        .insert("/feeds/robots.xml".into(), feed);
    let env = Env::new(
        &source("Robots", "feed", &server.url("/feeds/robots.xml")),
        "",
    );
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        server.site.seen.headers_for("/robots.txt").len(),
        1,
        "{}",
        stderr(&out)
    );
    assert!(
        server.site.seen.headers_for("/private/9.html").is_empty(),
        "robots.txt was ignored"
    );
    // The entry is kept with what the feed said.
    let hits = env.search("vessels", &[]);
    assert_eq!(hits["total"], 1);
    assert_eq!(
        hits["hits"][0]["title"],
        "Sanctions on shipping firms widened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_sources_are_reported_and_the_rest_ingested() {
    let server = news_site().await;
    let sources = news_sources(&server)
        + &source("Broken XML", "feed", &server.url("/broken/invalid.xml"))
        + &source("Server Error", "feed", &server.url("/broken/500"))
        + &source("Too Slow", "feed", &server.url("/broken/slow"))
        + &source("Redirect Loop", "feed", &server.url("/broken/loop"));
    let env = Env::new(&sources, "");
    let started = Instant::now();
    let out = env.run_once().await;
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(started.elapsed() < Duration::from_secs(20));
    for (name, what) in [
        ("Broken XML", "cannot read the response"),
        ("Server Error", "HTTP 500"),
        ("Too Slow", "timed out"),
        ("Redirect Loop", "redirect"),
    ] {
        let line = log
            .lines()
            .find(|l| l.contains("poll failed") && l.contains(name))
            .unwrap_or_else(|| panic!("no failure logged for {name}:\n{log}"));
        assert!(line.contains(what), "{name}: {line}");
    }
    assert_eq!(env.total("*"), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_waited_out() {
    let server = news_site().await;
    let env = Env::new(&source("Busy", "feed", &server.url("/busy/feed.xml")), "");
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = server.site.seen.requests.lock().unwrap().clone();
    let times: Vec<_> = requests
        .iter()
        .filter(|(p, _)| p == "/busy/feed.xml")
        .collect();
    assert_eq!(times.len(), 2, "expected one retry after the 429");
    assert_eq!(env.total("*"), 3, "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_responses_are_refused() {
    let server = news_site().await;
    let sources = news_sources(&server) + &source("Huge", "feed", &server.url("/broken/huge.xml"));
    let env = Env::new(&sources, "max_body = \"16KiB\"");
    let out = env.run_once().await;
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("Huge") && l.contains("larger than the 16384-byte cap")),
        "{log}"
    );
    assert_eq!(env.total("*"), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_walls_are_recognised_and_failing_sources_reported_to_operators() {
    let server = news_site().await;
    let receiver = Receiver::default();
    let hook = serve_receiver(receiver.clone()).await;
    let sources = news_sources(&server)
        + &source("Walled", "feed", &server.url("/broken/cloudflare"))
        + &format!(
            "\n[[channel]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://{hook}/hook\"\n"
        );
    let env = Env::new(&sources, "");
    env.edit_config("[daemon]\n", "[daemon]\noperators_channel = \"ops\"\n");
    for run in 1..=4 {
        let out = env.run_once().await;
        let log = stderr(&out);
        assert!(out.status.success(), "{log}");
        assert!(
            log.contains("blocked by a bot wall (Cloudflare challenge page)"),
            "run {run}: {log}"
        );
    }
    // Reported once, at the third failure in a row; nothing stored from the challenge page.
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["kind"], "notice");
    assert!(
        bodies[0]["title"]
            .as_str()
            .unwrap()
            .contains("\"Walled\" is failing")
    );
    assert!(bodies[0]["text"].as_str().unwrap().contains("blocked"));
    let db = rusqlite::Connection::open(env.dir.path().join("data/state.sqlite")).unwrap();
    let status: String = db
        .query_row(
            "SELECT status FROM sources WHERE name = 'Walled'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "blocked");
    assert_eq!(env.total("moment"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_concurrency_limit_holds() {
    let server = serve(site(Duration::from_millis(150))).await;
    let base = format!("http://{}", server.addr);
    let mut items = Vec::new();
    for n in 1..=12 {
        server.site.pages.lock().unwrap().insert(
            n,
            article_page(
                &format!("Story {n}"),
                &["A paragraph long enough to be taken for article text by the extractor."],
            ),
        );
        items.push((format!("Story {n}"), format!("{base}/articles/{n}.html")));
    }
    let items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(t, l)| (t.as_str(), l.as_str(), "teaser"))
        .collect();
    server
        .site
        .feeds
        .lock()
        .unwrap()
        .insert("/feeds/many.xml".into(), rss("Many", &items));
    let env = Env::new(
        &source("Many", "feed", &server.url("/feeds/many.xml")),
        "per_host_concurrency = 2",
    );
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.total("*"), 12);
    assert_eq!(server.site.seen.max_in_flight.load(Ordering::SeqCst), 2);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_ingestion_stops_cleanly_with_everything_committed() {
    let server = serve(site(Duration::from_millis(250))).await;
    let base = format!("http://{}", server.addr);
    let mut items = Vec::new();
    for n in 1..=40 {
        server.site.pages.lock().unwrap().insert(
            n,
            article_page(
                &format!("Export story {n}"),
                &["The export controls review continued on Friday, officials said in a statement."],
            ),
        );
        items.push((
            format!("Export story {n}"),
            format!("{base}/articles/{n}.html"),
        ));
    }
    let items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(t, l)| (t.as_str(), l.as_str(), "teaser"))
        .collect();
    server
        .site
        .feeds
        .lock()
        .unwrap()
        .insert("/feeds/slow.xml".into(), rss("Slow", &items));
    let env = Env::new(
        &source("Slow", "feed", &server.url("/feeds/slow.xml")),
        "per_host_concurrency = 1",
    );
    let daemon = Daemon::new(
        env.wirewatch(&["run", "--config", env.config.to_str().unwrap()])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.site.seen.articles_served.load(Ordering::SeqCst) < 4 {
        assert!(
            Instant::now() < deadline,
            "the daemon never fetched articles"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stopped = Instant::now();
    let output = tokio::task::spawn_blocking(move || daemon.stop("TERM"))
        .await
        .unwrap();
    assert!(stopped.elapsed() < Duration::from_secs(30));
    let log = stderr(&output);
    assert!(output.status.success(), "exit {:?}: {log}", output.status);
    assert!(log.contains("SIGTERM"), "{log}");
    // Stopped before the end, and what it fetched is committed and searchable.
    let served = server.site.seen.articles_served.load(Ordering::SeqCst) as u64;
    assert!(
        served < 40,
        "ingestion finished before the signal; the test proves nothing"
    );
    let total = env.total("*");
    assert!(
        total >= 4 && total <= served,
        "total {total}, served {served}"
    );
    // The next start resumes: the committed articles are not fetched again.
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.total("*"), 40);
    assert_eq!(
        server.site.seen.articles_served.load(Ordering::SeqCst),
        40 + (served - total) as usize
    );
}

/// Polls waiting for their turn (one at a time here) when SIGTERM arrives never start: the drain
/// finishes the poll in flight and nothing queued behind it.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_does_not_start_polls_still_waiting_their_turn() {
    let server = serve(site(Duration::from_millis(250))).await;
    let base = format!("http://{}", server.addr);
    let mut sources = String::new();
    for f in 0..4 {
        let mut items = Vec::new();
        for k in 0..10 {
            let n = f * 100 + k;
            server.site.pages.lock().unwrap().insert(
                n,
                article_page(
                    &format!("Queued story {n}"),
                    &["The tariff review continued on Friday, officials said in a statement."],
                ),
            );
            items.push((
                format!("Queued story {n}"),
                format!("{base}/articles/{n}.html"),
            ));
        }
        let items: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|(t, l)| (t.as_str(), l.as_str(), "teaser"))
            .collect();
        let path = format!("/feeds/queued-{f}.xml");
        server
            .site
            .feeds
            .lock()
            .unwrap()
            .insert(path.clone(), rss(&format!("Queued {f}"), &items));
        sources += &source(&format!("Queued {f}"), "feed", &server.url(&path));
    }
    let env = Env::new(&sources, "per_host_concurrency = 1");
    env.edit_config("[daemon]\n", "[daemon]\nmax_concurrent_polls = 1\n");
    let daemon = Daemon::new(
        env.wirewatch(&["run", "--config", env.config.to_str().unwrap()])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.site.seen.articles_served.load(Ordering::SeqCst) < 2 {
        assert!(
            Instant::now() < deadline,
            "the daemon never fetched articles"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let served_at_signal = server.site.seen.articles_served.load(Ordering::SeqCst);
    let output = tokio::task::spawn_blocking(move || daemon.stop("TERM"))
        .await
        .unwrap();
    let log = stderr(&output);
    assert!(output.status.success(), "exit {:?}: {log}", output.status);
    let feeds_fetched: Vec<String> = server
        .site
        .seen
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("/feeds/queued-"))
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(
        feeds_fetched.len(),
        1,
        "only the poll in flight at the signal may run: {feeds_fetched:?}"
    );
    assert!(
        served_at_signal < 10,
        "the first poll finished before the signal; the test proves nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_that_finds_news_waits_its_interval_before_the_next() {
    let server = serve(site(Duration::ZERO)).await;
    let base = format!("http://{}", server.addr);
    let feed_path = "/feeds/quick.xml";
    server
        .site
        .feeds
        .lock()
        .unwrap()
        .insert(feed_path.into(), rss("Quick", &[]));
    let env = Env::new(
        &(source("Quick", "feed", &server.url(feed_path)) + "interval = \"2s\"\n"),
        "",
    );
    // The writer's commit (and with it the source's stored schedule) comes a second after a poll.
    env.edit_config("commit_interval = \"1s\"", "commit_interval = \"3s\"");
    let daemon = Daemon::new(
        env.wirewatch(&["run", "--config", env.config.to_str().unwrap()])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let feed_gets = || {
        server
            .site
            .seen
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == feed_path)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while feed_gets() < 1 {
        assert!(Instant::now() < deadline, "the feed was never polled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // News arrives between polls; the next poll finds it while its commit is still pending.
    server.site.pages.lock().unwrap().insert(
        1,
        article_page(
            "Export story",
            &["The export controls review continued on Friday."],
        ),
    );
    let link = format!("{base}/articles/1.html");
    server.site.feeds.lock().unwrap().insert(
        feed_path.into(),
        rss("Quick", &[("Export story", link.as_str(), "teaser")]),
    );
    let first = Instant::now();
    while server.site.seen.articles_served.load(Ordering::SeqCst) < 1 {
        assert!(
            first.elapsed() < Duration::from_secs(20),
            "the article was never fetched"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at_news = feed_gets();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let output = tokio::task::spawn_blocking(move || daemon.stop("TERM"))
        .await
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    // Within 1.5 s of a 2 s interval there is at most one more poll, not one per scheduler turn.
    let after = feed_gets() - at_news;
    assert!(after <= 1, "{after} polls in 1.5 s after news arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_applies_changed_rules_to_the_archive() {
    let server = news_site().await;
    let env = Env::new(&news_sources(&server), "");
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.total("topic:tariffs"), 1);
    let reindex = || {
        env.wirewatch(&["reindex", "--config", env.config.to_str().unwrap()])
            .output()
            .unwrap()
    };
    // Same rules as at ingest: every article analysed, none changed; then nothing to do.
    let out = reindex();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("reindexed 4 of 4 articles (0 resumed from an earlier run), 0 changed"),
        "{}",
        stderr(&out)
    );
    let out = reindex();
    assert!(
        stderr(&out).contains("already analysed with these rules"),
        "{}",
        stderr(&out)
    );
    // A rule pack that knows only smuggling: the tariff article loses its topic, the smuggling
    // one keeps its own.
    env.use_small_rules();
    let out = reindex();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("reindexed 4 of 4"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.total("topic:tariffs"), 0);
    assert_eq!(env.total("topic:chip_smuggling AND title:smuggling"), 1);
    // While a daemon holds the index, reindex says so and changes nothing. (Wait for the daemon
    // to be ready first: a reindex holding the index while the daemon starts would stop it.)
    let port = free_port();
    env.edit_config(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    let daemon = Daemon::new(
        env.wirewatch(&["run", "--config", env.config.to_str().unwrap()])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || http_get(port, "/readyz").0 != 200
    {
        assert!(Instant::now() < deadline, "the daemon never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = env
        .wirewatch(&[
            "reindex",
            "--force",
            "--config",
            env.config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is the daemon running?"),
        "{}",
        stderr(&out)
    );
    let _ = tokio::task::spawn_blocking(move || daemon.stop("TERM")).await;
}

fn urlset(urls: &[(String, chrono::DateTime<chrono::Utc>)]) -> String {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">"#,
    );
    for (loc, lastmod) in urls {
        xml.push_str(&format!(
            "<url><loc>{loc}</loc><lastmod>{}</lastmod></url>",
            lastmod.to_rfc3339()
        ));
    }
    xml + "</urlset>"
}

/// A sitemap source given only as a site page finds its sitemap in robots.txt, reads the newest
/// child of the index, and takes only URLs changed since the last poll (two days back on the
/// first), so a site's archive never becomes a fetch queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sitemap_source_given_as_a_site_reads_only_what_is_new() {
    let server = news_site().await;
    let base = format!("http://{}", server.addr);
    let now = chrono::Utc::now();
    let page = |n: usize| format!("{base}/articles/{n}.html");
    server.site.pages.lock().unwrap().insert(
        5,
        article_page(
            "Sanctions widened to chip brokers",
            &["The Treasury designated five brokers accused of diverting chips to sanctioned buyers through shell companies."],
        ),
    );
    let index = || {
        format!(
            r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/feeds/sitemap-recent.xml</loc><lastmod>{}</lastmod></sitemap>
<sitemap><loc>{base}/feeds/sitemap-2020.xml</loc><lastmod>2020-01-31</lastmod></sitemap>
</sitemapindex>"#,
            chrono::Utc::now().to_rfc3339()
        )
    };
    let feeds = &server.site.feeds;
    feeds
        .lock()
        .unwrap()
        .insert("/feeds/news-sitemap-index.xml".into(), index());
    feeds.lock().unwrap().insert(
        "/feeds/sitemap-2020.xml".into(),
        urlset(&[(page(4), now - chrono::Duration::days(2000))]),
    );
    feeds.lock().unwrap().insert(
        "/feeds/sitemap-recent.xml".into(),
        urlset(&[
            (page(1), now - chrono::Duration::hours(3)),
            (page(2), now - chrono::Duration::days(10)),
        ]),
    );
    let env = Env::new(&source("Site map", "sitemap", &page(1)), "");
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = &server.site.seen;
    assert!(!seen.headers_for("/robots.txt").is_empty());
    assert_eq!(env.total("*"), 1, "{}", stderr(&out));
    assert_eq!(env.total("title:\"entity list\""), 1);
    assert!(
        seen.headers_for("/articles/2.html").is_empty(),
        "a 10-day-old URL was fetched"
    );
    assert!(seen.headers_for("/feeds/sitemap-2020.xml").len() <= 1);

    // Next poll: a URL changed since the last poll is read; one dated before it is not. (The
    // index changes with its child, as real ones do; an unchanged index is a 304.)
    feeds
        .lock()
        .unwrap()
        .insert("/feeds/news-sitemap-index.xml".into(), index());
    feeds.lock().unwrap().insert(
        "/feeds/sitemap-recent.xml".into(),
        urlset(&[
            (page(1), now - chrono::Duration::hours(3)),
            (page(2), now - chrono::Duration::hours(12)),
            (page(5), chrono::Utc::now() + chrono::Duration::minutes(1)),
        ]),
    );
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.total("*"), 2, "{}", stderr(&out));
    assert_eq!(env.total("title:brokers"), 1);
    assert!(
        seen.headers_for("/articles/2.html").is_empty(),
        "a URL older than the last poll was fetched"
    );
}

/// Article pages that are not articles (a paywall teaser, a login page, a soft 404, a bot wall
/// answered with 200) never give their text to the archive; the source's status says what
/// happened; a listing link to a login page stores nothing at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_that_are_not_articles_are_not_stored_and_the_source_says_so() {
    let server = serve(site(Duration::ZERO)).await;
    let base = format!("http://{}", server.addr);
    let fixture = |name: &str| {
        std::fs::read_to_string(repo_file(&format!("tests/fixtures/extract/{name}"))).unwrap()
    };
    {
        let mut pages = server.site.pages.lock().unwrap();
        pages.insert(11, fixture("paywall-teaser.html"));
        pages.insert(12, fixture("login.html"));
        pages.insert(13, fixture("soft-404.html"));
        pages.insert(14, fixture("cloudflare-challenge.html"));
        pages.insert(
            15,
            article_page(
                "Customs seize GPUs",
                &[LONG_TEXT.split(". ").next().unwrap()],
            ),
        );
        pages.insert(16, article_page("Listing story", &[LONG_TEXT]));
        // Its own page: two sources claiming one URL at once would race.
        pages.insert(17, fixture("login.html"));
    }
    let items: Vec<(String, String, String)> = [
        (11, "Entity List talks", "Quokkapay teaser from the feed."),
        (12, "Needs a login", "Quokkalogin teaser from the feed."),
        (13, "Gone story", "Quokkagone teaser from the feed."),
        (14, "Walled story", "Quokkawall teaser from the feed."),
        (15, "Customs seize GPUs", "Short teaser."),
    ]
    .iter()
    .map(|(n, t, d)| {
        (
            t.to_string(),
            format!("{base}/articles/{n}.html"),
            d.to_string(),
        )
    })
    .collect();
    let items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(t, l, d)| (t.as_str(), l.as_str(), d.as_str()))
        .collect();
    server
        .site
        .feeds
        .lock()
        .unwrap()
        .insert("/feeds/rss.xml".into(), rss("Mixed", &items));
    server.site.feeds.lock().unwrap().insert(
        "/feeds/listing.html".into(),
        r#"<html><body><a class="story" href="/articles/17.html">Members only</a>
<a class="story" href="/articles/16.html">Listing story</a></body></html>"#
            .to_string(),
    );
    let sources = source("Mixed", "feed", &server.url("/feeds/rss.xml"))
        + &source("Listing", "html", &server.url("/feeds/listing.html"))
            .replace("\n\n", "\nlink_selector = \"a.story\"\n\n");
    let env = Env::new(&sources, "");
    let out = env.run_once().await;
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");

    // The feed's own text is kept; the pages' text is not.
    for word in ["quokkapay", "quokkalogin", "quokkagone", "quokkawall"] {
        assert_eq!(env.total(word), 1, "{word}: {log}");
    }
    for page_word in ["collapse", "forgot", "broken", "cloudflare"] {
        assert_eq!(env.total(page_word), 0, "{page_word}");
    }
    // The paywalled story is there under the feed's title.
    let hit = &env.search("quokkapay", &[])["hits"][0];
    assert_eq!(hit["title"], "Entity List talks", "{hit}");
    // Nothing of the login page behind the listing link, the listing's article stored.
    assert_eq!(env.total("source:\"Listing\""), 1);
    assert_eq!(env.total("\"members only\""), 0);

    let db = rusqlite::Connection::open(env.dir.path().join("data/state.sqlite")).unwrap();
    let row = |name: &str| -> (String, String) {
        db.query_row(
            "SELECT status, COALESCE(last_error, '') FROM sources WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (status, error) = row("Mixed");
    assert_eq!(status, "ok", "{error}");
    assert!(
        error.contains("1 article(s) could not be fetched")
            && error.contains("blocked by a bot wall"),
        "{error}"
    );
    assert!(
        error.contains("4 page(s) were not articles (")
            && error.contains("1 paywall")
            && error.contains("1 login")
            && error.contains("1 error-page")
            && error.contains("1 bot-wall"),
        "{error}"
    );
    let (status, error) = row("Listing");
    assert_eq!(status, "ok");
    assert!(
        error.contains("1 page(s) were not articles (1 login)"),
        "{error}"
    );
    // The listing link to the login page is done with: the next poll does not fetch it again,
    // though the listing changed (and so is read again, not answered with a 304).
    server.site.feeds.lock().unwrap().insert(
        "/feeds/listing.html".into(),
        r#"<html><body><a class="story" href="/articles/17.html">Members only</a>
<a class="story" href="/articles/16.html">Listing story</a><!-- changed --></body></html>"#
            .to_string(),
    );
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        server.site.seen.headers_for("/articles/17.html").len(),
        1,
        "the login page behind a listing link was fetched again"
    );
}
