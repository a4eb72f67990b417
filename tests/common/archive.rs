//! A fixture archive for API and browser tests: 25 articles about chip export curbs (a third tagged
//! tariffs, the rest export controls) over November 2026, and one with a hostile title.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

use chrono::{TimeZone, Utc};
use wirewatch::analyze::{Analysis, Entity, Mention, TopicScore};
use wirewatch::api::ApiState;
use wirewatch::app::Health;
use wirewatch::config::Config;
use wirewatch::store::{ArticleIndex, State, StoredArticle};
use wirewatch::telemetry::{Heartbeats, Metrics};

/// Event streams the fixture's API serves at once.
pub const STREAM_SLOTS: usize = 2;

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub state: ApiState,
}

pub fn article(n: u32, title: &str, body: &str, topic: &str, day: u32) -> StoredArticle {
    let id = format!("{n:032x}");
    StoredArticle {
        id: id.clone(),
        url: format!("https://news.example/{n}"),
        canonical_url: format!("https://news.example/{n}"),
        source: if n.is_multiple_of(2) {
            "Wire A".into()
        } else {
            "Wire B".into()
        },
        title: title.into(),
        body: body.into(),
        summary: String::new(),
        published: Some(Utc.with_ymd_and_hms(2026, 11, day, 9, 0, 0).unwrap()),
        fetched: Utc::now() - chrono::Duration::minutes(5),
        language: Some("en".into()),
        authors: vec!["Desk".into()],
        analysis: Analysis {
            topics: vec![TopicScore {
                name: topic.into(),
                score: 0.7,
            }],
            mentions: vec![Mention {
                topic: topic.into(),
                field: "body".into(),
                sentence: body.split('.').next().unwrap_or("").to_string(),
                start: 0,
                end: body.split('.').next().unwrap_or("").chars().count(),
                terms: vec![],
                rule: "r".into(),
                model: None,
            }],
            entities: vec![Entity {
                id: "nvidia".into(),
                kind: "company".into(),
                name: "Nvidia".into(),
                count: 1,
            }],
            facts: vec![],
            listed: vec![],
        },
    }
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let index = ArticleIndex::open(&dir.path().join("articles")).unwrap();
    let mut w = index.writer().unwrap();
    for n in 1..=25u32 {
        let topic = if n.is_multiple_of(3) {
            "tariffs"
        } else {
            "export_controls"
        };
        w.upsert(&article(
            n,
            &format!("Chip export curbs, part {n}"),
            "Washington tightened export controls on Nvidia chips. Beijing objected.",
            topic,
            1 + n % 20,
        ))
        .unwrap();
    }
    w.upsert(&article(
        100,
        "<img src=x onerror=alert(1)> curbs",
        "A <script>alert('x')</script> body about curbs.",
        "sanctions",
        21,
    ))
    .unwrap();
    w.commit().unwrap();
    index.reload().unwrap();
    let state = State::open(&dir.path().join("state.sqlite")).unwrap();
    let config = Arc::new(Config::parse("", "test").unwrap());
    let health = Arc::new(Health {
        ready: AtomicBool::new(true),
        heartbeats: Heartbeats::default(),
    });
    health.heartbeats.scheduler();
    health.heartbeats.writer();
    Fixture {
        state: ApiState {
            index,
            state,
            config: Arc::new(RwLock::new(config)),
            metrics: Arc::new(Metrics::new()),
            health,
            alerts: wirewatch::api::AlertApi {
                registry: Default::default(),
                stream: tokio::sync::broadcast::channel(8).0,
                token: Some("s3cret".into()),
                // Two, so that a test reaches the cap of open event streams quickly.
                streams: Arc::new(tokio::sync::Semaphore::new(STREAM_SLOTS)),
                closing: Default::default(),
            },
        },
        _dir: dir,
    }
}
