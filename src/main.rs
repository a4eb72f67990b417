//! The `wirewatch` command line: the daemon and the tools around it.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use wirewatch::config::{AnalysisConfig, Config, DEFAULT_CONFIG};
use wirewatch::{app, extract, parse};

// Parsing feeds and pages, analysis and indexing all allocate many small short-lived objects;
// mimalloc spends about half the time glibc's allocator does on them (cargo bench --bench feeds:
// 29x -> 31x feedparser).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes: 0 done, 1 failure at run time (or nothing usable read), 2 configuration problems.
const EXIT_CONFIG: u8 = 2;

#[derive(Parser)]
#[command(
    name = "wirewatch",
    version,
    about = "News-monitoring ingestion daemon for sanctions, tariffs, export controls and chip smuggling"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RunRole {
    All,
    Fetch,
    Index,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (or one poll cycle with --once).
    Run {
        /// Configuration file.
        #[arg(long, env = "WIREWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Poll every source once, commit, and exit.
        #[arg(long)]
        once: bool,
        /// `all`: one process, no NATS; `fetch` / `index`: the two halves over NATS JetStream
        /// (`[cluster]` in the configuration); the API runs on `index`.
        #[arg(long, value_enum, default_value_t = RunRole::All)]
        role: RunRole,
    },
    /// Validate a configuration file; every problem is printed; exit 2 on any.
    CheckConfig {
        #[arg(env = "WIREWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
        file: PathBuf,
        /// Also print the effective configuration: every default filled in, every path resolved.
        #[arg(long)]
        effective: bool,
    },
    /// Write a commented starter configuration (`wirewatch.toml`) into DIR (default: here).
    Init {
        dir: Option<PathBuf>,
        /// Also write the built-in topic rules and gazetteer (`topics.toml`, `gazetteer.tsv`) for
        /// editing, and name them in the configuration.
        #[arg(long)]
        rules: bool,
        /// Overwrite files that exist.
        #[arg(long)]
        force: bool,
    },
    /// Parse a feed or sitemap file (`-` for stdin) and print its entries as JSON.
    ParseFeed { file: String },
    /// Extract the article from an HTML page (`-` for stdin), or from every page in --dir.
    Extract {
        /// The page's URL, to resolve relative links.
        #[arg(long)]
        url: Option<String>,
        /// A directory of `*.html` / `*.html.gz` pages; prints JSON lines.
        #[arg(long, conflicts_with = "file")]
        dir: Option<PathBuf>,
        /// Which extractor finds the body: `auto` (ours and two libraries, chosen per page by
        /// agreement), `ours`, `trafilatura` or `readability` (dom_smoothie); for comparisons.
        #[arg(long, default_value = "auto")]
        engine: extract::Engine,
        file: Option<String>,
    },
    /// Analyse JSON lines `{"id","text"[,"title"]}` from stdin; print topics, mentions, entities, facts.
    Analyze {
        /// Configuration file naming the rule pack and gazetteer.
        #[arg(long, env = "WIREWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Use this topic model instead of the one the configuration names (or the built-in one).
        #[arg(long, conflicts_with = "no_topic_model")]
        topic_model: Option<PathBuf>,
        /// No topic model: the rules alone.
        #[arg(long)]
        no_topic_model: bool,
    },
    /// Train the topic model from labelled units (JSON lines `{"id","text","topics":[...]}`) over
    /// the features of the configured rule pack and gazetteer; the same units give the same file.
    /// The shipped model: `wirewatch train-topics --units ../shared/data/topics/dev.jsonl --out
    /// config/topic_model.json`.
    TrainTopics {
        #[arg(long)]
        units: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Configuration naming the rule pack and gazetteer whose features the model reads.
        #[arg(long, env = "WIREWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// L2 penalty on the mean log loss.
        #[arg(long, default_value_t = 0.001)]
        l2: f64,
        /// Full passes over the units.
        #[arg(long, default_value_t = 300)]
        epochs: usize,
        /// AdaGrad step size.
        #[arg(long, default_value_t = 0.5)]
        learning_rate: f64,
        /// Words and bigrams seen in fewer units are left out.
        #[arg(long, default_value_t = 2)]
        min_df: usize,
        /// Probability at which the model adds a topic the rules missed in a sentence.
        #[arg(long, default_value_t = 0.9)]
        add_threshold: f64,
        /// Probability below which the model drops a rule's hit (0: never).
        #[arg(long, default_value_t = 0.0)]
        veto_threshold: f64,
    },
    /// Analyse every stored article again after the rules changed (resumable; a progress bar on
    /// a terminal). The daemon must be stopped: the index takes one writer.
    Reindex {
        #[arg(long, env = "WIREWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Run even if the archive was already analysed with these rules.
        #[arg(long)]
        force: bool,
    },
    /// The source list in and out as OPML.
    Sources {
        #[command(subcommand)]
        command: SourcesCommand,
    },
    /// Restricted-party lists: screen a name, or see what is loaded.
    Watchlist {
        #[command(subcommand)]
        command: WatchlistCommand,
    },
    /// Search the archive.
    Search {
        #[arg(long, env = "WIREWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Query: words, "phrases", AND/OR/NOT, field:value (title, body, source, topic, entity, lang, author).
        query: String,
        #[arg(long)]
        topic: Option<String>,
        /// Only articles at least this much about the topic (topic score 0..1; any topic without
        /// --topic).
        #[arg(long)]
        min_score: Option<f64>,
        /// From this date (YYYY-MM-DD or RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Up to and including this date.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print the same JSON as GET /api/v1/search.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum WatchlistCommand {
    /// Which listed parties NAME may be, with scores (0..1) and reasons. Lists come from the data
    /// directory; a list with no stored version is fetched first.
    Check {
        name: String,
        #[arg(long, env = "WIREWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Print JSON: `{"matches": [{"list","id","name","kind","programs","listed_on","matched","score","reason"}]}`.
        #[arg(long)]
        json: bool,
    },
    /// Each configured list: versions stored, the active one, entries, last refresh, last error.
    Status {
        #[arg(long, env = "WIREWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Fetch every configured list now (conditional GET) and keep any new version.
    Refresh {
        #[arg(long, env = "WIREWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum SourcesCommand {
    /// Append the feeds of an OPML file (`-` for stdin) to the configuration as `[[source]]`
    /// tables; feeds already configured are skipped. Reload the daemon (SIGHUP) to poll them.
    ImportOpml {
        file: String,
        #[arg(long, env = "WIREWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Print the configured feed sources as OPML.
    ExportOpml {
        #[arg(long, env = "WIREWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, once, role } => run(&config, once, role),
        Command::CheckConfig { file, effective } => check_config(&file, effective),
        Command::Init { dir, rules, force } => report(init(dir.as_deref(), rules, force)),
        Command::ParseFeed { file } => report(parse_feed(&file)),
        Command::Extract {
            url,
            dir,
            engine,
            file,
        } => report(extract_cmd(
            url.as_deref(),
            dir.as_deref(),
            file.as_deref(),
            engine,
        )),
        Command::Analyze {
            config,
            topic_model,
            no_topic_model,
        } => report(analyze(&config, topic_model, no_topic_model)),
        Command::TrainTopics {
            units,
            out,
            config,
            l2,
            epochs,
            learning_rate,
            min_df,
            add_threshold,
            veto_threshold,
        } => report(train_topics(
            &units,
            &out,
            &config,
            wirewatch::analyze::model::TrainOptions {
                l2,
                epochs,
                learning_rate,
                min_df,
                settings: wirewatch::analyze::model::ModelSettings {
                    add_threshold,
                    veto_threshold,
                    ..Default::default()
                },
                command: String::new(),
                units_sha256: String::new(),
            },
        )),
        Command::Reindex { config, force } => report(reindex(&config, force)),
        Command::Sources {
            command: SourcesCommand::ImportOpml { file, config },
        } => import_opml(&file, &config),
        Command::Sources {
            command: SourcesCommand::ExportOpml { config },
        } => export_opml(&config),
        Command::Watchlist {
            command: WatchlistCommand::Check { name, config, json },
        } => report(watchlist_check(&config, &name, json)),
        Command::Watchlist {
            command: WatchlistCommand::Status { config, json },
        } => report(watchlist_status(&config, json)),
        Command::Watchlist {
            command: WatchlistCommand::Refresh { config },
        } => report(watchlist_refresh(&config)),
        Command::Search {
            config,
            query,
            topic,
            min_score,
            from,
            to,
            limit,
            json,
        } => report(search(
            &config,
            query,
            (topic, min_score),
            (from, to),
            limit,
            json,
        )),
    }
}

/// A configuration that could not be read, already reported: the command exits 2.
#[derive(Debug, thiserror::Error)]
#[error("configuration problems (reported above)")]
struct ConfigReported;

/// `load_config` for commands that return errors.
fn config_for(path: &Path) -> anyhow::Result<Config> {
    load_config(path).map_err(|_| ConfigReported.into())
}

fn report(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<ConfigReported>() => ExitCode::from(EXIT_CONFIG),
        Err(e) => {
            eprintln!("wirewatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprint!("{e}");
        if !path.exists() {
            eprintln!("{}", missing_config_hint(path));
        }
        ExitCode::from(EXIT_CONFIG)
    })
}

/// What to do when there is no configuration where one was looked for.
fn missing_config_hint(path: &Path) -> String {
    let here = std::env::current_dir()
        .map(|d| format!(" (looked in {})", d.display()))
        .unwrap_or_default();
    format!(
        "wirewatch: no configuration at {}{here}; pass --config FILE, set WIREWATCH_CONFIG, or write a starter one with `wirewatch init`",
        path.display()
    )
}

/// `wirewatch init [DIR]`: a starter configuration, and with `--rules` the built-in rules to edit.
fn init(dir: Option<&Path>, rules: bool, force: bool) -> anyhow::Result<()> {
    use wirewatch::analyze::{BUILTIN_GAZETTEER, BUILTIN_TOPICS};
    let dir = dir.unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config = dir.join("wirewatch.toml");
    let mut text = STARTER_CONFIG.replace("{CONFIG}", &config.display().to_string());
    let mut files = vec![];
    if rules {
        text = text.replace(
            "# [analysis]\n# topics = \"topics.toml\"\n# gazetteer = \"gazetteer.tsv\"",
            "[analysis]\ntopics = \"topics.toml\"\ngazetteer = \"gazetteer.tsv\"",
        );
        files.push((dir.join("topics.toml"), BUILTIN_TOPICS.to_string()));
        files.push((dir.join("gazetteer.tsv"), BUILTIN_GAZETTEER.to_string()));
    }
    files.insert(0, (config.clone(), text));
    if !force && let Some((existing, _)) = files.iter().find(|(p, _)| p.exists()) {
        anyhow::bail!(
            "{} exists; nothing written (use --force to overwrite)",
            existing.display()
        );
    }
    for (path, text) in &files {
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    eprintln!(
        "next: wirewatch check-config {0} && wirewatch run --config {0}",
        config.display()
    );
    Ok(())
}

/// The configuration `wirewatch init` writes.
const STARTER_CONFIG: &str = include_str!("../config/starter.toml");

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::prelude::*;
    // tantivy narrates every commit at info; an operator's "info" means wirewatch's own events.
    let default = if config.daemon.log_level.contains("tantivy") {
        config.daemon.log_level.clone()
    } else {
        format!("{},tantivy=warn", config.daemon.log_level)
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Under systemd, stderr is connected to the journal: log there natively, with fields.
    if std::env::var_os("JOURNAL_STREAM").is_some()
        && let Ok(journald) = tracing_journald::layer()
    {
        tracing_subscriber::registry()
            .with(filter)
            .with(journald)
            .init();
        return;
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if config.daemon.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn run(path: &Path, once: bool, role: RunRole) -> ExitCode {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let role = match role {
        RunRole::All => wirewatch::cluster::Role::All,
        RunRole::Fetch => wirewatch::cluster::Role::Fetch,
        RunRole::Index => wirewatch::cluster::Role::Index,
    };
    if role != wirewatch::cluster::Role::All {
        if once {
            eprintln!("wirewatch: --once is for --role all (a cluster's halves run as daemons)");
            return ExitCode::from(EXIT_CONFIG);
        }
        if config.cluster.is_none() {
            eprintln!(
                "{}: --role fetch and --role index need a [cluster] section (nats_urls, stream, consumer, lease_bucket)",
                path.display()
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    // A daemon that would serve the API beyond loopback without a token is a configuration
    // problem (exit 2); a one-shot run does not listen.
    if !once && let Err(e) = config.api_token() {
        eprint!("{e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    init_logging(&config);
    // Rules and gazetteer are configuration too: their problems are exit 2, not a crash loop.
    let analyzer = match config.analysis.analyzer() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{}: [analysis]: {e}", path.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wirewatch: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mode = if once {
        app::Mode::Once
    } else {
        app::Mode::Daemon
    };
    match rt.block_on(app::run_as(config, mode, analyzer, role)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("wirewatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(path: &Path, effective: bool) -> ExitCode {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The API token (and whether the API may listen where it is told to), the rule pack and the
    // gazetteer are part of the configuration an operator deploys: each problem is reported.
    let token = config.api_token().map_err(|e| eprint!("{e}"));
    let rules = config
        .analysis
        .analyzer()
        .map_err(|e| eprintln!("{}: [analysis]: {e}", path.display()));
    if token.is_err() || rules.is_err() {
        return ExitCode::from(EXIT_CONFIG);
    }
    let ok = format!(
        "{}: ok ({} sources, {} enabled)",
        path.display(),
        config.sources.len(),
        config.sources.iter().filter(|s| s.enabled).count()
    );
    if !effective {
        println!("{ok}");
        return ExitCode::SUCCESS;
    }
    // The effective configuration goes to stdout alone, so it can be saved and diffed.
    match config.effective_toml() {
        Ok(text) => {
            eprintln!("{ok}");
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wirewatch: cannot print the effective configuration: {e}");
            ExitCode::FAILURE
        }
    }
}

fn import_opml(file: &str, config: &Path) -> ExitCode {
    use wirewatch::config::opml::{self, OpmlError};
    let text = match read_input(file)
        .and_then(|b| String::from_utf8(b).with_context(|| format!("{file}: not UTF-8 text")))
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("wirewatch: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let name = if file == "-" { "<stdin>" } else { file };
    match opml::import(config, &text, name) {
        Ok(r) => {
            for (name, url) in &r.added {
                println!("added   {name}  <{url}>");
            }
            for (name, url, why) in &r.skipped {
                println!("skipped {name}  <{url}>: {why}");
            }
            println!(
                "{}: {} source(s) added, {} skipped{}",
                config.display(),
                r.added.len(),
                r.skipped.len(),
                if r.added.is_empty() {
                    ""
                } else {
                    "; reload the daemon (SIGHUP) to poll them"
                }
            );
            ExitCode::SUCCESS
        }
        // The configuration it would go into has problems: the same exit as check-config.
        Err(OpmlError::Config(e)) => {
            eprint!("{e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            eprintln!("wirewatch: {e}");
            ExitCode::FAILURE
        }
    }
}

fn export_opml(path: &Path) -> ExitCode {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let left_out = config
        .sources
        .iter()
        .filter(|s| s.kind != wirewatch::config::SourceKind::Feed)
        .count();
    if left_out > 0 {
        eprintln!("wirewatch: {left_out} sitemap/html source(s) left out: OPML lists feeds");
    }
    print!("{}", wirewatch::config::opml::export(&config.sources));
    ExitCode::SUCCESS
}

fn read_input(file: &str) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if file == "-" {
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read stdin")?;
    } else {
        buf = std::fs::read(file).with_context(|| format!("cannot read {file}"))?;
    }
    if buf.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&buf[..])
            .read_to_end(&mut out)
            .with_context(|| format!("{file}: bad gzip"))?;
        buf = out;
    }
    Ok(buf)
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

fn parse_feed(file: &str) -> anyhow::Result<()> {
    let bytes = read_input(file)?;
    let feed = parse::parse_document(&bytes, None, None)
        .with_context(|| format!("{file}: nothing usable"))?;
    for warning in &feed.warnings {
        eprintln!("wirewatch: {file}: {warning}");
    }
    print_json(&feed)
}

fn extract_cmd(
    url: Option<&str>,
    dir: Option<&Path>,
    file: Option<&str>,
    engine: extract::Engine,
) -> anyhow::Result<()> {
    if let Some(dir) = dir {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                n.ends_with(".html") || n.ends_with(".html.gz")
            })
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let id = name
                .trim_end_matches(".gz")
                .trim_end_matches(".html")
                .to_string();
            match read_input(&path.to_string_lossy()) {
                Ok(bytes) => {
                    let article = extract::extract_bytes_with(&bytes, None, url, engine);
                    let mut v = serde_json::to_value(&article)?;
                    v["id"] = serde_json::Value::String(id);
                    print_json(&v)?;
                }
                Err(e) => eprintln!("wirewatch: {e:#}"),
            }
        }
        return Ok(());
    }
    let file = file.context("give a FILE (or - for stdin) or --dir DIR")?;
    let bytes = read_input(file)?;
    print_json(&extract::extract_bytes_with(&bytes, None, url, engine))
}

/// The `[analysis]` of a configuration file, or the built-in one when there is no such file.
fn analysis_config(config: &Path) -> anyhow::Result<AnalysisConfig> {
    match Config::load(config) {
        Ok(c) => Ok(c.analysis),
        Err(_) if !config.exists() => Ok(AnalysisConfig::default()),
        Err(e) => anyhow::bail!("{e}"),
    }
}

fn analyze(
    config: &Path,
    topic_model: Option<PathBuf>,
    no_topic_model: bool,
) -> anyhow::Result<()> {
    // Without a config file, the rule pack, gazetteer and model built into the binary are used.
    let mut analysis = analysis_config(config)?;
    if let Some(m) = topic_model {
        analysis.topic_model = Some(m);
        analysis.use_topic_model = true;
    }
    if no_topic_model {
        analysis.use_topic_model = false;
    }
    let analyzer = analysis.analyzer()?;
    // Restricted-party lists stored in the data directory are matched too (`listed`).
    let analyzer = match Config::load(config) {
        Ok(c) => {
            let store = wirewatch::watchlist::store::Store::new(&c.daemon.data_dir);
            match wirewatch::watchlist::store::load_stored(&store, &c.watchlists) {
                Some(m) => analyzer.with_watchlists(std::sync::Arc::new(std::sync::RwLock::new(
                    Some(std::sync::Arc::new(m)),
                ))),
                None => analyzer,
            }
        }
        Err(_) => analyzer,
    };
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (n, line) in stdin.lines().enumerate() {
        let line = line.context("cannot read stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        #[derive(serde::Deserialize)]
        struct Unit {
            id: serde_json::Value,
            text: String,
            #[serde(default)]
            title: Option<String>,
        }
        let unit: Unit = match serde_json::from_str(&line) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("wirewatch: line {}: {e}", n + 1);
                continue;
            }
        };
        let a = analyzer.analyze(unit.title.as_deref().unwrap_or(""), &unit.text);
        let v = serde_json::json!({
            "id": unit.id,
            "topics": a.topic_names(),
            "topic_scores": a.topics,
            "mentions": a.mentions,
            "entities": a.entities,
            "facts": a.facts,
            "listed": a.listed,
        });
        serde_json::to_writer(&mut out, &v)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(())
}

fn train_topics(
    units: &Path,
    out: &Path,
    config: &Path,
    mut opts: wirewatch::analyze::model::TrainOptions,
) -> anyhow::Result<()> {
    use sha2::{Digest, Sha256};
    use wirewatch::analyze::{TOPICS, model};
    let mut analysis = analysis_config(config)?;
    analysis.use_topic_model = false;
    let analyzer = analysis.analyzer()?;
    #[derive(serde::Deserialize)]
    struct Unit {
        id: String,
        text: String,
        #[serde(default)]
        topics: Vec<String>,
    }
    let text = std::fs::read_to_string(units)
        .with_context(|| format!("cannot read {}", units.display()))?;
    let mut read: Vec<Unit> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let u: Unit = serde_json::from_str(line)
            .with_context(|| format!("{}: line {}", units.display(), n + 1))?;
        if let Some(t) = u.topics.iter().find(|t| !TOPICS.contains(&t.as_str())) {
            anyhow::bail!("{}: line {}: unknown topic {t:?}", units.display(), n + 1);
        }
        read.push(u);
    }
    read.sort_by(|a, b| a.id.cmp(&b.id));
    let mut h = Sha256::new();
    let examples: Vec<model::Example> = read
        .iter()
        .map(|u| {
            let mut topics = u.topics.clone();
            topics.sort();
            h.update(format!("{}\t{}\t{}\n", u.id, topics.join(","), u.text).as_bytes());
            model::Example {
                id: u.id.clone(),
                features: analyzer.model_features(&u.text),
                labels: std::array::from_fn(|t| u.topics.iter().any(|x| x == TOPICS[t])),
            }
        })
        .collect();
    opts.units_sha256 = hex::encode(h.finalize());
    opts.command = format!(
        "wirewatch train-topics --units {} --l2 {} --epochs {} --learning-rate {} --min-df {} --add-threshold {} --veto-threshold {}",
        units.file_name().unwrap_or_default().to_string_lossy(),
        opts.l2,
        opts.epochs,
        opts.learning_rate,
        opts.min_df,
        opts.settings.add_threshold,
        opts.settings.veto_threshold
    );
    let file = model::train(&examples, &opts);
    let features = file.features.len();
    let mut json = serde_json::to_string(&file)?;
    json.push('\n');
    std::fs::write(out, &json).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "{}: {} units, {features} features, {} bytes",
        out.display(),
        examples.len(),
        json.len()
    );
    Ok(())
}

fn reindex(config: &Path, force: bool) -> anyhow::Result<()> {
    let config = config_for(config)?;
    let progress_bar = |message: &'static str| -> anyhow::Result<indicatif::ProgressBar> {
        let bar = indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {pos}/{len} articles, {per_sec}, {eta} left",
            )?
            .progress_chars("=> "),
        );
        bar.set_message(message);
        Ok(bar)
    };
    // An archive tokenised by an older version is rebuilt first (it cannot be opened as it is).
    let dir = config.index_dir();
    if wirewatch::store::migrate::outdated(&dir)?.is_some() {
        let bar = progress_bar("re-tokenise")?;
        let migrated = wirewatch::store::migrate::retokenise(&dir, &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })?;
        bar.finish_and_clear();
        if let Some(m) = migrated {
            eprintln!(
                "wirewatch: re-tokenised {} articles (text analysis `{}` → `{}`); the old archive is kept at {} — remove it once satisfied",
                m.articles,
                m.from,
                wirewatch::text::TOKENIZER,
                m.kept_at.display()
            );
        }
    }
    let stores = app::Stores::open(&config)?;
    let bar = progress_bar("reindex")?;
    let summary = wirewatch::reindex::reindex(
        &config,
        &stores.index,
        &stores.state,
        force,
        &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    if summary.up_to_date {
        eprintln!(
            "wirewatch: the {} stored articles were already analysed with these rules (--force runs again)",
            summary.total
        );
    } else {
        eprintln!(
            "wirewatch: reindexed {} of {} articles ({} resumed from an earlier run), {} changed",
            summary.analysed, summary.total, summary.resumed, summary.changed
        );
    }
    Ok(())
}

fn search(
    config: &Path,
    query: String,
    (topic, min_score): (Option<String>, Option<f64>),
    (from, to): (Option<String>, Option<String>),
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    let config = config_for(config)?;
    let stores = app::Stores::open(&config)?;
    let params = wirewatch::api::SearchParams {
        filter: wirewatch::api::FilterParams {
            q: Some(query),
            topic,
            min_score: min_score.map(|m| m.to_string()),
            from,
            to,
            ..Default::default()
        },
        page: wirewatch::api::PageParams {
            limit: Some(limit.to_string()),
            ..Default::default()
        },
    };
    let req = params.into_request().map_err(|e| anyhow::anyhow!("{e}"))?;
    let resp = stores.index.search(&req)?;
    if json {
        return print_json(&resp);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} result{}",
        resp.total,
        if resp.total == 1 { "" } else { "s" }
    )?;
    for hit in &resp.hits {
        let date = hit
            .published
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "undated".into());
        let topics: Vec<String> = hit
            .topics
            .iter()
            .map(|t| format!("{} {:.2}", t.name, t.score))
            .collect();
        writeln!(
            out,
            "\n{}\n  {} · {} · {}",
            strip_marks(&hit.highlights.title),
            hit.source,
            date,
            hit.url
        )?;
        if !topics.is_empty() {
            writeln!(out, "  topics: {}", topics.join(", "))?;
        }
        writeln!(out, "  {}", strip_marks(&hit.highlights.body))?;
    }
    Ok(())
}

/// Highlights are HTML; on a terminal the marks become plain text and entities are decoded.
fn strip_marks(html: &str) -> String {
    html.replace("<mark>", "")
        .replace("</mark>", "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// `wirewatch watchlist check NAME`.
fn watchlist_check(path: &Path, name: &str, json: bool) -> anyhow::Result<()> {
    use wirewatch::watchlist::{Matcher, store};
    let config = config_for(path)?;
    if config.watchlists.is_empty() {
        anyhow::bail!("{}: no [[watchlist]] is configured", path.display());
    }
    let fetcher = wirewatch::fetch::Fetcher::new(&config.fetch)?;
    let store = store::Store::new(&config.daemon.data_dir);
    let rt = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
    let cancel = tokio_util::sync::CancellationToken::new();
    let (lists, errors) = rt.block_on(store::load_all(
        &store,
        Some(&fetcher),
        &config.watchlists,
        &cancel,
    ));
    for e in &errors {
        eprintln!("wirewatch: {e}");
    }
    if lists.is_empty() {
        anyhow::bail!("no list could be loaded");
    }
    let matcher = Matcher::new(lists);
    let matches = matcher.check(name);
    if json {
        return print_json(&serde_json::json!({ "matches": matches }));
    }
    let mut out = std::io::stdout().lock();
    if matches.is_empty() {
        writeln!(
            out,
            "no listed party matches `{name}` ({} entries in {} lists)",
            matcher.len(),
            matcher.lists().len()
        )?;
    }
    for m in &matches {
        writeln!(
            out,
            "{:.2}  {}  {}  {} ({})  programs: {}{}\n      {}",
            m.score,
            m.list,
            m.id,
            m.name,
            m.kind,
            m.programs.join(", "),
            m.listed_on
                .as_deref()
                .map(|d| format!("  listed on {d}"))
                .unwrap_or_default(),
            m.reason
        )?;
    }
    Ok(())
}

/// `wirewatch watchlist status`.
fn watchlist_status(path: &Path, json: bool) -> anyhow::Result<()> {
    use wirewatch::watchlist::store;
    let config = config_for(path)?;
    let store = store::Store::new(&config.daemon.data_dir);
    let mut rows = Vec::new();
    for w in &config.watchlists {
        let state = store.state(&w.name)?;
        rows.push(serde_json::json!({
            "name": w.name,
            "kind": w.kind,
            "url": w.url,
            "refresh": w.refresh.to_string(),
            "active": state.active,
            "entries": state.active_version().and_then(|v| v.entries),
            "last_refresh": state.last_refresh,
            "last_error": state.last_error,
            "versions": state.versions,
        }));
    }
    if json {
        return print_json(&serde_json::json!({ "lists": rows }));
    }
    let mut out = std::io::stdout().lock();
    if rows.is_empty() {
        writeln!(out, "no [[watchlist]] is configured in {}", path.display())?;
    }
    for w in &config.watchlists {
        let state = store.state(&w.name)?;
        let active = state.active_version();
        writeln!(
            out,
            "{} ({}, every {}): {}",
            w.name,
            w.kind,
            w.refresh,
            match active {
                Some(v) => format!(
                    "version {} active, {} entries, fetched {}",
                    v.number,
                    v.entries.unwrap_or(0),
                    v.fetched_at.to_rfc3339()
                ),
                None => "no version stored yet".into(),
            }
        )?;
        writeln!(
            out,
            "  last refresh: {}",
            state
                .last_refresh
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "never".into())
        )?;
        if let Some(e) = &state.last_error {
            writeln!(out, "  last error: {e}")?;
        }
        for v in &state.versions {
            writeln!(
                out,
                "  v{}  {}  sha256 {}  {}",
                v.number,
                v.fetched_at.to_rfc3339(),
                &v.sha256[..16.min(v.sha256.len())],
                match (&v.entries, &v.error) {
                    (Some(n), _) => format!("{n} entries"),
                    (None, Some(e)) => format!("malformed: {e}"),
                    (None, None) => String::new(),
                }
            )?;
        }
    }
    Ok(())
}

/// `wirewatch watchlist refresh`.
fn watchlist_refresh(path: &Path) -> anyhow::Result<()> {
    use wirewatch::watchlist::store::{self, Stored};
    let config = config_for(path)?;
    let fetcher = wirewatch::fetch::Fetcher::new(&config.fetch)?;
    let store = store::Store::new(&config.daemon.data_dir);
    let rt = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut failed = 0;
    for w in &config.watchlists {
        match rt.block_on(store::refresh(&store, &fetcher, w, &cancel)) {
            Ok(Stored::Unchanged) => eprintln!("{}: unchanged", w.name),
            Ok(Stored::New { number, entries }) => {
                eprintln!("{}: version {number}, {entries} entries", w.name)
            }
            Ok(Stored::Malformed { number, error }) => {
                failed += 1;
                eprintln!(
                    "{}: version {number} is malformed, the last good version stays active: {error}",
                    w.name
                )
            }
            Err(e) => {
                failed += 1;
                eprintln!("wirewatch: {e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} list(s) not refreshed");
    }
    Ok(())
}
