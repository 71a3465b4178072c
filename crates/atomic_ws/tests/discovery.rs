//! Discovery over loopback: a responder bound to 127.0.0.1, a prober told to probe it.
//! (The real broadcast, between two network namespaces, is the examples package's
//! `atomic_netns` test.)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use atomic_ws::AtomicError;
use atomic_ws::discovery::{Announcement, DiscoveryResponder, Prober, wire};
use tokio::net::UdpSocket;

const WAIT: Duration = Duration::from_secs(10);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn responder(service: &str, identity: &str, url: &str) -> DiscoveryResponder {
    DiscoveryResponder::bind(
        loopback(),
        Announcement {
            service: service.into(),
            identity: identity.into(),
            url: url.into(),
        },
    )
    .await
    .unwrap()
}

fn prober(service: &str, targets: &[&DiscoveryResponder]) -> Prober {
    Prober::new(service)
        .with_window(Duration::from_millis(400))
        .with_targets(targets.iter().map(|r| r.local_addr()))
}

#[tokio::test]
async fn a_prober_finds_the_servers_of_its_service_once_each() {
    let one = responder("kiosk", "server-1", "ws://127.0.0.1:9301/").await;
    let two = responder("kiosk", "server-2", "ws://0.0.0.0:9302/").await;
    let other = responder("printer", "p-1", "ws://127.0.0.1:9400/").await;

    // server-1 probed twice (as a broadcast may reach a server by two paths): listed once.
    let found = prober("kiosk", &[&one, &two, &other, &one])
        .probe()
        .await
        .unwrap();
    let mut names: Vec<(&str, &str)> = found
        .iter()
        .map(|c| (c.identity.as_str(), c.url.as_str()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ("server-1", "ws://127.0.0.1:9301/"),
            // An unspecified host is completed with the address the reply came from.
            ("server-2", "ws://127.0.0.1:9302/"),
        ]
    );
    assert!(found.iter().all(|c| c.service == "kiosk"));
    assert_eq!(found[0].from.ip().to_string(), "127.0.0.1");

    let printers = prober("printer", &[&one, &two, &other])
        .find()
        .await
        .unwrap();
    assert_eq!(printers.len(), 1);
    assert_eq!(printers[0].identity, "p-1");
}

#[tokio::test]
async fn nothing_found_is_an_error_that_says_where_it_looked() {
    let one = responder("kiosk", "server-1", "ws://127.0.0.1:9301/").await;
    let started = Instant::now();
    let error = prober("scanner", &[&one]).find().await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "collected for {elapsed:?}"
    );
    assert!(
        matches!(error, AtomicError::NothingFound { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("\"scanner\"") && message.contains("127.0.0.1"),
        "{message}"
    );
}

#[tokio::test]
async fn a_responder_ignores_garbage_and_answers_only_well_formed_probes() {
    let one = responder("kiosk", "server-1", "ws://127.0.0.1:9301/").await;
    let socket = UdpSocket::bind(loopback()).await.unwrap();
    for garbage in [
        &b""[..],
        &b"AWSD"[..],
        &[0u8; 256][..],
        &b"hello, is anybody there?"[..],
    ] {
        socket.send_to(garbage, one.local_addr()).await.unwrap();
    }
    // A probe without its padding: the reply would be larger than the question.
    let mut short = wire::Probe {
        nonce: 7,
        service: "kiosk".into(),
    }
    .encode()
    .unwrap();
    short.truncate(40);
    socket.send_to(&short, one.local_addr()).await.unwrap();
    let mut buf = [0u8; 2048];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf))
            .await
            .is_err(),
        "no answer to malformed probes"
    );
    // It still answers a good one, with the nonce it was given.
    let probe = wire::Probe {
        nonce: 0xDEAD_BEEF,
        service: "kiosk".into(),
    };
    socket
        .send_to(&probe.encode().unwrap(), one.local_addr())
        .await
        .unwrap();
    let (len, _) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let reply = wire::Reply::decode(&buf[..len]).unwrap();
    assert_eq!(reply.nonce, 0xDEAD_BEEF);
    assert_eq!(reply.identity, "server-1");
}

#[tokio::test]
async fn a_responder_attached_to_a_server_announces_its_url_and_stops_with_it() {
    let (server, _inbox) = server::Server::builder()
        .with_address("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let responder = DiscoveryResponder::attach(&server, "kiosk", "hall-1", loopback())
        .await
        .unwrap();
    let found = prober("kiosk", &[&responder]).find().await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].url, server.url());
    assert_eq!(found[0].identity, "hall-1");

    server.shutdown(WAIT).await.unwrap();
    // The responder stops answering once the server has stopped.
    let deadline = Instant::now() + WAIT;
    loop {
        if prober("kiosk", &[&responder])
            .probe()
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the responder still answers");
    }
}

#[tokio::test]
async fn bad_announcements_are_refused_at_bind() {
    let error = DiscoveryResponder::bind(
        loopback(),
        Announcement {
            service: String::new(),
            identity: "x".into(),
            url: "ws://127.0.0.1:1/".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("service name"), "{error}");
}

#[test]
fn the_default_targets_are_this_host_and_broadcasts_and_a_sweep_is_bounded() {
    use atomic_ws::discovery::{DEFAULT_PORT, MAX_SWEEP};
    let plain = Prober::new("kiosk").targets().unwrap();
    assert_eq!(plain[0], SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)));
    assert!(plain.iter().all(|t| t.port() == DEFAULT_PORT));
    // Without a sweep: this host plus one broadcast address per interface, no host list.
    assert!(plain.len() <= 1 + 64, "{plain:?}");

    let swept = Prober::new("kiosk")
        .with_port(4000)
        .with_sweep(10)
        .targets()
        .unwrap();
    assert!(swept.iter().all(|t| t.port() == 4000));
    assert!(swept.len() <= plain.len() + 10, "{} targets", swept.len());
    let huge = Prober::new("kiosk")
        .with_sweep(usize::MAX)
        .targets()
        .unwrap();
    assert!(
        huge.len() <= plain.len() + MAX_SWEEP,
        "{} targets",
        huge.len()
    );
    // Explicit targets replace all of it.
    let only: SocketAddr = "10.9.8.7:1".parse().unwrap();
    assert_eq!(
        Prober::new("kiosk")
            .with_sweep(10)
            .with_targets([only])
            .targets()
            .unwrap(),
        vec![only]
    );
}
