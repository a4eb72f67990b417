//! The index writer task: the only owner of the tantivy `IndexWriter` and of state writes.
//!
//! Runs on its own thread (tantivy's writer calls block), fed by a bounded channel so that a slow
//! disk slows the pollers down instead of growing memory. Commits after N documents, after T
//! seconds, when a source's poll ends, on demand, and when the channel closes; only after a commit
//! does it record the articles as seen and advance the source state, so a crash never leaves state
//! ahead of the index.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info};

use super::index::{ArticleIndex, ArticleWriter, IndexError, StoredArticle};
use super::state::{NewMatch, SeenArticle, SourceUpdate, State};

/// What pipeline tasks send to the writer.
pub enum WriteOp {
    /// An article to upsert; `mark_seen` records it as done after the commit (false for an
    /// article stored with its feed text while its page is still to be fetched).
    Article {
        article: Box<StoredArticle>,
        mark_seen: bool,
        /// The feed's last-updated time for the entry, recorded with it.
        updated: Option<chrono::DateTime<chrono::Utc>>,
    },
    SourceDone(Box<SourceUpdate>),
    /// An entry that is done without an article (its link led to a login or error page): recorded
    /// as seen with the next commit, so later polls do not fetch it again.
    Seen(SeenArticle),
    /// Commit now; the answer says whether it worked.
    Flush(oneshot::Sender<Result<(), String>>),
}

/// Handle to send work to the writer.
pub type WriterTx = mpsc::Sender<WriteOp>;

pub type OnCommit = Box<dyn Fn(Vec<String>, usize, Duration) + Send>;

/// Runs saved searches over the articles of a commit (on the writer thread, after the commit).
pub type Matcher = Box<dyn FnMut(&ArticleIndex, &[StoredArticle]) -> Vec<NewMatch> + Send>;

/// Alerting's part in a commit: find matches; hear about the ones that were new.
#[derive(Default)]
pub struct AlertHooks {
    pub matcher: Option<Matcher>,
    pub on_matches: Option<Box<dyn Fn(Vec<NewMatch>) + Send>>,
}

pub struct WriterConfig {
    pub commit_every_docs: usize,
    pub commit_interval: Duration,
    /// Told after each commit: the ids recorded as seen (the pollers' in-flight claims end
    /// there), the number of documents, and how long the commit took.
    pub on_commit: Option<OnCommit>,
    /// Called on every turn of the writer loop (at least every few seconds): the watchdog's proof
    /// of life.
    pub heartbeat: Option<Box<dyn Fn() + Send>>,
    pub alerts: AlertHooks,
}

/// Starts the writer thread. It ends after the last sender is dropped, with a final commit.
pub fn spawn(
    index: ArticleIndex,
    state: State,
    config: WriterConfig,
) -> Result<(WriterTx, std::thread::JoinHandle<Result<(), IndexError>>), IndexError> {
    let writer = index.writer()?;
    let (tx, rx) = mpsc::channel(256);
    let handle = std::thread::Builder::new()
        .name("index-writer".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(|e| {
                    IndexError::Tantivy(tantivy::TantivyError::SystemError(e.to_string()))
                })?;
            rt.block_on(run(writer, index, state, config, rx))
        })
        .map_err(|e| IndexError::Tantivy(tantivy::TantivyError::SystemError(e.to_string())))?;
    Ok((tx, handle))
}

struct Pending {
    docs: usize,
    /// Every article added since the last commit (saved searches run over these).
    articles: Vec<StoredArticle>,
    seen: Vec<SeenArticle>,
    /// Articles whose last version in this commit holds only the feed's text.
    provisional: std::collections::HashSet<String>,
    updates: Vec<SourceUpdate>,
    since: Option<tokio::time::Instant>,
}

async fn run(
    mut writer: ArticleWriter,
    index: ArticleIndex,
    state: State,
    mut config: WriterConfig,
    mut rx: mpsc::Receiver<WriteOp>,
) -> Result<(), IndexError> {
    let mut p = Pending {
        docs: 0,
        articles: Vec::new(),
        seen: Vec::new(),
        provisional: Default::default(),
        updates: Vec::new(),
        since: None,
    };
    loop {
        if let Some(beat) = &config.heartbeat {
            beat();
        }
        let deadline = p.since.map(|s| s + config.commit_interval);
        let op = tokio::select! {
            op = rx.recv() => op,
            _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
            _ = sleep_until(deadline) => {
                let _ = commit(&mut writer, &index, &state, &mut p, &mut config);
                continue;
            }
        };
        match op {
            None => {
                if let Err(e) = commit(&mut writer, &index, &state, &mut p, &mut config) {
                    return Err(IndexError::Tantivy(tantivy::TantivyError::SystemError(e)));
                }
                info!("index writer stopped after its final commit");
                return Ok(());
            }
            Some(WriteOp::Article {
                article: a,
                mark_seen,
                updated,
            }) => {
                if let Err(e) = writer.upsert(&a) {
                    error!(article = %a.url, error = %e, "could not add article to the index");
                    continue;
                }
                if mark_seen {
                    p.seen.push(SeenArticle {
                        id: a.id.clone(),
                        source: a.source.clone(),
                        url: a.canonical_url.clone(),
                        updated,
                    });
                    p.provisional.remove(&a.id);
                } else {
                    p.provisional.insert(a.id.clone());
                }
                p.articles.push(*a);
                p.docs += 1;
                p.since.get_or_insert_with(tokio::time::Instant::now);
                if p.docs >= config.commit_every_docs {
                    let _ = commit(&mut writer, &index, &state, &mut p, &mut config);
                }
            }
            Some(WriteOp::Seen(seen)) => p.seen.push(seen),
            Some(WriteOp::SourceDone(u)) => {
                if p.docs == 0 {
                    let seen = std::mem::take(&mut p.seen);
                    if let Err(e) = state.record_commit(&seen, &[*u]) {
                        error!(error = %e, "could not record source state");
                        p.seen = seen;
                    }
                } else {
                    // A poll that ended has sent all it found: committing now makes its articles
                    // searchable and its alerts go out without waiting for the commit timer.
                    p.updates.push(*u);
                    let _ = commit(&mut writer, &index, &state, &mut p, &mut config);
                }
            }
            Some(WriteOp::Flush(ack)) => {
                let r = commit(&mut writer, &index, &state, &mut p, &mut config);
                let _ = ack.send(r);
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn commit(
    writer: &mut ArticleWriter,
    index: &ArticleIndex,
    state: &State,
    p: &mut Pending,
    config: &mut WriterConfig,
) -> Result<(), String> {
    let (on_commit, alerts) = (&config.on_commit, &mut config.alerts);
    if p.docs == 0 && p.updates.is_empty() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    if p.docs > 0
        && let Err(e) = writer.commit()
    {
        // Keep everything pending: the next commit retries, and the state stays behind the index.
        error!(error = %e, "index commit failed");
        p.since = Some(tokio::time::Instant::now());
        return Err(e.to_string());
    }
    // Saved searches see the new documents only after a reload; their matches are recorded in the
    // same transaction as the articles, so no article is ever recorded without its alerts.
    let _ = index.reload();
    let mut matches = match (&mut alerts.matcher, p.articles.is_empty()) {
        (Some(matcher), false) => matcher(index, &p.articles),
        _ => Vec::new(),
    };
    // A provisional article's completion later is no update of what was matched.
    for m in matches
        .iter_mut()
        .filter(|m| p.provisional.contains(&m.article_id))
    {
        m.fingerprint.clear();
    }
    let recorded = match state.record_commit_with_matches(&p.seen, &p.updates, &matches) {
        Ok(fresh) => {
            if let (Some(notify), false) = (&alerts.on_matches, fresh.is_empty()) {
                notify(fresh);
            }
            Ok(())
        }
        // The articles are in the index; they will be seen as new once more, upserted and
        // matched again, which is harmless. A `Flush` hears of it: an index node then leaves
        // the batch unacknowledged, so that its alert matches are recorded at the redelivery.
        Err(e) => {
            error!(error = %e, "recording the commit in the state database failed");
            Err(format!(
                "recording the commit in the state database failed: {e}"
            ))
        }
    };
    if let Some(notify) = on_commit {
        notify(
            p.seen.iter().map(|a| a.id.clone()).collect(),
            p.docs,
            started.elapsed(),
        );
    }
    debug!(
        docs = p.docs,
        ms = started.elapsed().as_millis() as u64,
        "index commit"
    );
    p.docs = 0;
    p.articles.clear();
    p.seen.clear();
    p.provisional.clear();
    p.updates.clear();
    p.since = None;
    recorded
}
