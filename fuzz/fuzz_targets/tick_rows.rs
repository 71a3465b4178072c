//! The `updateStream` tick payload parsers on arbitrary text.
//!
//! Beyond "never panics": whatever the fast, hand-written parser accepts, the general
//! (serde_json) parser accepts too and reads into the same rows: the same symbols, times
//! and prices. The fast parser may say no to valid JSON (the caller then falls back), never
//! yes to something the general parser reads differently.

#![no_main]

use binary_options_tools::ticks::{parse_rows, parse_rows_general};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = std::str::from_utf8(data) else {
        return;
    };
    let mut rows = Vec::new();
    let fast = parse_rows(payload, &mut rows);
    let general = parse_rows_general(payload);
    if !fast {
        return;
    }
    let general = match general {
        Ok(general) => general,
        Err(e) => panic!("the fast parser accepted what serde_json refuses ({e}): {payload:?}"),
    };
    assert_eq!(rows.len(), general.len(), "{payload:?}");
    for ((span, time, price), row) in rows.iter().zip(&general) {
        assert_eq!(&payload[span.clone()], &*row.0, "{payload:?}");
        assert!(*time == row.1 && *price == row.2, "{payload:?}: {time} {price} vs {row:?}");
    }
});
