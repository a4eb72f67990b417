//! Alerting end to end: a daemon polls a fixture feed, saved searches match, and deliveries reach a
//! webhook receiver (and an SMTP server) on loopback with signatures, retries, Retry-After,
//! dead letters and replay; re-polling never re-alerts.

#![cfg(unix)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SECRET: &str = "a shared webhook secret";

/// A feed with two articles the saved search matches and one it does not.
async fn feed_site() -> Server {
    let server = serve(Site::default()).await;
    let base = format!("http://{}", server.addr);
    let long = |extra: &str| {
        format!(
            "{extra} Investigators said the quokkagpu boards were declared as network gear and shipped through a regional hub, \
and that the buyers used front companies to hide the final destination. The case is the latest in a series of \
prosecutions over accelerators that require an export licence, and officials said more charges could follow as \
the inquiry widens to other distributors in the region. Lawyers for the defendants did not respond to requests for \
comment on Friday, and the companies named in the filing could not be reached."
        )
    };
    let feed = rss(
        "Wire",
        &[
            (
                "Smugglers moved quokkagpu chips via Malaysia",
                &format!("{base}/articles/1.html"),
                &long("Prosecutors said the ring smuggled Nvidia chips."),
            ),
            (
                "Second quokkagpu case filed",
                &format!("{base}/articles/2.html"),
                &long("A second case was filed."),
            ),
            (
                "Unrelated weather story",
                &format!("{base}/articles/3.html"),
                &"Rain is expected over the weekend with cooler temperatures. ".repeat(12),
            ),
        ],
    );
    server
        .site
        .feeds
        .lock()
        .unwrap()
        .insert("/feeds/wire.xml".into(), feed);
    server
}

fn alert_env(server: &Server, hook: &str, delivery: &str) -> (Env, u16) {
    let sources = source("Wire", "feed", &server.url("/feeds/wire.xml"))
        + "interval = \"1h\"\n\n"
        + &format!(
            r#"[[channel]]
name = "desk"
kind = "webhook"
url = "{hook}"
secret_env = "WW_TEST_WEBHOOK_SECRET"

[[alert]]
name = "quokka boards"
query = "quokkagpu"
channels = ["desk"]

[delivery]
{delivery}
"#
        );
    let env = Env::new(&sources, "");
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
            .env("WW_TEST_WEBHOOK_SECRET", SECRET)
            .env("WIREWATCH_API_TOKEN", "token-123")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

fn requests(r: &Receiver) -> usize {
    r.requests.lock().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_delivery_is_signed_retried_and_recorded_once() {
    let server = feed_site().await;
    let receiver = Receiver::default();
    receiver.script.lock().unwrap().extend([500]);
    let hook = format!("http://{}/hook", serve_receiver(receiver.clone()).await);
    let (env, port) = alert_env(&server, &hook, "initial_backoff = \"200ms\"");
    let child = start(&env);
    // Two matches, one retried after a 500: three requests.
    wait_until("two deliveries after one failure", 30, || {
        requests(&receiver) >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let requests = receiver.requests.lock().unwrap().clone();
    assert_eq!(
        requests.len(),
        3,
        "expected one failed and two successful deliveries"
    );
    let mut keys = Vec::new();
    for (_, headers, body) in &requests {
        let sig = headers["x-wirewatch-signature"].to_str().unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        assert_eq!(
            sig,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
            "signature does not verify"
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["alert"]["name"], "quokka boards");
        assert!(
            v["article"]["title"]
                .as_str()
                .unwrap()
                .contains("quokkagpu")
        );
        assert_eq!(v["article"]["source"], "Wire");
        assert!(
            v["article"]["url"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1")
        );
        assert_eq!(
            headers["idempotency-key"].to_str().unwrap(),
            v["idempotency_key"].as_str().unwrap()
        );
        keys.push(v["idempotency_key"].as_str().unwrap().to_string());
    }
    // The retried delivery carries the same idempotency key as the failed attempt.
    assert_eq!(
        keys[0],
        keys[1..]
            .iter()
            .find(|k| **k == keys[0])
            .cloned()
            .unwrap_or_default()
    );
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 2);

    // The delivery log, the matches and the Atom feed.
    let (status, body) = http_get(port, "/api/v1/deliveries?status=delivered");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["deliveries"].as_array().unwrap().len(), 2, "{v}");
    assert!(
        v["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["attempts"] == 2)
    );
    let (_, body) = http_get(port, "/api/v1/alerts");
    let alerts: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = alerts["alerts"][0]["id"].as_i64().unwrap();
    let (_, body) = http_get(port, &format!("/api/v1/alerts/{id}/matches"));
    let matches: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(matches["matches"].as_array().unwrap().len(), 2);
    let (status, atom) = http_get(port, &format!("/api/v1/alerts/{id}/feed.atom"));
    assert_eq!(status, 200);
    assert_eq!(atom.matches("<entry>").count(), 2, "{atom}");
    assert!(atom.contains("Smugglers moved quokkagpu chips via Malaysia"));
    // The wirewatch parser reads its own feed.
    let path = env.dir.path().join("alert.atom");
    std::fs::write(&path, &atom).unwrap();
    let out = env
        .wirewatch(&["parse-feed", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    // A dry run finds both in the archive; it needs the token.
    let dry_run = format!("/api/v1/alerts/{id}/test?days=30");
    let (status, _) = http_request(port, "POST", &dry_run, &[], "");
    assert_eq!(status, 401);
    let (status, body) = http_request(
        port,
        "POST",
        &dry_run,
        &[("Authorization", "Bearer token-123")],
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["matches"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    stop(child).await;

    // Polling again, even after the feed changed, never alerts twice.
    server
        .site
        .feeds
        .lock()
        .unwrap()
        .get_mut("/feeds/wire.xml")
        .unwrap()
        .push_str("<!-- changed -->");
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        receiver.requests.lock().unwrap().len(),
        3,
        "re-polling sent an alert again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_waited_out() {
    let server = feed_site().await;
    let receiver = Receiver::default();
    receiver.script.lock().unwrap().extend([429]);
    let hook = format!("http://{}/hook", serve_receiver(receiver.clone()).await);
    let (env, _) = alert_env(
        &server,
        &hook,
        "initial_backoff = \"100ms\"\nmax_per_minute = 100",
    );
    let child = start(&env);
    wait_until("deliveries", 30, || {
        receiver.requests.lock().unwrap().len() >= 3
    })
    .await;
    stop(child).await;
    let requests = receiver.requests.lock().unwrap().clone();
    let first_key = requests[0].1["idempotency-key"].clone();
    let retry = requests
        .iter()
        .skip(1)
        .find(|(_, h, _)| h["idempotency-key"] == first_key)
        .expect("the 429'd delivery was retried");
    let waited = retry.0 - requests[0].0;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}, before the 1 s Retry-After"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_receiver_ends_in_dead_letter_and_replay_delivers() {
    let server = feed_site().await;
    let receiver = Receiver::default();
    *receiver.down.lock().unwrap() = Some(503);
    let hook = format!("http://{}/hook", serve_receiver(receiver.clone()).await);
    let (env, port) = alert_env(
        &server,
        &hook,
        "initial_backoff = \"100ms\"\nmax_attempts = 3",
    );
    let child = start(&env);
    wait_until("the API", 20, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    let dead = || {
        let (_, body) = http_get(port, "/api/v1/deliveries?status=dead");
        serde_json::from_str::<serde_json::Value>(&body)
            .map(|v| v["deliveries"].as_array().map(|a| a.len()).unwrap_or(0))
            .unwrap_or(0)
    };
    wait_until("two dead letters", 30, || dead() == 2).await;
    assert_eq!(
        receiver.requests.lock().unwrap().len(),
        6,
        "3 attempts for each of 2 deliveries"
    );
    let (_, body) = http_get(port, "/api/v1/deliveries?status=dead");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["deliveries"][0]["id"].as_i64().unwrap();
    assert!(
        v["deliveries"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("503")
    );

    // The receiver comes back; replay needs the token.
    *receiver.down.lock().unwrap() = None;
    let (status, _) = http_request(
        port,
        "POST",
        &format!("/api/v1/deliveries/{id}/replay"),
        &[],
        "",
    );
    assert_eq!(status, 401);
    let (status, _) = http_request(
        port,
        "POST",
        &format!("/api/v1/deliveries/{id}/replay"),
        &[("Authorization", "Bearer wrong")],
        "",
    );
    assert_eq!(status, 403);
    let (status, _) = http_request(
        port,
        "POST",
        &format!("/api/v1/deliveries/{id}/replay"),
        &[("Authorization", "Bearer token-123")],
        "",
    );
    assert_eq!(status, 202);
    // The receiver sees the request before the worker records the outcome: wait for the record.
    let delivered = || {
        let (_, body) = http_get(port, "/api/v1/deliveries?status=delivered");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["deliveries"].as_array().map_or(0, Vec::len)
    };
    wait_until("the replayed delivery", 15, || delivered() == 1).await;
    assert_eq!(receiver.requests.lock().unwrap().len(), 7);
    assert_eq!(dead(), 1);
    let (_, metrics) = http_get(port, "/metrics");
    assert!(
        metrics.contains("wirewatch_alert_deliveries_total{source=\"webhook\",outcome=\"dead\"} 2"),
        "{metrics}"
    );
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_can_be_managed_over_the_api() {
    let server = feed_site().await;
    let receiver = Receiver::default();
    let hook = format!("http://{}/hook", serve_receiver(receiver.clone()).await);
    let (env, port) = alert_env(&server, &hook, "");
    let child = start(&env);
    wait_until("the API", 20, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    let auth = [
        ("Authorization", "Bearer token-123"),
        ("Content-Type", "application/json"),
    ];
    let spec = r#"{"name":"weather","query":"rain","channels":["desk"],"mode":"immediate"}"#;
    let (status, _) = http_request(
        port,
        "POST",
        "/api/v1/alerts",
        &[("Content-Type", "application/json")],
        spec,
    );
    assert_eq!(status, 401);
    let (status, body) = http_request(port, "POST", "/api/v1/alerts", &auth, spec);
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap();
    let (status, _) = http_request(port, "POST", "/api/v1/alerts", &auth, spec);
    assert_eq!(status, 409, "duplicate names are refused");
    let (status, body) = http_request(
        port,
        "POST",
        "/api/v1/alerts",
        &auth,
        r#"{"name":"x","query":"a","channels":["nowhere"]}"#,
    );
    // Valid by the document; a conflict with the configuration, which has no such channel.
    assert_eq!(status, 409);
    assert!(body.contains("nowhere"));
    let (status, _) = http_request(
        port,
        "PUT",
        &format!("/api/v1/alerts/{id}"),
        &auth,
        r#"{"name":"weather","query":"rain OR snow","channels":["desk"]}"#,
    );
    assert_eq!(status, 200);
    let (_, body) = http_get(port, &format!("/api/v1/alerts/{id}"));
    assert!(body.contains("rain OR snow"));
    // Config alerts are changed in the config, not over the API.
    let (_, body) = http_get(port, "/api/v1/alerts");
    let config_id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["origin"] == "config")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (status, _) = http_request(
        port,
        "DELETE",
        &format!("/api/v1/alerts/{config_id}"),
        &auth,
        "",
    );
    assert_eq!(status, 409);
    let (status, _) = http_request(port, "DELETE", &format!("/api/v1/alerts/{id}"), &auth, "");
    assert_eq!(status, 204);
    let (status, _) = http_get(port, &format!("/api/v1/alerts/{id}"));
    assert_eq!(status, 404);
    stop(child).await;
}

/// An Atom feed of one entry, updated at `updated`.
fn atom_entry(base: &str, updated: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Desk</title><id>urn:desk</id><updated>{updated}</updated>
<entry><title>Quokkagpu export case widens</title><id>urn:desk:1</id>
<link href="{base}/articles/7.html"/><published>2026-11-20T08:00:00Z</published><updated>{updated}</updated>
<summary>Prosecutors widened the quokkagpu case.</summary></entry></feed>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_updated_article_alerts_again_only_where_asked() {
    let server = serve(Site::default()).await;
    let base = format!("http://{}", server.addr);
    let para = "Prosecutors said the quokkagpu boards were shipped through a regional hub to buyers who used front companies, \
and officials said more charges could follow as the inquiry widens to other distributors in the region.";
    let page = |extra: &str| {
        article_page(
            "Quokkagpu export case widens",
            &[
                para,
                para,
                extra,
                "Lawyers for the defendants did not respond on Friday.",
            ],
        )
    };
    let set = |updated: &str, extra: &str| {
        server
            .site
            .feeds
            .lock()
            .unwrap()
            .insert("/feeds/desk.xml".into(), atom_entry(&base, updated));
        server.site.pages.lock().unwrap().insert(7, page(extra));
    };
    set(
        "2026-11-20T08:00:00Z",
        "The first filing named two companies.",
    );
    let receiver = Receiver::default();
    let hook = format!("http://{}/hook", serve_receiver(receiver.clone()).await);
    let config = source("Desk", "feed", &server.url("/feeds/desk.xml"))
        + &format!(
            r#"[[channel]]
name = "desk"
kind = "webhook"
url = "{hook}"

[[alert]]
name = "every version"
query = "quokkagpu"
channels = ["desk"]
on_update = true

[[alert]]
name = "first version"
query = "quokkagpu"
channels = ["desk"]
"#
        );
    let env = Env::new(&config, "");
    let bodies = || -> Vec<serde_json::Value> {
        receiver
            .requests
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, b)| serde_json::from_str(b).unwrap())
            .collect()
    };

    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    wait_until("both alerts", 10, || requests(&receiver) >= 2).await;

    // Polled again unchanged: nothing. Then the entry is updated and its page says more.
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(requests(&receiver), 2, "an unchanged entry alerted again");
    set(
        "2026-11-21T09:30:00Z",
        "The amended filing names a third company in Malaysia.",
    );
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    wait_until("the update alert", 10, || requests(&receiver) >= 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = bodies();
    assert_eq!(all.len(), 3, "{all:#?}");
    let update = &all[2];
    assert_eq!(update["alert"]["name"], "every version");
    assert_eq!(update["article"]["revision"], 1);
    assert!(update["idempotency_key"].as_str().unwrap().ends_with(":1"));
    assert_ne!(update["idempotency_key"], all[0]["idempotency_key"]);
    assert_ne!(update["idempotency_key"], all[1]["idempotency_key"]);
    // The archive holds the new text.
    let found = env.search("Malaysia", &[]);
    assert_eq!(found["total"], 1, "{found}");
}
