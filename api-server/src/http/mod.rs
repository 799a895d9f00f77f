//! actix-web glue: the route table, typed extractors that authenticate, the handlers, and
//! the one mapping of errors to DreamFactory's error object. No business logic lives here.

pub mod address;
pub mod console;
pub mod cors;
pub mod envelope;
pub mod error;
pub mod guard;
pub mod handlers;
pub mod middleware;
pub mod routes;
pub mod schema_json;

/// Header names read on every request, made once: looking a header up by a `&str` that is
/// not a standard name parses it into a newly allocated name each time.
pub mod names {
    use actix_web::http::header::HeaderName;

    pub static API_KEY: HeaderName = HeaderName::from_static("x-dreamfactory-api-key");
    pub static SESSION_TOKEN: HeaderName = HeaderName::from_static("x-dreamfactory-session-token");
    pub static BRIDGE: HeaderName = HeaderName::from_static("x-rampart-bridge");
    pub static CLIENT: HeaderName = HeaderName::from_static("x-rampart-client");
    pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
    pub static TOOL: HeaderName = HeaderName::from_static("x-rampart-tool");
    pub static ERROR: HeaderName = HeaderName::from_static("x-rampart-error");
    /// DreamFactory's method overrides, in the order they are honoured.
    pub static METHOD_OVERRIDES: [HeaderName; 3] = [
        HeaderName::from_static("x-http-method"),
        HeaderName::from_static("x-http-method-override"),
        HeaderName::from_static("x-method-override"),
    ];
}
