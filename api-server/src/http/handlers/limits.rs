//! `/api/v2/system/limit`: rate limits (DreamFactory's fields; `period` as its name, e.g.
//! `"minute"`, or its number). A change holds on the next request of every node.

use serde_json::{Map, Value, json};

use super::body::{bool_field, opt_int_field, opt_str_field, str_field};
use super::resource::Resource;
use crate::http::error::ApiError;
use crate::limits;
use crate::system::limits::{self as limit_store, LimitFields, LimitRecord};
use crate::system::{Store, SystemError, Tx};

/// A limit as the API shows it.
pub(crate) fn limit_json(l: &LimitRecord) -> Value {
    let mut v = serde_json::to_value(l).unwrap_or(Value::Null);
    v["period"] = json!(limits::period_name(l.period));
    v
}

fn fields(m: &Map<String, Value>) -> Result<LimitFields, ApiError> {
    let period = match m.get("period") {
        None | Some(Value::Null) => None,
        Some(v) => Some(limits::period_of(v).ok_or_else(|| {
            ApiError::bad_request(
                "Field 'period' must be one of minute, hour, day, 7-day, 30-day (or 0-4).",
            )
        })?),
    };
    let rate = match m.get("rate") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| {
                    ApiError::bad_request("Field 'rate' must be a positive whole number.")
                })?,
        ),
    };
    Ok(LimitFields {
        kind: str_field(m, "type")?,
        name: str_field(m, "name")?,
        description: opt_str_field(m, "description")?,
        rate,
        period,
        user_id: opt_int_field(m, "user_id")?,
        role_id: opt_int_field(m, "role_id")?,
        app_id: opt_int_field(m, "app_id")?,
        service_id: opt_int_field(m, "service_id")?,
        endpoint: opt_str_field(m, "endpoint")?,
        verb: opt_str_field(m, "verb")?.map(|v| v.map(|v| v.to_ascii_uppercase())),
        is_active: bool_field(m, "is_active")?,
    })
}

/// The limit `f` would make of `base` (or of nothing), checked.
fn checked(base: Option<&LimitRecord>, f: &LimitFields) -> Result<(), ApiError> {
    let mut l = base.cloned().unwrap_or_else(|| LimitRecord {
        rate: 0,
        ..LimitRecord::blank("")
    });
    if let Some(v) = &f.kind {
        l.kind.clone_from(v);
    }
    if let Some(v) = &f.name {
        l.name.clone_from(v);
    }
    if let Some(v) = f.rate {
        l.rate = v;
    }
    for (slot, v) in [
        (&mut l.user_id, f.user_id),
        (&mut l.role_id, f.role_id),
        (&mut l.app_id, f.app_id),
        (&mut l.service_id, f.service_id),
    ] {
        if let Some(v) = v {
            *slot = v;
        }
    }
    if let Some(v) = &f.endpoint {
        l.endpoint.clone_from(v);
    }
    if let Some(v) = &f.verb {
        l.verb.clone_from(v);
    }
    if l.name.trim().is_empty() {
        return Err(ApiError::bad_request("Field 'name' can not be NULL."));
    }
    limits::validate(&l).map_err(ApiError::bad_request)
}

/// Rate limits as a simple resource.
pub struct Limit;

impl Resource for Limit {
    type Record = LimitRecord;
    type Fields = LimitFields;
    const DUPLICATE: &'static str = "A limit with this name already exists.";

    fn json(record: &LimitRecord) -> Value {
        limit_json(record)
    }

    fn fields(
        existing: Option<&LimitRecord>,
        m: &Map<String, Value>,
    ) -> Result<LimitFields, ApiError> {
        let f = fields(m)?;
        checked(existing, &f)?;
        Ok(f)
    }

    async fn list(store: &Store) -> Result<Vec<LimitRecord>, SystemError> {
        limit_store::list(store).await
    }

    async fn get(store: &Store, id: i64) -> Result<LimitRecord, SystemError> {
        limit_store::get(store, id).await
    }

    async fn create(tx: &mut Tx, f: &LimitFields) -> Result<i64, SystemError> {
        limit_store::create(tx, f).await
    }

    async fn update(tx: &mut Tx, id: i64, f: &LimitFields) -> Result<(), SystemError> {
        limit_store::update(tx, id, f).await
    }

    async fn delete(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
        limit_store::delete(tx, id).await
    }
}
