//! `decode` / `decode_with` on arbitrary bytes, as one WebSocket text frame.
//!
//! Input: the frame itself. Beyond "never panics", it checks:
//! * tighter limits never accept what the defaults refuse, and agree when both accept;
//! * the fast path `event_name` agrees with the full decoder whenever both answer;
//! * every argument the decoder reports is valid JSON, and binary counts stay in bounds;
//! * decode → encode → decode keeps events, acks, binary headers and open packets.

#![no_main]

use binary_options_tools::engineio::{self, OpenPayload};
use binary_options_tools::socketio::{self, Packet, PacketKind};
use binary_options_tools::{Frame, FrameLimits, decode, decode_with, event_name};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fuzz_target!(|data: &[u8]| {
    let tight = FrameLimits::default()
        .with_max_attachments(2)
        .with_max_payload_bytes(256);
    let full = decode(data);
    let bounded = decode_with(data, &tight);
    if let Ok(frame) = &bounded {
        assert_eq!(
            full.as_ref().ok(),
            Some(frame),
            "tight limits accepted more"
        );
        assert!(data.len() <= tight.max_payload_bytes);
    }
    let Ok(frame) = full else { return };
    let Ok(text) = std::str::from_utf8(data) else {
        panic!("decode accepted a frame that is not UTF-8");
    };

    if let (Some(fast), Frame::Message(packet)) = (event_name(text), &frame) {
        assert!(packet.kind().is_event(), "fast path named a non-event");
        assert_eq!(
            packet.event_name(),
            Some(fast),
            "fast path and decoder disagree"
        );
    }

    match &frame {
        Frame::Open(json) => {
            if let Ok(open) = OpenPayload::parse(json) {
                let again = engineio::encode_open(&open);
                let Ok(Frame::Open(json)) = decode(again.as_bytes()) else {
                    panic!("encoded open packet does not decode: {again}");
                };
                assert_eq!(OpenPayload::parse(json).ok(), Some(open));
            }
        }
        Frame::Message(packet) => check_packet(packet),
        _ => {}
    }
});

fn check_packet(packet: &Packet<'_>) {
    let args: Vec<&str> = packet.args().collect();
    for arg in &args {
        // Exactly one JSON value (numbers may exceed f64: the decoder keeps them raw).
        assert!(
            serde_json::from_str::<&RawValue>(arg).is_ok(),
            "argument is not one JSON value: {arg:?}"
        );
    }
    if packet.kind().is_binary() {
        assert!(packet.expected_attachments() <= FrameLimits::DEFAULT_MAX_ATTACHMENTS);
        assert!(packet.attachments().is_empty());
    } else {
        assert_eq!(packet.expected_attachments(), 0);
        assert!(packet.is_complete());
    }
    // Reading through placeholders with no attachments present must fail cleanly.
    let _ = packet.payload();
    if let Ok(values) = packet.resolved_args() {
        assert_eq!(values.len(), args.len());
    }

    let default_namespace = packet.namespace() == "/";
    match packet.kind() {
        PacketKind::Event if default_namespace && packet.id().is_none() => {
            let name = packet.event_name().unwrap_or_default();
            let payload = (!args.is_empty()).then(|| args.join(","));
            let frame = socketio::encode_event(name, payload.as_deref());
            let again = decode_message(&frame);
            assert_eq!(again.kind(), PacketKind::Event);
            assert_eq!(again.event_name(), packet.event_name());
            assert_eq!(again.args().collect::<Vec<_>>(), args);
        }
        PacketKind::Ack if default_namespace => {
            if let Some(id) = packet.id() {
                let frame = socketio::encode_ack(id, &args);
                let again = decode_message(&frame);
                assert_eq!(again.kind(), PacketKind::Ack);
                assert_eq!(again.id(), Some(id));
                assert_eq!(again.args().collect::<Vec<_>>(), args);
            }
        }
        PacketKind::BinaryEvent => {
            let name = packet.event_name().unwrap_or_default();
            let n = packet.expected_attachments();
            let frame = socketio::encode_binary_event_header(name, n);
            let again = decode_message(&frame);
            assert_eq!(again.kind(), PacketKind::BinaryEvent);
            assert_eq!(again.event_name(), packet.event_name());
            assert_eq!(again.expected_attachments(), n);
            let nums: Vec<Option<usize>> = again.args().map(socketio::placeholder_num).collect();
            assert_eq!(nums, (0..n).map(Some).collect::<Vec<_>>());
        }
        _ => {}
    }
}

/// Decodes a frame our own encoder made; it must be a message.
fn decode_message(frame: &str) -> Packet<'_> {
    match decode(frame.as_bytes()) {
        Ok(Frame::Message(packet)) => packet,
        other => panic!("our encoder's frame {frame:?} decodes as {other:?}"),
    }
}
