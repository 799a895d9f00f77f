//! `/api/v2/system/cors`: which browser origins may call which paths (DreamFactory's fields;
//! `method` as a list of verbs, or one comma-separated string). A change holds on the next
//! request of every node.

use serde_json::{Map, Value, json};

use super::body::{bool_field, int_field, opt_str_field, str_field};
use super::resource::Resource;
use crate::http::error::ApiError;
use crate::system::cors::{self as cors_store, CorsFields, CorsRecord};
use crate::system::{Store, SystemError, Tx};

/// An entry as the API shows it.
pub(crate) fn cors_json(c: &CorsRecord) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    v["method"] = serde_json::from_str(&c.method).unwrap_or_else(|_| json!([]));
    v
}

fn methods(value: &Value) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::bad_request("Field 'method' must be a list of verbs, e.g. [\"GET\"].");
    let names: Vec<String> = match value {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
            .collect::<Result<_, _>>()?,
        Value::String(s) => s.split(',').map(str::to_owned).collect(),
        _ => return Err(bad()),
    };
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let n = n.trim().to_ascii_uppercase();
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// The entry `m` makes of `base` (or of the defaults), checked.
fn fields(base: Option<&CorsRecord>, m: &Map<String, Value>) -> Result<CorsFields, ApiError> {
    let mut f = match base {
        Some(b) => CorsFields {
            path: b.path.clone(),
            description: b.description.clone(),
            origin: b.origin.clone(),
            header: b.header.clone(),
            exposed_header: b.exposed_header.clone(),
            max_age: b.max_age,
            methods: serde_json::from_str(&b.method).unwrap_or_default(),
            supports_credentials: b.supports_credentials,
            enabled: b.enabled,
        },
        None => CorsFields {
            path: String::new(),
            description: None,
            origin: String::new(),
            header: String::new(),
            exposed_header: String::new(),
            max_age: 0,
            methods: crate::cors::METHODS
                .iter()
                .map(|m| (*m).to_owned())
                .collect(),
            supports_credentials: false,
            enabled: true,
        },
    };
    if let Some(v) = str_field(m, "path")? {
        f.path = v.trim().to_owned();
    }
    if let Some(v) = opt_str_field(m, "description")? {
        f.description = v;
    }
    if let Some(v) = str_field(m, "origin")? {
        f.origin = v;
    }
    if let Some(v) = str_field(m, "header")? {
        f.header = v;
    }
    if let Some(v) = str_field(m, "exposed_header")? {
        f.exposed_header = v;
    }
    if let Some(v) = int_field(m, "max_age")? {
        f.max_age = v;
    }
    if let Some(v) = m.get("method").filter(|v| !v.is_null()) {
        f.methods = methods(v)?;
    }
    if let Some(v) = bool_field(m, "supports_credentials")? {
        f.supports_credentials = v;
    }
    if let Some(v) = bool_field(m, "enabled")? {
        f.enabled = v;
    }
    crate::cors::validate(&f).map_err(ApiError::bad_request)?;
    Ok(f)
}

/// CORS entries as a simple resource.
pub struct Cors;

impl Resource for Cors {
    type Record = CorsRecord;
    type Fields = CorsFields;
    const DUPLICATE: &'static str = "A CORS entry like this one already exists.";

    fn json(record: &CorsRecord) -> Value {
        cors_json(record)
    }

    fn fields(
        existing: Option<&CorsRecord>,
        m: &Map<String, Value>,
    ) -> Result<CorsFields, ApiError> {
        fields(existing, m)
    }

    async fn list(store: &Store) -> Result<Vec<CorsRecord>, SystemError> {
        cors_store::list(store).await
    }

    async fn get(store: &Store, id: i64) -> Result<CorsRecord, SystemError> {
        cors_store::get(store, id).await
    }

    async fn create(tx: &mut Tx, f: &CorsFields) -> Result<i64, SystemError> {
        cors_store::create(tx, f).await
    }

    async fn update(tx: &mut Tx, id: i64, f: &CorsFields) -> Result<(), SystemError> {
        cors_store::update(tx, id, f).await
    }

    async fn delete(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
        cors_store::delete(tx, id).await
    }
}
