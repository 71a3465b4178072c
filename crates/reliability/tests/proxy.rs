//! The fault proxy itself, over plain loopback TCP: each knob does what the scenarios rely
//! on, so a scenario cannot pass because a fault silently did nothing.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reliability::{Corruption, FaultProxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(10);

async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.expect("timed out")
}

/// A TCP echo server on loopback.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = tcp.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    addr
}

async fn round_trip(tcp: &mut TcpStream, text: &[u8]) -> Vec<u8> {
    within(tcp.write_all(text)).await.unwrap();
    let mut back = vec![0u8; text.len()];
    within(tcp.read_exact(&mut back)).await.unwrap();
    back
}

/// True when the next read shows the connection was reset or closed.
async fn ended(tcp: &mut TcpStream) -> bool {
    let mut buf = [0u8; 16];
    match within(tcp.read(&mut buf)).await {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
    }
}

#[tokio::test]
async fn it_forwards_both_ways_until_a_cut_resets_the_connection() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut tcp = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut tcp, b"hello").await, b"hello");
    assert_eq!(proxy.connections().len(), 1);
    assert_eq!(proxy.cut_all(), 1);
    assert!(ended(&mut tcp).await, "the client sees the cut");
    let stats = proxy
        .wait_for(WAIT, |s| s.live == 0)
        .await
        .expect("the connection is gone");
    assert_eq!((stats.accepted, stats.cut), (1, 1));
    assert_eq!((stats.bytes_to_server, stats.bytes_to_client), (5, 5));
}

#[tokio::test]
async fn a_stall_holds_the_bytes_with_the_socket_open_and_releases_them_in_order() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut tcp = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut tcp, b"before").await, b"before");
    proxy.set_stalled(true);
    tcp.write_all(b"held").await.unwrap();
    let mut buf = [0u8; 4];
    let early = tokio::time::timeout(Duration::from_millis(300), tcp.read(&mut buf)).await;
    assert!(early.is_err(), "nothing moves while stalled: {early:?}");
    assert_eq!(proxy.stats().live, 1, "the connection stays open");
    proxy.set_stalled(false);
    within(tcp.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"held");
}

#[tokio::test]
async fn refusing_resets_new_connections_for_a_while_and_then_forwards_again() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let refusal = Duration::from_millis(400);
    let started = Instant::now();
    proxy.refuse_for(refusal);
    let mut refused = TcpStream::connect(proxy.addr()).await.unwrap();
    assert!(ended(&mut refused).await, "reset at once");
    assert_eq!(proxy.stats().refused, 1);
    let mut tcp = within(async {
        loop {
            let mut tcp = TcpStream::connect(proxy.addr()).await.unwrap();
            if tcp.write_all(b"x").await.is_ok() {
                let mut buf = [0u8; 1];
                if matches!(tcp.read(&mut buf).await, Ok(1)) {
                    return tcp;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(started.elapsed() >= refusal, "not before the refusal ended");
    assert_eq!(round_trip(&mut tcp, b"again").await, b"again");
}

#[tokio::test]
async fn a_delay_holds_each_chunk_in_each_direction() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut tcp = TcpStream::connect(proxy.addr()).await.unwrap();
    proxy.set_delay(Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(round_trip(&mut tcp, b"slow").await, b"slow");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "delayed both ways: {:?}",
        started.elapsed()
    );
}

/// A server that sends an HTTP upgrade response and then whatever the test feeds it.
async fn scripted_server() -> (SocketAddr, tokio::sync::mpsc::Sender<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        while let Some(bytes) = rx.recv().await {
            if tcp.write_all(&bytes).await.is_err() {
                return;
            }
        }
    });
    (addr, tx)
}

async fn read_exactly(tcp: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    within(tcp.read_exact(&mut buf)).await.unwrap();
    buf
}

#[tokio::test]
async fn injected_bytes_wait_for_the_end_of_the_frame_in_progress() {
    let (addr, server) = scripted_server().await;
    let proxy = FaultProxy::start(addr).await.unwrap();
    let mut tcp = TcpStream::connect(proxy.addr()).await.unwrap();
    let response = b"HTTP/1.1 101 Switching Protocols\r\n\r\n".to_vec();
    let frame = [&[0x81u8, 6][..], b"abcdef"].concat();
    server.send(response.clone()).await.unwrap();
    server.send(frame[..4].to_vec()).await.unwrap();
    assert_eq!(
        read_exactly(&mut tcp, response.len() + 4).await.len(),
        response.len() + 4
    );
    // Half a frame is out: the injection must not land in its middle.
    assert_eq!(proxy.inject(b"INJECTED"), 1);
    server.send(frame[4..].to_vec()).await.unwrap();
    assert_eq!(read_exactly(&mut tcp, 4).await, b"cdef");
    assert_eq!(read_exactly(&mut tcp, 8).await, b"INJECTED");
    assert_eq!(proxy.stats().injected, 1);
}

#[tokio::test]
async fn a_corruption_hits_only_the_first_chunk_with_its_pattern() {
    let (addr, server) = scripted_server().await;
    let proxy = FaultProxy::start(addr).await.unwrap();
    let mut tcp = TcpStream::connect(proxy.addr()).await.unwrap();
    proxy.corrupt_next(Corruption::flip_bits("target", 1, 0x20));
    server.send(b"no match here;".to_vec()).await.unwrap();
    assert_eq!(read_exactly(&mut tcp, 14).await, b"no match here;");
    assert!(proxy.corruption_pending());
    server.send(b"a target;".to_vec()).await.unwrap();
    assert_eq!(read_exactly(&mut tcp, 9).await, b"a tArget;");
    server.send(b"a target;".to_vec()).await.unwrap();
    assert_eq!(read_exactly(&mut tcp, 9).await, b"a target;", "one shot");
    proxy.corrupt_next(Corruption::truncate("cut", 1));
    server.send(b"xx cut here".to_vec()).await.unwrap();
    assert_eq!(read_exactly(&mut tcp, 4).await, b"xx c");
    assert!(ended(&mut tcp).await, "then the connection is cut");
    assert_eq!(proxy.stats().corrupted, 2);
}

#[tokio::test]
async fn bytes_held_by_a_stall_are_never_forwarded_once_cut() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        // Until the proxy resets or closes its side.
        let _ = tcp.read_to_end(&mut received).await;
        received
    });
    let proxy = FaultProxy::start(addr).await.unwrap();
    let mut tcp = TcpStream::connect(proxy.addr()).await.unwrap();
    tcp.write_all(b"before;").await.unwrap();
    proxy
        .wait_for(WAIT, |s| s.bytes_to_server == 7)
        .await
        .expect("forwarded");
    proxy.set_stalled(true);
    tcp.write_all(b"held").await.unwrap();
    // Give the proxy time to read the bytes it must now hold.
    tokio::time::sleep(Duration::from_millis(50)).await;
    proxy.cut_all();
    // The stall ends before the connection's task runs again: the cut still wins.
    proxy.set_stalled(false);
    let received = within(server).await.unwrap();
    assert_eq!(received, b"before;");
}
