//! `cargo xtask soak --minutes N`: many clients streaming and trading while connections
//! are cut. To be filled in.

pub fn run(_args: &[String]) -> Result<(), String> {
    Err("soak is not implemented yet".into())
}

/// The short smoke run `cargo xtask ci` makes.
pub fn smoke() -> Result<(), String> {
    println!("\n==> soak smoke: not implemented yet");
    Ok(())
}
