//! The nats-server harness itself: a server starts on free ports, greets on both listeners,
//! stops by pid and restarts on the same ports.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use messaging::testing::NatsServer;

fn greeting(url: &str) -> std::io::Result<String> {
    let addr = url.rsplit("//").next().unwrap_or(url);
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn a_server_starts_greets_stops_and_restarts_on_the_same_ports() {
    let mut server =
        NatsServer::start().expect("nats-server starts (cargo xtask setup installs it)");
    let info = greeting(&server.nats_url()).unwrap();
    assert!(info.starts_with("INFO {"), "{info}");
    assert!(info.contains("\"headers\":true"), "{info}");

    // The websocket listener answers an upgrade.
    let addr = server.ws_url().trim_start_matches("ws://").to_owned();
    let mut ws = TcpStream::connect(&addr).unwrap();
    ws.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        ws,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 1024];
    let n = ws.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"));

    let url = server.nats_url();
    server.stop();
    assert!(server.pid().is_none());
    assert!(greeting(&url).is_err(), "stopped server still accepts");
    server.restart().unwrap();
    assert_eq!(server.nats_url(), url);
    assert!(greeting(&url).unwrap().starts_with("INFO {"));
}
