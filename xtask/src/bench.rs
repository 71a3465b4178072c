//! `cargo xtask bench`: the benchmark suite (issue: benchmarks). To be filled in.

pub fn run(_args: &[String]) -> Result<(), String> {
    Err("benchmarks are not implemented yet".into())
}

/// The short smoke run `cargo xtask ci` makes, to keep the benchmarks compiling and running.
pub fn smoke() -> Result<(), String> {
    println!("\n==> bench smoke: not implemented yet");
    Ok(())
}
