//! Access review: for a role, what it can reach (each access row: service, component, verbs,
//! row filters, field rules), who holds it (users per app, apps by default, and the identity
//! providers that map groups, apps or everyone they sign in to it), and when each
//! verb of each row was last used according to the audit trail; the verbs unused in the
//! review period are the privileges to consider removing.
//!
//! A request counts for the rows DreamFactory's precedence would have used for it: the rows of
//! the first matching tier (exact, wildcard, service-wide, all services) that grant its verb.
//!
//! What a role reaches includes what no row names: the records of tables related to a table it
//! reads, embedded through `related` when no rule of the role covers the related table
//! (`related_reach`). The review lists them, so that an access review sees every table the
//! role can read.

use std::collections::HashMap;
use std::sync::Arc;

use rampart_schema::SchemaModel;

use serde_json::{Value, json};

use crate::config::Limits;
use crate::rbac::CompiledRole;
use crate::rbac::component::{Tier, normalise, tier};
use crate::rbac::verbs::REQUESTOR_API;
use crate::rbac::verbs::Verb;
use crate::services::Registry;
use crate::system::audit::Usage;
use crate::system::crypto::MasterKey;
use crate::system::roles::AccessRecord;
use crate::system::services::ServiceRecord;
use crate::system::{Store, SystemError};

/// When each (access row, verb) was last used: row id → verb → unix microseconds.
#[must_use]
pub fn last_use(
    rows: &[AccessRecord],
    services: &HashMap<String, i64>,
    usage: &[Usage],
) -> HashMap<(i64, Verb), i64> {
    let mut out: HashMap<(i64, Verb), i64> = HashMap::new();
    for u in usage {
        let Some(verb) = Verb::parse(&u.method) else {
            continue;
        };
        let Some(service_id) = u.service.as_ref().and_then(|s| services.get(s)) else {
            continue;
        };
        let component = normalise(u.resource.as_deref().unwrap_or_default());
        let matching: Vec<(Tier, &AccessRecord)> = rows
            .iter()
            .filter(|r| r.verb_mask & verb.bit() != 0)
            .filter_map(|r| {
                tier(r.service_id, &r.component, *service_id, component).map(|t| (t, r))
            })
            .collect();
        let Some(best) = matching.iter().map(|(t, _)| *t).min() else {
            continue;
        };
        for (_, r) in matching.iter().filter(|(t, _)| *t == best) {
            let last = out.entry((r.id, verb)).or_insert(u.last);
            *last = (*last).max(u.last);
        }
    }
    out
}

fn time(micros: i64) -> Value {
    chrono::DateTime::from_timestamp_micros(micros).map_or(Value::Null, |t| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    })
}

/// A database service's name, id and schema, for `related_reach`.
pub struct ServiceSchema {
    pub id: i64,
    pub name: String,
    pub schema: Arc<SchemaModel>,
}

/// The schemas of the active database services (connecting through `registry` when needed).
/// A service that cannot be reached is left out, with a warning: its relationships are then
/// missing from the review, which says nothing else about it.
pub async fn schemas(
    registry: &Registry,
    services: &[ServiceRecord],
    key: &MasterKey,
    limits: &Limits,
) -> Vec<ServiceSchema> {
    let mut out = Vec::new();
    for s in services.iter().filter(|s| s.is_active && s.is_database()) {
        match registry.get(s, key, limits).await {
            Ok(h) => out.push(ServiceSchema {
                id: s.id,
                name: s.name.clone(),
                schema: h.schema(),
            }),
            Err(e) => {
                tracing::warn!(service = %s.name, error = %e, "service left out of the access review's relationships");
            }
        }
    }
    out
}

/// A table a role reads only embedded in the records of a table it reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reach {
    pub service: String,
    /// The table the role reads.
    pub table: String,
    pub relationship: String,
    /// The related table, read without rules of its own.
    pub reaches: String,
}

/// The tables `role` reads only embedded in the records of a table it reads (through
/// `related`, as API calls). Tables a rule of the role covers are not listed: their own rule
/// decides.
#[must_use]
pub fn related_reach(role: &CompiledRole, services: &[ServiceSchema]) -> Vec<Reach> {
    let mut out = Vec::new();
    if !role.is_active {
        return out;
    }
    for s in services {
        for table in &s.schema.tables {
            if role
                .table_rules(s.id, &table.api_name, Verb::Get, REQUESTOR_API)
                .is_none()
            {
                continue;
            }
            for r in &table.relations {
                if role.reached_only_as_related(s.id, &r.ref_table, REQUESTOR_API) {
                    out.push(Reach {
                        service: s.name.clone(),
                        table: table.api_name.clone(),
                        relationship: r.name.clone(),
                        reaches: r.ref_table.clone(),
                    });
                }
            }
        }
    }
    out
}

/// The review of role `id` over the last `days` days; `services` are the database services
/// whose schemas tell what the role reaches through relationships.
pub async fn of_role(
    store: &Store,
    id: i64,
    days: u32,
    services: &[ServiceSchema],
) -> Result<Value, SystemError> {
    let role = crate::system::roles::get(store, id).await?;
    let rows = crate::system::roles::access_of(store, id).await?;
    let related = related_reach(&CompiledRole::compile(&role, &rows), services);
    let all_services = crate::system::services::list(store).await?;
    let system = (crate::system::services::SYSTEM_ID, "system".to_owned());
    let names: HashMap<i64, String> = all_services
        .iter()
        .map(|s| (s.id, s.name.clone()))
        .chain([system.clone()])
        .collect();
    let ids: HashMap<String, i64> = all_services
        .iter()
        .map(|s| (s.name.clone(), s.id))
        .chain([(system.1, system.0)])
        .collect();
    let since = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    let usage = crate::system::audit::usage_of_role(store, id, since.timestamp_micros()).await?;
    let last = last_use(&rows, &ids, &usage);

    let mut permissions = Vec::new();
    let mut unused = Vec::new();
    for r in &rows {
        let service = r.service_id.map_or_else(
            || "*".to_owned(),
            |s| names.get(&s).cloned().unwrap_or_default(),
        );
        let verbs: Vec<Value> = Verb::in_mask(r.verb_mask)
            .map(|v| {
                let used = last.get(&(r.id, v)).copied();
                if used.is_none() {
                    unused.push(json!({"access_id": r.id, "service": service, "component": r.component, "verb": v.to_string()}));
                }
                json!({"verb": v.to_string(), "last_used": used.map(time), "unused": used.is_none()})
            })
            .collect();
        let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
        permissions.push(json!({
            "access_id": r.id, "service": service, "component": r.component, "verbs": verbs,
            "row_filters": parse(&r.filters), "filter_op": r.filter_op,
            "field_rules": parse(&r.field_rules),
        }));
    }

    let holders = crate::system::app_roles::holding(store, id).await?;
    let mut users = Vec::new();
    for h in &holders {
        let email = crate::system::users::get_user(store, h.user_id)
            .await
            .map(|u| u.email)
            .ok();
        users.push(json!({"user_id": h.user_id, "email": email, "app_id": h.app_id}));
    }
    let apps: Vec<Value> = crate::system::apps::list(store)
        .await?
        .into_iter()
        .filter(|a| a.role_id == Some(id))
        .map(|a| json!({"app_id": a.id, "name": a.name, "is_active": a.is_active}))
        .collect();
    let providers = provider_holders(&all_services, id);
    Ok(json!({
        "role": {"id": role.id, "name": role.name, "is_active": role.is_active},
        "days": days,
        "reviewed_at": time(chrono::Utc::now().timestamp_micros()),
        "holders": {"users": users, "apps": apps, "providers": providers},
        "permissions": permissions,
        "related_reach": related,
        "unused": unused,
    }))
}

/// The identity providers that give the role to the people they sign in: the groups mapped
/// to it, the apps whose callers it is given to, and whether it is the default (everyone the
/// provider signs in who matches nothing else).
fn provider_holders(services: &[ServiceRecord], role_id: i64) -> Vec<Value> {
    services
        .iter()
        .filter(|s| crate::identity::PROVIDER_TYPES.contains(&s.kind.as_str()))
        .filter_map(|s| {
            let mapping =
                crate::identity::mapping::RoleMapping::from_config(&s.config_map()).ok()?;
            let groups: Vec<&str> = mapping
                .groups
                .iter()
                .filter(|(_, r)| *r == role_id)
                .map(|(g, _)| g.as_str())
                .collect();
            let apps: Vec<i64> = mapping
                .apps
                .iter()
                .filter(|(_, r)| *r == role_id)
                .map(|(a, _)| *a)
                .collect();
            let default = mapping.default_role == Some(role_id);
            (default || !groups.is_empty() || !apps.is_empty()).then(|| {
                json!({
                    "service_id": s.id, "service": s.name, "type": s.kind,
                    "is_active": s.is_active, "groups": groups, "apps": apps,
                    "default": default,
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, service: Option<i64>, component: &str, mask: i64) -> AccessRecord {
        AccessRecord::example(id, service, component, mask)
    }

    fn used(resource: &str, method: &str, last: i64) -> Usage {
        Usage {
            service: Some("db".into()),
            resource: Some(resource.into()),
            method: method.into(),
            last,
        }
    }

    #[test]
    fn a_request_credits_the_rows_of_the_tier_that_granted_it() {
        let rows = [
            row(1, Some(9), "_table/orders/*", 1 | 2),
            row(2, Some(9), "*", 1),
            row(3, None, "*", 1),
        ];
        let services = HashMap::from([("db".to_owned(), 9)]);
        let usage = [
            used("_table/orders/5", "GET", 10),
            used("_table/orders", "GET", 20),
            used("_table/customers", "GET", 30),
        ];
        let last = last_use(&rows, &services, &usage);
        assert_eq!(last.get(&(1, Verb::Get)), Some(&20));
        assert_eq!(last.get(&(1, Verb::Post)), None, "never posted");
        assert_eq!(
            last.get(&(2, Verb::Get)),
            Some(&30),
            "customers: service-wide row"
        );
        assert_eq!(
            last.get(&(3, Verb::Get)),
            None,
            "a closer tier granted every request"
        );
    }
}
