//! A deliberately dumb PocketOption client for the simulator's tests: raw WebSocket frames
//! parsed with `serde_json` by hand (not the shared codec, nor the real client), so the
//! simulator is checked independently of both.

#![allow(dead_code, unused_imports)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) use pocketoption_sim::Simulator;

/// The longest any single wait in a test may take.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One frame as the client saw it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seen {
    Text(String),
    Binary(Vec<u8>),
    Close(Option<u16>),
    /// The stream ended or failed without a close frame.
    Gone,
}

/// A decoded event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub name: String,
    pub payload: Value,
    /// Whether it came as `451-` + binary.
    pub two_step: bool,
}

pub(crate) fn demo_auth(token: &str, uid: u64) -> String {
    format!(
        r#"42["auth",{{"session":"{token}","isDemo":1,"uid":{uid},"platform":2,"isFastHistory":true,"isOptimized":true}}]"#
    )
}

pub(crate) struct Client {
    pub ws: Ws,
    pub open: Value,
    /// Answer Engine.IO pings automatically while waiting for events.
    pub auto_pong: bool,
    pub pings_seen: usize,
}

pub(crate) async fn connect_ws(
    url: &str,
    user_agent: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("Origin", "https://pocketoption.com".parse().unwrap());
    if let Some(ua) = user_agent {
        request
            .headers_mut()
            .insert("User-Agent", ua.parse().unwrap());
    }
    let (ws, _) = timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("connect timed out")?;
    Ok(ws)
}

pub(crate) async fn next_seen(ws: &mut Ws, within: Duration) -> Option<Seen> {
    match timeout(within, ws.next()).await {
        Err(_) => None,
        Ok(None) | Ok(Some(Err(_))) => Some(Seen::Gone),
        Ok(Some(Ok(Message::Text(t)))) => Some(Seen::Text(t.to_string())),
        Ok(Some(Ok(Message::Binary(b)))) => Some(Seen::Binary(b.to_vec())),
        Ok(Some(Ok(Message::Close(frame)))) => Some(Seen::Close(frame.map(|f| u16::from(f.code)))),
        Ok(Some(Ok(_))) => Some(Seen::Text(String::new())),
    }
}

impl Client {
    /// Connects and reads the Engine.IO open packet.
    pub(crate) async fn connect(url: &str) -> Client {
        Self::connect_as(url, None).await
    }

    pub(crate) async fn connect_as(url: &str, user_agent: Option<&str>) -> Client {
        let mut ws = connect_ws(url, user_agent).await.expect("connect failed");
        let first = next_seen(&mut ws, WAIT).await;
        let Some(Seen::Text(open)) = first else {
            panic!("expected the open packet, got {first:?}");
        };
        assert!(open.starts_with('0'), "not an open packet: {open}");
        let open: Value = serde_json::from_str(&open[1..]).expect("open JSON");
        Client {
            ws,
            open,
            auto_pong: true,
            pings_seen: 0,
        }
    }

    /// Connects, joins the namespace and authenticates; returns after `successauth`.
    pub(crate) async fn login(url: &str, auth_frame: &str) -> Client {
        let mut client = Client::connect(url).await;
        client.send("40").await;
        let ack = client.next_text().await;
        assert!(ack.starts_with("40{\"sid\":"), "bad connect ack {ack}");
        client.send(auth_frame).await;
        client.expect_event("successauth").await;
        client
    }

    pub(crate) async fn send(&mut self, text: &str) {
        timeout(WAIT, self.ws.send(Message::text(text.to_owned())))
            .await
            .expect("send timed out")
            .expect("send failed");
    }

    pub(crate) async fn emit(&mut self, name: &str, payload: Value) {
        let frame = format!("42{}", json!([name, payload]));
        self.send(&frame).await;
    }

    /// The next frame, or a panic after `WAIT`.
    pub(crate) async fn next(&mut self) -> Seen {
        next_seen(&mut self.ws, WAIT)
            .await
            .expect("timed out waiting for a frame")
    }

    pub(crate) async fn next_text(&mut self) -> String {
        match self.next().await {
            Seen::Text(t) => t,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next event (answering pings on the way if `auto_pong`), or `None` after `within`.
    pub(crate) async fn next_event_within(&mut self, within: Duration) -> Option<Event> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let seen = next_seen(&mut self.ws, left).await?;
            match seen {
                Seen::Text(t) if t == "2" => {
                    self.pings_seen += 1;
                    if self.auto_pong {
                        self.send("3").await;
                    }
                }
                Seen::Text(t) if t.starts_with("42") => {
                    let array: Vec<Value> = serde_json::from_str(&t[2..])
                        .unwrap_or_else(|e| panic!("bad event {t}: {e}"));
                    return Some(Event {
                        name: array[0].as_str().expect("event name").to_owned(),
                        payload: array.get(1).cloned().unwrap_or(Value::Null),
                        two_step: false,
                    });
                }
                Seen::Text(t) if t.starts_with("451-") => {
                    let array: Vec<Value> = serde_json::from_str(&t[4..]).expect("header JSON");
                    assert_eq!(array[1], json!({"_placeholder": true, "num": 0}), "{t}");
                    let body = match next_seen(&mut self.ws, WAIT).await {
                        Some(Seen::Binary(b)) => b,
                        other => panic!("expected the attachment of {t}, got {other:?}"),
                    };
                    return Some(Event {
                        name: array[0].as_str().expect("event name").to_owned(),
                        payload: serde_json::from_slice(&body).expect("attachment JSON"),
                        two_step: true,
                    });
                }
                Seen::Text(t) => panic!("unexpected frame {t:?}"),
                other => panic!("connection ended while waiting for an event: {other:?}"),
            }
        }
    }

    pub(crate) async fn next_event(&mut self) -> Event {
        self.next_event_within(WAIT)
            .await
            .expect("timed out waiting for an event")
    }

    /// Skips events until `name` arrives; returns its payload.
    pub(crate) async fn expect_event(&mut self, name: &str) -> Value {
        self.expect_event_full(name).await.payload
    }

    pub(crate) async fn expect_event_full(&mut self, name: &str) -> Event {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event_within(left).await {
                Some(e) if e.name == name => return e,
                Some(_) => continue,
                None => panic!("timed out waiting for `{name}`"),
            }
        }
    }

    /// Asserts no event named `name` arrives within `within` (other events are skipped).
    pub(crate) async fn assert_no_event(&mut self, name: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.next_event_within(left).await {
                Some(e) if e.name == name => panic!("unexpected `{name}`: {:?}", e.payload),
                Some(_) => continue,
                None => return,
            }
        }
    }

    /// The current balance, asked with `getBalance`.
    pub(crate) async fn balance(&mut self) -> f64 {
        self.send(r#"42["getBalance"]"#).await;
        self.expect_event("successupdateBalance").await["balance"]
            .as_f64()
            .expect("balance is a number")
    }
}

pub(crate) async fn start(builder: pocketoption_sim::SimulatorBuilder) -> Simulator {
    timeout(WAIT, builder.start())
        .await
        .expect("start timed out")
        .expect("simulator failed to start")
}

pub(crate) async fn stop(sim: Simulator) {
    sim.shutdown().await.expect("shutdown failed");
}
