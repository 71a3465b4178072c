//! The Engine.IO / Socket.IO codec and the reassembler, through the public API.

use binary_options_tools::engineio::{self, OpenPayload};
use binary_options_tools::socketio::{self, placeholder_num};
use binary_options_tools::{
    CodecError, Frame, FrameLimits, Packet, PacketKind, Reassembler, decode, decode_with,
    event_name,
};

fn packet(frame: &str) -> Packet<'_> {
    match decode(frame.as_bytes()) {
        Ok(Frame::Message(p)) => p,
        other => panic!("expected a Socket.IO packet from {frame:?}, got {other:?}"),
    }
}

#[test]
fn decodes_every_engine_io_packet_type() {
    let open = r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    let Frame::Open(json) = decode(open.as_bytes()).unwrap() else {
        panic!()
    };
    let parsed = OpenPayload::parse(json).unwrap();
    assert_eq!(parsed.sid, "abc");
    assert_eq!(parsed.ping_timeout, 20000);
    assert_eq!(parsed.max_payload, Some(1_000_000));
    assert_eq!(decode(b"1").unwrap(), Frame::Close);
    assert_eq!(decode(b"2").unwrap(), Frame::Ping(""));
    assert_eq!(decode(b"3probe").unwrap(), Frame::Pong("probe"));
    assert_eq!(decode(b"5").unwrap(), Frame::Upgrade(""));
    assert_eq!(decode(b"6").unwrap(), Frame::Noop);
}

#[test]
fn open_packet_round_trips_through_encode_and_decode() {
    let open = OpenPayload {
        sid: "s\"id".into(),
        upgrades: vec![],
        ping_interval: 1000,
        ping_timeout: 500,
        max_payload: Some(100),
    };
    let frame = engineio::encode_open(&open);
    let Frame::Open(json) = decode(frame.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(OpenPayload::parse(json).unwrap(), open);
}

#[test]
fn decodes_socket_io_connect_disconnect_and_connect_ack() {
    let connect = packet("40");
    assert_eq!(connect.kind(), PacketKind::Connect);
    assert_eq!(connect.namespace(), "/");
    assert_eq!(connect.args().len(), 0);

    let ack = packet(r#"40{"sid":"def"}"#);
    assert_eq!(ack.arg(0), Some(r#"{"sid":"def"}"#));

    let ns = packet(r#"40/admin,{"sid":"x"}"#);
    assert_eq!(ns.namespace(), "/admin");
    assert_eq!(ns.arg(0), Some(r#"{"sid":"x"}"#));

    assert_eq!(packet("41").kind(), PacketKind::Disconnect);
    assert_eq!(packet("41/admin").namespace(), "/admin");
}

#[test]
fn decodes_events_with_name_args_and_ack_ids() {
    let p = packet(r#"42["openOrder",{"asset":"EURUSD_otc","amount":1.5},7]"#);
    assert_eq!(p.kind(), PacketKind::Event);
    assert_eq!(p.event_name(), Some("openOrder"));
    assert_eq!(
        p.args().collect::<Vec<_>>(),
        [r#"{"asset":"EURUSD_otc","amount":1.5}"#, "7"]
    );
    assert_eq!(p.id(), None);
    assert_eq!(
        p.payload().unwrap(),
        Some(&br#"{"asset":"EURUSD_otc","amount":1.5}"#[..])
    );

    let with_ack = packet(r#"4212["ping",1]"#);
    assert_eq!(with_ack.id(), Some(12));
    assert_eq!(with_ack.event_name(), Some("ping"));

    let reply = packet(r#"430[true,"x"]"#);
    assert_eq!(reply.kind(), PacketKind::Ack);
    assert_eq!(reply.id(), Some(0));
    assert_eq!(reply.args().collect::<Vec<_>>(), ["true", r#""x""#]);

    let ps = packet(r#"42["ps"]"#);
    assert_eq!(ps.event_name(), Some("ps"));
    assert_eq!(ps.payload().unwrap(), None);
}

#[test]
fn event_names_with_escapes_are_decoded_fully() {
    let p = packet(r#"42["we\"ird\u0041",1]"#);
    assert_eq!(p.event_name(), Some("we\"irdA"));
    // The fast path declines rather than returning a wrong name.
    assert_eq!(event_name(r#"42["we\"ird",1]"#), None);
}

#[test]
fn fast_event_name_matches_full_decode_on_platform_frames() {
    for frame in [
        r#"42["ps"]"#,
        r#"42["changeSymbol",{"asset":"EURUSD_otc","period":60}]"#,
        r#"451-["updateStream",{"_placeholder":true,"num":0}]"#,
        r#"4510-["x",{"_placeholder":true,"num":0}]"#,
        r#"42/ns,3["withNs",1]"#,
        r#"427["acked"]"#,
    ] {
        let limits = FrameLimits::default().with_max_attachments(10);
        let full = match decode_with(frame.as_bytes(), &limits).unwrap() {
            Frame::Message(p) => p.event_name().map(str::to_owned),
            _ => None,
        };
        assert_eq!(event_name(frame).map(str::to_owned), full, "{frame}");
    }
    for not_event in [
        "",
        "4",
        "2",
        "40",
        "430[1]",
        "45-[\"x\"]",
        "42",
        "42[",
        "42[1]",
    ] {
        assert_eq!(event_name(not_event), None, "{not_event}");
    }
}

#[test]
fn encoders_produce_the_platform_frames() {
    assert_eq!(socketio::encode_event("ps", None), r#"42["ps"]"#);
    assert_eq!(
        socketio::encode_event_json("changeSymbol", &serde_json::json!({"asset":"EURUSD_otc"}))
            .unwrap(),
        r#"42["changeSymbol",{"asset":"EURUSD_otc"}]"#
    );
    assert_eq!(
        socketio::encode_event("quo\"te", Some("1")),
        r#"42["quo\"te",1]"#
    );
    let (header, bytes) =
        socketio::encode_binary_event_json("successauth", &serde_json::json!({"id":"1"})).unwrap();
    assert_eq!(
        header,
        r#"451-["successauth",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(bytes, br#"{"id":"1"}"#);
    assert_eq!(
        socketio::encode_binary_event_header("two", 2),
        r#"452-["two",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(socketio::encode_connect(None), "40");
    assert_eq!(socketio::encode_connect(Some("def")), r#"40{"sid":"def"}"#);
    assert_eq!(socketio::DISCONNECT, "41");
    assert_eq!(socketio::encode_ack(3, &[]), "433[]");
    assert_eq!(engineio::PING, "2");
    assert_eq!(engineio::PONG, "3");
}

#[test]
fn every_encoded_event_decodes_back_to_the_same_name_and_payload() {
    let names = [
        "a",
        "updateStream",
        "with space",
        "ünïcödé",
        "q\"uote",
        "back\\slash",
    ];
    for name in names {
        let frame = socketio::encode_event(name, Some(r#"{"k":[1,2,3]}"#));
        let p = packet(&frame);
        assert_eq!(p.event_name(), Some(name));
        assert_eq!(p.arg(0), Some(r#"{"k":[1,2,3]}"#));
    }
}

#[test]
fn reassembler_pairs_a_header_with_its_attachment() {
    let mut r = Reassembler::default();
    let header = r#"451-["updateStream",{"_placeholder":true,"num":0}]"#;
    assert!(r.push_text(header).unwrap().is_none());
    assert!(r.is_pending());
    let body = br#"[["EURUSD_otc",1732288888.123,1.05123]]"#;
    let p = r.push_binary(&body[..]).unwrap().unwrap();
    assert!(!r.is_pending());
    assert_eq!(p.kind(), PacketKind::BinaryEvent);
    assert_eq!(p.event_name(), Some("updateStream"));
    assert_eq!(p.attachments().len(), 1);
    assert_eq!(p.payload().unwrap(), Some(&body[..]));
    let resolved = p.resolved_args().unwrap();
    assert_eq!(
        resolved,
        [serde_json::json!([["EURUSD_otc", 1732288888.123, 1.05123]])]
    );
}

#[test]
fn reassembler_waits_for_every_announced_attachment() {
    let mut r = Reassembler::default();
    assert!(
        r.push_text(&socketio::encode_binary_event_header("pair", 2))
            .unwrap()
            .is_none()
    );
    assert!(r.push_binary(&b"[1]"[..]).unwrap().is_none());
    let p = r.push_binary(&b"{\"b\":2}"[..]).unwrap().unwrap();
    assert_eq!(
        p.resolved_args().unwrap(),
        [serde_json::json!([1]), serde_json::json!({"b":2})]
    );
}

#[test]
fn resolves_placeholders_nested_inside_arguments() {
    let mut r = Reassembler::default();
    r.push_text(r#"451-["nested",{"outer":[{"_placeholder":true,"num":0}],"keep":1}]"#)
        .unwrap();
    let p = r.push_binary(&b"\"inside\""[..]).unwrap().unwrap();
    assert_eq!(
        p.resolved_args().unwrap(),
        [serde_json::json!({"outer":["inside"],"keep":1})]
    );
}

#[test]
fn binary_ack_is_reassembled_too() {
    let mut r = Reassembler::default();
    assert!(
        r.push_text(r#"461-5[{"_placeholder":true,"num":0}]"#)
            .unwrap()
            .is_none()
    );
    let p = r.push_binary(&b"{}"[..]).unwrap().unwrap();
    assert_eq!(p.kind(), PacketKind::BinaryAck);
    assert_eq!(p.id(), Some(5));
    assert_eq!(p.payload().unwrap(), Some(&b"{}"[..]));
}

#[test]
fn binary_frame_without_a_header_is_an_error() {
    let mut r = Reassembler::default();
    assert_eq!(
        r.push_binary(&b"[1]"[..]).unwrap_err(),
        CodecError::UnexpectedBinary
    );
    // Still usable afterwards.
    assert!(r.push_text("2").unwrap().is_some());
}

#[test]
fn text_while_attachments_pending_discards_the_packet_and_can_be_pushed_again() {
    let mut r = Reassembler::default();
    r.push_text(r#"451-["updateStream",{"_placeholder":true,"num":0}]"#)
        .unwrap();
    let err = r.push_text("2").unwrap_err();
    assert_eq!(
        err,
        CodecError::UnexpectedText {
            pending: "updateStream".into(),
            missing: 1
        }
    );
    assert!(!r.is_pending());
    assert_eq!(r.push_text("2").unwrap(), Some(Frame::Ping("")));
    // The attachment that then arrives late is unexpected, not glued to something else.
    assert_eq!(
        r.push_binary(&b"[]"[..]).unwrap_err(),
        CodecError::UnexpectedBinary
    );
}

#[test]
fn a_broken_text_frame_while_attachments_are_pending_also_discards_the_packet() {
    let mut r = Reassembler::default();
    r.push_text(r#"451-["updateStream",{"_placeholder":true,"num":0}]"#)
        .unwrap();
    let err = r.push_text_bytes(&[0x34, 0x32, 0xff]).unwrap_err();
    assert!(matches!(err, CodecError::InvalidUtf8 { .. }), "{err:?}");
    assert!(!r.is_pending(), "the half packet is gone");
    assert_eq!(
        r.push_binary(&b"[]"[..]).unwrap_err(),
        CodecError::UnexpectedBinary,
        "a later binary frame is not glued to the old header"
    );
}

#[test]
fn absurd_attachment_counts_are_refused() {
    let err = decode(br#"4599999999999999999999999-["x"]"#).unwrap_err();
    assert!(
        matches!(err, CodecError::TooManyAttachments { .. }),
        "{err:?}"
    );
    let err = decode(br#"4511-["x"]"#).unwrap_err();
    assert_eq!(
        err,
        CodecError::TooManyAttachments {
            announced: 11,
            max: 10
        }
    );
    let limits = FrameLimits::default().with_max_attachments(11);
    assert!(decode_with(br#"4511-["x"]"#, &limits).is_ok());
}

#[test]
fn oversized_frames_and_packets_are_refused() {
    let limits = FrameLimits::default().with_max_payload_bytes(64);
    let big = format!(r#"42["x","{}"]"#, "a".repeat(100));
    assert!(matches!(
        decode_with(big.as_bytes(), &limits),
        Err(CodecError::PayloadTooLarge { .. })
    ));
    let mut r = Reassembler::new(limits);
    r.push_text(r#"451-["x",{"_placeholder":true,"num":0}]"#)
        .unwrap();
    assert!(matches!(
        r.push_binary(vec![b'1'; 100]),
        Err(CodecError::PayloadTooLarge { .. })
    ));
    assert!(!r.is_pending());
}

#[test]
fn placeholder_pointing_past_the_attachments_is_an_error() {
    let mut r = Reassembler::default();
    r.push_text(r#"451-["x",{"_placeholder":true,"num":3}]"#)
        .unwrap();
    let p = r.push_binary(&b"1"[..]).unwrap().unwrap();
    assert_eq!(
        p.payload().unwrap_err(),
        CodecError::MissingAttachment {
            num: 3,
            available: 1
        }
    );
    assert!(p.resolved_args().is_err());
}

#[test]
fn non_json_attachment_is_reported_when_resolving_but_readable_as_bytes() {
    let mut r = Reassembler::default();
    r.push_text(r#"451-["x",{"_placeholder":true,"num":0}]"#)
        .unwrap();
    let p = r.push_binary(vec![0xff, 0x00, 0x10]).unwrap().unwrap();
    assert!(matches!(
        p.resolved_args(),
        Err(CodecError::AttachmentNotJson { num: 0, .. })
    ));
    assert_eq!(p.payload().unwrap(), Some(&[0xff, 0x00, 0x10][..]));
}

#[test]
fn placeholder_detection_is_exact() {
    assert_eq!(placeholder_num(r#"{"_placeholder":true,"num":0}"#), Some(0));
    assert_eq!(
        placeholder_num(r#" {"num":4,"_placeholder":true}"#),
        Some(4)
    );
    assert_eq!(placeholder_num(r#"{"_placeholder":false,"num":0}"#), None);
    assert_eq!(placeholder_num(r#"{"_placeholder":true}"#), None);
    assert_eq!(placeholder_num(r#""_placeholder""#), None);
}

#[test]
fn malformed_frames_get_precise_errors() {
    type Check = fn(&CodecError) -> bool;
    let cases: &[(&[u8], Check)] = &[
        (b"", |e| *e == CodecError::Empty),
        (b"9", |e| matches!(e, CodecError::UnknownEngineType { .. })),
        (b"4", |e| {
            matches!(e, CodecError::UnknownSocketType { found: None })
        }),
        (b"48", |e| matches!(e, CodecError::UnknownSocketType { .. })),
        (b"42", |e| matches!(e, CodecError::InvalidJson { .. })),
        (b"42[]", |e| matches!(e, CodecError::InvalidEvent { .. })),
        (b"42[1]", |e| matches!(e, CodecError::InvalidEvent { .. })),
        (b"42{\"a\":1}", |e| {
            matches!(e, CodecError::InvalidJson { .. })
        }),
        (b"42[\"x\",", |e| {
            matches!(e, CodecError::InvalidJson { .. })
        }),
        (b"45[\"x\"]", |e| {
            matches!(e, CodecError::InvalidAttachmentHeader { .. })
        }),
        (b"451[\"x\"]", |e| {
            matches!(e, CodecError::InvalidAttachmentHeader { .. })
        }),
        (b"4299999999999999999999[\"x\"]", |e| {
            *e == CodecError::InvalidAckId
        }),
        (b"40{bad", |e| matches!(e, CodecError::InvalidJson { .. })),
        (&[0x34, 0x32, 0xff], |e| {
            matches!(e, CodecError::InvalidUtf8 { valid_up_to: 2 })
        }),
    ];
    for (input, check) in cases {
        let err = decode(input).expect_err(&String::from_utf8_lossy(input));
        assert!(
            check(&err),
            "{:?} gave {err:?}",
            String::from_utf8_lossy(input)
        );
        assert!(!err.to_string().is_empty());
    }
}

/// xorshift64*: a tiny deterministic generator, so the garbage is the same on every run.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn garbage_input_never_panics_and_mostly_errors() {
    let seeds: &[&[u8]] = &[
        br#"42["updateStream",[["EURUSD_otc",1.0,1.1]]]"#,
        br#"451-["updateStream",{"_placeholder":true,"num":0}]"#,
        br#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#,
        br#"40{"sid":"def"}"#,
        br#"430[true]"#,
        br#"452-/ns,9["x",{"_placeholder":true,"num":1}]"#,
    ];
    let alphabet = b"0123456789-[]{}\",:/\\_placeholdernum truefalse\xff\xc3\x28";
    let mut rng = Prng(0x9E37_79B9_7F4A_7C15);
    let mut errors = 0usize;
    let rounds = 20_000;
    let mut r = Reassembler::new(FrameLimits::default().with_max_payload_bytes(4096));
    for round in 0..rounds {
        let mut input: Vec<u8> = if round % 3 == 0 {
            (0..rng.below(40))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect()
        } else {
            seeds[rng.below(seeds.len())].to_vec()
        };
        // Mutate: flip, insert, delete or truncate a few bytes.
        for _ in 0..=rng.below(4) {
            if input.is_empty() {
                input.push(alphabet[rng.below(alphabet.len())]);
                continue;
            }
            let at = rng.below(input.len());
            match rng.below(4) {
                0 => input[at] = alphabet[rng.below(alphabet.len())],
                1 => input.insert(at, alphabet[rng.below(alphabet.len())]),
                2 => {
                    input.remove(at);
                }
                _ => input.truncate(at),
            }
        }
        let decoded = decode(&input);
        if decoded.is_err() {
            errors += 1;
        }
        if let Ok(Frame::Message(p)) = &decoded {
            // Every accessor is panic-free too.
            let _ = (
                p.event_name(),
                p.args().count(),
                p.payload(),
                p.resolved_args(),
            );
        }
        if let Ok(text) = std::str::from_utf8(&input) {
            let _ = event_name(text);
        }
        // Interleave text and binary pushes at random.
        if rng.below(2) == 0 {
            let _ = r.push_text_bytes(&input);
        } else {
            let _ = r.push_binary(input);
        }
    }
    // Mutated frames are mostly broken; the point is that none of them panicked.
    assert!(
        errors > rounds / 4,
        "only {errors} of {rounds} inputs were rejected"
    );
}
