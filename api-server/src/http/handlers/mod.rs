//! Request handlers, one file per resource family.

pub mod audit;
pub(crate) mod body;
pub mod config_io;
pub mod cors;
pub mod data;
pub mod docs;
pub mod grants;
pub mod limits;
pub mod lookups;
pub mod mcp;
pub mod oauth;
mod oidc;
pub mod preview;
pub mod resource;
pub mod root;
pub mod saml;
pub mod system;
pub mod user;
pub mod users;
