//! Saved searches against a batch of new articles.
//!
//! Running 10,000 saved searches against the archive after every commit would make each commit
//! pay for the archive's size. Instead the batch gets a one-segment index of its own in memory,
//! built with the archive's schema so that every saved query runs on it unchanged, and a term
//! presearcher skips the queries that cannot match: each query is reduced, once, to a few terms
//! of which a matching document must hold at least one, and a query whose terms are all absent
//! from the batch is never run.

use std::collections::HashMap;

use tantivy::collector::DocSetCollector;
use tantivy::query::{BooleanQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::{Index, Searcher, SingleSegmentIndexWriter, Term};

use super::index::{ArticleIndex, IndexError, SearchRequest, StoredArticle, schema_with, to_doc};

/// A saved search compiled once: the query, and the terms it needs (`None`: it could match a
/// document that holds none of its terms, such as a filter-free `NOT x`, so it always runs).
pub struct SavedQuery {
    query: Box<dyn Query>,
    needs: Option<Vec<Term>>,
    /// A query with prefix terms expands against each batch's own words, so it is built per batch.
    per_batch: Option<SearchRequest>,
}

impl SavedQuery {
    /// Whether the presearcher can skip this query for batches that lack its terms.
    pub fn is_presearchable(&self) -> bool {
        self.needs.is_some()
    }
}

impl ArticleIndex {
    /// Compiles a saved search. The archive's term statistics pick, among the clauses a match
    /// must satisfy, the one with the rarest terms: the best filter for the presearcher.
    pub fn saved_query(&self, req: &SearchRequest) -> SavedQuery {
        let (_, query, _) = self.build_query_for(req, None, true, None);
        if super::prefix::has_prefix(&req.q) {
            return SavedQuery {
                query: Box::new(query),
                needs: None,
                per_batch: Some(req.clone()),
            };
        }
        let needs = needed_terms(&query, &|t| self.doc_freq(t));
        SavedQuery {
            query: Box::new(query),
            needs,
            per_batch: None,
        }
    }

    /// An in-memory index of `articles` for saved searches to run against; the matches are
    /// reported as positions in `articles`.
    pub fn batch(&self, articles: &[&StoredArticle]) -> Result<Batch, IndexError> {
        let (schema, _) = schema_with(false);
        let index = Index::create_in_ram(schema);
        let fields = self.fields();
        // 15 MB is the least tantivy accepts; a batch that outgrows it is flushed into the same
        // single segment, so document numbers remain positions in `articles`.
        let mut writer = SingleSegmentIndexWriter::new(index, 15_000_000)?;
        for a in articles {
            writer.add_document(to_doc(&fields, a, false))?;
        }
        let index = writer.finalize()?;
        let searcher = index.reader()?.searcher();
        Ok(Batch {
            archive: self.clone(),
            searcher,
            present: HashMap::new(),
        })
    }
}

/// One batch's index, and which terms it holds (looked up once per term).
pub struct Batch {
    archive: ArticleIndex,
    searcher: Searcher,
    present: HashMap<Term, bool>,
}

impl Batch {
    /// Positions of the batch's articles that `saved` matches, in order; empty without running
    /// the query when none of its needed terms is in the batch.
    pub fn matches(&mut self, saved: &SavedQuery) -> Result<Vec<usize>, IndexError> {
        if let Some(needs) = &saved.needs {
            let searcher = &self.searcher;
            let any = needs.iter().any(|t| {
                *self
                    .present
                    .entry(t.clone())
                    .or_insert_with(|| searcher.doc_freq(t).is_ok_and(|n| n > 0))
            });
            if !any {
                return Ok(Vec::new());
            }
        }
        let found = match &saved.per_batch {
            Some(req) => {
                let (_, query, _) =
                    self.archive
                        .build_query_for(req, None, true, Some(&self.searcher));
                self.searcher.search(&query, &DocSetCollector)?
            }
            None => self
                .searcher
                .search(saved.query.as_ref(), &DocSetCollector)?,
        };
        let mut positions: Vec<usize> = found.into_iter().map(|a| a.doc_id as usize).collect();
        positions.sort_unstable();
        Ok(positions)
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
        let mut batch = index.batch(&refs).unwrap();
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
    fn absent_terms_skip_the_query() {
        let (_d, index, arts) = setup();
        let refs: Vec<&StoredArticle> = arts.iter().collect();
        let mut batch = index.batch(&refs).unwrap();
        let saved = index.saved_query(&req("huawei AND ascend"));
        assert!(saved.is_presearchable());
        assert!(batch.matches(&saved).unwrap().is_empty());
        assert!(batch.present.values().all(|p| !p));
    }
}
