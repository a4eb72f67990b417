//! Alerts, matches and the outbox in the state database.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Alert, AlertConfig, Payload};
use crate::store::state::{from_ts, ts};
use crate::store::{State, StateError};

fn row_to_alert(r: &rusqlite::Row) -> Result<Alert, rusqlite::Error> {
    let spec: String = r.get(2)?;
    let spec: AlertConfig = serde_json::from_str(&spec).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Alert {
        id: r.get(0)?,
        origin: r.get(1)?,
        spec,
    })
}

pub fn list(state: &State) -> Result<Vec<Alert>, StateError> {
    state.with(|c| {
        let mut stmt = c.prepare("SELECT id, origin, spec FROM alerts ORDER BY id")?;
        let rows = stmt.query_map([], row_to_alert)?;
        rows.collect()
    })
}

pub fn get(state: &State, id: i64) -> Result<Option<Alert>, StateError> {
    state.with(|c| {
        c.query_row(
            "SELECT id, origin, spec FROM alerts WHERE id = ?1",
            [id],
            row_to_alert,
        )
        .optional()
    })
}

/// Why an alert could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("an alert named `{0}` exists already")]
    Duplicate(String),
    #[error(transparent)]
    State(#[from] StateError),
}

pub fn create(state: &State, spec: &AlertConfig, origin: &str) -> Result<Alert, SaveError> {
    let json = serde_json::to_string(spec).unwrap_or_default();
    let now = ts(Utc::now());
    let r = state.with(|c| {
        c.execute(
            "INSERT INTO alerts (name, origin, spec, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![spec.name, origin, json, now],
        )?;
        Ok(c.last_insert_rowid())
    });
    match r {
        Ok(id) => Ok(Alert {
            id,
            origin: origin.into(),
            spec: spec.clone(),
        }),
        Err(StateError::Sql(rusqlite::Error::SqliteFailure(e, _)))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(SaveError::Duplicate(spec.name.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn update(state: &State, id: i64, spec: &AlertConfig) -> Result<bool, SaveError> {
    let json = serde_json::to_string(spec).unwrap_or_default();
    let r = state.with(|c| {
        c.execute(
            "UPDATE alerts SET name = ?2, spec = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, spec.name, json, ts(Utc::now())],
        )
    });
    match r {
        Ok(n) => Ok(n > 0),
        Err(StateError::Sql(rusqlite::Error::SqliteFailure(e, _)))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(SaveError::Duplicate(spec.name.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes an alert; its delivery log goes with it, pending deliveries are dropped.
pub fn delete(state: &State, id: i64) -> Result<bool, StateError> {
    state.with(|c| {
        let tx = c.transaction()?;
        let n = tx.execute("DELETE FROM alerts WHERE id = ?1", [id])?;
        tx.execute("DELETE FROM outbox WHERE alert_id = ?1", [id])?;
        tx.execute("DELETE FROM matches WHERE alert_id = ?1", [id])?;
        tx.commit()?;
        Ok(n > 0)
    })
}

/// Makes the `config` alerts match the configuration: new ones added, changed ones updated (ids,
/// and so the delivery log, are kept by name), removed ones deleted. API alerts are left alone.
pub fn sync_config(state: &State, configured: &[AlertConfig]) -> Result<(), StateError> {
    let existing = list(state)?;
    for spec in configured {
        match existing.iter().find(|a| a.spec.name == spec.name) {
            Some(a) if a.spec == *spec && a.origin == "config" => {}
            Some(a) => {
                let json = serde_json::to_string(spec).unwrap_or_default();
                state.with(|c| c.execute("UPDATE alerts SET spec = ?2, origin = 'config', updated_at = ?3 WHERE id = ?1", params![a.id, json, ts(Utc::now())]))?;
            }
            None => {
                create(state, spec, "config").map_err(|e| match e {
                    SaveError::State(s) => s,
                    SaveError::Duplicate(_) => StateError::Poisoned,
                })?;
            }
        }
    }
    for a in existing
        .iter()
        .filter(|a| a.origin == "config" && !configured.iter().any(|c| c.name == a.spec.name))
    {
        delete(state, a.id)?;
    }
    Ok(())
}

/// A recorded match, newest first in listings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MatchRecord {
    pub matched_at: DateTime<Utc>,
    pub article: Payload,
}

pub fn matches(state: &State, alert_id: i64, limit: usize) -> Result<Vec<MatchRecord>, StateError> {
    state.with(|c| {
        let mut stmt = c.prepare("SELECT matched_at, payload FROM matches WHERE alert_id = ?1 ORDER BY matched_at DESC, article_id LIMIT ?2")?;
        let rows = stmt.query_map(params![alert_id, limit as i64], |r| {
            let at: i64 = r.get(0)?;
            let payload: String = r.get(1)?;
            Ok((at, payload))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (at, payload) = row?;
            if let (Some(matched_at), Ok(article)) = (from_ts(Some(at)), serde_json::from_str(&payload)) {
                out.push(MatchRecord { matched_at, article });
            }
        }
        Ok(out)
    })
}

/// One queued, delivered or dead delivery.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxRow {
    pub id: i64,
    pub alert_id: i64,
    pub article_id: String,
    pub channel: String,
    /// pending, delivered, dead.
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

fn row_to_outbox(r: &rusqlite::Row) -> Result<OutboxRow, rusqlite::Error> {
    Ok(OutboxRow {
        id: r.get(0)?,
        alert_id: r.get(1)?,
        article_id: r.get(2)?,
        channel: r.get(3)?,
        status: r.get(4)?,
        attempts: r.get::<_, i64>(5)? as u32,
        next_attempt_at: from_ts(r.get(6)?),
        last_error: r.get(7)?,
        delivered_at: from_ts(r.get(8)?),
    })
}

const OUTBOX_COLUMNS: &str = "id, alert_id, article_id, channel, status, attempts, next_attempt_at, last_error, delivered_at";

pub fn deliveries(
    state: &State,
    status: Option<&str>,
    limit: usize,
) -> Result<Vec<OutboxRow>, StateError> {
    state.with(|c| {
        let mut stmt = c.prepare(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![status, limit as i64], row_to_outbox)?;
        rows.collect()
    })
}

/// Puts a dead delivery back in the queue, due now, with its attempts reset.
pub fn replay(state: &State, id: i64) -> Result<bool, StateError> {
    state.with(|c| {
        c.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?2, last_error = NULL WHERE id = ?1 AND status = 'dead'",
            params![id, ts(Utc::now())],
        )
        .map(|n| n > 0)
    })
}

/// A due delivery with what it needs to be sent.
#[derive(Debug, Clone)]
pub struct Due {
    pub row: OutboxRow,
    pub alert_name: String,
    pub payload: String,
    /// The match's revision this payload is of: an outcome is recorded only while it is still
    /// the current one (see [`mark_delivered`]).
    pub revision: i64,
}

/// An outbox row and the match revision a delivery attempt sent.
pub type Attempted = (i64, i64);

/// The condition that the outbox row's match is still at the revision that was sent: a revised
/// article resets the row to pending while an older revision may be in flight, and that older
/// attempt's outcome must not settle the new revision.
fn same_revision(param: usize) -> String {
    format!(
        "(SELECT m.revision FROM matches m WHERE m.alert_id = outbox.alert_id AND m.article_id = outbox.article_id) = ?{param}"
    )
}

pub fn due(state: &State, now: DateTime<Utc>, limit: usize) -> Result<Vec<Due>, StateError> {
    state.with(|c| {
        let mut stmt = c.prepare(
            "SELECT o.id, o.alert_id, o.article_id, o.channel, o.status, o.attempts, o.next_attempt_at, o.last_error, o.delivered_at,
                    a.name, m.payload, m.revision
             FROM outbox o JOIN alerts a ON a.id = o.alert_id JOIN matches m ON m.alert_id = o.alert_id AND m.article_id = o.article_id
             WHERE o.status = 'pending' AND o.next_attempt_at <= ?1 ORDER BY o.next_attempt_at, o.id LIMIT ?2"
        )?;
        let rows = stmt.query_map(params![ts(now), limit as i64], |r| {
            Ok(Due {
                row: row_to_outbox(r)?,
                alert_name: r.get(9)?,
                payload: r.get(10)?,
                revision: r.get(11)?,
            })
        })?;
        rows.collect()
    })
}

pub fn mark_delivered(state: &State, ids: &[Attempted]) -> Result<(), StateError> {
    let now = ts(Utc::now());
    state.with(|c| {
        let tx = c.transaction()?;
        let sql = format!("UPDATE outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ?2, last_error = NULL WHERE id = ?1 AND {}", same_revision(3));
        for (id, revision) in ids {
            tx.execute(&sql, params![id, now, revision])?;
        }
        tx.commit()
    })
}

/// Records a failed attempt: retried at `retry_at`, or dead when `retry_at` is `None`.
pub fn mark_failed(
    state: &State,
    ids: &[Attempted],
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), StateError> {
    state.with(|c| {
        let tx = c.transaction()?;
        // No retry time: dead.
        let sql = format!(
            "UPDATE outbox SET status = CASE WHEN ?4 IS NULL THEN 'dead' ELSE status END,
                attempts = attempts + 1, next_attempt_at = coalesce(?4, next_attempt_at), last_error = ?2
             WHERE id = ?1 AND {}",
            same_revision(3)
        );
        for (id, revision) in ids {
            tx.execute(&sql, params![id, error, revision, retry_at.map(ts)])?;
        }
        tx.commit()
    })
}

/// Deliveries made for an alert since `since` (for the per-alert rate limit).
pub fn delivered_since(
    state: &State,
    alert_id: i64,
    since: DateTime<Utc>,
) -> Result<u32, StateError> {
    state.with(|c| {
        c.query_row("SELECT COUNT(*) FROM outbox WHERE alert_id = ?1 AND status = 'delivered' AND delivered_at >= ?2", params![alert_id, ts(since)], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as u32)
    })
}

/// Pending deliveries (for metrics).
pub fn outbox_depth(state: &State) -> Result<u64, StateError> {
    state.with(|c| {
        c.query_row(
            "SELECT COUNT(*) FROM outbox WHERE status = 'pending'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::state::NewMatch;

    /// A revision that arrives while the previous one is being sent is not marked delivered by
    /// that older attempt's outcome: it is still due afterwards, and its own outcome counts.
    #[test]
    fn an_older_revisions_outcome_does_not_settle_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("state.sqlite")).unwrap();
        let spec: AlertConfig = toml::from_str(
            "name = \"desk\"\nquery = \"chips\"\nchannels = [\"hook\"]\non_update = true",
        )
        .unwrap();
        let alert = create(&state, &spec, "config").unwrap();
        let m = |fingerprint: &str| NewMatch {
            alert_id: alert.id,
            article_id: "art".into(),
            payload: "{\"article_id\":\"art\"}".into(),
            channels: vec!["hook".into()],
            deliver_at: Utc::now(),
            fingerprint: fingerprint.into(),
            on_update: true,
        };
        let record = |ms: &[NewMatch]| state.record_commit_with_matches(&[], &[], ms).unwrap();
        record(&[m("v1")]);
        let later = Utc::now() + chrono::Duration::seconds(5);
        let first = due(&state, later, 10).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].revision, 0);
        // The article changes while revision 0 is in flight.
        assert_eq!(record(&[m("v2")]).len(), 1);
        mark_delivered(&state, &[(first[0].row.id, first[0].revision)]).unwrap();
        let again = due(&state, later, 10).unwrap();
        assert_eq!(
            again.len(),
            1,
            "revision 1 was settled by revision 0's delivery"
        );
        assert_eq!(again[0].revision, 1);
        // Nor may an old attempt's failure dead-letter it.
        mark_failed(&state, &[(again[0].row.id, 0)], "boom", None).unwrap();
        assert_eq!(due(&state, later, 10).unwrap().len(), 1);
        mark_delivered(&state, &[(again[0].row.id, 1)]).unwrap();
        assert!(due(&state, later, 10).unwrap().is_empty());
    }
}
