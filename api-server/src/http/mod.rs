//! actix-web glue: the route table, typed extractors that authenticate, the handlers, and
//! the one mapping of errors to DreamFactory's error object. No business logic lives here.

pub mod console;
pub mod cors;
pub mod envelope;
pub mod error;
pub mod guard;
pub mod handlers;
pub mod middleware;
pub mod routes;
pub mod schema_json;
