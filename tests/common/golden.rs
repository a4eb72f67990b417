//! Golden files: what a fixture reads as, compared with the `.expected.json` beside it.
//! `WIREWATCH_BLESS=1` rewrites the expected files instead; review their diff before committing.
//! Included with `#[path]` by the golden tests, so they do not compile the whole fixture server.

use std::path::PathBuf;

/// One fixture: its path, its expected file, and what it read as now.
pub struct Case {
    pub fixture: PathBuf,
    pub expected: PathBuf,
    pub got: serde_json::Value,
}

/// Compares (or, when blessing, rewrites) every case, and fails naming each that differs.
pub fn check(cases: Vec<Case>) {
    let bless = std::env::var_os("WIREWATCH_BLESS").is_some();
    let mut failures = Vec::new();
    for case in cases {
        if bless {
            let text = serde_json::to_string_pretty(&case.got).expect("json") + "\n";
            std::fs::write(&case.expected, text).expect("write expected");
            continue;
        }
        let expected: serde_json::Value = match std::fs::read_to_string(&case.expected) {
            Ok(text) => serde_json::from_str(&text).expect("expected file is JSON"),
            Err(_) => {
                failures.push(format!("{}: no expected file", case.fixture.display()));
                continue;
            }
        };
        if case.got != expected {
            failures.push(format!(
                "{}:\n  expected {}\n  got      {}",
                case.fixture.display(),
                expected,
                case.got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
