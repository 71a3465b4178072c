//! `hub`: the messaging hub as a program (see `messaging::hub::cli`, and HUB.md).

fn main() -> std::process::ExitCode {
    messaging::hub::cli::main()
}
