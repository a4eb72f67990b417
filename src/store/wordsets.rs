//! Queries made of words alone — `a AND b`, `a OR b`, `a NOT b`, each word over title, body and
//! summary, plus exact filters such as a topic — matched from bitmaps instead of tantivy's
//! scorers. Each word's postings are decoded a block at a time into one bit per document of a
//! segment; the sets are then intersected word by word. tantivy merges unions document by
//! document (a word over three fields is a union of three lists), which was the largest cost of
//! `AND`, of a topic filter beside words, and of timelines; the bitmaps do the same work a
//! machine word at a time. Scores, where a collector needs them, still come from tantivy: the
//! scorer of each word is moved to each match and their scores summed, as tantivy's boolean
//! queries sum them, so a page ranks as a full pass would. Date windows and the paging filter
//! are checked before scoring, so what they leave out is never scored.

use tantivy::DocAddress;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{AllQuery, BooleanQuery, EnableScoring, Occur, Query, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, Searcher, SegmentReader, Term};

use super::index::Checks;
use super::published::{Newest, PublishedCache};

/// What a query made of words matches: documents holding a word of every set in `all` and no
/// word of any set in `none`. No set in `all` means every document.
#[derive(Debug, Clone, Default)]
pub(super) struct WordSets {
    all: Vec<Vec<Term>>,
    none: Vec<Vec<Term>>,
}

impl WordSets {
    /// The sets `q` stands for, or `None` when it holds anything but words (a phrase, a range, a
    /// required number of optional clauses), which tantivy then runs itself.
    pub(super) fn of(q: &dyn Query) -> Option<WordSets> {
        if q.downcast_ref::<AllQuery>().is_some() {
            return Some(WordSets::default());
        }
        if let Some(terms) = union_of_terms(q) {
            return Some(WordSets {
                all: vec![terms],
                none: Vec::new(),
            });
        }
        let b = q.downcast_ref::<BooleanQuery>()?;
        let clauses = b.clauses();
        let required = clauses.iter().any(|(o, _)| *o == Occur::Must);
        let mut sets = WordSets::default();
        if !required {
            // Only optional clauses (and exclusions): a union; each clause must be one.
            if b.get_minimum_number_should_match() > 1 {
                return None;
            }
            // `NOT chips` parses to an exclusion beside an optional match-everything.
            let mut everything = false;
            let mut any = Vec::new();
            for (occur, clause) in clauses {
                match occur {
                    Occur::Should if clause.downcast_ref::<AllQuery>().is_some() => {
                        everything = true
                    }
                    Occur::Should => any.extend(union_of_terms(clause.as_ref())?),
                    Occur::MustNot => sets.none.push(union_of_terms(clause.as_ref())?),
                    // Not in this branch (`required` is false); leave it to tantivy all the same.
                    Occur::Must => return None,
                }
            }
            if everything {
                return Some(sets);
            }
            if any.is_empty() {
                // Exclusions alone match nothing in tantivy; leave that to it.
                return None;
            }
            sets.all.push(any);
            return Some(sets);
        }
        // Required clauses decide what matches; optional ones beside them only add to scores.
        if b.get_minimum_number_should_match() > 0 {
            return None;
        }
        for (occur, clause) in clauses {
            match occur {
                Occur::Must => {
                    let inner = WordSets::of(clause.as_ref())?;
                    sets.all.extend(inner.all);
                    sets.none.extend(inner.none);
                }
                Occur::MustNot => sets.none.push(union_of_terms(clause.as_ref())?),
                Occur::Should => {}
            }
        }
        Some(sets)
    }

    /// Also requires one of `terms` (an exact filter such as a topic).
    pub(super) fn require(&mut self, terms: Vec<Term>) {
        self.all.push(terms);
    }

    /// The matching documents of one segment, deleted ones included, as one bit per document.
    fn bitmap(&self, segment: &SegmentReader) -> tantivy::Result<Bits> {
        let words = (segment.max_doc() as usize).div_ceil(64);
        // The set with the fewest postings first: later sets only narrow it, and once it is empty
        // the rest need not be read.
        let mut order: Vec<(u64, &Vec<Term>)> = Vec::with_capacity(self.all.len());
        for set in &self.all {
            let mut n = 0u64;
            for t in set {
                n += u64::from(segment.inverted_index(t.field())?.doc_freq(t)?);
            }
            order.push((n, set));
        }
        order.sort_by_key(|(n, _)| *n);
        let mut bits = match order.first() {
            None => {
                let mut all = Bits::filled(words, u64::MAX);
                let tail = segment.max_doc() % 64;
                if let (Some(last), true) = (all.last_mut(), tail != 0) {
                    *last = (1u64 << tail) - 1;
                }
                all
            }
            Some((_, set)) => {
                let mut bits = Bits::filled(words, 0);
                or_postings(segment, set, &mut bits)?;
                bits
            }
        };
        for (_, set) in order.iter().skip(1) {
            if bits.iter().all(|&w| w == 0) {
                return Ok(bits);
            }
            let mut scratch = Bits::filled(words, 0);
            or_postings(segment, set, &mut scratch)?;
            for (b, s) in bits.iter_mut().zip(scratch.iter()) {
                *b &= s;
            }
        }
        for set in &self.none {
            let mut scratch = Bits::filled(words, 0);
            or_postings(segment, set, &mut scratch)?;
            for (b, s) in bits.iter_mut().zip(scratch.iter()) {
                *b &= !s;
            }
        }
        Ok(bits)
    }
}

/// The terms of `q` when it is a term (boosted or not) or a union of such.
fn union_of_terms(q: &dyn Query) -> Option<Vec<Term>> {
    if super::index::is_term(q) {
        let mut terms = Vec::new();
        q.query_terms(&mut |t, _| terms.push(t.clone()));
        return Some(terms);
    }
    let b = q.downcast_ref::<BooleanQuery>()?;
    if b.get_minimum_number_should_match() > 1 {
        return None;
    }
    let mut terms = Vec::new();
    for (occur, clause) in b.clauses() {
        if *occur != Occur::Should {
            return None;
        }
        terms.extend(union_of_terms(clause.as_ref())?);
    }
    Some(terms)
}

/// A bitmap whose buffer goes back to this thread's pool when dropped. A search builds one or
/// two per set per segment (125 KB for a million documents), and fresh buffers that size came
/// from the system a zeroed page at a time.
struct Bits(Vec<u64>);

thread_local! {
    static POOL: std::cell::RefCell<Vec<Vec<u64>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Bits {
    fn filled(words: usize, value: u64) -> Bits {
        let mut v = (POOL.try_with(|p| p.borrow_mut().pop()).ok().flatten()).unwrap_or_default();
        v.clear();
        v.resize(words, value);
        Bits(v)
    }
}

impl Drop for Bits {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.0);
        let _ = POOL.try_with(|p| {
            let mut pool = p.borrow_mut();
            if pool.len() < 4 {
                pool.push(v);
            }
        });
    }
}

impl std::ops::Deref for Bits {
    type Target = [u64];
    fn deref(&self) -> &[u64] {
        &self.0
    }
}

impl std::ops::DerefMut for Bits {
    fn deref_mut(&mut self) -> &mut [u64] {
        &mut self.0
    }
}

/// Sets the bit of every document holding one of `terms`.
fn or_postings(segment: &SegmentReader, terms: &[Term], bits: &mut [u64]) -> tantivy::Result<()> {
    for term in terms {
        let postings = segment.inverted_index(term.field())?;
        let Some(mut block) = postings.read_block_postings(term, IndexRecordOption::Basic)? else {
            continue;
        };
        loop {
            let docs = block.docs();
            if docs.is_empty() {
                break;
            }
            for &d in docs {
                if let Some(word) = bits.get_mut(d as usize / 64) {
                    *word |= 1 << (d % 64);
                }
            }
            block.advance();
        }
    }
    Ok(())
}

/// The documents whose bits are set, in order.
fn ones(bits: &[u64]) -> impl Iterator<Item = DocId> + '_ {
    bits.iter().enumerate().flat_map(|(i, &w)| {
        let mut w = w;
        std::iter::from_fn(move || {
            (w != 0).then(|| {
                let b = w.trailing_zeros();
                w &= w - 1;
                i as DocId * 64 + b
            })
        })
    })
}

/// How many live documents `sets` matches.
pub(super) fn count(searcher: &Searcher, sets: &WordSets) -> tantivy::Result<usize> {
    let mut total = 0;
    for segment in searcher.segment_readers() {
        let bits = sets.bitmap(segment)?;
        total += match segment.alive_bitset() {
            None => bits.iter().map(|w| w.count_ones() as usize).sum(),
            Some(alive) => ones(&bits).filter(|&d| alive.is_alive(d)).count(),
        };
    }
    Ok(total)
}

/// Runs `collector` over the live documents `sets` matches that pass `checks`. When it needs
/// scores, they are summed from the scorers of `user`'s words moved to each match, as tantivy's
/// boolean queries add them up (`user` is the query the sets were read from; exact filters
/// beside it score nothing).
pub(super) fn collect<C: Collector>(
    searcher: &Searcher,
    sets: &WordSets,
    user: &dyn Query,
    checks: &Checks,
    dates: &PublishedCache,
    collector: &C,
) -> tantivy::Result<C::Fruit> {
    let scoring = if collector.requires_scoring() {
        let mut sum = Sum::default();
        if !sum.add(user, &EnableScoring::enabled_from_searcher(searcher))? {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "not a query of words: {user:?}"
            )));
        }
        Some(sum)
    } else {
        None
    };
    let mut fruits = Vec::with_capacity(searcher.segment_readers().len());
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let bits = sets.bitmap(segment)?;
        let mut child = collector.for_segment(ord as u32, segment)?;
        let alive = segment.alive_bitset();
        let passes = checks.for_segment(segment, dates)?;
        let matches = ones(&bits).filter(|&d| alive.is_none_or(|a| a.is_alive(d)) && passes(d));
        match &scoring {
            None => matches.for_each(|d| child.collect(d, 0.0)),
            Some(sum) => {
                let mut words = sum
                    .words
                    .iter()
                    .map(|w| w.scorer(segment, 1.0))
                    .collect::<tantivy::Result<Vec<_>>>()?;
                for d in matches {
                    let mut score = sum.constant;
                    for word in &mut words {
                        let mut at = word.doc();
                        if at < d {
                            at = word.seek(d);
                        }
                        if at == d {
                            score += word.score();
                        }
                    }
                    child.collect(d, score);
                }
            }
        }
        fruits.push(child.harvest());
    }
    collector.merge_fruits(fruits)
}

/// A match's score as tantivy's boolean queries of words add it up: the score of each word the
/// document holds (its boost included; exclusions add nothing) plus 1 for each match-everything
/// clause.
#[derive(Default)]
struct Sum {
    words: Vec<Box<dyn Weight>>,
    constant: Score,
}

impl Sum {
    /// Adds `q`'s words; false when `q` holds anything else.
    fn add(&mut self, q: &dyn Query, scoring: &EnableScoring) -> tantivy::Result<bool> {
        if super::index::is_term(q) {
            self.words.push(q.weight(*scoring)?);
            return Ok(true);
        }
        if q.downcast_ref::<AllQuery>().is_some() {
            self.constant += 1.0;
            return Ok(true);
        }
        let Some(b) = q.downcast_ref::<BooleanQuery>() else {
            return Ok(false);
        };
        for (occur, clause) in b.clauses() {
            if *occur != Occur::MustNot && !self.add(clause.as_ref(), scoring)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// How many live documents `sets` matches that pass `checks`, and the newest page of them. In a
/// segment where matches are common, the segment's documents are walked latest first until
/// enough match (a few hundred looks instead of a date per match); where they are rare, each
/// match's date is looked at.
pub(super) fn newest(
    searcher: &Searcher,
    sets: &WordSets,
    checks: &Checks,
    dates: &PublishedCache,
    page: &Newest,
) -> tantivy::Result<(usize, Vec<(i64, DocAddress)>)> {
    let keep = page.limit + page.offset;
    let mut total = 0;
    let mut best = Vec::new();
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let bits = sets.bitmap(segment)?;
        let alive = segment.alive_bitset();
        let passes = checks.for_segment(segment, dates)?;
        let matches = |d: DocId| {
            bits[d as usize / 64] & (1 << (d % 64)) != 0
                && alive.is_none_or(|a| a.is_alive(d))
                && passes(d)
        };
        let n = if alive.is_none() && checks.is_empty() {
            bits.iter().map(|w| w.count_ones() as usize).sum()
        } else {
            ones(&bits).filter(|&d| matches(d)).count()
        };
        total += n;
        let dated = dates.of(segment)?;
        let found = |d: DocId| (dated.at[d as usize], DocAddress::new(ord as u32, d));
        // Walking latest first looks at about keep × max_doc / n documents; the heap, at n.
        if n * n > keep * segment.max_doc() as usize {
            best.extend(
                (dated.newest_first().iter())
                    .copied()
                    .filter(|&d| matches(d))
                    .take(keep)
                    .map(found),
            );
        } else {
            let mut child = page.for_segment(ord as u32, segment)?;
            ones(&bits)
                .filter(|&d| matches(d))
                .for_each(|d| child.collect(d, 0.0));
            best.extend(child.harvest());
        }
    }
    Ok((total, page.page(best)))
}
