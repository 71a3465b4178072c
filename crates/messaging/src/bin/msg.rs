//! `msg`: publish, subscribe, request and reply from the command line (see
//! `messaging::cli`, and the crate README).

fn main() -> std::process::ExitCode {
    messaging::cli::main()
}
