//! Configuration: plain data deserialised from TOML, then [`Config::load`] validates all of it at once.
//!
//! Every problem is collected with its place (file, source name, field) so that an operator fixes a
//! broken file in one pass instead of one error per restart.

pub mod access;
pub mod opml;
mod units;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use units::{ByteSize, HumanDuration};

/// The whole configuration file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub daemon: DaemonConfig,
    #[serde(default)]
    pub fetch: FetchConfig,
    #[serde(default)]
    pub analysis: AnalysisConfig,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    #[serde(default, rename = "alert")]
    pub alerts: Vec<AlertConfig>,
    #[serde(default, rename = "channel")]
    pub channels: Vec<ChannelConfig>,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// Only for `run --role fetch|index`; `--role all` (the default) ignores it.
    #[serde(default)]
    pub cluster: Option<ClusterConfig>,
    #[serde(default, rename = "watchlist")]
    pub watchlists: Vec<WatchlistConfig>,
}

/// `[cluster]`: the NATS JetStream deployment that `run --role fetch` and `run --role index`
/// share (docs/SCALING.md). Every node of one deployment uses the same values.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// NATS servers (`nats://host:4222`); the client fails over between them.
    pub nats_urls: Vec<String>,
    /// JetStream stream that carries articles from fetch nodes to the index node; its subjects
    /// are `<stream>.article`, `<stream>.seen` and `<stream>.source`. Created when missing.
    pub stream: String,
    /// Durable pull consumer of the index node on that stream.
    pub consumer: String,
    /// Key-value bucket holding the per-source leases of fetch nodes (and their presence).
    pub lease_bucket: String,
    /// A fetch node that stops renewing loses its sources after this long (the bucket's max age);
    /// leases are renewed every third of it.
    pub lease_ttl: HumanDuration,
    /// JetStream replicas of the stream and the bucket (1, or 3 on a 3-server cluster).
    pub replicas: usize,
    /// How long the stream keeps messages (an index node can be rebuilt from it within this).
    pub max_age: HumanDuration,
    /// Server-side deduplication window of message ids (article keys).
    pub duplicate_window: HumanDuration,
    /// A message the index node took but did not acknowledge (it died before the commit) is
    /// delivered again after this long. Longer than a commit of 256 articles takes.
    pub ack_wait: HumanDuration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            nats_urls: vec!["nats://127.0.0.1:4222".into()],
            stream: "wirewatch-articles".into(),
            consumer: "wirewatch-index".into(),
            lease_bucket: "wirewatch-leases".into(),
            lease_ttl: HumanDuration(Duration::from_secs(30)),
            replicas: 1,
            max_age: HumanDuration(Duration::from_secs(7 * 24 * 3600)),
            duplicate_window: HumanDuration(Duration::from_secs(10 * 60)),
            ack_wait: HumanDuration(Duration::from_secs(30)),
        }
    }
}

/// One `[[watchlist]]`: a restricted-party list, fetched under the outbound policy with
/// conditional GET, every version kept in the data directory.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WatchlistConfig {
    /// Unique name; the `list` of listings and the value of `listed:<list name>` in queries.
    pub name: String,
    /// `ofac_csv`, `csl` or `un_xml`.
    pub kind: crate::watchlist::ListKind,
    /// The list's URL (http or https), a `file://` URL or a path (relative to this file's
    /// directory). For `ofac_csv`, the primary file (`SDN.CSV` or `CONS_PRIM.CSV`); the aliases
    /// and addresses are read from the files beside it (`ALT.CSV`/`ADD.CSV`,
    /// `CONS_ALT.CSV`/`CONS_ADD.CSV`).
    pub url: String,
    /// How often the list is fetched again (default daily).
    #[serde(default = "daily")]
    pub refresh: HumanDuration,
}

fn daily() -> HumanDuration {
    HumanDuration(Duration::from_secs(24 * 3600))
}

/// One `[[alert]]`: a saved search whose new matches are sent to channels.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// Unique name; alerts from the API share the namespace. Not blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"[^\t\n\x0b\x0c\r ]")]
    pub name: String,
    /// Query in the search language (`topic:chip_smuggling AND (malaysia OR singapore)`); empty:
    /// every new article (that passes the filters).
    #[schema(max_length = 4096)]
    pub query: String,
    #[serde(default)]
    #[schema(value_type = Option<crate::analyze::TopicName>)]
    pub topic: Option<String>,
    #[serde(default)]
    pub entity: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub lang: Option<String>,
    /// Skip articles whose score for `topic` (or, without a topic, for their best topic) is lower:
    /// articles that merely mention the topic in passing.
    #[serde(default)]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub min_score: f64,
    /// Names of `[[channel]]`s to deliver to.
    #[serde(default)]
    pub channels: Vec<String>,
    /// `immediate`, `hourly` or `daily` (digests group the matches of the period).
    #[serde(default)]
    pub mode: AlertMode,
    /// Alert again when a matched article is updated (the feed says so and its text changed).
    #[serde(default)]
    pub on_update: bool,
    /// Switched off alerts match nothing.
    #[serde(default = "yes")]
    pub enabled: bool,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertMode {
    #[default]
    Immediate,
    Hourly,
    Daily,
}

/// One `[[channel]]`: where alerts go. Secrets are named by environment variable, never written here.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: ChannelKind,
    /// Webhook, Slack incoming-webhook or ntfy topic URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Environment variable holding the webhook's HMAC secret (`X-Wirewatch-Signature`).
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Environment variable holding an ntfy access token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Email: SMTP server, port, `starttls` (default), `tls` or `none` (loopback test servers only).
    #[serde(default)]
    pub smtp_host: Option<String>,
    #[serde(default)]
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub smtp_security: Option<String>,
    #[serde(default)]
    pub smtp_user_env: Option<String>,
    #[serde(default)]
    pub smtp_password_env: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Webhook,
    Slack,
    Ntfy,
    Email,
}

/// `[delivery]`: how alert deliveries are retried.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Attempts before a delivery is dead-lettered (listed by the API, replayable).
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt up to `max_backoff`, with jitter.
    pub initial_backoff: HumanDuration,
    pub max_backoff: HumanDuration,
    /// Deliveries per alert per minute; more wait for the next minute.
    pub max_per_minute: u32,
    /// Timeout of one delivery request.
    pub timeout: HumanDuration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: HumanDuration(Duration::from_secs(5)),
            max_backoff: HumanDuration(Duration::from_secs(3600)),
            max_per_minute: 30,
            timeout: HumanDuration(Duration::from_secs(15)),
        }
    }
}

/// `[daemon]`: where data lives, where the API listens, how much to log.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Directory for the tantivy index (`articles/`) and `state.sqlite`; relative paths are taken from
    /// the configuration file's directory (the shipped `config/wirewatch.toml` says `../index`).
    pub data_dir: PathBuf,
    /// Set when `WIREWATCH_DATA_DIR` chose `data_dir` (taken as given, not from the file's directory).
    #[serde(skip)]
    pub data_dir_from_env: bool,
    /// Address of the HTTP API; loopback by default so nothing is exposed by accident.
    pub listen: String,
    /// Name of the environment variable that holds the API bearer token (never the token itself).
    pub api_token_env: String,
    /// A file holding the API bearer token (its first line), instead of the environment variable;
    /// relative paths are taken from this file's directory. Keep it readable by the daemon only.
    pub api_token_file: Option<PathBuf>,
    /// Serve a `listen` address beyond loopback without a token: anyone who reaches it may change
    /// alerts and run dry runs. Without this, such a configuration is refused.
    pub allow_anonymous: bool,
    /// Host names (without port) the API answers to, besides loopback and `public_url`'s host; a
    /// request naming any other host is refused (421), which defeats DNS rebinding.
    pub allowed_hosts: Vec<String>,
    /// Exact origins (`https://desk.example.org`) whose pages may call the API from a browser
    /// (CORS). Empty: no CORS headers at all.
    pub cors_origins: Vec<String>,
    /// Server-sent-event streams (`/api/v1/stream`) open at once; more are refused with 503.
    pub max_streams: usize,
    /// Log filter when `RUST_LOG` is not set (`info`, `wirewatch=debug`, ...).
    pub log_level: String,
    /// Log format: `plain` or `json`.
    pub log_format: String,
    /// Poll interval for sources that do not set their own.
    pub default_interval: HumanDuration,
    /// Upper bound for the error backoff of a failing source.
    pub max_backoff: HumanDuration,
    /// Random spread added to every next check, as a fraction of the interval (0.0 to 0.5).
    pub jitter: f64,
    /// Sources polled at the same time, across all hosts.
    pub max_concurrent_polls: usize,
    /// Commit the index after this many new documents ...
    pub commit_every_docs: usize,
    /// ... or this long after the first uncommitted one.
    pub commit_interval: HumanDuration,
    /// How long a stop may take before in-flight fetches are abandoned.
    pub shutdown_grace: HumanDuration,
    /// A `[[channel]]` told when a source starts failing (3 polls in a row), recovers, or goes stale.
    pub operators_channel: Option<String>,
    /// The URL at which WebSub hubs reach this daemon's API listener (`https://host[:port][/prefix]`,
    /// as seen from the internet, e.g. behind a reverse proxy). When set, feeds that advertise a
    /// hub are subscribed to, with callbacks at `<public_url>/websub/<id>`; unset, feeds are only
    /// polled.
    pub public_url: Option<String>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("index"),
            data_dir_from_env: false,
            listen: "127.0.0.1:8088".into(),
            api_token_env: "WIREWATCH_API_TOKEN".into(),
            api_token_file: None,
            allow_anonymous: false,
            allowed_hosts: Vec::new(),
            cors_origins: Vec::new(),
            max_streams: 32,
            log_level: "info".into(),
            log_format: "plain".into(),
            default_interval: HumanDuration(Duration::from_secs(15 * 60)),
            max_backoff: HumanDuration(Duration::from_secs(6 * 3600)),
            jitter: 0.1,
            max_concurrent_polls: 8,
            commit_every_docs: 500,
            commit_interval: HumanDuration(Duration::from_secs(10)),
            shutdown_grace: HumanDuration(Duration::from_secs(10)),
            operators_channel: None,
            public_url: None,
        }
    }
}

/// `[fetch]`: one polite HTTP client shared by feed polls and article fetches.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchConfig {
    pub user_agent: String,
    /// Whole-request deadline (connect, headers and body).
    pub timeout: HumanDuration,
    pub connect_timeout: HumanDuration,
    /// Source documents (feeds, sitemaps, listing pages) larger than this are cut off while
    /// streaming and reported as errors (after decompression: a small gzip cannot unpack past it).
    pub max_body: ByteSize,
    /// The same for article pages. robots.txt is read up to 512 KiB.
    pub max_page_body: ByteSize,
    /// Requests in flight to one host (host:port) at once.
    pub per_host_concurrency: usize,
    /// Minimum gap between the starts of two requests to one host.
    pub per_host_interval: HumanDuration,
    /// Honour robots.txt for article pages.
    pub respect_robots: bool,
    /// Every fetch made for content (sources, their redirects, children and discovered feeds,
    /// article pages, robots.txt, WebSub hubs) to a special-purpose address (loopback, private,
    /// link-local, CGNAT, documentation, multicast, ...) is refused unless this is set.
    pub allow_private_addresses: bool,
    /// Special-purpose networks (CIDR, e.g. `10.20.0.0/16`) that content may reach anyway: an
    /// internal feed, without opening every private range.
    pub allowed_networks: Vec<String>,
    /// Names pinned to addresses, like curl's `--resolve` (`"feeds.example.org" = "203.0.113.7"`);
    /// pinned addresses are still checked by the outbound policy.
    pub resolve: std::collections::BTreeMap<String, String>,
    /// A Retry-After up to this long is waited out in place; a longer one defers the source.
    pub max_retry_after_wait: HumanDuration,
    /// Article pages fetched per poll of one source (the rest wait for the next poll).
    pub max_articles_per_poll: usize,
}

impl FetchConfig {
    /// The outbound policy these settings describe (entries that fail validation are skipped;
    /// `check-config` and startup report them).
    pub fn outbound_policy(&self) -> crate::fetch::OutboundPolicy {
        crate::fetch::OutboundPolicy {
            allow_private: self.allow_private_addresses,
            allowed: self
                .allowed_networks
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect(),
            pinned: self
                .resolve
                .iter()
                .filter_map(|(name, addr)| {
                    let ip = addr.parse().ok()?;
                    Some((name.trim_end_matches('.').to_ascii_lowercase(), vec![ip]))
                })
                .collect(),
        }
    }
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            user_agent: concat!(
                "wirewatch/",
                env!("CARGO_PKG_VERSION"),
                " (+https://github.com/wirewatch/wirewatch)"
            )
            .into(),
            timeout: HumanDuration(Duration::from_secs(20)),
            connect_timeout: HumanDuration(Duration::from_secs(10)),
            max_body: ByteSize(8 * 1024 * 1024),
            max_page_body: ByteSize(8 * 1024 * 1024),
            per_host_concurrency: 2,
            per_host_interval: HumanDuration(Duration::from_secs(1)),
            respect_robots: true,
            allow_private_addresses: false,
            allowed_networks: Vec::new(),
            resolve: Default::default(),
            max_retry_after_wait: HumanDuration(Duration::from_secs(30)),
            max_articles_per_poll: 50,
        }
    }
}

/// `[analysis]`: where the topic rules, the gazetteer and the topic model live.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisConfig {
    /// Topic rule pack; relative paths are resolved against the config file's directory. Unset:
    /// the rules built into the binary (the same as the shipped `config/topics.toml`).
    pub topics: Option<PathBuf>,
    /// Entity gazetteer (TSV); relative paths are resolved against the config file's directory.
    /// Unset: the gazetteer built into the binary.
    pub gazetteer: Option<PathBuf>,
    /// Topic model (JSON, written by `wirewatch train-topics`) that adds topics the rules miss
    /// and names its features; relative paths are resolved against the config file's directory.
    /// Unset: the model built into the binary (the same as the shipped `config/topic_model.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_model: Option<PathBuf>,
    /// `false`: no topic model, the rules alone decide.
    pub use_topic_model: bool,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            topics: None,
            gazetteer: None,
            topic_model: None,
            use_topic_model: true,
        }
    }
}

impl AnalysisConfig {
    /// The rule pack, gazetteer and topic model texts this configuration asks for.
    pub fn rule_texts(&self) -> Result<crate::analyze::RuleTexts, crate::analyze::AnalyzeError> {
        crate::analyze::RuleTexts::read_with_model(
            self.topics.as_deref(),
            self.gazetteer.as_deref(),
            self.use_topic_model.then_some(self.topic_model.as_deref()),
        )
    }

    /// The analyzer this configuration asks for.
    pub fn analyzer(&self) -> Result<crate::analyze::Analyzer, crate::analyze::AnalyzeError> {
        crate::analyze::Analyzer::from_texts(&self.rule_texts()?)
    }
}

/// What a source URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// RSS, Atom, RDF, JSON Feed (or a Federal Register API document list).
    Feed,
    /// A sitemap, sitemap index or Google News sitemap.
    Sitemap,
    /// An HTML listing page; `link_selector` picks the article links.
    Html,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Feed => "feed",
            SourceKind::Sitemap => "sitemap",
            SourceKind::Html => "html",
        })
    }
}

/// One `[[source]]`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique, human name; used in logs, metrics and the `source` field of articles.
    pub name: String,
    pub kind: SourceKind,
    pub url: String,
    /// Poll interval; `[daemon] default_interval` when absent.
    #[serde(default)]
    pub interval: Option<HumanDuration>,
    /// The schedule adapts between these bounds: faster for a feed that turns over completely
    /// between polls, slower for one that rarely changes, and no sooner than its `<ttl>`,
    /// `Cache-Control: max-age` or `Expires` ask. Default: half the interval.
    #[serde(default)]
    pub min_interval: Option<HumanDuration>,
    /// Default: four times the interval. Also the polling interval while a WebSub hub pushes.
    #[serde(default)]
    pub max_interval: Option<HumanDuration>,
    /// A disabled source stays in the config and the state database but is never polled.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Always fetch the article page, even when the feed seems to carry the full text.
    #[serde(default)]
    pub fetch_articles: bool,
    /// CSS selector for article links on an HTML listing page (`kind = "html"`).
    #[serde(default)]
    pub link_selector: Option<String>,
    /// CSS selector, relative to each link's container, for the title on a listing page.
    #[serde(default)]
    pub title_selector: Option<String>,
    /// CSS selector, relative to each link's container, for the date on a listing page.
    #[serde(default)]
    pub date_selector: Option<String>,
    /// Language hint for articles of this source (BCP 47, e.g. `zh`).
    #[serde(default)]
    pub language: Option<String>,
}

fn yes() -> bool {
    true
}

/// A validated configuration with resolved paths.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: Option<PathBuf>,
    pub alerts: Vec<AlertConfig>,
    pub channels: Vec<ChannelConfig>,
    pub delivery: DeliveryConfig,
    pub daemon: DaemonConfig,
    pub fetch: FetchConfig,
    pub analysis: AnalysisConfig,
    pub sources: Vec<SourceConfig>,
    pub cluster: Option<ClusterConfig>,
    pub watchlists: Vec<WatchlistConfig>,
}

/// One problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: String,
    /// 1-based line where known (syntax and type errors).
    pub line: Option<usize>,
    /// `source "SCMP China"` or `[fetch]`.
    pub place: String,
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.place)?;
        if !self.field.is_empty() {
            write!(f, ", field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem of a configuration, reported together.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// The default configuration file, relative to the working directory.
pub const DEFAULT_CONFIG: &str = "config/wirewatch.toml";

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            problems: vec![ConfigProblem {
                file: file.clone(),
                line: None,
                place: "file".into(),
                field: String::new(),
                message: format!("cannot read it: {e}"),
            }],
        })?;
        let mut config = Self::parse(&text, &file)?;
        // Packaged services keep their data where the service manager says (StateDirectory=).
        if let Some(dir) = std::env::var_os("WIREWATCH_DATA_DIR").filter(|d| !d.is_empty()) {
            config.daemon.data_dir = PathBuf::from(dir);
            config.daemon.data_dir_from_env = true;
        }
        // Every path in a configuration is taken from the file's own directory, so the same file
        // works whatever directory the command is started from.
        let base = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Absolute, so a later change of directory (or a printed effective configuration read
        // from elsewhere) still means the same files.
        let base = std::path::absolute(&base).unwrap_or(base);
        if !config.daemon.data_dir_from_env {
            config.daemon.data_dir = base.join(&config.daemon.data_dir);
        }
        for p in [
            config.analysis.topics.as_mut(),
            config.analysis.gazetteer.as_mut(),
            config.analysis.topic_model.as_mut(),
            config.daemon.api_token_file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            *p = base.join(&*p);
        }
        for w in &mut config.watchlists {
            if !w.url.contains("://") {
                w.url = base.join(&w.url).display().to_string();
            }
        }
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and validates configuration text; `file` names it in problems.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
            problems: vec![syntax_problem(text, file, &e)],
        })?;
        let problems = validate(&raw, file);
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Config {
            file: None,
            alerts: raw.alerts,
            channels: raw.channels,
            delivery: raw.delivery,
            daemon: raw.daemon,
            fetch: raw.fetch,
            analysis: raw.analysis,
            sources: raw.sources,
            cluster: raw.cluster,
            watchlists: raw.watchlists,
        })
    }

    /// The configuration as it takes effect, as TOML: every default filled in, every path
    /// resolved, `[analysis]` keys absent when the built-in rules are used. Slack webhook URLs
    /// (the secret is their path) and passwords in URLs are masked.
    pub fn effective_toml(&self) -> Result<String, toml::ser::Error> {
        #[derive(serde::Serialize)]
        struct Effective<'a> {
            daemon: &'a DaemonConfig,
            fetch: &'a FetchConfig,
            analysis: &'a AnalysisConfig,
            delivery: &'a DeliveryConfig,
            #[serde(rename = "source", skip_serializing_if = "<[_]>::is_empty")]
            sources: &'a [SourceConfig],
            #[serde(rename = "channel", skip_serializing_if = "Vec::is_empty")]
            channels: Vec<ChannelConfig>,
            #[serde(rename = "alert", skip_serializing_if = "<[_]>::is_empty")]
            alerts: &'a [AlertConfig],
            #[serde(skip_serializing_if = "Option::is_none")]
            cluster: Option<&'a ClusterConfig>,
            #[serde(rename = "watchlist", skip_serializing_if = "<[_]>::is_empty")]
            watchlists: &'a [WatchlistConfig],
        }
        let channels = self
            .channels
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.url = c
                    .url
                    .as_deref()
                    .map(|u| mask_url(u, c.kind == ChannelKind::Slack));
                c
            })
            .collect();
        let body = toml::to_string(&Effective {
            daemon: &self.daemon,
            fetch: &self.fetch,
            analysis: &self.analysis,
            delivery: &self.delivery,
            sources: &self.sources,
            channels,
            alerts: &self.alerts,
            cluster: self.cluster.as_ref(),
            watchlists: &self.watchlists,
        })?;
        let file = self
            .file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        let rules = match (&self.analysis.topics, &self.analysis.gazetteer) {
            (Some(_), Some(_)) => "",
            _ => {
                "\n# [analysis] keys left out: the topic rules / gazetteer built into the binary are used."
            }
        };
        Ok(format!(
            "# The effective configuration of {file}: defaults filled in, paths resolved.{rules}\n\n{body}"
        ))
    }

    pub fn index_dir(&self) -> PathBuf {
        self.daemon.data_dir.join("articles")
    }

    pub fn state_path(&self) -> PathBuf {
        self.daemon.data_dir.join("state.sqlite")
    }

    /// The interval of one source, falling back to the daemon default.
    pub fn interval_of(&self, source: &SourceConfig) -> Duration {
        source
            .interval
            .map(|d| d.0)
            .unwrap_or(self.daemon.default_interval.0)
    }

    /// The bounds the adaptive schedule of one source keeps to.
    pub fn bounds_of(&self, source: &SourceConfig) -> crate::scheduler::Bounds {
        bounds(source, self.interval_of(source))
    }
}

fn bounds(source: &SourceConfig, interval: Duration) -> crate::scheduler::Bounds {
    crate::scheduler::Bounds {
        min: source
            .min_interval
            .map(|d| d.0)
            .unwrap_or(interval / 2)
            .max(Duration::from_secs(1)),
        base: interval,
        max: source.max_interval.map(|d| d.0).unwrap_or(interval * 4),
    }
}

fn syntax_problem(text: &str, file: &str, e: &toml::de::Error) -> ConfigProblem {
    let line = e
        .span()
        .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    // toml's message repeats the offending line with carets; the first line is the message proper
    // and the rest is useful context only on a terminal, so keep it as is.
    let message = e.message().to_string();
    let (place, field) = locate_span(text, e.span().map(|s| s.start));
    ConfigProblem {
        file: file.to_string(),
        line,
        place,
        field,
        message,
    }
}

/// Names the table (and source) around a byte offset, for errors that serde reports by position.
fn locate_span(text: &str, at: Option<usize>) -> (String, String) {
    let Some(at) = at else {
        return ("file".into(), String::new());
    };
    let before = &text[..at.min(text.len())];
    let mut place = "top level".to_string();
    let mut source_index = 0usize;
    let mut in_source = false;
    for line in before.lines() {
        let t = line.trim();
        if t.starts_with("[[source]]") {
            source_index += 1;
            in_source = true;
            place = format!("source #{source_index}");
        } else if t.starts_with('[') {
            in_source = false;
            place = t.trim_matches(|c| c == '[' || c == ']').to_string();
            place = format!("[{place}]");
        } else if in_source
            && t.starts_with("name")
            && let Some((_, v)) = t.split_once('=')
        {
            place = format!("source {}", v.trim());
        }
    }
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let field = text[line_start..]
        .lines()
        .next()
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim().to_string())
        .unwrap_or_default();
    (place, field)
}

fn validate(raw: &RawConfig, file: &str) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let mut push = |place: &str, field: &str, message: String| {
        problems.push(ConfigProblem {
            file: file.to_string(),
            line: None,
            place: place.to_string(),
            field: field.to_string(),
            message,
        })
    };

    let d = &raw.daemon;
    if d.listen.parse::<std::net::SocketAddr>().is_err() {
        push(
            "[daemon]",
            "listen",
            format!("`{}` is not an address like 127.0.0.1:8088", d.listen),
        );
    }
    if let Some(public) = &d.public_url {
        match url::Url::parse(public) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none() => {}
            Ok(_) => push(
                "[daemon]",
                "public_url",
                format!(
                    "`{public}` must be an http(s) URL with a host and no query or fragment, like https://wirewatch.example.org"
                ),
            ),
            Err(e) => push(
                "[daemon]",
                "public_url",
                format!("`{public}` is not a URL: {e}"),
            ),
        }
    }
    access::validate(d, &mut push);
    if !matches!(d.log_format.as_str(), "plain" | "json") {
        push(
            "[daemon]",
            "log_format",
            format!("`{}` is neither `plain` nor `json`", d.log_format),
        );
    }
    if tracing_subscriber::EnvFilter::try_new(&d.log_level).is_err() {
        push(
            "[daemon]",
            "log_level",
            format!("`{}` is not a log filter such as `info`", d.log_level),
        );
    }
    if !(0.0..=0.5).contains(&d.jitter) {
        push(
            "[daemon]",
            "jitter",
            format!("{} is outside 0.0 to 0.5", d.jitter),
        );
    }
    for (field, value) in [
        ("max_concurrent_polls", d.max_concurrent_polls),
        ("commit_every_docs", d.commit_every_docs),
        ("max_streams", d.max_streams),
    ] {
        if value == 0 {
            push("[daemon]", field, "must be at least 1".into());
        }
    }
    if d.default_interval.0 < Duration::from_secs(1) {
        push("[daemon]", "default_interval", "must be at least 1s".into());
    }

    if let Some(c) = &raw.cluster {
        validate_cluster(c, &mut push);
    }

    let f = &raw.fetch;
    if f.user_agent.trim().is_empty() {
        push("[fetch]", "user_agent", "must not be empty".into());
    }
    if f.per_host_concurrency == 0 {
        push(
            "[fetch]",
            "per_host_concurrency",
            "must be at least 1".into(),
        );
    }
    if f.timeout.0.is_zero() {
        push("[fetch]", "timeout", "must be longer than 0s".into());
    }
    for (field, size) in [("max_body", f.max_body), ("max_page_body", f.max_page_body)] {
        if size.0 < 1024 {
            push("[fetch]", field, "must be at least 1KiB".into());
        }
    }
    for net in &f.allowed_networks {
        if let Err(e) = net.parse::<ipnet::IpNet>() {
            push(
                "[fetch]",
                "allowed_networks",
                format!("`{net}` is not a network like 10.20.0.0/16: {e}"),
            );
        }
    }
    for (name, addr) in &f.resolve {
        if addr.parse::<std::net::IpAddr>().is_err() {
            push(
                "[fetch]",
                "resolve",
                format!("`{name}` = `{addr}`: not an IP address"),
            );
        }
    }

    let mut names = HashSet::new();
    for (i, s) in raw.sources.iter().enumerate() {
        let place = if s.name.trim().is_empty() {
            format!("source #{}", i + 1)
        } else {
            format!("source \"{}\"", s.name)
        };
        if s.name.trim().is_empty() {
            push(&place, "name", "must not be empty".into());
        } else if !names.insert(s.name.as_str()) {
            push(
                &place,
                "name",
                "is used by an earlier source; names must be unique".into(),
            );
        }
        match url::Url::parse(&s.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(u) => push(
                &place,
                "url",
                format!(
                    "`{}`: only http and https URLs with a host can be polled",
                    u
                ),
            ),
            Err(e) => push(&place, "url", format!("`{}` is not a URL: {e}", s.url)),
        }
        if let Some(interval) = s.interval
            && interval.0 < Duration::from_secs(1)
        {
            push(&place, "interval", "must be at least 1s".into());
        }
        let b = bounds(s, s.interval.map(|d| d.0).unwrap_or(d.default_interval.0));
        let show = |d: Duration| humantime::format_duration(d).to_string();
        if s.min_interval.is_some() && b.min > b.base {
            push(
                &place,
                "min_interval",
                format!(
                    "{} is longer than the interval ({})",
                    show(b.min),
                    show(b.base)
                ),
            );
        }
        if s.max_interval.is_some() && b.max < b.base {
            push(
                &place,
                "max_interval",
                format!(
                    "{} is shorter than the interval ({})",
                    show(b.max),
                    show(b.base)
                ),
            );
        }
        match (s.kind, &s.link_selector) {
            (SourceKind::Html, None) => push(
                &place,
                "link_selector",
                "an html source needs a CSS selector for its article links".into(),
            ),
            (SourceKind::Html, Some(_)) | (_, None) => {}
            (_, Some(_)) => push(
                &place,
                "link_selector",
                format!("only html sources use it, this one is `{}`", s.kind),
            ),
        }
        for (field, sel) in [
            ("link_selector", &s.link_selector),
            ("title_selector", &s.title_selector),
            ("date_selector", &s.date_selector),
        ] {
            if let Some(sel) = sel
                && let Err(e) = scraper::Selector::parse(sel)
            {
                push(&place, field, format!("`{sel}` is not a CSS selector: {e}"));
            }
        }
    }
    validate_alerts(raw, &mut push);
    validate_watchlists(raw, &mut push);
    problems
}

/// JetStream names may not hold spaces, dots, `*`, `>` or path separators.
fn is_jetstream_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn validate_cluster(c: &ClusterConfig, push: &mut impl FnMut(&str, &str, String)) {
    if c.nats_urls.is_empty() {
        push(
            "[cluster]",
            "nats_urls",
            "must name at least one server, like \"nats://127.0.0.1:4222\"".into(),
        );
    }
    for u in &c.nats_urls {
        let ok = url::Url::parse(u).is_ok_and(|p| {
            matches!(p.scheme(), "nats" | "tls") && p.host().is_some() && p.port().is_some()
        });
        if !ok {
            push(
                "[cluster]",
                "nats_urls",
                format!("`{u}` is not a server URL like nats://10.0.0.1:4222"),
            );
        }
    }
    for (field, name) in [
        ("stream", &c.stream),
        ("consumer", &c.consumer),
        ("lease_bucket", &c.lease_bucket),
    ] {
        if !is_jetstream_name(name) {
            push(
                "[cluster]",
                field,
                format!("`{name}` must be 1 to 64 letters, digits, `-` or `_`"),
            );
        }
    }
    if c.lease_ttl.0 < Duration::from_secs(1) {
        push("[cluster]", "lease_ttl", "must be at least 1s".into());
    }
    if !(1..=5).contains(&c.replicas) {
        push(
            "[cluster]",
            "replicas",
            format!("{} is outside 1 to 5", c.replicas),
        );
    }
    if c.ack_wait.0 < Duration::from_secs(1) {
        push("[cluster]", "ack_wait", "must be at least 1s".into());
    }
    if c.duplicate_window.0 < Duration::from_secs(1) {
        push(
            "[cluster]",
            "duplicate_window",
            "must be at least 1s".into(),
        );
    }
    if c.max_age.0 < c.duplicate_window.0 {
        push(
            "[cluster]",
            "max_age",
            "must be at least the duplicate_window".into(),
        );
    }
}

fn validate_watchlists(raw: &RawConfig, push: &mut impl FnMut(&str, &str, String)) {
    let mut names = HashSet::new();
    for (i, w) in raw.watchlists.iter().enumerate() {
        let place = if w.name.trim().is_empty() {
            format!("watchlist #{}", i + 1)
        } else {
            format!("watchlist \"{}\"", w.name)
        };
        if w.name.trim().is_empty() {
            push(&place, "name", "must not be empty".into());
        } else if !names.insert(w.name.as_str()) {
            push(
                &place,
                "name",
                "is used by an earlier watchlist; names must be unique".into(),
            );
        } else if w
            .name
            .chars()
            .any(|c| c.is_whitespace() || c == ':' || c == '"')
        {
            push(
                &place,
                "name",
                "must not hold spaces, `:` or `\"`: it is written in queries as `listed:<name>`"
                    .into(),
            );
        }
        if w.url.trim().is_empty() {
            push(&place, "url", "must not be empty".into());
        } else {
            match url::Url::parse(&w.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_none() => {
                    push(&place, "url", format!("`{}` has no host", w.url))
                }
                Ok(u)
                    if !matches!(u.scheme(), "http" | "https" | "file")
                        && w.url.contains("://") =>
                {
                    push(
                        &place,
                        "url",
                        format!(
                            "`{}`: lists are read over http(s), from file:// URLs or paths",
                            w.url
                        ),
                    )
                }
                _ => {}
            }
            if let Err(e) = crate::watchlist::file_names(w.kind, &w.url) {
                push(&place, "url", e);
            }
        }
        if w.refresh.0 < Duration::from_secs(60) {
            push(&place, "refresh", "must be at least 1m".into());
        }
    }
}

fn validate_alerts(raw: &RawConfig, push: &mut impl FnMut(&str, &str, String)) {
    let mut channel_names = HashSet::new();
    for c in &raw.channels {
        let place = format!("channel \"{}\"", c.name);
        if !channel_names.insert(c.name.as_str()) {
            push(
                &place,
                "name",
                "is used by an earlier channel; names must be unique".into(),
            );
        }
        match c.kind {
            ChannelKind::Webhook | ChannelKind::Slack | ChannelKind::Ntfy => {
                match c.url.as_deref().map(url::Url::parse) {
                    Some(Ok(u)) if matches!(u.scheme(), "http" | "https") => {}
                    Some(_) => push(&place, "url", "is not an http(s) URL".into()),
                    None => push(
                        &place,
                        "url",
                        format!("a {:?} channel needs a url", c.kind).to_lowercase(),
                    ),
                }
            }
            ChannelKind::Email => {
                if c.smtp_host.is_none() {
                    push(
                        &place,
                        "smtp_host",
                        "an email channel needs an SMTP server".into(),
                    );
                }
                if c.from
                    .as_deref()
                    .is_none_or(|f| f.parse::<lettre::message::Mailbox>().is_err())
                {
                    push(
                        &place,
                        "from",
                        "needs a sender address such as \"wirewatch <alerts@example.org>\"".into(),
                    );
                }
                if c.to.is_empty() {
                    push(&place, "to", "needs at least one recipient".into());
                }
                for to in &c.to {
                    if to.parse::<lettre::message::Mailbox>().is_err() {
                        push(&place, "to", format!("`{to}` is not an email address"));
                    }
                }
                if !matches!(
                    c.smtp_security.as_deref(),
                    None | Some("starttls") | Some("tls") | Some("none")
                ) {
                    push(
                        &place,
                        "smtp_security",
                        "is neither starttls, tls nor none".into(),
                    );
                }
            }
        }
    }
    if let Some(ops) = &raw.daemon.operators_channel
        && !channel_names.contains(ops.as_str())
    {
        push(
            "[daemon]",
            "operators_channel",
            format!("no [[channel]] is named `{ops}`"),
        );
    }
    let mut alert_names = HashSet::new();
    for a in &raw.alerts {
        let place = format!("alert \"{}\"", a.name);
        if a.name.trim().is_empty() {
            push(&place, "name", "must not be empty".into());
        } else if !alert_names.insert(a.name.as_str()) {
            push(
                &place,
                "name",
                "is used by an earlier alert; names must be unique".into(),
            );
        }
        for ch in &a.channels {
            if !channel_names.contains(ch.as_str()) {
                push(
                    &place,
                    "channels",
                    format!("no [[channel]] is named `{ch}`"),
                );
            }
        }
        if let Some(t) = &a.topic
            && !crate::analyze::TOPICS.contains(&t.as_str())
        {
            push(
                &place,
                "topic",
                format!("`{t}` is not one of {}", crate::analyze::TOPICS.join(", ")),
            );
        }
        if !(0.0..=1.0).contains(&a.min_score) {
            push(&place, "min_score", "must be between 0 and 1".into());
        }
    }
}

/// A URL without its password, and without its path and query when those are the secret.
fn mask_url(raw: &str, secret_path: bool) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            if secret_path && u.path() != "/" {
                u.set_path("/***");
                u.set_query(None);
            }
            u.to_string()
        }
        Err(_) => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_section_is_optional_and_every_problem_in_it_is_named() {
        let ok = Config::parse(
            "[cluster]\nnats_urls = [\"nats://10.0.0.1:4222\"]\n",
            "t.toml",
        )
        .map(|c| c.cluster);
        let Ok(Some(cluster)) = ok else {
            panic!("a minimal [cluster] is refused: {ok:?}");
        };
        assert_eq!(cluster.stream, "wirewatch-articles");
        assert!(matches!(
            Config::parse("", "t.toml"),
            Ok(Config { cluster: None, .. })
        ));

        let text = r#"
[cluster]
nats_urls = ["http://x", "nats://h:4222"]
stream = "wire.articles"
consumer = ""
lease_bucket = "leases"
lease_ttl = "0s"
replicas = 7
ack_wait = "0s"
"#;
        let Err(e) = Config::parse(text, "t.toml") else {
            panic!("a broken [cluster] passes");
        };
        let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "nats_urls",
                "stream",
                "consumer",
                "lease_ttl",
                "replicas",
                "ack_wait"
            ],
            "{e}"
        );
        assert!(e.problems.iter().all(|p| p.place == "[cluster]"));
        assert!(
            Config::parse("[cluster]\nnats_url = []\n", "t.toml").is_err(),
            "unknown keys are errors"
        );
    }

    #[test]
    fn alerts_and_channels_are_checked() {
        let text = r#"
[[channel]]
name = "desk"
kind = "webhook"
url = "https://hooks.example/x"
secret_env = "DESK_SECRET"

[[channel]]
name = "mail"
kind = "email"
smtp_host = "127.0.0.1"
from = "not an address"

[[alert]]
name = "smuggling"
query = "topic:chip_smuggling"
channels = ["desk", "pager"]
topic = "weather"
"#;
        let err = Config::parse(text, "a.toml").unwrap_err();
        let fields: Vec<(String, String)> = err
            .problems
            .iter()
            .map(|p| (p.place.clone(), p.field.clone()))
            .collect();
        assert!(
            fields.contains(&("channel \"mail\"".into(), "from".into())),
            "{err}"
        );
        assert!(
            fields.contains(&("channel \"mail\"".into(), "to".into())),
            "{err}"
        );
        assert!(
            fields.contains(&("alert \"smuggling\"".into(), "channels".into())),
            "{err}"
        );
        assert!(
            fields.contains(&("alert \"smuggling\"".into(), "topic".into())),
            "{err}"
        );
        assert_eq!(err.problems.len(), 4, "{err}");
    }

    #[test]
    fn reports_every_problem_with_its_place() {
        let text = r#"
[daemon]
listen = "nowhere"
public_url = "https://wirewatch.example.org/?x=1"
[[source]]
name = "A"
kind = "feed"
url = "not a url"
[[source]]
name = "A"
kind = "feed"
url = "ftp://example.com/feed"
interval = "0s"
[[source]]
name = "H"
kind = "html"
url = "https://example.com/news"
"#;
        let err = Config::parse(text, "test.toml").unwrap_err();
        let fields: Vec<(String, String)> = err
            .problems
            .iter()
            .map(|p| (p.place.clone(), p.field.clone()))
            .collect();
        assert!(fields.contains(&("[daemon]".into(), "listen".into())));
        assert!(fields.contains(&("source \"A\"".into(), "url".into())));
        assert!(fields.contains(&("source \"A\"".into(), "name".into())));
        assert!(fields.contains(&("source \"A\"".into(), "interval".into())));
        assert!(fields.contains(&("source \"H\"".into(), "link_selector".into())));
        assert!(fields.contains(&("[daemon]".into(), "public_url".into())));
        assert_eq!(err.problems.len(), 7, "{err}");
        assert!(err.to_string().contains("test.toml"));
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = "[fetch]\ntimeout = \"5s\"\nretries = 3\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        assert_eq!(err.problems.len(), 1);
        let p = &err.problems[0];
        assert_eq!(p.line, Some(3), "{p}");
        assert!(p.message.contains("retries"), "{p}");
        assert_eq!(p.place, "[fetch]");
    }

    #[test]
    fn bad_duration_names_source_and_field() {
        let text = "[[source]]\nname = \"S\"\nkind = \"feed\"\nurl = \"https://e.com/f\"\ninterval = \"ten minutes\"\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        let p = &err.problems[0];
        assert_eq!(p.line, Some(5), "{p}");
        assert_eq!(p.place, "source \"S\"");
        assert_eq!(p.field, "interval");
    }

    #[test]
    fn watchlists_are_checked() {
        let text = r#"
[[watchlist]]
name = "ofac-non-sdn"
kind = "ofac_csv"
url = "https://example.org/CONS_PRIM.CSV"
[[watchlist]]
name = "ofac-non-sdn"
kind = "ofac_csv"
url = "https://example.org/consolidated.csv"
refresh = "10s"
[[watchlist]]
name = "un list"
kind = "un_xml"
url = "ftp://example.org/consolidated.xml"
"#;
        let err = Config::parse(text, "w.toml").unwrap_err();
        let fields: Vec<(String, String)> = err
            .problems
            .iter()
            .map(|p| (p.place.clone(), p.field.clone()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("watchlist \"ofac-non-sdn\"".into(), "name".into()),
                ("watchlist \"ofac-non-sdn\"".into(), "url".into()),
                ("watchlist \"ofac-non-sdn\"".into(), "refresh".into()),
                ("watchlist \"un list\"".into(), "name".into()),
                ("watchlist \"un list\"".into(), "url".into()),
            ],
            "{err}"
        );
        let ok = Config::parse(
            "[[watchlist]]\nname = \"un\"\nkind = \"un_xml\"\nurl = \"lists/consolidated.xml\"\n",
            "w.toml",
        )
        .unwrap();
        assert_eq!(ok.watchlists[0].refresh.0, Duration::from_secs(86400));
    }

    #[test]
    fn defaults_are_valid() {
        let c = Config::parse("", "empty.toml").unwrap();
        assert_eq!(c.daemon.listen, "127.0.0.1:8088");
        assert!(!c.fetch.allow_private_addresses);
        assert_eq!(c.fetch.max_body.0, 8 * 1024 * 1024);
    }
}
