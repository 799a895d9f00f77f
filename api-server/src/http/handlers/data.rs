//! Database service endpoints: `/api/v2/{service}[/{resource}]`. Each request runs the
//! pipeline in order — parse (`ApiRequest`), authenticate (`Caller`), authorize (`Permit`),
//! plan, execute, render — and nothing reaches SQL without a permit.

use std::sync::Arc;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use rampart_schema::{FunctionKind, SchemaModel, Table};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::http::envelope;
use crate::http::error::{ApiError, ErrorKind};
use crate::http::guard::{Caller, note_rows};
use crate::http::schema_json;
use crate::openapi;
use crate::query::exec::{self, DbSession};
use crate::query::plan::{self, ReadContext, View};
use crate::rbac::TableRules;
use crate::rbac::verbs::REQUESTOR_API;
use crate::rbac::{self, Access, CompiledRole, Permit, Verb};
use crate::request::{ApiRequest, ParseLimits, RawRequest, Resource, RoutineFamily};
use crate::services::ServiceHandle;
use crate::state::AppState;

/// Parse limits from the config.
pub fn parse_limits(state: &AppState) -> ParseLimits {
    let l = &state.config.limits;
    ParseLimits {
        filter: crate::filter::Limits {
            max_length: l.filter_max_length,
            max_depth: l.filter_max_depth,
            max_list: l.max_list,
            ..crate::filter::Limits::default()
        },
        max_list: l.max_list,
    }
}

/// The framework-free copy of a request.
pub fn raw_request(
    req: &HttpRequest,
    resource_path: &str,
    body: &[u8],
) -> Result<RawRequest, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!("The request body is not valid JSON: {e}"))
        })?)
    };
    let header = |name: &actix_web::http::header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Ok(RawRequest {
        method: req.method().as_str().to_owned(),
        resource_path: resource_path.to_owned(),
        query: url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect(),
        method_override: crate::http::names::METHOD_OVERRIDES.iter().find_map(header),
        body,
    })
}

/// What a principal may see of one service: the planner's `View`.
struct RoleView<'a> {
    role: &'a CompiledRole,
    service_id: i64,
    principal: &'a Principal,
    /// Global and role lookups (cached per role).
    lookups: Arc<Vec<(String, String)>>,
}

impl View for RoleView<'_> {
    fn write_rules(&self, table: &Table, verb: Verb) -> Option<TableRules> {
        self.role
            .table_rules(self.service_id, &table.api_name, verb, REQUESTOR_API)
    }

    fn read_rules(&self, table: &Table) -> Option<TableRules> {
        self.role
            .table_rules(self.service_id, &table.api_name, Verb::Get, REQUESTOR_API)
    }

    fn related_rules(&self, table: &Table) -> Option<TableRules> {
        self.role
            .related_rules(self.service_id, &table.api_name, REQUESTOR_API)
    }

    /// Built-in lookups first (a custom lookup cannot pose as `{user.id}`), then custom ones.
    fn lookup(&self, name: &str) -> Option<String> {
        let user = self.principal.user.as_ref();
        match name {
            "role.id" => Some(self.role.id.to_string()),
            "role.name" => Some(self.role.name.clone()),
            "app.id" => self.principal.app.as_ref().map(|a| a.id.to_string()),
            "user.id" => user.map(|u| u.id.to_string()),
            claim if claim.starts_with("user.claims.") => {
                let value = self
                    .principal
                    .claims
                    .as_ref()?
                    .get(&claim["user.claims.".len()..])?;
                match value {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    // Lists, objects and null are no single value to compare with.
                    _ => None,
                }
            }
            "user.email" => user.map(|u| u.email.clone()),
            "user.name" => user.map(|u| u.name.clone()),
            _ if name.starts_with("user.")
                || name.starts_with("role.")
                || name.starts_with("app.") =>
            {
                None
            }
            _ => self
                .lookups
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone()),
        }
    }
}

/// Why a caller may not write or call functions whatever its role, if it may not: a grant
/// without `mcp:write`, a read-only app key, or a request that made itself read-only.
fn read_only_reason(principal: &Principal, self_restricted: bool) -> Option<&'static str> {
    if principal.read_only {
        return Some(
            "This token was granted read access only (scope mcp:read): it may not write or call functions.",
        );
    }
    if self_restricted || principal.app.as_ref().is_some_and(|a| a.read_only) {
        return Some("This app's API key is read-only: it may not write or call functions.");
    }
    None
}

/// A request header by which a client makes its own request read-only.
pub const READ_ONLY_HEADER: &str = "x-rampart-read-only";

/// `/api/v2/{service}` and `/api/v2/{service}/{resource…}`.
pub async fn service_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let (service_name, tail) = crate::request::service_path(req.path())
        .ok_or_else(|| ApiError::not_found("Resource not found."))?;
    let raw = raw_request(&req, &tail, &body)?;
    // A client may also restrict itself (the MCP bridge in read-only mode does): the header
    // can only take rights away.
    let self_restricted = req
        .headers()
        .get(READ_ONLY_HEADER)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    serve(
        &state,
        &req,
        &service_name,
        &raw,
        caller.require()?,
        self_restricted,
    )
    .await
}

/// The pipeline after authentication: one request to one service, as `principal`. Both the
/// REST API and the console's "see as this role" preview run through here.
pub async fn serve(
    state: &AppState,
    req: &HttpRequest,
    service_name: &str,
    raw: &RawRequest,
    principal: &Principal,
    self_restricted: bool,
) -> Result<HttpResponse, ApiError> {
    // Before anything the answer depends on is loaded (the service, the role's rules, the
    // lookups): see `cache::ResponseCache::epoch`.
    let cache_epoch = state.responses.epoch();
    let api = ApiRequest::parse(raw, &parse_limits(state))?;
    if !api.params.from_body.is_empty()
        && let Some(note) = req.extensions().get::<Arc<crate::audit::Note>>()
    {
        note.update(|n| n.body_params.clone_from(&api.params.from_body));
    }
    let record = state
        .service_by_name(service_name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Service '{service_name}' not found.")))?;
    let role = match (principal.role_id, &principal.no_role_reason) {
        (Some(id), _) => state.compiled_role(id).await?,
        (None, Some(reason)) => return Err(ApiError::new(ErrorKind::Forbidden, reason.clone())),
        (None, None) => None,
    };
    let component = api.resource.component();
    let writes = api.verb != Verb::Get || matches!(api.resource, Resource::Routine(..));
    if writes && let Some(why) = read_only_reason(principal, self_restricted) {
        return Err(ApiError::new(ErrorKind::Forbidden, why));
    }
    let permit = rbac::authorize(
        role.as_deref(),
        &Access {
            service_id: record.id,
            service_name: &record.name,
            component: &component,
            table: api.resource.table(),
            verb: api.verb,
            requestor: REQUESTOR_API,
        },
    )?;
    let role = role.ok_or(rbac::Denied::NoRole)?;
    let handle = state
        .services
        .get(&record, &state.master_key, &state.config.limits)
        .await?;
    let schema = if api.params.refresh {
        handle.refresh().await?
    } else {
        handle.schema()
    };
    let view = RoleView {
        role: &role,
        service_id: record.id,
        principal,
        lookups: state
            .lookups_for(role.id, principal.user.as_ref().map(|u| u.id))
            .await?,
    };
    let session = db_session(&handle, principal, &role);
    let ctx = Ctx {
        cache_epoch,
        session: &session,
        state,
        handle: &handle,
        schema: &schema,
        role: &role,
        view: &view,
        permit: &permit,
        req,
    };
    let answer = match (&api.resource, api.verb) {
        (Resource::Root, Verb::Get) => Ok(ctx.root()),
        (Resource::TableList | Resource::SchemaList, Verb::Get) => Ok(ctx.table_list(&api)),
        (Resource::Table(t), Verb::Get) => ctx.cached_read(&api, t, None).await,
        (Resource::Record(t, id), Verb::Get) => ctx.cached_read(&api, t, Some(id)).await,
        (Resource::Schema(t), Verb::Get) => ctx.table_schema(t),
        (Resource::RoutineList(family), Verb::Get) => Ok(ctx.routine_list(*family, &api)),
        (Resource::Spec, Verb::Get) => Ok(ctx.spec()),
        (Resource::Table(t), verb) => ctx.write(&api, t, None, verb).await,
        (Resource::Record(t, id), verb) => ctx.write(&api, t, Some(id), verb).await,
        (Resource::Routine(family, name, inline), Verb::Get | Verb::Post) => {
            ctx.call(&api, *family, name, inline.as_deref()).await
        }
        (_, verb) => Err(ApiError::new(
            ErrorKind::MethodNotAllowed,
            format!("{verb} is not allowed on '{component}'."),
        )),
    };
    if writes {
        // Whatever was cached for this service before the write is not served after it, here
        // or on another node.
        state.responses.written(record.id);
        if handle.cache.is_some() {
            state.announce_write(record.id);
        }
    }
    answer
}

/// The database session of a request: the mapped database role and, when the service asks
/// for it (or maps the role), the principal as settings for native row-level security.
fn db_session(handle: &ServiceHandle, principal: &Principal, role: &CompiledRole) -> DbSession {
    let db_role = handle.db_roles.get(&role.name);
    if db_role.is_none() && !handle.expose_principal {
        return DbSession::default();
    }
    let user_id = principal
        .user
        .as_ref()
        .map(|u| u.id.to_string())
        .unwrap_or_default();
    let email = principal
        .user
        .as_ref()
        .map(|u| u.email.clone())
        .unwrap_or_default();
    let app_id = principal
        .app
        .as_ref()
        .map(|a| a.id.to_string())
        .unwrap_or_default();
    let mut claims = json!({"sub": user_id, "email": email, "role": role.name, "role_id": role.id, "app_id": app_id});
    if let Some(external) = &principal.claims {
        claims["claims"] = Value::Object((**external).clone());
    }
    let mut settings = vec![
        ("rampart.user_id".to_owned(), user_id),
        ("rampart.user_email".to_owned(), email),
        ("rampart.role".to_owned(), role.name.clone()),
        ("rampart.role_id".to_owned(), role.id.to_string()),
        ("rampart.app_id".to_owned(), app_id),
        ("request.jwt.claims".to_owned(), claims.to_string()),
    ];
    if let Some(r) = db_role {
        settings.push(("role".to_owned(), r.clone()));
    }
    DbSession { settings }
}

struct Ctx<'a> {
    cache_epoch: u64,
    session: &'a DbSession,
    state: &'a AppState,
    handle: &'a Arc<ServiceHandle>,
    schema: &'a SchemaModel,
    role: &'a CompiledRole,
    view: &'a RoleView<'a>,
    permit: &'a Permit,
    req: &'a HttpRequest,
}

impl Ctx<'_> {
    /// A read, answered from the response cache when the service keeps this table's answers
    /// (keyed by who asks and what, see `crate::cache`).
    async fn cached_read(
        &self,
        api: &ApiRequest,
        table: &str,
        id: Option<&str>,
    ) -> Result<HttpResponse, ApiError> {
        use actix_web::body::{BodySize, MessageBody};
        // A read that sends parameters in its body (a GET with one, or tunnelled through POST)
        // is not what its URL says: it is never cached, nor answered from the cache.
        let Some(policy) = self
            .handle
            .cache
            .as_ref()
            .filter(|p| p.covers(table) && api.body.is_none())
        else {
            return self.read(api, table, id).await;
        };
        let p = self.view.principal;
        let claims = p
            .claims
            .as_ref()
            .map(|c| {
                crate::system::crypto::sha256_hex(
                    Value::Object((**c).clone()).to_string().as_bytes(),
                )
            })
            .unwrap_or_default();
        let who = format!(
            "{}:{}:{}:{claims}",
            self.role.id,
            p.user.as_ref().map_or(0, |u| u.id),
            p.app.as_ref().map_or(0, |a| a.id)
        );
        let cache = &self.state.responses;
        let key = cache.key(
            self.handle.id,
            self.cache_epoch,
            &who,
            &crate::cache::normalised(self.req.path(), self.req.query_string()),
        );
        if let Some(hit) = cache.get(&key).await {
            if let Some(rows) = hit.rows {
                note_rows(self.req, rows);
            }
            return Ok(HttpResponse::Ok()
                .insert_header(("Content-Type", hit.content_type.as_str()))
                .insert_header(("X-Rampart-Cache", "hit"))
                .body(hit.body.clone()));
        }
        let res = self.read(api, table, id).await?;
        let small = matches!(res.body().size(), BodySize::Sized(n) if usize::try_from(n).is_ok_and(|n| n <= crate::cache::MAX_ENTRY));
        if res.status() != actix_web::http::StatusCode::OK || !small {
            return Ok(res);
        }
        let content_type = res
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        let (mut head, body) = res.into_parts();
        let bytes = actix_web::body::to_bytes(body).await.map_err(|_| {
            ApiError::internal(&std::io::Error::other("an answer could not be read back"))
        })?;
        let rows = self
            .req
            .extensions()
            .get::<Arc<crate::audit::Note>>()
            .and_then(|n| n.read().rows);
        cache
            .put(
                key,
                crate::cache::Cached {
                    body: bytes.clone(),
                    content_type,
                    rows,
                    expires: std::time::Instant::now() + policy.ttl,
                },
            )
            .await;
        head.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-rampart-cache"),
            actix_web::http::header::HeaderValue::from_static("miss"),
        );
        Ok(head.set_body(bytes.boxed()))
    }

    fn not_found(name: &str) -> ApiError {
        ApiError::not_found(format!("Table \"{name}\" does not exist in the database."))
    }

    /// The addressed table and the permit's rules for it.
    fn table(&self, name: &str) -> Result<(&Table, &TableRules), ApiError> {
        let rules = self
            .permit
            .table_rules()
            .ok_or_else(|| Self::not_found(name))?;
        let table = self
            .schema
            .table(name)
            .ok_or_else(|| Self::not_found(name))?;
        Ok((table, rules))
    }

    /// The planning context of a table request.
    fn context<'t>(&'t self, table: &'t Table, rules: &'t TableRules) -> ReadContext<'t> {
        ReadContext {
            schema: self.schema,
            table,
            rules,
            view: self.view,
            max_records: self.handle.max_records,
            mask_salt: &self.state.mask_salt,
        }
    }

    /// A table's schema as the role reads it (hidden fields absent, masked ones marked).
    fn schema_of(&self, t: &Table, rules: &TableRules) -> Value {
        schema_json::table(t, rules, &|r| {
            self.schema
                .table(&r.ref_table)
                .is_some_and(|rt| self.view.related_rules(rt).is_some())
        })
    }

    fn root(&self) -> HttpResponse {
        let service = self.handle.id;
        let visible: Vec<Value> = ["_schema", "_table", "_proc", "_func", "_spec"]
            .iter()
            .filter(|r| match **r {
                "_table" | "_schema" => !self
                    .role
                    .visible_tables(service, self.schema, REQUESTOR_API)
                    .is_empty(),
                "_proc" | "_func" => !self
                    .routines(if **r == "_proc" {
                        RoutineFamily::Proc
                    } else {
                        RoutineFamily::Func
                    })
                    .is_empty(),
                _ => true,
            })
            .map(|r| json!({"name": r}))
            .collect();
        HttpResponse::Ok().json(json!({"resource": visible}))
    }

    fn table_list(&self, api: &ApiRequest) -> HttpResponse {
        let tables = self
            .role
            .visible_tables(self.handle.id, self.schema, REQUESTOR_API);
        let tables = tables.into_iter().filter(|(t, _)| {
            api.params
                .ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&t.api_name))
        });
        let resource: Vec<Value> = if api.params.as_list {
            tables.map(|(t, _)| json!(t.api_name)).collect()
        } else {
            tables
                .map(|(t, mask)| schema_json::table_entry(t, mask))
                .collect()
        };
        HttpResponse::Ok().json(json!({"resource": resource}))
    }

    fn table_schema(&self, name: &str) -> Result<HttpResponse, ApiError> {
        let t = self
            .schema
            .table(name)
            .ok_or_else(|| Self::not_found(name))?;
        let rules = self
            .view
            .read_rules(t)
            .ok_or_else(|| Self::not_found(name))?;
        Ok(HttpResponse::Ok().json(self.schema_of(t, &rules)))
    }

    fn routines(&self, family: RoutineFamily) -> Vec<&rampart_schema::Function> {
        let kind = if family == RoutineFamily::Proc {
            FunctionKind::Procedure
        } else {
            FunctionKind::Function
        };
        self.schema
            .functions
            .iter()
            .filter(|f| {
                f.kind == kind
                    && self.role.routine_mask(
                        self.handle.id,
                        family.segment(),
                        &f.api_name,
                        REQUESTOR_API,
                    ) != 0
            })
            .collect()
    }

    fn routine_list(&self, family: RoutineFamily, api: &ApiRequest) -> HttpResponse {
        let list = self.routines(family);
        let resource: Vec<Value> = if api.params.as_list {
            list.iter().map(|f| json!(f.api_name)).collect()
        } else {
            list.iter()
                .map(|f| {
                    json!({
                        "name": f.api_name,
                        "label": schema_json::label(&f.api_name),
                        "returns": f.return_type,
                        "returns_set": f.returns_set,
                        "params": f.args.iter().map(|a| json!({"name": a.name, "type": a.sql_type, "param_type": format!("{:?}", a.mode).to_uppercase(), "has_default": a.has_default})).collect::<Vec<_>>(),
                    })
                })
                .collect()
        };
        HttpResponse::Ok().json(json!({"resource": resource}))
    }

    fn spec(&self) -> HttpResponse {
        let views = self
            .role
            .table_views(self.handle.id, self.schema, REQUESTOR_API);
        let tables: Vec<(&Table, i64)> = views.iter().map(|(t, m)| (t, *m)).collect();
        let schema_readable = self.role.schema_readable(
            self.handle.id,
            views.iter().map(|(t, _)| t.api_name.as_str()),
            REQUESTOR_API,
        );
        let procs = self.routines(RoutineFamily::Proc);
        let funcs = self.routines(RoutineFamily::Func);
        let doc = openapi::service_document(
            &openapi::ServiceDoc {
                name: &self.handle.name,
                label: &self.handle.label,
                description: self.handle.description.as_deref(),
            },
            self.schema,
            &tables,
            &schema_readable,
            &procs,
            &funcs,
        );
        HttpResponse::Ok().json(doc)
    }

    async fn call(
        &self,
        api: &ApiRequest,
        family: RoutineFamily,
        name: &str,
        inline: Option<&[String]>,
    ) -> Result<HttpResponse, ApiError> {
        use crate::query::routine::{body_args, plan_call};
        let kind = if family == RoutineFamily::Proc {
            FunctionKind::Procedure
        } else {
            FunctionKind::Function
        };
        let what = if family == RoutineFamily::Proc {
            "Procedure"
        } else {
            "Function"
        };
        let f = self
            .schema
            .function(name)
            .filter(|f| f.kind == kind)
            .ok_or_else(|| {
                ApiError::not_found(format!("{what} '{name}' does not exist in the database."))
            })?;
        let mut named = body_args(api.body.as_ref());
        for (k, v) in url::form_urlencoded::parse(self.req.query_string().as_bytes()) {
            if f.args.iter().any(|a| a.name == k) {
                named.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
        let plan = plan_call(f, &named, inline)?;
        Ok(
            match exec::call(&self.handle.pool, self.session, &plan).await? {
                exec::CallResult::Rows(rows) => {
                    note_rows(self.req, rows.len() as i64);
                    envelope::records(&rows)
                }
                exec::CallResult::Scalar(value) => envelope::raw_json(value),
                exec::CallResult::Nothing => HttpResponse::Ok().json(json!({"success": true})),
                exec::CallResult::OutArgs(object) => envelope::raw_json(object),
            },
        )
    }

    async fn write(
        &self,
        api: &ApiRequest,
        table: &str,
        id: Option<&str>,
        verb: Verb,
    ) -> Result<HttpResponse, ApiError> {
        use crate::query::write::{WriteKind, plan_write};
        let (t, rules) = self.table(table)?;
        let ctx = self.context(t, rules);
        let kind = match verb {
            Verb::Post => WriteKind::Create,
            Verb::Put | Verb::Patch => WriteKind::Update,
            Verb::Delete => WriteKind::Delete,
            Verb::Get => {
                return Err(ApiError::new(
                    ErrorKind::Internal,
                    "a read routed as a write",
                ));
            }
        };
        // With `related`, the write returns keys and the records are read back afterwards
        // through the read pipeline (GET rules, each related table with its own).
        let read_back = !api.params.related.is_empty() && kind != WriteKind::Delete;
        let mut p = api.params.clone();
        if read_back {
            p.fields = None;
            p.fields_star = false;
        }
        let (write_plan, refused) = plan_write(
            &ctx,
            self.handle.allow_upsert,
            kind,
            &p,
            api.body.as_ref(),
            id,
        )?;
        let single_op = write_plan.ops.len() == 1;
        let outcome = exec::write(&self.handle.pool, self.session, &write_plan, refused).await?;
        let written: usize = outcome.results.iter().flatten().map(Vec::len).sum();
        note_rows(self.req, written as i64);
        if outcome.results.iter().any(Result::is_err) && !single_op {
            return envelope::batch(outcome, kind, write_plan.mode);
        }
        let mut records = Vec::new();
        for result in outcome.results {
            records.extend(result?);
        }
        if read_back {
            records = self.read_back(api, t, &records).await?;
        }
        if write_plan.single {
            return Ok(envelope::raw_json(
                records.into_iter().next().unwrap_or_else(|| "{}".into()),
            ));
        }
        Ok(envelope::records(&records))
    }

    /// Reads written records again (by their keys) with `fields` and `related`, as a GET would.
    async fn read_back(
        &self,
        api: &ApiRequest,
        t: &Table,
        written: &[String],
    ) -> Result<Vec<String>, ApiError> {
        let rules = self.view.read_rules(t).ok_or_else(|| {
            ApiError::new(
                ErrorKind::Forbidden,
                "`related` on a write needs GET access to the table.",
            )
        })?;
        let keys = plan::key_columns(t, api.params.id_field.as_deref())?;
        let [key] = keys.as_slice() else {
            return Err(ApiError::bad_request(
                "`related` on a write needs a single-column key.",
            ));
        };
        let ids: Vec<String> = written
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(r).ok())
            .filter_map(|r| match r.get(&key.name)? {
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            })
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = crate::request::ReadParams {
            ids: Some(ids),
            ..crate::request::ReadParams::default()
        };
        params.fields.clone_from(&api.params.fields);
        params.related.clone_from(&api.params.related);
        params.id_field.clone_from(&api.params.id_field);
        let ctx = self.context(t, &rules);
        let read_plan = plan::plan_read(&ctx, &params, None)?;
        Ok(exec::read(&self.handle.pool, self.session, &read_plan)
            .await?
            .records
            .into_vec())
    }

    async fn read(
        &self,
        api: &ApiRequest,
        table: &str,
        id: Option<&str>,
    ) -> Result<HttpResponse, ApiError> {
        let (t, rules) = self.table(table)?;
        let ctx = self.context(t, rules);
        let mut params = api.params.clone();
        if params.as_list {
            params.fields = Some(
                plan::key_columns(t, params.id_field.as_deref())?
                    .iter()
                    .map(|c| crate::request::FieldSelector::Column(c.name.clone()))
                    .collect(),
            );
            params.related.clear();
        }
        let read_plan = plan::plan_read(&ctx, &params, id)?;
        let pool = &self.handle.pool;
        if params.count_only {
            let n = exec::count(pool, self.session, &read_plan).await?;
            return Ok(HttpResponse::Ok().json(n));
        }
        if id.is_none() && params.ids.is_none() && read_plan.limit > exec::STREAM_FROM_ROWS {
            let count = if params.include_count {
                Some(exec::count(pool, self.session, &read_plan).await?)
            } else {
                None
            };
            let schema = params.include_schema.then(|| self.schema_of(t, rules));
            let mut rx = exec::read_streamed(pool, self.session, &read_plan);
            let first = match rx.recv().await {
                Some(first) => first?,
                None => {
                    return Err(ApiError::internal(&std::io::Error::other(
                        "a streamed read ended before its first piece",
                    )));
                }
            };
            return Ok(envelope::list_stream(
                first,
                rx,
                read_plan.offset + read_plan.limit,
                count,
                schema,
                params.as_list,
                self.req
                    .extensions()
                    .get::<Arc<crate::audit::Note>>()
                    .cloned(),
            ));
        }
        let result = exec::read(pool, self.session, &read_plan).await?;
        note_rows(self.req, result.records.len() as i64);
        if let Some(id) = id {
            let record = result.records.into_first().ok_or_else(|| {
                ApiError::not_found(format!("Record with identifier '{id}' not found."))
            })?;
            return Ok(envelope::raw_json(record));
        }
        if let Some(ids) = params
            .ids
            .as_ref()
            .filter(|ids| result.records.len() < ids.len())
        {
            return Err(envelope::missing_ids_error(
                ids,
                &result.records,
                t,
                &params,
            ));
        }
        let count = if params.include_count {
            Some(exec::count(pool, self.session, &read_plan).await?)
        } else {
            None
        };
        let schema = params.include_schema.then(|| self.schema_of(t, rules));
        Ok(envelope::list(
            result,
            &read_plan,
            count,
            schema,
            params.as_list,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_grant_or_request_may_not_write_whatever_the_role() {
        let mut p = Principal::previewing(1, None);
        assert_eq!(read_only_reason(&p, false), None);
        assert!(read_only_reason(&p, true).is_some_and(|w| w.contains("read-only")));
        p.read_only = true;
        assert!(read_only_reason(&p, false).is_some_and(|w| w.contains("mcp:read")));
    }
}
