//! The SSID parser on the messy inputs users actually paste.

use binary_options_tools::{RealSession, SSID_HOW_TO_COPY, Ssid, SsidError};

const TOKEN: &str = "d0c5e6a1b2c3d4e5f60718293a4b5c6d";
const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const SIG: &str = "0123456789abcdef0123456789abcdef";

fn demo_frame() -> String {
    format!(
        r#"42["auth",{{"session":"{TOKEN}","isDemo":1,"uid":12345678,"platform":2,"isFastHistory":true,"isOptimized":true}}]"#
    )
}

fn real_session() -> String {
    format!(
        r#"a:4:{{s:10:"session_id";s:32:"{TOKEN}";s:10:"ip_address";s:11:"203.0.113.9";s:10:"user_agent";s:{}:"{UA}";s:13:"last_activity";i:1732288888;}}{SIG}"#,
        UA.len()
    )
}

fn real_frame() -> String {
    let session = serde_json::to_string(&real_session()).unwrap();
    format!(r#"42["auth",{{"session":{session},"isDemo":0,"uid":"87654321","platform":2}}]"#)
}

fn assert_demo(ssid: &Ssid) {
    assert_eq!(ssid.session(), TOKEN);
    assert!(ssid.is_demo());
    assert_eq!(ssid.uid(), 12345678);
    assert_eq!(ssid.platform(), 2);
    assert!(ssid.real_session().is_none());
}

#[test]
fn parses_the_full_auth_frame() {
    let ssid = Ssid::parse(&demo_frame()).unwrap();
    assert_demo(&ssid);
    assert_eq!(ssid.is_fast_history(), Some(true));
    assert_eq!(ssid.is_optimized(), Some(true));
}

#[test]
fn parses_the_bare_json_object() {
    let frame = demo_frame();
    let object = &frame["42[\"auth\",".len()..frame.len() - 1];
    assert_demo(&Ssid::parse(object).unwrap());
}

#[test]
fn parses_single_quoted_frames() {
    let single = demo_frame().replace('"', "'");
    assert_demo(&Ssid::parse(&single).unwrap());
}

#[test]
fn parses_frames_whose_quotes_a_shell_stripped() {
    let stripped = demo_frame().replace('"', "");
    assert_demo(&Ssid::parse(&stripped).unwrap());
}

#[test]
fn parses_an_ssid_wrapped_in_quotes() {
    for wrapped in [
        format!("'{}'", demo_frame()),
        format!("\"{}\"", demo_frame()),
        format!("`{}`", demo_frame()),
        format!("  \n'{}'\n ", demo_frame()),
    ] {
        assert_demo(&Ssid::parse(&wrapped).unwrap());
    }
}

#[test]
fn parses_double_encoded_json_strings() {
    let once = serde_json::to_string(&demo_frame()).unwrap();
    assert_demo(&Ssid::parse(&once).unwrap());
    let twice = serde_json::to_string(&once).unwrap();
    assert_demo(&Ssid::parse(&twice).unwrap());
    // Escaped quotes without the outer quotes (copied out of a JSON config file).
    let escaped = demo_frame().replace('"', "\\\"");
    assert_demo(&Ssid::parse(&escaped).unwrap());
    // The payload object itself given as a JSON string inside the frame.
    let inner = serde_json::to_string(&format!(
        r#"{{"session":"{TOKEN}","isDemo":1,"uid":12345678}}"#
    ))
    .unwrap();
    assert_demo(&Ssid::parse(&format!(r#"42["auth",{inner}]"#)).unwrap());
}

#[test]
fn ignores_devtools_columns_after_the_frame() {
    let pasted = format!("{}\t178\t12:00:01.123", demo_frame());
    assert_demo(&Ssid::parse(&pasted).unwrap());
}

#[test]
fn accepts_session_token_alias_and_numeric_strings() {
    let ssid = Ssid::parse(&format!(
        r#"{{"sessionToken":"{TOKEN}","isDemo":"1","uid":"12345678","platform":"2"}}"#
    ))
    .unwrap();
    assert_demo(&ssid);
    // Re-encoded under the name the platform expects.
    assert!(
        ssid.auth_frame()
            .contains(&format!(r#""session":"{TOKEN}""#))
    );
}

#[test]
fn is_demo_defaults_to_real_and_follows_the_current_url() {
    let ssid = Ssid::parse(&format!(r#"{{"session":"{TOKEN}","uid":1}}"#)).unwrap();
    assert!(!ssid.is_demo());
    assert_eq!(ssid.platform(), 2);
    let ssid = Ssid::parse(&format!(
        r#"{{"session":"{TOKEN}","uid":1,"isDemo":0,"currentUrl":"https://pocketoption.com/en/cabinet/demo-quick-high-low/"}}"#
    ))
    .unwrap();
    assert!(ssid.is_demo());
    assert!(ssid.auth_payload().contains(r#""isDemo":1"#));
}

#[test]
fn keeps_unknown_keys_and_sends_them_back_unchanged() {
    let ssid = Ssid::parse(&format!(
        r#"{{"session":"{TOKEN}","isDemo":1,"uid":1,"platform":2,"newKey":{{"nested":[1,"two",null]}},"lang":"en"}}"#
    ))
    .unwrap();
    assert_eq!(ssid.extra().len(), 2);
    let frame = ssid.auth_frame();
    let reparsed: serde_json::Value = serde_json::from_str(&frame[2..]).unwrap();
    assert_eq!(
        reparsed[1]["newKey"],
        serde_json::json!({"nested":[1,"two",null]})
    );
    assert_eq!(reparsed[1]["lang"], "en");
}

#[test]
fn auth_frame_round_trips() {
    for input in [demo_frame(), real_frame()] {
        let ssid = Ssid::parse(&input).unwrap();
        let again = Ssid::parse(&ssid.auth_frame()).unwrap();
        assert_eq!(ssid, again);
        assert_eq!(ssid.auth_frame(), again.auth_frame());
    }
}

#[test]
fn parses_real_php_serialized_sessions() {
    let ssid = Ssid::parse(&real_frame()).unwrap();
    assert!(!ssid.is_demo());
    assert_eq!(ssid.uid(), 87654321);
    assert_eq!(ssid.session(), real_session());
    let real = ssid.real_session().unwrap();
    assert_eq!(real.session_id(), TOKEN);
    assert_eq!(real.ip_address(), "203.0.113.9");
    assert_eq!(real.user_agent(), UA);
    assert_eq!(real.last_activity(), 1732288888);
    assert_eq!(real.signature(), SIG);
}

#[test]
fn recovers_real_sessions_whose_quotes_were_stripped() {
    let stripped = real_frame().replace("\\\"", "").replace('"', "");
    let ssid = Ssid::parse(&stripped).unwrap();
    // The canonical, quoted session is rebuilt from the length prefixes.
    assert_eq!(ssid.session(), real_session());
    assert_eq!(ssid.real_session().unwrap().user_agent(), UA);
    assert_eq!(ssid.uid(), 87654321);
}

#[test]
fn real_sessions_in_single_quoted_frames_keep_their_inner_quotes() {
    let single = format!(
        "42['auth',{{'session':'{}','isDemo':0,'uid':87654321,'platform':2}}]",
        real_session()
    );
    let ssid = Ssid::parse(&single).unwrap();
    assert_eq!(ssid.session(), real_session());
}

#[test]
fn real_session_built_in_code_round_trips() {
    let real = RealSession::new(TOKEN, "198.51.100.7", UA, 1700000000, SIG);
    let ssid = Ssid::real(real.clone(), 5);
    let parsed = Ssid::parse(&ssid.auth_frame()).unwrap();
    assert_eq!(parsed.real_session(), Some(&real));
    assert!(!parsed.is_demo());
}

#[test]
fn damaged_real_sessions_say_what_is_wrong() {
    let cut = &real_session()[..60];
    let err = Ssid::parse(&format!(
        r#"{{"session":{},"uid":1}}"#,
        serde_json::to_string(cut).unwrap()
    ))
    .unwrap_err();
    assert!(
        matches!(err, SsidError::InvalidRealSession { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("cut off"), "{err}");

    let no_sig = real_session().replace(SIG, "");
    let err = Ssid::parse(&format!(
        r#"{{"session":{},"uid":1}}"#,
        serde_json::to_string(&no_sig).unwrap()
    ))
    .unwrap_err();
    assert!(err.to_string().contains("signature"), "{err}");

    let wrong_len = real_session().replace("s:11:\"203.0.113.9\"", "s:12:\"203.0.113.9\"");
    assert!(matches!(
        Ssid::parse(&format!(
            r#"{{"session":{},"uid":1}}"#,
            serde_json::to_string(&wrong_len).unwrap()
        )),
        Err(SsidError::InvalidRealSession { .. })
    ));
}

#[test]
fn errors_say_what_is_wrong_and_how_to_copy_the_ssid() {
    type Check = fn(&SsidError) -> bool;
    let cases: Vec<(String, Check)> = vec![
        (String::new(), |e| *e == SsidError::Empty),
        ("   ".into(), |e| *e == SsidError::Empty),
        ("''".into(), |e| *e == SsidError::Empty),
        ("hello".into(), |e| matches!(e, SsidError::Malformed { .. })),
        (format!(r#"42["auth",{{"session":"{TOKEN}","#), |e| {
            matches!(e, SsidError::Malformed { .. })
        }),
        (r#"42["changeSymbol",{"asset":"EURUSD_otc"}]"#.into(), |e| {
            *e == SsidError::NotAuthFrame {
                event: "changeSymbol".into(),
            }
        }),
        (r#"42["auth"]"#.into(), |e| {
            matches!(e, SsidError::Malformed { .. })
        }),
        (r#"{"isDemo":1,"uid":1}"#.into(), |e| {
            *e == SsidError::MissingField { field: "session" }
        }),
        (format!(r#"{{"session":"{TOKEN}"}}"#), |e| {
            *e == SsidError::MissingField { field: "uid" }
        }),
        (format!(r#"{{"session":"{TOKEN}","uid":"abc"}}"#), |e| {
            matches!(e, SsidError::InvalidField { field: "uid", .. })
        }),
        (format!(r#"{{"session":"{TOKEN}","uid":-5}}"#), |e| {
            matches!(e, SsidError::InvalidField { field: "uid", .. })
        }),
        (
            format!(r#"{{"session":"{TOKEN}","uid":1,"isDemo":7}}"#),
            |e| {
                matches!(
                    e,
                    SsidError::InvalidField {
                        field: "isDemo",
                        ..
                    }
                )
            },
        ),
        (r#"{"session":"","uid":1}"#.into(), |e| {
            matches!(
                e,
                SsidError::InvalidField {
                    field: "session",
                    ..
                }
            )
        }),
        (r#"{"session":123,"uid":1}"#.into(), |e| {
            matches!(
                e,
                SsidError::InvalidField {
                    field: "session",
                    ..
                }
            )
        }),
        (format!("'{}", demo_frame()), |e| {
            matches!(e, SsidError::Malformed { .. })
        }),
        ("42".into(), |e| matches!(e, SsidError::Malformed { .. })),
        ("[]".into(), |e| matches!(e, SsidError::Malformed { .. })),
        (
            format!(r#"{{"session":"{TOKEN}","uid":1,"platform":"web"}}"#),
            |e| {
                matches!(
                    e,
                    SsidError::InvalidField {
                        field: "platform",
                        ..
                    }
                )
            },
        ),
    ];
    for (input, check) in cases {
        let err = Ssid::parse(&input).expect_err(&input);
        assert!(check(&err), "{input:?} gave {err:?}");
        let message = err.to_string();
        assert!(message.ends_with(SSID_HOW_TO_COPY), "{message}");
        assert!(!message.contains(TOKEN), "error leaks the token: {message}");
    }
}

#[test]
fn debug_and_display_never_contain_the_token() {
    for input in [demo_frame(), real_frame()] {
        let ssid = Ssid::parse(&input).unwrap();
        for shown in [format!("{ssid:?}"), format!("{ssid:#?}"), ssid.to_string()] {
            assert!(!shown.contains(TOKEN), "{shown}");
            assert!(!shown.contains(SIG), "{shown}");
            assert!(!shown.contains(ssid.session()), "{shown}");
        }
        assert!(format!("{ssid:?}").contains("redacted"));
    }
}

#[test]
fn garbage_ssids_never_panic() {
    let mut state = 0x1234_5678_9abc_def0_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds = [demo_frame(), real_frame(), demo_frame().replace('"', "'")];
    let alphabet: Vec<char> = "\"'`{}[],:;\\42asi0123456789abcdef \u{feff}é"
        .chars()
        .collect();
    for round in 0..5_000 {
        let mut chars: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..(next() % 6) {
            let at = (next() as usize) % chars.len().max(1);
            match next() % 3 {
                0 if !chars.is_empty() => {
                    chars.remove(at.min(chars.len() - 1));
                }
                1 => chars.insert(
                    at.min(chars.len()),
                    alphabet[(next() as usize) % alphabet.len()],
                ),
                _ => chars.truncate(at),
            }
        }
        let input: String = chars.into_iter().collect();
        if let Err(e) = Ssid::parse(&input) {
            assert!(!e.to_string().contains(TOKEN));
        }
    }
}
