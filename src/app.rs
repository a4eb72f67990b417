//! Wiring and lifecycle: opens the stores, starts the writer, the scheduler and the API, reloads
//! on SIGHUP, and stops in order on SIGINT / SIGTERM (stop scheduling, drain polls, commit the
//! index, stop the API).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use futures::FutureExt;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::alert;
use crate::analyze::Analyzer;
use crate::cluster::{self, Cluster, Role, lease::Leases};
use crate::config::{Config, SourceConfig};
use crate::fetch::Fetcher;
use crate::ingest::{self, Context, Inflight};
use crate::notify::Notifier;
use crate::store::writer::{self, AlertHooks, WriteOp, WriterConfig};
use crate::store::{ArticleIndex, SourceStatus, State};
use crate::telemetry::{Heartbeats, Metrics};

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

/// The configuration in force; replaced whole on a successful reload.
pub type SharedConfig = Arc<RwLock<Arc<Config>>>;

/// Live signals of the daemon that the API reports.
pub struct Health {
    pub ready: AtomicBool,
    pub heartbeats: Heartbeats,
}

/// Runs the daemon (or one poll cycle) until done or signalled, with the rules the caller loaded
/// (and checked) from `config`. Errors here are start-up errors.
pub async fn run(config: Config, mode: Mode, analyzer: Analyzer) -> anyhow::Result<()> {
    run_as(config, mode, analyzer, Role::All).await
}

/// As [`run`], as one role of a cluster: `Fetch` polls and publishes (no index, no API); `Index`
/// consumes into the archive and serves the API (no polling). Both need `[cluster]` and a daemon.
pub async fn run_as(
    config: Config,
    mode: Mode,
    analyzer: Analyzer,
    role: Role,
) -> anyhow::Result<()> {
    let cluster = match (role, &config.cluster) {
        (Role::All, _) => None,
        (_, None) => anyhow::bail!("--role fetch and --role index need a [cluster] section"),
        (_, Some(c)) => Some(Cluster::connect(c, role_name(role)).await?),
    };
    if let (Role::Fetch, Some(cluster)) = (role, &cluster) {
        return run_fetch(config, analyzer, cluster.clone()).await;
    }
    let consumer = match &cluster {
        Some(c) => Some(c.consumer().await?),
        None => None,
    };
    let config = Arc::new(config);
    let notifier = Arc::new(Notifier::from_env());
    let stores = Stores::open(&config)?;
    let fetcher = Fetcher::new(&config.fetch)?;
    // Restricted-party lists: what the data directory holds now; a one-shot run fetches lists
    // never fetched first, a daemon in its refresh task.
    let watchlist_store = crate::watchlist::store::Store::new(&config.daemon.data_dir);
    let slot: crate::analyze::WatchlistSlot = Default::default();
    if !config.watchlists.is_empty() {
        let matcher = if mode == Mode::Once {
            let (loaded, errors) = crate::watchlist::store::load_all(
                &watchlist_store,
                Some(&fetcher),
                &config.watchlists,
                &CancellationToken::new(),
            )
            .await;
            for e in errors {
                warn!(error = %e, "list not loaded");
            }
            (!loaded.is_empty()).then(|| crate::watchlist::Matcher::new(loaded))
        } else {
            crate::watchlist::store::load_stored(&watchlist_store, &config.watchlists)
        };
        if let (Some(m), Ok(mut s)) = (matcher, slot.write()) {
            *s = Some(Arc::new(m));
        }
    }
    let analyzer = Arc::new(analyzer.with_watchlists(slot.clone()));
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health {
        ready: AtomicBool::new(false),
        heartbeats: Heartbeats::default(),
    });
    let inflight = Inflight::default();
    let released = inflight.clone();
    let alerting = Alerting::start(&stores.state, &config, metrics.clone())?;
    let matcher_registry = alerting.registry.clone();
    let mut compiled = alert::matcher::Compiled::default();
    let (match_stream, match_wake, match_metrics, names) = (
        alerting.stream.clone(),
        alerting.wake.clone(),
        metrics.clone(),
        alerting.registry.clone(),
    );
    let writer_metrics = metrics.clone();
    let writer_health = health.clone();
    let (writer_tx, writer_handle) = writer::spawn(
        stores.index.clone(),
        stores.state.clone(),
        WriterConfig {
            commit_every_docs: config.daemon.commit_every_docs,
            commit_interval: config.daemon.commit_interval.0,
            on_commit: Some(Box::new(move |ids, docs, took| {
                writer_metrics.committed(docs, took);
                released.release(ids);
            })),
            heartbeat: Some(Box::new(move || writer_health.heartbeats.writer())),
            alerts: AlertHooks {
                // The closure owns the compiled saved searches from one commit to the next.
                matcher: Some(Box::new(move |index, articles| {
                    let Ok(alerts) = matcher_registry.read().map(|r| r.clone()) else {
                        return Vec::new();
                    };
                    alert::matcher::match_batch(index, &alerts, &mut compiled, articles)
                })),
                on_matches: Some(Box::new(move |fresh| {
                    match_metrics.alert_matches.inc_by(fresh.len() as u64);
                    let names: HashMap<i64, String> = names
                        .read()
                        .map(|r| r.iter().map(|a| (a.id, a.spec.name.clone())).collect())
                        .unwrap_or_default();
                    for m in fresh {
                        if let Ok(article) = serde_json::from_str(&m.payload) {
                            let name = names.get(&m.alert_id).cloned().unwrap_or_default();
                            // No listener is fine: the stream is for whoever watches right now.
                            let _ = match_stream.send(alert::LiveMatch {
                                alert: alert::AlertRef {
                                    id: m.alert_id,
                                    name,
                                },
                                article,
                            });
                        }
                    }
                    match_wake.notify_one();
                })),
            },
        },
    )
    .context(
        "cannot open the index for writing (is another wirewatch running on this data directory?)",
    )?;

    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    let (reload_tx, reload_rx) = mpsc::channel(4);
    spawn_signal_handlers(stop.clone(), reload_tx);

    let shared_config: SharedConfig = Arc::new(RwLock::new(config.clone()));
    // WebSub needs the API listener for its callbacks, so a one-shot run only polls.
    let (push_tx, push_rx) = mpsc::channel(64);
    let websub = match (&config.daemon.public_url, mode) {
        // An index node polls nothing, so it subscribes to nothing either.
        (Some(url), Mode::Daemon) if role == Role::All => Some(
            crate::websub::WebSub::new(
                stores.state.clone(),
                url,
                &config.fetch.user_agent,
                config.fetch.timeout.0,
                fetcher.policy(),
            )
            .map_err(anyhow::Error::msg)?,
        ),
        _ => None,
    };
    let callbacks = websub.clone().map(|websub| crate::websub::Callback {
        websub,
        pushes: push_tx,
    });
    let api = if mode == Mode::Daemon {
        // Refuses a listener beyond loopback without a token before anything listens.
        let api_token = config.api_token().map_err(|e| anyhow::anyhow!("{e}"))?;
        let addr: std::net::SocketAddr = config.daemon.listen.parse().context("daemon.listen")?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        info!(addr = %listener.local_addr().unwrap_or(addr), "API listening");
        let api_state = crate::api::ApiState {
            index: stores.index.clone(),
            state: stores.state.clone(),
            config: shared_config.clone(),
            metrics: metrics.clone(),
            health: health.clone(),
            alerts: crate::api::AlertApi {
                registry: alerting.registry.clone(),
                stream: alerting.stream.clone(),
                token: api_token,
                streams: Arc::new(Semaphore::new(config.daemon.max_streams)),
                closing: abort.clone(),
            },
        };
        let shutdown = abort.clone();
        Some(tokio::spawn(async move {
            let app = crate::api::router_with(api_state, callbacks.map(crate::websub::routes));
            let serve = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await });
            if let Err(e) = serve.await {
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
        metrics: metrics.clone(),
        ops: alerting.ops_channel(&config),
        websub: websub.clone(),
    };
    let renewals = websub.map(|w| tokio::spawn(w.run_renewals(stop.clone())));
    let watchlists = (mode == Mode::Daemon && !config.watchlists.is_empty()).then(|| {
        tokio::spawn(crate::watchlist::store::run(
            watchlist_store,
            ctx.fetcher.clone(),
            config.watchlists.clone(),
            slot,
            stop.clone(),
        ))
    });
    mark_disabled(&stores.state, &config.sources);
    health.heartbeats.scheduler();
    health.heartbeats.writer();
    // Ready: the index is open, the writer runs, the API listens.
    health.ready.store(true, Ordering::SeqCst);
    notifier.ready();
    info!(sources = config.sources.iter().filter(|s| s.enabled).count(), mode = ?mode, "wirewatch started");
    let background = spawn_watchdog_and_status(
        notifier.clone(),
        health.clone(),
        metrics.clone(),
        stores.index.clone(),
        config.clone(),
        stop.clone(),
    );

    let stale_watch = spawn_stale_watch(
        stores.state.clone(),
        shared_config.clone(),
        &alerting,
        stop.clone(),
    );
    let delivery = tokio::spawn(
        alerting
            .worker(stores.state.clone(), metrics.clone())
            .run(stop.clone()),
    );

    let mut polls = JoinSet::new();
    // An index node takes its articles from the stream; its scheduler only reloads the
    // configuration (alerts) and waits for the stop.
    let intake = consumer.map(|consumer| {
        tokio::spawn(cluster::consume::run(
            consumer,
            writer_tx.clone(),
            stores.state.clone(),
            metrics.clone(),
            stop.clone(),
        ))
    });
    let scheduler = Scheduler {
        mode,
        stop: &stop,
        abort: &abort,
        health: &health,
        notifier: &notifier,
        shared_config: &shared_config,
        config_path: config.file.clone(),
        alerting: &alerting,
        gate: if intake.is_some() {
            Gate::Never
        } else {
            Gate::All
        },
    };
    scheduler.run(ctx, reload_rx, push_rx, &mut polls).await;
    if let Some(intake) = intake {
        // The batch in hand is committed and acknowledged before the writer closes.
        let _ = intake.await;
    }
    notifier.stopping();
    health.ready.store(false, Ordering::SeqCst);

    drain(&mut polls, &shared_config, &abort).await;
    // A daemon gets here because `stop` was cancelled; a one-shot run because its polls are
    // done, and its delivery worker and watchers must hear so too (they waited out their 5 s
    // grace on every `run --once` before).
    stop.cancel();

    // Commit everything, then close the writer.
    let (ack_tx, ack_rx) = tokio::sync::oneshot::channel();
    if writer_tx.send(WriteOp::Flush(ack_tx)).await.is_ok()
        && let Ok(Err(e)) = ack_rx.await
    {
        error!(error = %e, "final commit failed");
    }
    drop(writer_tx);
    let joined = tokio::task::spawn_blocking(move || writer_handle.join()).await;
    match joined {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => error!(error = %e, "index writer failed"),
        _ => error!("index writer thread panicked"),
    }
    // Deliveries in flight finish or stay pending in the outbox for the next start.
    let _ = tokio::time::timeout(Duration::from_secs(5), delivery).await;
    if mode == Mode::Once {
        // A one-shot run (cron) sends what it found before it exits.
        let once = CancellationToken::new();
        let worker = alerting.worker(stores.state.clone(), metrics.clone());
        let _ = tokio::time::timeout(Duration::from_secs(20), worker.tick(&once)).await;
    }
    abort.cancel();
    background.abort();
    if let Some(renewals) = renewals {
        renewals.abort();
    }
    if let Some(watchlists) = watchlists {
        watchlists.abort();
    }
    stale_watch.abort();
    if let Some(api) = api {
        let _ = tokio::time::timeout(Duration::from_secs(5), api).await;
    }
    info!(documents = stores.index.num_docs(), "wirewatch stopped");
    Ok(())
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::All => "all",
        Role::Fetch => "fetch",
        Role::Index => "index",
    }
}

/// Lets in-flight polls finish within the grace period, then abandons their fetches.
async fn drain(
    polls: &mut JoinSet<(String, Option<chrono::DateTime<Utc>>)>,
    config: &SharedConfig,
    abort: &CancellationToken,
) {
    let grace = config
        .read()
        .map(|c| c.daemon.shutdown_grace.0)
        .unwrap_or(Duration::from_secs(10));
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
}

/// A fetch node: polls the sources it holds leases for and publishes what it finds to the
/// stream instead of writing an archive. Its state database (validators, next checks, seen
/// articles) is its own; no API listens.
async fn run_fetch(config: Config, analyzer: Analyzer, cluster: Cluster) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let notifier = Arc::new(Notifier::from_env());
    std::fs::create_dir_all(&config.daemon.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.daemon.data_dir.display()
        )
    })?;
    let state = State::open(&config.state_path())?;
    let fetcher = Fetcher::new(&config.fetch)?;
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health {
        ready: AtomicBool::new(false),
        heartbeats: Heartbeats::default(),
    });
    let inflight = Inflight::default();
    // Only for the operators' channel and reloads: alerts are matched and sent by the index node.
    let alerting = Alerting::start(&state, &config, metrics.clone())?;
    let bucket = cluster.leases().await?;
    let ttl = cluster.config.lease_ttl.0;

    let (publish_tx, publish_rx) = mpsc::channel(256);
    let publisher = tokio::spawn(
        cluster::publish::Publisher {
            cluster,
            state: state.clone(),
            inflight: inflight.clone(),
            metrics: metrics.clone(),
        }
        .run(publish_rx),
    );

    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    let (reload_tx, reload_rx) = mpsc::channel(4);
    spawn_signal_handlers(stop.clone(), reload_tx);
    let shared_config: SharedConfig = Arc::new(RwLock::new(config.clone()));

    let leases = Leases::new(ttl);
    // Leases go back only after everything polled under them is on the stream.
    let release = CancellationToken::new();
    let node = cluster::lease::node_id();
    info!(node, "fetch node starting");
    let sources = {
        let config = shared_config.clone();
        move || {
            config
                .read()
                .map(|c| {
                    c.sources
                        .iter()
                        .filter(|s| s.enabled)
                        .map(|s| s.name.clone())
                        .collect()
                })
                .unwrap_or_default()
        }
    };
    let leasing = tokio::spawn(leases.clone().run(bucket, node, sources, release.clone()));

    let ctx = Context {
        config: config.clone(),
        fetcher,
        state: state.clone(),
        analyzer: Arc::new(analyzer),
        writer: publish_tx,
        inflight,
        metrics: metrics.clone(),
        ops: alerting.ops_channel(&config),
        websub: None,
    };
    mark_disabled(&state, &config.sources);
    health.ready.store(true, Ordering::SeqCst);
    notifier.ready();
    info!(
        sources = config.sources.iter().filter(|s| s.enabled).count(),
        "wirewatch fetch node started"
    );
    let (_push_tx, push_rx) = mpsc::channel(1);
    let mut polls = JoinSet::new();
    let scheduler = Scheduler {
        mode: Mode::Daemon,
        stop: &stop,
        abort: &abort,
        health: &health,
        notifier: &notifier,
        shared_config: &shared_config,
        config_path: config.file.clone(),
        alerting: &alerting,
        gate: Gate::Leased(leases),
    };
    scheduler.run(ctx, reload_rx, push_rx, &mut polls).await;
    notifier.stopping();
    drain(&mut polls, &shared_config, &abort).await;
    drop(polls);
    // Every sender is gone with the polls and the context: the publisher ends after the last ack.
    let _ = publisher.await;
    release.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), leasing).await;
    info!("wirewatch fetch node stopped");
    Ok(())
}

/// Which sources a scheduler may poll.
enum Gate {
    /// Every enabled source (the single process).
    All,
    /// Those this fetch node holds the lease of.
    Leased(Leases),
    /// None (an index node).
    Never,
}

impl Gate {
    fn allows(&self, source: &str) -> bool {
        match self {
            Gate::All => true,
            Gate::Leased(leases) => leases.holds(source),
            Gate::Never => false,
        }
    }
}

fn mark_disabled(state: &State, sources: &[SourceConfig]) {
    for s in sources.iter().filter(|s| !s.enabled) {
        let _ = state.upsert_source(
            &s.name,
            &s.url,
            &s.kind.to_string(),
            Some(SourceStatus::Disabled),
        );
    }
}

/// Pings the watchdog while the scheduler and the writer are alive, and keeps STATUS current.
/// Tells operators when a source goes stale (answers, but brings nothing new for many times its
/// interval), once per episode.
fn spawn_stale_watch(
    state: State,
    config: SharedConfig,
    alerting: &Alerting,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let sender = alerting.sender.clone();
    tokio::spawn(async move {
        let mut reported = std::collections::HashSet::new();
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Ok(config) = config.read().map(|c| c.clone()) else {
                continue;
            };
            let Some(ops) = config
                .daemon
                .operators_channel
                .as_ref()
                .and_then(|n| config.channels.iter().find(|c| &c.name == n))
                .map(|channel| alert::ops::OpsChannel {
                    sender: sender.clone(),
                    channel: channel.clone(),
                })
            else {
                continue;
            };
            let Ok(states) = state.sources() else {
                continue;
            };
            let now = Utc::now();
            for s in config.sources.iter().filter(|s| s.enabled) {
                let stale = states
                    .iter()
                    .find(|x| x.name == s.name)
                    .is_some_and(|x| x.is_stale(config.interval_of(s), now));
                if stale && reported.insert(s.name.clone()) {
                    ops.notify(
                        format!("wirewatch: source \"{}\" is stale", s.name),
                        "it answers but has brought nothing new for more than 20 times its interval; check that the feed still publishes".into(),
                    )
                    .await;
                } else if !stale {
                    reported.remove(&s.name);
                }
            }
        }
    })
}

fn spawn_watchdog_and_status(
    notifier: Arc<Notifier>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    index: ArticleIndex,
    config: Arc<Config>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let period = notifier
        .watchdog_timeout()
        .map(|t| t / 3)
        .unwrap_or(Duration::from_secs(10))
        .max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            match health.heartbeats.check() {
                Ok(()) => notifier.watchdog(),
                // No ping: systemd's watchdog restarts a daemon whose parts have stopped.
                Err(part) => warn!(
                    part,
                    "not pinging the watchdog: a part of the daemon is not alive"
                ),
            }
            let docs = index.num_docs();
            metrics.index_documents.set(docs as i64);
            metrics
                .index_size_bytes
                .set(dir_size(&config.daemon.data_dir) as i64);
            let last = metrics
                .last_poll()
                .map(|t| {
                    format!(
                        "last poll {}s ago",
                        (Utc::now().timestamp() as u64).saturating_sub(t)
                    )
                })
                .unwrap_or_else(|| "no poll yet".into());
            notifier.status(&format!(
                "{} sources, {docs} articles, {last}",
                config.sources.iter().filter(|s| s.enabled).count()
            ));
        }
    })
}

fn dir_size(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

struct Scheduler<'a> {
    mode: Mode,
    stop: &'a CancellationToken,
    abort: &'a CancellationToken,
    health: &'a Health,
    notifier: &'a Notifier,
    shared_config: &'a SharedConfig,
    config_path: Option<PathBuf>,
    alerting: &'a Alerting,
    gate: Gate,
}

impl Scheduler<'_> {
    /// Starts polls when they are due; in `Once` mode polls every enabled source once and returns.
    async fn run(
        &self,
        mut ctx: Context,
        mut reload: mpsc::Receiver<()>,
        mut pushes: mpsc::Receiver<crate::websub::Push>,
        polls: &mut JoinSet<(String, Option<chrono::DateTime<Utc>>)>,
    ) {
        // Pushed documents being ingested. Dropped (aborted) at a stop: the feed still lists
        // their entries, so the next poll after a restart finds them.
        let mut pushing = JoinSet::new();
        let mut limit = Arc::new(Semaphore::new(ctx.config.daemon.max_concurrent_polls));
        let mut sources: Vec<SourceConfig> = ctx
            .config
            .sources
            .iter()
            .filter(|s| s.enabled)
            .cloned()
            .collect();
        // Next check per source, from the state database (a restart does not re-poll everything at once).
        let mut next: HashMap<String, chrono::DateTime<Utc>> = HashMap::new();
        self.plan(&ctx, &sources, &mut next);
        let mut running: std::collections::HashSet<String> = std::collections::HashSet::new();
        loop {
            self.health.heartbeats.scheduler();
            let now = Utc::now();
            for s in &sources {
                if running.contains(&s.name)
                    || next.get(&s.name).is_some_and(|at| *at > now)
                    || !self.gate.allows(&s.name)
                {
                    continue;
                }
                running.insert(s.name.clone());
                // Until the poll reports, assume the usual interval; the state holds the real next check.
                next.insert(
                    s.name.clone(),
                    now + chrono::Duration::from_std(ctx.config.interval_of(s)).unwrap_or_default(),
                );
                let (ctx, s, limit, abort, stop) = (
                    ctx.clone(),
                    s.clone(),
                    limit.clone(),
                    self.abort.clone(),
                    self.stop.clone(),
                );
                polls.spawn(async move {
                    // A poll still waiting for its turn when the daemon is told to stop never
                    // starts: the drain is for work in flight, not for work queued behind it.
                    let permit = tokio::select! {
                        biased;
                        _ = stop.cancelled() => return (s.name, None),
                        p = limit.acquire_owned() => p,
                    };
                    let Ok(_permit) = permit else { return (s.name, None) };
                    // A poll that panics must not take the daemon down, nor lose its source's schedule.
                    let poll = std::panic::AssertUnwindSafe(ingest::poll_source(&ctx, &s, &abort));
                    match poll.catch_unwind().await {
                        Ok(next) => (s.name, Some(next)),
                        Err(_) => {
                            error!(source = %s.name, "the poll panicked; the source is retried at its next check");
                            (s.name, None)
                        }
                    }
                });
            }
            if self.mode == Mode::Once && polls.is_empty() {
                return;
            }
            let leases_changed = async {
                match &self.gate {
                    Gate::Leased(leases) => leases.changed.notified().await,
                    _ => std::future::pending().await,
                }
            };
            // Sources this node may not poll (no lease; an index node) do not set the wake-up,
            // or a due one would make the loop spin: a new lease wakes it instead.
            let wake = next
                .iter()
                .filter(|(n, _)| !running.contains(*n) && self.gate.allows(n))
                .map(|(_, at)| *at)
                .min()
                .map(|at| (at - Utc::now()).to_std().unwrap_or_default())
                .unwrap_or(Duration::from_secs(10))
                // Wake at least every 10 s so the heartbeat stays fresh for the watchdog.
                .min(Duration::from_secs(10));
            tokio::select! {
                _ = self.stop.cancelled() => return,
                Some(()) = reload.recv(), if self.mode == Mode::Daemon => {
                    if let Some(new_ctx) = self.reload(&ctx) {
                        ctx = new_ctx;
                        limit = Arc::new(Semaphore::new(ctx.config.daemon.max_concurrent_polls));
                        sources = ctx.config.sources.iter().filter(|s| s.enabled).cloned().collect();
                        next.retain(|name, _| sources.iter().any(|s| &s.name == name));
                        self.plan(&ctx, &sources, &mut next);
                        self.notifier.ready();
                    }
                }
                done = polls.join_next(), if !polls.is_empty() => {
                    if let Some(Ok((name, planned))) = done {
                        running.remove(&name);
                        // The poll's own plan: the state database has it only after the writer's
                        // next commit, and reading the old time there would poll again at once.
                        let stored = || ctx.state.source(&name).ok().flatten().and_then(|st| st.next_check_at);
                        if self.mode == Mode::Daemon
                            && let Some(at) = planned.or_else(stored)
                        {
                            next.insert(name, at);
                        }
                    }
                }
                Some(push) = pushes.recv(), if ctx.websub.is_some() => {
                    if let Some(s) = sources.iter().find(|s| s.name == push.source) {
                        let (ctx, s, abort) = (ctx.clone(), s.clone(), self.abort.clone());
                        pushing.spawn(async move { ingest::ingest_push(&ctx, &s, push, &abort).await });
                    }
                }
                Some(_) = pushing.join_next(), if !pushing.is_empty() => {}
                _ = tokio::time::sleep(wake), if self.mode == Mode::Daemon => {}
                // A lease was taken: its source may be due now.
                _ = leases_changed => {}
            }
        }
    }

    /// First check of sources not planned yet: now in `Once` mode, else the stored next check.
    fn plan(
        &self,
        ctx: &Context,
        sources: &[SourceConfig],
        next: &mut HashMap<String, chrono::DateTime<Utc>>,
    ) {
        for s in sources {
            if next.contains_key(&s.name) {
                continue;
            }
            let at = match self.mode {
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
    }

    /// Re-reads the configuration, rules and gazetteer. On any problem the old ones stay in force.
    fn reload(&self, ctx: &Context) -> Option<Context> {
        let Some(path) = &self.config_path else {
            warn!("SIGHUP: no configuration file to reload");
            return None;
        };
        self.notifier.reloading();
        info!(config = %path.display(), "SIGHUP: reloading the configuration");
        let refused = |what: String| {
            error!("reload refused, the running configuration stays in force: {what}");
            self.notifier.ready();
            None
        };
        let config = match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                for p in &e.problems {
                    error!(problem = %p, "configuration problem");
                }
                return refused(format!(
                    "{} problem(s) in {}",
                    e.problems.len(),
                    path.display()
                ));
            }
        };
        // The lists in force stay: they are refreshed on their own schedule.
        let analyzer = match config.analysis.analyzer() {
            Ok(a) => Arc::new(match ctx.analyzer.watchlists() {
                Some(slot) => a.with_watchlists(slot.clone()),
                None => a,
            }),
            Err(e) => return refused(e.to_string()),
        };
        if config.watchlists != ctx.config.watchlists {
            warn!("[[watchlist]] changes take effect at the next restart");
        }
        let fetcher = if config.fetch == ctx.config.fetch {
            ctx.fetcher.clone()
        } else {
            match Fetcher::new(&config.fetch) {
                Ok(f) => f,
                Err(e) => return refused(e.to_string()),
            }
        };
        if config.daemon.data_dir != ctx.config.daemon.data_dir
            || config.daemon.listen != ctx.config.daemon.listen
        {
            warn!("data_dir and listen changes take effect at the next restart");
        }
        mark_disabled(&ctx.state, &config.sources);
        if let Err(e) = self.alerting.apply(&ctx.state, &config) {
            return refused(format!("alerts: {e}"));
        }
        let config = Arc::new(config);
        if let Ok(mut shared) = self.shared_config.write() {
            *shared = config.clone();
        }
        info!(
            sources = config.sources.iter().filter(|s| s.enabled).count(),
            "configuration reloaded"
        );
        Some(Context {
            ops: self.alerting.ops_channel(&config),
            config,
            fetcher,
            analyzer,
            ..ctx.clone()
        })
    }
}

/// Alerting's shared parts: the alerts in force, the live stream, the delivery settings.
pub struct Alerting {
    pub registry: alert::Registry,
    pub stream: alert::Stream,
    pub wake: Arc<tokio::sync::Notify>,
    settings: alert::deliver::SharedSettings,
    sender: Arc<alert::channels::Sender>,
}

impl Alerting {
    fn start(state: &State, config: &Config, _metrics: Arc<Metrics>) -> anyhow::Result<Alerting> {
        let sender =
            alert::channels::Sender::new(&config.fetch.user_agent, config.delivery.timeout.0)
                .map_err(|e| anyhow::anyhow!("cannot build the alert delivery client: {e}"))?;
        let alerting = Alerting {
            registry: Arc::new(RwLock::new(Arc::new(Vec::new()))),
            stream: tokio::sync::broadcast::channel(crate::api::MAX_STREAM_BACKLOG).0,
            wake: Arc::new(tokio::sync::Notify::new()),
            settings: Arc::new(RwLock::new(alert::deliver::Settings {
                channels: HashMap::new(),
                delivery: config.delivery.clone(),
            })),
            sender: Arc::new(sender),
        };
        alerting
            .apply(state, config)
            .context("cannot load the saved searches")?;
        Ok(alerting)
    }

    /// Makes the stored alerts and the delivery settings match a configuration.
    fn apply(&self, state: &State, config: &Config) -> Result<(), crate::store::StateError> {
        alert::store::sync_config(state, &config.alerts)?;
        let alerts = alert::store::list(state)?;
        if let Ok(mut r) = self.registry.write() {
            *r = Arc::new(alerts);
        }
        if let Ok(mut s) = self.settings.write() {
            *s = alert::deliver::Settings {
                channels: config
                    .channels
                    .iter()
                    .map(|c| (c.name.clone(), c.clone()))
                    .collect(),
                delivery: config.delivery.clone(),
            };
        }
        Ok(())
    }

    /// The operators' channel of a configuration, if it names one.
    fn ops_channel(&self, config: &Config) -> Option<alert::ops::OpsChannel> {
        let name = config.daemon.operators_channel.as_ref()?;
        let channel = config.channels.iter().find(|c| &c.name == name)?.clone();
        Some(alert::ops::OpsChannel {
            sender: self.sender.clone(),
            channel,
        })
    }

    fn worker(&self, state: State, metrics: Arc<Metrics>) -> alert::deliver::Worker {
        alert::deliver::Worker {
            state,
            registry: self.registry.clone(),
            settings: self.settings.clone(),
            sender: self.sender.clone(),
            metrics,
            wake: self.wake.clone(),
        }
    }
}

fn spawn_signal_handlers(stop: CancellationToken, reload: mpsc::Sender<()>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
                signal(SignalKind::hangup()),
            ) else {
                error!("cannot install signal handlers");
                return;
            };
            loop {
                tokio::select! {
                    _ = term.recv() => { info!("SIGTERM: stopping"); break; }
                    _ = int.recv() => { info!("SIGINT: stopping"); break; }
                    _ = hup.recv() => { let _ = reload.try_send(()); }
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = reload;
            let _ = tokio::signal::ctrl_c().await;
        }
        stop.cancel();
    });
}
