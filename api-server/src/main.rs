//! The `rampart` binary: parse the command line and hand over to `rampart_server::cli`.

use clap::Parser;

/// mimalloc instead of the C library's allocator: the audit writer frees on its own thread
/// what request threads allocated, which glibc's allocator makes costly (measured in
/// `bench/README.md`), and its per-thread arenas keep more memory resident. Built with
/// `no_thp`: it does not ask for transparent huge pages, each of which made a partly used
/// 2 MiB of its heap resident (28 of 43 MiB of heap under load, no faster).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = rampart_server::cli::Cli::parse();
    match rampart_server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "rampart: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
