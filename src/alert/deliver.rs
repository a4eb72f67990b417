//! The delivery worker: takes due rows from the outbox, sends them, and records the outcome:
//! delivered, retried later with capped exponential backoff and jitter (or the receiver's
//! Retry-After), or dead-lettered after the last attempt.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use rand::Rng;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::channels::{SendError, Sender};
use super::store::{self, Due};
use super::{AlertMode, AlertRef, Payload, Registry};
use crate::config::{ChannelConfig, DeliveryConfig};
use crate::store::State;
use crate::telemetry::Metrics;

/// Channels and retry settings in force; replaced at a reload.
#[derive(Clone)]
pub struct Settings {
    pub channels: HashMap<String, ChannelConfig>,
    pub delivery: DeliveryConfig,
}

pub type SharedSettings = Arc<RwLock<Settings>>;

pub struct Worker {
    pub state: State,
    pub registry: Registry,
    pub settings: SharedSettings,
    pub sender: Arc<Sender>,
    pub metrics: Arc<Metrics>,
    /// Poked when new matches are queued, so immediate alerts go out at once.
    pub wake: Arc<Notify>,
}

/// The delay before attempt `attempts + 1`: doubled per attempt from `initial`, capped, ±20 %.
pub fn backoff(attempts: u32, initial: Duration, cap: Duration) -> Duration {
    let base = initial
        .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(20)))
        .min(cap);
    let spread = base.as_secs_f64() * 0.2;
    let jitter = if spread > 0.0 {
        rand::rng().random_range(-spread..=spread)
    } else {
        0.0
    };
    Duration::from_secs_f64((base.as_secs_f64() + jitter).max(0.0))
}

impl Worker {
    pub async fn run(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if let Err(e) = self.tick(&stop).await {
                error!(error = %e, "alert delivery failed to read the outbox");
            }
        }
    }

    /// Sends everything due now. Deliveries stay in the outbox until their outcome is recorded,
    /// so a stop or a crash leaves them pending.
    pub async fn tick(&self, stop: &CancellationToken) -> Result<(), crate::store::StateError> {
        let due = store::due(&self.state, Utc::now(), 500)?;
        if let Ok(depth) = store::outbox_depth(&self.state) {
            self.metrics.outbox_depth.set(depth as i64);
        }
        if due.is_empty() {
            return Ok(());
        }
        let settings = self
            .settings
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        let modes: HashMap<i64, AlertMode> = self
            .registry
            .read()
            .map(|r| r.iter().map(|a| (a.id, a.spec.mode)).collect())
            .unwrap_or_default();
        // Immediate alerts: one message per article; digests: one per alert and channel.
        let mut groups: BTreeMap<(i64, String, String), Vec<Due>> = BTreeMap::new();
        for d in due {
            let digest = modes
                .get(&d.row.alert_id)
                .is_some_and(|m| *m != AlertMode::Immediate);
            let key = if digest {
                String::new()
            } else {
                d.row.article_id.clone()
            };
            groups
                .entry((d.row.alert_id, d.row.channel.clone(), key))
                .or_default()
                .push(d);
        }
        let mut budget: HashMap<i64, u32> = HashMap::new();
        let since = Utc::now() - chrono::Duration::minutes(1);
        let mut jobs = Vec::new();
        for ((alert_id, channel, _), items) in groups {
            let used = match budget.get(&alert_id) {
                Some(n) => *n,
                None => store::delivered_since(&self.state, alert_id, since)?,
            };
            if used >= settings.delivery.max_per_minute {
                debug!(
                    alert_id,
                    "alert rate limit reached; the rest waits for the next minute"
                );
                continue;
            }
            budget.insert(alert_id, used + 1);
            jobs.push((channel, items));
        }
        let settings = &settings;
        futures::stream::iter(jobs)
            .for_each_concurrent(8, |(channel, items)| async move {
                if stop.is_cancelled() {
                    return;
                }
                self.deliver(settings, &channel, items).await;
            })
            .await;
        Ok(())
    }

    async fn deliver(&self, settings: &Settings, channel: &str, items: Vec<Due>) {
        let ids: Vec<store::Attempted> = items.iter().map(|d| (d.row.id, d.revision)).collect();
        let attempts = items.iter().map(|d| d.row.attempts).max().unwrap_or(0) + 1;
        let alert = AlertRef {
            id: items[0].row.alert_id,
            name: items[0].alert_name.clone(),
        };
        let Some(config) = settings.channels.get(channel) else {
            self.record(
                &ids,
                channel,
                "dead",
                Err(SendError::Permanent(format!(
                    "no channel named `{channel}` is configured"
                ))),
                attempts,
                settings,
            );
            return;
        };
        let payloads: Vec<Payload> = items
            .iter()
            .filter_map(|d| serde_json::from_str(&d.payload).ok())
            .collect();
        let result = self.sender.send(config, &alert, &payloads).await;
        let kind = format!("{:?}", config.kind).to_lowercase();
        self.record(&ids, &kind, &alert.name, result, attempts, settings);
    }

    fn record(
        &self,
        ids: &[store::Attempted],
        channel_kind: &str,
        alert: &str,
        result: Result<(), SendError>,
        attempts: u32,
        settings: &Settings,
    ) {
        let outcome = match result {
            Ok(()) => {
                debug!(
                    alert,
                    channel = channel_kind,
                    n = ids.len(),
                    "alert delivered"
                );
                if let Err(e) = store::mark_delivered(&self.state, ids) {
                    error!(error = %e, "delivery done but not recorded; it will be sent again");
                }
                "delivered"
            }
            Err(SendError::Retry {
                message,
                retry_after,
            }) if attempts < settings.delivery.max_attempts => {
                let delay = backoff(
                    attempts,
                    settings.delivery.initial_backoff.0,
                    settings.delivery.max_backoff.0,
                )
                .max(retry_after.unwrap_or_default());
                warn!(alert, channel = channel_kind, attempts, retry_in_s = delay.as_secs(), error = %message, "alert delivery failed; will retry");
                let at = Utc::now()
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
                let _ = store::mark_failed(&self.state, ids, &message, Some(at));
                "retry"
            }
            Err(e) => {
                warn!(alert, channel = channel_kind, attempts, error = %e, "alert delivery dead-lettered; replay it from the API once the receiver is fixed");
                let _ = store::mark_failed(&self.state, ids, &e.to_string(), None);
                "dead"
            }
        };
        self.metrics.delivery(channel_kind, outcome, ids.len());
        if outcome == "dead" {
            info!(n = ids.len(), "see GET /api/v1/deliveries?status=dead");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let s = Duration::from_secs;
        for _ in 0..50 {
            let d1 = backoff(1, s(5), s(3600)).as_secs_f64();
            assert!((4.0..=6.0).contains(&d1), "{d1}");
            let d3 = backoff(3, s(5), s(3600)).as_secs_f64();
            assert!((16.0..=24.0).contains(&d3), "{d3}");
            let d20 = backoff(20, s(5), s(3600)).as_secs_f64();
            assert!((2880.0..=4320.0).contains(&d20), "{d20}");
        }
    }
}
