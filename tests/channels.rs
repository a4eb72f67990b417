//! The alert channels besides the signed webhook: a Slack-compatible incoming webhook, ntfy, and
//! the live server-sent-event stream `GET /api/v1/stream`. A daemon polls a fixture feed on
//! loopback; the channels' receivers are loopback servers in the test.

#![cfg(unix)]

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use common::*;

const ALERT: &str = "quokka boards";
const NTFY_TOKEN: &str = "tk_ntfy-test-456";

/// The two articles the saved search matches (title, article number); article 3 does not match.
const MATCHING: [(&str, usize); 2] = [
    ("Smugglers moved quokkagpu chips via Malaysia", 1),
    ("Second quokkagpu case filed", 2),
];
const OTHER_TITLE: &str = "Unrelated weather story";

/// The fixture feed: two articles the saved search matches and one it does not.
fn full_feed(base: &str) -> String {
    let long = |extra: &str| {
        format!(
            "{extra} Investigators said the quokkagpu boards were declared as network gear and shipped through a regional hub, \
and that the buyers used front companies to hide the final destination. The case is the latest in a series of \
prosecutions over accelerators that require an export licence, and officials said more charges could follow as \
the inquiry widens to other distributors in the region. Lawyers for the defendants did not respond to requests for \
comment on Friday, and the companies named in the filing could not be reached."
        )
    };
    rss(
        "Wire",
        &[
            (
                MATCHING[0].0,
                &format!("{base}/articles/1.html"),
                &long("Prosecutors said the ring smuggled Nvidia chips."),
            ),
            (
                MATCHING[1].0,
                &format!("{base}/articles/2.html"),
                &long("A second case was filed."),
            ),
            (
                OTHER_TITLE,
                &format!("{base}/articles/3.html"),
                &"Rain is expected over the weekend with cooler temperatures. ".repeat(12),
            ),
        ],
    )
}

fn set_feed(server: &Server, feed: String) {
    server
        .site
        .feeds
        .lock()
        .unwrap()
        .insert("/feeds/wire.xml".into(), feed);
}

fn base(server: &Server) -> String {
    format!("http://{}", server.addr)
}

/// A daemon configuration: the fixture feed polled every `interval`, `channels` (TOML tables) and
/// one immediate alert on `quokkagpu` sent to `alert_channels`; the API on a free loopback port.
fn channel_env(
    server: &Server,
    interval: &str,
    channels: &str,
    alert_channels: &[&str],
) -> (Env, u16) {
    let names: Vec<String> = alert_channels.iter().map(|c| format!("\"{c}\"")).collect();
    let config = source("Wire", "feed", &server.url("/feeds/wire.xml"))
        + &format!("interval = \"{interval}\"\n\n")
        + channels
        + &format!(
            "\n[[alert]]\nname = \"{ALERT}\"\nquery = \"quokkagpu\"\nchannels = [{}]\n\n[delivery]\ninitial_backoff = \"200ms\"\n",
            names.join(", ")
        );
    let env = Env::new(&config, "");
    // A rule pack of one smuggling rule: the daemon starts in a moment, and the first article
    // carries evidence (a smuggling sentence) while the second carries none.
    env.use_small_rules();
    let port = free_port();
    env.edit_config(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    (env, port)
}

fn start(env: &Env) -> Daemon {
    Daemon::new(
        env.wirewatch(&["run", "--config", env.config.to_str().unwrap()])
            .env("WW_TEST_NTFY_TOKEN", NTFY_TOKEN)
            .env_remove("WW_TEST_NTFY_UNSET")
            .env("WIREWATCH_API_TOKEN", "token-123")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

async fn wait_for_api(port: u16) {
    wait_until("the API", 20, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
}

/// One request a receiver got.
#[derive(Clone, Debug)]
struct Req {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: String,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// A receiver for any path (Slack and ntfy put the channel in the URL path): records, answers 200.
#[derive(Clone, Default)]
struct Inbox {
    requests: Arc<Mutex<Vec<Req>>>,
}

impl Inbox {
    fn all(&self) -> Vec<Req> {
        self.requests.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

async fn serve_inbox(inbox: Inbox) -> SocketAddr {
    async fn record(
        State(inbox): State<Inbox>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: String,
    ) -> StatusCode {
        inbox.requests.lock().unwrap().push(Req {
            method,
            path: uri.path().to_string(),
            headers,
            body,
        });
        StatusCode::OK
    }
    let app = Router::new().fallback(record).with_state(inbox);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The alert's recorded matches (the payloads the channels render), by article title.
fn matched_payloads(port: u16) -> Vec<serde_json::Value> {
    let (status, body) = http_get(port, "/api/v1/alerts");
    assert_eq!(status, 200, "{body}");
    let alerts: serde_json::Value = serde_json::from_str(&body).unwrap();
    let alert = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == ALERT)
        .expect("the configured alert is listed")
        .clone();
    let id = alert["id"].as_i64().unwrap();
    let (status, body) = http_get(port, &format!("/api/v1/alerts/{id}/matches"));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["article"].clone())
        .collect()
}

fn deliveries(port: u16, status: &str) -> Vec<serde_json::Value> {
    let (code, body) = http_get(port, &format!("/api/v1/deliveries?status={status}"));
    assert_eq!(code, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Checks that `text` quotes every evidence sentence of `payload` on a `> ` line with each of its
/// terms wrapped in `mark` (`*` for Slack, `**` for plain text), and that there is evidence.
fn assert_evidence_rendered(text: &str, payload: &serde_json::Value, mark: &str) {
    let evidence = payload["evidence"].as_array().unwrap();
    let quoted: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("> ")).collect();
    assert_eq!(
        quoted.len(),
        evidence.len(),
        "one quoted line per evidence sentence:\n{text}\n{payload:#}"
    );
    for e in evidence {
        let sentence = e["sentence"].as_str().unwrap();
        let line = quoted
            .iter()
            .find(|l| l.replace('*', "") == sentence.replace('*', ""))
            .unwrap_or_else(|| panic!("sentence `{sentence}` not quoted in:\n{text}"));
        let terms = e["terms"].as_array().unwrap();
        assert!(!terms.is_empty(), "evidence without terms: {e}");
        for t in terms {
            let t = t.as_str().unwrap();
            assert!(
                line.contains(&format!("{mark}{t}{mark}")),
                "term `{t}` not marked with `{mark}` in `{line}`"
            );
            if mark == "*" {
                assert!(
                    !line.contains(&format!("**{t}**")),
                    "Slack marks bold with single asterisks: `{line}`"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_gets_one_message_per_match_and_never_twice() {
    let server = serve(Site::default()).await;
    let base = base(&server);
    set_feed(&server, full_feed(&base));
    let inbox = Inbox::default();
    let slack = serve_inbox(inbox.clone()).await;
    let channels = format!(
        "[[channel]]\nname = \"chat\"\nkind = \"slack\"\nurl = \"http://{slack}/services/T0001/B0002/XXXXSECRET\"\n"
    );
    let (env, port) = channel_env(&server, "1h", &channels, &["chat"]);
    let child = start(&env);
    wait_until("two Slack messages", 30, || inbox.count() >= 2).await;
    wait_until("both deliveries recorded", 10, || {
        deliveries(port, "delivered").len() >= 2
    })
    .await;
    // Nothing else is on its way: no third message, no pending delivery.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = inbox.all();
    assert_eq!(requests.len(), 2, "one message per matching article");
    assert_eq!(deliveries(port, "delivered").len(), 2);
    assert!(deliveries(port, "pending").is_empty());
    assert!(deliveries(port, "dead").is_empty());
    let payloads = matched_payloads(port);
    assert_eq!(payloads.len(), 2);

    for (title, n) in MATCHING {
        let url = format!("{base}/articles/{n}.html");
        let with_title: Vec<&Req> = requests.iter().filter(|r| r.body.contains(title)).collect();
        assert_eq!(with_title.len(), 1, "one message for `{title}`");
        let r = with_title[0];
        assert_eq!(r.method, Method::POST);
        assert_eq!(r.path, "/services/T0001/B0002/XXXXSECRET");
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("a JSON body");
        let text = v["text"].as_str().expect("a `text` field");
        assert!(
            text.starts_with(&format!("New match for \"{ALERT}\"\n")),
            "{text}"
        );
        // The title is a link to the article, in bold (Slack mrkdwn).
        assert!(text.contains(&format!("*<{url}|{title}>*")), "{text}");
        assert!(text.contains("Wire · 2026-11-20"), "{text}");
        let payload = payloads
            .iter()
            .find(|p| p["title"] == title)
            .unwrap_or_else(|| panic!("no recorded match for `{title}`"));
        assert_eq!(payload["url"], url.as_str());
        assert_evidence_rendered(text, payload, "*");
    }
    // The first article's evidence is its smuggling sentence, with the words that fired marked.
    let first = requests
        .iter()
        .find(|r| r.body.contains(MATCHING[0].0))
        .unwrap();
    let text = serde_json::from_str::<serde_json::Value>(&first.body).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    let quoted = text
        .lines()
        .find(|l| l.starts_with("> ") && l.contains("Nvidia"))
        .unwrap_or_else(|| panic!("the smuggling sentence is quoted:\n{text}"));
    assert!(quoted.contains("*smuggl"), "{quoted}");
    for r in &requests {
        assert!(!r.body.contains(OTHER_TITLE), "{}", r.body);
        assert!(!r.body.contains("/articles/3.html"), "{}", r.body);
    }
    stop(child).await;

    // Polling again, even after the feed changed, sends nothing more.
    server
        .site
        .feeds
        .lock()
        .unwrap()
        .get_mut("/feeds/wire.xml")
        .unwrap()
        .push_str("<!-- changed -->");
    let polls = server.site.seen.headers_for("/feeds/wire.xml").len();
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        server.site.seen.headers_for("/feeds/wire.xml").len() > polls,
        "the feed was polled again"
    );
    assert_eq!(inbox.count(), 2, "re-polling sent a Slack message again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ntfy_posts_to_the_topic_with_title_click_tags_and_token() {
    let server = serve(Site::default()).await;
    let base = base(&server);
    set_feed(&server, full_feed(&base));
    let inbox = Inbox::default();
    let ntfy = serve_inbox(inbox.clone()).await;
    let channels = format!(
        r#"[[channel]]
name = "phone"
kind = "ntfy"
url = "http://{ntfy}/wirewatch-desk"
token_env = "WW_TEST_NTFY_TOKEN"

[[channel]]
name = "public"
kind = "ntfy"
url = "http://{ntfy}/wirewatch-open"

[[channel]]
name = "unset"
kind = "ntfy"
url = "http://{ntfy}/wirewatch-unset"
token_env = "WW_TEST_NTFY_UNSET"
"#
    );
    let (env, port) = channel_env(&server, "1h", &channels, &["phone", "public", "unset"]);
    let child = start(&env);
    wait_for_api(port).await;
    // Two articles to two working topics; the channel whose token is missing never sends.
    wait_until("four ntfy messages", 30, || inbox.count() >= 4).await;
    wait_until("the token-less channel's dead letters", 20, || {
        deliveries(port, "dead").len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = inbox.all();
    assert_eq!(requests.len(), 4, "{requests:#?}");
    let dead = deliveries(port, "dead");
    assert_eq!(dead.len(), 2, "{dead:#?}");
    for d in &dead {
        assert_eq!(d["channel"], "unset");
        let error = d["last_error"].as_str().unwrap();
        assert!(error.contains("WW_TEST_NTFY_UNSET"), "{error}");
        assert_eq!(d["attempts"], 1, "a missing secret is not retried: {d}");
    }
    assert_eq!(deliveries(port, "delivered").len(), 4);
    let payloads = matched_payloads(port);
    stop(child).await;

    for (path, token) in [
        ("/wirewatch-desk", Some(format!("Bearer {NTFY_TOKEN}"))),
        ("/wirewatch-open", None),
    ] {
        let to_topic: Vec<&Req> = requests.iter().filter(|r| r.path == path).collect();
        assert_eq!(to_topic.len(), 2, "one message per match to {path}");
        for (title, n) in MATCHING {
            let url = format!("{base}/articles/{n}.html");
            let found: Vec<&&Req> = to_topic
                .iter()
                .filter(|r| r.header("title") == Some(title))
                .collect();
            assert_eq!(found.len(), 1, "one message titled `{title}` to {path}");
            let r = found[0];
            assert_eq!(r.method, Method::POST);
            assert_eq!(r.header("click"), Some(url.as_str()));
            assert_eq!(r.header("tags"), Some("newspaper"));
            assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
            assert_eq!(r.header("authorization"), token.as_deref(), "{path}");
            assert!(
                r.body.starts_with(&format!(
                    "New match for \"{ALERT}\"\n\n{title}\n{url}\nWire · 2026-11-20"
                )),
                "{}",
                r.body
            );
            let payload = payloads
                .iter()
                .find(|p| p["title"] == title)
                .unwrap_or_else(|| panic!("no recorded match for `{title}`"));
            assert_evidence_rendered(&r.body, payload, "**");
            assert!(!r.body.contains(OTHER_TITLE));
        }
    }
    assert!(
        requests.iter().all(|r| r.path != "/wirewatch-unset"),
        "a channel whose token variable is unset sent without it"
    );
    assert!(
        requests
            .iter()
            .filter_map(|r| r.header("authorization"))
            .all(|a| a == format!("Bearer {NTFY_TOKEN}"))
    );

    // Polling again sends nothing more.
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(inbox.count(), 4, "re-polling sent an ntfy message again");
}

/// Server-sent events parsed from `buf`: (event name, data) of every complete event.
fn sse_events(buf: &str) -> Vec<(String, String)> {
    let normalized = buf.replace("\r\n", "\n");
    let mut blocks: Vec<&str> = normalized.split("\n\n").collect();
    blocks.pop(); // incomplete (or empty) tail
    blocks
        .into_iter()
        .filter_map(|block| {
            let mut event = "message".to_string();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim_start().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                }
            }
            (!data.is_empty()).then(|| (event, data.join("\n")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_sends_each_new_match_to_a_connected_listener() {
    let server = serve(Site::default()).await;
    let base = base(&server);
    // The feed starts empty: the articles arrive only after the listener is connected.
    set_feed(&server, rss("Wire", &[]));
    // No channel at all: the alert is heard only on the stream.
    let (env, port) = channel_env(&server, "1s", "", &[]);
    let child = start(&env);
    wait_for_api(port).await;
    wait_until("the first (empty) poll", 20, || {
        !server.site.seen.headers_for("/feeds/wire.xml").is_empty()
    })
    .await;

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut resp = client
        .get(format!("http://127.0.0.1:{port}/api/v1/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"),
        "{:?}",
        resp.headers()
    );
    let connected = Instant::now();
    set_feed(&server, full_feed(&base));

    let mut buf = String::new();
    let deadline = connected + Duration::from_secs(30);
    let seen_both = |buf: &str| {
        let events = sse_events(buf);
        MATCHING
            .iter()
            .all(|(t, _)| events.iter().any(|(_, d)| d.contains(t)))
    };
    while !seen_both(&buf) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no match events within 30 s; got:\n{buf}");
        match tokio::time::timeout(left, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => buf.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None)) => panic!("the stream ended; got:\n{buf}"),
            Ok(Err(e)) => panic!("the stream failed: {e}; got:\n{buf}"),
            Err(_) => panic!("no match events within 30 s; got:\n{buf}"),
        }
    }
    let took = connected.elapsed();
    // Listen a little longer: two more polls of the unchanged feed must add nothing.
    let quiet_until = Instant::now() + Duration::from_millis(2500);
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout(
        quiet_until.saturating_duration_since(Instant::now()),
        resp.chunk(),
    )
    .await
    {
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
    // Stopping the daemon ends an open stream (it does not keep the shutdown waiting).
    let stopping = tokio::spawn(stop(child));
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(_)) = resp.chunk().await {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the stream stayed open after the daemon was told to stop"
    );
    let log = stopping.await.unwrap();
    assert!(!log.contains("API server failed"), "{log}");

    let events = sse_events(&buf);
    assert_eq!(
        events.len(),
        2,
        "one event per match, no repeats: {events:#?}"
    );
    for (title, n) in MATCHING {
        let (event, data) = events.iter().find(|(_, d)| d.contains(title)).unwrap();
        assert_eq!(event, "match");
        let v: serde_json::Value = serde_json::from_str(data).expect("JSON data");
        assert_eq!(v["alert"]["name"], ALERT, "{v}");
        assert!(v["alert"]["id"].as_i64().is_some(), "{v}");
        assert_eq!(v["article"]["title"], title, "{v}");
        assert_eq!(
            v["article"]["url"],
            format!("{base}/articles/{n}.html").as_str()
        );
        assert_eq!(v["article"]["source"], "Wire");
    }
    assert!(!buf.contains(OTHER_TITLE), "{buf}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
}
