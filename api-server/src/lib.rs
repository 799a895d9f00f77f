//! Rampart's server: a PostgreSQL database as a secure, documented, DreamFactory-compatible
//! REST API. See ARCHITECTURE.md for the map; a request runs
//! `request → auth → rbac → query (plan → sql → exec) → http::envelope`.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod cors;
pub mod doctor;
pub mod filter;
pub mod http;
pub mod identity;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod query;
pub mod rbac;
pub mod request;
pub mod review;
pub mod services;
pub mod startup;
pub mod state;
pub mod statement;
pub mod system;
pub mod telemetry;
