//! Re-tokenising an archive made by an older text analysis (`wirewatch reindex` does it first).
//!
//! The schema records how its text was tokenised (the analyzer name of the text fields, see
//! [`super::index::text_analysis_of`]). An archive from before CJK segmentation holds whole runs
//! of Han characters as terms: queries cut by the new analyzer would not find them, and new
//! articles written beside them would mix two kinds of terms. So it is refused when opened, and
//! this module rebuilds it: every stored article is read back and written into a new archive
//! beside the old one; only when the new one holds every article id of the old does it take the
//! old one's place. The old one is kept, renamed, until the operator removes it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use tantivy::directory::{INDEX_WRITER_LOCK, MmapDirectory};
use tantivy::schema::Value;
use tantivy::{Directory, Index, TantivyDocument};

use super::index::{ArticleIndex, Fields, IndexError, article_with, text_analysis_of};

/// Articles written between commits.
const CHUNK: usize = 1000;

/// What a migration did.
#[derive(Debug)]
pub struct Migrated {
    /// Articles (distinct ids) copied.
    pub articles: usize,
    /// The text analysis the old archive had.
    pub from: String,
    /// Where the old archive now is.
    pub kept_at: PathBuf,
}

fn open_err(dir: &Path, source: impl Into<tantivy::TantivyError>) -> IndexError {
    IndexError::Open {
        path: dir.display().to_string(),
        source: source.into(),
    }
}

/// The text analysis of the archive in `dir` when it is not the current one; `None` for a
/// current archive or none at all.
pub fn outdated(dir: &Path) -> Result<Option<String>, IndexError> {
    if !dir.exists() {
        return Ok(None);
    }
    let directory = MmapDirectory::open(dir).map_err(|e| open_err(dir, e))?;
    if !Index::exists(&directory).map_err(|e| open_err(dir, e))? {
        return Ok(None);
    }
    let index = Index::open(directory).map_err(|e| open_err(dir, e))?;
    let found = text_analysis_of(&index.schema()).unwrap_or_default();
    Ok((found != crate::text::TOKENIZER).then_some(found))
}

/// Rebuilds the archive in `dir` with the current schema when it is outdated (see the module
/// docs); `progress(done, total)` is called as articles are copied. `Ok(None)`: nothing to do.
pub fn retokenise(
    dir: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Option<Migrated>, IndexError> {
    let Some(from) = outdated(dir)? else {
        return Ok(None);
    };
    let directory = MmapDirectory::open(dir).map_err(|e| open_err(dir, e))?;
    // The writer's lock, held throughout: an older daemon still running on this archive (which
    // would go on writing to it) makes this fail instead of losing what it writes.
    let _lock = directory.acquire_lock(&INDEX_WRITER_LOCK).map_err(|e| {
        open_err(
            dir,
            tantivy::TantivyError::LockFailure(e, Some("is the daemon running? Stop it".into())),
        )
    })?;
    let old = Index::open(directory).map_err(|e| open_err(dir, e))?;
    let fields = Fields::of(&old.schema()).map_err(|e| open_err(dir, e))?;
    let searcher = old.reader()?.searcher();
    let total = searcher.num_docs() as usize;

    let new_dir = sibling(dir, "retokenising");
    if new_dir.exists() {
        // Left by an interrupted run: it is only ever a partial copy.
        std::fs::remove_dir_all(&new_dir)
            .map_err(|e| open_err(&new_dir, tantivy::TantivyError::from(e)))?;
    }
    let new = ArticleIndex::open(&new_dir)?;
    let mut writer = new.writer()?;
    let mut ids = HashSet::with_capacity(total);
    let mut done = 0;
    progress(0, total);
    for segment in searcher.segment_readers() {
        let store = segment
            .get_store_reader(64)
            .map_err(tantivy::TantivyError::from)?;
        for doc_id in 0..segment.max_doc() {
            if segment.is_deleted(doc_id) {
                continue;
            }
            let d: TantivyDocument = store.get(doc_id)?;
            let analysis = d
                .get_first(fields.analysis)
                .and_then(|v| v.as_str())
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default();
            let article = article_with(&fields, &d, analysis);
            ids.insert(article.id.clone());
            writer.upsert(&article)?;
            done += 1;
            if done % CHUNK == 0 {
                writer.commit()?;
                progress(done, total);
            }
        }
    }
    writer.commit()?;
    drop(writer);
    new.reload()?;
    progress(done, total);
    let copied = new.num_docs() as usize;
    if copied != ids.len() {
        return Err(IndexError::Migration(format!(
            "the re-tokenised archive at {} holds {copied} articles, the old one {}; the old one \
             was left in place",
            new_dir.display(),
            ids.len()
        )));
    }
    drop(new);
    drop(searcher);
    drop(_lock);
    let kept_at = free_sibling(dir, &format!("before-{}", crate::text::TOKENIZER));
    let io = |path: &Path, e: std::io::Error| open_err(path, tantivy::TantivyError::from(e));
    std::fs::rename(dir, &kept_at).map_err(|e| io(dir, e))?;
    std::fs::rename(&new_dir, dir).map_err(|e| io(&new_dir, e))?;
    Ok(Some(Migrated {
        articles: ids.len(),
        from,
        kept_at,
    }))
}

/// `dir` with `.suffix` added to its name.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    dir.with_file_name(name)
}

/// A sibling name not yet taken (a second migration never overwrites the first one's backup).
fn free_sibling(dir: &Path, suffix: &str) -> PathBuf {
    let first = sibling(dir, suffix);
    (1..)
        .map(|n| match n {
            1 => first.clone(),
            n => sibling(dir, &format!("{suffix}-{n}")),
        })
        .find(|p| !p.exists())
        .unwrap_or(first)
}
