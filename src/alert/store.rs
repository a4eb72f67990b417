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
}

pub fn due(state: &State, now: DateTime<Utc>, limit: usize) -> Result<Vec<Due>, StateError> {
    state.with(|c| {
        let mut stmt = c.prepare(
            "SELECT o.id, o.alert_id, o.article_id, o.channel, o.status, o.attempts, o.next_attempt_at, o.last_error, o.delivered_at,
                    a.name, m.payload
             FROM outbox o JOIN alerts a ON a.id = o.alert_id JOIN matches m ON m.alert_id = o.alert_id AND m.article_id = o.article_id
             WHERE o.status = 'pending' AND o.next_attempt_at <= ?1 ORDER BY o.next_attempt_at, o.id LIMIT ?2"
        )?;
        let rows = stmt.query_map(params![ts(now), limit as i64], |r| {
            Ok(Due { row: row_to_outbox(r)?, alert_name: r.get(9)?, payload: r.get(10)? })
        })?;
        rows.collect()
    })
}

pub fn mark_delivered(state: &State, ids: &[i64]) -> Result<(), StateError> {
    let now = ts(Utc::now());
    state.with(|c| {
        let tx = c.transaction()?;
        for id in ids {
            tx.execute("UPDATE outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ?2, last_error = NULL WHERE id = ?1", params![id, now])?;
        }
        tx.commit()
    })
}

/// Records a failed attempt: retried at `retry_at`, or dead when `retry_at` is `None`.
pub fn mark_failed(
    state: &State,
    ids: &[i64],
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), StateError> {
    state.with(|c| {
        let tx = c.transaction()?;
        for id in ids {
            match retry_at {
                Some(at) => tx.execute("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1", params![id, ts(at), error])?,
                None => tx.execute("UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?2 WHERE id = ?1", params![id, error])?,
            };
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
