//! The `switchboard` binary: thin on purpose; the work is in the crates.

mod bench;
mod bench_inbox;
mod bench_listen;
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
