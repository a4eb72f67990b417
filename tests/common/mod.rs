//! Test fixtures: a news site served on 127.0.0.1 (feeds, article pages, broken sources) and
//! helpers to run the `wirewatch` binary against it with a temporary configuration.

#![allow(dead_code)] // each test file uses a different part of this module

pub mod archive;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// What the fixture server has seen.
#[derive(Default)]
pub struct Seen {
    /// Request headers per path, in arrival order.
    pub requests: Mutex<Vec<(String, HeaderMap)>>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub not_modified: AtomicUsize,
    pub articles_served: AtomicUsize,
}

impl Seen {
    pub fn headers_for(&self, path: &str) -> Vec<HeaderMap> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, h)| h.clone())
            .collect()
    }
}

#[derive(Clone, Default)]
pub struct Site {
    pub seen: Arc<Seen>,
    /// Feed documents by path (`/rss.xml`).
    pub feeds: Arc<Mutex<HashMap<String, String>>>,
    /// Article pages by number.
    pub pages: Arc<Mutex<HashMap<usize, String>>>,
    /// Delay before answering an article page.
    pub page_delay: Duration,
}

pub struct Server {
    pub addr: SocketAddr,
    pub site: Site,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// Starts the fixture site on an ephemeral loopback port.
pub async fn serve(site: Site) -> Server {
    let app = Router::new()
        .route("/robots.txt", get(robots))
        .route("/feeds/{name}", get(feed))
        .route("/articles/{n}", get(article))
        .route("/private/{n}", get(private))
        .route("/busy/feed.xml", get(busy))
        .route("/broken/cloudflare", get(|| async {
            (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "text/html")],
             "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><script src=\"/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1\"></script></body></html>")
        }))
        .route(
            "/broken/huge.xml",
            get(|| async {
                format!(
                    "<rss version=\"2.0\"><channel><title>{}</title></channel></rss>",
                    "x".repeat(64 * 1024)
                )
            }),
        )
        .route(
            "/broken/500",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "oops") }),
        )
        .route(
            "/broken/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "too late"
            }),
        )
        .route(
            "/broken/loop",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/broken/loop")]) }),
        )
        .route(
            "/broken/invalid.xml",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/rss+xml")],
                    "<rss version=\"2.0\"><channel><title>Broken</title><item><title>Unclosed",
                )
            }),
        )
        .with_state(site.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server { addr, site }
}

fn record(site: &Site, path: &str, headers: &HeaderMap) {
    site.seen
        .requests
        .lock()
        .unwrap()
        .push((path.to_string(), headers.clone()));
}

fn etag_of(body: &str) -> String {
    format!(
        "\"{:x}\"",
        body.len() * 31 + body.bytes().map(|b| b as usize).sum::<usize>()
    )
}

async fn feed(
    State(site): State<Site>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/feeds/{name}");
    record(&site, &path, &headers);
    let body = site.feeds.lock().unwrap().get(&path).cloned();
    let Some(body) = body else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = etag_of(&body);
    let lm = "Wed, 25 Nov 2026 10:00:00 GMT";
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str());
    if matches {
        site.seen.not_modified.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let ctype = if name.ends_with(".json") {
        "application/feed+json"
    } else {
        "application/xml; charset=utf-8"
    };
    (
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (header::ETAG, etag),
            (header::LAST_MODIFIED, lm.to_string()),
        ],
        body,
    )
        .into_response()
}

async fn article(
    State(site): State<Site>,
    UrlPath(n): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/articles/{n}");
    record(&site, &path, &headers);
    let now = site.seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    site.seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(site.page_delay).await;
    site.seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    let num: Option<usize> = n.trim_end_matches(".html").parse().ok();
    let page = num.and_then(|n| site.pages.lock().unwrap().get(&n).cloned());
    match page {
        Some(p) => {
            site.seen.articles_served.fetch_add(1, Ordering::SeqCst);
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], p).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Disallows /private/ and lists, as `Sitemap:` lines, every served document whose path names
/// a sitemap.
async fn robots(State(site): State<Site>, headers: HeaderMap) -> String {
    record(&site, "/robots.txt", &headers);
    let mut sitemaps: Vec<String> = site
        .feeds
        .lock()
        .unwrap()
        .keys()
        .filter(|k| k.contains("sitemap"))
        .cloned()
        .collect();
    sitemaps.sort();
    let mut text = "User-agent: *\nDisallow: /private/\n".to_string();
    for s in sitemaps {
        text.push_str(&format!("Sitemap: {s}\n"));
    }
    text
}

/// Answers 429 with `Retry-After: 1` to the first request, then serves `/feeds/rss.xml`.
async fn busy(State(site): State<Site>, headers: HeaderMap) -> Response {
    record(&site, "/busy/feed.xml", &headers);
    if site.seen.headers_for("/busy/feed.xml").len() == 1 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            "slow down",
        )
            .into_response();
    }
    let body = site
        .feeds
        .lock()
        .unwrap()
        .get("/feeds/rss.xml")
        .cloned()
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
}

async fn private(
    State(site): State<Site>,
    UrlPath(n): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    record(&site, &format!("/private/{n}"), &headers);
    article_page(
        "Private page",
        &["Robots.txt forbids fetching this page, so no crawler should ever see this text."],
    )
    .into_response()
}

/// An article page the extractor must read: a headline, a body of paragraphs, boilerplate around.
pub fn article_page(title: &str, paragraphs: &[&str]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        r#"<!doctype html><html lang="en"><head><title>{title} | Fixture News</title>
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="2026-11-20T08:00:00Z">
<meta name="author" content="Fixture Reporter"></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>{title}</h1><div class="article-body">
{body}</div></article>
<footer><p>Copyright Fixture News. All rights reserved. Subscribe to our newsletter today.</p></footer>
</body></html>"#
    )
}

pub fn rss(title: &str, items: &[(&str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(t, link, desc)| {
            format!("<item><title>{t}</title><link>{link}</link><description>{desc}</description><pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate></item>\n")
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title><link>http://fixture/</link><description>d</description>{items}</channel></rss>"#
    )
}

/// A temporary data directory and configuration for one test.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

impl Env {
    /// `sources` is TOML for `[[source]]` tables; `fetch_extra` adds `[fetch]` keys.
    pub fn new(sources: &str, fetch_extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("wirewatch.toml");
        let text = format!(
            r#"[daemon]
data_dir = "{data}"
listen = "127.0.0.1:0"
log_level = "info,wirewatch=debug"
commit_interval = "1s"
shutdown_grace = "3s"
default_interval = "1h"

[fetch]
timeout = "2s"
connect_timeout = "2s"
per_host_interval = "0s"
allow_private_addresses = true
{fetch_extra}

[analysis]
topics = "{topics}"
gazetteer = "{gazetteer}"

{sources}
"#,
            data = dir.path().join("data").display(),
            topics = repo_file("config/topics.toml").display(),
            gazetteer = repo_file("config/gazetteer.tsv").display(),
        );
        std::fs::write(&config, text).unwrap();
        Env { dir, config }
    }

    pub fn wirewatch(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wirewatch"));
        cmd.args(args);
        cmd.env_remove("RUST_LOG");
        cmd
    }

    /// `run --once`, off the async threads so the fixture server keeps answering.
    pub async fn run_once(&self) -> Output {
        let mut cmd = self.wirewatch(&["run", "--once", "--config", self.config.to_str().unwrap()]);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    /// `search --json`, parsed.
    pub fn search(&self, query: &str, extra: &[&str]) -> serde_json::Value {
        let mut args = vec![
            "search",
            "--config",
            self.config.to_str().unwrap(),
            query,
            "--json",
            "--limit",
            "100",
        ];
        args.extend_from_slice(extra);
        let out = self.wirewatch(&args).output().unwrap();
        assert!(
            out.status.success(),
            "search failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn total(&self, query: &str) -> u64 {
        self.search(query, &[])["total"].as_u64().unwrap()
    }
}

pub fn source(name: &str, kind: &str, url: &str) -> String {
    format!("[[source]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\n\n")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

impl Env {
    /// Rewrites the configuration file (string replacement), e.g. to change a key.
    pub fn edit_config(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        assert!(text.contains(from), "config has no `{from}`");
        std::fs::write(&self.config, text.replacen(from, to, 1)).unwrap();
    }

    /// Points the configuration at a small rule pack and gazetteer of the test's own, for tests
    /// about storage and lifecycle that must not depend on the shipped (large) rule pack.
    pub fn use_small_rules(&self) {
        let topics = self.dir.path().join("small-topics.toml");
        std::fs::write(
            &topics,
            "[[rule]]\nname = \"smuggling\"\ntopic = \"chip_smuggling\"\nterms = [\"smuggl*\"]\nnear = [\"chip*\", \"accelerator*\"]\n",
        )
        .unwrap();
        let gazetteer = self.dir.path().join("small-gazetteer.tsv");
        std::fs::write(&gazetteer, "nvidia\tcompany\tNvidia\n").unwrap();
        self.edit_config(
            &repo_file("config/topics.toml").display().to_string(),
            &topics.display().to_string(),
        );
        self.edit_config(
            &repo_file("config/gazetteer.tsv").display().to_string(),
            &gazetteer.display().to_string(),
        );
    }

    pub fn append_config(&self, extra: &str) {
        let mut text = std::fs::read_to_string(&self.config).unwrap();
        text.push_str(extra);
        std::fs::write(&self.config, text).unwrap();
    }
}

/// Borrowed views of owned feed items, the shape [`rss`] takes.
pub fn item_refs(items: &[(String, String, String)]) -> Vec<(&str, &str, &str)> {
    items
        .iter()
        .map(|(t, l, d)| (t.as_str(), l.as_str(), d.as_str()))
        .collect()
}

impl Env {
    /// `run` with the API on `port` (stderr kept for [`stop`]; keep the log level low, an unread
    /// pipe stalls a chatty daemon), once the port accepts connections.
    pub async fn start_daemon(&self, port: u16) -> Daemon {
        self.edit_config(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        );
        let daemon = Daemon::new(
            self.wirewatch(&["run", "--config", self.config.to_str().unwrap()])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
        wait_until("the API listens", 30, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await;
        daemon
    }
}

/// A loopback port free right now (for a daemon's API).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Minimal HTTP GET on loopback, without a client library: status and body.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    http_request(port, "GET", path, &[], "")
}

pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid} failed");
}

/// Minimal HTTP request on loopback: method, path, extra headers, body → status and body.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let (status, _, body) = http_exchange(port, method, path, headers, body);
    (status, body)
}

/// [`http_request`] with the response head too (lower-cased). The Host header is
/// `127.0.0.1` unless `headers` give one.
pub fn http_exchange(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str("Host: 127.0.0.1\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let (head, body) = buf.split_once("\r\n\r\n").unwrap_or((&buf, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// A webhook receiver: records every request, answers from a script of statuses (then 200).
#[derive(Clone, Default)]
pub struct Receiver {
    pub requests: Arc<Mutex<Vec<(std::time::Instant, HeaderMap, String)>>>,
    pub script: Arc<Mutex<std::collections::VecDeque<u16>>>,
    /// When set, every request gets this status (a receiver that is down).
    pub down: Arc<Mutex<Option<u16>>>,
}

impl Receiver {
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, _, b)| serde_json::from_str(b).ok())
            .collect()
    }
}

pub async fn serve_receiver(receiver: Receiver) -> SocketAddr {
    async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: String) -> Response {
        r.requests
            .lock()
            .unwrap()
            .push((std::time::Instant::now(), headers, body));
        let status = match *r.down.lock().unwrap() {
            Some(s) => s,
            None => r.script.lock().unwrap().pop_front().unwrap_or(200),
        };
        let mut resp = (StatusCode::from_u16(status).unwrap(), "").into_response();
        if status == 429 {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, "1".parse().unwrap());
        }
        resp
    }
    let app = Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A daemon started by a test; killed when dropped, so a failing test never leaves one running
/// (an orphan would also hold the test runner's output pipe open).
pub struct Daemon(Option<std::process::Child>);

impl Daemon {
    pub fn new(child: std::process::Child) -> Daemon {
        Daemon(Some(child))
    }

    pub fn id(&self) -> u32 {
        self.0.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Sends `sig` and waits for the exit, with whatever the daemon wrote.
    pub fn stop(mut self, sig: &str) -> Output {
        let child = self.0.take().expect("daemon running");
        signal(child.id(), sig);
        child.wait_with_output().unwrap()
    }
}

impl Daemon {
    /// Waits up to `limit` for the daemon to exit by itself: its output, or `None` (and it is
    /// killed) when it is still running.
    pub fn wait(mut self, limit: Duration) -> Option<Output> {
        let deadline = std::time::Instant::now() + limit;
        let child = self.0.as_mut().expect("daemon running");
        while std::time::Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return self.0.take().and_then(|c| c.wait_with_output().ok());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Stops a daemon with SIGTERM, asserts that it exited cleanly, and returns its log.
pub async fn stop(daemon: Daemon) -> String {
    let out = tokio::task::spawn_blocking(move || daemon.stop("TERM"))
        .await
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    log
}

/// Polls `f` every 50 ms until it holds; fails after `secs` seconds.
pub async fn wait_until(what: &str, secs: u64, f: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
