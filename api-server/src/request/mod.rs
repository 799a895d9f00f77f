//! HTTP input → `ApiRequest`: the service, the resource, the verb after tunnelling and typed
//! parameters (DreamFactory's names and aliases, from the query string or the JSON body).
//! Pure: no web-framework types, no I/O, no schema — names are checked later, against the
//! caller's permit.

mod params;

pub use params::{Aggregate, FieldSelector, Nulls, OrderItem, ReadParams, RelatedRequest};

use std::borrow::Cow;

use crate::filter::{self, FilterError};
use crate::rbac::Verb;

/// A copy of the HTTP input, framework-free.
#[derive(Debug, Clone, Default)]
pub struct RawRequest {
    pub method: String,
    /// The path after `/api/v2/{service}/`, decoded.
    pub resource_path: String,
    /// Decoded query pairs in order.
    pub query: Vec<(String, String)>,
    /// `X-HTTP-Method` or `X-HTTP-Method-Override` header, if any.
    pub method_override: Option<String>,
    /// The JSON body, if one was sent.
    pub body: Option<serde_json::Value>,
}

/// `(service, resource path)` of a request path under `/api/v2/`, each percent-decoded
/// (invalid UTF-8 replaced): `/api/v2/db/_table/a%20b/1` → `("db", "_table/a b/1")`. `None`
/// outside `/api/v2/` or without a service name.
#[must_use]
pub fn service_path(path: &str) -> Option<(Cow<'_, str>, Cow<'_, str>)> {
    let rest = path.strip_prefix("/api/v2/")?;
    let (service, tail) = rest.split_once('/').unwrap_or((rest, ""));
    (!service.is_empty()).then(|| (percent_decode(service), percent_decode(tail)))
}

/// Decodes every `%XX` of a path part; a `%` not followed by two hex digits stays as it is,
/// and `+` is a plus (paths are not forms).
fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or_default());
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Which resource of a database service a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `GET /api/v2/{svc}`: the service's resources.
    Root,
    /// `/_table`
    TableList,
    /// `/_table/{table}`
    Table(String),
    /// `/_table/{table}/{id}`
    Record(String, String),
    /// `/_schema`
    SchemaList,
    /// `/_schema/{table}`
    Schema(String),
    /// `/_proc` or `/_func`
    RoutineList(RoutineFamily),
    /// `/_proc/{name}` or `/_func/{name}`, with inline `(a,b)` arguments if given.
    Routine(RoutineFamily, String, Option<Vec<String>>),
    /// `/_spec`
    Spec,
}

/// Procedures or functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutineFamily {
    Proc,
    Func,
}

impl RoutineFamily {
    /// The URL segment (`_proc`, `_func`).
    #[must_use]
    pub fn segment(self) -> &'static str {
        match self {
            Self::Proc => "_proc",
            Self::Func => "_func",
        }
    }
}

impl Resource {
    /// The table a `_table` request addresses.
    #[must_use]
    pub fn table(&self) -> Option<&str> {
        match self {
            Self::Table(t) | Self::Record(t, _) => Some(t),
            _ => None,
        }
    }

    /// The RBAC component of the resource (DreamFactory's: `(…)` stripped from routines).
    #[must_use]
    pub fn component(&self) -> String {
        match self {
            Self::Root => String::new(),
            Self::TableList => "_table".into(),
            Self::Table(t) => format!("_table/{t}"),
            Self::Record(t, id) => format!("_table/{t}/{id}"),
            Self::SchemaList => "_schema".into(),
            Self::Schema(t) => format!("_schema/{t}"),
            Self::RoutineList(f) => f.segment().into(),
            Self::Routine(f, name, _) => format!("{}/{name}", f.segment()),
            Self::Spec => "_spec".into(),
        }
    }
}

/// A well-formed DreamFactory request to a database service.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub verb: Verb,
    pub resource: Resource,
    pub params: ReadParams,
    pub body: Option<serde_json::Value>,
}

/// Limits applied while parsing.
#[derive(Debug, Clone)]
pub struct ParseLimits {
    pub filter: filter::Limits,
    pub max_list: usize,
}

/// Why a request is malformed (all 400s).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("Invalid or unparsable filter request: {0}")]
    Filter(#[from] FilterError),
    #[error("Invalid value for parameter '{name}': {message}")]
    Param { name: String, message: String },
    #[error("Resource '{0}' not found for service.")]
    UnknownResource(String),
    #[error("Method '{0}' is not allowed.")]
    Method(String),
}

impl ApiRequest {
    /// Parses the HTTP input of a database-service request.
    pub fn parse(raw: &RawRequest, limits: &ParseLimits) -> Result<Self, RequestError> {
        let verb = tunnelled_verb(raw)?;
        let resource = parse_resource(&raw.resource_path)?;
        let params = ReadParams::parse(&raw.query, raw.body.as_ref(), limits)?;
        Ok(Self {
            verb,
            resource,
            params,
            body: raw.body.clone(),
        })
    }
}

/// DreamFactory's tunnelling: on POST, `X-HTTP-Method` / `X-HTTP-Method-Override` / `method`
/// (or `_method`) name the real verb.
fn tunnelled_verb(raw: &RawRequest) -> Result<Verb, RequestError> {
    tunnelled(
        &raw.method,
        raw.method_override.as_deref(),
        raw.query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// The verb a request acts with: its method, or on POST the verb tunnelling names (the
/// override header's value, else the first `method` / `_method` query pair).
pub fn tunnelled<'a>(
    method: &str,
    method_override: Option<&str>,
    mut query: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<Verb, RequestError> {
    let verb = Verb::parse(method).ok_or_else(|| RequestError::Method(method.to_owned()))?;
    if verb != Verb::Post {
        return Ok(verb);
    }
    let from_query = || {
        query
            .find(|(k, _)| *k == "method" || *k == "_method")
            .map(|(_, v)| v)
    };
    match method_override.or_else(from_query) {
        Some(name) => Verb::parse(name).ok_or_else(|| RequestError::Method(name.to_owned())),
        None => Ok(verb),
    }
}

fn parse_resource(path: &str) -> Result<Resource, RequestError> {
    let path = path.trim_matches('/');
    let mut parts = path.splitn(3, '/');
    let head = parts.next().unwrap_or_default();
    let second = parts.next().filter(|s| !s.is_empty());
    let third = parts.next().filter(|s| !s.is_empty());
    let unknown = || RequestError::UnknownResource(path.to_owned());
    Ok(match (head, second, third) {
        ("", None, None) => Resource::Root,
        ("_table", None, None) => Resource::TableList,
        ("_table", Some(t), None) => Resource::Table(t.to_owned()),
        ("_table", Some(t), Some(id)) if !id.contains('/') => {
            Resource::Record(t.to_owned(), id.to_owned())
        }
        ("_schema", None, None) => Resource::SchemaList,
        ("_schema", Some(t), None) => Resource::Schema(t.to_owned()),
        ("_spec", None, None) => Resource::Spec,
        (family @ ("_proc" | "_func"), None, None) => Resource::RoutineList(family_of(family)),
        (family @ ("_proc" | "_func"), Some(name), None) => {
            let (name, args) = split_inline_args(name).ok_or_else(unknown)?;
            Resource::Routine(family_of(family), name, args)
        }
        _ => return Err(unknown()),
    })
}

fn family_of(segment: &str) -> RoutineFamily {
    if segment == "_proc" {
        RoutineFamily::Proc
    } else {
        RoutineFamily::Func
    }
}

/// `name(a,b)` → (`name`, [a, b]); `name` → (`name`, None).
fn split_inline_args(segment: &str) -> Option<(String, Option<Vec<String>>)> {
    match segment.find('(') {
        None => Some((segment.to_owned(), None)),
        Some(open) => {
            let inner = segment[open + 1..].strip_suffix(')')?;
            let args = if inner.trim().is_empty() {
                Vec::new()
            } else {
                inner
                    .split(',')
                    .map(|a| a.trim().trim_matches('\'').to_owned())
                    .collect()
            };
            Some((segment[..open].to_owned(), Some(args)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_paths_are_split_and_decoded() {
        let split = service_path;
        assert_eq!(split("/api/v2/db"), Some(("db".into(), "".into())));
        assert_eq!(split("/api/v2/db/"), Some(("db".into(), "".into())));
        assert_eq!(
            split("/api/v2/db/_table/orders/1"),
            Some(("db".into(), "_table/orders/1".into()))
        );
        assert_eq!(
            split("/api/v2/my%20db/_table/a%20b/x%2Fy+z%zz%4"),
            Some(("my db".into(), "_table/a b/x/y+z%zz%4".into()))
        );
        assert_eq!(
            split("/api/v2/db/_table/caf%C3%A9/%FF"),
            Some(("db".into(), "_table/café/\u{fffd}".into()))
        );
        assert_eq!(split("/api/v2/"), None);
        assert_eq!(split("/api/v2//x"), None);
        assert_eq!(split("/api/v1/db"), None);
    }

    fn limits() -> ParseLimits {
        ParseLimits {
            filter: filter::Limits::default(),
            max_list: 1000,
        }
    }

    fn raw(method: &str, path: &str, query: &[(&str, &str)]) -> RawRequest {
        RawRequest {
            method: method.into(),
            resource_path: path.into(),
            query: query
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            ..RawRequest::default()
        }
    }

    #[test]
    fn resources_and_their_components_follow_dreamfactory() {
        let cases = [
            ("", Resource::Root, ""),
            ("_table", Resource::TableList, "_table"),
            (
                "_table/orders",
                Resource::Table("orders".into()),
                "_table/orders",
            ),
            (
                "_table/orders/5",
                Resource::Record("orders".into(), "5".into()),
                "_table/orders/5",
            ),
            (
                "_schema/orders",
                Resource::Schema("orders".into()),
                "_schema/orders",
            ),
            ("_spec", Resource::Spec, "_spec"),
            (
                "_proc/total(1,2)",
                Resource::Routine(
                    RoutineFamily::Proc,
                    "total".into(),
                    Some(vec!["1".into(), "2".into()]),
                ),
                "_proc/total",
            ),
        ];
        for (path, resource, component) in cases {
            let r = ApiRequest::parse(&raw("GET", path, &[]), &limits()).unwrap();
            assert_eq!(r.resource, resource, "{path}");
            assert_eq!(r.resource.component(), component, "{path}");
        }
    }

    #[test]
    fn unknown_resources_are_refused() {
        for path in ["_tables", "_table/a/b/c", "x", "_proc/f(1"] {
            assert!(
                ApiRequest::parse(&raw("GET", path, &[]), &limits()).is_err(),
                "{path}"
            );
        }
    }

    #[test]
    fn post_tunnels_to_the_named_verb_and_other_verbs_do_not() {
        let mut r = raw("POST", "_table/orders", &[]);
        r.method_override = Some("GET".into());
        assert_eq!(ApiRequest::parse(&r, &limits()).unwrap().verb, Verb::Get);
        let q = raw("POST", "_table/orders", &[("method", "DELETE")]);
        assert_eq!(ApiRequest::parse(&q, &limits()).unwrap().verb, Verb::Delete);
        let mut g = raw("GET", "_table/orders", &[]);
        g.method_override = Some("DELETE".into());
        assert_eq!(ApiRequest::parse(&g, &limits()).unwrap().verb, Verb::Get);
        assert!(ApiRequest::parse(&raw("TRACE", "", &[]), &limits()).is_err());
    }
}
