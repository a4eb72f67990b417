#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let a = wirewatch::extract::extract_bytes(data, None, Some("https://news.example/a"));
    assert!(a.body.len() <= data.len() * 3 + 1024);
    let page = url::Url::parse("https://news.example/").expect("a valid URL");
    let _ = wirewatch::discover::feed_links(&String::from_utf8_lossy(data), &page);
});
