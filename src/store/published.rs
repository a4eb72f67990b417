//! Publication dates of matches: when each document of a segment was published, decoded once per
//! segment; the timeline's counts per day; the newest-first page.
//!
//! Newest-first pages, timelines and date windows read `published` for every match. Through
//! tantivy's fast-field column each read decodes and maps a value (an eighth of a topic + 30 days
//! search's CPU samples in perf, a fifth of a timeline's, a third of a newest-first page's); segments never change, so their dates are decoded once
//! into a plain array (8 bytes per document) and read by index.

use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};

use super::index::Window;
use tantivy::index::SegmentId;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

/// Stands for "no publication date" (never within a window, oldest of all).
pub(super) const UNDATED: i64 = i64::MIN;

/// Each live segment's publication dates (Unix seconds), by document.
#[derive(Default)]
pub(super) struct PublishedCache {
    segments: Mutex<HashMap<SegmentId, Arc<Dates>>>,
}

/// One segment's publication dates.
pub(super) struct Dates {
    /// By document; [`UNDATED`] where there is none.
    pub(super) at: Box<[i64]>,
    /// The first and last day any document was published (0 and 0 when none was).
    days: (i64, i64),
    /// By document, its day counted from the first (`u16::MAX` when undated); a quarter the
    /// size of `at` and no division per match, for timelines. Empty when the days span more
    /// than a `u16` counts.
    day: Box<[u16]>,
    /// The documents latest first (ties: earlier document first), sorted on first use.
    newest_first: std::sync::OnceLock<Box<[DocId]>>,
}

/// A publication window as one segment checks it.
pub(super) enum InWindow {
    /// In day offsets of the segment, when both ends fall on midnight UTC (the API's dates do):
    /// read from the compact day array.
    Days(i64, i64),
    /// In Unix seconds.
    Secs(Window),
}

impl Dates {
    /// `window` as this segment checks it.
    pub(super) fn window(&self, window: Window) -> InWindow {
        let Window { from, to } = window;
        let midnight = |t: Option<i64>| t.is_none_or(|t| t.rem_euclid(86_400) == 0);
        if self.day.is_empty() || !midnight(from) || !midnight(to) {
            return InWindow::Secs(window);
        }
        let offset = |t: i64| t.div_euclid(86_400) - self.days.0;
        InWindow::Days(from.map_or(i64::MIN, offset), to.map_or(i64::MAX, offset))
    }

    /// Whether `doc` was published within `window`.
    pub(super) fn holds(&self, window: &InWindow, doc: DocId) -> bool {
        match window {
            InWindow::Days(from, to) => (self.day.get(doc as usize))
                .is_some_and(|&o| o != u16::MAX && (*from..*to).contains(&i64::from(o))),
            InWindow::Secs(w) => {
                (self.at.get(doc as usize)).is_some_and(|&t| t != UNDATED && w.holds(t))
            }
        }
    }

    /// The segment's documents, latest published first, the earlier document first among equals.
    pub(super) fn newest_first(&self) -> &[DocId] {
        self.newest_first.get_or_init(|| {
            let mut docs: Vec<DocId> = (0..self.at.len() as DocId).collect();
            docs.sort_unstable_by_key(|&d| (std::cmp::Reverse(self.at[d as usize]), d));
            docs.into()
        })
    }
}

impl PublishedCache {
    /// The dates of `segment`'s documents, decoded on first use.
    pub(super) fn of(&self, segment: &SegmentReader) -> tantivy::Result<Arc<Dates>> {
        let id = segment.segment_id();
        if let Some(dates) = self.lock().get(&id) {
            return Ok(dates.clone());
        }
        let column = segment.fast_fields().date("published")?;
        let max_doc = segment.max_doc();
        let mut dates = Vec::with_capacity(max_doc as usize);
        let mut docs: Vec<DocId> = Vec::with_capacity(4096);
        let mut values = vec![None; 4096];
        let mut start = 0;
        while start < max_doc {
            let end = max_doc.min(start + 4096);
            docs.clear();
            docs.extend(start..end);
            let out = &mut values[..docs.len()];
            out.fill(None);
            column.first_vals(&docs, out);
            dates.extend(
                out.iter()
                    .map(|v| v.map_or(UNDATED, |d| d.into_timestamp_secs())),
            );
            start = end;
        }
        let dated = || dates.iter().filter(|&&t| t != UNDATED);
        let days = (
            dated().min().map_or(0, |t| t.div_euclid(86_400)),
            dated().max().map_or(0, |t| t.div_euclid(86_400)),
        );
        let day: Box<[u16]> = if days.1 - days.0 < i64::from(u16::MAX) {
            (dates.iter())
                .map(|&t| match t {
                    UNDATED => u16::MAX,
                    t => (t.div_euclid(86_400) - days.0) as u16,
                })
                .collect()
        } else {
            Box::default()
        };
        let dates = Arc::new(Dates {
            at: dates.into(),
            days,
            day,
            newest_first: Default::default(),
        });
        self.lock().insert(id, dates.clone());
        Ok(dates)
    }

    /// Forgets segments `searcher` no longer has (merged away).
    pub(super) fn retain(&self, searcher: &Searcher) {
        let live: Vec<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|s| s.segment_id())
            .collect();
        self.lock().retain(|id, _| live.contains(id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<Dates>>> {
        // A panic elsewhere while holding the lock leaves a map that is still whole.
        self.segments.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Matches per UTC day (days since 1970-01-01), in day order.
pub(super) struct PublishedDays<'a> {
    pub(super) cache: &'a PublishedCache,
}

pub(super) struct PublishedDaysSegment {
    dates: Arc<Dates>,
    /// A counter per day offset, when the segment has day offsets.
    days: Vec<u64>,
    /// Counts by day otherwise (dates spanning more days than a `u16` counts: a stray year 1).
    spill: HashMap<i64, u64>,
}

impl Collector for PublishedDays<'_> {
    type Fruit = Vec<(i64, u64)>;
    type Child = PublishedDaysSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let dates = self.cache.of(reader)?;
        let days = if dates.day.is_empty() {
            Vec::new()
        } else {
            let (first, last) = dates.days;
            vec![0; (last - first + 1) as usize]
        };
        Ok(PublishedDaysSegment {
            dates,
            days,
            spill: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut all: Vec<(i64, u64)> = fruits.into_iter().flatten().collect();
        all.sort_unstable_by_key(|(day, _)| *day);
        let mut merged: Vec<(i64, u64)> = Vec::with_capacity(all.len());
        for (day, n) in all {
            match merged.last_mut() {
                Some((last, m)) if *last == day => *m += n,
                _ => merged.push((day, n)),
            }
        }
        Ok(merged)
    }
}

impl SegmentCollector for PublishedDaysSegment {
    type Fruit = Vec<(i64, u64)>;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(&day) = self.dates.day.get(doc as usize) {
            if let Some(n) = self.days.get_mut(usize::from(day)) {
                *n += 1;
            }
            return;
        }
        if let Some(&t) = self.dates.at.get(doc as usize)
            && t != UNDATED
        {
            *self.spill.entry(t.div_euclid(86_400)).or_default() += 1;
        }
    }

    fn harvest(self) -> Self::Fruit {
        let mut out: Vec<(i64, u64)> = (self.days.iter().enumerate())
            .filter(|(_, n)| **n != 0)
            .map(|(i, n)| (self.dates.days.0 + i as i64, *n))
            .collect();
        out.extend(self.spill);
        out
    }
}

/// The newest matches, `limit` of them after the first `offset`: latest publication first, and
/// among equal dates the earlier document (as tantivy's `TopDocs` orders a fast field).
pub(super) struct Newest<'a> {
    pub(super) cache: &'a PublishedCache,
    pub(super) limit: usize,
    pub(super) offset: usize,
}

impl Newest<'_> {
    /// The page out of each segment's best `limit + offset`.
    pub(super) fn page(&self, mut all: Vec<(i64, DocAddress)>) -> Vec<(i64, DocAddress)> {
        all.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        all.into_iter().skip(self.offset).take(self.limit).collect()
    }
}

/// A heap key that is greater for a better hit: later, then earlier in the index.
type Rank = (i64, std::cmp::Reverse<DocId>);

pub(super) struct NewestSegment {
    dates: Arc<Dates>,
    ordinal: SegmentOrdinal,
    keep: usize,
    /// The best `keep` so far, worst on top.
    best: BinaryHeap<std::cmp::Reverse<Rank>>,
}

impl Collector for Newest<'_> {
    type Fruit = Vec<(i64, DocAddress)>;
    type Child = NewestSegment;

    fn for_segment(
        &self,
        ordinal: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let keep = self.limit + self.offset;
        Ok(NewestSegment {
            dates: self.cache.of(reader)?,
            ordinal,
            keep,
            best: BinaryHeap::with_capacity(keep + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        Ok(self.page(fruits.into_iter().flatten().collect()))
    }
}

impl SegmentCollector for NewestSegment {
    type Fruit = Vec<(i64, DocAddress)>;

    fn collect(&mut self, doc: DocId, _: Score) {
        let published = self.dates.at.get(doc as usize).copied().unwrap_or(UNDATED);
        let rank = (published, std::cmp::Reverse(doc));
        if self.best.len() < self.keep {
            self.best.push(std::cmp::Reverse(rank));
        } else if self.best.peek().is_some_and(|worst| rank > worst.0) {
            self.best.pop();
            self.best.push(std::cmp::Reverse(rank));
        }
    }

    fn harvest(self) -> Self::Fruit {
        let ordinal = self.ordinal;
        self.best
            .into_iter()
            .map(|std::cmp::Reverse((published, std::cmp::Reverse(doc)))| {
                (published, DocAddress::new(ordinal, doc))
            })
            .collect()
    }
}
