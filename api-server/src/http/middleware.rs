//! Per-request context: a request id (`X-Request-Id`, generated when absent) recorded in a
//! tracing span and echoed in the response; and the audit event of every `/api/` request.
//!
//! Auditing: a slot in the audit queue is reserved before the request runs (the back-pressure
//! point), an `audit::Note` travels in the request's extensions for the stages to fill in
//! (who, rows), system changes are snapshotted before and after, and the event is sent when
//! the response body has been sent or dropped, so streamed lists count every row and the
//! latency covers the whole response.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, ResponseError, web};
use serde_json::json;
use tracing::Instrument;

use crate::audit::{self, Note, Slot};
use crate::http::error::{ApiError, ErrorKind};
use crate::http::handlers::body::{Changed, CreatedIds};
use crate::state::AppState;
use crate::system::audit::AuditRecord;

/// What a request in flight leaves when its body is finished: a metrics sample and, when it
/// is audited, its event.
struct Finish {
    state: web::Data<AppState>,
    started: Instant,
    status: u16,
    /// The path's service and resource (`audit::target`).
    service: Option<String>,
    resource: Option<String>,
    audit: Option<Pending>,
}

/// The audit event of a request in flight.
struct Pending {
    slot: Slot,
    note: Arc<Note>,
    /// Boxed: an event is about a kilobyte (its short texts are kept inline, see
    /// `ShortText`), and held by value it was copied at each step from here to the writer
    /// (this request's future, its response body, the queue); the copies took about 2 µs of
    /// a worker's CPU a request under GET by id (measured 2026-12-05, `bench/README.md`).
    record: Box<AuditRecord>,
    /// The response body so far, when it is captured.
    capture: Option<Vec<u8>>,
    started: Instant,
    /// The event's kind should the request be abandoned before it has a response.
    abandoned: &'static str,
}

/// A request's event until its response exists. A request can be dropped before that: its
/// client went away (the handler is dropped, see `startup`), or the server stopped waiting
/// for it at shutdown. Its event is then sent from here with status 499 (what it did up to
/// then is in its note: who, rows); once the status is known, with that status.
struct Unfinished(Option<Pending>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(mut p) = self.0.take() {
            if p.record.status == 0 {
                p.record.status = 499;
                p.record.kind = p.abandoned.into();
                p.record.error_code = Some("client_closed_request".into());
            }
            let elapsed = p.started.elapsed();
            p.send(elapsed);
        }
    }
}

/// Captured response bytes per event, at most.
const CAPTURE_LIMIT: usize = 64 * 1024;

impl Pending {
    fn keep(&mut self, bytes: &[u8]) {
        if let Some(buf) = self.capture.as_mut() {
            // One byte past the limit marks the capture as cut.
            let room = (CAPTURE_LIMIT + 1).saturating_sub(buf.len());
            buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }
}

impl Finish {
    fn send(self) {
        let elapsed = self.started.elapsed();
        self.state.metrics.observe(
            self.service.as_deref().unwrap_or_default(),
            crate::metrics::table_of(self.resource.as_deref()),
            self.status,
            elapsed.as_secs_f64(),
        );
        if let Some(p) = self.audit {
            p.send(elapsed);
        }
    }
}

impl Pending {
    fn send(self, elapsed: Duration) {
        let data = self.note.take();
        let mut r = self.record;
        if let Some(call) = &data.tool_call
            && r.status < 400
        {
            if call.reached_rest() {
                // Its REST requests' events tell the call.
                return;
            }
            r.kind = "mcp_refused".into();
            r.transport = "mcp".into();
            r.tool = Some(call.tool.as_str().into());
            r.error_code = Some("tool_call_refused".into());
        }
        if let Some(who) = data.who {
            r.principal = who.principal.into();
            r.user_id = who.user_id;
            r.email = who.email.map(Into::into);
            r.app_id = who.app_id;
            r.role_id = who.role_id;
            if r.provider.is_none() {
                r.provider = who.provider_id.map(|id| id.to_string().into());
            }
        }
        if r.email.is_none() {
            r.email = data.attempted.map(Into::into);
        }
        r.rows_count = data.rows;
        if !data.body_params.is_empty() {
            r.params = audit::with_body_params(&r.params, &data.body_params);
        }
        r.response = self.capture.map(|mut buf| {
            let cut = buf.len() > CAPTURE_LIMIT;
            buf.truncate(CAPTURE_LIMIT);
            let mut text = String::from_utf8_lossy(&buf).into_owned();
            if cut {
                text.push_str("…[cut at 64 KiB]");
            }
            text
        });
        r.latency_us = i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX);
        self.slot.send(r);
    }
}

/// A response body that records its request's metrics and sends its audit event once it is
/// finished or dropped.
pub struct AuditedBody {
    inner: BoxBody,
    finish: Option<Finish>,
}

impl Drop for AuditedBody {
    fn drop(&mut self) {
        if let Some(f) = self.finish.take() {
            f.send();
        }
    }
}

impl MessageBody for AuditedBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        if let (Poll::Ready(Some(Ok(bytes))), Some(p)) =
            (&polled, this.finish.as_mut().and_then(|f| f.audit.as_mut()))
        {
            p.keep(bytes);
        }
        if let Poll::Ready(None) = polled
            && let Some(f) = this.finish.take()
        {
            f.send();
        }
        polled
    }
}

/// Whether a request's response is kept in its event: its role is in `audit.capture_roles`,
/// or its table in `audit.capture_tables` (`service.table`, `service.*`).
async fn captured(
    state: &AppState,
    service: Option<&str>,
    resource: Option<&str>,
    role_id: Option<i64>,
) -> bool {
    let audit = &state.config.audit;
    if audit.capture_roles.is_empty() && audit.capture_tables.is_empty() {
        return false;
    }
    // Only a database service's answers (`_table`, `_proc`, `_func`, `_schema`): never a
    // sign-in's, whose body holds a live session token, nor the system API's.
    let data = matches!(
        (service, resource),
        (Some(s), Some(r)) if !matches!(s, "system" | "user") && r.starts_with('_')
    );
    if !data {
        return false;
    }
    if let (Some(service), Some(resource)) = (service, resource)
        && resource.starts_with("_table/")
    {
        let one = format!("{service}.{}", crate::metrics::table_of(Some(resource)));
        let all = format!("{service}.*");
        if audit
            .capture_tables
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&one) || t.eq_ignore_ascii_case(&all))
        {
            return true;
        }
    }
    match role_id {
        Some(id) if !audit.capture_roles.is_empty() => state
            .compiled_role(id)
            .await
            .ok()
            .flatten()
            .is_some_and(|role| {
                audit
                    .capture_roles
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(&role.name))
            }),
        _ => false,
    }
}

/// The verb a request acts with, as the audit trail records it: on POST, the verb
/// DreamFactory's tunnelling names (`X-HTTP-Method`, `?method=`), which is what it does.
fn acting_method(req: &ServiceRequest, method: &str) -> crate::system::audit::Label {
    if method != "POST" {
        return label_of(method);
    }
    crate::http::guard::acting_verb(req.request())
        .map_or_else(|_| label_of(method), |verb| label_of(&verb.to_string()))
}

/// A request's method as the audit trail records it, without allocating for the usual ones.
fn label_of(method: &str) -> crate::system::audit::Label {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    KNOWN
        .iter()
        .find(|k| **k == method)
        .map_or_else(|| method.to_owned().into(), |k| (*k).into())
}

/// Now, in microseconds since the Unix epoch.
fn unix_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// `/api/v2/system/{resource}[/{id}]` (or `/api/v2/user/oauth_grant/{id}`) of a change:
/// (resource, id).
fn change_target(method: &str, path: &str) -> Option<(String, Option<i64>)> {
    if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return None;
    }
    // A person's own grants are theirs to revoke: that too changes who may act for them.
    let rest = path.strip_prefix("/api/v2/system/").or_else(|| {
        path.strip_prefix("/api/v2/user/")
            .filter(|r| r.starts_with("oauth_grant/"))
    })?;
    let mut parts = rest.trim_end_matches('/').split('/');
    let resource = parts.next()?.to_owned();
    let id = match parts.next() {
        None => None,
        Some(id) => Some(id.parse().ok()?),
    };
    parts.next().is_none().then_some((resource, id))
}

/// The address of the agent on whose behalf the server's own MCP endpoint makes a request
/// (`X-Rampart-Client`), when the request carries that endpoint's proof (`X-Rampart-Bridge`):
/// its events name the agent, not the server calling itself. Anyone else's is ignored.
fn agent_address(req: &ServiceRequest, state: &AppState) -> Option<String> {
    let given = req.headers().get(&crate::http::names::CLIENT)?;
    let proof = req
        .headers()
        .get(&crate::http::names::BRIDGE)?
        .to_str()
        .ok()?;
    if !state.oauth.is_bridge(proof) {
        return None;
    }
    let ip: std::net::IpAddr = given.to_str().ok()?.parse().ok()?;
    Some(ip.to_string())
}

/// The MCP tool an MCP bridge names for the request it makes (`X-Rampart-Tool`).
fn tool_of(req: &ServiceRequest) -> Option<String> {
    req.headers()
        .get(&crate::http::names::TOOL)
        .and_then(|v| v.to_str().ok())
        .filter(|t| {
            !t.is_empty()
                && t.len() <= 64
                && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .map(str::to_owned)
}

/// `path` in its normal form: every percent-encoded unreserved character (`A–Z a–z 0–9 - .
/// _ ~`) decoded, which RFC 3986 (§6.2.2.2) makes the same path, and a `%` that escapes
/// nothing written `%25` (else `%%34%31` would become the escape `%41` and be decoded once
/// more by the router); `None` when it is normal already. Other escapes stay as they are.
fn unreserved_decoded(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|&b| char::from(b).to_digit(16));
    // What the `%` at `i` becomes: an unreserved byte, `%25` (escaping nothing), or itself.
    let at = |i: usize| match (hex(i + 1), hex(i + 2)) {
        (Some(hi), Some(lo)) => u8::try_from(hi * 16 + lo)
            .ok()
            .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
            .map(Some),
        _ => Some(None),
    };
    let first = (0..bytes.len()).find(|&i| bytes[i] == b'%' && at(i).is_some())?;
    let mut out = Vec::with_capacity(bytes.len() + 8);
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        match (bytes[i], at(i)) {
            (b'%', Some(Some(b))) => {
                out.push(b);
                i += 3;
            }
            (b'%', Some(None)) => {
                out.extend_from_slice(b"%25");
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Rewrites the request's path in its normal form (`unreserved_decoded`) before anything looks
/// at it. The router matches decoded paths, so `/%61pi/v2/sys%74em/role/3` reaches the
/// system API; without this, what reads the path as sent (the audit trail's scope and event
/// kind, the rate limits' service and endpoint) would see another path than the handler.
fn normalize_path(req: &mut ServiceRequest) {
    let Some(path) = unreserved_decoded(req.path()) else {
        return;
    };
    let target = match req.query_string() {
        "" => path,
        q => format!("{path}?{q}"),
    };
    let mut parts = req.head().uri.clone().into_parts();
    let Ok(pq) = actix_web::http::uri::PathAndQuery::try_from(target) else {
        return;
    };
    parts.path_and_query = Some(pq);
    if let Ok(uri) = actix_web::http::Uri::from_parts(parts) {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
}

/// Wraps every request in a span with its id, method and path, and audits `/api/` requests.
pub async fn request_context(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<AuditedBody>, actix_web::Error> {
    normalize_path(&mut req);
    let id = req
        .headers()
        .get(&crate::http::names::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().as_str().to_owned();
    let path = req.path().to_owned();
    // Every API request; every step of MCP authorization; and, of `/mcp` itself, the
    // refusals (its accepted calls are audited as the REST requests its tools make). Each
    // of them is also counted in the metrics.
    let tracked = state
        .as_ref()
        .filter(|_| path.starts_with("/api/") || path.starts_with("/oauth/") || path == "/mcp");
    // Audited: the same requests (`bench/no-audit.patch` turns this off to measure the trail).
    let audited = tracked;

    let (service, resource) = audit::target(&path);
    let mut pending = Unfinished(None);
    let mut before = None;
    let change = change_target(&method, &path);
    if let Some(state) = audited {
        let Some(slot) = state.auditor.slot().await else {
            let refused = ApiError::new(
                ErrorKind::Unavailable,
                "The audit trail cannot keep up; try again shortly.",
            )
            .error_response();
            // Not audited (there is no room), but counted: the metrics show the refusals.
            let finish = Some(Finish {
                state: state.clone(),
                started,
                status: refused.status().as_u16(),
                service,
                resource,
                audit: None,
            });
            return Ok(req.into_response(refused).map_body(|_, b| AuditedBody {
                inner: BoxBody::new(b),
                finish,
            }));
        };
        let note = Arc::new(Note::default());
        req.extensions_mut().insert(Arc::clone(&note));
        if let Some((resource, Some(rid))) = &change {
            before = crate::http::handlers::system::snapshot(&state.store, resource, *rid).await;
        }
        let tool = tool_of(&req);
        pending.0 = Some(Pending {
            slot,
            note,
            capture: None,
            started,
            abandoned: audit::kind(&method, &path, req.query_string(), 499),
            record: Box::new(AuditRecord {
                ts: unix_micros(),
                request_id: id.as_str().into(),
                service: service.as_deref().map(Into::into),
                resource: resource.as_deref().map(Into::into),
                transport: if tool.is_some() { "mcp" } else { "rest" }.into(),
                tool: tool.map(Into::into),
                principal: "anonymous".into(),
                client: agent_address(&req, state)
                    .unwrap_or_else(|| crate::http::guard::client_address(req.request()))
                    .into(),
                method: acting_method(&req, &method),
                params: audit::params(req.query_string()),
                ..AuditRecord::default()
            }),
        });
    }

    let query = req.query_string().to_owned();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    if let Some(p) = pending.0.as_mut() {
        p.record.status = i64::from(status);
        p.record.kind = audit::kind(&method, &path, &query, status).into();
    }
    span.in_scope(|| {
        tracing::debug!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "done"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(crate::http::names::REQUEST_ID.clone(), v);
    }
    let standing = res
        .request()
        .extensions()
        .get::<crate::limits::RateState>()
        .copied();
    if let Some(s) = standing {
        for (name, value) in [
            ("x-ratelimit-limit", s.limit),
            ("x-ratelimit-remaining", s.remaining),
            ("x-ratelimit-reset", s.reset),
        ] {
            res.headers_mut()
                .insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
    if let (Some(p), Some(state)) = (pending.0.as_mut(), audited) {
        let (provider_id, role_id, kind) = p.note.peek(|n| {
            let who = n.who.as_ref();
            (
                who.and_then(|w| w.provider_id),
                who.and_then(|w| w.role_id),
                n.kind,
            )
        });
        // The identity provider by name (the note holds its service id).
        if let Some(pid) = provider_id
            && let Ok(all) = state.services_list().await
        {
            p.record.provider = all
                .iter()
                .find(|s| s.id == pid)
                .map(|s| s.name.as_str().into());
        }
        if captured(state, service.as_deref(), resource.as_deref(), role_id).await {
            p.capture = Some(Vec::new());
        }
        p.record.kind = kind
            .unwrap_or_else(|| audit::kind(&method, &path, &query, status))
            .into();
        p.record.error_code = res
            .headers()
            .get(&crate::http::names::ERROR)
            .and_then(|v| v.to_str().ok())
            .map(Into::into);
        let told = res.response().extensions().get::<Changed>().cloned();
        // A change the path does not name (a grant made at `/oauth/token`), told by its handler.
        let change = change.or_else(|| {
            let (resource, id) = told.as_ref()?.record?;
            Some((resource.to_owned(), Some(id)))
        });
        let created = res.response().extensions().get::<CreatedIds>().is_some();
        // A change that names no record (a dry run, a check such as `POST /system/filter`)
        // changed nothing.
        let named = |rid: &Option<i64>| rid.is_some() || created || told.is_some();
        if let Some((resource, rid)) =
            change.filter(|(_, rid)| (200..300).contains(&status) && named(rid))
        {
            let ids = match rid {
                Some(rid) => vec![rid],
                None => res
                    .response()
                    .extensions()
                    .get::<CreatedIds>()
                    .map(|c| c.0.clone())
                    .unwrap_or_default(),
            };
            let (after, alert) = if let Some(told) = told {
                before = Some(told.before);
                (told.after, told.alert)
            } else {
                let mut after = Vec::new();
                for i in &ids {
                    after.push(
                        crate::http::handlers::system::snapshot(&state.store, &resource, *i).await,
                    );
                }
                let after = match (rid, after.len()) {
                    (Some(_), _) | (None, 1) => json!(after.into_iter().next().flatten()),
                    _ => json!(after),
                };
                (after, crate::alerts::WATCHED.contains(&resource.as_str()))
            };
            if alert {
                let before = before.clone().unwrap_or_default();
                state
                    .alerts
                    .permission_change(&crate::alerts::PermissionChange {
                        request_id: Some(p.record.request_id.as_str()),
                        method: Some(&method),
                        resource: &resource,
                        ids: &ids,
                        actor: p
                            .note
                            .read()
                            .who
                            .map(|w| json!({"user_id": w.user_id, "email": w.email})),
                        before: &before,
                        after: &after,
                    });
            }
            p.record.changes = Some(json!({"before": before, "after": after}).to_string());
        }
    }
    // The tool calls' REST requests have events of their own: an answered `/mcp` request
    // keeps one only for a tool call that made none (sent, or not, when its body ends).
    if path == "/mcp"
        && status < 400
        && pending
            .0
            .as_ref()
            .is_none_or(|p| p.note.peek(|n| n.tool_call.is_none()))
    {
        pending.0 = None;
    }
    let finish = tracked.map(|state| Finish {
        state: state.clone(),
        started,
        status,
        service,
        resource,
        audit: pending.0.take(),
    });
    Ok(res.map_body(|_, b| AuditedBody {
        inner: BoxBody::new(b),
        finish,
    }))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::{change_target, label_of, unreserved_decoded};

    #[test]
    fn escaped_unreserved_characters_are_decoded_and_other_escapes_kept() {
        assert_eq!(
            unreserved_decoded("/%61pi/v2/sys%74em/role/%33").as_deref(),
            Some("/api/v2/system/role/3")
        );
        assert_eq!(
            unreserved_decoded("/api/v2/db/_table/%7e%2E%5F%2d%41").as_deref(),
            Some("/api/v2/db/_table/~._-A")
        );
        // Spaces, slashes, percent signs and bytes past ASCII keep their escapes.
        assert_eq!(
            unreserved_decoded("/api/v2/db/_table/a%20b%2F%25%C3%A9").as_deref(),
            None
        );
        // A `%` escaping nothing is written `%25`: decoding never makes a new escape.
        assert_eq!(
            unreserved_decoded("/api/v2/db/_table/a%20%62%zz%").as_deref(),
            Some("/api/v2/db/_table/a%20b%25zz%25")
        );
        assert_eq!(
            unreserved_decoded("/api/v2/sy%%37%34em/role").as_deref(),
            Some("/api/v2/sy%2574em/role")
        );
        assert_eq!(unreserved_decoded("/a%4").as_deref(), Some("/a%254"));
        assert_eq!(unreserved_decoded("/api/v2/db/_table/orders"), None);
    }

    #[test]
    fn methods_are_recorded_as_sent_borrowing_the_usual_ones() {
        for m in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] {
            assert!(matches!(label_of(m), Cow::Borrowed(b) if b == m));
        }
        assert!(matches!(label_of("PROPFIND"), Cow::Owned(o) if o == "PROPFIND"));
    }

    #[test]
    fn system_changes_name_their_record() {
        assert_eq!(
            change_target("PATCH", "/api/v2/system/role/3"),
            Some(("role".into(), Some(3)))
        );
        assert_eq!(
            change_target("POST", "/api/v2/system/app"),
            Some(("app".into(), None))
        );
        assert_eq!(change_target("GET", "/api/v2/system/role/3"), None);
        assert_eq!(
            change_target("DELETE", "/api/v2/system/admin/session"),
            None
        );
        assert_eq!(change_target("POST", "/api/v2/db/_table/x"), None);
    }
}
