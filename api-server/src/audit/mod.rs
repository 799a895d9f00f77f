//! The audit trail: one event for every API request (REST, and MCP tool calls, which reach
//! the API as requests), every sign-in, failed sign-in and sign-out, and every system change
//! (with before/after).
//!
//! The request path never waits on storage: each request reserves a slot in a bounded queue
//! before it runs (a full queue holds it back, or with `fail_closed` refuses it with 503), and
//! its event is sent into that slot when the response body is finished. `writer` drains the
//! queue in batches into the system store (hash-chained, `system::audit`) and, as JSON lines,
//! to the configured log. Nothing is dropped: a failed batch is retried.

pub mod filter;
mod writer;

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use tokio::sync::mpsc;

use crate::auth::Principal;
use crate::system::Store;
use crate::system::audit::{AuditRecord, ChainKey};

use writer::Message;
pub use writer::Sink;

/// Who made a request, as the audit trail records it.
#[derive(Debug, Clone, Default)]
pub struct Who {
    /// `admin`, `user`, `app` or `anonymous`.
    pub principal: &'static str,
    pub user_id: Option<i64>,
    pub email: Option<String>,
    /// The identity provider (service id) that vouched for the user.
    pub provider_id: Option<i64>,
    pub app_id: Option<i64>,
    pub role_id: Option<i64>,
}

impl Who {
    /// The audit view of a principal.
    #[must_use]
    pub fn of(p: &Principal) -> Self {
        let kind = match (&p.user, &p.app) {
            (Some(u), _) if u.is_sys_admin => "admin",
            (Some(_), _) => "user",
            (None, Some(_)) => "app",
            (None, None) => "anonymous",
        };
        Self {
            principal: kind,
            user_id: p.user.as_ref().map(|u| u.id),
            email: p.user.as_ref().map(|u| u.email.clone()),
            provider_id: p.user.as_ref().and_then(|u| u.provider_service_id),
            app_id: p.app.as_ref().map(|a| a.id),
            role_id: p.role_id,
        }
    }
}

impl Who {
    /// A signed-in person (at sign-in, before any principal exists).
    #[must_use]
    pub fn of_user(
        user: &crate::system::users::UserRecord,
        app_id: Option<i64>,
        role_id: Option<i64>,
    ) -> Self {
        Self {
            principal: if user.is_sys_admin { "admin" } else { "user" },
            user_id: Some(user.id),
            email: Some(user.email.clone()),
            provider_id: user.provider_service_id,
            app_id,
            role_id,
        }
    }
}

/// What the stages of one request tell the audit trail, filled in as it runs and read when
/// its response is finished. Shared through the request's extensions.
#[derive(Debug, Default)]
pub struct Note {
    inner: Mutex<NoteData>,
}

/// The contents of a `Note`.
#[derive(Debug, Default, Clone)]
pub struct NoteData {
    pub who: Option<Who>,
    /// The account a failed sign-in named (no principal exists for it).
    pub attempted: Option<String>,
    /// The event's kind, when the handler knows better than the route (OAuth steps).
    pub kind: Option<&'static str>,
    pub rows: Option<i64>,
    /// Parameters the request sent in its JSON body instead of the query string.
    pub body_params: Vec<(String, Value)>,
    /// A tool call at the server's `/mcp` endpoint (`http::handlers::mcp`).
    pub tool_call: Option<ToolCall>,
}

/// A tool call at `/mcp`: its event is the tool's REST requests' events, or, when the bridge
/// made none (it refused the call itself: a write through a read-only app, arguments it
/// cannot use), an event of its own.
#[derive(Debug, Clone)]
pub struct ToolCall {
    pub tool: String,
    /// How many REST requests the bridge made for it, so far.
    pub rest_requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl ToolCall {
    /// Whether the bridge made a REST request for the call.
    #[must_use]
    pub fn reached_rest(&self) -> bool {
        self.rest_requests.load(std::sync::atomic::Ordering::SeqCst) > 0
    }
}

impl Note {
    /// Changes the note.
    pub fn update(&self, f: impl FnOnce(&mut NoteData)) {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Looks at what was noted, without copying it.
    pub fn peek<T>(&self, f: impl FnOnce(&NoteData) -> T) -> T {
        f(&self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// What was noted, leaving the note empty (when the event is sent).
    #[must_use]
    pub fn take(&self) -> NoteData {
        std::mem::take(&mut *self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A copy of what was noted.
    #[must_use]
    pub fn read(&self) -> NoteData {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Who made the request (set by authentication; a sign-in sets the person signed in).
    pub fn who(&self, who: Who) {
        self.update(|n| n.who = Some(who));
    }

    /// Adds rows returned or affected (streamed lists add as they go).
    pub fn add_rows(&self, n: i64) {
        self.update(|d| d.rows = Some(d.rows.unwrap_or(0) + n));
    }
}

/// The audit queue's sending side.
pub struct Auditor {
    tx: mpsc::Sender<Message>,
    capacity: usize,
    fail_closed: bool,
}

/// A reserved place in the queue for one event.
pub struct Slot(mpsc::OwnedPermit<Message>);

impl Slot {
    /// Queues the event.
    pub fn send(self, event: Box<AuditRecord>) {
        self.0.send(Message::Event(event));
    }
}

impl Auditor {
    /// Starts the writer (a thread of its own) for `store` and `sink`, chaining with `key`.
    #[must_use]
    pub fn start(
        store: Store,
        key: ChainKey,
        sink: Sink,
        config: &crate::config::Audit,
    ) -> Arc<Self> {
        let capacity = config.queue.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        writer::start(store, key, sink, rx);
        Arc::new(Self {
            tx,
            capacity,
            fail_closed: config.fail_closed,
        })
    }

    /// A place for one event: waits while the queue is full, or with `fail_closed` answers
    /// `None` at once. `None` also when the writer is gone (the server is stopping).
    pub async fn slot(&self) -> Option<Slot> {
        let permit = if self.fail_closed {
            self.tx.clone().try_reserve_owned().ok()
        } else {
            self.tx.clone().reserve_owned().await.ok()
        };
        permit.map(Slot)
    }

    /// Returns once every event queued so far is stored (or the writer is gone): at
    /// shutdown, after the last request.
    pub async fn flush(&self) {
        let (done, stored) = tokio::sync::oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = stored.await;
        }
    }

    /// Events waiting to be written.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.capacity - self.tx.capacity()
    }
}

/// Deletes events older than `days`, now and every hour.
pub async fn purge_every_hour(store: Store, key: ChainKey, days: u64) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let days = i64::try_from(days).unwrap_or(i64::MAX / 2);
        let cutoff = chrono::Utc::now() - chrono::Duration::days(days.min(100_000));
        match crate::system::audit::purge(&store, &key, cutoff.timestamp_micros()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, days, "purged audit events past retention"),
            Err(e) => tracing::error!(error = %e, "audit retention purge failed"),
        }
    }
}

/// Query parameters whose values are never recorded.
fn is_secret_param(name: &str) -> bool {
    [
        "password", "secret", "token", "api_key", "code", "key", "saml",
    ]
    .iter()
    .any(|s| {
        name.as_bytes()
            .windows(s.len())
            .any(|w| w.eq_ignore_ascii_case(s.as_bytes()))
    })
}

/// The query string as a JSON object, secrets replaced by `*****` (the filter text is kept:
/// it is evidence of what was asked). Names in order, the first of a repeated name kept (the
/// one the request acts on); written straight into the text (this runs for every request).
#[must_use]
pub fn params(query: &str) -> crate::system::audit::Params {
    if query.is_empty() {
        return "{}".into();
    }
    let mut pairs: Vec<_> = url::form_urlencoded::parse(query.as_bytes()).collect();
    // A stable sort keeps each name's values in order, and `dedup` keeps the first.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs.dedup_by(|a, b| a.0 == b.0);
    let mut out = Vec::with_capacity(query.len() + 8 * pairs.len() + 2);
    out.push(b'{');
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let value: &str = if is_secret_param(name) {
            "*****"
        } else {
            value
        };
        // Writing a string into memory cannot fail.
        let _ = serde_json::to_writer(&mut out, &**name);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, value);
    }
    out.push(b'}');
    String::from_utf8(out).map_or_else(|_| "{}".into(), Into::into)
}

/// `params` (the query string's, as [`params`] writes them) with the parameters a request
/// sent in its JSON body added (the query string's win, as they do for the request), secrets
/// replaced by `*****` alike: a filter sent in the body is as much evidence as one in the URL.
#[must_use]
pub fn with_body_params(params: &str, body: &[(String, Value)]) -> crate::system::audit::Params {
    let mut all: std::collections::BTreeMap<String, Value> =
        serde_json::from_str(params).unwrap_or_default();
    for (name, value) in body {
        all.entry(name.clone()).or_insert_with(|| {
            if is_secret_param(name) {
                return Value::from("*****");
            }
            let mut value = value.clone();
            redact(&mut value);
            let text = value.to_string();
            if text.len() <= BODY_PARAM_LIMIT {
                return value;
            }
            let mut cut = BODY_PARAM_LIMIT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            Value::from(format!(
                "{}…[cut at {BODY_PARAM_LIMIT} bytes]",
                &text[..cut]
            ))
        });
    }
    serde_json::to_string(&all).map_or_else(|_| params.into(), Into::into)
}

/// The longest body parameter recorded whole (its JSON text); a longer one is cut.
const BODY_PARAM_LIMIT: usize = 2048;

/// Replaces secrets inside a body parameter by `*****`: a member with a secret's name, and the
/// `value` of a `{"name": …, "value": …}` pair whose name is one (a procedure's arguments).
fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let named_secret = map
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(is_secret_param);
            for (k, member) in map.iter_mut() {
                if is_secret_param(k) || (named_secret && k == "value") {
                    *member = Value::from("*****");
                } else {
                    redact(member);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// What kind of event a request is, from its route and outcome.
#[must_use]
pub fn kind(method: &str, path: &str, query: &str, status: u16) -> &'static str {
    let ok = (200..400).contains(&status);
    let session = path == "/api/v2/user/session" || path == "/api/v2/system/admin/session";
    let callback = method == "GET"
        && session
        && url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "oauth_callback");
    // A SAML service's assertion consumer: `/api/v2/{service}/acs`, not a table named `acs`.
    let acs = method == "POST"
        && path
            .strip_prefix("/api/v2/")
            .and_then(|rest| rest.strip_suffix("/acs"))
            .is_some_and(|service| !service.is_empty() && !service.contains('/'));
    let password_login = method == "POST" && session;
    if password_login || callback || acs {
        return if ok { "login" } else { "login_failed" };
    }
    if method == "DELETE" && session {
        return "logout";
    }
    if path.starts_with("/api/v2/system/") && !matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return "change";
    }
    "request"
}

/// An event as the audit API and the log sink show it: the time in RFC 3339, `params` and
/// `changes` as JSON.
#[must_use]
pub fn event_json(r: &AuditRecord) -> Value {
    let parse = |s: &str| serde_json::from_str(s).unwrap_or(Value::Null);
    let time = chrono::DateTime::from_timestamp_micros(r.ts)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    serde_json::json!({
        "id": r.id, "time": time, "request_id": r.request_id, "kind": r.kind,
        "transport": r.transport, "tool": r.tool, "principal": r.principal,
        "user_id": r.user_id, "email": r.email, "provider": r.provider, "app_id": r.app_id,
        "role_id": r.role_id, "client": r.client, "method": r.method, "service": r.service,
        "resource": r.resource, "params": parse(&r.params), "status": r.status,
        "error_code": r.error_code, "rows": r.rows_count, "latency_us": r.latency_us,
        "changes": r.changes.as_deref().map(parse), "response": r.response, "hash": r.hash,
    })
}

/// `/api/v2/{service}/{resource…}` → (service, resource); other paths (`/oauth/token`,
/// `/mcp`) → (first segment, the rest).
#[must_use]
pub fn target(path: &str) -> (Option<String>, Option<String>) {
    let rest = path
        .strip_prefix("/api/v2/")
        .or_else(|| (!path.starts_with("/api/")).then(|| path.trim_start_matches('/')))
        .unwrap_or_default();
    let (service, resource) = rest.split_once('/').unwrap_or((rest, ""));
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    (some(service), some(resource.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_the_query_string_are_never_recorded() {
        let p: Value = serde_json::from_str(&params(
            "filter=name%3D%27x%27&api_key=k1&session_token=t&password=p&limit=5",
        ))
        .unwrap();
        assert_eq!(
            p,
            serde_json::json!({"filter": "name='x'", "api_key": "*****",
                "session_token": "*****", "password": "*****", "limit": "5"})
        );
        assert_eq!(params(""), "{}");
    }

    #[test]
    fn body_parameters_join_the_query_strings_which_win_and_secrets_stay_hidden() {
        let body = [
            ("limit".to_owned(), serde_json::json!(1)),
            ("filter".to_owned(), serde_json::json!("id = 2")),
            ("fields".to_owned(), serde_json::json!(["id", "total"])),
            ("db_token".to_owned(), serde_json::json!("t0k3n")),
        ];
        assert_eq!(
            with_body_params(&params("limit=5&api_key=k"), &body),
            r#"{"api_key":"*****","db_token":"*****","fields":["id","total"],"filter":"id = 2","limit":"5"}"#
        );
        assert_eq!(with_body_params("{}", &body[..1]), r#"{"limit":1}"#);
        // Procedure arguments, either shape: a secret's value is hidden however it is sent.
        let args = [(
            "params".to_owned(),
            serde_json::json!([{"name": "p_pin", "value": 1}, {"name": "user_password", "value": "hunter2"}]),
        )];
        assert_eq!(
            with_body_params("{}", &args),
            r#"{"params":[{"name":"p_pin","value":1},{"name":"user_password","value":"*****"}]}"#
        );
        let args = [(
            "params".to_owned(),
            serde_json::json!({"p_id": 7, "api_token": "t"}),
        )];
        assert_eq!(
            with_body_params("{}", &args),
            r#"{"params":{"api_token":"*****","p_id":7}}"#
        );
        // A huge parameter is cut.
        let long = [("filter".to_owned(), serde_json::json!("é".repeat(5000)))];
        let recorded: Value = serde_json::from_str(&with_body_params("{}", &long)).unwrap();
        let text = recorded["filter"].as_str().unwrap();
        assert!(
            text.len() < 2100 && text.ends_with("…[cut at 2048 bytes]"),
            "{}",
            text.len()
        );
    }

    #[test]
    fn params_are_the_text_of_a_json_object_sorted_by_name_the_first_of_a_repeat_kept() {
        assert_eq!(
            params("z=1&a=%22q%22&m=%C3%A9%0A&a=2&Secret_Thing=x&b&a=3"),
            r#"{"Secret_Thing":"*****","a":"\"q\"","b":"","m":"é\n","z":"1"}"#
        );
        assert_eq!(params("k=a\\b"), r#"{"k":"a\\b"}"#);
        assert_eq!(params("&&"), "{}");
    }

    #[test]
    fn sign_ins_sign_outs_and_changes_are_told_apart() {
        assert_eq!(kind("POST", "/api/v2/user/session", "", 200), "login");
        assert_eq!(
            kind("POST", "/api/v2/user/session", "", 401),
            "login_failed"
        );
        assert_eq!(
            kind("POST", "/api/v2/system/admin/session", "", 429),
            "login_failed"
        );
        assert_eq!(
            kind(
                "GET",
                "/api/v2/user/session",
                "service=x&oauth_callback=true",
                302
            ),
            "login"
        );
        assert_eq!(kind("GET", "/api/v2/user/session", "", 200), "request");
        assert_eq!(
            kind("POST", "/api/v2/corp_saml/acs", "", 401),
            "login_failed"
        );
        assert_eq!(kind("DELETE", "/api/v2/user/session", "", 200), "logout");
        assert_eq!(kind("PATCH", "/api/v2/system/role/3", "", 200), "change");
        assert_eq!(kind("GET", "/api/v2/system/role", "", 200), "request");
        assert_eq!(kind("POST", "/api/v2/db/_table/orders", "", 201), "request");
        assert_eq!(kind("POST", "/api/v2/db/_table/acs", "", 401), "request");
    }

    #[test]
    fn the_target_is_the_service_and_the_rest_of_the_path() {
        assert_eq!(
            target("/api/v2/db/_table/orders/5"),
            (Some("db".into()), Some("_table/orders/5".into()))
        );
        assert_eq!(target("/api/v2/db"), (Some("db".into()), None));
        assert_eq!(target("/api/v2"), (None, None));
    }
}
