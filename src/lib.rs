//! wirewatch: a news-monitoring ingestion daemon for sanctions, tariffs, export controls and chip
//! smuggling.
//!
//! The modules follow the data flow:
//!
//! ```text
//! config ─► scheduler ─► fetch ─► parse ─► (dedup) ─► fetch article ─► extract ─► analyze ─► store
//!                        polite   feed |            canonical URL      title,      topics,    tantivy
//!                        HTTP     sitemap |         + id; seen? skip   body, date  mentions,  + SQLite
//!                                 html listing                                     entities,
//!                                                                                  facts      ▲
//!                                                        api (axum): search, articles, sources ┘
//! ```
//!
//! - [`config`]: the TOML file, validated all at once;
//! - [`scheduler`]: when each source is polled next (interval, jitter, backoff);
//! - [`fetch`]: the one polite HTTP client (per-host limits, conditional GET, robots.txt);
//! - [`parse`]: feeds, sitemaps and HTML listings into one entry model, panics contained;
//! - [`discover`]: the feed a site's page advertises (`<link rel="alternate">`);
//! - [`html`]: HTML parsing with nesting bounded, so work stays linear in the input;
//! - [`extract`]: article pages into title, body, date, authors, language, canonical URL;
//! - [`analyze`]: topics, mentions, entities and facts from rule packs and a gazetteer;
//! - [`text`]: how text becomes indexed words (CJK segmented by language, NFKC, script folding);
//! - [`store`]: the tantivy index, the SQLite state and the single writer that owns both;
//! - [`cpu`]: parsing, extraction and analysis on a bounded blocking pool;
//! - [`ingest`]: one poll of one source through all of the above;
//! - [`api`]: the HTTP API;
//! - [`watchlist`]: restricted-party lists (OFAC, CSL, UN) parsed, versioned and matched;
//! - [`websub`]: hubs push feed updates to a callback on the API listener;
//! - [`cluster`]: `run --role fetch|index`, the two halves over NATS JetStream (leases, stream);
//! - [`app`]: wiring and lifecycle (signals, drain, final commit).

pub mod alert;
pub mod analyze;
pub mod api;
pub mod app;
pub mod cluster;
pub mod config;
pub mod cpu;
pub mod discover;
pub mod extract;
pub mod fetch;
pub mod html;
pub mod ingest;
pub mod notify;
pub mod parse;
pub mod reindex;
pub mod scheduler;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod watchlist;
pub mod websub;
