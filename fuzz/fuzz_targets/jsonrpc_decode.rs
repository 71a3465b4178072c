//! `client_ws::rpc::parse` on arbitrary text, as one inbound JSON-RPC frame.
//!
//! Input: the frame (invalid UTF-8 is skipped). Checks: a refusal carries one of the two
//! standard codes; anything classified re-encodes with the crate's own frame builders and
//! parses back to the same value (requests with numeric ids, notifications, results and
//! errors), floats allowed one ulp of drift: serde_json without `float_roundtrip` may read
//! `1.25e41` one ulp off, and then prints that value.

#![no_main]

use client_ws::rpc::{self, Incoming};
use libfuzzer_sys::fuzz_target;
use resilient_ws_fuzz::same_json;
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
    let again = match rpc::parse(&frame) {
        Ok(again) => again,
        Err(malformed) => panic!("our own frame {frame:?} is refused: {}", malformed.reason),
    };
    assert!(
        same(&again, &incoming),
        "round trip changed {text:?} via {frame:?}"
    );
});

/// Equal, except that floats may be one ulp apart (see `same_json`).
fn same(a: &Incoming, b: &Incoming) -> bool {
    match (a, b) {
        (
            Incoming::Request { id, method, params },
            Incoming::Request {
                id: id2,
                method: method2,
                params: params2,
            },
        ) => same_json(id, id2) && method == method2 && same_json(params, params2),
        (
            Incoming::Notification { method, params },
            Incoming::Notification {
                method: method2,
                params: params2,
            },
        ) => method == method2 && same_json(params, params2),
        (
            Incoming::Response { id, outcome },
            Incoming::Response {
                id: id2,
                outcome: outcome2,
            },
        ) => {
            id == id2
                && match (outcome, outcome2) {
                    (Ok(x), Ok(y)) => same_json(x, y),
                    (Err(x), Err(y)) => {
                        x.code == y.code
                            && x.message == y.message
                            && match (&x.data, &y.data) {
                                (Some(x), Some(y)) => same_json(x, y),
                                (x, y) => x == y,
                            }
                    }
                    _ => false,
                }
        }
        _ => false,
    }
}
