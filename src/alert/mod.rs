//! Alerts: saved searches matched against every article as it is committed, queued in a durable
//! outbox in the same transaction that records the article, and delivered with retries to
//! webhooks, Slack, ntfy and email; also an Atom feed per alert and a live SSE stream.
//!
//! Exactly once: a match is keyed by (alert, article) and queued only the first time; delivery is
//! at least once, each attempt carrying the same idempotency key.

pub mod channels;
pub mod deliver;
pub mod feed;
pub mod matcher;
pub mod ops;
pub mod store;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::analyze::TopicScore;
pub use crate::config::{AlertConfig, AlertMode};

/// A saved search with its database id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: i64,
    /// `config` (from `[[alert]]`, replaced at reload) or `api`.
    pub origin: String,
    #[serde(flatten)]
    pub spec: AlertConfig,
}

/// The document states an alert as its `AlertConfig` fields plus `id` and `origin`, in one object:
/// `AlertConfig` refuses unknown fields as a request body, so `allOf` with it would refuse these.
impl utoipa::PartialSchema for Alert {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
        let mut schema = <AlertConfig as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.properties.insert(
                "id".into(),
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Int64,
                    )))
                    .into(),
            );
            object.properties.insert(
                "origin".into(),
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["config", "api"]))
                    .description(Some(
                        "`config` (from `[[alert]]`, replaced at reload) or `api`",
                    ))
                    .into(),
            );
            object
                .required
                .extend(["id".to_string(), "origin".to_string()]);
            object.description = Some("A saved search with its id and origin".into());
        }
        schema
    }
}

impl utoipa::ToSchema for Alert {}

/// One matched sentence, with the words that made it match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evidence {
    pub topic: String,
    pub sentence: String,
    pub terms: Vec<String>,
}

/// What an alert says about one article: the body of a webhook delivery (inside [`Delivery`]),
/// an Atom entry, an SSE event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payload {
    pub article_id: String,
    pub title: String,
    pub url: String,
    pub source: String,
    pub published: Option<DateTime<Utc>>,
    /// 0 for the first alert on an article; 1, 2, ... for alerts on its updates (`on_update`).
    #[serde(default, skip_serializing_if = "is_first")]
    pub revision: u32,
    pub topics: Vec<TopicScore>,
    /// Entity ids (`nvidia`, `entity_list`, ...).
    pub entities: Vec<String>,
    pub evidence: Vec<Evidence>,
}

fn is_first(revision: &u32) -> bool {
    *revision == 0
}

impl Payload {
    /// The receiver's key for de-duplication: one per (alert, article, revision).
    pub fn idempotency_key(&self, alert_id: i64) -> String {
        match self.revision {
            0 => format!("{alert_id}:{}", self.article_id),
            n => format!("{alert_id}:{}:{n}", self.article_id),
        }
    }

    /// A sentence with its matched terms marked `**like this**` for plain-text channels.
    pub fn marked(e: &Evidence) -> String {
        let mut s = e.sentence.clone();
        let mut terms = e.terms.clone();
        terms.sort_by_key(|t| std::cmp::Reverse(t.len()));
        for t in terms.iter().filter(|t| !t.is_empty()) {
            s = s.replace(t.as_str(), &format!("**{t}**"));
        }
        s.replace("****", "")
    }
}

/// The webhook body: one alert, one article.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// `<alert id>:<article id>`: the same on every retry, for receivers to drop repeats.
    pub idempotency_key: String,
    pub alert: AlertRef,
    pub article: Payload,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertRef {
    pub id: i64,
    pub name: String,
}

/// The alerts in force, shared by the matcher (writer thread), the API and the delivery worker.
/// The saved searches in force. A change replaces the list whole, so the matcher can tell an
/// unchanged list by its address and skip comparing thousands of searches per commit.
pub type Registry = Arc<RwLock<Arc<Vec<Alert>>>>;

/// A live match, for `/api/v1/stream`.
#[derive(Debug, Clone, Serialize)]
pub struct LiveMatch {
    pub alert: AlertRef,
    pub article: Payload,
}

/// Broadcast of live matches; lagging listeners miss events rather than slow the writer.
pub type Stream = tokio::sync::broadcast::Sender<LiveMatch>;

/// When a digest of `mode` that includes `now` is sent.
pub fn deliver_at(mode: AlertMode, now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{Duration, DurationRound, Timelike};
    match mode {
        AlertMode::Immediate => now,
        AlertMode::Hourly => {
            now.duration_trunc(Duration::hours(1)).unwrap_or(now) + Duration::hours(1)
        }
        AlertMode::Daily => {
            now.with_hour(0)
                .and_then(|d| d.with_minute(0))
                .and_then(|d| d.with_second(0))
                .and_then(|d| d.with_nanosecond(0))
                .unwrap_or(now)
                + Duration::days(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_times() {
        let now = DateTime::parse_from_rfc3339("2026-11-28T10:20:30Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(deliver_at(AlertMode::Immediate, now), now);
        assert_eq!(
            deliver_at(AlertMode::Hourly, now).to_rfc3339(),
            "2026-11-28T11:00:00+00:00"
        );
        assert_eq!(
            deliver_at(AlertMode::Daily, now).to_rfc3339(),
            "2026-11-29T00:00:00+00:00"
        );
    }

    #[test]
    fn marks_terms() {
        let e = Evidence {
            topic: "chip_smuggling".into(),
            sentence: "They smuggled H100 chips.".into(),
            terms: vec!["smuggled".into(), "H100".into()],
        };
        assert_eq!(Payload::marked(&e), "They **smuggled** **H100** chips.");
    }
}
