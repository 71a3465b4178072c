//! [`BenchServer`]: the loopback server every throughput and latency figure runs against.
//!
//! One server speaks to all the clients under test (bare tokio-tungstenite, core-pre,
//! ezsockets, the PocketOption client), so each figure and its baseline see the very same
//! bytes. Floods are pre-encoded ([`Blast`]) and written with `write_all` over one buffer,
//! so the server is never the bottleneck. What it does is driven by the client's text
//! frames:
//!
//! | client sends | server answers |
//! |---|---|
//! | `start` | the flood of small text frames |
//! | `40` | `40{"sid":…}` (Socket.IO namespace ack) |
//! | `42["auth",…]` | `451-["successauth",…]` + binary attachment |
//! | `42["assets/load"]` | `42["updateAssets",[one asset row]]` |
//! | `42["getBalance"]` | `42["successupdateBalance",{"balance":…}]` |
//! | `42["subfor",…]` | the flood of two-step `updateStream` tick pairs |
//! | `42["benchPing",X]` | `42["benchPong",X]` (encoded on the fly) |
//!
//! With [`ServerConfig::pocketoption_open`] it greets every connection with the Engine.IO
//! open packet, which is all the PocketOption client needs to authenticate against it.
//! Pings are answered with pongs; everything else is ignored.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::error::BenchError;
use crate::wire::{
    self, BINARY, CLOSE, ClientFrame, PING, PONG, TEXT, accept_upgrade, encode_frame,
};

/// The asset the tick flood streams.
pub const TICK_ASSET: &str = "EURUSD_otc";
/// Largest client frame the server accepts.
const MAX_CLIENT_FRAME: usize = 1 << 20;
/// Distinct units in one pre-encoded block (then the block repeats).
const BLOCK_UNITS: usize = 1024;

/// A pre-encoded flood: `total` units (a unit is one frame, or a header + attachment pair),
/// laid out as one block of distinct units written again and again, then a tail.
#[derive(Debug, Clone)]
pub struct Blast {
    block: Bytes,
    repeats: usize,
    tail: Bytes,
    units: usize,
}

impl Blast {
    /// A flood of `total` units built from `unit(i)` (the encoded bytes of unit `i`, for
    /// `i` below [`BLOCK_UNITS`]).
    fn build(total: usize, unit: impl Fn(usize) -> Vec<u8>) -> Blast {
        let distinct = total.clamp(1, BLOCK_UNITS);
        let encoded: Vec<Vec<u8>> = (0..distinct).map(unit).collect();
        let block: Vec<u8> = encoded.concat();
        let tail: Vec<u8> = encoded[..total % distinct].concat();
        Blast {
            block: block.into(),
            repeats: total / distinct,
            tail: tail.into(),
            units: total,
        }
    }

    /// `total` small text frames (about 40 bytes each, like a price update).
    pub fn text_frames(total: usize) -> Blast {
        Blast::build(total, |i| {
            let payload = format!(
                r#"{{"seq":{i},"price":{:.5},"side":"buy"}}"#,
                1.08 + i as f64 * 1e-5
            );
            let mut out = Vec::new();
            encode_frame(&mut out, TEXT, payload.as_bytes());
            out
        })
    }

    /// `total` two-step PocketOption ticks: `451-["updateStream",{placeholder}]` followed
    /// by the binary attachment `[["EURUSD_otc",time,price]]`, as the platform sends them.
    pub fn tick_pairs(total: usize) -> Blast {
        let header = br#"451-["updateStream",{"_placeholder":true,"num":0}]"#;
        Blast::build(total, |i| {
            let attachment = format!(
                r#"[["{TICK_ASSET}",{:.3},{:.5}]]"#,
                1_732_288_888.0 + i as f64 * 0.001,
                1.05 + (i % 97) as f64 * 1e-5
            );
            let mut out = Vec::new();
            encode_frame(&mut out, TEXT, header);
            encode_frame(&mut out, BINARY, attachment.as_bytes());
            out
        })
    }

    /// How many units it holds.
    pub fn units(&self) -> usize {
        self.units
    }

    /// How many bytes it writes.
    pub fn bytes(&self) -> usize {
        self.block.len() * self.repeats + self.tail.len()
    }

    async fn write_to(&self, tcp: &mut TcpStream) -> std::io::Result<()> {
        for _ in 0..self.repeats {
            tcp.write_all(&self.block).await?;
        }
        tcp.write_all(&self.tail).await
    }
}

/// What a [`BenchServer`] does (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Written after a client's `start`.
    pub flood: Option<Arc<Blast>>,
    /// Written after a client's `42["subfor",…]`.
    pub ticks: Option<Arc<Blast>>,
    /// Greet each connection with the Engine.IO open packet.
    pub pocketoption_open: bool,
}

/// A running bench server. Dropping it stops it and closes every connection.
#[derive(Debug)]
pub struct BenchServer {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl BenchServer {
    /// Listens on `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start(config: ServerConfig) -> Result<BenchServer, BenchError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let config = Arc::new(config);
        let accept = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((tcp, _)) => {
                            let config = config.clone();
                            connections.spawn(async move {
                                // A client that breaks the protocol just loses its connection.
                                let _ = serve(tcp, &config).await;
                            });
                        }
                        Err(_) => continue,
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(BenchServer { addr, accept })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// The URL the PocketOption client expects (the path is not checked).
    pub fn socketio_url(&self) -> String {
        format!("ws://{}/socket.io/?EIO=4&transport=websocket", self.addr)
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// One server-side connection: a socket, its read buffer, and a scratch buffer for replies.
struct Conn {
    tcp: TcpStream,
    buf: BytesMut,
    out: Vec<u8>,
}

impl Conn {
    async fn next_frame(&mut self) -> Result<Option<ClientFrame>, BenchError> {
        loop {
            if let Some(frame) = wire::parse_client_frame(&mut self.buf, MAX_CLIENT_FRAME)? {
                return Ok(Some(frame));
            }
            if self.tcp.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }

    async fn send(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        self.out.clear();
        encode_frame(&mut self.out, opcode, payload);
        self.tcp.write_all(&self.out).await
    }
}

async fn serve(mut tcp: TcpStream, config: &ServerConfig) -> Result<(), BenchError> {
    tcp.set_nodelay(true)?;
    let mut buf = BytesMut::with_capacity(8 * 1024);
    accept_upgrade(&mut tcp, &mut buf).await?;
    let mut conn = Conn {
        tcp,
        buf,
        out: Vec::with_capacity(256),
    };
    if config.pocketoption_open {
        conn.send(
            TEXT,
            br#"0{"sid":"bench","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
        )
        .await?;
    }
    let mut message: Vec<u8> = Vec::new();
    while let Some(frame) = conn.next_frame().await? {
        match frame.opcode {
            PING => conn.send(PONG, &frame.payload).await?,
            CLOSE => {
                let _ = conn.send(CLOSE, &frame.payload).await;
                return Ok(());
            }
            TEXT | 0 if !frame.fin => message.extend_from_slice(&frame.payload),
            TEXT | 0 => {
                let text = if message.is_empty() {
                    frame.payload
                } else {
                    message.extend_from_slice(&frame.payload);
                    Bytes::from(std::mem::take(&mut message))
                };
                on_text(&mut conn, config, &text).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

async fn on_text(conn: &mut Conn, config: &ServerConfig, text: &[u8]) -> Result<(), BenchError> {
    const PING_PREFIX: &[u8] = br#"42["benchPing","#;
    if text == b"start" {
        if let Some(flood) = &config.flood {
            flood.write_to(&mut conn.tcp).await?;
        }
    } else if text.starts_with(PING_PREFIX) {
        let mut reply = Vec::with_capacity(text.len());
        reply.extend_from_slice(br#"42["benchPong","#);
        reply.extend_from_slice(&text[PING_PREFIX.len()..]);
        conn.send(TEXT, &reply).await?;
    } else if text == b"40" {
        conn.send(TEXT, br#"40{"sid":"bench-ns"}"#).await?;
    } else if text.starts_with(br#"42["auth""#) {
        conn.send(
            TEXT,
            br#"451-["successauth",{"_placeholder":true,"num":0}]"#,
        )
        .await?;
        conn.send(BINARY, br#"{"id":"bench","serverName":"bench"}"#)
            .await?;
    } else if text == br#"42["assets/load"]"# {
        let row = format!(
            r#"42["updateAssets",[[1,"{TICK_ASSET}","EUR/USD OTC","currency",2,92,60,30,5,1,200,0,[],1700000000,true,[{{"time":5}},{{"time":60}}],-1440,1700000000,5]]]"#
        );
        conn.send(TEXT, row.as_bytes()).await?;
    } else if text == br#"42["getBalance"]"# {
        conn.send(TEXT, br#"42["successupdateBalance",{"balance":50000}]"#)
            .await?;
    } else if text.starts_with(br#"42["subfor""#) {
        if let Some(ticks) = &config.ticks {
            ticks.write_to(&mut conn.tcp).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blast_holds_exactly_the_requested_units() {
        for total in [1, 7, 1024, 1025, 5000] {
            let blast = Blast::text_frames(total);
            let frames = count_frames(&blast);
            assert_eq!(frames, total, "text flood of {total}");
            let pairs = Blast::tick_pairs(total);
            assert_eq!(count_frames(&pairs), 2 * total, "tick pairs of {total}");
        }
    }

    /// Walks the server frames of a blast (all short enough for a one-byte length).
    fn count_frames(blast: &Blast) -> usize {
        let mut bytes = Vec::new();
        for _ in 0..blast.repeats {
            bytes.extend_from_slice(&blast.block);
        }
        bytes.extend_from_slice(&blast.tail);
        assert_eq!(bytes.len(), blast.bytes());
        let (mut at, mut n) = (0, 0);
        while at < bytes.len() {
            let len = usize::from(bytes[at + 1]);
            assert!(len < 126);
            at += 2 + len;
            n += 1;
        }
        assert_eq!(at, bytes.len());
        n
    }
}
