//! `wirewatch reindex`: analyses every stored article again with the current rule pack and
//! gazetteer, after the rules changed. Resumable: a checkpoint in the state database (the last
//! article done, and a digest of the rules it was done with) is written after each commit, so an
//! interrupted run continues where it stopped, and a finished one is not repeated for the same
//! rules unless forced.

use sha2::{Digest, Sha256};

use crate::analyze::{Analyzer, RuleTexts};
use crate::config::Config;
use crate::store::{ArticleIndex, State};

/// Articles analysed between commits (and checkpoints).
const CHUNK: usize = 500;

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Articles in the archive.
    pub total: usize,
    /// Articles analysed by an earlier, interrupted run with the same rules, skipped now.
    pub resumed: usize,
    /// Articles analysed now.
    pub analysed: usize,
    /// Of those, the ones whose analysis changed (and were written back).
    pub changed: usize,
    /// True when a finished run with the same rules made this one unnecessary.
    pub up_to_date: bool,
}

/// A digest of the rules: the files' bytes and the analyser's version.
pub fn rules_digest(texts: &RuleTexts) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    for text in [&texts.topics.text, &texts.gazetteer.text] {
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    // The topic model changes topics too; none (rules alone) digests as before.
    if let Some(model) = &texts.model {
        h.update(b"model");
        h.update((model.text.len() as u64).to_le_bytes());
        h.update(model.text.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

/// Re-analyses the archive. `progress(done, total)` is called as articles are done.
pub fn reindex(
    config: &Config,
    index: &ArticleIndex,
    state: &State,
    force: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Summary> {
    reindex_in_chunks(config, index, state, force, CHUNK, progress)
}

fn reindex_in_chunks(
    config: &Config,
    index: &ArticleIndex,
    state: &State,
    force: bool,
    chunk_size: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Summary> {
    let texts = config.analysis.rule_texts()?;
    let analyzer = Analyzer::from_texts(&texts)?;
    let rules = rules_digest(&texts);
    let mut writer = index.writer().map_err(|e| {
        anyhow::anyhow!(
            "cannot write to the index at {} ({e}); is the daemon running? Stop it first: reindexing needs the index to itself",
            config.index_dir().display()
        )
    })?;
    let mut ids = index.all_ids()?;
    ids.sort_unstable();
    ids.dedup();
    let mut summary = Summary {
        total: ids.len(),
        ..Default::default()
    };
    let checkpoint = state.reindex_checkpoint()?;
    let after = match checkpoint {
        Some(c) if c.rules == rules && !force => {
            if c.finished {
                summary.up_to_date = true;
                return Ok(summary);
            }
            c.last_id
        }
        _ => None,
    };
    if let Some(after) = &after {
        summary.resumed = ids.partition_point(|id| id <= after);
    }
    let todo = &ids[summary.resumed..];
    progress(summary.resumed, summary.total);
    for chunk in todo.chunks(chunk_size) {
        for id in chunk {
            let Some(mut article) = index.get(id)? else {
                continue;
            };
            let analysis = analyzer.analyze(&article.title, &article.body);
            summary.analysed += 1;
            if analysis != article.analysis {
                article.analysis = analysis;
                writer.upsert(&article)?;
                summary.changed += 1;
            }
        }
        writer.commit()?;
        let last = chunk.last().cloned();
        state.set_reindex_checkpoint(&rules, last.as_deref(), false)?;
        progress(summary.resumed + summary.analysed, summary.total);
    }
    state.set_reindex_checkpoint(&rules, None, true)?;
    index.reload()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::index::tests::article;
    use std::path::Path;

    fn setup(dir: &Path) -> (Config, ArticleIndex, State) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let file = dir.join("wirewatch.toml");
        std::fs::write(
            &file,
            format!(
                "[daemon]\ndata_dir = {:?}\n\n[analysis]\ntopics = {:?}\ngazetteer = {:?}\n",
                dir.join("data"),
                root.join("config/topics.toml"),
                root.join("config/gazetteer.tsv"),
            ),
        )
        .unwrap();
        let config = Config::load(&file).unwrap();
        let stores = crate::app::Stores::open(&config).unwrap();
        (config, stores.index, stores.state)
    }

    #[test]
    fn reanalyses_resumes_after_an_interruption_and_skips_when_up_to_date() {
        let dir = tempfile::tempdir().unwrap();
        let (config, index, state) = setup(dir.path());
        {
            let mut w = index.writer().unwrap();
            for n in 0..5 {
                // Stored with no analysis, as if the rules had changed since.
                w.upsert(&article(
                    &format!("a{n}"),
                    "Chips smuggled",
                    "Prosecutors said the ring smuggled Nvidia H100 GPUs to China through Singapore.",
                    None,
                ))
                .unwrap();
            }
            w.commit().unwrap();
            index.reload().unwrap();
        }
        // A run that dies after its first commit (two articles).
        let interrupted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            reindex_in_chunks(&config, &index, &state, false, 2, &mut |done, _| {
                if done >= 2 {
                    panic!("killed");
                }
            })
        }));
        assert!(interrupted.is_err());
        index.reload().unwrap();
        let topics = |id: &str| index.get(id).unwrap().unwrap().analysis.topic_names();
        assert!(topics("a0").contains(&"chip_smuggling".to_string()));
        assert!(
            topics("a4").is_empty(),
            "not reached before the interruption"
        );

        let s = reindex_in_chunks(&config, &index, &state, false, 2, &mut |_, _| {}).unwrap();
        assert_eq!((s.total, s.resumed, s.analysed, s.changed), (5, 2, 3, 3));
        assert!(topics("a4").contains(&"chip_smuggling".to_string()));
        // The same rules again: nothing to do, unless forced (and then nothing changes).
        let s = reindex(&config, &index, &state, false, &mut |_, _| {}).unwrap();
        assert!(s.up_to_date);
        let s = reindex(&config, &index, &state, true, &mut |_, _| {}).unwrap();
        assert_eq!((s.analysed, s.changed), (5, 0));
    }
}
