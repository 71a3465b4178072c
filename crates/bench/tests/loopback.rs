//! The benchmark pieces over real loopback sockets, with small sizes: each client under
//! test receives exactly what the server sent, so the figures count what they claim to.
//! (Speed is not asserted here: the suite prints it.)

use std::sync::Arc;
use std::time::Duration;

use bench::latency::interleaved_round_trips;
use bench::memory::{idle_bare, idle_core, idle_pocketoption, stalled_module};
use bench::reconnect::reconnect_delays;
use bench::throughput::{InboxUse, bare_flood, routed_flood};
use bench::ticks::{bare_pairs, pocketoption_ticks};
use bench::{BenchServer, Blast, ServerConfig};
use pocketoption_sim::Simulator;

const LIMIT: Duration = Duration::from_secs(20);

async fn flood_server(frames: usize) -> BenchServer {
    BenchServer::start(ServerConfig {
        flood: Some(Arc::new(Blast::text_frames(frames))),
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

async fn pocketoption_server(ticks: usize) -> BenchServer {
    BenchServer::start(ServerConfig {
        ticks: Some(Arc::new(Blast::tick_pairs(ticks))),
        pocketoption_open: true,
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_bare_loop_and_the_routed_client_each_count_the_whole_flood() {
    let server = flood_server(5_000).await;
    let bare = bare_flood(&server.url(), 5_000, LIMIT).await.unwrap();
    assert_eq!(bare.units, 5_000);
    for inbox_use in [InboxUse::Batched, InboxUse::OneByOne] {
        let routed = routed_flood(&server.url(), 5_000, inbox_use, LIMIT)
            .await
            .unwrap();
        assert_eq!(
            routed.units, 5_000,
            "{inbox_use:?}: every frame reached the module"
        );
    }
}

#[tokio::test]
async fn a_flood_that_falls_short_is_reported_as_a_timeout_not_a_figure() {
    let server = flood_server(100).await;
    let error = bare_flood(&server.url(), 101, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("timed out"), "{error}");
}

#[tokio::test]
async fn the_pocketoption_client_authenticates_against_the_bench_server_and_gets_every_tick() {
    let server = pocketoption_server(3_000).await;
    let bare = bare_pairs(&server.url(), 3_000, LIMIT).await.unwrap();
    assert_eq!(bare.units, 3_000);
    let ours = pocketoption_ticks(&server.socketio_url(), 3_000, LIMIT)
        .await
        .unwrap();
    assert_eq!(
        ours.delivered.units + ours.dropped,
        3_000,
        "each tick delivered or counted as dropped"
    );
}

#[tokio::test]
async fn round_trips_are_answered_for_the_bare_client_and_the_raw_module_handle() {
    let server = pocketoption_server(1).await;
    let (raw, bare) = interleaved_round_trips(&server.url(), &server.socketio_url(), 5, 50, 20)
        .await
        .unwrap();
    assert_eq!(
        (raw.samples, bare.samples),
        (50, 50),
        "blocks of 20, 20 and 10 each"
    );
}

#[tokio::test]
async fn a_stalled_module_has_every_frame_routed_or_dropped_and_the_memory_read() {
    let server = flood_server(20_000).await;
    let growth = stalled_module(&server.url(), 20_000, LIMIT).await.unwrap();
    assert_eq!(growth.units, 20_000);
    assert!(growth.before_kib > 0, "the resident memory was read");
}

#[tokio::test]
async fn idle_clients_of_every_kind_connect_to_the_simulator_and_are_counted() {
    let sim = Simulator::builder().with_seed(3).start().await.unwrap();
    let ours = idle_pocketoption(&sim.url(), 3).await.unwrap();
    assert_eq!(ours.units, 3);
    let core = idle_core(&sim.url(), 2).await.unwrap();
    assert_eq!(core.units, 2);
    let bare = idle_bare(&sim.url(), 3).await.unwrap();
    assert_eq!(bare.units, 3);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn after_a_server_drop_the_stream_delivers_again_no_sooner_than_the_backoff() {
    let sim = Simulator::builder()
        .with_seed(4)
        .with_tick_interval(Duration::from_millis(5))
        .start()
        .await
        .unwrap();
    let backoff = Duration::from_millis(100);
    let delays = reconnect_delays(&sim, backoff, 2).await.unwrap();
    assert_eq!(delays.len(), 2);
    for delay in delays {
        assert!(delay >= backoff, "the client waited its backoff: {delay:?}");
    }
    assert!(sim.connections_accepted() >= 3, "two reconnects happened");
    sim.shutdown().await.unwrap();
}
