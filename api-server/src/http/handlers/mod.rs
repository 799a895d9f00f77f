//! Request handlers, one file per resource family.

pub mod data;
pub mod docs;
pub mod root;
pub mod system;
pub mod user;
