//! End-to-end tests: the real `rampart` binary against a real PostgreSQL. One test binary,
//! one module per feature.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stderr,
    reason = "tests fail loudly"
)]

mod alerts;
mod audit;
mod cache;
mod config_io;
mod console;
mod cors;
mod defence_in_depth;
mod doctor;
mod external_jwt;
mod fixture;
mod in_process;
mod ldap;
mod limits;
mod mcp;
mod mcp_conformance;
mod mcp_oauth;
mod metrics;
mod oidc;
mod openapi;
mod params;
mod pg_tls;
mod pool;
mod preview;
mod rbac_matrix;
mod rbac_matrix_rows;
mod rbac_rows_fields;
mod read;
mod routines;
mod saml;
mod security;
mod store_postgres;
mod system_api;
mod tidy;
mod users;
mod write;
