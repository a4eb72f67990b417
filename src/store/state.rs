//! SQLite state (`state.sqlite`, WAL): per-source fetch state and the ids of articles already stored.
//!
//! The index writer is the only task that records articles as seen and advances source state, and
//! it does so only after the index commit that holds those articles: after a crash, whatever the
//! state says was fetched is in the index.

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("state database lock poisoned")]
    Poisoned,
}

/// What a poll of a source found out, written after its articles are committed.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceUpdate {
    pub name: String,
    pub url: String,
    pub kind: String,
    pub attempted_at: DateTime<Utc>,
    pub status: SourceStatus,
    pub error: Option<String>,
    /// `None` keeps the stored validators (a partial failure must not hide entries at the next poll).
    pub etag: Option<Option<String>>,
    pub last_modified: Option<Option<String>>,
    pub next_check_at: DateTime<Utc>,
    pub consecutive_failures: u32,
    pub new_articles: u64,
    /// The feed found on the source's page (feed discovery): `Some(None)` forgets it, `None`
    /// keeps what is stored.
    pub feed_url: Option<Option<String>>,
    /// The adaptive interval after this poll (see `scheduler::adapt`); `None` keeps the stored one.
    pub interval: Option<std::time::Duration>,
}

/// A saved search matched a committed article.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMatch {
    pub alert_id: i64,
    pub article_id: String,
    /// The evidence, as JSON (see `alert::Payload`).
    pub payload: String,
    pub channels: Vec<String>,
    /// Now for immediate alerts, the end of the period for digests.
    pub deliver_at: DateTime<Utc>,
    /// What the matched text was (a digest of title and body); empty for an article stored with
    /// its feed text while its page is still to come, whose completion is no update.
    pub fingerprint: String,
    /// Whether the alert wants to hear again when a matched article's text changes.
    pub on_update: bool,
}

/// How far `wirewatch reindex` got, and with which rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ReindexCheckpoint {
    pub rules: String,
    pub last_id: Option<String>,
    pub finished: bool,
}

/// An article recorded as stored, with the feed's last-updated time for it (a later one in a feed
/// makes the article worth fetching again).
#[derive(Debug, Clone, PartialEq)]
pub struct SeenArticle {
    pub id: String,
    pub source: String,
    pub url: String,
    pub updated: Option<DateTime<Utc>>,
}

/// Health of a source after its last poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceStatus {
    Ok,
    NotModified,
    HttpError,
    FetchError,
    ParseError,
    Blocked,
    RobotsDisallowed,
    /// The outbound policy refused where the source (or a redirect of it) points.
    Refused,
    Disabled,
}

impl SourceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Ok => "ok",
            SourceStatus::NotModified => "not-modified",
            SourceStatus::HttpError => "http-error",
            SourceStatus::FetchError => "fetch-error",
            SourceStatus::ParseError => "parse-error",
            SourceStatus::Blocked => "blocked",
            SourceStatus::RobotsDisallowed => "robots-disallowed",
            SourceStatus::Refused => "refused",
            SourceStatus::Disabled => "disabled",
        }
    }

    pub fn is_success(self) -> bool {
        matches!(self, SourceStatus::Ok | SourceStatus::NotModified)
    }
}

/// A source's stored state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceState {
    pub name: String,
    pub url: String,
    pub kind: String,
    #[serde(skip)]
    pub etag: Option<String>,
    #[serde(skip)]
    pub last_modified: Option<String>,
    pub next_check_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub status: Option<String>,
    pub last_error: Option<String>,
    pub article_count: u64,
    /// When the source last brought a new article (or, before it ever did, when it was first polled).
    pub last_new_at: Option<DateTime<Utc>>,
    /// For a source configured as a site page: the feed its page advertises, polled instead.
    pub feed_url: Option<String>,
    /// The adaptive poll interval in force (`None`: the configured one).
    #[serde(skip)]
    pub interval: Option<std::time::Duration>,
}

/// A shared handle on the state database.
#[derive(Clone)]
pub struct State {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    next_check_at INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_attempt INTEGER,
    last_success INTEGER,
    status TEXT,
    last_error TEXT,
    article_count INTEGER NOT NULL DEFAULT 0,
    last_new_at INTEGER,
    first_seen_at INTEGER
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS matches (
    alert_id INTEGER NOT NULL,
    article_id TEXT NOT NULL,
    matched_at INTEGER NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (alert_id, article_id)
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL,
    article_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    delivered_at INTEGER,
    UNIQUE (alert_id, article_id, channel)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS reindex (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    rules TEXT NOT NULL,
    last_id TEXT,
    finished INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS websub (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    hub TEXT NOT NULL,
    topic TEXT NOT NULL,
    secret TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    lease_seconds INTEGER,
    expires_at INTEGER
);
CREATE TABLE IF NOT EXISTS seen (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    first_seen INTEGER NOT NULL
);
-- The sources page counts each source's articles of the last week.
CREATE INDEX IF NOT EXISTS seen_first ON seen (first_seen);
"#;

/// Columns added after the first release of the schema.
fn migrate(conn: &Connection) -> Result<(), rusqlite::Error> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('sources')")?;
    let columns: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for column in ["last_new_at", "first_seen_at"] {
        if !columns.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE sources ADD COLUMN {column} INTEGER"))?;
        }
    }
    for (table, column, kind) in [
        ("sources", "feed_url", "TEXT"),
        ("sources", "interval_ms", "INTEGER"),
        ("seen", "updated_at", "INTEGER"),
        ("matches", "fingerprint", "TEXT NOT NULL DEFAULT ''"),
        ("matches", "revision", "INTEGER NOT NULL DEFAULT 0"),
    ] {
        let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
        let columns: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if !columns.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

/// The payload JSON with its `revision` set (the match's count of updates).
fn with_revision(payload: &str, revision: i64) -> String {
    match serde_json::from_str::<serde_json::Value>(payload) {
        Ok(mut v) => {
            v["revision"] = revision.into();
            v.to_string()
        }
        Err(_) => payload.to_string(),
    }
}

pub(crate) fn ts(d: DateTime<Utc>) -> i64 {
    d.timestamp_millis()
}

pub(crate) fn from_ts(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.and_then(DateTime::from_timestamp_millis)
}

impl State {
    pub fn open(path: &Path) -> Result<State, StateError> {
        let open = || -> Result<Connection, rusqlite::Error> {
            let conn = Connection::open(path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            conn.execute_batch(SCHEMA)?;
            migrate(&conn)?;
            Ok(conn)
        };
        let conn = open().map_err(|source| StateError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Ok(State {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StateError> {
        let mut conn = self.conn.lock().map_err(|_| StateError::Poisoned)?;
        Ok(f(&mut conn)?)
    }

    pub fn source(&self, name: &str) -> Result<Option<SourceState>, StateError> {
        self.with(|c| {
            c.query_row(
                "SELECT name, url, kind, etag, last_modified, next_check_at, consecutive_failures,
                        last_attempt, last_success, status, last_error, article_count,
                        COALESCE(last_new_at, first_seen_at), feed_url, interval_ms
                 FROM sources WHERE name = ?1",
                [name],
                row_to_source,
            )
            .optional()
        })
    }

    pub fn sources(&self) -> Result<Vec<SourceState>, StateError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT name, url, kind, etag, last_modified, next_check_at, consecutive_failures,
                        last_attempt, last_success, status, last_error, article_count,
                        COALESCE(last_new_at, first_seen_at), feed_url, interval_ms
                 FROM sources ORDER BY name",
            )?;
            let rows = stmt.query_map([], row_to_source)?;
            rows.collect()
        })
    }

    /// The stored articles among `ids`, with the feed's last-updated time recorded for each.
    pub fn seen_versions(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, Option<DateTime<Utc>>>, StateError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT updated_at FROM seen WHERE id = ?1")?;
            let mut out = std::collections::HashMap::new();
            for id in ids {
                let mut rows = stmt.query([id])?;
                if let Some(row) = rows.next()? {
                    out.insert(id.clone(), from_ts(row.get(0)?));
                }
            }
            Ok(out)
        })
    }

    /// Where the last `wirewatch reindex` got to.
    pub fn reindex_checkpoint(&self) -> Result<Option<ReindexCheckpoint>, StateError> {
        self.with(|c| {
            let mut stmt =
                c.prepare("SELECT rules, last_id, finished FROM reindex WHERE one = 1")?;
            let mut rows = stmt.query([])?;
            Ok(match rows.next()? {
                Some(r) => Some(ReindexCheckpoint {
                    rules: r.get(0)?,
                    last_id: r.get(1)?,
                    finished: r.get::<_, i64>(2)? != 0,
                }),
                None => None,
            })
        })
    }

    pub fn set_reindex_checkpoint(
        &self,
        rules: &str,
        last_id: Option<&str>,
        finished: bool,
    ) -> Result<(), StateError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO reindex (one, rules, last_id, finished) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (one) DO UPDATE SET rules = ?1, last_id = ?2, finished = ?3",
                params![rules, last_id, finished as i64],
            )?;
            Ok(())
        })
    }

    /// Every article id recorded as stored.
    pub fn seen_ids(&self) -> Result<Vec<String>, StateError> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT id FROM seen")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Articles first stored since `since`, per source (the sources page's items per day).
    pub fn stored_per_source_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<String, u64>, StateError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT source, COUNT(*) FROM seen WHERE first_seen >= ?1 GROUP BY source",
            )?;
            let rows = stmt.query_map([ts(since)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })?;
            rows.collect()
        })
    }

    pub fn seen_count(&self) -> Result<u64, StateError> {
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM seen", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
    }

    /// Records committed articles, source updates and new alert matches in one transaction:
    /// an article is never recorded as stored without its alerts being queued.
    pub fn record_commit(
        &self,
        seen: &[SeenArticle],
        updates: &[SourceUpdate],
    ) -> Result<(), StateError> {
        self.record_commit_with_matches(seen, updates, &[])
            .map(|_| ())
    }

    /// As [`State::record_commit`], also queueing alert matches; returns the matches that were
    /// new (a match already recorded for its alert and article is never queued again).
    pub fn record_commit_with_matches(
        &self,
        seen: &[SeenArticle],
        updates: &[SourceUpdate],
        matches: &[NewMatch],
    ) -> Result<Vec<NewMatch>, StateError> {
        let now = ts(Utc::now());
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut ins = tx.prepare_cached(
                    "INSERT INTO seen (id, source, url, first_seen, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (id) DO UPDATE SET updated_at = max(coalesce(updated_at, 0), coalesce(excluded.updated_at, 0))",
                )?;
                for a in seen {
                    ins.execute(params![a.id, a.source, a.url, now, a.updated.map(ts)])?;
                }
                for u in updates {
                    apply_update(&tx, u)?;
                }
            }
            let mut fresh = Vec::new();
            {
                let mut ins_match = tx.prepare_cached(
                    "INSERT OR IGNORE INTO matches (alert_id, article_id, matched_at, payload, fingerprint)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                let mut earlier = tx.prepare_cached(
                    "SELECT fingerprint, revision FROM matches WHERE alert_id = ?1 AND article_id = ?2",
                )?;
                let mut completed = tx.prepare_cached(
                    "UPDATE matches SET payload = ?3, fingerprint = ?4 WHERE alert_id = ?1 AND article_id = ?2",
                )?;
                let mut revised = tx.prepare_cached(
                    "UPDATE matches SET payload = ?3, fingerprint = ?4, revision = ?5, matched_at = ?6
                     WHERE alert_id = ?1 AND article_id = ?2",
                )?;
                let mut ins_outbox = tx.prepare_cached(
                    "INSERT INTO outbox (alert_id, article_id, channel, status, next_attempt_at)
                     VALUES (?1, ?2, ?3, 'pending', ?4)
                     ON CONFLICT (alert_id, article_id, channel) DO UPDATE SET
                        status = 'pending', attempts = 0, next_attempt_at = excluded.next_attempt_at,
                        last_error = NULL, delivered_at = NULL",
                )?;
                for m in matches {
                    let key = params![m.alert_id, m.article_id];
                    if ins_match.execute(params![m.alert_id, m.article_id, now, m.payload, m.fingerprint])? == 0 {
                        let (before, revision): (String, i64) =
                            earlier.query_row(key, |r| Ok((r.get(0)?, r.get(1)?)))?;
                        if m.fingerprint.is_empty() || before == m.fingerprint {
                            continue;
                        }
                        if before.is_empty() || !m.on_update {
                            // The page arrived after the feed's text, or the alert does not ask
                            // about updates: the evidence is brought up to date, nobody is told.
                            completed.execute(params![m.alert_id, m.article_id, m.payload, m.fingerprint])?;
                            continue;
                        }
                        let mut m = m.clone();
                        m.payload = with_revision(&m.payload, revision + 1);
                        revised.execute(params![
                            m.alert_id, m.article_id, m.payload, m.fingerprint, revision + 1, now
                        ])?;
                        for ch in &m.channels {
                            ins_outbox.execute(params![m.alert_id, m.article_id, ch, ts(m.deliver_at)])?;
                        }
                        fresh.push(m);
                        continue;
                    }
                    for ch in &m.channels {
                        ins_outbox.execute(params![m.alert_id, m.article_id, ch, ts(m.deliver_at)])?;
                    }
                    fresh.push(m.clone());
                }
            }
            tx.commit()?;
            Ok(fresh)
        })
    }

    /// Marks a configured source that is switched off.
    pub fn upsert_source(
        &self,
        name: &str,
        url: &str,
        kind: &str,
        status: Option<SourceStatus>,
    ) -> Result<(), StateError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO sources (name, url, kind, status) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name) DO UPDATE SET url = excluded.url, kind = excluded.kind,
                     status = COALESCE(excluded.status, sources.status)",
                params![name, url, kind, status.map(|s| s.as_str())],
            )
            .map(|_| ())
        })
    }
}

fn apply_update(tx: &rusqlite::Transaction, u: &SourceUpdate) -> Result<(), rusqlite::Error> {
    tx.execute(
        "INSERT INTO sources (name, url, kind, first_seen_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(name) DO UPDATE SET url = excluded.url, kind = excluded.kind,
             first_seen_at = COALESCE(sources.first_seen_at, excluded.first_seen_at)",
        params![u.name, u.url, u.kind, ts(u.attempted_at)],
    )?;
    if u.new_articles > 0 {
        tx.execute(
            "UPDATE sources SET last_new_at = ?2 WHERE name = ?1",
            params![u.name, ts(u.attempted_at)],
        )?;
    }
    let success = u.status.is_success();
    tx.execute(
        "UPDATE sources SET next_check_at = ?2, consecutive_failures = ?3, last_attempt = ?4,
             last_success = CASE WHEN ?5 THEN ?4 ELSE last_success END,
             status = ?6, last_error = ?7, article_count = article_count + ?8
         WHERE name = ?1",
        params![
            u.name,
            ts(u.next_check_at),
            u.consecutive_failures,
            ts(u.attempted_at),
            success,
            u.status.as_str(),
            u.error,
            u.new_articles as i64
        ],
    )?;
    if let Some(etag) = &u.etag {
        tx.execute(
            "UPDATE sources SET etag = ?2 WHERE name = ?1",
            params![u.name, etag],
        )?;
    }
    if let Some(interval) = u.interval {
        tx.execute(
            "UPDATE sources SET interval_ms = ?2 WHERE name = ?1",
            params![u.name, interval.as_millis().min(i64::MAX as u128) as i64],
        )?;
    }
    if let Some(feed_url) = &u.feed_url {
        tx.execute(
            "UPDATE sources SET feed_url = ?2 WHERE name = ?1",
            params![u.name, feed_url],
        )?;
    }
    if let Some(lm) = &u.last_modified {
        tx.execute(
            "UPDATE sources SET last_modified = ?2 WHERE name = ?1",
            params![u.name, lm],
        )?;
    }
    Ok(())
}

fn row_to_source(r: &rusqlite::Row) -> Result<SourceState, rusqlite::Error> {
    Ok(SourceState {
        name: r.get(0)?,
        url: r.get(1)?,
        kind: r.get(2)?,
        etag: r.get(3)?,
        last_modified: r.get(4)?,
        next_check_at: from_ts(r.get(5)?),
        consecutive_failures: r.get::<_, i64>(6)? as u32,
        last_attempt: from_ts(r.get(7)?),
        last_success: from_ts(r.get(8)?),
        status: r.get(9)?,
        last_error: r.get(10)?,
        article_count: r.get::<_, i64>(11)? as u64,
        last_new_at: from_ts(r.get(12)?),
        feed_url: r.get(13)?,
        interval: r
            .get::<_, Option<i64>>(14)?
            .map(|ms| std::time::Duration::from_millis(ms.max(0) as u64)),
    })
}

impl SourceState {
    /// Answers but brings nothing new for many times its usual interval (and at least six hours):
    /// a feed that froze, moved, or now serves a placeholder.
    pub fn is_stale(&self, interval: std::time::Duration, now: DateTime<Utc>) -> bool {
        const FACTOR: u32 = 20;
        let window = (interval * FACTOR).max(std::time::Duration::from_secs(6 * 3600));
        let answering = matches!(self.status.as_deref(), Some("ok") | Some("not-modified"));
        match (answering, self.last_new_at) {
            (true, Some(last)) => (now - last).to_std().is_ok_and(|quiet| quiet > window),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(name: &str, status: SourceStatus, etag: Option<Option<String>>) -> SourceUpdate {
        SourceUpdate {
            name: name.into(),
            url: "https://e.com/feed".into(),
            kind: "feed".into(),
            attempted_at: Utc::now(),
            status,
            error: None,
            etag,
            last_modified: None,
            next_check_at: Utc::now(),
            consecutive_failures: 0,
            new_articles: 2,
            feed_url: None,
            interval: None,
        }
    }

    #[test]
    fn updates_and_seen() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(&dir.path().join("state.sqlite")).unwrap();
        s.record_commit(
            &[SeenArticle {
                id: "a".into(),
                source: "S".into(),
                url: "https://e.com/a".into(),
                updated: None,
            }],
            &[update("S", SourceStatus::Ok, Some(Some("\"v1\"".into())))],
        )
        .unwrap();
        // A failed poll keeps the validators of the last good one.
        s.record_commit(&[], &[update("S", SourceStatus::HttpError, None)])
            .unwrap();
        let st = s.source("S").unwrap().unwrap();
        assert_eq!(st.etag.as_deref(), Some("\"v1\""));
        assert_eq!(st.status.as_deref(), Some("http-error"));
        assert_eq!(st.article_count, 4);
        assert!(st.last_success.is_some());
        assert!(st.last_new_at.is_some());
        let hour = std::time::Duration::from_secs(3600);
        let ok = SourceState {
            status: Some("ok".into()),
            ..st.clone()
        };
        assert!(!ok.is_stale(hour, Utc::now()));
        assert!(ok.is_stale(hour, Utc::now() + chrono::Duration::hours(21)));
        assert!(
            !st.is_stale(hour, Utc::now() + chrono::Duration::hours(21)),
            "a failing source is not 'stale'"
        );
        let seen = s.seen_versions(&["a".into(), "b".into()]).unwrap();
        assert!(seen.contains_key("a") && !seen.contains_key("b"));
    }

    #[test]
    fn a_changed_match_alerts_again_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(&dir.path().join("state.sqlite")).unwrap();
        let m = |alert_id: i64, fingerprint: &str, on_update: bool| NewMatch {
            alert_id,
            article_id: "art".into(),
            payload: format!("{{\"article_id\":\"art\",\"v\":\"{fingerprint}\"}}"),
            channels: vec!["desk".into()],
            deliver_at: Utc::now(),
            fingerprint: fingerprint.into(),
            on_update,
        };
        let fresh = |ms: &[NewMatch]| s.record_commit_with_matches(&[], &[], ms).unwrap();
        // Provisional (feed text only) first: no fingerprint.
        assert_eq!(fresh(&[m(1, "", true), m(2, "", false)]).len(), 2);
        // The page completes the article: no alert, for either.
        assert!(fresh(&[m(1, "v1", true), m(2, "v1", false)]).is_empty());
        // Same text again: nothing.
        assert!(fresh(&[m(1, "v1", true), m(2, "v1", false)]).is_empty());
        // The text changed: only the alert that asks hears, with the revision in its payload.
        let again = fresh(&[m(1, "v2", true), m(2, "v2", false)]);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].alert_id, 1);
        assert!(
            again[0].payload.contains("\"revision\":1"),
            "{}",
            again[0].payload
        );
        let payload: String = s
            .with(|c| {
                c.query_row("SELECT payload FROM matches WHERE alert_id = 2", [], |r| {
                    r.get(0)
                })
            })
            .unwrap();
        assert!(
            payload.contains("v2"),
            "evidence brought up to date: {payload}"
        );
        let pending: i64 = s
            .with(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM outbox WHERE status = 'pending'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(pending, 2, "one row per (alert, article, channel)");
    }
}
