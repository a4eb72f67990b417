//! Saved searches against a batch of new articles.
//!
//! Running 10,000 saved searches against the archive after every commit would make each commit
//! pay for the archive's size. Instead the batch's articles are tokenized as the archive would
//! tokenize them into term lists of their own, and a term presearcher picks the searches that
//! could match: each is reduced, once, to a few terms of which a matching document must hold at
//! least one, and only searches with such a term in the batch are asked. Terms and boolean
//! combinations are answered from the term lists; what needs positions or ranges (phrases, dates)
//! runs as the same tantivy query on a one-segment index of the batch, built only when needed.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::ops::Range;

/// Maps keyed by words of articles: fast, and seeded per process, so that text written to
/// collide cannot slow matching down.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

use tantivy::collector::DocSetCollector;
use tantivy::query::{AllQuery, BooleanQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::Field;
use tantivy::{DocId, Index, Searcher, SingleSegmentIndexWriter, Term};

use super::index::{ArticleIndex, IndexError, SearchRequest, StoredArticle, schema_with, to_doc};

/// A saved search compiled once: the query, and the terms it needs (`None`: it could match a
/// document that holds none of its terms, such as a filter-free `NOT x`, so it always runs).
pub struct SavedQuery {
    /// The query as the batch evaluates it, read once here rather than for every batch.
    plan: Plan,
    needs: Option<Vec<Term>>,
    /// A query with prefix terms expands against each batch's own words, so it is built per batch.
    per_batch: Option<SearchRequest>,
    /// The words of the text fields it asks for (not those it excludes), in lower case: what
    /// evidence sentences are chosen by.
    words: Vec<String>,
}

impl SavedQuery {
    /// The words it asks for, in lower case.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Whether the presearcher can skip this query for batches that lack its terms.
    pub fn is_presearchable(&self) -> bool {
        self.needs.is_some()
    }
}

impl ArticleIndex {
    /// Compiles a saved search. The archive's term statistics pick, among the clauses a match
    /// must satisfy, the one with the rarest terms: the best filter for the presearcher.
    pub fn saved_query(&self, req: &SearchRequest) -> SavedQuery {
        let (_, query, _) = self.build_query_for(req, true, None);
        let f = self.fields();
        let mut words = Vec::new();
        asked_terms(&query, &mut |t: &Term| {
            if [f.title, f.body, f.summary].contains(&t.field())
                && let Some(w) = t.value().as_str()
                && !words.iter().any(|x| x == w)
            {
                words.push(w.to_string());
            }
        });
        if super::prefix::has_prefix(&req.q) {
            return SavedQuery {
                plan: Plan::of(&query),
                needs: None,
                per_batch: Some(req.clone()),
                words,
            };
        }
        let needs = needed_terms(&query, &|t| self.doc_freq(t));
        SavedQuery {
            plan: Plan::of(&query),
            needs,
            per_batch: None,
            words,
        }
    }

    /// The batch `articles`, ready for saved searches; matches are reported as positions in
    /// `articles`.
    pub fn batch<'a>(&self, articles: &[&'a StoredArticle]) -> Result<Batch<'a>, IndexError> {
        let f = self.fields();
        let mut raw: Map<Term, Vec<DocId>> = Map::default();
        let mut add = |term: Term, doc: DocId| {
            let docs = raw.entry(term).or_default();
            if docs.last() != Some(&doc) {
                docs.push(doc);
            }
        };
        let mut analyzers: Vec<(Field, tantivy::tokenizer::TextAnalyzer)> = Vec::new();
        for field in [f.title, f.body, f.summary, f.author] {
            analyzers.push((field, self.tokenizer_for(field)?));
        }
        // Occurrences per field by word, keyed by the token's text so that a word seen before
        // costs a lookup and no allocation (queries' terms are looked up by field and text).
        // Sized for the batch's text up front (about one distinct word in twelve bytes), so the
        // maps are not grown and rehashed word by word.
        let bytes = |text: fn(&StoredArticle) -> usize| articles.iter().map(|a| text(a)).sum();
        let sizes: [usize; 4] = [
            bytes(|a| a.title.len()),
            bytes(|a| a.body.len()),
            bytes(|a| a.summary.len()),
            bytes(|a| a.authors.iter().map(String::len).sum()),
        ];
        let mut by_word: Vec<Map<Vec<u8>, Postings>> = sizes
            .iter()
            .map(|n| Map::with_capacity_and_hasher(n / 12, Default::default()))
            .collect();
        for (doc, a) in articles.iter().enumerate() {
            let doc = doc as DocId;
            for (k, (field, analyzer)) in analyzers.iter_mut().enumerate() {
                let texts: Vec<&str> = if *field == f.title {
                    vec![&a.title]
                } else if *field == f.body {
                    vec![&a.body]
                } else if *field == f.summary {
                    vec![&a.summary]
                } else {
                    a.authors.iter().map(String::as_str).collect()
                };
                let words = &mut by_word[k];
                let mut base = 0;
                for text in texts {
                    let mut stream = analyzer.token_stream(text);
                    let mut last = 0;
                    while let Some(token) = stream.next() {
                        last = base + token.position as u32;
                        let seen = Occurrence {
                            doc,
                            position: last,
                            from: token.offset_from as u32,
                            to: token.offset_to as u32,
                        };
                        match words.get_mut(token.text.as_bytes()) {
                            Some(p) => p.at.push(seen),
                            None => {
                                let at = vec![seen];
                                let word = token.text.as_bytes().to_vec();
                                words.insert(word, Postings { docs: vec![], at });
                            }
                        }
                    }
                    // Values of a multi-valued field never form a phrase together.
                    base = last + 2;
                }
            }
            let mut raw = |field, value: &str| add(Term::from_field_text(field, value), doc);
            raw(f.id, &a.id);
            raw(f.source, &a.source);
            if let Some(lang) = &a.language {
                raw(f.lang, lang);
            }
            for t in &a.analysis.topics {
                raw(f.topic, &t.name);
            }
            for e in &a.analysis.entities {
                raw(f.entity, &e.id);
            }
        }
        for p in by_word.iter_mut().flat_map(Map::values_mut) {
            p.docs = p.at.iter().map(|o| o.doc).collect();
            p.docs.dedup();
        }
        let text: [(Field, Map<Vec<u8>, Postings>); 4] = {
            let mut words = by_word.into_iter();
            let mut next = |field| (field, words.next().unwrap_or_default());
            [next(f.title), next(f.body), next(f.summary), next(f.author)]
        };
        Ok(Batch {
            archive: self.clone(),
            articles: articles.to_vec(),
            raw,
            text,
            searcher: OnceCell::new(),
        })
    }

    /// A one-segment in-memory tantivy index of `articles` (document numbers are positions).
    fn batch_index(&self, articles: &[&StoredArticle]) -> Result<Searcher, IndexError> {
        let (schema, _) = schema_with(false);
        let index = Index::create_in_ram(schema);
        super::index::register_analyzers(&index);
        let fields = self.fields();
        // 15 MB is the least tantivy accepts; a batch that outgrows it is flushed into the same
        // single segment, so document numbers remain positions in `articles`.
        let mut writer = SingleSegmentIndexWriter::new(index, 15_000_000)?;
        for a in articles {
            writer.add_document(to_doc(&fields, a, false))?;
        }
        let index = writer.finalize()?;
        Ok(index.reader()?.searcher())
    }
}

/// Saved queries by the terms they need, to find the few a batch could match without asking
/// each of them.
#[derive(Default)]
pub struct Presearcher {
    by_term: Map<Term, Vec<usize>>,
    /// Queries without needed terms: they are asked every time.
    always: Vec<usize>,
}

impl Presearcher {
    /// Indexes `queries` by position; `None` leaves a position out (a switched-off alert).
    pub fn new<'a>(queries: impl IntoIterator<Item = Option<&'a SavedQuery>>) -> Presearcher {
        let mut p = Presearcher::default();
        for (i, q) in queries.into_iter().enumerate() {
            match q.map(|q| &q.needs) {
                None => {}
                Some(None) => p.always.push(i),
                Some(Some(terms)) => {
                    for t in terms {
                        p.by_term.entry(t.clone()).or_default().push(i);
                    }
                }
            }
        }
        p
    }
}

/// The documents holding a term, in order, and for words of the text fields every occurrence
/// (document, position).
#[derive(Default)]
struct Postings {
    docs: Vec<DocId>,
    at: Vec<Occurrence>,
}

impl Postings {
    /// The occurrences in document `doc`, in order of position.
    fn in_doc(&self, doc: DocId) -> &[Occurrence] {
        let start = self.at.partition_point(|o| o.doc < doc);
        let end = self.at.partition_point(|o| o.doc <= doc);
        &self.at[start..end]
    }
}

/// A word of a text field in one document: its position, and where it is written (bytes).
#[derive(Clone, Copy)]
struct Occurrence {
    doc: DocId,
    position: u32,
    from: u32,
    to: u32,
}

/// One batch: the documents of each of its terms, and a tantivy index of it once one is needed.
pub struct Batch<'a> {
    archive: ArticleIndex,
    articles: Vec<&'a StoredArticle>,
    /// Terms of the fields indexed whole (id, source, language, topics, entities).
    raw: Map<Term, Vec<DocId>>,
    /// Words of the text fields (title, body, summary, author), by field.
    /// Keyed by the word's UTF-8 bytes, as a term holds them (no check of the UTF-8 per lookup).
    text: [(Field, Map<Vec<u8>, Postings>); 4],
    searcher: OnceCell<Searcher>,
}

impl Batch<'_> {
    /// Positions (in the presearcher) of the queries the batch could match, in order: those with
    /// a needed term among the batch's words, and those that need none.
    pub fn candidates(&self, p: &Presearcher) -> Vec<usize> {
        let mut found = p.always.clone();
        // Whichever side is smaller is walked.
        let words = self.raw.len() + self.text.iter().map(|(_, m)| m.len()).sum::<usize>();
        if words <= p.by_term.len() {
            let mut ask = |term: &Term| {
                if let Some(queries) = p.by_term.get(term) {
                    found.extend_from_slice(queries);
                }
            };
            self.raw.keys().for_each(&mut ask);
            for (field, words) in &self.text {
                // One term, its text replaced word by word.
                let mut term = Term::from_field_text(*field, "");
                for word in words.keys() {
                    term.set_bytes(word);
                    ask(&term);
                }
            }
        } else {
            for (term, queries) in &p.by_term {
                if self.holds(term) {
                    found.extend_from_slice(queries);
                }
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    fn searcher(&self) -> Result<&Searcher, IndexError> {
        if let Some(s) = self.searcher.get() {
            return Ok(s);
        }
        let built = self.archive.batch_index(&self.articles)?;
        Ok(self.searcher.get_or_init(|| built))
    }

    /// Where `word` (in lower case, as the index spells it) is written in the body of the
    /// batch's article `doc`: byte ranges, in order.
    pub fn in_body(&self, doc: usize, word: &str) -> impl Iterator<Item = Range<usize>> + '_ {
        (self.postings_of(self.archive.fields().body, word.as_bytes()))
            .map_or(&[][..], |p| p.in_doc(doc as DocId))
            .iter()
            .map(|o| o.from as usize..o.to as usize)
    }

    /// Positions of the batch's articles that `saved` matches, in order; empty without running
    /// the query when none of its needed terms is in the batch.
    pub fn matches(&self, saved: &SavedQuery) -> Result<Vec<usize>, IndexError> {
        if let Some(needs) = &saved.needs
            && !needs.iter().any(|t| self.holds(t))
        {
            return Ok(Vec::new());
        }
        let found = match &saved.per_batch {
            Some(req) => {
                let archive = self.archive.clone();
                let (_, query, _) = archive.build_query_for(req, true, Some(self.searcher()?));
                self.eval(&Plan::of(&query))?
            }
            None => self.eval(&saved.plan)?,
        };
        Ok(found.iter().map(|&d| d as usize).collect())
    }

    /// Whether `doc` holds `terms` one right after the other.
    fn holds_phrase(&self, doc: DocId, terms: &[Term]) -> bool {
        let at = |t: &Term| self.words(t).map_or(&[][..], |p| p.in_doc(doc));
        let Some((first, rest)) = terms.split_first() else {
            return false;
        };
        at(first).iter().any(|o| {
            rest.iter().enumerate().all(|(i, t)| {
                let next = o.position + 1 + i as u32;
                at(t).binary_search_by_key(&next, |n| n.position).is_ok()
            })
        })
    }

    /// The documents holding `term`, in order.
    fn docs_of(&self, term: &Term) -> &[DocId] {
        match self.words(term) {
            Some(p) => &p.docs,
            None => self.raw.get(term).map_or(&[], Vec::as_slice),
        }
    }

    /// The postings of a term of a text field.
    fn words(&self, term: &Term) -> Option<&Postings> {
        self.postings_of(term.field(), term.serialized_value_bytes())
    }

    /// The postings of `word` (its UTF-8 bytes) in text field `field`.
    fn postings_of(&self, field: Field, word: &[u8]) -> Option<&Postings> {
        let (_, words) = self.text.iter().find(|(f, _)| *f == field)?;
        words.get(word)
    }

    /// Whether any of the batch's articles holds `term`.
    fn holds(&self, term: &Term) -> bool {
        self.words(term).is_some() || self.raw.contains_key(term)
    }

    /// The documents `plan` matches, in order. Terms and boolean combinations are answered from
    /// the term lists directly: with thousands of saved searches per batch, setting up tantivy's
    /// scorers for each would cost more than the matching. Anything else (phrases with slop,
    /// ranges) runs as a tantivy query once its terms are known to be there.
    /// A term's documents are lent, not copied: most plans are a term or two.
    fn eval(&self, plan: &Plan) -> Result<Cow<'_, [DocId]>, IndexError> {
        let query = match plan {
            Plan::Term(t) => return Ok(Cow::Borrowed(self.docs_of(t))),
            Plan::All => return Ok((0..self.articles.len() as DocId).collect()),
            Plan::Phrase {
                terms,
                exact,
                query,
            } => {
                // Only documents with every word can hold the phrase; usually there are none,
                // and the tantivy index is never built.
                let mut common: Option<Cow<[DocId]>> = None;
                for t in terms {
                    let docs = self.docs_of(t);
                    common = Some(match common {
                        Some(c) => Cow::Owned(intersect(&c, docs)),
                        None => Cow::Borrowed(docs),
                    });
                }
                let common = common.unwrap_or_default();
                if common.is_empty() {
                    return Ok(Cow::Borrowed(&[]));
                }
                if *exact {
                    return Ok(common
                        .iter()
                        .copied()
                        .filter(|&doc| self.holds_phrase(doc, terms))
                        .collect());
                }
                query
            }
            Plan::Bool {
                clauses,
                required_should,
            } => {
                let mut must: Option<Cow<[DocId]>> = None;
                let mut should: Option<Cow<[DocId]>> = None;
                let mut not: Cow<[DocId]> = Cow::Borrowed(&[]);
                for (occur, clause) in clauses {
                    let docs = self.eval(clause)?;
                    match occur {
                        Occur::Must => {
                            must = Some(match must {
                                Some(m) => Cow::Owned(intersect(&m, &docs)),
                                None => docs,
                            })
                        }
                        Occur::Should => {
                            should = Some(match should {
                                Some(s) => Cow::Owned(union(&s, &docs)),
                                None => docs,
                            })
                        }
                        Occur::MustNot if not.is_empty() => not = docs,
                        Occur::MustNot => not = Cow::Owned(union(&not, &docs)),
                    }
                }
                let hits = match (must, should) {
                    (Some(m), Some(s)) if *required_should => Cow::Owned(intersect(&m, &s)),
                    (Some(m), _) => m,
                    (None, Some(s)) => s,
                    (None, None) => Cow::Borrowed(&[][..]),
                };
                if not.is_empty() {
                    return Ok(hits);
                }
                return Ok(Cow::Owned(difference(&hits, &not)));
            }
            Plan::Other(query) => query,
        };
        let mut docs: Vec<DocId> = self
            .searcher()?
            .search(query.as_ref(), &DocSetCollector)?
            .into_iter()
            .map(|a| a.doc_id)
            .collect();
        docs.sort_unstable();
        Ok(Cow::Owned(docs))
    }
}

/// A query as a batch evaluates it: tantivy's query tree, read once when the search is compiled.
enum Plan {
    Term(Term),
    All,
    /// Every term in the phrase; `exact` (no slop) phrases are matched on the batch's positions,
    /// others by `query` on the batch's tantivy index.
    Phrase {
        terms: Vec<Term>,
        exact: bool,
        query: Box<dyn Query>,
    },
    Bool {
        clauses: Vec<(Occur, Plan)>,
        /// One optional clause must match besides the required ones.
        required_should: bool,
    },
    /// Anything else (ranges, sets) runs as itself on the batch's tantivy index.
    Other(Box<dyn Query>),
}

impl Plan {
    fn of(q: &dyn Query) -> Plan {
        if let Some(t) = q.downcast_ref::<TermQuery>() {
            return Plan::Term(t.term().clone());
        }
        if q.downcast_ref::<AllQuery>().is_some() {
            return Plan::All;
        }
        if let Some(p) = q.downcast_ref::<PhraseQuery>() {
            return Plan::Phrase {
                terms: p.phrase_terms(),
                // tantivy keeps a phrase's slop and offsets to itself but for its debug form: exact
                // is slop 0 with one word per position (a Chinese phrase may ask for a word and the
                // shorter words inside it at one position; tantivy's own query answers those).
                exact: format!("{p:?}") == format!("{:?}", PhraseQuery::new(p.phrase_terms())),
                query: q.box_clone(),
            };
        }
        if let Some(b) = q.downcast_ref::<BooleanQuery>()
            && b.get_minimum_number_should_match() <= 1
        {
            return Plan::Bool {
                clauses: b
                    .clauses()
                    .iter()
                    .map(|(occur, c)| (*occur, Plan::of(c.as_ref())))
                    .collect(),
                required_should: b.get_minimum_number_should_match() == 1,
            };
        }
        Plan::Other(q.box_clone())
    }
}

fn intersect(a: &[DocId], b: &[DocId]) -> Vec<DocId> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn union(a: &[DocId], b: &[DocId]) -> Vec<DocId> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x < y => {
                i += 1;
                *x
            }
            (Some(x), Some(y)) if x > y => {
                j += 1;
                *y
            }
            (Some(x), Some(_)) => {
                i += 1;
                j += 1;
                *x
            }
            (Some(x), None) => {
                i += 1;
                *x
            }
            (None, Some(y)) => {
                j += 1;
                *y
            }
            (None, None) => break,
        };
        out.push(next);
    }
    out
}

fn difference(a: &[DocId], b: &[DocId]) -> Vec<DocId> {
    if b.is_empty() {
        return a.to_vec();
    }
    a.iter()
        .copied()
        .filter(|d| b.binary_search(d).is_err())
        .collect()
}

/// Every term `q` asks for, leaving out those it excludes.
fn asked_terms(q: &dyn Query, visit: &mut dyn FnMut(&Term)) {
    if let Some(b) = q.downcast_ref::<BooleanQuery>() {
        for (occur, clause) in b.clauses() {
            if *occur != Occur::MustNot {
                asked_terms(clause.as_ref(), visit);
            }
        }
    } else {
        q.query_terms(&mut |t, _| visit(t));
    }
}

/// Terms of which every document matching `q` holds at least one, or `None` when there is no
/// such set. `rarity` estimates how many documents hold a term; lower is a better filter.
fn needed_terms(q: &dyn Query, rarity: &dyn Fn(&Term) -> u64) -> Option<Vec<Term>> {
    if let Some(t) = q.downcast_ref::<TermQuery>() {
        return Some(vec![t.term().clone()]);
    }
    if let Some(p) = q.downcast_ref::<PhraseQuery>() {
        // Every word of a phrase is needed; one, the rarest, is enough to filter on.
        return p
            .phrase_terms()
            .into_iter()
            .min_by_key(|t| rarity(t))
            .map(|t| vec![t]);
    }
    let b = q.downcast_ref::<BooleanQuery>()?;
    let cost = |terms: &Vec<Term>| terms.iter().map(rarity).sum::<u64>();
    let must: Vec<Vec<Term>> = b
        .clauses()
        .iter()
        .filter(|(o, _)| *o == Occur::Must)
        .filter_map(|(_, c)| needed_terms(c.as_ref(), rarity))
        .collect();
    if b.clauses().iter().any(|(o, _)| *o == Occur::Must) {
        // Any one required clause filters; a required clause without needed terms (an `AllQuery`)
        // says nothing, so the others decide.
        return must
            .into_iter()
            .min_by_key(|terms| (cost(terms), terms.len()));
    }
    // Without required clauses a document must match one of the optional ones (a query of
    // exclusions alone matches nothing).
    let mut any = Vec::new();
    let mut should = 0;
    for (occur, clause) in b.clauses() {
        if *occur == Occur::Should {
            should += 1;
            any.extend(needed_terms(clause.as_ref(), rarity)?);
        }
    }
    (should > 0).then_some(any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::index::tests::article;

    fn req(q: &str) -> SearchRequest {
        SearchRequest {
            q: q.into(),
            ..Default::default()
        }
    }

    fn setup() -> (tempfile::TempDir, ArticleIndex, Vec<StoredArticle>) {
        let dir = tempfile::tempdir().unwrap();
        let index = ArticleIndex::open(dir.path()).unwrap();
        let arts = vec![
            article(
                "a",
                "Chip smuggling case",
                "Nvidia H100 chips were smuggled through Singapore.",
                Some("chip_smuggling"),
            ),
            article(
                "b",
                "Tariff rise",
                "Washington raised tariffs on legacy semiconductors.",
                Some("tariffs"),
            ),
            article(
                "c",
                "League news",
                "The club was sanctioned by the league.",
                Some("sanctions"),
            ),
        ];
        (dir, index, arts)
    }

    fn run(index: &ArticleIndex, arts: &[StoredArticle], r: SearchRequest) -> Vec<usize> {
        let refs: Vec<&StoredArticle> = arts.iter().collect();
        let batch = index.batch(&refs).unwrap();
        batch.matches(&index.saved_query(&r)).unwrap()
    }

    #[test]
    fn batch_matching_follows_the_search_language() {
        let (_d, index, arts) = setup();
        assert_eq!(run(&index, &arts, req("smuggled")), vec![0]);
        assert_eq!(run(&index, &arts, req("tariffs OR league")), vec![1, 2]);
        assert_eq!(run(&index, &arts, req("chips AND singapore")), vec![0]);
        assert_eq!(
            run(&index, &arts, req("\"legacy semiconductors\"")),
            vec![1]
        );
        assert_eq!(
            run(&index, &arts, req("\"semiconductors legacy\"")),
            Vec::<usize>::new()
        );
        assert_eq!(run(&index, &arts, req("title:tariff")), vec![1]);
        assert_eq!(run(&index, &arts, req("smuggl*")), vec![0]);
        assert_eq!(run(&index, &arts, req("NOT league")), vec![0, 1]);
        let topic = SearchRequest {
            topic: Some("sanctions".into()),
            ..Default::default()
        };
        assert_eq!(run(&index, &arts, topic), vec![2]);
    }

    #[test]
    fn presearcher_needs_a_term_from_every_match() {
        let (_d, index, _) = setup();
        let needs = |q: &str| {
            index.saved_query(&req(q)).needs.map(|ts| {
                let mut words: Vec<String> = ts
                    .iter()
                    .filter_map(|t| t.value().as_str().map(String::from))
                    .collect();
                words.sort();
                words.dedup();
                words
            })
        };
        assert_eq!(needs("nvidia"), Some(vec!["nvidia".to_string()]));
        assert_eq!(
            needs("nvidia OR huawei"),
            Some(vec!["huawei".to_string(), "nvidia".to_string()])
        );
        // One required clause is enough to filter on.
        assert_eq!(needs("nvidia AND huawei").map(|w| w.len()), Some(1));
        assert_eq!(
            needs("(nvidia OR huawei) AND NOT court").map(|w| w.len()),
            Some(2)
        );
        // Exclusions alone, and prefixes, could match a batch without any listed term.
        assert_eq!(needs("NOT league"), None);
        assert_eq!(needs("smuggl*"), None);
        assert_eq!(needs("title:tarif* AND nvidia"), None);
        assert!(!index.saved_query(&req("*")).is_presearchable());
    }

    #[test]
    fn words_asked_for_leave_out_exclusions_and_filters() {
        let (_d, index, _) = setup();
        let r = SearchRequest {
            q: "(Nvidia OR \"legacy chips\") AND NOT league".into(),
            topic: Some("sanctions".into()),
            ..Default::default()
        };
        let mut words = index.saved_query(&r).words().to_vec();
        words.sort();
        assert_eq!(words, vec!["chips", "legacy", "nvidia"]);
    }

    #[test]
    fn absent_terms_skip_the_query() {
        let (_d, index, arts) = setup();
        let refs: Vec<&StoredArticle> = arts.iter().collect();
        let batch = index.batch(&refs).unwrap();
        let saved = index.saved_query(&req("huawei AND ascend"));
        assert!(saved.is_presearchable());
        assert!(batch.matches(&saved).unwrap().is_empty());
        assert!(
            batch.searcher.get().is_none(),
            "no tantivy index was needed"
        );
    }

    #[test]
    fn direct_evaluation_agrees_with_tantivy() {
        let (_d, index, arts) = setup();
        let refs: Vec<&StoredArticle> = arts.iter().collect();
        let batch = index.batch(&refs).unwrap();
        for q in [
            "nvidia",
            "nvidia OR tariffs",
            "nvidia AND singapore",
            "nvidia AND NOT singapore",
            "(chips OR club) AND NOT (league OR singapore)",
            "NOT league",
            "+tariffs -legacy",
            "tariffs OR (NOT league)",
            "\"legacy semiconductors\" OR sanctioned",
            "\"washington semiconductors\"",
            "\"raised tariffs on legacy\"",
            "\"semiconductors legacy\"~2",
            "\"tariffs semiconductors\"~1",
            "title:(case OR rise) AND body:washington",
            "topic:sanctions OR topic:tariffs",
            "*",
            "nvidia^3 OR league",
        ] {
            let saved = index.saved_query(&req(q));
            let direct = batch.matches(&saved).unwrap();
            let (_, query, _) = index.build_query_for(&req(q), true, None);
            let mut tantivy: Vec<usize> = batch
                .searcher()
                .unwrap()
                .search(&query, &DocSetCollector)
                .unwrap()
                .into_iter()
                .map(|a| a.doc_id as usize)
                .collect();
            tantivy.sort_unstable();
            assert_eq!(direct, tantivy, "{q}");
        }
    }

    #[test]
    fn sorted_set_operations() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 5]), vec![3, 5]);
        assert_eq!(union(&[1, 3, 5], &[2, 3, 8]), vec![1, 2, 3, 5, 8]);
        assert_eq!(difference(&[1, 2, 3, 4], &[2, 4, 9]), vec![1, 3]);
        assert!(intersect(&[], &[1]).is_empty());
    }

    #[test]
    fn presearcher_finds_the_queries_a_batch_could_match() {
        let (_d, index, arts) = setup();
        let refs: Vec<&StoredArticle> = arts.iter().collect();
        let batch = index.batch(&refs).unwrap();
        let queries = [
            index.saved_query(&req("huawei")),
            index.saved_query(&req("singapore AND nvidia")),
            index.saved_query(&req("NOT huawei")),
            index.saved_query(&req("\"legacy chips\"")),
            index.saved_query(&req("ascend OR league")),
            index.saved_query(&req("washington")),
        ];
        let p = Presearcher::new(
            queries
                .iter()
                .enumerate()
                .map(|(i, q)| (i != 5).then_some(q)),
        );
        // 0: absent; 1: present; 2: no needed terms; 3: one needed word present; 4: one of two
        // present; 5: switched off.
        assert_eq!(batch.candidates(&p), vec![1, 2, 3, 4]);
    }

    #[test]
    fn exact_phrases_are_matched_without_tantivy() {
        let (_d, index, arts) = setup();
        let refs: Vec<&StoredArticle> = arts.iter().collect();
        let batch = index.batch(&refs).unwrap();
        let hit = index.saved_query(&req("\"legacy semiconductors\""));
        let near_miss = index.saved_query(&req("\"washington semiconductors\""));
        assert_eq!(batch.matches(&hit).unwrap(), vec![1]);
        assert!(batch.matches(&near_miss).unwrap().is_empty());
        assert!(batch.searcher.get().is_none());
    }
}
