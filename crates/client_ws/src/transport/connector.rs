//! [`WsConnector`]: the core-pre [`Connector`] that opens a real WebSocket.
//!
//! Any core-pre client can run over it, natively or in the browser, unchanged. Protocol
//! clients that need a handshake before the runner takes over (Socket.IO, the circle
//! authentication) call [`connect`](crate::connect) themselves, or wrap this connector.

use core_pre::{AppState, BoxFuture, ConnectContext, ConnectError, Connection, Connector, runtime};

use super::WsConfig;

/// Opens WebSocket connections for a core-pre client, on either platform.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use client_ws::{WsConfig, WsConnector};
/// use core_pre::ClientBuilder;
/// use std::time::Duration;
///
/// let connector = WsConnector::new(WsConfig::new("ws://127.0.0.1:9000"));
/// let (client, runner) = ClientBuilder::new(connector).build();
/// let _runner = runner.spawn();
/// client.wait_connected(Duration::from_secs(5)).await?;
/// client.send("hello").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct WsConnector {
    config: WsConfig,
}

impl WsConnector {
    /// A connector that opens connections per `config`.
    pub fn new(config: WsConfig) -> Self {
        WsConnector { config }
    }

    /// The configuration it connects with.
    pub fn config(&self) -> &WsConfig {
        &self.config
    }
}

impl From<WsConfig> for WsConnector {
    fn from(config: WsConfig) -> Self {
        WsConnector::new(config)
    }
}

impl<S: AppState> Connector<S> for WsConnector {
    fn connect<'a>(
        &'a self,
        ctx: ConnectContext<S>,
    ) -> BoxFuture<'a, Result<Connection, ConnectError>> {
        ctx.set_endpoint(super::redacted_url(&self.config.url));
        runtime::boxed(super::connect(&self.config))
    }
}
