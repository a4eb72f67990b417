//! Email alerts through a real SMTP server on loopback (Python's aiosmtpd, started by the test):
//! one mail per match for an immediate alert, one digest mail grouping the matches of a daily one.
//!
//! CI installs aiosmtpd (`pip install aiosmtpd`); elsewhere, without it, the test says so and passes.

#![cfg(unix)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

struct Smtp(std::process::Child);

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mails(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            for e in entries.flatten() {
                out.push(std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immediate_mails_and_a_daily_digest() {
    let have = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    // A test that skipped itself when its tool is missing could never fail: it fails instead.
    assert!(
        have,
        "python3 cannot import aiosmtpd: run `bash .ci/test` (the README's test command), which installs it, or `pip install aiosmtpd`"
    );
    let maildir = tempfile::tempdir().unwrap();
    // aiosmtpd's Mailbox handler writes into an existing Maildir.
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir(maildir.path().join(sub)).unwrap();
    }
    let smtp_port = free_port();
    let _smtp = Smtp(
        Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{smtp_port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", smtp_port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let server = serve(Site::default()).await;
    let base = format!("http://{}", server.addr);
    let text = "Officials said the new duty on imported legacy chips would take effect in January, after a review found \
that subsidised production had depressed prices. Importers have until the end of the year to clear goods already in \
transit, and the agency will publish the list of covered products next week. Trade lawyers expect appeals from \
several suppliers, while domestic producers welcomed the decision as overdue after years of complaints about prices.";
    let feed = rss(
        "Trade",
        &[
            (
                "Duty on legacy chips set for January",
                &format!("{base}/articles/1.html"),
                text,
            ),
            (
                "Importers brace for chip duty",
                &format!("{base}/articles/2.html"),
                text,
            ),
        ],
    );
    server
        .site
        .feeds
        .lock()
        .unwrap()
        .insert("/feeds/trade.xml".into(), feed);
    let extra = format!(
        r#"interval = "1h"

[[channel]]
name = "mail"
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_security = "none"
from = "wirewatch <alerts@wirewatch.invalid>"
to = ["desk@wirewatch.invalid"]

[[alert]]
name = "chip duties"
query = "duty AND chips"
channels = ["mail"]

[[alert]]
name = "chip duties digest"
query = "duty AND chips"
channels = ["mail"]
mode = "daily"
"#
    );
    let env = Env::new(
        &(source("Trade", "feed", &server.url("/feeds/trade.xml")) + &extra),
        "",
    );
    let daemon = Daemon::new(
        env.wirewatch(&["run", "--config", env.config.to_str().unwrap()])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    while mails(maildir.path()).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the immediate mails never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The digest is due tomorrow; bring it forward as the clock would.
    let db = rusqlite::Connection::open(env.dir.path().join("data/state.sqlite")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    // A mail is in the mailbox a moment before its outbox row is marked sent.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pending: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if pending == 2 || Instant::now() > deadline {
            assert_eq!(
                pending, 2,
                "the digest's two matches wait for the end of the day"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.execute(
        "UPDATE outbox SET next_attempt_at = 0 WHERE status = 'pending'",
        [],
    )
    .unwrap();
    while mails(maildir.path()).len() < 3 {
        assert!(Instant::now() < deadline, "the digest never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = tokio::task::spawn_blocking(move || daemon.stop("TERM"))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let all = mails(maildir.path());
    assert_eq!(all.len(), 3, "two immediate mails and one digest");
    let digest = all
        .iter()
        .find(|m| m.contains("2 new articles"))
        .expect("a digest mail");
    assert!(
        digest.contains("Duty on legacy chips set for January")
            && digest.contains("Importers brace for chip duty"),
        "{digest}"
    );
    let single = all
        .iter()
        .find(|m| m.contains("Subject: [wirewatch] chip duties: Duty on legacy chips"))
        .expect("an immediate mail");
    assert!(single.contains("To: desk@wirewatch.invalid"), "{single}");
    assert!(
        single.contains(&format!("{base}/articles/1.html")),
        "{single}"
    );
}
