//! `GET /api/v2/system/audit`: the audit trail for sys-admins (and roles granted `audit` on
//! the system service), with the filter language over
//! audit fields, paging, and export of every matching event as NDJSON or CSV (streamed in
//! pages, oldest first); and a role's access review.

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::stream;
use sea_query::{Condition, Expr, ExprTrait};
use serde_json::{Value, json};

use super::body::{flag, param, query};
use crate::audit::{event_json, filter};
use crate::http::error::ApiError;
use crate::http::guard::{Caller, SysAdmin, system_access};
use crate::query::plan::encode_cursor;
use crate::rbac::Verb;
use crate::state::AppState;
use crate::system::audit::{self, AuditEvents, AuditRecord};

/// Events per page by default, and at most.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

/// CSV columns, in order: the filterable fields, then what only an export shows.
fn csv_columns() -> impl Iterator<Item = &'static str> {
    filter::FIELDS.iter().copied().chain(["changes", "hash"])
}

fn condition(state: &AppState, q: &[(String, String)]) -> Result<Condition, ApiError> {
    match param(q, "filter").filter(|f| !f.trim().is_empty()) {
        None => Ok(Condition::all()),
        Some(text) => {
            let expr = crate::filter::parse(text, &super::data::parse_limits(state).filter)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            filter::condition(&expr).map_err(ApiError::bad_request)
        }
    }
}

fn number(q: &[(String, String)], name: &str) -> Result<Option<u64>, ApiError> {
    param(q, name)
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::bad_request(format!("'{name}' must be a whole number.")))
        })
        .transpose()
}

/// `GET /api/v2/system/audit`: sys-admins, and roles granted GET on `audit` of the system
/// service.
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    system_access(&state, &caller, "audit", Verb::Get).await?;
    let q = query(&req);
    let cond = condition(&state, &q)?;
    match param(&q, "format") {
        None | Some("json") => {}
        Some("ndjson") => return Ok(export(state, cond, Format::Ndjson)),
        Some("csv") => return Ok(export(state, cond, Format::Csv)),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Unknown format '{other}'; use json, ndjson or csv."
            )));
        }
    }
    let limit = number(&q, "limit")?
        .unwrap_or(DEFAULT_LIMIT)
        .clamp(1, MAX_LIMIT);
    let offset = number(&q, "offset")?.unwrap_or(0);
    let oldest_first = match param(&q, "order").map(str::to_ascii_lowercase).as_deref() {
        None | Some("id desc" | "desc") => false,
        Some("id asc" | "asc") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Audit events are ordered by id: 'order' is 'id asc' or 'id desc', not '{other}'."
            )));
        }
    };
    // Keyset paging: the events after the last one of the previous page, in this order.
    // Unlike `offset`, it neither slows down deep into the trail nor skips or repeats events
    // when new ones arrive between pages.
    let page_cond = match param(&q, "cursor") {
        None => cond.clone(),
        Some(c) => {
            let last = decode_cursor(c)?;
            let id = Expr::col(AuditEvents::Id);
            cond.clone().add(if oldest_first {
                id.gt(last)
            } else {
                id.lt(last)
            })
        }
    };
    let rows = audit::page(&state.store, page_cond, oldest_first, limit, offset).await?;
    let mut meta = serde_json::Map::new();
    if flag(&q, "include_count") {
        meta.insert(
            "count".into(),
            json!(audit::count(&state.store, cond).await?),
        );
    }
    if let Some(last) = rows.last().filter(|_| rows.len() as u64 == limit) {
        meta.insert(
            "next_cursor".into(),
            json!(encode_cursor(&[Some(last.id.to_string())])),
        );
    }
    let mut body = json!({"resource": rows.iter().map(event_json).collect::<Vec<_>>()});
    if !meta.is_empty() {
        body["meta"] = Value::Object(meta);
    }
    Ok(HttpResponse::Ok().json(body))
}

/// The id a cursor continues after: the form of the data API's cursors (base64url of a JSON
/// array of key values as text), so that clients page both alike.
fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    use base64::Engine;
    let bad = || {
        ApiError::bad_request(
            "Invalid cursor: pass the meta.next_cursor of the previous page as it is, or start again without it.",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad())?;
    match serde_json::from_slice::<Vec<Option<String>>>(&bytes)
        .map_err(|_| bad())?
        .as_slice()
    {
        [Some(id)] => id.parse().map_err(|_| bad()),
        _ => Err(bad()),
    }
}

#[derive(Clone, Copy)]
enum Format {
    Ndjson,
    Csv,
}

/// One CSV cell: quoted when needed, and a text starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return defused so a spreadsheet never runs it as a formula (numbers stay
/// numbers).
fn csv_cell(v: &Value) -> String {
    let text = match v {
        Value::Null => return String::new(),
        Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn render(format: Format, rows: &[AuditRecord]) -> String {
    let mut out = String::new();
    for r in rows {
        let e = event_json(r);
        match format {
            Format::Ndjson => {
                out.push_str(&e.to_string());
            }
            Format::Csv => {
                let cells: Vec<String> = csv_columns().map(|c| csv_cell(&e[c])).collect();
                out.push_str(&cells.join(","));
            }
        }
        out.push('\n');
    }
    out
}

/// Every matching event, oldest first, a page at a time (memory stays flat).
fn export(state: web::Data<AppState>, cond: Condition, format: Format) -> HttpResponse {
    let header = match format {
        Format::Csv => format!("{}\n", csv_columns().collect::<Vec<_>>().join(",")),
        Format::Ndjson => String::new(),
    };
    let pages = stream::unfold(Some(i64::MIN), move |after| {
        let (state, cond) = (state.clone(), cond.clone());
        async move {
            let after = after?;
            let page_cond = cond.add(Expr::col(AuditEvents::Id).gt(after));
            match audit::page(&state.store, page_cond, true, MAX_LIMIT, 0).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let last = rows.last().map(|r| r.id);
                    let next = (rows.len() as u64 == MAX_LIMIT).then_some(last).flatten();
                    Some((Ok(Bytes::from(render(format, &rows))), next))
                }
                Err(e) => {
                    tracing::error!(error = %e, "an audit export failed after it started; the answer is cut short");
                    Some((Err(std::io::Error::other("export failed")), None))
                }
            }
        }
    });
    let body = futures_util::StreamExt::chain(
        stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(header)) }),
        pages,
    );
    let (content_type, name) = match format {
        Format::Ndjson => ("application/x-ndjson", "audit.ndjson"),
        Format::Csv => ("text/csv; charset=utf-8", "audit.csv"),
    };
    HttpResponse::Ok()
        .insert_header(("Content-Type", content_type))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .streaming(body)
}

/// `GET /api/v2/system/role/{id}/review[?days=90]`: what the role reaches, who holds it, when
/// each permission was last used, and what went unused in `days`.
pub async fn review(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let q = query(&req);
    let days = number(&q, "days")?.unwrap_or(90).clamp(1, 3650);
    let days = u32::try_from(days).unwrap_or(90);
    let services = state.services_list().await?;
    let schemas = crate::review::schemas(
        &state.services,
        &services,
        &state.master_key,
        &state.config.limits,
    )
    .await;
    Ok(HttpResponse::Ok().json(crate::review::of_role(&state.store, *id, days, &schemas).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell(&json!("plain")), "plain");
        assert_eq!(csv_cell(&json!("a,b")), "\"a,b\"");
        assert_eq!(csv_cell(&json!("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(
            csv_cell(&json!("=HYPERLINK(\"x\")")),
            "\"'=HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(csv_cell(&json!(42)), "42");
        assert_eq!(csv_cell(&json!(-3)), "-3", "a number is no formula");
        assert_eq!(csv_cell(&json!("\t=1+1")), "'\t=1+1");
        assert_eq!(csv_cell(&json!("\r=1+1")), "\"'\r=1+1\"");
        assert_eq!(csv_cell(&json!("-2+3")), "'-2+3");
        assert_eq!(csv_cell(&Value::Null), "");
        assert_eq!(
            csv_cell(&json!({"filter": "a=1"})),
            "\"{\"\"filter\"\":\"\"a=1\"\"}\""
        );
    }
}
