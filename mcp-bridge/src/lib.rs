//! The MCP bridge: Rampart's RBAC-guarded REST API as a small, fixed set of MCP tools.
//!
//! Architecture invariant: the bridge has no database access of its own (no database crate
//! is in its dependency tree; a test checks). Every tool call becomes one REST request
//! (`rest::RestOp`, a closed set) sent with the caller's own credential, so an agent can do
//! exactly what that credential can do with curl, and nothing more. No tool takes SQL, a path
//! or an identity.

pub mod http;
pub mod rest;
pub mod tools;

pub use rest::{Credential, HttpRest, Rest, RestOp, RestReply};
pub use tools::{Bridge, Caller, Settings};
