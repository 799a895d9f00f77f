//! The tools: a small, fixed set, each turned into exactly one `RestOp`. Arguments are typed
//! (unknown ones refused), names travel as single path segments, and everything else is a
//! parameter the REST layer checks as it checks any client's. REST refusals come back as tool
//! errors carrying DreamFactory's error; results are capped in rows and bytes and say so.

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Extensions,
    Implementation, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ResultType,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::rest::{Credential, Rest, RestOp, RestReply};

/// The tool a call runs (in the call's extensions).
#[derive(Debug, Clone)]
struct ToolName(String);

/// Who a call acts for: the transport's credential, and whether its app key is read-only.
/// Over stdio it is fixed for the process; over HTTP each request carries its own, which the
/// server puts in the request's extensions after authenticating it.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub credential: Credential,
    pub read_only: bool,
    /// The database services the caller reaches, when known up front: a call that leaves out
    /// `service` then needs no extra request to find the only one.
    pub services: Option<Vec<String>>,
    /// Counts the REST requests made for the caller's call. The server's `/mcp` endpoint
    /// audits a tool call that made none itself (one the bridge refused); the events of its
    /// REST requests tell the others.
    pub rest_requests: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
}

/// The database services in a `GET /api/v2` answer.
fn database_services(body: &Value) -> Vec<String> {
    body["services"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|s| s["type"] == "pgsql")
                .map(|s| str_of(s, "name"))
                .collect()
        })
        .unwrap_or_default()
}

/// Limits and mode of a bridge.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Write tools are not offered and refused if called.
    pub read_only: bool,
    /// Rows `query_rows` returns when no `limit` is given.
    pub default_rows: u32,
    /// The most rows one call returns.
    pub max_rows: u32,
    /// The most bytes of rows one call returns.
    pub max_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            read_only: false,
            default_rows: 50,
            max_rows: 500,
            max_bytes: 64 * 1024,
        }
    }
}

/// Tools that may change data.
pub const WRITE_TOOLS: &[&str] = &["insert_rows", "update_rows", "delete_rows", "call_function"];

const INSTRUCTIONS: &str = "Rampart exposes PostgreSQL tables through a role-based REST API; these tools act with the caller's role and nothing more. \
Start with list_services and list_tables, then describe_table before querying. \
Filters use Rampart's filter language: comparisons like `status = 'shipped'`, `total > 100`, `name like 'A%'`, `id in (1,2)`, `note is null`, combined with AND, OR, NOT and parentheses; strings in single quotes. \
`order` is like `total desc, id`. Results are capped: when `truncated` is true, pass `next_cursor` back as `cursor`, narrow the filter, or use aggregate. \
update_rows and delete_rows need a filter and a max_affected; if more rows match, nothing changes.";

/// The bridge: a `Rest` backend, its limits, and the tool router.
#[derive(Clone)]
pub struct Bridge {
    rest: Arc<dyn Rest>,
    settings: Arc<Settings>,
    /// The caller of every call (stdio); `None` takes it from each HTTP request.
    caller: Option<Caller>,
    tool_router: ToolRouter<Bridge>,
}

// ---------------------------------------------------------------- arguments

/// A service name; may be left out when the caller reaches exactly one database service.
type ServiceArg = Option<String>;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTablesArgs {
    /// The database service (see list_services); optional when there is only one.
    pub service: ServiceArg,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableArgs {
    /// The database service (see list_services); optional when there is only one.
    pub service: ServiceArg,
    /// The table or view, as list_tables names it.
    pub table: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryArgs {
    /// The database service (see list_services); optional when there is only one.
    pub service: ServiceArg,
    /// The table or view, as list_tables names it.
    pub table: String,
    /// A filter in Rampart's filter language, e.g. `status = 'shipped' AND total > 100`.
    pub filter: Option<String>,
    /// The fields to return (default: every field the role may see).
    pub fields: Option<Vec<String>>,
    /// Sort order, e.g. `total desc, id`.
    pub order: Option<String>,
    /// Rows to return (default 50; capped by the server).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A record's id: a number, or text (`1,2` for a composite key).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Id {
    Number(i64),
    Text(String),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetRowArgs {
    /// The database service (see list_services); optional when there is only one.
    pub service: ServiceArg,
    /// The table or view, as list_tables names it.
    pub table: String,
    /// The primary key value (`1,2` for a composite key, in key order).
    pub id: Id,
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Function {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// The aggregate.
    pub function: Function,
    /// The field it applies to; omit for `count` of rows.
    pub field: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateArgs {
    /// The database service (see list_services); optional when there is only one.
    pub service: ServiceArg,
    /// The table or view, as list_tables names it.
    pub table: String,
    /// Rows to aggregate, in Rampart's filter language.
    pub filter: Option<String>,
    /// Fields to group by.
    pub group_by: Option<Vec<String>>,
    /// What to compute, e.g. `[{"function":"count"},{"function":"sum","field":"total"}]`.
    pub metrics: Vec<Metric>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InsertArgs {
    /// The database service (see list_services); optional when there is only one.
    pub service: ServiceArg,
    /// The table, as list_tables names it.
    pub table: String,
    /// The records to create (1 to 100), as field → value objects.
    pub rows: Vec<Map<String, Value>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// The database service (see list_services); optional when there is only one.
    pub service: ServiceArg,
    /// The table, as list_tables names it.
    pub table: String,
    /// Which rows, in Rampart's filter language (required).
    pub filter: String,
    /// The new values, as field → value.
    pub set: Map<String, Value>,
    /// The most rows the update may change; if more match, nothing changes.
    pub max_affected: u64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    /// The database service (see list_services); optional when there is only one.
    pub service: ServiceArg,
    /// The table, as list_tables names it.
    pub table: String,
    /// Which rows, in Rampart's filter language (required).
    pub filter: String,
    /// The most rows the delete may remove; if more match, nothing is deleted.
    pub max_affected: u64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallArgs {
    /// The database service (see list_services); optional when there is only one.
    pub service: ServiceArg,
    /// The function's name, as the service's `_func` listing names it.
    pub name: String,
    /// Arguments by name.
    pub args: Option<Map<String, Value>>,
}

// ---------------------------------------------------------------- results

/// Schema of a value that may be any JSON (an object schema: some clients refuse `true`).
fn any_json(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"description": "Any JSON value."})
}

/// Schema of a list of records.
fn records_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "array", "items": {"type": "object"}})
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServiceOut {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServicesOut {
    pub services: Vec<ServiceOut>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TableOut {
    pub name: String,
    pub label: String,
    pub is_view: bool,
    /// The verbs the role may use on it.
    pub access: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TablesOut {
    pub service: String,
    pub tables: Vec<TableOut>,
    /// Pass back as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FieldOut {
    pub name: String,
    /// Rampart's simple type (`integer`, `string`, `decimal`, `timestamptz`…).
    #[serde(rename = "type")]
    pub kind: String,
    pub db_type: String,
    pub allow_null: bool,
    pub is_primary_key: bool,
    /// Set when the role sees the field masked (`full`, `last4`, `email`, `hash`, `null`):
    /// it cannot be filtered, sorted or aggregated.
    pub mask: Option<String>,
    pub is_read_only: bool,
    pub ref_table: Option<String>,
    pub ref_field: Option<String>,
    /// Allowed values of an enum.
    pub picklist: Option<Vec<String>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RelationOut {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub ref_table: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DescribeOut {
    pub service: String,
    pub name: String,
    pub description: Option<String>,
    pub is_view: bool,
    pub primary_key: Vec<String>,
    /// The fields the role sees (hidden ones are absent).
    pub fields: Vec<FieldOut>,
    pub related: Vec<RelationOut>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RowsOut {
    #[schemars(schema_with = "records_schema")]
    pub rows: Vec<Value>,
    pub returned: usize,
    /// True when more rows match than were returned.
    pub truncated: bool,
    /// Pass back as `cursor` to continue, when the cut was at a row limit.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RowOut {
    #[schemars(schema_with = "any_json")]
    pub row: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WrittenOut {
    /// How many rows were inserted, updated or deleted.
    pub count: usize,
    /// The rows as written (as the role sees them).
    #[schemars(schema_with = "records_schema")]
    pub rows: Vec<Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CallOut {
    #[schemars(schema_with = "any_json")]
    pub result: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WhoamiOut {
    #[schemars(schema_with = "any_json")]
    pub user: Option<Value>,
    #[schemars(schema_with = "any_json")]
    pub app: Option<Value>,
    pub role: Option<String>,
    pub role_id: Option<i64>,
    /// Write tools are not available in this bridge.
    pub read_only: bool,
}

// ---------------------------------------------------------------- helpers

fn tool_error(message: impl Into<String>) -> CallToolResult {
    let message = message.into();
    CallToolResult::structured_error(json!({"error": {"message": message}}))
}

/// A REST refusal as a tool error with DreamFactory's error inside.
fn rest_error(reply: &RestReply) -> CallToolResult {
    let error = reply
        .body
        .get("error")
        .cloned()
        .unwrap_or_else(|| json!({"message": "request refused", "status_code": reply.status}));
    CallToolResult::structured_error(json!({"status": reply.status, "error": error}))
}

/// The rows a write returned, as the tool's result.
fn written(reply: &RestReply) -> CallToolResult {
    let rows = records(&reply.body);
    structured(&WrittenOut {
        count: rows.len(),
        rows,
    })
}

/// Update and delete need a filter and a positive `max_affected`.
fn bounded(filter: &str, max_affected: u64) -> Result<(), CallToolResult> {
    if filter.trim().is_empty() {
        return Err(tool_error("A filter is required."));
    }
    if max_affected == 0 {
        return Err(tool_error("`max_affected` must be at least 1."));
    }
    Ok(())
}

fn structured<T: Serialize>(value: &T) -> CallToolResult {
    CallToolResult::structured(serde_json::to_value(value).unwrap_or(Value::Null))
}

fn records(body: &Value) -> Vec<Value> {
    match body {
        Value::Object(m) => match m.get("resource") {
            Some(Value::Array(items)) => items.clone(),
            _ => vec![body.clone()],
        },
        Value::Array(items) => items.clone(),
        _ => Vec::new(),
    }
}

/// A name that goes into a comma-separated parameter: no separators or expressions.
fn plain_name(kind: &str, name: &str) -> Result<(), CallToolResult> {
    if name.is_empty()
        || name.len() > 128
        || name.contains([',', '(', ')', '\'', '"', ';'])
        || name.chars().any(char::is_whitespace)
    {
        return Err(tool_error(format!(
            "'{name}' is not a {kind} name (no commas, quotes, parentheses or spaces)."
        )));
    }
    Ok(())
}

fn text(s: &str) -> String {
    s.to_owned()
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .map(text)
        .unwrap_or_default()
}

/// The page of `list_tables` a cursor names.
fn page_of(cursor: Option<&str>) -> Result<usize, CallToolResult> {
    use base64::Engine;
    let Some(c) = cursor else { return Ok(0) };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("tables:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| tool_error("Invalid cursor: pass back a next_cursor this tool returned."))
}

fn cursor_of(offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("tables:{offset}"))
}

/// Tables per `list_tables` page.
const TABLES_PAGE: usize = 100;

// ---------------------------------------------------------------- tools

#[tool_router]
impl Bridge {
    /// A bridge sending its calls to `rest`, for one `caller` (stdio) or, with `None`, for
    /// the caller each HTTP request carries.
    pub fn new(rest: Arc<dyn Rest>, settings: Settings, caller: Option<Caller>) -> Self {
        let mut tool_router = Self::tool_router();
        if settings.read_only || caller.as_ref().is_some_and(|c| c.read_only) {
            for name in WRITE_TOOLS {
                tool_router.remove_route(name);
            }
        }
        Self {
            rest,
            settings: Arc::new(settings),
            caller,
            tool_router,
        }
    }

    /// The caller of a call: the bridge's own, or the one its HTTP request carries; its
    /// credential names the tool being called.
    fn caller(&self, ext: &Extensions) -> Result<Caller, CallToolResult> {
        let mut caller = match &self.caller {
            Some(c) => c.clone(),
            None => ext
                .get::<http::request::Parts>()
                .and_then(|p| p.extensions.get::<Caller>())
                .cloned()
                .ok_or_else(|| tool_error("No credential came with this request."))?,
        };
        caller.credential.tool = ext.get::<ToolName>().map(|t| t.0.clone());
        Ok(caller)
    }

    /// A bridge for the credential `rest` carries, checked once: a refused credential stops
    /// here, and a read-only app key makes the bridge read-only.
    pub async fn connect(
        rest: Arc<dyn Rest>,
        settings: Settings,
        credential: Credential,
    ) -> Result<Self, String> {
        let reply = rest
            .send(RestOp::Session, &credential)
            .await
            .map_err(|e| e.to_string())?;
        if !reply.ok() {
            let message = reply.body["error"]["message"]
                .as_str()
                .unwrap_or("the credential was refused");
            return Err(format!(
                "Rampart refused the credential ({}): {message}",
                reply.status
            ));
        }
        let read_only = reply.body["app"]["read_only"] == json!(true);
        let services = rest
            .send(RestOp::Services, &credential)
            .await
            .ok()
            .filter(RestReply::ok)
            .map(|r| database_services(&r.body));
        let caller = Caller {
            credential,
            read_only,
            services,
            rest_requests: None,
        };
        Ok(Self::new(rest, settings, Some(caller)))
    }

    async fn send(&self, caller: &Caller, op: RestOp) -> Result<RestReply, CallToolResult> {
        if op.writes() && (self.settings.read_only || caller.read_only) {
            return Err(tool_error(
                "This bridge is read-only: nothing can be changed.",
            ));
        }
        // In read-only mode the REST layer is told so as well, and refuses writes itself.
        let mut credential = caller.credential.clone();
        credential.read_only |= self.settings.read_only || caller.read_only;
        if let Some(n) = &caller.rest_requests {
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let reply = self
            .rest
            .send(op, &credential)
            .await
            .map_err(|e| tool_error(e.to_string()))?;
        if reply.ok() {
            Ok(reply)
        } else {
            Err(rest_error(&reply))
        }
    }

    /// The service a call names, or the only database service the caller reaches.
    async fn service(&self, caller: &Caller, given: ServiceArg) -> Result<String, CallToolResult> {
        if let Some(s) = given {
            return Ok(s);
        }
        // Known up front for every caller; asked only if the start-up lookup failed.
        let names = match &caller.services {
            Some(known) => known.clone(),
            None => database_services(&self.send(caller, RestOp::Services).await?.body),
        };
        match names.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(tool_error("Your role reaches no database service.")),
            many => Err(tool_error(format!(
                "Name the service: one of {}.",
                many.join(", ")
            ))),
        }
    }

    #[tool(
        description = "The database services your role reaches.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false),
        output_schema = schema_for_output::<ServicesOut>()
    )]
    async fn list_services(
        &self,
        ext: Extensions,
        _: Parameters<NoArgs>,
    ) -> Result<CallToolResult, McpError> {
        let caller = match self.caller(&ext) {
            Ok(c) => c,
            Err(e) => return Ok(e),
        };
        Ok(match self.send(&caller, RestOp::Services).await {
            Err(e) => e,
            Ok(reply) => {
                let services = reply.body["services"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|s| s["type"] == "pgsql")
                            .map(|s| ServiceOut {
                                name: str_of(s, "name"),
                                label: str_of(s, "label"),
                                kind: str_of(s, "type"),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                structured(&ServicesOut { services })
            }
        })
    }

    #[tool(
        description = "The tables and views of a service your role may use, with the verbs it may use on each; 100 per page.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false),
        output_schema = schema_for_output::<TablesOut>()
    )]
    async fn list_tables(
        &self,
        ext: Extensions,
        Parameters(a): Parameters<ListTablesArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(self.list_tables_inner(&ext, a).await.unwrap_or_else(|e| e))
    }

    async fn list_tables_inner(
        &self,
        ext: &Extensions,
        a: ListTablesArgs,
    ) -> Result<CallToolResult, CallToolResult> {
        let caller = self.caller(ext)?;
        let offset = page_of(a.cursor.as_deref())?;
        let service = self.service(&caller, a.service).await?;
        let reply = self
            .send(
                &caller,
                RestOp::Tables {
                    service: service.clone(),
                },
            )
            .await?;
        let all = records(&reply.body);
        let tables = all
            .iter()
            .skip(offset)
            .take(TABLES_PAGE)
            .map(|t| TableOut {
                name: str_of(t, "name"),
                label: str_of(t, "label"),
                is_view: t["is_view"].as_bool().unwrap_or(false),
                access: t["access"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).map(text).collect())
                    .unwrap_or_default(),
            })
            .collect();
        let next = offset + TABLES_PAGE;
        Ok(structured(&TablesOut {
            service,
            tables,
            next_cursor: (next < all.len()).then(|| cursor_of(next)),
        }))
    }

    #[tool(
        description = "A table's fields as your role sees them: types, keys, references; hidden fields are absent and masked ones say how they are masked.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false),
        output_schema = schema_for_output::<DescribeOut>()
    )]
    async fn describe_table(
        &self,
        ext: Extensions,
        Parameters(a): Parameters<TableArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(self.describe_inner(&ext, a).await.unwrap_or_else(|e| e))
    }

    async fn describe_inner(
        &self,
        ext: &Extensions,
        a: TableArgs,
    ) -> Result<CallToolResult, CallToolResult> {
        let caller = self.caller(ext)?;
        let service = self.service(&caller, a.service).await?;
        // The table's schema as the role reads it comes with a read (`_schema` is a separate
        // grant in DreamFactory; reading the table is what the agent needs).
        let reply = self
            .send(
                &caller,
                RestOp::Read {
                    service: service.clone(),
                    table: a.table,
                    query: vec![("include_schema", "true".into()), ("limit", "1".into())],
                },
            )
            .await?;
        let t = &reply.body["meta"]["schema"];
        let list = |key: &str| t[key].as_array().cloned().unwrap_or_default();
        Ok(structured(&DescribeOut {
            service,
            name: str_of(t, "name"),
            description: t["description"].as_str().map(text),
            is_view: t["is_view"].as_bool().unwrap_or(false),
            primary_key: list("primary_key")
                .iter()
                .filter_map(Value::as_str)
                .map(text)
                .collect(),
            fields: list("field")
                .iter()
                .map(|f| FieldOut {
                    name: str_of(f, "name"),
                    kind: str_of(f, "type"),
                    db_type: str_of(f, "db_type"),
                    allow_null: f["allow_null"].as_bool().unwrap_or(true),
                    is_primary_key: f["is_primary_key"].as_bool().unwrap_or(false),
                    mask: f["mask"].as_str().map(text),
                    is_read_only: f["is_read_only"].as_bool().unwrap_or(false),
                    ref_table: f["ref_table"].as_str().map(text),
                    ref_field: f["ref_field"].as_str().map(text),
                    picklist: f["picklist"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).map(text).collect()),
                })
                .collect(),
            related: list("related")
                .iter()
                .map(|r| RelationOut {
                    name: str_of(r, "name"),
                    kind: str_of(r, "type"),
                    ref_table: str_of(r, "ref_table"),
                })
                .collect(),
        }))
    }

    #[tool(
        description = "Rows of a table your role may read, filtered and sorted; at most 50 by default. When `truncated` is true, pass `next_cursor` back as `cursor`.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false),
        output_schema = schema_for_output::<RowsOut>()
    )]
    async fn query_rows(
        &self,
        ext: Extensions,
        Parameters(a): Parameters<QueryArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(self.query_inner(&ext, a).await.unwrap_or_else(|e| e))
    }

    async fn query_inner(
        &self,
        ext: &Extensions,
        a: QueryArgs,
    ) -> Result<CallToolResult, CallToolResult> {
        let caller = self.caller(ext)?;
        let s = &self.settings;
        let asked = a.limit.unwrap_or(s.default_rows).max(1);
        let limit = asked.min(s.max_rows);
        let mut query: Vec<(&'static str, String)> = vec![("limit", limit.to_string())];
        if let Some(f) = a.filter.filter(|f| !f.trim().is_empty()) {
            query.push(("filter", f));
        }
        if let Some(fields) = a.fields.filter(|f| !f.is_empty()) {
            for f in &fields {
                plain_name("field", f)?;
            }
            query.push(("fields", fields.join(",")));
        }
        if let Some(o) = a.order.filter(|o| !o.trim().is_empty()) {
            query.push(("order", o));
        }
        if let Some(c) = a.cursor {
            query.push(("cursor", c));
        }
        let service = self.service(&caller, a.service).await?;
        let reply = self
            .send(
                &caller,
                RestOp::Read {
                    service,
                    table: a.table,
                    query,
                },
            )
            .await?;
        let mut rows = records(&reply.body);
        let mut next_cursor = reply.body["meta"]["next_cursor"].as_str().map(text);
        let mut truncated = next_cursor.is_some();
        let mut notices = Vec::new();
        if asked > limit {
            notices.push(format!(
                "limit {asked} is above this server's maximum of {limit} rows per call."
            ));
        }
        // Whole rows within the byte budget; a cut here has no cursor to continue from.
        let mut bytes = 0;
        let mut keep = 0;
        for row in &rows {
            bytes += row.to_string().len() + 1;
            if bytes > s.max_bytes {
                break;
            }
            keep += 1;
        }
        if keep < rows.len() {
            rows.truncate(keep);
            truncated = true;
            next_cursor = None;
            notices.push(format!(
                "Result cut at {keep} rows to stay within {} KiB; select fewer fields, lower `limit`, or narrow the filter.",
                s.max_bytes / 1024
            ));
        } else if truncated {
            notices.push(format!(
                "More rows match than the {} returned; pass `next_cursor` as `cursor` for the next page, narrow the filter, or use aggregate.",
                rows.len()
            ));
        }
        let out = RowsOut {
            returned: rows.len(),
            rows,
            truncated,
            next_cursor,
        };
        let mut result = structured(&out);
        for n in notices {
            result.content.push(ContentBlock::text(n));
        }
        Ok(result)
    }

    #[tool(
        description = "One row by its primary key (`1,2` for a composite key).",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false),
        output_schema = schema_for_output::<RowOut>()
    )]
    async fn get_row(
        &self,
        ext: Extensions,
        Parameters(a): Parameters<GetRowArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(self.get_row_inner(&ext, a).await.unwrap_or_else(|e| e))
    }

    async fn get_row_inner(
        &self,
        ext: &Extensions,
        a: GetRowArgs,
    ) -> Result<CallToolResult, CallToolResult> {
        let caller = self.caller(ext)?;
        let service = self.service(&caller, a.service).await?;
        let id = match a.id {
            Id::Number(n) => n.to_string(),
            Id::Text(t) => t,
        };
        let reply = self
            .send(
                &caller,
                RestOp::Record {
                    service,
                    table: a.table,
                    id,
                },
            )
            .await?;
        Ok(structured(&RowOut { row: reply.body }))
    }

    #[tool(
        description = "Counts, sums, averages, minimums and maximums over a table's rows, optionally grouped; computed by the database.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false),
        output_schema = schema_for_output::<RowsOut>()
    )]
    async fn aggregate(
        &self,
        ext: Extensions,
        Parameters(a): Parameters<AggregateArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(self.aggregate_inner(&ext, a).await.unwrap_or_else(|e| e))
    }

    async fn aggregate_inner(
        &self,
        ext: &Extensions,
        a: AggregateArgs,
    ) -> Result<CallToolResult, CallToolResult> {
        let caller = self.caller(ext)?;
        if a.metrics.is_empty() {
            return Err(tool_error("Give at least one metric."));
        }
        let groups = a.group_by.unwrap_or_default();
        let mut fields = Vec::new();
        for g in &groups {
            plain_name("field", g)?;
            fields.push(g.clone());
        }
        for m in &a.metrics {
            let f = match (m.function, m.field.as_deref()) {
                (Function::Count, None) => "COUNT(*)".to_owned(),
                (_, None) => return Err(tool_error("Only `count` may leave out `field`.")),
                (func, Some(field)) => {
                    plain_name("field", field)?;
                    let name = match func {
                        Function::Count => "COUNT",
                        Function::Sum => "SUM",
                        Function::Avg => "AVG",
                        Function::Min => "MIN",
                        Function::Max => "MAX",
                    };
                    format!("{name}({field})")
                }
            };
            fields.push(f);
        }
        let limit = self.settings.max_rows;
        let mut query = vec![("fields", fields.join(",")), ("limit", limit.to_string())];
        if !groups.is_empty() {
            query.push(("group", groups.join(",")));
        }
        if let Some(f) = a.filter.filter(|f| !f.trim().is_empty()) {
            query.push(("filter", f));
        }
        let service = self.service(&caller, a.service).await?;
        let reply = self
            .send(
                &caller,
                RestOp::Read {
                    service,
                    table: a.table,
                    query,
                },
            )
            .await?;
        let rows = records(&reply.body);
        let truncated = reply.body["meta"]["next_cursor"].is_string()
            || rows.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(structured(&RowsOut {
            returned: rows.len(),
            rows,
            truncated,
            next_cursor: None,
        }))
    }

    #[tool(
        description = "Creates rows (1 to 100) in one transaction: all or none. Returns them as your role sees them.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        ),
        output_schema = schema_for_output::<WrittenOut>()
    )]
    async fn insert_rows(
        &self,
        ext: Extensions,
        Parameters(a): Parameters<InsertArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(self.insert_inner(&ext, a).await.unwrap_or_else(|e| e))
    }

    async fn insert_inner(
        &self,
        ext: &Extensions,
        a: InsertArgs,
    ) -> Result<CallToolResult, CallToolResult> {
        let caller = self.caller(ext)?;
        if a.rows.is_empty() || a.rows.len() > 100 {
            return Err(tool_error("Give between 1 and 100 rows."));
        }
        let service = self.service(&caller, a.service).await?;
        let rows: Vec<Value> = a.rows.into_iter().map(Value::Object).collect();
        let reply = self
            .send(
                &caller,
                RestOp::Insert {
                    service,
                    table: a.table,
                    rows,
                },
            )
            .await?;
        Ok(written(&reply))
    }

    #[tool(
        description = "Changes the rows a filter selects, in one transaction. If more rows than `max_affected` match, nothing changes.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schema_for_output::<WrittenOut>()
    )]
    async fn update_rows(
        &self,
        ext: Extensions,
        Parameters(a): Parameters<UpdateArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(self.update_inner(&ext, a).await.unwrap_or_else(|e| e))
    }

    async fn update_inner(
        &self,
        ext: &Extensions,
        a: UpdateArgs,
    ) -> Result<CallToolResult, CallToolResult> {
        let caller = self.caller(ext)?;
        bounded(&a.filter, a.max_affected)?;
        if a.set.is_empty() {
            return Err(tool_error("`set` holds no field to change."));
        }
        let service = self.service(&caller, a.service).await?;
        let reply = self
            .send(
                &caller,
                RestOp::Update {
                    service,
                    table: a.table,
                    filter: a.filter,
                    set: a.set,
                    max_affected: a.max_affected,
                },
            )
            .await?;
        Ok(written(&reply))
    }

    #[tool(
        description = "Deletes the rows a filter selects, in one transaction. If more rows than `max_affected` match, nothing is deleted.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schema_for_output::<WrittenOut>()
    )]
    async fn delete_rows(
        &self,
        ext: Extensions,
        Parameters(a): Parameters<DeleteArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(self.delete_inner(&ext, a).await.unwrap_or_else(|e| e))
    }

    async fn delete_inner(
        &self,
        ext: &Extensions,
        a: DeleteArgs,
    ) -> Result<CallToolResult, CallToolResult> {
        let caller = self.caller(ext)?;
        bounded(&a.filter, a.max_affected)?;
        let service = self.service(&caller, a.service).await?;
        let reply = self
            .send(
                &caller,
                RestOp::Delete {
                    service,
                    table: a.table,
                    filter: a.filter,
                    max_affected: a.max_affected,
                },
            )
            .await?;
        Ok(written(&reply))
    }

    #[tool(
        description = "Calls a database function your role may call, with arguments by name.",
        annotations(read_only_hint = false, destructive_hint = true, open_world_hint = false),
        output_schema = schema_for_output::<CallOut>()
    )]
    async fn call_function(
        &self,
        ext: Extensions,
        Parameters(a): Parameters<CallArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(self.call_inner(&ext, a).await.unwrap_or_else(|e| e))
    }

    async fn call_inner(
        &self,
        ext: &Extensions,
        a: CallArgs,
    ) -> Result<CallToolResult, CallToolResult> {
        let caller = self.caller(ext)?;
        let service = self.service(&caller, a.service).await?;
        let reply = self
            .send(
                &caller,
                RestOp::Call {
                    service,
                    function: a.name,
                    args: a.args.unwrap_or_default(),
                },
            )
            .await?;
        Ok(structured(&CallOut { result: reply.body }))
    }

    #[tool(
        description = "Who you are to Rampart: your user (if any), your app, and the role every tool acts under.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false),
        output_schema = schema_for_output::<WhoamiOut>()
    )]
    async fn whoami(
        &self,
        ext: Extensions,
        _: Parameters<NoArgs>,
    ) -> Result<CallToolResult, McpError> {
        let caller = match self.caller(&ext) {
            Ok(c) => c,
            Err(e) => return Ok(e),
        };
        Ok(match self.send(&caller, RestOp::Session).await {
            Err(e) => e,
            Ok(reply) => {
                let b = &reply.body;
                let user = b["id"].is_i64().then(|| {
                    json!({"id": b["id"], "name": b["name"], "email": b["email"], "is_sys_admin": b["is_sys_admin"]})
                });
                structured(&WhoamiOut {
                    user,
                    app: b.get("app").filter(|a| !a.is_null()).cloned(),
                    role: b["role"].as_str().map(text),
                    role_id: b["role_id"].as_i64(),
                    read_only: self.settings.read_only || caller.read_only,
                })
            }
        })
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Bridge {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "rampart-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS.to_owned())
    }

    /// Runs a tool until it answers or the client cancels the call. A cancelled call drops its
    /// REST request: the server sees the connection go, closes the statement's database
    /// connection, and PostgreSQL stops the statement.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let cancelled = context.ct.clone();
        // The REST requests the tool makes name it, for the audit trail.
        context
            .extensions
            .insert(ToolName(request.name.to_string()));
        let call = ToolCallContext::new(self, request, context);
        tokio::select! {
            answer = self.tool_router.call(call) => answer,
            () = cancelled.cancelled() => Err(McpError::internal_error("The call was cancelled.", None)),
        }
    }

    /// The tools in a fixed order; the list depends on the caller (read-only mode), so it is
    /// never cached for others.
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let modern = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let read_only =
            self.settings.read_only || self.caller(&context.extensions).is_ok_and(|c| c.read_only);
        let mut tools = self.tool_router.list_all();
        if read_only {
            tools.retain(|t| !WRITE_TOOLS.contains(&t.name.as_ref()));
        }
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ListToolsResult {
            result_type: Some(ResultType::COMPLETE),
            tools,
            meta: None,
            next_cursor: None,
            ttl_ms: modern.then_some(0),
            cache_scope: modern.then_some(CacheScope::Private),
        })
    }
}
