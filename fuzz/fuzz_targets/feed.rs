#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match wirewatch::parse::parse_document(data, Some("https://news.example/"), None) {
        Err(wirewatch::parse::ParseError::Panicked(p)) => panic!("parser panicked: {p}"),
        Ok(f) => assert!(f.entries.len() <= wirewatch::parse::MAX_ENTRIES),
        Err(_) => {}
    }
});
