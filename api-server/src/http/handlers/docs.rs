//! API documentation: the combined OpenAPI document (system API plus every service the
//! caller may see, pruned to its role) and Swagger UI at `/api/docs`, served from the binary.

use actix_web::{HttpResponse, web};

use crate::http::error::ApiError;
use crate::http::guard::Caller;
use crate::openapi;
use crate::rbac::CompiledRole;
use crate::rbac::verbs::REQUESTOR_API;
use crate::request::RoutineFamily;
use crate::state::AppState;
use crate::system::services as service_store;

/// `GET /api/docs/openapi.json`
pub async fn combined(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let role = match caller.principal.as_ref().and_then(|p| p.role_id) {
        Some(id) => state.compiled_role(id).await?,
        None => None,
    };
    Ok(HttpResponse::Ok().json(document_for(&state, role.as_deref()).await?))
}

/// The combined document as `role` sees it: the system API, and each active database service
/// the role reaches with only the tables, verbs and routines it grants.
pub async fn document_for(
    state: &AppState,
    role: Option<&CompiledRole>,
) -> Result<utoipa::openapi::OpenApi, ApiError> {
    let mut parts = vec![openapi::system_document()];
    if let Some(role) = role.filter(|r| r.is_active) {
        for record in service_store::list(&state.store)
            .await?
            .into_iter()
            .filter(|s| s.is_active && s.is_database())
        {
            if !role.reaches_service(record.id, REQUESTOR_API) {
                continue;
            }
            let handle = match state
                .services
                .get(&record, &state.master_key, &state.config.limits)
                .await
            {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(service = %record.name, error = %e, "service left out of the combined document");
                    continue;
                }
            };
            let schema = handle.schema();
            let views = role.table_views(record.id, &schema, REQUESTOR_API);
            let tables: Vec<(&rampart_schema::Table, i64)> =
                views.iter().map(|(t, m)| (t, *m)).collect();
            let schema_readable = role.schema_readable(
                record.id,
                views.iter().map(|(t, _)| t.api_name.as_str()),
                REQUESTOR_API,
            );
            let routines = |family: RoutineFamily, kind: rampart_schema::FunctionKind| {
                schema
                    .functions
                    .iter()
                    .filter(|f| {
                        f.kind == kind
                            && role.routine_mask(
                                record.id,
                                family.segment(),
                                &f.api_name,
                                REQUESTOR_API,
                            ) != 0
                    })
                    .collect::<Vec<_>>()
            };
            let procs = routines(RoutineFamily::Proc, rampart_schema::FunctionKind::Procedure);
            let funcs = routines(RoutineFamily::Func, rampart_schema::FunctionKind::Function);
            parts.push(openapi::service_document(
                &openapi::ServiceDoc {
                    name: &handle.name,
                    label: &handle.label,
                    description: handle.description.as_deref(),
                },
                &schema,
                &tables,
                &schema_readable,
                &procs,
                &funcs,
            ));
        }
    }
    Ok(openapi::combined(parts))
}
