//! Crash safety: SIGKILL at random moments while a feed keeps publishing and a saved search
//! alerts a webhook. After every kill the index opens; nothing the state records as stored is
//! missing from the index; nothing is stored twice; and after a last clean cycle every published
//! article is there, every match reached the webhook at least once, and the delivery log holds
//! exactly one record per (alert, article).

#![cfg(unix)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use common::*;
use rand::Rng;

const TEXT: &str = "Customs officers said the shipment had been declared as network equipment, but inspection \
found accelerator boards of a type subject to licence requirements. The exporter told investigators the goods \
were bound for a data centre operator, which could not be reached. Prosecutors are weighing charges, and the \
agency said it had stepped up checks on cargo routed through regional hubs in recent months as demand grew. \
Industry lawyers said the case showed how hard it had become to trace hardware once it left the original buyer.";

/// A feed that publishes one more article every 100 ms (all items carry their full text).
async fn growing_feed(published: Arc<AtomicUsize>) -> std::net::SocketAddr {
    let started = Instant::now();
    let app = Router::new()
        .route(
            "/live.xml",
            get(
                move |State(published): State<Arc<AtomicUsize>>| async move {
                    let n = (started.elapsed().as_millis() / 100) as usize + 1;
                    published.fetch_max(n, Ordering::SeqCst);
                    let items: Vec<(String, String)> = (1..=n)
                        .rev()
                        .take(60)
                        .map(|i| {
                            (
                                format!("Live story {i}"),
                                format!("http://live.invalid/story/{i}"),
                            )
                        })
                        .collect();
                    let items: Vec<(&str, &str, &str)> = items
                        .iter()
                        .map(|(t, l)| (t.as_str(), l.as_str(), TEXT))
                        .collect();
                    rss("Live", &items)
                },
            ),
        )
        .with_state(published);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn check_invariants(env: &Env) -> usize {
    let data = env.dir.path().join("data");
    let index = wirewatch::store::ArticleIndex::open(&data.join("articles"))
        .expect("the index opens after a kill");
    let state = wirewatch::store::State::open(&data.join("state.sqlite")).unwrap();
    let ids = index.all_ids().unwrap();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an article is stored twice");
    for id in state.seen_ids().unwrap() {
        assert!(
            unique.contains(&id),
            "the state records {id} as stored, the index lacks it"
        );
    }
    ids.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let published = Arc::new(AtomicUsize::new(0));
    let addr = growing_feed(published.clone()).await;
    let receiver = Receiver::default();
    let hook = serve_receiver(receiver.clone()).await;
    let alerting = format!(
        "interval = \"1s\"\n\n[[channel]]\nname = \"desk\"\nkind = \"webhook\"\nurl = \"http://{hook}/hook\"\n\n\
         [[alert]]\nname = \"customs\"\nquery = \"customs\"\nchannels = [\"desk\"]\n\n[delivery]\ninitial_backoff = \"100ms\"\nmax_per_minute = 10000\n"
    );
    let env = Env::new(
        &(source("Live", "feed", &format!("http://{addr}/live.xml")) + &alerting),
        "",
    );
    env.use_small_rules();
    env.edit_config("commit_interval = \"1s\"", "commit_interval = \"300ms\"");
    let mut rng = rand::rng();
    let started = Instant::now();
    let mut max_stored_between_kills = 0;
    for round in 0..15 {
        let mut child = env
            .wirewatch(&["run", "--config", env.config.to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..2500))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let stored = check_invariants(&env);
        eprintln!(
            "round {round}: {stored} stored, {} published",
            published.load(Ordering::SeqCst)
        );
        max_stored_between_kills = max_stored_between_kills.max(stored);
    }
    assert!(
        max_stored_between_kills > 0,
        "nothing was ever stored between kills: the test proves nothing"
    );
    assert!(started.elapsed() < Duration::from_secs(120));
    // A last clean cycle catches up with everything still in the feed.
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", stderr(&out));
    let stored = check_invariants(&env);
    let newest = published.load(Ordering::SeqCst);
    assert!(
        stored >= newest.min(60),
        "stored {stored} of {newest} published"
    );
    assert!(stored > 0);

    // Alerts: every stored article matched once, was queued once, and reached the webhook.
    let db = rusqlite::Connection::open(env.dir.path().join("data/state.sqlite")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT COUNT(*) FROM matches") as usize,
        stored,
        "an article without its match"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM outbox"),
        count("SELECT COUNT(*) FROM matches"),
        "not exactly one delivery record per (alert, article)"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM outbox WHERE status != 'delivered'"),
        0,
        "deliveries left undelivered"
    );
    let delivered: HashSet<String> = receiver
        .bodies()
        .iter()
        .map(|b| b["article"]["article_id"].as_str().unwrap().to_string())
        .collect();
    let mut stmt = db.prepare("SELECT article_id FROM matches").unwrap();
    let matched: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for id in &matched {
        assert!(
            delivered.contains(id),
            "match {id} never reached the webhook"
        );
    }
    eprintln!(
        "{} matches, {} webhook calls",
        matched.len(),
        receiver.requests.lock().unwrap().len()
    );
}
