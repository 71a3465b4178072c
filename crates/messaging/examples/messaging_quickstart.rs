//! The messaging client and the provider facade, end to end.
//!
//! ```text
//! cargo run -p messaging --example messaging_quickstart                 # starts its own nats-server
//! cargo run -p messaging --example messaging_quickstart -- ws://127.0.0.1:4223   # or uses yours
//! ```

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use messaging::client::{ClientConfig, Codec, MessagingClient};
use messaging::provider::{ConnectionConfig, Handler, MessagingProvider};
use messaging::testing::NatsServer;
use messaging::{BrokerMessage, MessagingError};

/// A handler component: answers every request with the body upper-cased.
struct Upper;

impl Handler for Upper {
    fn handle_message(
        &self,
        _link: &str,
        msg: BrokerMessage,
    ) -> messaging::provider::BoxFuture<'static, Result<Option<Bytes>, messaging::provider::BoxError>>
    {
        Box::pin(async move {
            Ok(Some(Bytes::from(
                String::from_utf8_lossy(&msg.body).to_uppercase(),
            )))
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A nats-server with a WebSocket listener: the one given, or a local one.
    let mut _own = None;
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => {
            let server = NatsServer::start()?;
            let url = server.ws_url();
            _own = Some(server);
            url
        }
    };

    // 1. The client: subscribe, publish, request.
    let client = MessagingClient::connect(ClientConfig::new(&url, Codec::Nats)).await?;
    let mut orders = client.subscribe("orders.*", None).await?;
    client.flush(Duration::from_secs(2)).await?;
    client.publish("orders.new", "42").await?;
    let got = orders.recv().await.ok_or("subscription ended")?;
    println!(
        "received {} {}",
        got.subject,
        String::from_utf8_lossy(&got.body)
    );
    match client
        .request("nobody.home", "?", Duration::from_secs(2))
        .await
    {
        Err(MessagingError::NoResponders { subject }) => {
            println!("no responders on {subject}, at once")
        }
        other => println!("unexpected: {other:?}"),
    }

    // 2. The provider: links configured from string maps over defaults.
    let defaults = ConnectionConfig::from_map(&HashMap::from([
        ("uri".to_string(), url.clone()),
        ("max_in_flight".to_string(), "16".to_string()),
    ]))?;
    let provider = MessagingProvider::new(defaults, Upper);
    provider
        .receive_link_config_as_source(
            "upper-service",
            &HashMap::from([("subscriptions".to_string(), "svc.upper".to_string())]),
        )
        .await?;
    let reply = client
        .request("svc.upper", "hello", Duration::from_secs(2))
        .await?;
    println!(
        "svc.upper answered {}",
        String::from_utf8_lossy(&reply.body)
    );
    for session in provider.list_sessions().await {
        println!(
            "session {} of link {}",
            session.id, session.metadata["link"]
        );
    }

    provider.shutdown().await;
    client.shutdown().await;
    Ok(())
}
