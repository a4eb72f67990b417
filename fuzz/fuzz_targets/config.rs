#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = wirewatch::config::Config::parse(&String::from_utf8_lossy(data), "fuzz.toml") {
        assert!(!e.problems.is_empty(), "an error that names no problem");
    }
});
