//! The outbound policy against a hostile source, all on loopback: the operator's feed is allowed
//! (its address is in `allowed_networks`), and everything the feed points at inside 127.0.0.0/8
//! but outside that allowance is a "private address" the daemon must never connect to: by name
//! (pinned with `fetch.resolve`, as a public DNS name answering 127.0.0.x would), by literal
//! address in any notation, through a redirect, as a sitemap child or as a discovered feed.
//!
//! The "internal" victim listens on 127.0.0.2; the operator allows only 127.0.0.1/32.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::*;

/// A server that records every path it is asked for.
#[derive(Clone, Default)]
struct Recorder {
    hits: Arc<Mutex<Vec<String>>>,
    docs: Arc<Mutex<std::collections::HashMap<String, (String, &'static str)>>>,
}

impl Recorder {
    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
    fn put(&self, path: &str, content_type: &'static str, body: String) {
        self.docs
            .lock()
            .unwrap()
            .insert(path.to_string(), (body, content_type));
    }
}

async fn answer(State(r): State<Recorder>, uri: Uri) -> Response {
    let path = uri.path().to_string();
    r.hits.lock().unwrap().push(path.clone());
    if let Some(target) = path.strip_prefix("/redirect/") {
        let to = format!("http://{target}");
        return (StatusCode::FOUND, [(header::LOCATION, to)]).into_response();
    }
    match r.docs.lock().unwrap().get(&path) {
        Some((body, ct)) => ([(header::CONTENT_TYPE, *ct)], body.clone()).into_response(),
        None if path == "/robots.txt" => StatusCode::NOT_FOUND.into_response(),
        None => article_page(
            "Internal secret",
            &["This page sits on an internal address that no feed may make the daemon fetch."],
        )
        .into_response(),
    }
}

async fn serve_on(ip: &str, r: Recorder) -> SocketAddr {
    let app = Router::new().fallback(get(answer)).with_state(r);
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

fn env_for(sources: &str, extra: &str) -> Env {
    let env = Env::new(sources, extra);
    env.edit_config(
        "allow_private_addresses = true",
        "allow_private_addresses = false\nallowed_networks = [\"127.0.0.1/32\"]",
    );
    env
}

#[tokio::test]
async fn a_hostile_feed_cannot_make_the_daemon_fetch_internal_addresses() {
    let victim = Recorder::default();
    let internal = serve_on("127.0.0.2", victim.clone()).await;
    let port = internal.port();
    let site = Recorder::default();
    let feed_addr = serve_on("127.0.0.1", site.clone()).await;
    let base = format!("http://{feed_addr}");

    // 127.0.0.2 written as a name, a decimal integer, hex, short form and IPv4-mapped IPv6
    // (the last cannot connect, but must be refused before anything is tried).
    let links = [
        format!("http://intranet.example:{port}/by-name"),
        format!("http://2130706434:{port}/decimal"),
        format!("http://0x7f.0.0.2:{port}/hex"),
        format!("http://127.2:{port}/short"),
        format!("http://[::ffff:127.0.0.2]:{port}/mapped"),
        format!("{base}/redirect/127.0.0.2:{port}/via-redirect"),
        format!("{base}/redirect/intranet.example:{port}/via-redirect-name"),
        format!("{base}/fine"),
    ];
    let items: Vec<(String, String, String)> = links
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("Story {i}"), l.clone(), String::new()))
        .collect();
    let items = item_refs(&items);
    site.put("/feed.xml", "application/rss+xml", rss("Hostile", &items));
    site.put(
        "/fine",
        "text/html",
        article_page(
            "A fine story",
            &["Export controls on advanced chips were widened on Monday, officials said."],
        ),
    );
    // A sitemap index whose child lives on the internal address.
    site.put(
        "/sitemap.xml",
        "application/xml",
        format!(
            r#"<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>http://intranet.example:{port}/child.xml</loc></sitemap></sitemapindex>"#
        ),
    );
    // A page whose "feed" is internal.
    site.put(
        "/page",
        "text/html",
        format!(
            r#"<html><head><link rel="alternate" type="application/rss+xml" href="http://127.0.0.2:{port}/feed.xml"></head><body>Hi</body></html>"#
        ),
    );
    let sources = [
        source("Hostile", "feed", &format!("{base}/feed.xml")),
        source("Index", "sitemap", &format!("{base}/sitemap.xml")),
        source("Page", "feed", &format!("{base}/page")),
        source(
            "Direct",
            "feed",
            &format!("http://127.0.0.2:{port}/direct.xml"),
        ),
    ]
    .concat();
    let env = env_for(
        &sources,
        "respect_robots = false\n[fetch.resolve]\n\"intranet.example\" = \"127.0.0.2\"\n",
    );
    let out = env.run_once().await;
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");

    assert_eq!(
        victim.hits(),
        Vec::<String>::new(),
        "the internal server was reached; log:\n{log}"
    );
    assert!(
        site.hits().iter().any(|p| p == "/fine"),
        "the allowed article was not fetched: {:?}",
        site.hits()
    );
    assert!(
        log.contains("outbound policy refused") && log.contains("loopback (127.0.0.0/8)"),
        "refusals are logged with their rule:\n{log}"
    );
    assert!(log.contains("intranet.example -> 127.0.0.2"), "{log}");
    // The feed itself still works: its allowed article is in the archive.
    assert_eq!(env.total("\"export controls\""), 1);

    // Source health: a refused source says so, the others keep going.
    let state = wirewatch::store::State::open(&env.dir.path().join("data/state.sqlite")).unwrap();
    let sources = state.sources().unwrap();
    let status = |name: &str| {
        sources
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.status.clone())
    };
    assert_eq!(status("Direct").as_deref(), Some("refused"));
    assert_eq!(status("Page").as_deref(), Some("refused"));
    assert_eq!(status("Hostile").as_deref(), Some("ok"));
}

#[tokio::test]
async fn refusals_show_in_metrics_and_source_health_and_alert_channels_stay_trusted() {
    let victim = Recorder::default();
    let internal = serve_on("127.0.0.2", victim.clone()).await;
    let site = Recorder::default();
    let feed_addr = serve_on("127.0.0.1", site.clone()).await;
    site.put(
        "/feed.xml",
        "application/rss+xml",
        rss(
            "Hostile",
            &[
                (
                    "Smuggling ring",
                    &format!("http://intranet.example:{}/secret", internal.port()),
                    "Smugglers moved Nvidia chips through shell companies.",
                ),
                (
                    "Chip smuggling case",
                    &format!("http://{feed_addr}/ok"),
                    "Prosecutors charged two men with smuggling Nvidia H100 chips.",
                ),
            ],
        ),
    );
    site.put(
        "/ok",
        "text/html",
        article_page(
            "Chip smuggling case",
            &["Prosecutors charged two men with smuggling Nvidia H100 chips to China."],
        ),
    );
    // The alert channel is on a private address too: the operator configured it, so it is used.
    let receiver = Receiver::default();
    let hook = serve_receiver(receiver.clone()).await;
    let port = free_port();
    let env = env_for(
        &source("Hostile", "feed", &format!("http://{feed_addr}/feed.xml")),
        // robots.txt stays on: the victim's robots.txt is refused too (by the resolver), and
        // the article must still count as refused, not as disallowed by robots.
        "[fetch.resolve]\n\"intranet.example\" = \"127.0.0.2\"\n",
    );
    // Debug logs would fill the unread stderr pipe and stall the daemon.
    env.edit_config("info,wirewatch=debug", "warn,wirewatch=info");
    env.append_config(&format!(
        "\n[[alert]]\nname = \"smuggling\"\nquery = \"smuggling\"\nchannels = [\"desk\"]\n\n[[channel]]\nname = \"desk\"\nkind = \"webhook\"\nurl = \"http://{hook}/hook\"\n"
    ));
    let daemon = env.start_daemon(port).await;
    wait_until("the refusal is in the metrics", 20, || {
        let (_, body) = http_get(port, "/metrics");
        body.contains("wirewatch_outbound_refused_total{")
    })
    .await;
    let (_, metrics) = http_get(port, "/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("wirewatch_outbound_refused_total{")
                && l.contains("source=\"Hostile\"")
                && l.contains("rule=\"loopback (127.0.0.0/8)\"")),
        "{metrics}"
    );
    let sources = || -> serde_json::Value {
        let (code, body) = http_get(port, "/api/v1/sources");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    wait_until("the poll is recorded", 20, || {
        sources()["sources"][0]["status"].is_string()
    })
    .await;
    let health = sources();
    let hostile = &health["sources"][0];
    assert_eq!(hostile["status"], "ok", "{hostile}");
    assert_eq!(hostile["refused_fetches"], 1, "{hostile}");
    assert!(
        hostile["last_refusal"]
            .as_str()
            .is_some_and(|m| m.contains("/secret") && m.contains("loopback")),
        "{hostile}"
    );
    wait_until("the webhook got the alert", 20, || {
        !receiver.bodies().is_empty()
    })
    .await;
    let log = stop(daemon).await;
    assert!(victim.hits().is_empty(), "{log}");
}
