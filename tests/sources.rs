//! More kinds of sources, against servers on 127.0.0.1: a site page whose feed is discovered,
//! and the schedule that a feed's `<ttl>` and caching headers ask for.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use common::*;

/// A response the fixture server gives for a path: content type, extra headers, body.
#[derive(Clone)]
struct Doc {
    content_type: &'static str,
    headers: Vec<(HeaderName, String)>,
    body: String,
}

/// Serves whatever the test puts in `docs`, with an ETag (and 304s), and records every request.
#[derive(Clone, Default)]
struct Docs {
    docs: Arc<Mutex<HashMap<String, Doc>>>,
    requests: Arc<Mutex<Vec<(String, HeaderMap)>>>,
}

impl Docs {
    fn put(&self, path: &str, content_type: &'static str, body: String) {
        self.put_with(path, content_type, &[], body);
    }

    fn put_with(
        &self,
        path: &str,
        content_type: &'static str,
        headers: &[(HeaderName, &str)],
        body: String,
    ) {
        self.docs.lock().unwrap().insert(
            path.into(),
            Doc {
                content_type,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string()))
                    .collect(),
                body,
            },
        );
    }

    fn gets(&self, path: &str) -> Vec<HeaderMap> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, h)| h.clone())
            .collect()
    }
}

async fn answer(State(docs): State<Docs>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    docs.requests
        .lock()
        .unwrap()
        .push((path.clone(), headers.clone()));
    let Some(doc) = docs.docs.lock().unwrap().get(&path).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!(
        "\"{}-{}\"",
        doc.body.len(),
        doc.body.bytes().map(u64::from).sum::<u64>()
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(&etag)
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mut resp = (
        [
            (header::CONTENT_TYPE, doc.content_type.to_string()),
            (header::ETAG, etag),
        ],
        doc.body,
    )
        .into_response();
    for (k, v) in doc.headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

async fn serve_docs(docs: Docs) -> SocketAddr {
    let app = Router::new().fallback(answer).with_state(docs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

const FULL_TEXT: &str = "Customs officers in the port said on Monday that they had stopped a shipment of \
servers declared as office equipment, and that the case had been passed to prosecutors. The servers held \
accelerators of a kind that needs a licence for export, according to the officers, who said the papers named \
a trading company registered a month earlier. Officials declined to say where the shipment was bound, but \
said the inquiry would look at earlier shipments by the same company and at the brokers who arranged them. \
The company could not be reached for comment on Monday evening, and its registered office was closed.";

/// An RSS document whose items carry their full text (so no page is fetched); `extra` goes into
/// the channel (a `<ttl>`, a hub link).
fn full_text_rss(base: &str, items: &[(&str, &str)], extra: &str) -> String {
    let items: String = items
        .iter()
        .map(|(slug, title)| {
            format!(
                "<item><title>{title}</title><link>{base}/news/{slug}</link><guid>{base}/news/{slug}</guid><description>{FULL_TEXT}</description></item>"
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Port news</title><link>{base}/</link><description>d</description>{extra}{items}</channel></rss>"#
    )
}

fn open_state(env: &Env) -> wirewatch::store::State {
    wirewatch::store::State::open(&env.dir.path().join("data/state.sqlite")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_page_leads_to_its_feed_which_is_then_polled_directly() {
    let docs = Docs::default();
    let addr = serve_docs(docs.clone()).await;
    let base = format!("http://{addr}");
    docs.put(
        "/port/index.html",
        "text/html; charset=utf-8",
        r#"<!DOCTYPE html><html><head><title>Port news</title>
<link rel="alternate" type="application/rss+xml" title="Port news" href="../feeds/port.rss">
<link rel="alternate" type="application/rss+xml" title="Comments" href="/feeds/comments.rss">
</head><body><h1>Port news</h1></body></html>"#
            .into(),
    );
    docs.put(
        "/feeds/port.rss",
        "application/rss+xml",
        full_text_rss(
            &base,
            &[("servers-seized", "Servers seized at the port")],
            "",
        ),
    );
    let env = Env::new(
        &source("Port", "feed", &format!("{base}/port/index.html")),
        "",
    );
    env.use_small_rules();

    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.total("title:servers"), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("discovered the feed"),
        "{}",
        stderr(&out)
    );
    let st = open_state(&env).source("Port").unwrap().unwrap();
    assert_eq!(
        st.feed_url.as_deref(),
        Some(format!("{base}/feeds/port.rss").as_str())
    );
    assert_eq!(st.status.as_deref(), Some("ok"));
    assert!(docs.gets("/feeds/comments.rss").is_empty());

    // The next poll goes to the feed, conditionally, without reading the page again.
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(docs.gets("/port/index.html").len(), 1);
    let feed_gets = docs.gets("/feeds/port.rss");
    assert_eq!(feed_gets.len(), 2);
    assert!(feed_gets[1].contains_key(header::IF_NONE_MATCH));
    let st = open_state(&env).source("Port").unwrap().unwrap();
    assert_eq!(st.status.as_deref(), Some("not-modified"));

    // The site moves its feed: the old one is gone, the page names the new one.
    docs.docs.lock().unwrap().remove("/feeds/port.rss");
    docs.put(
        "/port/index.html",
        "text/html",
        r#"<html><head><link rel="alternate" type="application/atom+xml" href="/feeds/port.atom"></head></html>"#.into(),
    );
    docs.put(
        "/feeds/port.atom",
        "application/atom+xml",
        format!(
            r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Port</title><id>urn:port</id><updated>2026-11-20T08:00:00Z</updated>
<entry><title>Brokers questioned over shipments</title><id>urn:port:2</id><link href="{base}/news/brokers"/><updated>2026-11-20T08:00:00Z</updated><content type="text">{FULL_TEXT}</content></entry></feed>"#
        ),
    );
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.total("title:brokers"), 1, "{}", stderr(&out));
    let st = open_state(&env).source("Port").unwrap().unwrap();
    assert_eq!(
        st.feed_url.as_deref(),
        Some(format!("{base}/feeds/port.atom").as_str())
    );

    // A page without any feed link is a parse error that says what to do.
    docs.put(
        "/plain.html",
        "text/html",
        "<!doctype html><html><head><title>x</title></head><body>hi</body></html>".into(),
    );
    let env = Env::new(&source("Plain", "feed", &format!("{base}/plain.html")), "");
    env.use_small_rules();
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    let st = open_state(&env).source("Plain").unwrap().unwrap();
    assert_eq!(st.status.as_deref(), Some("parse-error"));
    let error = st.last_error.unwrap_or_default();
    assert!(error.contains("links to no feed"), "{error}");
}

/// The adapted interval stored for a source, and the next check (minus now) in minutes.
fn schedule_of(env: &Env, name: &str) -> (f64, f64) {
    let st = open_state(env).source(name).unwrap().unwrap();
    let interval = st.interval.expect("an adapted interval").as_secs_f64() / 60.0;
    let next = (st.next_check_at.unwrap() - chrono::Utc::now()).num_seconds() as f64 / 60.0;
    (interval, next)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_cache_headers_and_turnover_shape_the_schedule() {
    let docs = Docs::default();
    let addr = serve_docs(docs.clone()).await;
    let base = format!("http://{addr}");
    let rss = |slug: &str, extra: &str| full_text_rss(&base, &[(slug, "Servers seized")], extra);
    docs.put(
        "/ttl.rss",
        "application/rss+xml",
        rss("a", "<ttl>120</ttl>"),
    );
    docs.put_with(
        "/max-age.rss",
        "application/rss+xml",
        &[(header::CACHE_CONTROL, "public, max-age=7200")],
        rss("b", ""),
    );
    docs.put_with(
        "/expires.rss",
        "application/rss+xml",
        // Measured from the server's Date, whatever the clocks say.
        &[
            (header::DATE, "Wed, 25 Nov 2026 10:00:00 GMT"),
            (header::EXPIRES, "Wed, 25 Nov 2026 13:00:00 GMT"),
        ],
        rss("c", ""),
    );
    docs.put_with(
        "/capped.rss",
        "application/rss+xml",
        &[(header::CACHE_CONTROL, "max-age=86400")],
        rss("d", "<ttl>1440</ttl>"),
    );
    docs.put("/busy.rss", "application/rss+xml", rss("e1", ""));
    let sources = [
        ("TTL", "/ttl.rss", ""),
        ("Max-age", "/max-age.rss", ""),
        ("Expires", "/expires.rss", ""),
        ("Capped", "/capped.rss", "max_interval = \"90m\"\n"),
        ("Busy", "/busy.rss", ""),
    ]
    .iter()
    .map(|(name, path, extra)| {
        source(name, "feed", &format!("{base}{path}")) + "interval = \"1h\"\n" + extra
    })
    .collect::<String>();
    let env = Env::new(&sources, "");
    env.use_small_rules();
    env.edit_config("[daemon]\n", "[daemon]\njitter = 0.0\n");

    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    let close = |(interval, next): (f64, f64), want: f64| {
        assert!(
            (interval - want).abs() < 0.01,
            "interval {interval} min, want {want}"
        );
        assert!(
            (next - want).abs() < 1.0,
            "next check in {next} min, want {want}"
        );
    };
    close(schedule_of(&env, "TTL"), 120.0);
    close(schedule_of(&env, "Max-age"), 120.0);
    close(schedule_of(&env, "Expires"), 180.0);
    close(schedule_of(&env, "Capped"), 90.0);
    // A first poll finds everything new: that says nothing about the pace yet.
    close(schedule_of(&env, "Busy"), 60.0);

    // Everything the feed lists is new at the next poll: entries may scroll off unseen, so the
    // source is polled twice as often (down to min_interval, by default half the interval).
    docs.put(
        "/busy.rss",
        "application/rss+xml",
        full_text_rss(
            &base,
            &[("e2", "Brokers questioned"), ("e3", "Port closed")],
            "",
        ),
    );
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    close(schedule_of(&env, "Busy"), 30.0);
    // Nothing new (a 304): a quarter slower each time, up to max_interval (default 4x).
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    close(schedule_of(&env, "Busy"), 37.5);
    // The TTL source had two quiet polls: 120 min * 1.25 * 1.25.
    close(schedule_of(&env, "TTL"), 187.5);
}

/// A tiny WebSub hub: records subscription requests, verifies each callback (first with a topic
/// nobody asked for, then properly, granting `lease` seconds), and remembers what it saw.
#[derive(Clone, Default)]
struct Hub {
    subscribes: Arc<Mutex<Vec<HashMap<String, String>>>>,
    /// (topic sent, status, body) of each verification GET.
    verifications: Arc<Mutex<Vec<(String, u16, String)>>>,
}

async fn hub_endpoint(State(hub): State<Hub>, body: String) -> StatusCode {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let n = {
        let mut subs = hub.subscribes.lock().unwrap();
        subs.push(form.clone());
        subs.len()
    };
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let callback = form["hub.callback"].clone();
        let topic = form["hub.topic"].clone();
        let challenge = format!("challenge-{n}");
        for (t, lease) in [
            ("http://elsewhere.example/feed", "2"),
            (topic.as_str(), "2"),
        ] {
            let resp = client
                .get(&callback)
                .query(&[
                    ("hub.mode", "subscribe"),
                    ("hub.topic", t),
                    ("hub.challenge", challenge.as_str()),
                    ("hub.lease_seconds", lease),
                ])
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            hub.verifications
                .lock()
                .unwrap()
                .push((t.to_string(), status, body));
        }
    });
    StatusCode::ACCEPTED
}

fn hmac_hex(method: &str, secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let tag = match method {
        "sha1" => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
            m.update(body);
            m.finalize().into_bytes().to_vec()
        }
        _ => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            m.update(body);
            m.finalize().into_bytes().to_vec()
        }
    };
    format!("{method}={}", hex::encode(tag))
}

fn atom(base: &str, hub: &str, entries: &[(&str, &str)]) -> String {
    let entries: String = entries
        .iter()
        .map(|(slug, title)| format!(r#"<entry><title>{title}</title><id>urn:hubbed:{slug}</id><link href="{base}/news/{slug}"/><updated>2026-11-20T08:00:00Z</updated><content type="text">{FULL_TEXT}</content></entry>"#))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Hubbed</title><id>urn:hubbed</id><updated>2026-11-20T08:00:00Z</updated><link rel="hub" href="{hub}"/><link rel="self" href="{base}/hubbed.atom"/>{entries}</feed>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websub_subscribes_verifies_ingests_signed_pushes_and_renews() {
    let docs = Docs::default();
    let base = format!("http://{}", serve_docs(docs.clone()).await);
    let hub = Hub::default();
    let app = Router::new()
        .route("/hub", axum::routing::post(hub_endpoint))
        .with_state(hub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hub_url = format!("http://{}/hub", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    docs.put(
        "/hubbed.atom",
        "application/atom+xml",
        atom(&base, &hub_url, &[("first", "Servers seized at the port")]),
    );

    let port = free_port();
    let env = Env::new(
        &(source("Hubbed", "feed", &format!("{base}/hubbed.atom")) + "interval = \"1h\"\n"),
        "",
    );
    env.use_small_rules();
    env.edit_config(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}/\""),
    );
    let daemon = Daemon::new(
        env.wirewatch(&["run", "--config", env.config.to_str().unwrap()])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );

    // The first poll finds the hub; the hub verifies; only the topic we asked for is confirmed.
    wait_until("the hub's verification", 20, || {
        hub.verifications.lock().unwrap().len() >= 2
    })
    .await;
    let form = hub.subscribes.lock().unwrap()[0].clone();
    assert_eq!(form["hub.mode"], "subscribe");
    assert_eq!(form["hub.topic"], format!("{base}/hubbed.atom"));
    assert!(
        form["hub.callback"].starts_with(&format!("http://127.0.0.1:{port}/websub/")),
        "{form:?}"
    );
    assert!(form["hub.secret"].len() >= 32, "{form:?}");
    assert!(form["hub.lease_seconds"].parse::<u64>().unwrap() > 0);
    let checks = hub.verifications.lock().unwrap().clone();
    assert_eq!(checks[0].1, 404, "a topic we did not ask for: {checks:?}");
    assert_eq!(
        (checks[1].1, checks[1].2.as_str()),
        (200, "challenge-1"),
        "{checks:?}"
    );

    let client = reqwest::Client::new();
    let (callback, secret) = (form["hub.callback"].clone(), form["hub.secret"].clone());
    let push = |body: String, signature: String| {
        let (client, callback) = (client.clone(), callback.clone());
        async move {
            client
                .post(&callback)
                .header("content-type", "application/atom+xml")
                .header("x-hub-signature", signature)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let search_total = |q: &str| {
        let (client, url) = (
            client.clone(),
            format!("http://127.0.0.1:{port}/api/v1/search"),
        );
        let q = q.to_string();
        async move {
            let text = client
                .get(url)
                .query(&[("q", q)])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v["total"].as_u64().unwrap()
        }
    };

    // A signed push goes into the archive as if polled.
    let signed = atom(&base, &hub_url, &[("pushed", "Pushed story on brokers")]);
    assert_eq!(
        push(
            signed.clone(),
            hmac_hex("sha256", &secret, signed.as_bytes())
        )
        .await,
        202
    );
    // A forged one is acknowledged (as the spec asks) and ignored; so is an unsigned one.
    let forged = atom(&base, &hub_url, &[("forged", "Forged story")]);
    assert_eq!(
        push(
            forged.clone(),
            hmac_hex("sha256", "guessed", forged.as_bytes())
        )
        .await,
        202
    );
    assert_eq!(push(forged.clone(), String::new()).await, 202);
    // sha1 signatures are accepted too.
    let third = atom(&base, &hub_url, &[("third", "Third story via sha1")]);
    assert_eq!(
        push(third.clone(), hmac_hex("sha1", &secret, third.as_bytes())).await,
        202
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if search_total("title:pushed").await == 1 && search_total("title:third").await == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pushed entries never indexed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(search_total("title:forged").await, 0);
    assert_eq!(search_total("title:servers").await, 1, "the polled entry");
    // Unknown callbacks are 404s.
    let (status, _) = http_get(
        port,
        "/websub/0000?hub.mode=subscribe&hub.topic=x&hub.challenge=y",
    );
    assert_eq!(status, 404);

    // The 2 s lease is renewed before it runs out, with the same callback and secret.
    wait_until("a lease renewal", 10, || {
        hub.subscribes.lock().unwrap().len() >= 2
    })
    .await;
    let renewal = hub.subscribes.lock().unwrap()[1].clone();
    assert_eq!(
        (&renewal["hub.callback"], &renewal["hub.secret"]),
        (&callback, &secret)
    );
    wait_until("the renewal's verification", 10, || {
        hub.verifications.lock().unwrap().len() >= 4
    })
    .await;

    let log = stop(daemon).await;
    assert!(log.contains("bad or missing signature"), "{log}");
    let subs = wirewatch::websub::all(&open_state(&env)).unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].status, "active");
    assert_eq!(subs[0].hub, hub_url);
}
