//! Request-body and query helpers shared by the system and user APIs: DreamFactory's write
//! bodies (`resource` envelopes), typed field readers with clear errors, and list responses.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use crate::filter;
use crate::http::error::ApiError;

/// The records of a write body: an array, `{"resource":[…]}`, or one object.
pub(crate) fn records(body: &[u8]) -> Result<Vec<Map<String, Value>>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let list = match value {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("resource") {
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "`resource` must be an array of records.",
                ));
            }
            None => vec![Value::Object(map)],
        },
        _ => return Err(ApiError::bad_request("No record(s) detected in request.")),
    };
    if list.is_empty() {
        return Err(ApiError::bad_request("No record(s) detected in request."));
    }
    list.into_iter()
        .map(|v| match v {
            Value::Object(m) => Ok(m),
            _ => Err(ApiError::bad_request("Each record must be a JSON object.")),
        })
        .collect()
}

pub(crate) fn one_record(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut list = records(body)?;
    if list.len() != 1 {
        return Err(ApiError::bad_request("Send exactly one record."));
    }
    Ok(list.remove(0))
}

pub(crate) fn query(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

pub(crate) fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub(crate) fn flag(q: &[(String, String)], name: &str) -> bool {
    param(q, name)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "" | "true" | "1" | "yes"))
}

pub(crate) fn str_field(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!(
            "Field '{key}' must be a string."
        ))),
    }
}

/// `Some(None)` when the key is present with null (clear it), `None` when absent.
pub(crate) fn opt_str_field(
    m: &Map<String, Value>,
    key: &str,
) -> Result<Option<Option<String>>, ApiError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(ApiError::bad_request(format!(
            "Field '{key}' must be a string."
        ))),
    }
}

pub(crate) fn bool_field(m: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) => Ok(Some(n.as_i64() != Some(0))),
        Some(_) => Err(ApiError::bad_request(format!(
            "Field '{key}' must be true or false."
        ))),
    }
}

pub(crate) fn int_field(m: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("Field '{key}' must be an integer."))),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("Field '{key}' must be an integer."))),
        Some(_) => Err(ApiError::bad_request(format!(
            "Field '{key}' must be an integer."
        ))),
    }
}

/// `Some(None)` for an explicit null.
pub(crate) fn opt_int_field(
    m: &Map<String, Value>,
    key: &str,
) -> Result<Option<Option<i64>>, ApiError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(_) => int_field(m, key).map(Some),
    }
}

/// Keeps only the keys asked for in `fields` (absent or `*`: all).
pub(crate) fn select_fields(record: Value, q: &[(String, String)]) -> Value {
    let Some(fields) = param(q, "fields").filter(|f| !f.trim().is_empty() && f.trim() != "*")
    else {
        return record;
    };
    let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
    match record {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| wanted.contains(&k.as_str()))
                .collect(),
        ),
        other => other,
    }
}

/// A DreamFactory list response with `ids`, `limit`, `offset`, `fields` and `include_count`.
pub(crate) fn list_response(
    records: Vec<Value>,
    q: &[(String, String)],
) -> Result<HttpResponse, ApiError> {
    let ids: Option<Vec<String>> =
        param(q, "ids").map(|s| s.split(',').map(|x| x.trim().to_owned()).collect());
    let filtered: Vec<Value> = match &ids {
        Some(ids) => records
            .into_iter()
            .filter(|r| r.get("id").is_some_and(|id| ids.contains(&id.to_string())))
            .collect(),
        None => records,
    };
    let filtered = match param(q, "filter").filter(|f| !f.trim().is_empty()) {
        Some(text) => {
            let expr = filter::parse(text, &filter::Limits::default()).map_err(|e| {
                ApiError::bad_request(format!("Invalid or unparsable filter request: {e}"))
            })?;
            let mut kept = Vec::new();
            for r in filtered {
                if filter::eval::matches(&expr, &r).map_err(ApiError::bad_request)? {
                    kept.push(r);
                }
            }
            kept
        }
        None => filtered,
    };
    let total = filtered.len();
    let parse_n = |name: &str| -> Result<Option<usize>, ApiError> {
        param(q, name)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse().map_err(|_| {
                    ApiError::bad_request(format!("Invalid value for parameter '{name}'."))
                })
            })
            .transpose()
    };
    let offset = parse_n("offset")?.unwrap_or(0);
    let limit = parse_n("limit")?.filter(|l| *l > 0).unwrap_or(usize::MAX);
    let page: Vec<Value> = filtered
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|r| select_fields(r, q))
        .collect();
    let mut body = json!({"resource": page});
    if flag(q, "include_count") {
        body["meta"] = json!({"count": total});
    }
    Ok(HttpResponse::Ok().json(body))
}

/// The ids a system-API POST created, for the audit trail's "after" state.
#[derive(Debug, Clone)]
pub struct CreatedIds(pub Vec<i64>);

/// A change its handler tells (an import, which touches several kinds of record at once, or
/// a grant made at `/oauth/token`, whose path names no record): what they were and became, for the audit trail's `changes` and the
/// permission-change alert (sent when `alert`).
#[derive(Debug, Clone)]
pub struct Changed {
    pub before: Value,
    pub after: Value,
    pub alert: bool,
    /// The record changed, when the request's path names none (a grant made at
    /// `/oauth/token`).
    pub record: Option<(&'static str, i64)>,
}

pub(crate) fn created(ids: Vec<Value>) -> HttpResponse {
    let numbers = ids.iter().filter_map(|v| v["id"].as_i64()).collect();
    let mut res = HttpResponse::Created().json(json!({"resource": ids}));
    res.extensions_mut().insert(CreatedIds(numbers));
    res
}

pub(crate) fn related_of(q: &[(String, String)]) -> Vec<&str> {
    param(q, "related")
        .map(|r| r.split(',').map(str::trim).collect())
        .unwrap_or_default()
}

pub(crate) fn children<'a>(
    m: &'a Map<String, Value>,
    key: &str,
) -> Result<Vec<&'a Map<String, Value>>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_object()
                    .ok_or_else(|| ApiError::bad_request(format!("'{key}' must hold objects.")))
            })
            .collect(),
        Some(_) => Err(ApiError::bad_request(format!("'{key}' must be an array."))),
    }
}
