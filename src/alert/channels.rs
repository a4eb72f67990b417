//! Sending alerts: webhook (signed JSON), Slack-compatible incoming webhook, ntfy, email (SMTP).

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{AlertRef, Delivery, Payload};
use crate::config::{ChannelConfig, ChannelKind};

/// How a send failed, which decides what happens next.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth another attempt later (network trouble, 5xx, 429); the receiver may name a delay.
    #[error("{message}")]
    Retry {
        message: String,
        retry_after: Option<Duration>,
    },
    /// No retry will help (4xx other than 408/429, a bad address, a missing secret).
    #[error("{0}")]
    Permanent(String),
}

/// The HMAC-SHA256 signature header value of a webhook body: `sha256=<hex>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn secret(var: Option<&str>) -> Result<Option<String>, SendError> {
    match var {
        None => Ok(None),
        Some(v) => std::env::var(v).map(Some).map_err(|_| {
            SendError::Permanent(format!(
                "the environment variable {v} (channel secret) is not set"
            ))
        }),
    }
}

/// Adds `X-Wirewatch-Signature` when the channel names a secret.
fn sign(
    channel: &ChannelConfig,
    body: &[u8],
    headers: &mut Vec<(&'static str, String)>,
) -> Result<(), SendError> {
    if let Some(secret) = secret(channel.secret_env.as_deref())? {
        headers.push(("X-Wirewatch-Signature", signature(secret.as_bytes(), body)));
    }
    Ok(())
}

/// Adds the ntfy access token when the channel names one.
fn ntfy_auth(
    channel: &ChannelConfig,
    headers: &mut Vec<(&'static str, String)>,
) -> Result<(), SendError> {
    if let Some(token) = secret(channel.token_env.as_deref())? {
        headers.push(("Authorization", format!("Bearer {token}")));
    }
    Ok(())
}

/// Sends alerts of one alert to one channel: one article, or a digest of several.
pub struct Sender {
    client: reqwest::Client,
    timeout: Duration,
}

impl Sender {
    pub fn new(user_agent: &str, timeout: Duration) -> Result<Sender, String> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Sender { client, timeout })
    }

    pub async fn send(
        &self,
        channel: &ChannelConfig,
        alert: &AlertRef,
        items: &[Payload],
    ) -> Result<(), SendError> {
        match channel.kind {
            ChannelKind::Webhook => self.webhook(channel, alert, items).await,
            ChannelKind::Slack => {
                let body = serde_json::json!({ "text": text(alert, items, true) });
                self.post(
                    channel,
                    body.to_string().into_bytes(),
                    "application/json",
                    &[],
                )
                .await
            }
            ChannelKind::Ntfy => {
                let title = match items {
                    [one] => one.title.clone(),
                    many => format!("{}: {} articles", alert.name, many.len()),
                };
                let mut headers = vec![("Title", title), ("Tags", "newspaper".to_string())];
                if let [one] = items {
                    headers.push(("Click", one.url.clone()));
                }
                ntfy_auth(channel, &mut headers)?;
                self.post(
                    channel,
                    text(alert, items, false).into_bytes(),
                    "text/plain; charset=utf-8",
                    &headers,
                )
                .await
            }
            ChannelKind::Email => self.email(channel, alert, items).await,
        }
    }

    /// An operators' notice (a source failing, recovering or going stale) in the channel's form.
    pub async fn notice(
        &self,
        channel: &ChannelConfig,
        title: &str,
        text: &str,
    ) -> Result<(), SendError> {
        match channel.kind {
            ChannelKind::Webhook => {
                let body = serde_json::to_vec(
                    &serde_json::json!({ "kind": "notice", "title": title, "text": text }),
                )
                .map_err(|e| SendError::Permanent(e.to_string()))?;
                let mut headers = Vec::new();
                sign(channel, &body, &mut headers)?;
                self.post(channel, body, "application/json", &headers).await
            }
            ChannelKind::Slack => {
                let body = serde_json::json!({ "text": format!("*{title}*\n{text}") });
                self.post(
                    channel,
                    body.to_string().into_bytes(),
                    "application/json",
                    &[],
                )
                .await
            }
            ChannelKind::Ntfy => {
                let mut headers = vec![
                    ("Title", title.to_string()),
                    ("Tags", "warning".to_string()),
                ];
                ntfy_auth(channel, &mut headers)?;
                self.post(
                    channel,
                    text.as_bytes().to_vec(),
                    "text/plain; charset=utf-8",
                    &headers,
                )
                .await
            }
            ChannelKind::Email => {
                let payload = Payload {
                    article_id: String::new(),
                    title: title.to_string(),
                    url: String::new(),
                    source: "wirewatch".into(),
                    published: None,
                    revision: 0,
                    topics: vec![],
                    entities: vec![],
                    evidence: vec![super::Evidence {
                        topic: String::new(),
                        sentence: text.to_string(),
                        terms: vec![],
                    }],
                };
                self.email(
                    channel,
                    &AlertRef {
                        id: 0,
                        name: "operators".into(),
                    },
                    &[payload],
                )
                .await
            }
        }
    }

    async fn webhook(
        &self,
        channel: &ChannelConfig,
        alert: &AlertRef,
        items: &[Payload],
    ) -> Result<(), SendError> {
        let deliveries: Vec<Delivery> = items
            .iter()
            .map(|p| Delivery {
                idempotency_key: p.idempotency_key(alert.id),
                alert: alert.clone(),
                article: p.clone(),
            })
            .collect();
        let (body, key) = match deliveries.as_slice() {
            [one] => (serde_json::to_vec(one), one.idempotency_key.clone()),
            many => (
                serde_json::to_vec(
                    &serde_json::json!({ "digest": true, "alert": alert, "deliveries": many }),
                ),
                format!(
                    "digest:{}",
                    many.iter()
                        .map(|d| d.idempotency_key.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ),
        };
        let body = body.map_err(|e| SendError::Permanent(e.to_string()))?;
        let mut headers = vec![("Idempotency-Key", key)];
        sign(channel, &body, &mut headers)?;
        self.post(channel, body, "application/json", &headers).await
    }

    async fn post(
        &self,
        channel: &ChannelConfig,
        body: Vec<u8>,
        content_type: &str,
        headers: &[(&str, String)],
    ) -> Result<(), SendError> {
        let url = channel
            .url
            .as_deref()
            .ok_or_else(|| SendError::Permanent("the channel has no url".into()))?;
        let mut req = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        // Channel URLs can carry secrets (Slack and ntfy put them in the path): errors are logged
        // and stored, so they never include the URL.
        let resp = req
            .send()
            .await
            .map_err(|e| e.without_url())
            .map_err(|e| SendError::Retry {
                message: if e.is_timeout() {
                    format!("timed out after {:?}", self.timeout)
                } else {
                    format!("cannot reach the receiver: {e}")
                },
                retry_after: None,
            })?;
        classify(
            resp.status().as_u16(),
            resp.headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
        )
    }

    async fn email(
        &self,
        channel: &ChannelConfig,
        alert: &AlertRef,
        items: &[Payload],
    ) -> Result<(), SendError> {
        use lettre::message::{Mailbox, header::ContentType};
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

        let bad = |what: String| SendError::Permanent(what);
        let from: Mailbox = channel
            .from
            .as_deref()
            .unwrap_or_default()
            .parse()
            .map_err(|e| bad(format!("from: {e}")))?;
        let subject = match items {
            [one] => format!("[wirewatch] {}: {}", alert.name, one.title),
            many => format!("[wirewatch] {}: {} new articles", alert.name, many.len()),
        };
        let mut builder = Message::builder().from(from).subject(subject);
        for to in &channel.to {
            builder = builder.to(to.parse().map_err(|e| bad(format!("to `{to}`: {e}")))?);
        }
        let message = builder
            .header(ContentType::TEXT_PLAIN)
            .body(text(alert, items, false))
            .map_err(|e| bad(e.to_string()))?;
        let host = channel.smtp_host.as_deref().unwrap_or("localhost");
        let mut transport = match channel.smtp_security.as_deref().unwrap_or("starttls") {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            "none" => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host,
            )),
            _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
        }
        .map_err(|e| bad(format!("SMTP server {host}: {e}")))?
        .timeout(Some(self.timeout));
        if let Some(port) = channel.smtp_port {
            transport = transport.port(port);
        }
        if let (Some(user), Some(pass)) = (
            secret(channel.smtp_user_env.as_deref())?,
            secret(channel.smtp_password_env.as_deref())?,
        ) {
            transport = transport.credentials(Credentials::new(user, pass));
        }
        transport
            .build()
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| {
                if e.is_permanent() {
                    SendError::Permanent(format!("SMTP: {e}"))
                } else {
                    SendError::Retry {
                        message: format!("SMTP: {e}"),
                        retry_after: None,
                    }
                }
            })
    }
}

/// Retry decision for an HTTP status (kept apart from the retry loop).
pub fn classify(status: u16, retry_after: Option<&str>) -> Result<(), SendError> {
    match status {
        200..=299 => Ok(()),
        408 | 425 | 429 | 500..=599 => Err(SendError::Retry {
            message: format!("the receiver answered HTTP {status}"),
            retry_after: retry_after.and_then(crate::fetch::parse_retry_after),
        }),
        _ => Err(SendError::Permanent(format!(
            "the receiver answered HTTP {status}"
        ))),
    }
}

/// A human-readable rendering for chat, ntfy and email: title, source, date, link, evidence.
/// With `markdown` (Slack's mrkdwn), text from articles is escaped so that it cannot plant
/// links, mentions (`<!channel>`) or formatting of its own.
pub fn text(alert: &AlertRef, items: &[Payload], markdown: bool) -> String {
    let esc = |s: &str| -> String {
        if markdown {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    if items.len() > 1 {
        out.push_str(&format!(
            "{} new articles for \"{}\"\n\n",
            items.len(),
            esc(&alert.name)
        ));
    } else {
        out.push_str(&format!("New match for \"{}\"\n\n", esc(&alert.name)));
    }
    for p in items {
        let date = p
            .published
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        if markdown {
            // Inside <url|text> a `|` or `>` would end the link early.
            let url = p
                .url
                .replace('|', "%7C")
                .replace('>', "%3E")
                .replace('<', "%3C");
            out.push_str(&format!("*<{url}|{}>*\n", esc(&p.title.replace('|', "/"))));
        } else {
            out.push_str(&format!("{}\n{}\n", p.title, p.url));
        }
        out.push_str(&format!("{} · {}", esc(&p.source), date));
        if !p.topics.is_empty() {
            let topics: Vec<&str> = p.topics.iter().map(|t| t.name.as_str()).collect();
            out.push_str(&format!(" · {}", topics.join(", ")));
        }
        if !p.entities.is_empty() {
            out.push_str(&format!(" · {}", p.entities.join(", ")));
        }
        out.push('\n');
        for e in &p.evidence {
            let line = esc(&Payload::marked(e));
            out.push_str(&format!(
                "> {}\n",
                if markdown {
                    line.replace("**", "*")
                } else {
                    line
                }
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_text_cannot_carry_links_or_mentions_from_articles() {
        let alert = AlertRef {
            id: 1,
            name: "chips & <b>".into(),
        };
        let item = Payload {
            article_id: "a".into(),
            title: "Curbs | <!channel> & more".into(),
            url: "https://news.test/a?x=1|2>".into(),
            source: "Wire".into(),
            published: None,
            revision: 0,
            topics: vec![],
            entities: vec![],
            evidence: vec![super::super::Evidence {
                topic: "chip_smuggling".into(),
                sentence: "See <https://evil.example|the filing> and <@U024BE7LH>: smuggled chips."
                    .into(),
                terms: vec!["smuggled".into()],
            }],
        };
        let slack = text(&alert, std::slice::from_ref(&item), true);
        assert!(!slack.contains("<!channel>"), "{slack}");
        assert!(!slack.contains("<https://evil"), "{slack}");
        assert!(!slack.contains("<@U"), "{slack}");
        assert!(
            slack.contains("&lt;https://evil.example|the filing&gt;"),
            "{slack}"
        );
        assert!(slack.contains("*smuggled*"), "{slack}");
        assert!(slack.contains("chips &amp; &lt;b&gt;"), "{slack}");
        // One link, to the article, whose text and address cannot end it early.
        assert_eq!(slack.matches('<').count(), 1, "{slack}");
        assert!(
            slack
                .contains("*<https://news.test/a?x=1%7C2%3E|Curbs / &lt;!channel&gt; &amp; more>*"),
            "{slack}"
        );
        // Plain text (ntfy, email) is left as written.
        let plain = text(&alert, &[item], false);
        assert!(plain.contains("<@U024BE7LH>"), "{plain}");
    }

    #[test]
    fn signature_is_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn errors_never_carry_the_channel_url() {
        let sender = Sender::new("wirewatch-test", Duration::from_secs(2)).unwrap();
        let channel = ChannelConfig {
            name: "chat".into(),
            kind: ChannelKind::Slack,
            url: Some("http://127.0.0.1:1/services/T0/B0/SECRETPATH".into()),
            secret_env: None,
            token_env: None,
            smtp_host: None,
            smtp_port: None,
            smtp_security: None,
            smtp_user_env: None,
            smtp_password_env: None,
            from: None,
            to: vec![],
        };
        let err = sender.notice(&channel, "t", "x").await.unwrap_err();
        assert!(matches!(err, SendError::Retry { .. }), "{err}");
        assert!(!err.to_string().contains("SECRETPATH"), "{err}");
    }

    #[test]
    fn retry_decisions() {
        assert!(classify(204, None).is_ok());
        assert!(
            matches!(classify(429, Some("7")), Err(SendError::Retry { retry_after: Some(d), .. }) if d == Duration::from_secs(7))
        );
        assert!(matches!(classify(503, None), Err(SendError::Retry { .. })));
        assert!(matches!(classify(404, None), Err(SendError::Permanent(_))));
    }
}
