//! Runs the reference circle server until interrupted (or until its stdin closes, so a
//! parent process that dies takes it along).
//!
//! ```text
//! cargo run -p client_ws --features server --example reference_server -- \
//!     [--addr 127.0.0.1:0] [--open] [--nonce-ttl-secs 300]
//! ```
//!
//! It prints one line, `listening on ws://<addr>`, once it accepts connections: with
//! port 0 that is how a caller learns the port. `--open` lets `play` run without
//! authentication.

// The server is native only; a browser build of the examples gets an empty program.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    native::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::net::SocketAddr;
    use std::process::ExitCode;
    use std::time::Duration;

    use client_ws::server::{ReferenceServer, ServerConfig};
    use tokio::io::AsyncReadExt;

    fn parse_args() -> Result<ServerConfig, String> {
        let mut config = ServerConfig::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--addr" => {
                    let value = args
                        .next()
                        .ok_or("--addr needs an address like 127.0.0.1:9000")?;
                    let addr: SocketAddr =
                        value.parse().map_err(|e| format!("--addr {value}: {e}"))?;
                    config = config.with_addr(addr);
                }
                "--open" => config = config.require_auth_for_play(false),
                "--nonce-ttl-secs" => {
                    let value = args.next().ok_or("--nonce-ttl-secs needs a number")?;
                    let secs: u64 = value
                        .parse()
                        .map_err(|e| format!("--nonce-ttl-secs {value}: {e}"))?;
                    config = config.with_nonce_ttl(Duration::from_secs(secs));
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(config)
    }

    #[tokio::main]
    pub(crate) async fn main() -> ExitCode {
        let config = match parse_args() {
            Ok(config) => config,
            Err(error) => {
                eprintln!("reference_server: {error}");
                eprintln!(
                    "usage: reference_server [--addr 127.0.0.1:0] [--open] [--nonce-ttl-secs 300]"
                );
                return ExitCode::from(2);
            }
        };
        let server = match ReferenceServer::start(config).await {
            Ok(server) => server,
            Err(error) => {
                eprintln!("reference_server: cannot listen: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {}", server.url());
        // Stop on Ctrl-C, or when stdin reaches its end (the parent closed it or died).
        let stdin_closed = async {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 64];
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = stdin_closed => {}
        }
        server.shutdown().await;
        ExitCode::SUCCESS
    }
}
