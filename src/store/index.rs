//! The tantivy article index: schema, the single writer, and search.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, RangeQuery, TermQuery,
};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, STORED, STRING, Schema, TEXT, Value,
};
use tantivy::{
    DateTime as TDateTime, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term,
    doc,
};

use super::highlight::{self, Highlighter};
use super::pairs::{self, PairFields};
use super::published::{Newest, PublishedCache, PublishedDays};
use super::wordsets::{self, WordSets};
use crate::analyze::{Analysis, TopicScore};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index at {path}: {source}")]
    Open {
        path: String,
        source: tantivy::TantivyError,
    },
    #[error("index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error(
        "the archive at {path} was indexed by an older wirewatch (text analysis `{found}`; this one \
         uses `{wanted}`, which segments Chinese, Japanese and Korean): run `wirewatch reindex` \
         to re-tokenise it (every article is kept)",
        wanted = crate::text::TOKENIZER
    )]
    OldSchema { path: String, found: String },
    #[error("re-tokenising the archive: {0}")]
    Migration(String),
    #[error("bad query parameter `{param}`: {message}")]
    BadRequest {
        param: &'static str,
        message: String,
    },
}

/// An article as stored and returned by `/articles/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredArticle {
    pub id: String,
    pub url: String,
    pub canonical_url: String,
    pub source: String,
    pub title: String,
    pub body: String,
    pub summary: String,
    pub published: Option<DateTime<Utc>>,
    pub fetched: DateTime<Utc>,
    pub language: Option<String>,
    pub authors: Vec<String>,
    pub analysis: Analysis,
}

#[derive(Clone, Copy)]
pub(super) struct Fields {
    pub(super) id: Field,
    pub(super) url: Field,
    pub(super) canonical_url: Field,
    pub(super) source: Field,
    pub(super) title: Field,
    pub(super) body: Field,
    pub(super) summary: Field,
    pub(super) published: Field,
    pub(super) fetched: Field,
    pub(super) lang: Field,
    pub(super) author: Field,
    pub(super) topic: Field,
    pub(super) entity: Field,
    pub(super) analysis: Field,
    /// Adjacent word pairs of title, body and summary; absent from batch indexes and from
    /// archives created before pairs were indexed.
    pub(super) pairs: Option<PairFields>,
}

/// How much more a match in the title counts than one in the body or summary.
pub(super) const TITLE_BOOST: f32 = 2.0;

impl Fields {
    /// The fields of an archive's schema, found by name (pairs only when it has them).
    pub(super) fn of(schema: &Schema) -> tantivy::Result<Fields> {
        let get = |name: &str| schema.get_field(name);
        let pair = |text: Field, name: &str| schema.get_field(name).ok().map(|p| (text, p));
        let (title, body, summary) = (get("title")?, get("body")?, get("summary")?);
        let pairs = match (
            pair(title, "title_pairs"),
            pair(body, "body_pairs"),
            pair(summary, "summary_pairs"),
        ) {
            (Some(title), Some(body), Some(summary)) => Some(PairFields {
                title,
                body,
                summary,
            }),
            _ => None,
        };
        Ok(Fields {
            id: get("id")?,
            url: get("url")?,
            canonical_url: get("canonical_url")?,
            source: get("source")?,
            title,
            body,
            summary,
            published: get("published")?,
            fetched: get("fetched")?,
            lang: get("lang")?,
            author: get("author")?,
            topic: get("topic")?,
            entity: get("entity")?,
            analysis: get("analysis")?,
            pairs,
        })
    }
}

fn schema() -> (Schema, Fields) {
    schema_with(true)
}

/// The article schema; `stored = false` drops the document store and the word pairs (the other
/// field numbers stay the same, so queries built for the archive run unchanged on a batch index).
pub(super) fn schema_with(stored: bool) -> (Schema, Fields) {
    let mut b = Schema::builder();
    let keep = |o: tantivy::schema::TextOptions| if stored { o | STORED } else { o };
    let mut date = DateOptions::default()
        .set_indexed()
        .set_fast()
        .set_precision(DateTimePrecision::Seconds);
    if stored {
        date = date.set_stored();
    }
    let f = Fields {
        id: b.add_text_field("id", keep(STRING)),
        url: b.add_text_field("url", keep(STRING)),
        canonical_url: b.add_text_field("canonical_url", keep(STRING)),
        source: b.add_text_field("source", keep(STRING | tantivy::schema::FAST)),
        title: b.add_text_field("title", keep(text_options())),
        body: b.add_text_field("body", keep(text_options())),
        summary: b.add_text_field("summary", keep(text_options())),
        published: b.add_date_field("published", date.clone()),
        fetched: b.add_date_field("fetched", date),
        lang: b.add_text_field("lang", keep(STRING | tantivy::schema::FAST)),
        author: b.add_text_field("author", keep(TEXT)),
        topic: b.add_text_field("topic", keep(STRING | tantivy::schema::FAST)),
        entity: b.add_text_field("entity", keep(STRING | tantivy::schema::FAST)),
        analysis: b.add_text_field("analysis", keep(tantivy::schema::TextOptions::default())),
        pairs: None,
    };
    let f = Fields {
        pairs: stored.then(|| PairFields {
            title: (
                f.title,
                b.add_text_field("title_pairs", pairs::field_options()),
            ),
            body: (
                f.body,
                b.add_text_field("body_pairs", pairs::field_options()),
            ),
            summary: (
                f.summary,
                b.add_text_field("summary_pairs", pairs::field_options()),
            ),
        }),
        ..f
    };
    (b.build(), f)
}

/// Title, body and summary: segmented by [`crate::text`], with positions for phrases.
fn text_options() -> tantivy::schema::TextOptions {
    tantivy::schema::TextOptions::default().set_indexing_options(
        tantivy::schema::TextFieldIndexing::default()
            .set_tokenizer(crate::text::TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

/// The schema version of an archive, as its schema records it: the name of the analyzer its body
/// was tokenised with (`default` before CJK segmentation, [`crate::text::TOKENIZER`] since).
pub fn text_analysis_of(schema: &Schema) -> Option<String> {
    let body = schema.get_field("body").ok()?;
    match schema.get_field_entry(body).field_type() {
        tantivy::schema::FieldType::Str(o) => {
            Some(o.get_indexing_options()?.tokenizer().to_string())
        }
        _ => None,
    }
}

/// Registers the analyzers the article schema names with `index`.
pub(super) fn register_analyzers(index: &Index) {
    crate::text::register(index.tokenizers());
    index
        .tokenizers()
        .register(pairs::TOKENIZER, pairs::analyzer());
}

/// An open index: readers for search, and the means to create the one writer.
#[derive(Clone)]
pub struct ArticleIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    published: Arc<PublishedCache>,
}

/// tantivy keeps dates as nanoseconds in an i64 (years 1678 to 2261); a date beyond is held at
/// the edge, which filters the same (no article is published outside that span).
fn tdate(d: DateTime<Utc>) -> TDateTime {
    const EDGE: i64 = i64::MAX / 1_000_000_000 - 1;
    TDateTime::from_timestamp_secs(d.timestamp().clamp(-EDGE, EDGE))
}

fn cdate(d: TDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(d.into_timestamp_secs(), 0)
}

impl ArticleIndex {
    /// Opens the index in `dir`, creating it when absent.
    pub fn open(dir: &Path) -> Result<ArticleIndex, IndexError> {
        let open = || -> tantivy::Result<(Index, Fields)> {
            std::fs::create_dir_all(dir)?;
            let directory = MmapDirectory::open(dir)?;
            // An existing archive keeps the schema it was created with: one from before word
            // pairs were indexed still opens, and answers phrases from positions alone.
            let index = if Index::exists(&directory)? {
                Index::open(directory)?
            } else {
                let (schema, _) = schema();
                // Stored articles are read back for each hit of a page: in 4 KB blocks (one or
                // two articles) rather than tantivy's 16 KB, a hit decompresses a quarter as
                // much. tantivy fixes this when an index is created: older archives keep 16 KB.
                let settings = tantivy::IndexSettings {
                    docstore_blocksize: 4096,
                    ..Default::default()
                };
                Index::builder()
                    .schema(schema)
                    .settings(settings)
                    .open_or_create(directory)?
            };
            register_analyzers(&index);
            let fields = Fields::of(&index.schema())?;
            Ok((index, fields))
        };
        let (index, fields) = open().map_err(|source| IndexError::Open {
            path: dir.display().to_string(),
            source,
        })?;
        // An archive tokenised another way would answer CJK queries wrongly (and mix two kinds of
        // terms once written to): refused until `wirewatch reindex` has re-tokenised it.
        let found = text_analysis_of(&index.schema()).unwrap_or_default();
        if found != crate::text::TOKENIZER {
            return Err(IndexError::OldSchema {
                path: dir.display().to_string(),
                found,
            });
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        Ok(ArticleIndex {
            index,
            reader,
            fields,
            published: Default::default(),
        })
    }

    /// The archive as of the last reload; dates decoded for segments since merged away are
    /// dropped.
    fn searcher(&self) -> tantivy::Searcher {
        let searcher = self.reader.searcher();
        self.published.retain(&searcher);
        searcher
    }

    /// The one writer (tantivy allows a single writer per index, across processes too).
    pub fn writer(&self) -> Result<ArticleWriter, IndexError> {
        Ok(ArticleWriter {
            writer: self.index.writer(64 * 1024 * 1024)?,
            fields: self.fields,
        })
    }

    /// How many archived documents hold `term` (0 when it cannot be told).
    pub(super) fn doc_freq(&self, term: &Term) -> u64 {
        self.reader.searcher().doc_freq(term).unwrap_or(0)
    }

    /// The analyzer the archive indexes `field` with.
    pub(super) fn tokenizer_for(
        &self,
        field: Field,
    ) -> Result<tantivy::tokenizer::TextAnalyzer, IndexError> {
        Ok(self.index.tokenizer_for_field(field)?)
    }

    pub(super) fn fields(&self) -> Fields {
        self.fields
    }

    /// Makes the latest commit visible to searches now.
    pub fn reload(&self) -> Result<(), IndexError> {
        Ok(self.reader.reload()?)
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Every stored article id (duplicates included, should there be any).
    pub fn all_ids(&self) -> Result<Vec<String>, IndexError> {
        let searcher = self.reader.searcher();
        let mut ids = Vec::with_capacity(searcher.num_docs() as usize);
        for segment in searcher.segment_readers() {
            let store = segment
                .get_store_reader(64)
                .map_err(tantivy::TantivyError::from)?;
            for doc_id in 0..segment.max_doc() {
                if segment.is_deleted(doc_id) {
                    continue;
                }
                let d: TantivyDocument = store.get(doc_id)?;
                if let Some(id) = d.get_first(self.fields.id).and_then(|v| v.as_str()) {
                    ids.push(id.to_string());
                }
            }
        }
        Ok(ids)
    }

    pub fn get(&self, id: &str) -> Result<Option<StoredArticle>, IndexError> {
        let searcher = self.reader.searcher();
        let q = TermQuery::new(
            Term::from_field_text(self.fields.id, id),
            IndexRecordOption::Basic,
        );
        let top = searcher.search(&q, &TopDocs::with_limit(1))?;
        match top.first() {
            Some((_, addr)) => Ok(Some(self.to_article(&searcher.doc(*addr)?))),
            None => Ok(None),
        }
    }

    /// An article as a search hit shows it: the analysis read for its topics and entities only
    /// (mentions and facts, most of its bytes, are skipped, not built).
    fn to_hit_article(&self, d: &TantivyDocument) -> StoredArticle {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Listed {
            topics: Vec<crate::analyze::TopicScore>,
            entities: Vec<EntityId>,
            listed: Vec<crate::watchlist::Listing>,
        }
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct EntityId {
            id: String,
            kind: String,
            name: String,
        }
        let text = d
            .get_first(self.fields.analysis)
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let listed: Listed = serde_json::from_str(text).unwrap_or_default();
        let mut a = self.to_article_with(d, Analysis::default());
        a.analysis.topics = listed.topics;
        a.analysis.listed = listed.listed;
        a.analysis.entities = (listed.entities.into_iter())
            .map(|e| crate::analyze::Entity {
                id: e.id,
                kind: e.kind,
                name: e.name,
                count: 0,
            })
            .collect();
        a
    }

    fn to_article(&self, d: &TantivyDocument) -> StoredArticle {
        let analysis = d
            .get_first(self.fields.analysis)
            .and_then(|v| v.as_str())
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        self.to_article_with(d, analysis)
    }

    fn to_article_with(&self, d: &TantivyDocument, analysis: Analysis) -> StoredArticle {
        article_with(&self.fields, d, analysis)
    }

    /// The user's query (for highlighting) and the full query with filters, plus what the lenient
    /// parser had to ignore.
    fn build_query(&self, req: &SearchRequest) -> (Box<dyn Query>, BooleanQuery, Vec<String>) {
        self.build_query_for(req, false, None)
    }

    /// The query to run for `req`, and the checks its matches pass on their fast fields. A date
    /// range beside a query that already narrows the archive is such a check: tantivy's range
    /// over a fast field scans the column of every document, while checking the few matches of
    /// the rest costs a lookup each. Alone (no words, no other filter), it stays a query clause.
    fn plan(&self, req: &SearchRequest) -> Planned {
        let narrowed = !matches!(req.q.trim(), "" | "*")
            || [&req.topic, &req.entity, &req.source, &req.lang]
                .iter()
                .any(|v| v.as_deref().is_some_and(|v| !v.is_empty()))
            || req.min_score.is_some();
        let dated = req.from.is_some() || req.to.is_some();
        let (user, query, notes, window) = if narrowed && dated {
            let undated = SearchRequest {
                from: None,
                to: None,
                ..req.clone()
            };
            let (user, query, notes) = self.build_query(&undated);
            let window = Window {
                from: req.from.map(|d| d.timestamp()),
                to: req.to.map(|d| d.timestamp()),
            };
            (user, query, notes, Some(window))
        } else {
            let (user, query, notes) = self.build_query(req);
            (user, query, notes, None)
        };
        // What the user's query runs as (phrases as word pairs): the first clause.
        let words =
            (query.clauses().first()).map_or_else(|| user.box_clone(), |(_, q)| q.box_clone());
        // Without filters the user's query runs alone: wrapped in a boolean query, a single term
        // would lose tantivy's block-max pruning and its count from the term's document frequency.
        let query: Box<dyn Query> = if query.clauses().len() == 1 {
            flatten_unions(words.box_clone())
        } else {
            Box::new(query)
        };
        // A date range that stayed a query clause is not a set of words.
        let sets = if dated && window.is_none() {
            None
        } else {
            WordSets::of(&*words).map(|mut sets| {
                for term in self.filter_terms(req) {
                    sets.require(vec![term]);
                }
                if let Some(min) = req.min_score {
                    sets.require(self.min_score_terms(req, min));
                }
                sets
            })
        };
        Planned {
            user,
            words,
            query,
            notes,
            checks: Checks {
                fetched_by: None,
                window,
            },
            sets,
        }
    }

    /// As [`Self::build_query`]; with `matching`, a query only asked *whether* a document matches:
    /// no boosts or constant-score wrappers, so the presearcher can see every clause. Prefix terms
    /// expand to the words of `lexicon` (the archive when `None`).
    pub(super) fn build_query_for(
        &self,
        req: &SearchRequest,
        matching: bool,
        lexicon: Option<&tantivy::Searcher>,
    ) -> (Box<dyn Query>, BooleanQuery, Vec<String>) {
        let f = self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.title, f.body, f.summary]);
        if !matching {
            parser.set_field_boost(f.title, TITLE_BOOST);
        }
        parser.set_conjunction_by_default();
        let q = rewrite_listed(req.q.trim());
        let (q, shape_note) = bounded_query(q.as_ref());
        // Han words are asked both as dictionary words and as bigrams (see `text::query`).
        let q = crate::text::query::alternatives(q.as_ref());
        let q = q.as_ref();
        let (user_query, mut errors): (Box<dyn Query>, Vec<String>) = if q.is_empty() || q == "*" {
            (Box::new(AllQuery), Vec::new())
        } else if super::prefix::has_prefix(q) {
            let archive;
            let lexicon = match lexicon {
                Some(l) => l,
                None => {
                    archive = self.reader.searcher();
                    &archive
                }
            };
            let schema = self.index.schema();
            let (expanded, mut notes) =
                super::prefix::expand(q, &schema, &["title", "body", "summary"], lexicon);
            let (query, errors) = parser.parse_query_lenient(&expanded);
            notes.extend(errors.iter().map(|e| e.to_string()));
            (query, notes)
        } else {
            let (query, errors) = parser.parse_query_lenient(q);
            (query, errors.iter().map(|e| e.to_string()).collect())
        };
        errors.extend(shape_note);
        let user_query = lift_negations(user_query.as_ref());
        // Searching the archive, two-word phrases are looked up as word pairs; the user's query
        // itself (returned for highlighting) keeps its phrases.
        let run = match (matching, &f.pairs) {
            (false, Some(p)) => pairs::rewrite(&*user_query, p),
            _ => user_query.box_clone(),
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, run)];
        let unscored = |q: Box<dyn Query>| -> Box<dyn Query> {
            if matching {
                q
            } else {
                Box::new(ConstScoreQuery::new(q, 0.0))
            }
        };
        for term in self.filter_terms(req) {
            let exact = TermQuery::new(term, IndexRecordOption::Basic);
            clauses.push((Occur::Must, unscored(Box::new(exact))));
        }
        if let Some(min) = req.min_score {
            clauses.push((
                Occur::Must,
                unscored(Box::new(tantivy::query::TermSetQuery::new(
                    self.min_score_terms(req, min),
                ))),
            ));
        }
        use std::ops::Bound;
        let range = |lower: Bound<Term>, upper: Bound<Term>| -> Box<dyn Query> {
            unscored(Box::new(RangeQuery::new(lower, upper)))
        };
        if req.from.is_some() || req.to.is_some() {
            let lower = req
                .from
                .map(|d| Bound::Included(Term::from_field_date(f.published, tdate(d))))
                .unwrap_or(Bound::Unbounded);
            let upper = req
                .to
                .map(|d| Bound::Excluded(Term::from_field_date(f.published, tdate(d))))
                .unwrap_or(Bound::Unbounded);
            clauses.push((Occur::Must, range(lower, upper)));
        }
        (user_query, BooleanQuery::new(clauses), errors)
    }

    /// The exact values the request's filters ask for (topic, entity, source, language).
    fn filter_terms(&self, req: &SearchRequest) -> Vec<Term> {
        let f = self.fields;
        [
            (f.topic, &req.topic),
            (f.entity, &req.entity),
            (f.source, &req.source),
            (f.lang, &req.lang),
        ]
        .into_iter()
        .filter_map(|(field, value)| {
            let v = value.as_deref().filter(|v| !v.is_empty())?;
            Some(Term::from_field_text(field, v))
        })
        .collect()
    }

    /// The terms of which an article about the request's topic (or any topic) at `min` or more
    /// holds one.
    fn min_score_terms(&self, req: &SearchRequest, min: f64) -> Vec<Term> {
        let topics: Vec<&str> = match req.topic.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => vec![t],
            None => crate::analyze::TOPICS.to_vec(),
        };
        let field = self.fields.topic;
        topics
            .iter()
            .flat_map(|t| {
                (percent(min)..=100)
                    .map(move |p| Term::from_field_text(field, &score_term(t, p as f64 / 100.0)))
            })
            .collect()
    }

    /// Matches per calendar day, ISO week or month (UTC), empty buckets included, from `from` (or
    /// the first match) to `to` (or the last match).
    pub fn timeline(
        &self,
        req: &SearchRequest,
        interval: Interval,
    ) -> Result<Timeline, IndexError> {
        let plan = self.plan(req);
        let searcher = self.searcher();
        let cache = &self.published;
        let days = collect(&searcher, &plan, cache, PublishedDays { cache })?;
        let mut counts: std::collections::BTreeMap<chrono::NaiveDate, u64> = Default::default();
        let mut total = 0;
        for (day, n) in days {
            total += n;
            if let Some(d) = DateTime::from_timestamp(day * 86_400, 0) {
                *counts.entry(interval.bucket(d.date_naive())).or_default() += n;
            }
        }
        // Buckets run from `from` to `to` when both are near enough to hold in MAX_BUCKETS;
        // a wider range (`from=0001-01-01`) is cut to the span that has matches, so a valid
        // request never fails for its width alone.
        let first_match = counts.keys().next().copied();
        let last_match = counts.keys().next_back().copied();
        let mut first = req
            .from
            .map(|d| interval.bucket(d.date_naive()))
            .or(first_match);
        let mut last = req
            .to
            .map(|d| interval.bucket((d - chrono::Duration::seconds(1)).date_naive()))
            .or(last_match);
        if let (Some(f), Some(l)) = (first, last)
            && interval.buckets_between(f, l) > MAX_BUCKETS as i64
        {
            first = first_match.map(|m| m.max(f));
            last = last_match.map(|m| m.min(l));
        }
        let mut buckets = Vec::new();
        if let (Some(mut day), Some(last)) = (first, last) {
            while day <= last {
                if buckets.len() >= MAX_BUCKETS {
                    return Err(IndexError::BadRequest {
                        param: "interval",
                        message: format!(
                            "more than {MAX_BUCKETS} buckets; use a longer interval or a shorter range"
                        ),
                    });
                }
                buckets.push(Bucket {
                    start: day,
                    count: counts.get(&day).copied().unwrap_or(0),
                });
                day = interval.next(day);
            }
        }
        Ok(Timeline {
            interval,
            total,
            buckets,
        })
    }

    /// Matches per value of a field (`source`, `topic`, `entity`, `lang`), most frequent first.
    pub fn facets(
        &self,
        req: &SearchRequest,
        field: FacetField,
        limit: usize,
    ) -> Result<Vec<FacetCount>, IndexError> {
        let plan = self.plan(req);
        let counts = collect(
            &self.searcher(),
            &plan,
            &self.published,
            TermCounts {
                field: field.column(),
            },
        )?;
        let mut list: Vec<FacetCount> = counts
            .into_iter()
            .filter_map(|(value, count)| {
                let value = match field {
                    FacetField::Topic if value.contains(SCORE_MARK) => return None,
                    FacetField::Entity if value.starts_with("listed") => return None,
                    FacetField::Listed => value.strip_prefix(LISTED_LIST_MARK)?.to_string(),
                    FacetField::Program => value.strip_prefix(LISTED_PROGRAM_MARK)?.to_string(),
                    _ => value,
                };
                Some(FacetCount { value, count })
            })
            .collect();
        list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        list.truncate(limit);
        Ok(list)
    }

    /// Runs a search as `GET /api/v1/search` and `wirewatch search` describe it.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResponse, IndexError> {
        let started = std::time::Instant::now();
        let f = self.fields;
        let searcher = self.searcher();
        let cursor = req.cursor.as_deref().map(decode_cursor).transpose()?;
        let (offset, asof) = match cursor {
            Some(ref c) => (c.offset, c.asof),
            None => (0, chrono::Utc::now().timestamp()),
        };
        // Paging stays stable while articles arrive: later pages leave out what was fetched
        // after the first. The first page needs no such filter (nothing was fetched after now),
        // and later ones check it per match on the fast field, far cheaper than a range clause
        // over the whole archive.
        let mut plan = self.plan(req);
        plan.checks.fetched_by = cursor.as_ref().map(|_| asof);
        let limit = req.limit.clamp(1, 100);
        if offset > 10_000 {
            return Err(IndexError::BadRequest {
                param: "cursor",
                message: "paging deeper than 10,000 results is not supported; narrow the query"
                    .into(),
            });
        }
        let top = TopDocs::with_limit(limit).and_offset(offset);
        let (total, addrs): (usize, Vec<(f32, tantivy::DocAddress)>) = match req.sort {
            // A term or a union of terms finds its top hits by skipping whole blocks that cannot
            // make the page (block-max WAND), and counts without scoring (a lone term from its
            // document frequency): two cheap passes instead of scoring every match.
            Sort::Relevance if prunable(&*plan.query) && plan.checks.is_empty() => {
                let total = match &plan.sets {
                    Some(sets) => wordsets::count(&searcher, sets)?,
                    None => searcher.search(&*plan.query, &Count)?,
                };
                (total, top_of_terms(&searcher, &*plan.query, &top)?)
            }
            Sort::Relevance => collect(&searcher, &plan, &self.published, (Count, top))?,
            Sort::Newest => {
                let newest = Newest {
                    cache: &self.published,
                    limit,
                    offset,
                };
                let (total, docs) = match &plan.sets {
                    Some(sets) => {
                        wordsets::newest(&searcher, sets, &plan.checks, &self.published, &newest)?
                    }
                    None => collect(&searcher, &plan, &self.published, (Count, newest))?,
                };
                (total, docs.into_iter().map(|(_, a)| (0.0, a)).collect())
            }
        };
        let title_marks = Highlighter::new(&searcher, &*plan.user, f.title, 300)?;
        let body_marks = Highlighter::new(&searcher, &*plan.user, f.body, 240)?;
        let mut hits = Vec::with_capacity(addrs.len());
        for (score, addr) in &addrs {
            let d: TantivyDocument = searcher.doc(*addr)?;
            let a = self.to_hit_article(&d);
            let highlight = |marks: &Highlighter, text: &str| {
                marks
                    .fragment(text)
                    .unwrap_or_else(|| html_escape(&text.chars().take(240).collect::<String>()))
            };
            let body_source = if a.body.is_empty() {
                &a.summary
            } else {
                &a.body
            };
            hits.push(Hit {
                highlights: Highlights {
                    title: highlight(&title_marks, &a.title),
                    body: highlight(&body_marks, body_source),
                },
                id: a.id,
                title: a.title,
                url: a.url,
                source: a.source,
                published: a.published,
                score: *score,
                topics: a.analysis.topics,
                entities: (a.analysis.entities.into_iter())
                    .map(|e| HitEntity {
                        id: e.id,
                        kind: e.kind,
                        name: e.name,
                    })
                    .collect(),
                listed: a.analysis.listed,
            });
        }
        let next = offset + hits.len();
        Ok(SearchResponse {
            total,
            next_cursor: (next < total && !hits.is_empty())
                .then(|| encode_cursor(Cursor { offset: next, asof })),
            hits,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            notes: plan.notes,
        })
    }
}

/// An article from its stored document in an archive with `fields`.
pub(super) fn article_with(f: &Fields, d: &TantivyDocument, analysis: Analysis) -> StoredArticle {
    let text = |field: Field| {
        d.get_first(field)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let date = |field: Field| {
        d.get_first(field)
            .and_then(|v| v.as_datetime())
            .and_then(cdate)
    };
    StoredArticle {
        id: text(f.id),
        // Archives written before tracking parameters were dropped at ingest show clean links too.
        url: crate::store::canonical::without_tracking(&text(f.url)),
        canonical_url: text(f.canonical_url),
        source: text(f.source),
        title: text(f.title),
        body: text(f.body),
        summary: text(f.summary),
        published: date(f.published),
        fetched: date(f.fetched).unwrap_or_default(),
        language: Some(text(f.lang)).filter(|l| !l.is_empty()),
        authors: d
            .get_all(f.author)
            .filter_map(|v| v.as_str())
            .map(String::from)
            .collect(),
        analysis,
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    highlight::escape_into(s, &mut out);
    out
}

/// Where the next page starts: an offset into the result list as it stood at `asof` (articles
/// fetched later are left out of every later page, so pages neither repeat nor skip when new
/// articles arrive).
struct Cursor {
    offset: usize,
    asof: i64,
}

/// `offset.asof`: plain numbers, so that the API document can say exactly what a cursor looks like
/// (any offset up to 10,000 and any time are valid, if perhaps past the end).
fn encode_cursor(c: Cursor) -> String {
    format!("{}.{}", c.offset, c.asof)
}

fn decode_cursor(c: &str) -> Result<Cursor, IndexError> {
    let bad = || IndexError::BadRequest {
        param: "cursor",
        message: "not a cursor returned by a previous search".into(),
    };
    let (offset, asof) = c.split_once('.').ok_or_else(bad)?;
    Ok(Cursor {
        offset: offset.parse().map_err(|_| bad())?,
        asof: asof.parse().map_err(|_| bad())?,
    })
}

/// Buckets one timeline may have (ten years of days).
const MAX_BUCKETS: usize = 3660;

/// Timeline granularity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    #[default]
    Day,
    Week,
    Month,
}

impl Interval {
    /// The first day of the bucket holding `d` (weeks start on Monday, as ISO weeks do).
    fn bucket(self, d: chrono::NaiveDate) -> chrono::NaiveDate {
        use chrono::Datelike;
        match self {
            Interval::Day => d,
            Interval::Week => d - chrono::Duration::days(d.weekday().num_days_from_monday() as i64),
            Interval::Month => d.with_day(1).unwrap_or(d),
        }
    }

    /// About how many buckets lie from `a` to `b` (an upper bound).
    fn buckets_between(self, a: chrono::NaiveDate, b: chrono::NaiveDate) -> i64 {
        let days = (b - a).num_days();
        match self {
            Interval::Day => days + 1,
            Interval::Week => days / 7 + 1,
            Interval::Month => days / 28 + 1,
        }
    }

    fn next(self, d: chrono::NaiveDate) -> chrono::NaiveDate {
        match self {
            Interval::Day => d + chrono::Duration::days(1),
            Interval::Week => d + chrono::Duration::days(7),
            Interval::Month => d
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(d + chrono::Duration::days(31)),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bucket {
    /// First day of the bucket (UTC).
    pub start: chrono::NaiveDate,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Timeline {
    pub interval: Interval,
    pub total: u64,
    pub buckets: Vec<Bucket>,
}

/// Fields that can be faceted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacetField {
    Source,
    Topic,
    Entity,
    Lang,
    /// Restricted-party lists that name the matches.
    Listed,
    /// Sanctions programs of the listed parties the matches name.
    Program,
}

impl FacetField {
    pub const ALL: [FacetField; 6] = [
        FacetField::Source,
        FacetField::Topic,
        FacetField::Entity,
        FacetField::Lang,
        FacetField::Listed,
        FacetField::Program,
    ];

    /// The facet's name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            FacetField::Source => "source",
            FacetField::Topic => "topic",
            FacetField::Entity => "entity",
            FacetField::Lang => "lang",
            FacetField::Listed => "listed",
            FacetField::Program => "program",
        }
    }

    /// The index field whose values are counted.
    fn column(self) -> &'static str {
        match self {
            FacetField::Listed | FacetField::Program => "entity",
            f => f.as_str(),
        }
    }

    pub fn parse(s: &str) -> Option<FacetField> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// Counts the values of a string fast field over the matches.
struct TermCounts {
    field: &'static str,
}

struct TermCountsSegment {
    column: Option<tantivy::columnar::StrColumn>,
    ords: std::collections::HashMap<u64, u64>,
}

impl tantivy::collector::Collector for TermCounts {
    type Fruit = std::collections::HashMap<String, u64>;
    type Child = TermCountsSegment;

    fn for_segment(
        &self,
        _: tantivy::SegmentOrdinal,
        reader: &tantivy::SegmentReader,
    ) -> tantivy::Result<TermCountsSegment> {
        Ok(TermCountsSegment {
            column: reader.fast_fields().str(self.field)?,
            ords: Default::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut all = std::collections::HashMap::new();
        for fruit in fruits {
            for (k, v) in fruit {
                *all.entry(k).or_default() += v;
            }
        }
        Ok(all)
    }
}

impl tantivy::collector::SegmentCollector for TermCountsSegment {
    type Fruit = std::collections::HashMap<String, u64>;

    fn collect(&mut self, doc: tantivy::DocId, _: tantivy::Score) {
        if let Some(column) = &self.column {
            for ord in column.term_ords(doc) {
                *self.ords.entry(ord).or_default() += 1;
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        let mut out = std::collections::HashMap::new();
        if let Some(column) = &self.column {
            let mut value = String::new();
            for (ord, n) in self.ords {
                value.clear();
                if column.ord_to_str(ord, &mut value).unwrap_or(false) {
                    out.insert(value.clone(), n);
                }
            }
        }
        out
    }
}

/// Result order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    #[default]
    Relevance,
    Newest,
}

/// Whether tantivy finds `q`'s top hits with block-max pruning: a term (boosted or not), or
/// terms any of which may match. Only a choice of plan: either answer gives the same results.
fn prunable(q: &dyn Query) -> bool {
    is_term(q) || terms_of_union(q).is_some()
}

/// A term query, boosted or not.
pub(super) fn is_term(q: &dyn Query) -> bool {
    q.downcast_ref::<TermQuery>().is_some()
        // tantivy does not lend out a boost's query; a boosted term scores as a term.
        || (q.downcast_ref::<tantivy::query::BoostQuery>().is_some()
            && format!("{q:?}").starts_with("Boost(query=TermQuery("))
}

/// The clauses of `q` when it is a union of terms (any one of which makes a match).
fn terms_of_union(q: &dyn Query) -> Option<&[(Occur, Box<dyn Query>)]> {
    let b = q.downcast_ref::<BooleanQuery>()?;
    let clauses = b.clauses();
    (b.get_minimum_number_should_match() <= 1
        && clauses
            .iter()
            .all(|(occur, c)| *occur == Occur::Should && is_term(c.as_ref())))
    .then_some(clauses)
}

/// The top hits of a term or a union of terms (see [`prunable`]), each segment searched for only
/// the terms it holds. tantivy skips blocks that cannot make the page (block-max WAND) only when
/// every term of a union has postings in the segment; one word absent from a segment's titles or
/// summaries, and it scores every match of the others instead.
fn top_of_terms(
    searcher: &tantivy::Searcher,
    q: &dyn Query,
    top: &TopDocs,
) -> tantivy::Result<Vec<(tantivy::Score, tantivy::DocAddress)>> {
    use tantivy::collector::Collector;
    use tantivy::query::EnableScoring;
    let Some(clauses) = terms_of_union(q) else {
        return searcher.search(q, top);
    };
    let scoring = EnableScoring::enabled_from_searcher(searcher);
    // Segments holding the same terms share one weight.
    let mut weights: HashMap<Vec<bool>, Box<dyn tantivy::query::Weight>> = HashMap::new();
    let mut fruits = Vec::new();
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let mut held = Vec::with_capacity(clauses.len());
        for (_, clause) in clauses {
            let mut n = 0;
            let mut lookups = Ok(());
            clause.query_terms(&mut |t, _| match segment
                .inverted_index(t.field())
                .and_then(|i| Ok(i.doc_freq(t)?))
            {
                Ok(f) => n += f,
                Err(e) => lookups = Err(e),
            });
            lookups?;
            held.push(n > 0);
        }
        if !held.contains(&true) {
            continue;
        }
        let weight = match weights.entry(held) {
            std::collections::hash_map::Entry::Occupied(w) => w.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let kept: Vec<(Occur, Box<dyn Query>)> = (clauses.iter().zip(slot.key()))
                    .filter(|(_, held)| **held)
                    .map(|((occur, clause), _)| (*occur, clause.box_clone()))
                    .collect();
                let query: Box<dyn Query> = match <[_; 1]>::try_from(kept) {
                    Ok([(_, one)]) => one,
                    Err(kept) => Box::new(BooleanQuery::new(kept)),
                };
                slot.insert(query.weight(scoring)?)
            }
        };
        fruits.push(top.collect_segment(weight.as_ref(), ord as u32, segment)?);
    }
    top.merge_fruits(fruits)
}

/// `chips OR wafers` over title, body and summary parses to a union of two unions of terms; as
/// one union of the six terms it scores the same (tantivy sums the scores of optional clauses,
/// nested or not) and takes block-max pruning like a single word.
fn flatten_unions(q: Box<dyn Query>) -> Box<dyn Query> {
    let Some(b) = q.downcast_ref::<BooleanQuery>() else {
        return q;
    };
    if b.get_minimum_number_should_match() > 1 {
        return q;
    }
    let mut flat: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (occur, clause) in b.clauses() {
        if *occur != Occur::Should {
            return q;
        }
        if is_term(clause.as_ref()) {
            flat.push((Occur::Should, clause.box_clone()));
        } else if let Some(inner) = terms_of_union(clause.as_ref()) {
            flat.extend(inner.iter().map(|(o, c)| (*o, c.box_clone())));
        } else {
            return q;
        }
    }
    Box::new(BooleanQuery::new(flat))
}

/// Runs `collector` over the plan's matches that pass its checks: from bitmaps of word sets when
/// the query is made of words, by tantivy otherwise.
fn collect<C>(
    searcher: &tantivy::Searcher,
    plan: &Planned,
    dates: &PublishedCache,
    collector: C,
) -> tantivy::Result<C::Fruit>
where
    C: tantivy::collector::Collector + Send + Sync,
{
    use tantivy::collector::FilterCollector;
    if let Some(sets) = &plan.sets {
        return wordsets::collect(
            searcher,
            sets,
            &*plan.words,
            &plan.checks,
            dates,
            &collector,
        );
    }
    let Some(window) = plan.checks.window else {
        return collect_fetched(searcher, plan, collector);
    };
    let published = move |p: TDateTime| window.holds(p.into_timestamp_secs());
    let collector = FilterCollector::new("published".to_string(), published, collector);
    collect_fetched(searcher, plan, collector)
}

/// As [`collect`], over documents fetched at or before the plan's `fetched_by` when it has one.
fn collect_fetched<C>(
    searcher: &tantivy::Searcher,
    plan: &Planned,
    collector: C,
) -> tantivy::Result<C::Fruit>
where
    C: tantivy::collector::Collector + Send + Sync,
{
    match plan.checks.fetched_by {
        None => searcher.search(&*plan.query, &collector),
        Some(t) => searcher.search(
            &*plan.query,
            &tantivy::collector::FilterCollector::new(
                "fetched".to_string(),
                move |fetched: TDateTime| fetched.into_timestamp_secs() <= t,
                collector,
            ),
        ),
    }
}

/// A query ready to run: the user's part (for highlighting), the whole, the parser's notes, and
/// what matches must pass on their fast fields.
struct Planned {
    user: Box<dyn Query>,
    /// The user's query as it runs (two-word phrases looked up as word pairs), which scores.
    words: Box<dyn Query>,
    query: Box<dyn Query>,
    notes: Vec<String>,
    checks: Checks,
    /// What `query` matches as sets of words, when it is made of words and exact filters alone.
    sets: Option<WordSets>,
}

/// Conditions checked per match on fast fields rather than run as query clauses.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Checks {
    /// Fetched at or before (Unix seconds): later pages of a search leave out what arrived after
    /// the first.
    fetched_by: Option<i64>,
    /// Published within `[from, to)`.
    window: Option<Window>,
}

impl Checks {
    pub(super) fn is_empty(&self) -> bool {
        self.fetched_by.is_none() && self.window.is_none()
    }

    /// Whether a document of `segment` passes, read from its fast fields; as tantivy's
    /// `FilterCollector`, a document without the value fails.
    pub(super) fn for_segment(
        &self,
        segment: &tantivy::SegmentReader,
        dates: &PublishedCache,
    ) -> tantivy::Result<impl Fn(tantivy::DocId) -> bool + use<>> {
        let published = match self.window {
            Some(w) => {
                let dates = dates.of(segment)?;
                let window = dates.window(w);
                Some((dates, window))
            }
            None => None,
        };
        let fetched = match self.fetched_by {
            Some(_) => Some(segment.fast_fields().date("fetched")?),
            None => None,
        };
        let fetched_by = self.fetched_by;
        Ok(move |d: tantivy::DocId| {
            published
                .as_ref()
                .is_none_or(|(dates, window)| dates.holds(window, d))
                && fetched_by.is_none_or(|by| {
                    (fetched.as_ref())
                        .and_then(|c| c.first(d))
                        .is_some_and(|t| t.into_timestamp_secs() <= by)
                })
        })
    }
}

/// Published within `[from, to)`, Unix seconds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    pub(super) from: Option<i64>,
    pub(super) to: Option<i64>,
}

impl Window {
    pub(super) fn holds(self, t: i64) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|u| t < u)
    }
}

/// Rewrites what tantivy's parser makes of `a AND NOT (b OR c)`: a required group holding only an
/// exclusion, which matches nothing. The exclusions move up to the enclosing query, and a group
/// left with exclusions alone matches everything else, as in Lucene.
fn lift_negations(q: &dyn Query) -> Box<dyn Query> {
    let Some(b) = q.downcast_ref::<BooleanQuery>() else {
        return q.box_clone();
    };
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (occur, clause) in b.clauses() {
        let clause = lift_negations(clause.as_ref());
        let only_exclusions = clause.downcast_ref::<BooleanQuery>().and_then(|inner| {
            let c = inner.clauses();
            (!c.is_empty() && c.iter().all(|(o, _)| *o == Occur::MustNot)).then(|| {
                c.iter()
                    .map(|(o, q)| (*o, q.box_clone()))
                    .collect::<Vec<_>>()
            })
        });
        match (occur, only_exclusions) {
            (Occur::Must, Some(exclusions)) => clauses.extend(exclusions),
            _ => clauses.push((*occur, clause)),
        }
    }
    if !clauses.is_empty() && clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    let mut out = BooleanQuery::new(clauses);
    out.set_minimum_number_should_match(b.get_minimum_number_should_match());
    Box::new(out)
}

/// The term that records how much an article is about a topic, in whole percent
/// (`tariffs#087`), so that a minimum score is a set of terms to look up rather than a stored
/// value to read back for every hit. In the `topic` field, so an archive needs no new schema;
/// facets leave these terms out. Articles indexed before these terms existed gain them with
/// `wirewatch reindex --force`.
fn score_term(topic: &str, score: f64) -> String {
    format!("{topic}{SCORE_MARK}{:03}", percent(score))
}

const SCORE_MARK: char = '#';

fn percent(score: f64) -> u32 {
    (score.clamp(0.0, 1.0) * 100.0).round() as u32
}

/// A search, from the CLI or the API.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub q: String,
    pub topic: Option<String>,
    pub entity: Option<String>,
    pub source: Option<String>,
    pub lang: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only articles at least this much about `topic` (0..1), or about any topic without one.
    pub min_score: Option<f64>,
    pub sort: Sort,
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Highlights {
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hit {
    pub id: String,
    pub title: String,
    pub url: String,
    pub source: String,
    pub published: Option<DateTime<Utc>>,
    pub score: f32,
    pub topics: Vec<TopicScore>,
    pub entities: Vec<HitEntity>,
    /// Restricted-party list entries the article names.
    pub listed: Vec<crate::watchlist::Listing>,
    pub highlights: Highlights,
}

/// An entity a hit names: the gazetteer's id (what `entity:` queries and facets use), its kind
/// (`company`, `chip`, `agency`, `country`, ...) and its display name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HitEntity {
    pub id: String,
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchResponse {
    pub total: usize,
    pub hits: Vec<Hit>,
    pub next_cursor: Option<String>,
    pub took_ms: f64,
    /// What the lenient query parser had to ignore or reinterpret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The single index writer. Lives on its own thread; see [`crate::store::writer`].
pub struct ArticleWriter {
    writer: IndexWriter,
    fields: Fields,
}

/// The tantivy document for an article; without `stored`, only what queries look at.
pub(super) fn to_doc(f: &Fields, a: &StoredArticle, stored: bool) -> TantivyDocument {
    let mut d = doc!(
        f.id => a.id.as_str(),
        f.source => a.source.as_str(),
        f.title => a.title.as_str(),
        f.body => a.body.as_str(),
        f.summary => a.summary.as_str(),
        f.fetched => tdate(a.fetched),
        f.published => tdate(a.published.unwrap_or(a.fetched)),
    );
    if stored {
        d.add_text(f.url, &a.url);
        d.add_text(f.canonical_url, &a.canonical_url);
        d.add_text(
            f.analysis,
            serde_json::to_string(&a.analysis).unwrap_or_default(),
        );
        if let Some(p) = &f.pairs {
            d.add_text(p.title.1, &a.title);
            d.add_text(p.body.1, &a.body);
            d.add_text(p.summary.1, &a.summary);
        }
    }
    if let Some(l) = &a.language {
        d.add_text(f.lang, l);
    }
    for author in &a.authors {
        d.add_text(f.author, author);
    }
    for t in &a.analysis.topics {
        d.add_text(f.topic, &t.name);
        d.add_text(f.topic, score_term(&t.name, t.score));
    }
    for e in &a.analysis.entities {
        d.add_text(f.entity, &e.id);
    }
    for term in listed_terms(&a.analysis.listed) {
        d.add_text(f.entity, term);
    }
    d
}

/// Restricted-party listings are terms of the `entity` field (so an archive needs no new
/// schema): `listed=any`, `listed=<list name>`, `listed=<entry id>` for `listed:` queries, and
/// `listed-list=` / `listed-program=` for facets. Entity facets leave them out.
const LISTED_MARK: &str = "listed=";
const LISTED_LIST_MARK: &str = "listed-list=";
const LISTED_PROGRAM_MARK: &str = "listed-program=";

fn listed_terms(listed: &[crate::watchlist::Listing]) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut push = |t: String| {
        if !terms.contains(&t) {
            terms.push(t);
        }
    };
    if !listed.is_empty() {
        push(format!("{LISTED_MARK}any"));
    }
    for l in listed {
        push(format!("{LISTED_MARK}{}", l.list));
        push(format!("{LISTED_MARK}{}", l.id));
        push(format!("{LISTED_LIST_MARK}{}", l.list));
        for p in &l.programs {
            push(format!("{LISTED_PROGRAM_MARK}{p}"));
        }
    }
    terms
}

/// `listed:<value>` in a query as the `entity` term that records it (`listed:any`,
/// `listed:"ofac-sdn"`, `-listed:30947`).
pub(super) fn rewrite_listed(q: &str) -> std::borrow::Cow<'_, str> {
    const KEY: &str = "listed:";
    if !q.contains(KEY) {
        return std::borrow::Cow::Borrowed(q);
    }
    let mut out = String::with_capacity(q.len() + 16);
    let mut rest = q;
    while let Some(at) = rest.find(KEY) {
        let boundary = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || matches!(c, '(' | '-' | '+'));
        out.push_str(&rest[..at]);
        let after = &rest[at + KEY.len()..];
        if !boundary {
            out.push_str(KEY);
            rest = after;
            continue;
        }
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            let end = after
                .find(|c: char| c.is_whitespace() || c == ')')
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.push_str(&format!(
            "entity:\"{LISTED_MARK}{}\"",
            value.replace('"', "")
        ));
        rest = tail;
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

impl ArticleWriter {
    /// Adds or replaces an article (delete by id + add; both take effect at the next commit).
    pub fn upsert(&mut self, a: &StoredArticle) -> Result<(), IndexError> {
        self.writer
            .delete_term(Term::from_field_text(self.fields.id, &a.id));
        let d = to_doc(&self.fields, a, true);
        self.writer.add_document(d)?;
        Ok(())
    }

    pub fn commit(&mut self) -> Result<(), IndexError> {
        self.writer.commit()?;
        Ok(())
    }
}

/// Longest query read, in characters: a few hundred is a long boolean search.
pub const MAX_QUERY_CHARS: usize = 4096;
/// Parentheses opened at once beyond which they are read as spaces. tantivy's query grammar
/// descends once per level, and every rewrite after it walks the query tree the same way: a
/// query of 20,000 `(` would overflow the stack and abort the process.
pub const MAX_QUERY_NESTING: usize = 16;

/// Words (outside phrases) read at most: the grammar descends once per word in some of its
/// lenient paths (an unclosed `field:[` before 2,000 words overflowed a 2 MiB stack).
pub const MAX_QUERY_WORDS: usize = 256;

/// The query cut to [`MAX_QUERY_CHARS`], [`MAX_QUERY_WORDS`] and [`MAX_QUERY_NESTING`], with a
/// note when it was.
fn bounded_query(q: &str) -> (std::borrow::Cow<'_, str>, Option<String>) {
    let mut notes = Vec::new();
    let q = match q.char_indices().nth(MAX_QUERY_CHARS) {
        Some((cut, _)) => {
            notes.push(format!(
                "only the first {MAX_QUERY_CHARS} characters were read"
            ));
            &q[..cut]
        }
        None => q,
    };
    let q = {
        let mut words = 0;
        let mut quoted = false;
        let mut prev_space = true;
        let mut cut = None;
        for (i, c) in q.char_indices() {
            if c == '"' {
                quoted = !quoted;
            }
            let space = c.is_whitespace() && !quoted;
            if prev_space && !space {
                words += 1;
                if words > MAX_QUERY_WORDS {
                    cut = Some(i);
                    break;
                }
            }
            prev_space = space;
        }
        match cut {
            Some(i) => {
                notes.push(format!("only the first {MAX_QUERY_WORDS} words were read"));
                &q[..i]
            }
            None => q,
        }
    };
    let mut depth = 0usize;
    let mut quoted = false;
    let mut flattened = false;
    let mut out = String::with_capacity(q.len());
    for c in q.chars() {
        let keep = match c {
            '"' => {
                quoted = !quoted;
                true
            }
            '(' if !quoted => {
                depth += 1;
                depth <= MAX_QUERY_NESTING
            }
            ')' if !quoted => {
                let keep = depth <= MAX_QUERY_NESTING;
                depth = depth.saturating_sub(1);
                keep
            }
            _ => true,
        };
        flattened |= !keep;
        out.push(if keep { c } else { ' ' });
    }
    if flattened {
        notes.push(format!(
            "parentheses nested deeper than {MAX_QUERY_NESTING} levels were read as spaces"
        ));
    }
    // The grammar also descends once per operator word: `NOT NOT NOT ...` would overflow too.
    // A run of them means the last one (and for NOTs alone, whether their count is odd).
    static RUNS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?:\b(?:AND|OR|NOT)\s+){3,}").expect("a valid pattern")
    });
    if RUNS.is_match(&out) {
        notes.push("repeated AND/OR/NOT were read as one".into());
        out = RUNS
            .replace_all(&out, |c: &regex::Captures| {
                let words: Vec<&str> = c[0].split_whitespace().collect();
                let last = words.last().copied().unwrap_or("");
                if words.iter().all(|w| *w == "NOT") && words.len().is_multiple_of(2) {
                    " ".to_string()
                } else {
                    format!("{last} ")
                }
            })
            .into_owned();
    }
    if notes.is_empty() {
        (std::borrow::Cow::Borrowed(q), None)
    } else {
        (std::borrow::Cow::Owned(out), Some(notes.join("; ")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn listed_queries_become_entity_terms() {
        assert_eq!(rewrite_listed("listed:any"), "entity:\"listed=any\"");
        assert_eq!(
            rewrite_listed("huawei AND (listed:\"ofac-sdn\" OR -listed:30947)"),
            "huawei AND (entity:\"listed=ofac-sdn\" OR -entity:\"listed=30947\")"
        );
        // Only the field, not a word ending in it.
        assert_eq!(rewrite_listed("unlisted:x"), "unlisted:x");
        let terms = listed_terms(&[crate::watchlist::Listing {
            list: "un".into(),
            name: "X".into(),
            id: "KPe.001".into(),
            programs: vec!["DPRK".into()],
            listed_on: None,
        }]);
        assert_eq!(
            terms,
            [
                "listed=any",
                "listed=un",
                "listed=KPe.001",
                "listed-list=un",
                "listed-program=DPRK"
            ]
        );
    }

    pub(crate) fn article(id: &str, title: &str, body: &str, topic: Option<&str>) -> StoredArticle {
        StoredArticle {
            id: id.into(),
            url: format!("https://e.com/{id}"),
            canonical_url: format!("https://e.com/{id}"),
            source: "S".into(),
            title: title.into(),
            body: body.into(),
            summary: String::new(),
            published: Some(Utc::now()),
            fetched: Utc::now(),
            language: Some("en".into()),
            authors: vec![],
            analysis: Analysis {
                topics: topic
                    .map(|t| {
                        vec![TopicScore {
                            name: t.into(),
                            score: 0.5,
                        }]
                    })
                    .unwrap_or_default(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn upsert_search_highlight_filter() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ArticleIndex::open(dir.path()).unwrap();
        let mut w = idx.writer().unwrap();
        w.upsert(&article(
            "a",
            "Chip <b>curbs</b>",
            "Nvidia chips smuggled via Singapore.",
            Some("chip_smuggling"),
        ))
        .unwrap();
        w.upsert(&article(
            "b",
            "Tariffs",
            "Tariffs on steel rise.",
            Some("tariffs"),
        ))
        .unwrap();
        w.upsert(&article(
            "a",
            "Chip <b>curbs</b>",
            "Nvidia chips smuggled via Singapore.",
            Some("chip_smuggling"),
        ))
        .unwrap();
        w.commit().unwrap();
        idx.reload().unwrap();
        assert_eq!(idx.num_docs(), 2);
        let r = idx
            .search(&SearchRequest {
                q: "smuggled".into(),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(r.total, 1);
        assert!(r.hits[0].highlights.body.contains("<mark>smuggled</mark>"));
        assert!(
            r.hits[0].highlights.title.contains("&lt;b&gt;"),
            "{}",
            r.hits[0].highlights.title
        );
        let r = idx
            .search(&SearchRequest {
                q: "".into(),
                topic: Some("tariffs".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(r.total, 1);
        assert_eq!(r.hits[0].id, "b");
        let r = idx
            .search(&SearchRequest {
                q: "topic:chip_smuggling".into(),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(r.total, 1);
        // Prefixes expand to the words the archive holds, and are highlighted as such.
        let prefixed = |q: &str| {
            idx.search(&SearchRequest {
                q: q.into(),
                limit: 10,
                ..Default::default()
            })
            .unwrap()
        };
        let r = prefixed("smuggl*");
        assert_eq!(r.total, 1);
        assert!(r.hits[0].highlights.body.contains("<mark>smuggled</mark>"));
        assert_eq!(prefixed("tarif* AND NOT Nvid*").total, 1);
        assert_eq!(prefixed("steel AND NOT (nvidia OR huawei)").total, 1);
        assert_eq!(prefixed("NOT (nvidia OR huawei)").total, 1);
        assert_eq!(prefixed("tariffs OR (NOT steel)").total, 2);
        assert_eq!(prefixed("title:tarif*").total, 1);
        assert_eq!(prefixed("body:tarif* OR smugg*").total, 2);
        assert_eq!(prefixed("zzz*").total, 0);
        assert_eq!(prefixed("topic:chip_*").total, 1);
        // A stray quote still gets an answer.
        let r = idx
            .search(&SearchRequest {
                q: "\"nvidia".into(),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert!(r.total <= 2);
    }

    #[test]
    fn pruned_relevance_search_counts_and_ranks_like_the_full_pass() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ArticleIndex::open(dir.path()).unwrap();
        let mut w = idx.writer().unwrap();
        for n in 0..60 {
            let body = match n % 4 {
                0 => "chips chips chips were seized",
                1 => "tariffs on chips rose",
                2 => "tariffs were cut",
                _ => "nothing to see",
            };
            let title = if n % 5 == 0 { "Chips" } else { "News" };
            w.upsert(&article(&format!("a{n:02}"), title, body, Some("tariffs")))
                .unwrap();
        }
        w.commit().unwrap();
        idx.reload().unwrap();
        let run = |q: &str, topic: Option<&str>, limit: usize| {
            let r = idx
                .search(&SearchRequest {
                    q: q.into(),
                    topic: topic.map(str::to_string),
                    limit,
                    ..Default::default()
                })
                .unwrap();
            (
                r.total,
                r.hits.into_iter().map(|h| h.id).collect::<Vec<_>>(),
            )
        };
        for q in [
            "chips",
            "chips OR tariffs",
            "body:chips",
            "title:chips OR body:cut",
        ] {
            let (user, _, _) = idx.build_query(&SearchRequest {
                q: q.into(),
                ..Default::default()
            });
            // A union of per-word unions is pruned once flattened.
            assert_eq!(prunable(&*user), q != "chips OR tariffs", "{q}");
            assert!(prunable(&*flatten_unions(user)), "{q}");
            // The same query with a filter that keeps everything takes the full scoring pass.
            let (pruned, pruned_hits) = run(q, None, 100);
            let (full, full_hits) = run(q, Some("tariffs"), 100);
            assert_eq!(pruned, full, "{q}");
            let mut a = pruned_hits.clone();
            let mut b = full_hits.clone();
            a.sort();
            b.sort();
            assert_eq!(a, b, "{q}");
            // The first page is the full ranking's first page.
            assert_eq!(run(q, None, 5).1, full_hits[..5].to_vec(), "{q}");
        }
        // Replaced articles leave deleted documents behind until a merge: not counted.
        for n in 0..10 {
            w.upsert(&article(
                &format!("a{n:02}"),
                "News",
                "nothing",
                Some("tariffs"),
            ))
            .unwrap();
        }
        w.commit().unwrap();
        idx.reload().unwrap();
        for q in ["chips", "title:chips OR body:cut"] {
            let (pruned, _) = run(q, None, 100);
            let (full, _) = run(q, Some("tariffs"), 100);
            assert_eq!(pruned, full, "{q}");
        }
        // 36 before: bodies with "chips" (n % 4 < 2) or titles "Chips" (n % 5 == 0); six of a00-a09 went.
        assert_eq!(run("chips", None, 100).0, 30);
    }

    /// Queries of words and exact filters run from bitmaps of word sets; the same plans run by
    /// tantivy itself must count, rank, score, bucket and facet alike — across segments, with
    /// replaced (deleted) documents, undated articles, date windows and the paging filter.
    #[test]
    fn word_sets_match_score_and_count_like_tantivy() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ArticleIndex::open(dir.path()).unwrap();
        let mut w = idx.writer().unwrap();
        let words = [
            "chips", "tariffs", "wafers", "rose", "seized", "cut", "export",
        ];
        let day0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let topics = ["tariffs", "export_controls", "sanctions"];
        for n in 0..300usize {
            // A different mix of words, repeats and lengths per article.
            let body: Vec<&str> = (0..(3 + n % 7))
                .map(|i| words[(n * 7 + i * i * 3 + n / 5) % words.len()])
                .collect();
            let title = words[(n * 3) % words.len()];
            let mut a = article(
                &format!("a{n:03}"),
                title,
                &body.join(" "),
                Some(topics[n % 3]),
            );
            a.analysis.topics[0].score = (n % 10) as f64 / 10.0;
            a.source = ["S1", "S2"][n % 2].into();
            a.published = (n % 17 != 0).then(|| day0 + chrono::Duration::hours(7 * n as i64));
            w.upsert(&a).unwrap();
            if n % 100 == 99 {
                w.commit().unwrap();
            }
        }
        // Replace some: their old documents stay behind, deleted, until a merge.
        for n in (0..300).step_by(9) {
            w.upsert(&article(&format!("a{n:03}"), "wafers", "export cut", None))
                .unwrap();
        }
        w.commit().unwrap();
        idx.reload().unwrap();
        let searcher = idx.reader.searcher();
        assert!(searcher.segment_readers().len() > 1);
        let window = (
            day0 + chrono::Duration::days(5),
            day0 + chrono::Duration::days(40),
        );
        let cases: Vec<SearchRequest> = [
            ("chips", None, None, false),
            ("chips AND tariffs", None, None, false),
            ("chips OR wafers", Some("tariffs"), None, false),
            ("chips NOT seized", None, None, true),
            ("NOT chips", None, Some("S1"), false),
            ("title:chips AND body:rose", None, None, false),
            (
                "chips AND (tariffs OR wafers) AND NOT cut",
                None,
                None,
                true,
            ),
            ("", Some("sanctions"), Some("S2"), true),
            ("*", None, Some("S1"), false),
            ("export AND rose", Some("export_controls"), None, true),
        ]
        .into_iter()
        .flat_map(|(q, topic, source, dated)| {
            let base = SearchRequest {
                q: q.into(),
                topic: topic.map(str::to_string),
                source: source.map(str::to_string),
                limit: 15,
                ..Default::default()
            };
            let mut out = vec![base.clone()];
            if dated {
                out.push(SearchRequest {
                    from: Some(window.0),
                    to: Some(window.1),
                    ..base.clone()
                });
                // Bounds off midnight are checked in seconds, not days.
                out.push(SearchRequest {
                    from: Some(window.0 + chrono::Duration::hours(3)),
                    to: Some(window.1 + chrono::Duration::minutes(7 * 60 + 1)),
                    ..base.clone()
                });
            }
            out.push(SearchRequest {
                min_score: Some(0.5),
                ..base
            });
            out
        })
        .collect();
        for req in &cases {
            let mut with_sets = idx.plan(req);
            assert!(with_sets.sets.is_some(), "{req:?}");
            with_sets.checks.fetched_by = Some(Utc::now().timestamp());
            let without = Planned {
                sets: None,
                user: with_sets.user.box_clone(),
                words: with_sets.words.box_clone(),
                query: with_sets.query.box_clone(),
                notes: Vec::new(),
                checks: with_sets.checks,
            };
            let top = || (Count, TopDocs::with_limit(15).and_offset(2));
            let cache = &idx.published;
            let (n1, hits1) = collect(&searcher, &with_sets, cache, top()).unwrap();
            let (n2, hits2) = collect(&searcher, &without, cache, top()).unwrap();
            assert_eq!(n1, n2, "{req:?}");
            assert!(n1 > 0, "a case that matches nothing tests little: {req:?}");
            assert_eq!(hits1.len(), hits2.len(), "{req:?}");
            for ((s1, a1), (s2, a2)) in hits1.iter().zip(&hits2) {
                assert_eq!(a1, a2, "{req:?}");
                assert!((s1 - s2).abs() < 1e-5, "{req:?}: {s1} vs {s2}");
            }
            // Newest first from the decoded dates, against tantivy's order by the fast field
            // (replaced articles share one date: ties go to the earlier document).
            let newest = Newest {
                cache,
                limit: 10,
                offset: 3,
            };
            let by_date1: Vec<tantivy::DocAddress> = collect(&searcher, &with_sets, cache, newest)
                .unwrap()
                .into_iter()
                .map(|(_, a)| a)
                .collect();
            let by_fast_field = TopDocs::with_limit(10)
                .and_offset(3)
                .order_by_fast_field::<TDateTime>("published", tantivy::Order::Desc);
            let by_date2: Vec<tantivy::DocAddress> =
                collect(&searcher, &without, cache, by_fast_field)
                    .unwrap()
                    .into_iter()
                    .map(|(_, a)| a)
                    .collect();
            assert_eq!(by_date1, by_date2, "{req:?}");
            // And as a search runs it: walking the segment latest first where matches are
            // common, the dates of each match where they are rare.
            let page = Newest {
                cache,
                limit: 10,
                offset: 3,
            };
            let sets = with_sets.sets.as_ref().unwrap();
            let (total, walked) =
                wordsets::newest(&searcher, sets, &with_sets.checks, cache, &page).unwrap();
            assert_eq!(total, n2, "{req:?}");
            let walked: Vec<tantivy::DocAddress> = walked.into_iter().map(|(_, a)| a).collect();
            assert_eq!(walked, by_date2, "{req:?}");
            // Days from the decoded dates, against each match's date read from its column.
            let days1 = collect(&searcher, &with_sets, cache, PublishedDays { cache }).unwrap();
            let all = collect(
                &searcher,
                &without,
                cache,
                tantivy::collector::DocSetCollector,
            )
            .unwrap();
            let mut days2: std::collections::BTreeMap<i64, u64> = Default::default();
            for a in all {
                let column = searcher
                    .segment_reader(a.segment_ord)
                    .fast_fields()
                    .date("published")
                    .unwrap();
                if let Some(t) = column.first(a.doc_id) {
                    *days2
                        .entry(t.into_timestamp_secs().div_euclid(86_400))
                        .or_default() += 1;
                }
            }
            assert_eq!(days1, days2.into_iter().collect::<Vec<_>>(), "{req:?}");
            let facets = || TermCounts { field: "source" };
            let f1 = collect(&searcher, &with_sets, cache, facets()).unwrap();
            let f2 = collect(&searcher, &without, cache, facets()).unwrap();
            assert_eq!(f1, f2, "{req:?}");
        }
        // Longer phrases are not sets of words: tantivy runs them.
        let phrase = SearchRequest {
            q: "\"chips tariffs rose\"".into(),
            ..Default::default()
        };
        assert!(idx.plan(&phrase).sets.is_none());
    }

    #[test]
    fn hostile_query_shapes_are_bounded_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ArticleIndex::open(dir.path()).unwrap();
        let mut w = idx.writer().unwrap();
        w.upsert(&article("a", "Chip curbs", "Nvidia chips smuggled.", None))
            .unwrap();
        w.commit().unwrap();
        idx.reload().unwrap();
        let deep = format!("{}chips{}", "(".repeat(2_000), ")".repeat(2_000));
        for q in [
            deep.clone(),
            format!("{}chips", "(".repeat(20_000)),
            format!("{}chips", "-".repeat(20_000)),
            format!("{}chips", "NOT ".repeat(5_000)),
            format!("{}chips", "+".repeat(20_000)),
            "chips AND ".repeat(3_000),
            format!("chips {}chips", "AND ".repeat(5_000)),
            format!("chips {}chips", "OR NOT ".repeat(5_000)),
            format!("{}chips", "title:(".repeat(5_000)),
            format!("\"{}\"", "chips ".repeat(5_000)),
            format!("entity:[ AND smic {}", "c\n".repeat(2_000)),
        ] {
            let r = idx.search(&SearchRequest {
                q,
                ..Default::default()
            });
            assert!(r.is_ok(), "{r:?}");
        }
        let r = idx
            .search(&SearchRequest {
                q: deep,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(r.total, 1, "the words still count: {:?}", r.notes);
        assert!(
            r.notes.iter().any(|n| n.contains("nested")),
            "{:?}",
            r.notes
        );
    }

    /// Dates too far apart for per-day counters (a stray 19th-century date) still count by day.
    #[test]
    fn timeline_days_count_dates_centuries_apart() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ArticleIndex::open(dir.path()).unwrap();
        let mut w = idx.writer().unwrap();
        let at = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        for (id, published) in [
            ("old", "1800-01-01T10:00:00Z"),
            ("a", "2026-03-01T10:00:00Z"),
            ("b", "2026-03-01T23:00:00Z"),
        ] {
            let mut a = article(id, "News", "chips", None);
            a.published = at(published);
            w.upsert(&a).unwrap();
        }
        w.commit().unwrap();
        idx.reload().unwrap();
        let plan = idx.plan(&SearchRequest {
            q: "chips".into(),
            ..Default::default()
        });
        let cache = &idx.published;
        let days = collect(&idx.searcher(), &plan, cache, PublishedDays { cache }).unwrap();
        let day = |s: &str| at(s).unwrap().timestamp().div_euclid(86_400);
        assert_eq!(
            days,
            vec![
                (day("1800-01-01T00:00:00Z"), 1),
                (day("2026-03-01T00:00:00Z"), 2)
            ]
        );
    }

    /// Two-word phrases are looked up as word pairs: the same documents as tantivy's positional
    /// phrase query, the title still counting double, the snippet still marking the words.
    #[test]
    fn two_word_phrases_match_as_word_pairs_what_positions_match() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ArticleIndex::open(dir.path()).unwrap();
        assert!(idx.fields.pairs.is_some());
        let long = "x".repeat(41);
        let bodies = [
            "New export controls on chips.",
            "Export. Controls were tightened.",
            "Controls on export were eased.",
            "export export controls controls",
            "The export of controls",
            &format!("export {long} controls"),
            "EXPORT-CONTROLS hyphenated",
            "nothing here",
        ];
        let mut w = idx.writer().unwrap();
        for (n, body) in bodies.iter().enumerate() {
            let title = if n == 7 { "Export controls" } else { "News" };
            w.upsert(&article(&format!("b{n}"), title, body, None))
                .unwrap();
        }
        w.commit().unwrap();
        idx.reload().unwrap();
        let searcher = idx.reader.searcher();
        for q in [
            "\"export controls\"",
            "\"controls were\"",
            "body:\"export controls\"",
            "\"export controls\" AND chips",
            "\"export controls\" OR \"were eased\"",
            "\"export controls\"~2",
            "\"export of controls\"",
        ] {
            let req = SearchRequest {
                q: q.into(),
                limit: 100,
                ..Default::default()
            };
            let r = idx.search(&req).unwrap();
            let mut got: Vec<String> = r.hits.iter().map(|h| h.id.clone()).collect();
            got.sort();
            // tantivy's own phrase query: the parsed query, nothing rewritten.
            let (_, positional, _) = idx.build_query_for(&req, true, None);
            let top = searcher
                .search(&positional, &TopDocs::with_limit(100))
                .unwrap();
            let mut want: Vec<String> = top
                .iter()
                .map(|(_, a)| {
                    let d: TantivyDocument = searcher.doc(*a).unwrap();
                    idx.to_hit_article(&d).id
                })
                .collect();
            want.sort();
            assert_eq!(got, want, "{q}");
            assert_eq!(r.total, want.len(), "{q}");
            assert!(!want.is_empty(), "{q}");
            let rewritten = format!("{:?}", idx.plan(&req).query);
            let pairs_used = !rewritten.contains("PhraseQuery");
            assert_eq!(
                pairs_used,
                !q.contains('~') && !q.contains(" of "),
                "{q}: {rewritten}"
            );
        }
        let r = idx
            .search(&SearchRequest {
                q: "\"export controls\"".into(),
                limit: 20,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(r.hits[0].id, "b7", "a title match counts double");
        let b0 = r.hits.iter().find(|h| h.id == "b0").unwrap();
        assert!(
            b0.highlights.body.contains("<mark>export</mark>"),
            "{}",
            b0.highlights.body
        );
    }

    /// The highlighter picks the same fragment and marks the same words as tantivy's
    /// `SnippetGenerator`, which it replaced for speed.
    #[test]
    fn highlights_agree_with_tantivys_snippet_generator() {
        use tantivy::snippet::SnippetGenerator;
        let dir = tempfile::tempdir().unwrap();
        let idx = ArticleIndex::open(dir.path()).unwrap();
        let vocab = [
            "chips",
            "Chips",
            "CHIPS",
            "export,",
            "controls.",
            "Élan",
            "élan",
            "the",
            "of",
            "5nm-class",
            "<b>",
            "&",
            "\"quoted\"",
            "wafer—fab",
            "rare",
            "supercalifragilisticexpialidociousnessofchips",
            "Zoll",
            "日本",
            "tariffs;",
        ];
        let mut texts = Vec::new();
        let mut x: u64 = 7;
        for n in 0..150 {
            let mut words = Vec::new();
            for _ in 0..(5 + n % 60) {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                words.push(vocab[(x >> 33) as usize % vocab.len()]);
            }
            texts.push(words.join(" "));
        }
        let mut w = idx.writer().unwrap();
        for (n, t) in texts.iter().enumerate() {
            w.upsert(&article(&format!("h{n}"), t, t, None)).unwrap();
        }
        w.commit().unwrap();
        idx.reload().unwrap();
        let searcher = idx.reader.searcher();
        for q in [
            "chips",
            "chips OR rare",
            "élan AND export",
            "\"export controls\"",
            "zoll OR 日本 OR 5nm",
        ] {
            let plan = idx.plan(&SearchRequest {
                q: q.into(),
                ..Default::default()
            });
            for (field, max) in [(idx.fields.title, 300), (idx.fields.body, 40)] {
                let ours = Highlighter::new(&searcher, &*plan.user, field, max).unwrap();
                let mut theirs = SnippetGenerator::create(&searcher, &*plan.user, field).unwrap();
                theirs.set_max_num_chars(max);
                for t in &texts {
                    let mut snippet = theirs.snippet(t);
                    snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
                    let want = (!snippet.is_empty()).then(|| snippet.to_html());
                    assert_eq!(ours.fragment(t), want, "{q} in {t:?}");
                }
            }
        }
    }

    /// An archive created before word pairs were indexed opens and answers phrases from
    /// positions.
    #[test]
    fn an_archive_without_word_pairs_still_opens_and_finds_phrases() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (with_pairs, _) = schema();
            let mut b = Schema::builder();
            for (_, entry) in with_pairs.fields() {
                if !entry.name().ends_with("_pairs") {
                    b.add_field(entry.clone());
                }
            }
            let old = b.build();
            let fields = Fields::of(&old).unwrap();
            assert!(fields.pairs.is_none());
            let index = Index::create_in_dir(dir.path(), old).unwrap();
            register_analyzers(&index);
            let mut w: IndexWriter = index.writer(15_000_000).unwrap();
            let a = article("old", "News", "New export controls on chips.", None);
            w.add_document(to_doc(&fields, &a, true)).unwrap();
            w.commit().unwrap();
        }
        let idx = ArticleIndex::open(dir.path()).unwrap();
        assert!(idx.fields.pairs.is_none());
        let r = idx
            .search(&SearchRequest {
                q: "\"export controls\"".into(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(r.total, 1);
        assert_eq!(r.hits[0].id, "old");
        // And it takes new articles.
        let mut w = idx.writer().unwrap();
        w.upsert(&article("new", "News", "export controls", None))
            .unwrap();
        w.commit().unwrap();
        idx.reload().unwrap();
        assert_eq!(idx.num_docs(), 2);
    }

    #[test]
    fn a_date_range_checked_per_match_agrees_with_the_range_query() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ArticleIndex::open(dir.path()).unwrap();
        let mut w = idx.writer().unwrap();
        let day0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for n in 0..40i64 {
            let body = if n % 2 == 0 {
                "chips seized"
            } else {
                "tariffs cut"
            };
            let mut a = article(&format!("a{n:02}"), "News", body, Some("tariffs"));
            a.published = Some(day0 + chrono::Duration::hours(12 * n));
            w.upsert(&a).unwrap();
        }
        // An undated article never falls within a range.
        let mut undated = article("undated", "News", "chips", Some("tariffs"));
        undated.published = None;
        w.upsert(&undated).unwrap();
        w.commit().unwrap();
        idx.reload().unwrap();
        let (from, to) = (
            day0 + chrono::Duration::days(3),
            day0 + chrono::Duration::days(9),
        );
        let req = |q: &str, topic: Option<&str>| SearchRequest {
            q: q.into(),
            topic: topic.map(str::to_string),
            from: Some(from),
            to: Some(to),
            limit: 100,
            ..Default::default()
        };
        // Days 3..9 hold a06..a17; `to` is exclusive.
        let expected: Vec<String> = (6..18).map(|n| format!("a{n:02}")).collect();
        // Words or a filter narrow the archive: the range is checked per match.
        for (q, topic) in [("", Some("tariffs")), ("chips OR tariffs", None)] {
            let r = req(q, topic);
            assert!(idx.plan(&r).checks.window.is_some());
            let mut ids: Vec<String> = idx
                .search(&r)
                .unwrap()
                .hits
                .into_iter()
                .map(|h| h.id)
                .collect();
            ids.sort();
            assert_eq!(ids, expected, "{q:?} {topic:?}");
            let timeline = idx.timeline(&r, Interval::Day).unwrap();
            assert_eq!(timeline.total, 12);
            assert_eq!(timeline.buckets.len(), 6);
            assert!(timeline.buckets.iter().all(|b| b.count == 2));
            let facets = idx.facets(&r, FacetField::Topic, 10).unwrap();
            assert_eq!(facets[0].count, 12);
        }
        // A range alone stays a query clause, with the same result.
        let alone = req("", None);
        assert!(idx.plan(&alone).checks.window.is_none());
        assert_eq!(idx.search(&alone).unwrap().total, 12);
        let chips = idx.search(&req("chips", None)).unwrap();
        assert_eq!(chips.total, 6);
    }

    #[test]
    fn min_score_keeps_articles_about_the_topic() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ArticleIndex::open(dir.path()).unwrap();
        let mut w = idx.writer().unwrap();
        for (id, topic, score) in [
            ("about", "tariffs", 0.9),
            ("edge", "tariffs", 0.55),
            ("passing", "tariffs", 0.2),
            ("other", "sanctions", 0.8),
        ] {
            let mut a = article(id, "t", "chips", Some(topic));
            a.analysis.topics[0].score = score;
            w.upsert(&a).unwrap();
        }
        w.commit().unwrap();
        idx.reload().unwrap();
        let ids = |topic: Option<&str>, min: Option<f64>| {
            let mut ids: Vec<String> = idx
                .search(&SearchRequest {
                    topic: topic.map(str::to_string),
                    min_score: min,
                    limit: 10,
                    ..Default::default()
                })
                .unwrap()
                .hits
                .into_iter()
                .map(|h| h.id)
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(Some("tariffs"), None), ["about", "edge", "passing"]);
        assert_eq!(ids(Some("tariffs"), Some(0.55)), ["about", "edge"]);
        assert_eq!(ids(Some("tariffs"), Some(0.6)), ["about"]);
        assert_eq!(ids(None, Some(0.5)), ["about", "edge", "other"]);
        // Score terms are an implementation detail: facets list topics only.
        let facets = idx
            .facets(&SearchRequest::default(), FacetField::Topic, 10)
            .unwrap();
        let values: Vec<&str> = facets.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(values, ["tariffs", "sanctions"]);
    }

    #[test]
    fn timeline_buckets_and_facets() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ArticleIndex::open(dir.path()).unwrap();
        let mut w = idx.writer().unwrap();
        let day = |d: &str| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc()
        };
        for (id, date, topic) in [
            ("a", "2026-11-02", "tariffs"),
            ("b", "2026-11-02", "tariffs"),
            ("c", "2026-11-05", "sanctions"),
            ("d", "2026-12-01", "tariffs"),
        ] {
            let mut a = article(id, "t", "chips", Some(topic));
            a.published = Some(day(date));
            w.upsert(&a).unwrap();
        }
        w.commit().unwrap();
        idx.reload().unwrap();
        let req = SearchRequest {
            q: "chips".into(),
            ..Default::default()
        };
        let t = idx.timeline(&req, Interval::Day).unwrap();
        assert_eq!(t.total, 4);
        assert_eq!(t.buckets.len(), 30, "Nov 2 .. Dec 1, empty days included");
        assert_eq!(t.buckets[0].count, 2);
        assert_eq!(t.buckets[1].count, 0);
        let w = idx.timeline(&req, Interval::Week).unwrap();
        assert_eq!(
            w.buckets[0].start.to_string(),
            "2026-11-02",
            "weeks start on Monday (Nov 2 is one)"
        );
        assert_eq!(w.buckets[1].start.to_string(), "2026-11-09");
        let m = idx
            .timeline(
                &SearchRequest {
                    from: Some(day("2026-10-15")),
                    ..req.clone()
                },
                Interval::Month,
            )
            .unwrap();
        assert_eq!(
            m.buckets.iter().map(|b| b.count).collect::<Vec<_>>(),
            vec![0, 3, 1]
        );
        let f = idx.facets(&req, FacetField::Topic, 10).unwrap();
        assert_eq!((f[0].value.as_str(), f[0].count), ("tariffs", 3));
        assert_eq!((f[1].value.as_str(), f[1].count), ("sanctions", 1));
        let filtered = SearchRequest {
            topic: Some("sanctions".into()),
            ..req
        };
        assert_eq!(
            idx.facets(&filtered, FacetField::Source, 10).unwrap()[0].count,
            1
        );
    }

    #[test]
    fn cursor_pages_stay_stable_when_articles_arrive() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ArticleIndex::open(dir.path()).unwrap();
        let mut w = idx.writer().unwrap();
        for i in 0..5 {
            let mut a = article(&format!("old{i}"), "t", "export curbs", None);
            a.fetched = Utc::now() - chrono::Duration::hours(1);
            w.upsert(&a).unwrap();
        }
        w.commit().unwrap();
        idx.reload().unwrap();
        let req = SearchRequest {
            q: "curbs".into(),
            limit: 3,
            sort: Sort::Newest,
            ..Default::default()
        };
        let first = idx.search(&req).unwrap();
        assert_eq!(first.hits.len(), 3);
        // New articles arrive between the pages.
        let mut new = article("new", "t", "export curbs", None);
        new.fetched = Utc::now() + chrono::Duration::seconds(5);
        w.upsert(&new).unwrap();
        w.commit().unwrap();
        idx.reload().unwrap();
        let second = idx
            .search(&SearchRequest {
                cursor: first.next_cursor.clone(),
                ..req.clone()
            })
            .unwrap();
        let mut ids: Vec<String> = first
            .hits
            .iter()
            .chain(&second.hits)
            .map(|h| h.id.clone())
            .collect();
        assert_eq!(ids.len(), 5);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5, "a page repeated or skipped an article");
        assert!(second.next_cursor.is_none());
        assert!(
            idx.search(&SearchRequest {
                cursor: Some("zz".into()),
                ..req
            })
            .is_err()
        );
    }
}
