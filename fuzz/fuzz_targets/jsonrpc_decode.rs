//! `client_ws::rpc::parse` on arbitrary text, as one inbound JSON-RPC frame.
//!
//! Input: the frame (invalid UTF-8 is skipped). Checks: a refusal carries one of the two
//! standard codes; anything classified re-encodes with the crate's own frame builders and
//! parses back to the same value (requests with numeric ids, notifications, results and
//! errors).

#![no_main]

use client_ws::rpc::{self, Incoming};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let incoming = match rpc::parse(text) {
        Ok(incoming) => incoming,
        Err(malformed) => {
            assert!(
                malformed.code == rpc::PARSE_ERROR || malformed.code == rpc::INVALID_REQUEST,
                "non-standard code {} for {text:?}",
                malformed.code
            );
            return;
        }
    };
    let frame = match &incoming {
        Incoming::Request { id, method, params } => match id.as_u64() {
            Some(id) => rpc::request(id, method, params),
            // The client only builds numeric ids; the server echoes others verbatim.
            None => return,
        },
        Incoming::Notification { method, params } => rpc::notification(method, params),
        Incoming::Response { id, outcome } => match outcome {
            Ok(result) => rpc::response(&Value::from(*id), result),
            Err(error) => rpc::error_response(&Value::from(*id), error),
        },
    };
    match rpc::parse(&frame) {
        Ok(again) => assert_eq!(again, incoming, "round trip changed {text:?} via {frame:?}"),
        Err(malformed) => panic!("our own frame {frame:?} is refused: {}", malformed.reason),
    }
});
