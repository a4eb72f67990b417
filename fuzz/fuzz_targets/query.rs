#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wirewatch::store::{ArticleIndex, SearchRequest};

fn index() -> &'static ArticleIndex {
    static INDEX: OnceLock<ArticleIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("wirewatch-fuzz-{}", std::process::id()));
        ArticleIndex::open(&dir).expect("an empty archive")
    })
}

fuzz_target!(|data: &[u8]| {
    let req = SearchRequest {
        q: String::from_utf8_lossy(data).into_owned(),
        ..Default::default()
    };
    let _ = index().search(&req);
});
