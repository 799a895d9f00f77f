//! What every document shares: the four security schemes, DreamFactory's error object and
//! the error responses, the query parameters of DreamFactory reads, `resource` envelopes,
//! and safe, unique names for component keys and operation ids.
//!
//! Pure; no I/O. Shared components have the same definition in every document, so merging
//! documents never has to choose between two versions of one name.

use std::collections::HashSet;

use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
    PathItemBuilder,
};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{
    ArrayBuilder, ArrayItems, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, Content, ContentBuilder, Ref, RefOr, Required, Response, ResponseBuilder,
};

/// The shared error schema, DreamFactory's `{"error":{…}}`.
pub const ERROR_SCHEMA: &str = "Error";

/// The security schemes, by name: any one of them authenticates a request.
const SECURITY_SCHEMES: [&str; 4] = [
    "ApiKeyHeader",
    "ApiKeyQuery",
    "SessionTokenHeader",
    "BearerAuth",
];

/// Error responses every operation may give: (status, component name, description).
const ERROR_RESPONSES: [(&str, &str, &str); 4] = [
    (
        "400",
        "BadRequest",
        "Bad request: an invalid parameter, filter or body, or no credentials at all.",
    ),
    (
        "401",
        "Unauthorized",
        "Unauthorized: the session token is missing, invalid or expired.",
    ),
    (
        "403",
        "Forbidden",
        "Forbidden: the role does not allow this verb on this component.",
    ),
    (
        "404",
        "NotFound",
        "Not found. Tables the role may not see are reported as not found too.",
    ),
];

/// Read parameters shared as `#/components/parameters/{name}`: (name, type, description).
const READ_PARAMETERS: [(&str, Type, &str); 14] = [
    (
        "fields",
        Type::String,
        "Comma-separated fields to return, or `*` (alias `select`). Reads default to all fields, writes to the key fields. With `group`, aggregates such as `SUM(total)` or `COUNT(*)` are allowed.",
    ),
    (
        "filter",
        Type::String,
        "Rampart filter language, e.g. `(status = 'shipped') AND (total > 100)` (alias `where`).",
    ),
    (
        "ids",
        Type::String,
        "Comma-separated record ids; they take precedence over `filter`.",
    ),
    (
        "id_field",
        Type::String,
        "Comma-separated fields to use as the record identifier instead of the primary key.",
    ),
    (
        "limit",
        Type::Integer,
        "Maximum number of records to return (alias `top`), capped by the service's `max_records`.",
    ),
    (
        "offset",
        Type::Integer,
        "Number of records to skip (alias `skip`).",
    ),
    (
        "order",
        Type::String,
        "Sort order (aliases `sort`, `order_by`): `field [asc|desc] [nulls first|last]`, comma-separated, e.g. `total desc nulls last, id`.",
    ),
    (
        "group",
        Type::String,
        "Comma-separated fields to group by (alias `group_by`), with aggregates in `fields`.",
    ),
    (
        "include_count",
        Type::Boolean,
        "Adds the number of matching records as `meta.count`.",
    ),
    (
        "count_only",
        Type::Boolean,
        "Returns only the number of matching records, as a bare integer.",
    ),
    (
        "include_schema",
        Type::Boolean,
        "Adds the table's schema as `meta.schema`.",
    ),
    (
        "as_list",
        Type::Boolean,
        "Returns only the records' ids, as strings (`(a,b)` for composite keys).",
    ),
    (
        "cursor",
        Type::String,
        "Keyset paging: the `meta.next_cursor` of the previous page.",
    ),
    (
        "refresh",
        Type::Boolean,
        "Re-reads the database schema before answering.",
    ),
];

/// Batch parameters of writes, shared like the read parameters.
const WRITE_PARAMETERS: [(&str, Type, &str); 2] = [
    (
        "continue",
        Type::Boolean,
        "In a batch, keep going after a record fails; failures are reported per record.",
    ),
    (
        "rollback",
        Type::Boolean,
        "In a batch, undo every record when one fails. Cannot be combined with `continue`.",
    ),
];

/// The parameter names of a record read, in the order operations list them.
pub const READ: [&str; 14] = [
    "fields",
    "filter",
    "ids",
    "id_field",
    "limit",
    "offset",
    "order",
    "group",
    "include_count",
    "count_only",
    "include_schema",
    "as_list",
    "cursor",
    "refresh",
];

/// Components every document carries: security schemes, the error shape and responses, and
/// the shared parameters.
pub fn base() -> ComponentsBuilder {
    let header = |name: &str, what: &str| {
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(name, what)))
    };
    let mut c = ComponentsBuilder::new()
        .security_scheme(
            "ApiKeyHeader",
            header("X-DreamFactory-API-Key", "An app's API key."),
        )
        .security_scheme(
            "ApiKeyQuery",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "api_key",
                "An app's API key.",
            ))),
        )
        .security_scheme(
            "SessionTokenHeader",
            header(
                "X-DreamFactory-Session-Token",
                "A session token from a login.",
            ),
        )
        .security_scheme(
            "BearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A session token or an identity provider's JWT."))
                    .build(),
            ),
        )
        .schema(ERROR_SCHEMA, error_schema());
    for (_, name, description) in ERROR_RESPONSES {
        c = c.response(name, json_response(description, schema_ref(ERROR_SCHEMA)));
    }
    for (name, ty, description) in READ_PARAMETERS.into_iter().chain(WRITE_PARAMETERS) {
        let schema = match ty {
            Type::Integer => ObjectBuilder::new()
                .schema_type(ty)
                .format(format("int64"))
                .minimum(Some(0)),
            _ => ObjectBuilder::new().schema_type(ty),
        };
        c = c.parameter(name, query(name, description, schema));
    }
    c
}

fn error_schema() -> ObjectBuilder {
    let inner = object([
        (
            "code",
            prim(Type::Integer)
                .description(Some("DreamFactory's error code (usually the HTTP status).")),
        ),
        (
            "context",
            any().description(Some("Details, e.g. per-record errors of a batch, or null.")),
        ),
        ("message", prim(Type::String)),
        (
            "status_code",
            prim(Type::Integer).description(Some("The HTTP status.")),
        ),
    ])
    .required("code")
    .required("message")
    .required("status_code");
    object([("error", inner)])
        .required("error")
        .description(Some("DreamFactory's error object."))
}

/// The global security: any one of the schemes.
pub fn security() -> Vec<SecurityRequirement> {
    SECURITY_SCHEMES
        .iter()
        .map(|name| SecurityRequirement::new(*name, Vec::<String>::new()))
        .collect()
}

/// An operation with its id, tag and summary, and the error responses.
pub fn operation(id: &str, tag: &str, summary: &str) -> OperationBuilder {
    let op = OperationBuilder::new().operation_id(Some(id)).tag(tag);
    with_errors(op.summary(Some(summary)))
}

/// A path item of these operations.
pub fn path_item(ops: Vec<(HttpMethod, OperationBuilder)>) -> PathItem {
    let item = PathItemBuilder::new();
    ops.into_iter()
        .fold(item, |item, (method, op)| item.operation(method, op))
        .build()
}

/// A JSON request body.
pub fn body(schema: impl Into<RefOr<Schema>>, description: &str, required: bool) -> RequestBody {
    let required = if required {
        Required::True
    } else {
        Required::False
    };
    let body = RequestBodyBuilder::new()
        .description(Some(description))
        .required(Some(required));
    body.content("application/json", json(schema)).build()
}

/// Adds the error responses to an operation.
pub fn with_errors(op: OperationBuilder) -> OperationBuilder {
    ERROR_RESPONSES.iter().fold(op, |op, (status, name, _)| {
        op.response(*status, Ref::from_response_name(*name))
    })
}

/// Adds shared parameters, by name.
pub fn with_params(op: OperationBuilder, names: &[&str]) -> OperationBuilder {
    names.iter().fold(op, |op, name| {
        op.parameter_ref(Ref::new(format!("#/components/parameters/{name}")))
    })
}

/// An optional query parameter.
pub fn query(name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// A path parameter.
pub fn path(name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// A JSON body or response content.
pub fn json(schema: impl Into<RefOr<Schema>>) -> Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

/// A response with a JSON body.
pub fn json_response(description: &str, schema: impl Into<RefOr<Schema>>) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", json(schema))
        .build()
}

/// `#/components/schemas/{name}`.
pub fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// `{"resource":[items…]}`.
pub fn envelope(items: impl Into<RefOr<Schema>>) -> ObjectBuilder {
    object([("resource", array(items))]).required("resource")
}

/// An object with these properties (in order).
pub fn object<'a, S: Into<RefOr<Schema>>>(
    props: impl IntoIterator<Item = (&'a str, S)>,
) -> ObjectBuilder {
    props
        .into_iter()
        .fold(ObjectBuilder::new(), |o, (name, schema)| {
            o.property(name, schema)
        })
}

/// An array of items.
pub fn array(items: impl Into<RefOr<Schema>>) -> ArrayBuilder {
    ArrayBuilder::new().items(ArrayItems::RefOrSchema(Box::new(items.into())))
}

/// A value of one JSON type.
pub fn prim(ty: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(ty)
}

/// A value of one JSON type, with a description.
pub fn described(ty: Type, description: &str) -> ObjectBuilder {
    prim(ty).description(Some(description))
}

/// A value of one JSON type, or null.
pub fn nullable(ty: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type([ty, Type::Null].into_iter().collect::<SchemaType>())
}

/// Any JSON value (an empty schema).
pub fn any() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::AnyValue)
}

/// A `format` annotation.
pub fn format(name: &str) -> Option<SchemaFormat> {
    Some(SchemaFormat::Custom(name.to_owned()))
}

/// A name made safe for component keys and operation ids: characters outside
/// `[A-Za-z0-9._-]` become `_`.
pub fn safe(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Hands out names that are unique within one document (`x`, then `x_2`, `x_3`…).
#[derive(Default)]
pub struct Names(HashSet<String>);

impl Names {
    /// A unique name from `raw`, made safe.
    pub fn unique(&mut self, raw: &str) -> String {
        let base = safe(raw);
        let mut name = base.clone();
        let mut n = 1;
        while !self.0.insert(name.clone()) {
            n += 1;
            name = format!("{base}_{n}");
        }
        name
    }
}

/// A URL path segment: characters outside `[A-Za-z0-9._~-]` are percent-encoded, so a table
/// name can never open a path template (`{`) or add a segment (`/`).
pub fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
