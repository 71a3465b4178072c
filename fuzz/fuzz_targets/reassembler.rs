//! `Reassembler` fed a sequence of text and binary frames, checked against a model.
//!
//! Input: one byte choosing the limits, then records `[kind][len][len bytes]`: `kind & 1`
//! is 0 for a text frame, 1 for a binary frame; `kind & 2` resets the reassembler first
//! (a new connection). The model tracks the pending header's announced attachment count,
//! the binary frames fed since and the byte total, and checks every answer: which frames
//! may complete a packet, which errors come when, that completed packets carry exactly the
//! frames fed, that the size limit holds, and that an error never leaves a stale header.

#![no_main]

use binary_options_tools::socketio::placeholder_num;
use binary_options_tools::{CodecError, Frame, FrameLimits, Reassembler, decode_with};
use libfuzzer_sys::fuzz_target;
use resilient_ws_fuzz::Cursor;

/// The header waiting for attachments, as the model sees it.
struct Pending {
    expected: usize,
    frames: Vec<Vec<u8>>,
    bytes: usize,
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let limits = match input.byte() % 4 {
        0 => FrameLimits::default(),
        1 => FrameLimits::default()
            .with_max_attachments(1)
            .with_max_payload_bytes(64),
        2 => FrameLimits::default()
            .with_max_attachments(3)
            .with_max_payload_bytes(512),
        _ => FrameLimits::default().with_max_attachments(0),
    };
    let mut reassembler = Reassembler::new(limits);
    let mut model: Option<Pending> = None;

    while !input.is_empty() {
        let kind = input.byte();
        let frame = input.chunk();
        if kind & 2 != 0 {
            reassembler.reset();
            model = None;
        }
        assert_eq!(reassembler.is_pending(), model.is_some());
        if kind & 1 == 0 {
            push_text(&mut reassembler, &mut model, frame, &limits);
        } else {
            push_binary(&mut reassembler, &mut model, frame, &limits);
        }
        assert_eq!(reassembler.is_pending(), model.is_some());
    }
});

fn push_text(
    reassembler: &mut Reassembler,
    model: &mut Option<Pending>,
    frame: &[u8],
    limits: &FrameLimits,
) {
    let was_pending = model.is_some();
    match reassembler.push_text_bytes(frame) {
        Err(CodecError::UnexpectedText { missing, .. }) => {
            let Some(pending) = model.take() else {
                panic!("UnexpectedText with no header pending");
            };
            assert_eq!(missing, pending.expected - pending.frames.len());
        }
        // A text frame that is not UTF-8 also ends a half-received packet (it is dropped,
        // so a later binary frame is never paired with the old header).
        Err(CodecError::InvalidUtf8 { .. }) if was_pending => {
            assert!(std::str::from_utf8(frame).is_err());
            *model = None;
        }
        Err(_) => {
            assert!(!was_pending, "a pending header must be reported first");
            assert!(decode_with(frame, limits).is_err());
        }
        Ok(None) => {
            assert!(!was_pending);
            let Ok(Frame::Message(packet)) = decode_with(frame, limits) else {
                panic!("held a frame that is not a message");
            };
            assert!(packet.kind().is_binary() && packet.expected_attachments() > 0);
            *model = Some(Pending {
                expected: packet.expected_attachments(),
                frames: Vec::new(),
                bytes: frame.len(),
            });
        }
        Ok(Some(out)) => {
            assert!(!was_pending);
            if let Frame::Message(packet) = &out {
                assert_eq!(
                    packet.expected_attachments(),
                    0,
                    "incomplete packet handed out"
                );
            }
            assert_eq!(decode_with(frame, limits).ok(), Some(out));
        }
    }
}

fn push_binary(
    reassembler: &mut Reassembler,
    model: &mut Option<Pending>,
    frame: &[u8],
    limits: &FrameLimits,
) {
    match reassembler.push_binary(frame.to_vec()) {
        Err(CodecError::UnexpectedBinary) => assert!(model.is_none()),
        Err(CodecError::PayloadTooLarge { size, max }) => {
            let Some(pending) = model.take() else {
                panic!("PayloadTooLarge for a binary frame with no header pending");
            };
            assert_eq!(size, pending.bytes + frame.len());
            assert_eq!(max, limits.max_payload_bytes);
            assert!(size > max);
        }
        Err(other) => panic!("unexpected error for a binary frame: {other}"),
        Ok(None) => {
            let Some(pending) = model.as_mut() else {
                panic!("a stray binary frame was accepted");
            };
            pending.frames.push(frame.to_vec());
            pending.bytes += frame.len();
            assert!(pending.frames.len() < pending.expected);
        }
        Ok(Some(packet)) => {
            let Some(mut pending) = model.take() else {
                panic!("a packet completed with no header pending");
            };
            pending.frames.push(frame.to_vec());
            pending.bytes += frame.len();
            assert!(pending.bytes <= limits.max_payload_bytes);
            assert_eq!(pending.frames.len(), pending.expected);
            assert!(packet.is_complete());
            let got: Vec<&[u8]> = packet.attachments().iter().map(|b| &b[..]).collect();
            let fed: Vec<&[u8]> = pending.frames.iter().map(Vec::as_slice).collect();
            assert_eq!(got, fed, "attachments differ from the frames fed");
            if let Some(num) = packet.arg(0).and_then(placeholder_num) {
                match packet.payload() {
                    Ok(Some(bytes)) => assert_eq!(bytes, fed[num]),
                    Ok(None) => panic!("payload missing for a placeholder"),
                    Err(CodecError::MissingAttachment { .. }) => assert!(num >= fed.len()),
                    Err(other) => panic!("payload failed: {other}"),
                }
            }
            let _ = packet.resolved_args();
        }
    }
}
