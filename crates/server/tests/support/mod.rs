//! Shared helpers of the server's integration tests: bounded waits, plain WebSocket
//! clients, and waiting for events.

#![allow(dead_code)] // Each test file uses its own subset.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use server::{Disconnected, Events, Server, ServerEvent, SessionId};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Every wait in these tests is bounded by this.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// The shutdown deadline of tests whose clients do not answer close frames (they are not
/// being read), so the shutdown waits this long for nothing.
pub(crate) const SHUTDOWN: Duration = Duration::from_millis(500);

pub(crate) type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(crate) async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.expect("timed out")
}

/// A plain tokio-tungstenite client of `server`, at `path` (e.g. `/` or `/?token=x`).
pub(crate) async fn client(server: &Server, path: &str) -> Client {
    let url = format!("ws://{}{path}", server.local_addr());
    within(tokio_tungstenite::connect_async(url))
        .await
        .expect("the upgrade should succeed")
        .0
}

/// The next data frame (text or binary) the client receives; pings are answered on the way.
pub(crate) async fn next_data(client: &mut Client) -> WsMessage {
    loop {
        match within(client.next()).await {
            Some(Ok(msg)) if msg.is_text() || msg.is_binary() => return msg,
            Some(Ok(WsMessage::Close(frame))) => panic!("closed by the server: {frame:?}"),
            Some(Ok(_)) => {}
            other => panic!("the connection ended: {other:?}"),
        }
    }
}

/// Reads until the server's close frame and answers it (reading on flushes the reply
/// tungstenite queued); returns its code (`None` if the connection ended without one).
pub(crate) async fn close_code(client: &mut Client) -> Option<u16> {
    loop {
        match within(client.next()).await {
            Some(Ok(WsMessage::Close(frame))) => {
                while let Some(Ok(_)) = within(client.next()).await {}
                return frame.map(|f| u16::from(f.code));
            }
            Some(Ok(_)) => {}
            _ => return None,
        }
    }
}

/// The id of the next session that connects.
pub(crate) async fn connected(events: &mut Events) -> SessionId {
    loop {
        if let ServerEvent::Connected(info) = within(events.recv()).await.expect("events ended") {
            return info.id;
        }
    }
}

/// The next session end.
pub(crate) async fn disconnected(events: &mut Events) -> Disconnected {
    loop {
        if let ServerEvent::Disconnected(ended) = within(events.recv()).await.expect("events ended")
        {
            return ended;
        }
    }
}

/// Polls `condition` every 10 ms until it holds (bounded by [`WAIT`]).
pub(crate) async fn eventually(mut condition: impl FnMut() -> bool) {
    within(async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}
