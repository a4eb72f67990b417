//! Wiring and lifecycle: opens the stores, starts the writer, the scheduler and the API, and stops
//! them in order on SIGINT / SIGTERM (stop scheduling, drain polls, commit the index, stop the API).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use futures::FutureExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::analyze::Analyzer;
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::ingest::{self, Context, Inflight};
use crate::store::writer::{self, WriteOp, WriterConfig};
use crate::store::{ArticleIndex, SourceStatus, State};

/// Opened stores, shared by the daemon, the API and the CLI.
pub struct Stores {
    pub index: ArticleIndex,
    pub state: State,
}

impl Stores {
    pub fn open(config: &Config) -> anyhow::Result<Stores> {
        std::fs::create_dir_all(&config.daemon.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.daemon.data_dir.display()
            )
        })?;
        Ok(Stores {
            index: ArticleIndex::open(&config.index_dir())?,
            state: State::open(&config.state_path())?,
        })
    }
}

/// How `run` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Daemon,
    Once,
}

/// Runs the daemon (or one poll cycle) until done or signalled. Errors here are start-up errors.
pub async fn run(config: Config, mode: Mode) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let analyzer = Arc::new(
        Analyzer::load(&config.analysis.topics, &config.analysis.gazetteer)
            .context("cannot load the analysis rules")?,
    );
    let stores = Stores::open(&config)?;
    let fetcher = Fetcher::new(&config.fetch)?;
    let inflight = Inflight::default();
    let released = inflight.clone();
    let (writer_tx, writer_handle) = writer::spawn(
        stores.index.clone(),
        stores.state.clone(),
        WriterConfig {
            commit_every_docs: config.daemon.commit_every_docs,
            commit_interval: config.daemon.commit_interval.0,
            on_commit: Some(Box::new(move |ids| released.release(ids))),
        },
    )
    .context(
        "cannot open the index for writing (is another wirewatch running on this data directory?)",
    )?;

    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    spawn_signal_handler(stop.clone());

    let api = if mode == Mode::Daemon {
        let addr: std::net::SocketAddr = config.daemon.listen.parse().context("daemon.listen")?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        info!(%addr, "API listening");
        let api_state =
            crate::api::ApiState::new(stores.index.clone(), stores.state.clone(), config.clone());
        let shutdown = abort.clone();
        Some(tokio::spawn(async move {
            let app = crate::api::router(api_state);
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
            {
                error!(error = %e, "API server failed");
            }
        }))
    } else {
        None
    };

    let ctx = Context {
        config: config.clone(),
        fetcher,
        state: stores.state.clone(),
        analyzer,
        writer: writer_tx.clone(),
        inflight,
    };
    for s in config.sources.iter().filter(|s| !s.enabled) {
        let _ = stores.state.upsert_source(
            &s.name,
            &s.url,
            &s.kind.to_string(),
            Some(SourceStatus::Disabled),
        );
    }
    info!(sources = config.sources.iter().filter(|s| s.enabled).count(), mode = ?mode, "wirewatch started");

    let mut polls = JoinSet::new();
    schedule_loop(&ctx, mode, &stop, &abort, &mut polls).await;

    // Drain: let in-flight polls finish within the grace period, then abandon their fetches.
    let grace = config.daemon.shutdown_grace.0;
    if !polls.is_empty() {
        info!(in_flight = polls.len(), "waiting for in-flight polls");
        let drained =
            tokio::time::timeout(grace, async { while polls.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            warn!("abandoning in-flight fetches after {:?}", grace);
            abort.cancel();
            while polls.join_next().await.is_some() {}
        }
    }
    // Commit everything, then close the writer.
    let (ack_tx, ack_rx) = tokio::sync::oneshot::channel();
    if writer_tx.send(WriteOp::Flush(ack_tx)).await.is_ok()
        && let Ok(Err(e)) = ack_rx.await
    {
        error!(error = %e, "final commit failed");
    }
    drop(ctx);
    drop(writer_tx);
    let joined = tokio::task::spawn_blocking(move || writer_handle.join()).await;
    match joined {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => error!(error = %e, "index writer failed"),
        _ => error!("index writer thread panicked"),
    }
    abort.cancel();
    if let Some(api) = api {
        let _ = tokio::time::timeout(Duration::from_secs(5), api).await;
    }
    info!(documents = stores.index.num_docs(), "wirewatch stopped");
    Ok(())
}

/// Starts polls when they are due; in `Once` mode polls every enabled source once and returns.
async fn schedule_loop(
    ctx: &Context,
    mode: Mode,
    stop: &CancellationToken,
    abort: &CancellationToken,
    polls: &mut JoinSet<String>,
) {
    let limit = Arc::new(Semaphore::new(ctx.config.daemon.max_concurrent_polls));
    let sources: Vec<_> = ctx
        .config
        .sources
        .iter()
        .filter(|s| s.enabled)
        .cloned()
        .collect();
    // Next check per source, from the state database (a restart does not re-poll everything at once).
    let mut next: HashMap<String, chrono::DateTime<Utc>> = HashMap::new();
    for s in &sources {
        let at = match mode {
            Mode::Once => Utc::now(),
            Mode::Daemon => ctx
                .state
                .source(&s.name)
                .ok()
                .flatten()
                .and_then(|st| st.next_check_at)
                .unwrap_or_else(Utc::now),
        };
        next.insert(s.name.clone(), at);
    }
    let mut running: std::collections::HashSet<String> = std::collections::HashSet::new();
    loop {
        let now = Utc::now();
        for s in &sources {
            if running.contains(&s.name) || next.get(&s.name).is_some_and(|at| *at > now) {
                continue;
            }
            running.insert(s.name.clone());
            // Until the poll reports, assume the usual interval; the state holds the real next check.
            next.insert(
                s.name.clone(),
                now + chrono::Duration::from_std(ctx.config.interval_of(s)).unwrap_or_default(),
            );
            let (ctx, s, limit, abort) = (ctx.clone(), s.clone(), limit.clone(), abort.clone());
            polls.spawn(async move {
                let Ok(_permit) = limit.acquire_owned().await else { return s.name };
                // A poll that panics must not take the daemon down, nor lose its source's schedule.
                let poll = std::panic::AssertUnwindSafe(ingest::poll_source(&ctx, &s, &abort));
                if poll.catch_unwind().await.is_err() {
                    error!(source = %s.name, "the poll panicked; the source is retried at its next check");
                }
                s.name
            });
        }
        if mode == Mode::Once && polls.is_empty() {
            return;
        }
        let wake = next
            .iter()
            .filter(|(n, _)| !running.contains(*n))
            .map(|(_, at)| *at)
            .min()
            .map(|at| (at - Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(Duration::from_secs(60))
            .min(Duration::from_secs(60));
        tokio::select! {
            _ = stop.cancelled() => return,
            done = polls.join_next(), if !polls.is_empty() => {
                match done {
                    Some(Ok(name)) => {
                        running.remove(&name);
                        if mode == Mode::Daemon
                            && let Some(at) = ctx.state.source(&name).ok().flatten().and_then(|st| st.next_check_at) {
                                next.insert(name, at);
                            }
                    }
                    Some(Err(e)) => {
                        error!(error = %e, "a poll task failed");
                        // We do not know which source; let every running source be rescheduled when
                        // the map says so (its entry was set at spawn time).
                        running.clear();
                    }
                    None => {}
                }
            }
            _ = tokio::time::sleep(wake), if mode == Mode::Daemon => {}
        }
    }
}

fn spawn_signal_handler(stop: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                error!("cannot install signal handlers");
                return;
            };
            tokio::select! {
                _ = term.recv() => info!("SIGTERM: stopping"),
                _ = int.recv() => info!("SIGINT: stopping"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        stop.cancel();
    });
}
