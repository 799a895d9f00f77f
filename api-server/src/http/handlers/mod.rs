//! Request handlers, one file per resource family.

pub mod data;
pub mod docs;
pub mod mcp;
pub mod root;
pub mod system;
pub mod user;
