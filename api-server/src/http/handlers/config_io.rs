//! Configuration as code: `GET /api/v2/system/export` writes the services and roles (access
//! rows, field rules, row filters, public lookups) as one JSON document that names services
//! instead of numbering them and holds no secret; `POST /api/v2/system/import` applies such a
//! document, matching by name: new services are connected to before anything is stored,
//! existing ones keep their stored secrets, and a role's access rows and public lookups become
//! exactly the file's. All of it in one transaction: nothing is half-applied.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::body::{children, flag};
use super::system::{
    access_fields, check_service_name, check_service_type, service_json, tested_config,
};
use crate::http::error::ApiError;
use crate::http::guard::SysAdmin;
use crate::state::AppState;
use crate::system::lookups::{self, Owner};
use crate::system::roles::{self, RoleFields};
use crate::system::services::{self as service_store, ServiceFields};

/// The document's format name and version.
const FORMAT: &str = "rampart-config";
const VERSION: i64 = 1;

/// `GET /api/v2/system/export`
pub async fn export(state: web::Data<AppState>, _a: SysAdmin) -> Result<HttpResponse, ApiError> {
    let store = &state.store;
    let services = service_store::list(store).await?;
    let mut names: HashMap<i64, String> = services.iter().map(|s| (s.id, s.name.clone())).collect();
    names.insert(service_store::SYSTEM_ID, "system".into());
    let services: Vec<Value> = services
        .iter()
        .map(|s| {
            let mut v = service_json(s);
            if let Some(o) = v.as_object_mut() {
                o.remove("id");
            }
            v
        })
        .collect();
    let mut out_roles = Vec::new();
    for r in roles::list(store).await? {
        let access: Vec<Value> = roles::access_of(store, r.id)
            .await?
            .iter()
            .map(|a| {
                json!({
                    "service": a.service_id.and_then(|id| names.get(&id).cloned()),
                    "component": a.component, "verb_mask": a.verb_mask,
                    "requestor_mask": a.requestor_mask,
                    "filters": serde_json::from_str::<Value>(&a.filters).unwrap_or(json!([])),
                    "filter_op": a.filter_op,
                    "field_rules": serde_json::from_str::<Value>(&a.field_rules).unwrap_or(json!({})),
                })
            })
            .collect();
        let lookups: Vec<Value> = lookups::of(store, Owner::Role(r.id))
            .await?
            .iter()
            .filter(|l| !l.private)
            .map(|l| json!({"name": l.name, "value": l.value, "description": l.description}))
            .collect();
        out_roles.push(
            json!({"name": r.name, "description": r.description, "is_active": r.is_active,
            "access": access, "lookups": lookups}),
        );
    }
    let doc = json!({
        "format": FORMAT, "version": VERSION,
        "exported_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "services": services, "roles": out_roles,
    });
    Ok(HttpResponse::Ok()
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"rampart-config.json\"",
        ))
        .json(doc))
}

fn text<'a>(m: &'a Map<String, Value>, key: &str, what: &str) -> Result<&'a str, ApiError> {
    m.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("Each {what} needs '{key}'.")))
}

/// `POST /api/v2/system/import[?dry_run=true]`
pub async fn import(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let doc: Map<String, Value> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("The document is not a JSON object: {e}")))?;
    if doc.get("format").and_then(Value::as_str) != Some(FORMAT)
        || doc.get("version").and_then(Value::as_i64) != Some(VERSION)
    {
        return Err(ApiError::bad_request(format!(
            "Not a Rampart configuration: expected \"format\": \"{FORMAT}\", \"version\": {VERSION}."
        )));
    }
    let dry_run = flag(&super::body::query(&req), "dry_run");
    let store = &state.store;

    // Services: checked (and connected to) before anything is written.
    let mut services = Vec::new();
    for m in children(&doc, "services")? {
        let name = text(m, "name", "service")?.to_owned();
        check_service_name(&name)?;
        let kind = text(m, "type", "service")?.to_owned();
        check_service_type(&kind)?;
        let config = match m.get("config") {
            Some(Value::Object(c)) => c.clone(),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Service '{name}' needs a 'config' object."
                )));
            }
        };
        let existing = service_store::find_by_name(store, &name).await?;
        if let Some(e) = &existing
            && e.kind != kind
        {
            return Err(ApiError::bad_request(format!(
                "Service '{name}' is a '{}' here and a '{kind}' in the file; a service's type cannot change.",
                e.kind
            )));
        }
        let sealed = tested_config(&state, &kind, config, existing.as_ref())
            .await
            .map_err(|e| ApiError::bad_request(format!("Service '{name}': {}", e.message)))?;
        let fields = ServiceFields {
            name: Some(name.clone()),
            label: m.get("label").and_then(Value::as_str).map(str::to_owned),
            description: Some(
                m.get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ),
            is_active: m.get("is_active").and_then(Value::as_bool),
            kind: Some(kind),
            config: Some(sealed),
        };
        services.push((name, existing.map(|e| e.id), fields));
    }

    // Roles: every access row and lookup checked before the transaction.
    let mut planned_roles = Vec::new();
    for m in children(&doc, "roles")? {
        let name = text(m, "name", "role")?.to_owned();
        let mut rows = Vec::new();
        for a in children(m, "access")? {
            let service = a.get("service").and_then(Value::as_str).map(str::to_owned);
            let mut shaped = a.clone();
            shaped.remove("service");
            rows.push((service, access_fields(&shaped)?));
        }
        let mut role_lookups = Vec::new();
        for l in children(m, "lookups")? {
            role_lookups.push(super::system::lookup_fields(l)?);
        }
        let fields = RoleFields {
            name: Some(name.clone()),
            description: Some(
                m.get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ),
            is_active: m.get("is_active").and_then(Value::as_bool),
        };
        planned_roles.push((name, fields, rows, role_lookups));
    }

    let known_roles: HashMap<String, i64> = roles::list(store)
        .await?
        .into_iter()
        .map(|r| (r.name, r.id))
        .collect();
    // What the records the import changes were, for the audit trail.
    let before = if dry_run {
        Value::Null
    } else {
        let existing_services: Vec<i64> = services.iter().filter_map(|s| s.1).collect();
        let existing_roles: Vec<i64> = planned_roles
            .iter()
            .filter_map(|(name, ..)| known_roles.get(name).copied())
            .collect();
        snapshots(store, &existing_services, &existing_roles).await
    };
    let mut tx = store.begin().await?;
    let mut ids: HashMap<String, i64> = service_store::list(store)
        .await?
        .into_iter()
        .map(|s| (s.name, s.id))
        .collect();
    ids.insert("system".into(), service_store::SYSTEM_ID);
    let (mut created, mut updated) = (Vec::new(), Vec::new());
    // What the import touches, by id, for the audit trail's before and after.
    let (mut touched_services, mut touched_roles) = (Vec::new(), Vec::new());
    for (name, existing, fields) in &services {
        match existing {
            Some(id) => {
                service_store::update(&mut tx, *id, fields).await?;
                updated.push(json!({"service": name}));
                touched_services.push(*id);
            }
            None => {
                let id = service_store::create(&mut tx, fields).await?;
                ids.insert(name.clone(), id);
                created.push(json!({"service": name}));
                touched_services.push(id);
            }
        }
    }
    for (name, fields, rows, role_lookups) in planned_roles {
        let id = match known_roles.get(&name) {
            Some(id) => {
                roles::update(&mut tx, *id, &fields).await?;
                for a in roles::access_of_tx(&mut tx, *id).await? {
                    roles::delete_access(&mut tx, *id, a.id).await?;
                }
                for l in lookups::of_tx(&mut tx, Owner::Role(*id)).await? {
                    if !l.private {
                        lookups::delete_in(&mut tx, Owner::Role(*id), l.id).await?;
                    }
                }
                updated.push(json!({"role": name}));
                *id
            }
            None => {
                created.push(json!({"role": name}));
                roles::create(&mut tx, &fields).await?
            }
        };
        touched_roles.push(id);
        for (service, mut access) in rows {
            access.service_id = match service {
                None => None,
                Some(s) => Some(*ids.get(&s).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Role '{name}' names service '{s}', which is neither here nor in the file."
                    ))
                })?),
            };
            roles::add_access(&mut tx, id, &access).await?;
        }
        for l in &role_lookups {
            lookups::add(&mut tx, Owner::Role(id), l).await?;
        }
    }
    let summary = json!({"dry_run": dry_run, "created": created, "updated": updated});
    if dry_run {
        // Everything was checked and written inside the transaction; it is not committed.
        drop(tx);
        return Ok(HttpResponse::Ok().json(summary));
    }
    tx.commit().await?;
    for (_, existing, _) in &services {
        if let Some(id) = existing {
            state.services.evict(*id).await;
        }
    }
    state.changed().await;
    let after = snapshots(store, &touched_services, &touched_roles).await;
    let mut res = HttpResponse::Ok().json(summary);
    res.extensions_mut().insert(super::body::Changed {
        before,
        after,
        alert: !(touched_services.is_empty() && touched_roles.is_empty()),
        record: None,
    });
    Ok(res)
}

/// The services and roles with these ids as the system API shows them (secrets never
/// included), as an import's before or after.
async fn snapshots(store: &crate::system::Store, services: &[i64], roles: &[i64]) -> Value {
    let mut out = json!({"services": [], "roles": []});
    for (key, resource, ids) in [("services", "service", services), ("roles", "role", roles)] {
        for id in ids {
            if let (Some(list), Some(s)) = (
                out[key].as_array_mut(),
                super::system::snapshot(store, resource, *id).await,
            ) {
                list.push(s);
            }
        }
    }
    out
}
