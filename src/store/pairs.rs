//! Two-word phrases answered from an index of adjacent word pairs.
//!
//! A phrase such as `"export controls"` is the commonest phrase analysts type, and tantivy
//! answers it by intersecting both words' documents and reading every position of both in each:
//! with a frequent word (`"the chips"`) that was most of the cost of a phrase search over a
//! million articles. The archive therefore also indexes each pair of adjacent words of the
//! title, body and summary as one term (`"export controls"` in `body_pairs`), and a two-word
//! phrase without slop becomes a lookup of that term: a single term, which takes block-max
//! pruning and the bitmap count like any one-word search. The same technique is Lucene's
//! shingles and Elasticsearch's `index_phrases`.
//!
//! Pairs follow the positions of the words tantivy indexes for phrases, so both answer the same
//! documents: a word dropped by the analyzer (longer than 40 bytes) breaks a pair exactly as it
//! breaks a phrase. Scores differ: a pair scores as one term, with its own rarity, where tantivy
//! scores a phrase by its words' rarity. Longer phrases, phrases with slop, and archives created
//! before pairs were indexed keep tantivy's positional phrase query.

use tantivy::Term;
use tantivy::query::{BooleanQuery, BoostQuery, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{
    LowerCaser, RemoveLongFilter, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};

/// The name the pair analyzer is registered under.
pub(super) const TOKENIZER: &str = "word_pairs_v2";

/// Joins the two words of a pair term; the analyzer never yields it inside a word.
const JOIN: char = ' ';

/// The pair fields of an archive, beside the text fields they pair.
#[derive(Debug, Clone, Copy)]
pub(super) struct PairFields {
    pub(super) title: (Field, Field),
    pub(super) body: (Field, Field),
    pub(super) summary: (Field, Field),
}

impl PairFields {
    fn of(&self, text: Field) -> Option<Field> {
        [self.title, self.body, self.summary]
            .into_iter()
            .find(|(t, _)| *t == text)
            .map(|(_, p)| p)
    }
}

/// Indexed for lookups and BM25 (document frequencies, term frequencies, field lengths), never
/// stored, no positions.
pub(super) fn field_options() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    )
}

/// The text fields' analyzer (see [`crate::text`]), followed by pairing: a pair of CJK words is
/// two adjacent segments, as a phrase of them is.
pub(super) fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(crate::text::segment::TextTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Pairs)
        .build()
}

/// Turns a stream of words into the stream of adjacent pairs of them.
#[derive(Clone)]
struct Pairs;

impl TokenFilter for Pairs {
    type Tokenizer<T: Tokenizer> = PairsTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> PairsTokenizer<T> {
        PairsTokenizer(tokenizer)
    }
}

#[derive(Clone)]
struct PairsTokenizer<T>(T);

impl<T: Tokenizer> Tokenizer for PairsTokenizer<T> {
    type TokenStream<'a> = PairStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        PairStream {
            words: self.0.token_stream(text),
            prev: Vec::new(),
            prev_len: 0,
            prev_pos: 0,
            cur: Vec::new(),
            cur_len: 0,
            cur_pos: None,
            queue: Vec::new(),
            pair: Token::default(),
        }
    }
}

/// Pairs every word with every word at the position before it. Latin text has one word per
/// position; a Chinese word may share its position with the shorter words inside it (走私案 and
/// 走私), and a phrase matches any of them, so its pairs must too.
struct PairStream<S> {
    words: S,
    /// The words at the position before the current one (text, where it starts); the first
    /// `prev_len` are live, the rest are buffers kept for reuse.
    prev: Vec<(String, usize)>,
    prev_len: usize,
    prev_pos: usize,
    /// The words at the current position.
    cur: Vec<(String, usize)>,
    cur_len: usize,
    cur_pos: Option<usize>,
    /// Pairs made by the last word beyond the one handed out.
    queue: Vec<Token>,
    pair: Token,
}

impl<S: TokenStream> TokenStream for PairStream<S> {
    fn advance(&mut self) -> bool {
        if let Some(t) = self.queue.pop() {
            self.pair = t;
            return true;
        }
        while self.words.advance() {
            let word = self.words.token();
            if self.cur_pos != Some(word.position) {
                if self.cur_pos.map(|p| p + 1) == Some(word.position) {
                    std::mem::swap(&mut self.prev, &mut self.cur);
                    self.prev_len = self.cur_len;
                    self.prev_pos = word.position - 1;
                } else {
                    // A word the analyzer dropped lay between: nothing pairs across it.
                    self.prev_len = 0;
                }
                self.cur_len = 0;
                self.cur_pos = Some(word.position);
            }
            match self.cur.get_mut(self.cur_len) {
                Some(slot) => {
                    slot.0.clear();
                    slot.0.push_str(&word.text);
                    slot.1 = word.offset_from;
                }
                None => self.cur.push((word.text.clone(), word.offset_from)),
            }
            self.cur_len += 1;
            if self.prev_len == 0 {
                continue;
            }
            let make = |pair: &mut Token, (text, from): &(String, usize)| {
                pair.text.clear();
                pair.text.push_str(text);
                pair.text.push(JOIN);
                pair.text.push_str(&word.text);
                pair.position = self.prev_pos;
                pair.offset_from = *from;
                pair.offset_to = word.offset_to;
            };
            for before in &self.prev[1..self.prev_len] {
                let mut extra = Token::default();
                make(&mut extra, before);
                self.queue.push(extra);
            }
            make(&mut self.pair, &self.prev[0]);
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        &self.pair
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.pair
    }
}

/// `q` with every two-word phrase without slop (boosted or not) replaced by a lookup of its pair.
pub(super) fn rewrite(q: &dyn Query, pairs: &PairFields) -> Box<dyn Query> {
    if let Some(b) = q.downcast_ref::<BooleanQuery>() {
        let clauses = b
            .clauses()
            .iter()
            .map(|(occur, clause)| (*occur, rewrite(clause.as_ref(), pairs)))
            .collect();
        let mut out = BooleanQuery::new(clauses);
        out.set_minimum_number_should_match(b.get_minimum_number_should_match());
        return Box::new(out);
    }
    pair_lookup(q, pairs).unwrap_or_else(|| q.box_clone())
}

/// The boosts tantivy's parser may have put on a phrase: none, or a field's (the title's).
const BOOSTS: [Option<f32>; 2] = [None, Some(super::index::TITLE_BOOST)];

fn pair_lookup(q: &dyn Query, pairs: &PairFields) -> Option<Box<dyn Query>> {
    let mut words: Vec<Term> = Vec::new();
    let mut positional = true;
    q.query_terms(&mut |t, needs_positions| {
        words.push(t.clone());
        positional &= needs_positions;
    });
    let [first, second] = words.as_slice() else {
        return None;
    };
    if !positional || first.field() != second.field() {
        return None;
    }
    let field = pairs.of(first.field())?;
    // tantivy lends out neither a phrase's slop and offsets nor a boost's query: `q` is the
    // phrase `a b` (slop 0, adjacent) when it prints as one built so, boosted as it may be.
    let phrase = PhraseQuery::new(vec![first.clone(), second.clone()]);
    let seen = format!("{q:?}");
    let boost = BOOSTS.into_iter().find(|boost| {
        seen == match boost {
            None => format!("{phrase:?}"),
            Some(b) => format!("{:?}", BoostQuery::new(Box::new(phrase.clone()), *b)),
        }
    })?;
    let (a, b) = (first.value(), second.value());
    let pair = format!("{}{JOIN}{}", a.as_str()?, b.as_str()?);
    let pair = Term::from_field_text(field, &pair);
    let lookup: Box<dyn Query> = Box::new(TermQuery::new(pair, IndexRecordOption::WithFreqs));
    Some(match boost {
        None => lookup,
        Some(b) => Box::new(BoostQuery::new(lookup, b)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut a = analyzer();
        let mut s = a.token_stream(text);
        let mut out = Vec::new();
        while s.advance() {
            let t = s.token();
            out.push((t.text.clone(), t.position, t.offset_from, t.offset_to));
        }
        out
    }

    #[test]
    fn adjacent_words_pair_up_and_a_dropped_word_breaks_the_pair() {
        assert_eq!(
            pairs("Export controls, tightened."),
            vec![
                ("export controls".to_string(), 0, 0, 15),
                ("controls tightened".to_string(), 1, 7, 26),
            ]
        );
        assert!(pairs("one").is_empty());
        assert!(pairs("").is_empty());
        // A word longer than 40 bytes is not indexed, and the words around it are not adjacent.
        let long = "x".repeat(41);
        let got = pairs(&format!("chip {long} smuggling ring"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "smuggling ring");
    }

    #[test]
    fn words_sharing_a_position_each_pair_with_their_neighbours() {
        // 走私案 ("smuggling case") shares its position with 走私 ("smuggling").
        let got: Vec<String> = pairs("芯片走私案").into_iter().map(|p| p.0).collect();
        assert!(got.contains(&"芯片 走私案".to_string()), "{got:?}");
        assert!(got.contains(&"芯片 走私".to_string()), "{got:?}");
    }
}
