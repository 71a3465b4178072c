//! Signs a nonce the way `CircleWsClient` does, so any Ethereum tool can check it.
//!
//! ```text
//! cargo run -q -p client_ws --example sign_nonce -- <hex private key> <nonce string>
//! {"pubkey":"04…","signature":"…"}
//! ```
//!
//! Check it with a stock "recover personal message" function (e.g. ethers'
//! `verifyMessage(nonce, "0x" + signature)`): it returns the address of `pubkey`.

use std::process::ExitCode;

use client_ws::auth::KeyPair;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [key, nonce] = args.as_slice() else {
        eprintln!("usage: sign_nonce <hex private key> <nonce string>");
        return ExitCode::from(2);
    };
    let pair = match KeyPair::from_hex(key) {
        Ok(pair) => pair,
        Err(error) => {
            eprintln!("sign_nonce: {error}");
            return ExitCode::from(2);
        }
    };
    let credentials = pair.credentials(nonce);
    match serde_json::to_string(&credentials) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("sign_nonce: {error}");
            ExitCode::FAILURE
        }
    }
}
