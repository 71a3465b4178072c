//! JSON-RPC 2.0 framing, as the circle protocol uses it: one object per text frame.
//!
//! Pure functions over text, shared by the client and the reference server, so the
//! framing is tested without sockets.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// -32700: the frame is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// -32600: the JSON is not a JSON-RPC request.
pub const INVALID_REQUEST: i64 = -32600;
/// -32601: no such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// -32602: the params do not fit the method.
pub const INVALID_PARAMS: i64 = -32602;
/// -32603: the server failed.
pub const INTERNAL_ERROR: i64 = -32603;
/// -32000: the method ran and failed.
pub const EXECUTION_ERROR: i64 = -32000;
/// -32001: the method needs an authenticated connection.
pub const AUTH_REQUIRED: i64 = -32001;
/// -32002: the signature does not match the key.
pub const INVALID_CREDENTIALS: i64 = -32002;
/// -32003: the nonce is expired, unknown or already used.
pub const NONCE_REJECTED: i64 = -32003;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    /// The error code (see the constants in this module).
    pub code: i64,
    /// A short description.
    pub message: String,
    /// Optional details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    /// An error without data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }
}

/// An inbound frame, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A response to request `id`: its result or its error.
    Response {
        /// The id of the request it answers.
        id: u64,
        /// `result` or `error`.
        outcome: Result<Value, RpcError>,
    },
    /// A request (`method` with an `id`), as a server receives it.
    Request {
        /// The request id.
        id: Value,
        /// The method name.
        method: String,
        /// The params (`null` when absent).
        params: Value,
    },
    /// A notification (`method` without an `id`).
    Notification {
        /// The method name.
        method: String,
        /// The params (`null` when absent).
        params: Value,
    },
}

/// Why a frame could not be classified.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    /// The JSON-RPC code that describes the problem.
    pub code: i64,
    /// What was wrong.
    pub reason: String,
    /// The request id, when one could be read (so the server can answer it).
    pub id: Value,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    jsonrpc: Option<String>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<RpcError>,
}

/// Classifies one text frame.
pub fn parse(text: &str) -> Result<Incoming, Malformed> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| Malformed {
        code: if e.is_data() {
            INVALID_REQUEST
        } else {
            PARSE_ERROR
        },
        reason: format!("not a JSON-RPC object: {e}"),
        id: Value::Null,
    })?;
    let id = envelope.id.clone().unwrap_or(Value::Null);
    if envelope.jsonrpc.as_deref() != Some("2.0") {
        return Err(Malformed {
            code: INVALID_REQUEST,
            reason: "missing \"jsonrpc\": \"2.0\"".into(),
            id,
        });
    }
    if let Some(method) = envelope.method {
        let params = envelope.params.unwrap_or(Value::Null);
        return Ok(match envelope.id {
            None | Some(Value::Null) => Incoming::Notification { method, params },
            Some(id) => Incoming::Request { id, method, params },
        });
    }
    let Some(numeric_id) = envelope.id.as_ref().and_then(Value::as_u64) else {
        return Err(Malformed {
            code: INVALID_REQUEST,
            reason: "neither a method call nor a response with a numeric id".into(),
            id,
        });
    };
    let outcome = match (envelope.result, envelope.error) {
        (_, Some(error)) => Err(error),
        (Some(result), None) => Ok(result),
        // `"result": null` deserializes as absent: a null result is still a result.
        (None, None) => Ok(Value::Null),
    };
    Ok(Incoming::Response {
        id: numeric_id,
        outcome,
    })
}

/// A request frame.
pub fn request(id: u64, method: &str, params: &Value) -> String {
    let mut frame = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method});
    if !params.is_null() {
        frame["params"] = params.clone();
    }
    frame.to_string()
}

/// A notification frame.
pub fn notification(method: &str, params: &Value) -> String {
    let mut frame = serde_json::json!({"jsonrpc": "2.0", "method": method});
    if !params.is_null() {
        frame["params"] = params.clone();
    }
    frame.to_string()
}

/// A success response frame.
pub fn response(id: &Value, result: &Value) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string()
}

/// An error response frame.
pub fn error_response(id: &Value, error: &RpcError) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "error": error}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_responses_requests_and_notifications() {
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":7,"result":"pong"}"#),
            Ok(Incoming::Response {
                id: 7,
                outcome: Ok(json!("pong"))
            })
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":8,"result":null}"#),
            Ok(Incoming::Response {
                id: 8,
                outcome: Ok(Value::Null)
            })
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":9,"error":{"code":-32002,"message":"bad"}}"#),
            Ok(Incoming::Response {
                id: 9,
                outcome: Err(RpcError::new(INVALID_CREDENTIALS, "bad"))
            })
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#),
            Ok(Incoming::Request {
                id: json!("a"),
                method: "ping".into(),
                params: Value::Null
            })
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","method":"tick","params":{"n":1}}"#),
            Ok(Incoming::Notification {
                method: "tick".into(),
                params: json!({"n": 1})
            })
        );
    }

    #[test]
    fn malformed_frames_get_the_standard_codes() {
        assert_eq!(parse("{nope").unwrap_err().code, PARSE_ERROR);
        assert_eq!(parse("[1,2]").unwrap_err().code, INVALID_REQUEST);
        let no_version = parse(r#"{"id":3,"method":"ping"}"#).unwrap_err();
        assert_eq!(
            (no_version.code, no_version.id),
            (INVALID_REQUEST, json!(3))
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":"x","result":1}"#)
                .unwrap_err()
                .code,
            INVALID_REQUEST
        );
    }

    #[test]
    fn frames_round_trip_through_the_parser() {
        let params = json!({"pubkey": "04ab"});
        assert_eq!(
            parse(&request(5, "fetch_nonce", &params)),
            Ok(Incoming::Request {
                id: json!(5),
                method: "fetch_nonce".into(),
                params
            })
        );
        assert_eq!(
            parse(&request(6, "ping", &Value::Null)),
            Ok(Incoming::Request {
                id: json!(6),
                method: "ping".into(),
                params: Value::Null
            })
        );
        assert_eq!(
            parse(&response(&json!(5), &json!({"nonce": "n"}))),
            Ok(Incoming::Response {
                id: 5,
                outcome: Ok(json!({"nonce": "n"}))
            })
        );
        let error = RpcError {
            code: AUTH_REQUIRED,
            message: "log in".into(),
            data: Some(json!(1)),
        };
        assert_eq!(
            parse(&error_response(&json!(6), &error)),
            Ok(Incoming::Response {
                id: 6,
                outcome: Err(error)
            })
        );
        assert_eq!(
            parse(&notification("tick", &json!([1]))),
            Ok(Incoming::Notification {
                method: "tick".into(),
                params: json!([1])
            })
        );
    }
}
