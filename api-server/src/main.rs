//! The `rampart` binary: parse the command line and hand over to `rampart_server::cli`.

use clap::Parser;

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
