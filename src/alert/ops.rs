//! Operators' notices: a source that starts failing, recovers, or goes stale is reported to the
//! channel named by `[daemon] operators_channel`.

use std::sync::Arc;

use tracing::warn;

use super::channels::Sender;
use crate::config::ChannelConfig;

/// Failures in a row before a source is reported as failing.
pub const FAILING_AFTER: u32 = 3;

#[derive(Clone)]
pub struct OpsChannel {
    pub sender: Arc<Sender>,
    pub channel: ChannelConfig,
}

impl OpsChannel {
    /// Sends a notice, waiting at most a few seconds: notices are rare (transitions only), and a
    /// one-shot run must not exit before its notice is out.
    pub async fn notify(&self, title: String, text: String) {
        let send = self.sender.notice(&self.channel, &title, &text);
        match tokio::time::timeout(std::time::Duration::from_secs(5), send).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                warn!(channel = %self.channel.name, error = %e, "operators' notice not delivered")
            }
            Err(_) => warn!(channel = %self.channel.name, "operators' notice timed out"),
        }
    }
}

/// What to tell operators after a poll, if anything: (title, text).
pub fn poll_notice(
    source: &str,
    before: u32,
    after: u32,
    status: &str,
    error: Option<&str>,
) -> Option<(String, String)> {
    if after == FAILING_AFTER {
        return Some((
            format!("wirewatch: source \"{source}\" is failing"),
            format!(
                "{after} polls in a row failed ({status}): {}",
                error.unwrap_or("no detail")
            ),
        ));
    }
    if after == 0 && before >= FAILING_AFTER {
        return Some((
            format!("wirewatch: source \"{source}\" recovered"),
            format!("polled fine again ({status}) after {before} failures"),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_on_transitions_only() {
        assert!(poll_notice("S", 1, 2, "http-error", None).is_none());
        assert!(
            poll_notice("S", 2, 3, "http-error", Some("HTTP 500"))
                .unwrap()
                .1
                .contains("HTTP 500")
        );
        assert!(poll_notice("S", 3, 4, "http-error", None).is_none());
        assert!(
            poll_notice("S", 5, 0, "ok", None)
                .unwrap()
                .0
                .contains("recovered")
        );
        assert!(poll_notice("S", 1, 0, "ok", None).is_none());
    }
}
