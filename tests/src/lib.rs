//! The end-to-end test harness: a throwaway PostgreSQL database per test (cloned from a
//! template built once from `fixtures/shop.sql`), the real `rampart` binary started on a free
//! port with its own data dir, and a client whose methods are named for what users do.
//!
//! Missing services fail with instructions; nothing is skipped.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stderr,
    reason = "a test harness fails loudly: panics and printed logs are its job"
)]

pub mod app;
pub mod client;
pub mod idp;
pub mod ldap;
pub mod mcp;
pub mod oidc;
pub mod pg;
pub mod saml;
pub mod smtp;

pub use app::{Options, TestApp, spawn_app, spawn_with};
pub use client::Client;
pub use pg::TestDb;

/// The port a helper process announces with a `listening PORT` line on its stdout (which it
/// must have been given as a pipe); panics naming `what` if it never does.
pub fn announced_port(child: &mut std::process::Child, what: &str) -> u16 {
    use std::io::{BufRead, BufReader};
    let stdout = child.stdout.take().expect("stdout piped");
    BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("listening ")
                .and_then(|p| p.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("{what} did not start"))
}
