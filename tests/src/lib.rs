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
