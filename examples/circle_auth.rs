//! A native CircleWsClient authenticating against the reference server with secp256k1.
//!
//! ```text
//! cargo run -p examples --example circle_auth                      # starts its own server
//! cargo run -p examples --example circle_auth -- ws://127.0.0.1:9000 [hex private key]
//! ```
//!
//! Without a URL it starts the reference server in-process on a free loopback port;
//! without a key it generates one. It connects (fetch_nonce → sign → authenticate),
//! asks the server who it is, pings, and shuts down. Errors are printed as a sentence and
//! its causes, and the exit code is 1.

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use client_ws::CircleWsClientBuilder;
use client_ws::auth::KeyPair;
use client_ws::server::{ReferenceServer, ServerConfig};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => examples::report(&*error),
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let given_url = args.next();
    let given_key = args.next();

    // Our own server unless one was named (kept alive until the end of `main`).
    let mut own_server = None;
    let url = match given_url {
        Some(url) => url,
        None => {
            let server = ReferenceServer::start(ServerConfig::new()).await?;
            println!("started the reference server at {}", server.url());
            let url = server.url();
            own_server = Some(server);
            url
        }
    };
    let key = match given_key {
        Some(hex) => KeyPair::from_hex(&hex)?,
        None => KeyPair::generate()?,
    };
    println!("public key {}", key.public_key_hex());
    println!("address    {}", key.address());

    let client = CircleWsClientBuilder::new(&url)
        .with_key(key)
        .with_request_timeout(Duration::from_secs(5))
        .with_connect_wait(Duration::from_secs(10))
        .build()?;
    client.connect().await?;
    println!("connected and authenticated: {}", client.is_connected());
    println!("server says we are {}", client.play("whoami").await?);
    client.ping().await?;
    println!("ping answered");
    client.shutdown().await?;

    if let Some(server) = own_server {
        println!("server counters: {:?}", server.stats());
        server.shutdown().await;
    }
    Ok(())
}
