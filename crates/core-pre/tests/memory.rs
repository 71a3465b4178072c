//! The runner, router and modules over the in-memory transport.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use core_pre::memory::MemoryServer;
use core_pre::{
    BoxError, ClientBuilder, ConnectContext, ConnectError, ConnectErrorKind, Connection,
    ConnectionState, Connector, CoreError, Inbox, Message, Middleware, MiddlewareContext, Module,
    ModuleContext, ReconnectPolicy, RestartPolicy, Rule, Statistics,
};
use support::{Recorder, WAIT, within};

/// A module that takes every text and never reads its inbox.
struct Stalled {
    _inbox: Inbox,
}

impl Module<()> for Stalled {
    type Handle = ();
    const NAME: &'static str = "stalled";
    fn new(ctx: ModuleContext<()>) -> (Self, ()) {
        (Stalled { _inbox: ctx.inbox }, ())
    }
    fn rule(_state: &Arc<()>) -> Box<dyn Rule> {
        Box::new(|m: &Message| m.is_text())
    }
    async fn run(&mut self) -> Result<(), BoxError> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[tokio::test]
async fn a_stalled_module_is_bounded_and_does_not_starve_the_others() {
    let server = MemoryServer::new();
    let (client, runner, rec0) = ClientBuilder::new(server.connector())
        .with_outbound_capacity(64)
        .with_inbox_capacity(16)
        .with_stall_timeout(Duration::from_millis(20))
        .with_shutdown_timeout(Duration::from_millis(100))
        .with_module::<Stalled>()
        .build_with(|m| m.add::<Recorder<0>>());
    let _runner = runner.spawn();
    let mut peer = within("accept", server.accept()).await.unwrap();
    client.wait_connected(WAIT).await.unwrap();

    const N: usize = 5_000;
    let sender = tokio::spawn(async move {
        for i in 0..N {
            peer.send(format!("a{i}")).await.unwrap();
        }
        peer
    });
    let recorder = rec0.clone();
    let seen = recorder.wait_for(N).await;
    assert_eq!(seen.len(), N, "the healthy module lost nothing");
    assert_eq!(seen[N - 1], format!("a{}", N - 1));
    let _peer = within("sender", sender).await.unwrap();

    let stats = client.route_stats();
    let stalled = stats.iter().find(|s| s.module == "stalled").unwrap();
    assert_eq!(
        stalled.delivered, 16,
        "exactly its inbox capacity was queued"
    );
    assert_eq!(
        stalled.dropped,
        (N - 16) as u64,
        "the rest was counted as dropped"
    );
    let healthy = stats.iter().find(|s| s.module == "recorder_a").unwrap();
    assert_eq!((healthy.delivered, healthy.dropped), (N as u64, 0));
    client.shutdown().await.unwrap();
}

/// Fails its first two runs, then runs normally.
struct Flaky {
    inbox: Inbox,
    runs: Arc<AtomicUsize>,
}

static FLAKY_RUNS: std::sync::OnceLock<Arc<AtomicUsize>> = std::sync::OnceLock::new();

impl Module<()> for Flaky {
    type Handle = ();
    const NAME: &'static str = "flaky";
    fn new(ctx: ModuleContext<()>) -> (Self, ()) {
        let flaky = Flaky {
            inbox: ctx.inbox,
            runs: FLAKY_RUNS.get_or_init(Default::default).clone(),
        };
        (flaky, ())
    }
    async fn run(&mut self) -> Result<(), BoxError> {
        match self.runs.fetch_add(1, Ordering::SeqCst) {
            0 => Err("first run fails".into()),
            1 => panic!("second run panics"),
            _ => {
                while self.inbox.recv().await.is_some() {}
                Ok(())
            }
        }
    }
}

#[tokio::test]
async fn a_failing_module_is_restarted_and_its_failures_reported() {
    let server = MemoryServer::new();
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_restart_policy(
            RestartPolicy::default()
                .with_min_delay(Duration::from_millis(10))
                .with_max_delay(Duration::from_millis(50)),
        )
        .with_module::<Flaky>()
        .build();
    let _runner = runner.spawn();
    let _peer = within("accept", server.accept()).await.unwrap();
    let runs = FLAKY_RUNS.get_or_init(Default::default).clone();
    within("the third run", async {
        while runs.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let health = client.module_health();
    assert_eq!(health.len(), 1);
    assert_eq!(health[0].name, "flaky");
    assert!(health[0].running);
    assert_eq!(health[0].failures, 2);
    assert_eq!(
        health[0].last_error.as_deref(),
        Some("panicked: second run panics")
    );
    client.shutdown().await.unwrap();
    assert!(!client.module_health()[0].running);
}

struct Log(&'static str, Arc<Mutex<Vec<String>>>);

impl Middleware<()> for Log {
    fn on_connect(&self, _ctx: &MiddlewareContext<()>) {
        self.1.lock().unwrap().push(format!("{}:connect", self.0));
    }
    fn on_receive(&self, msg: Message, _ctx: &MiddlewareContext<()>) -> Option<Message> {
        self.1
            .lock()
            .unwrap()
            .push(format!("{}:recv:{}", self.0, msg.as_text().unwrap_or("?")));
        Some(msg)
    }
    fn on_send(&self, msg: Message, _ctx: &MiddlewareContext<()>) -> Option<Message> {
        if let Some(text) = msg.as_text() {
            self.1
                .lock()
                .unwrap()
                .push(format!("{}:send:{text}", self.0));
        }
        Some(msg)
    }
}

#[tokio::test]
async fn middleware_hooks_run_in_the_order_added_on_send_and_receive() {
    let server = MemoryServer::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (client, runner) = ClientBuilder::new(server.connector())
        .without_keep_alive()
        .with_middleware(Log("first", log.clone()))
        .with_middleware(Log("second", log.clone()))
        .build();
    let _runner = runner.spawn();
    let mut peer = within("accept", server.accept()).await.unwrap();
    client.wait_connected(WAIT).await.unwrap();
    client.send("out").await.unwrap();
    assert_eq!(within("peer", peer.recv_text()).await.unwrap(), "out");
    peer.send("in").await.unwrap();
    within("hooks", async {
        while log.lock().unwrap().len() < 6 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "first:connect",
            "second:connect",
            "first:send:out",
            "second:send:out",
            "first:recv:in",
            "second:recv:in"
        ]
    );
    client.shutdown().await.unwrap();
}

/// Drops texts starting with `drop`, and upper-cases the rest, both ways.
struct Rewrite;

impl Middleware<()> for Rewrite {
    fn on_receive(&self, msg: Message, _ctx: &MiddlewareContext<()>) -> Option<Message> {
        rewrite(msg)
    }
    fn on_send(&self, msg: Message, _ctx: &MiddlewareContext<()>) -> Option<Message> {
        rewrite(msg)
    }
}

fn rewrite(msg: Message) -> Option<Message> {
    match msg.as_text() {
        Some(text) if text.starts_with("drop") => None,
        Some(text) => Some(Message::text(text.to_uppercase())),
        None => Some(msg),
    }
}

#[tokio::test]
async fn middleware_can_transform_and_drop_messages_on_both_paths() {
    let server = MemoryServer::new();
    let handled = Arc::new(Mutex::new(Vec::new()));
    let seen = handled.clone();
    let (client, rec0) = ClientBuilder::new(server.connector())
        .without_keep_alive()
        .with_middleware(Rewrite)
        .with_inline_handler(move |msg: &Message, _: &core_pre::HandlerContext<()>| {
            seen.lock()
                .unwrap()
                .push(msg.as_text().unwrap_or("").to_owned());
        })
        .spawn_with(|m| m.add::<Recorder<0>>());
    let mut peer = within("accept", server.accept()).await.unwrap();
    client.wait_connected(WAIT).await.unwrap();

    // Outbound: the dropped one never reaches the peer; the other arrives rewritten.
    client.send("drop me").await.unwrap();
    client.send("out").await.unwrap();
    assert_eq!(within("peer", peer.recv_text()).await.unwrap(), "OUT");

    // Inbound: handlers and modules see only what the middleware let through, rewritten.
    // Recorder 0 takes texts starting with a lower-case "a": "abc" reaches it only if the
    // middleware did not run.
    peer.send("drop this").await.unwrap();
    peer.send("abc").await.unwrap();
    peer.send("in").await.unwrap();
    within("the handler", async {
        while handled.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert_eq!(*handled.lock().unwrap(), vec!["ABC", "IN"]);
    assert!(
        rec0.seen().await.unwrap().is_empty(),
        "it saw only rewritten texts"
    );
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn state_can_be_built_from_the_connection_watch() {
    struct Rpc {
        pending: core_pre::PendingRequests<u32, String>,
    }
    impl core_pre::AppState for Rpc {}

    let server = MemoryServer::new();
    let client = ClientBuilder::with_state_fn(server.connector(), |watch| Rpc {
        pending: core_pre::PendingRequests::new(watch, 4),
    })
    .without_keep_alive()
    .spawn();
    let _peer = within("accept", server.accept()).await.unwrap();
    client.wait_connected(WAIT).await.unwrap();
    let reply = client.app_state().pending.register(1).unwrap();
    // The pending request is bound to this client's connection: a drop fails it at once.
    client.reconnect().await.ok();
    let error = within("the reply to fail", reply.wait(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(matches!(error, CoreError::ConnectionLost), "{error}");
    client.shutdown().await.unwrap();
}

struct Rejecting(Arc<AtomicUsize>);

impl Connector<()> for Rejecting {
    fn connect<'a>(
        &'a self,
        _ctx: ConnectContext<()>,
    ) -> core_pre::BoxFuture<'a, Result<Connection, ConnectError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(ConnectError::fatal("session expired")) })
    }
}

#[tokio::test]
async fn a_rejected_connection_is_reported_promptly_and_not_retried() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let (client, runner) = ClientBuilder::new(Rejecting(attempts.clone())).build();
    let _runner = runner.spawn();
    let error = client.wait_connected(WAIT).await.unwrap_err();
    assert!(
        matches!(&error, CoreError::Rejected { reason } if &**reason == "session expired"),
        "{error:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        1,
        "no retry of a rejected session"
    );
    // An explicit connect() tries again, once.
    assert!(matches!(
        client.connect().await,
        Err(CoreError::Rejected { .. })
    ));
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_policy_gives_up_after_max_attempts() {
    let server = MemoryServer::new();
    server.set_refusing(true);
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_reconnect_policy(
            ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(5))
                .with_max_attempts(3),
        )
        .build();
    let _runner = runner.spawn();
    let error = client.wait_connected(WAIT).await.unwrap_err();
    assert!(
        matches!(error, CoreError::GaveUp { attempts: 3, .. }),
        "{error:?}"
    );
    assert_eq!(server.attempts(), 3);
    client.shutdown().await.unwrap();
}

/// Fails every attempt as refused, alternating between two named endpoints; the second
/// server, once `heal` is set, accepts through a memory connector.
struct Refusing {
    heal: Arc<std::sync::atomic::AtomicBool>,
    server: core_pre::memory::MemoryConnector,
}

impl Connector<()> for Refusing {
    fn connect<'a>(
        &'a self,
        ctx: ConnectContext<()>,
    ) -> core_pre::BoxFuture<'a, Result<Connection, ConnectError>> {
        let endpoint = if ctx.attempt % 2 == 0 {
            "mem://a"
        } else {
            "mem://b"
        };
        ctx.set_endpoint(endpoint);
        if self.heal.load(Ordering::SeqCst) {
            return self.server.connect(ctx);
        }
        Box::pin(async move {
            Err(
                ConnectError::retryable(format!("{endpoint} refused the connection"))
                    .with_kind(ConnectErrorKind::Refused),
            )
        })
    }
}

#[tokio::test]
async fn a_connect_timeout_says_what_the_attempts_ran_into_until_one_succeeds() {
    let heal = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = MemoryServer::new();
    let (client, runner) = ClientBuilder::new(Refusing {
        heal: heal.clone(),
        server: server.connector(),
    })
    .with_reconnect_policy(
        ReconnectPolicy::default()
            .with_initial_delay(Duration::from_millis(5))
            .with_max_delay(Duration::from_millis(20)),
    )
    .build();
    let _runner = runner.spawn();

    let error = client
        .wait_connected(Duration::from_millis(300))
        .await
        .unwrap_err();
    let CoreError::ConnectTimeout {
        after,
        ref state,
        ref failure,
    } = error
    else {
        panic!("expected a connect timeout: {error:?}");
    };
    assert_eq!(after, Duration::from_millis(300));
    assert!(
        matches!(state, ConnectionState::Reconnecting { .. }),
        "{state}"
    );
    let failure = failure.as_deref().expect("attempts failed");
    assert!(failure.attempts >= 2, "{failure:?}");
    assert_eq!(
        failure.endpoints.iter().map(|e| &**e).collect::<Vec<_>>(),
        ["mem://a", "mem://b"]
    );
    assert_eq!(failure.last_error.kind(), ConnectErrorKind::Refused);
    assert!(
        failure.trying_for >= Duration::from_millis(100),
        "{failure:?}"
    );
    let text = error.to_string();
    assert!(text.starts_with("not connected after 300 ms: "), "{text}");
    assert!(
        text.contains("to mem://a, mem://b failed; the last one: mem://"),
        "{text}"
    );
    assert!(text.contains("refused the connection"), "{text}");
    assert!(
        text.contains("; the client keeps trying (attempt "),
        "{text}"
    );

    // A send while reconnecting says what the client waits for and why.
    let refused = client.send("hello").await.unwrap_err();
    assert!(
        matches!(refused, CoreError::NotConnected { .. }),
        "{refused:?}"
    );
    let text = refused.to_string();
    assert!(
        text.starts_with("not connected: reconnecting (attempt "),
        "{text}"
    );
    assert!(text.contains("refused the connection"), "{text}");

    // A success forgets the failures.
    heal.store(true, Ordering::SeqCst);
    let _peer = within("accept", server.accept()).await.unwrap();
    client.wait_connected(WAIT).await.unwrap();
    assert!(client.connect_failure().is_none());
    client.shutdown().await.unwrap();
}

/// Never answers: every attempt runs into the runner's connect timeout.
struct Silent;

impl Connector<()> for Silent {
    fn connect<'a>(
        &'a self,
        ctx: ConnectContext<()>,
    ) -> core_pre::BoxFuture<'a, Result<Connection, ConnectError>> {
        ctx.set_endpoint("mem://silent");
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn giving_up_after_timed_out_attempts_names_the_endpoint_and_the_timeout() {
    let (client, runner) = ClientBuilder::new(Silent)
        .with_connect_timeout(Duration::from_millis(30))
        .with_reconnect_policy(
            ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(5))
                .with_max_attempts(2),
        )
        .build();
    let _runner = runner.spawn();
    let error = client.wait_connected(WAIT).await.unwrap_err();
    let failure = error.connect_failure().expect("a failure report");
    assert!(
        matches!(error, CoreError::GaveUp { attempts: 2, .. }),
        "{error:?}"
    );
    assert_eq!(failure.attempts, 2);
    assert_eq!(failure.last_error.kind(), ConnectErrorKind::TimedOut);
    assert_eq!(failure.last_endpoint.as_deref(), Some("mem://silent"));
    assert_eq!(
        error.to_string(),
        format!(
            "gave up after 2 connection attempts: 2 attempts over {} to mem://silent failed; \
             the last one: the attempt to connect to mem://silent did not finish within 30 ms; \
             call `connect` to try again",
            core_pre::HumanDuration(failure.trying_for)
        )
    );
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn statistics_count_messages_bytes_and_uptime() {
    let server = MemoryServer::new();
    let stats = Statistics::new();
    let (client, runner) = ClientBuilder::new(server.connector())
        .without_keep_alive()
        .with_middleware(stats.clone())
        .build();
    let _runner = runner.spawn();
    let mut peer = within("accept", server.accept()).await.unwrap();
    client.wait_connected(WAIT).await.unwrap();
    client.send("12345").await.unwrap();
    client.send(Message::binary(vec![0u8; 10])).await.unwrap();
    peer.send("abc").await.unwrap();
    within("peer", peer.recv()).await.unwrap();
    within("peer", peer.recv()).await.unwrap();
    within("stats", async {
        while stats.snapshot().messages_in < 1 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    let snap = stats.snapshot();
    assert_eq!((snap.messages_out, snap.bytes_out), (2, 15));
    assert_eq!((snap.messages_in, snap.bytes_in), (1, 3));
    assert_eq!(snap.connects, 1);
    assert!(snap.current_uptime > Duration::ZERO);
    client.shutdown().await.unwrap();
    let after = stats.snapshot();
    assert_eq!(after.current_uptime, Duration::ZERO);
    assert_eq!(after.disconnects.get("shutdown"), Some(&1));
}

#[tokio::test]
async fn messages_queued_for_a_dead_connection_are_discarded_and_counted() {
    let server = MemoryServer::new();
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_outbound_capacity(64)
        .with_inbox_capacity(16)
        .with_reconnect_policy(
            ReconnectPolicy::default().with_initial_delay(Duration::from_millis(5)),
        )
        .without_keep_alive()
        .build();
    let _runner = runner.spawn();
    let peer = within("accept", server.accept()).await.unwrap();
    client.wait_connected(WAIT).await.unwrap();
    // The peer never reads: the pipe (1024) and then the outbound queue (64) fill up.
    let mut sent = 0;
    while client.try_send(format!("m{sent}")).is_ok() {
        sent += 1;
        if sent % 256 == 0 {
            tokio::task::yield_now().await;
        }
    }
    assert!(sent >= 64, "filled the queue ({sent})");
    drop(peer);
    let mut second = within("reconnect", server.accept()).await.unwrap();
    client.wait_connected(WAIT).await.unwrap();
    assert!(client.discarded_outbound() > 0, "counted (sent {sent})");
    client.send("new").await.unwrap();
    assert_eq!(
        within("peer", second.recv_text()).await.unwrap(),
        "new",
        "nothing from the old connection was replayed"
    );
    client.shutdown().await.unwrap();
}

/// `connect` right after an idle spell must wait for the new connection, never read the
/// idle state it asked to leave. The runner lives on a runtime of its own, so the caller
/// wakes on another thread the moment its command is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_after_disconnect_waits_for_the_new_connection_every_time() {
    let server = MemoryServer::new();
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_connect_on_start(false)
        .build();
    let runner_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let runner = runner_runtime.spawn(runner.run());
    for round in 0..2000 {
        within("connect", client.connect())
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(client.connection_state(), ConnectionState::Connected);
        within("disconnect", client.disconnect()).await.unwrap();
    }
    // The same for `reconnect`: it returns on a new connection, never on the old one.
    within("connect", client.connect()).await.unwrap();
    for round in 0..500 {
        let before = server.attempts();
        within("reconnect", client.reconnect())
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(server.attempts(), before + 1, "round {round}");
    }
    client.shutdown().await.unwrap();
    within("the runner", runner).await.unwrap();
    runner_runtime.shutdown_background();
}
