//! Headless browser tests (wasm-bindgen-test in Debian's chromium). Filled in with the
//! client_ws browser transport.

pub fn run() -> Result<(), String> {
    println!("\n==> browser tests: none yet");
    Ok(())
}
