//! The system API's document: the service index, `environment`, the admin session, and CRUD
//! on admins, services, roles and apps in DreamFactory's `resource` envelopes, including
//! Rampart's field rules on role access rows.
//!
//! Pure and fixed: it depends on no schema or role; no I/O. Secrets are `writeOnly`: the API
//! takes them and never returns them.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{ComponentsBuilder, RefOr};

use super::Parts;
use super::components::{
    any, array, base, body, described, envelope, format, json_response, nullable, object,
    operation, path, path_item, prim, query, schema_ref, with_params,
};

/// The semantics of field rules, shown on the `FieldRules` schema.
const FIELD_RULES_DOC: &str = "Per-field rules of this access row, keyed by column name, for the tables its component covers. \
`\"hidden\"`: never returned, and not usable in `fields`, `filter`, `order`, `group`, aggregates or writes, as if the column did not exist. \
`{\"mask\": …}`: returned masked (`full` → `\"****\"`, `last4` → only the last four characters, `email` → the address partly hidden, \
`hash` → a hash of the value, `null` → null); a masked field cannot be filtered, ordered, grouped or aggregated, so its values cannot be inferred. \
`\"read_only\"`: returned as is but never written. Fields without a rule are visible and writable. \
Example: `{\"ssn\":{\"mask\":\"last4\"},\"email\":\"hidden\",\"tenant_id\":\"read_only\"}`.";

/// One CRUD resource of the system API: its name, schema, the fields a create needs, and
/// its `related` names.
struct Resource(
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

const RESOURCES: [Resource; 9] = [
    Resource("admin", "Admin", &["email", "password"], &[]),
    Resource(
        "user",
        "User",
        &["email"],
        &["user_to_app_to_role_by_user_id", "lookup_by_user_id"],
    ),
    Resource("service", "Service", &["name", "type", "config"], &[]),
    Resource(
        "role",
        "Role",
        &["name"],
        &["role_service_access_by_role_id", "lookup_by_role_id"],
    ),
    Resource("app", "App", &["name"], &[]),
    Resource("limit", "Limit", &["name", "type", "rate"], &[]),
    Resource("cors", "Cors", &["path", "origin"], &[]),
    Resource("lookup", "Lookup", &["name"], &[]),
    Resource(
        "oauth_client",
        "OAuthClient",
        &["name", "app_id", "redirect_uris"],
        &[],
    ),
];

/// The system document's parts.
pub fn build() -> Parts {
    let tag = |name: &str, about: &str| {
        TagBuilder::new()
            .name(name)
            .description(Some(about))
            .build()
    };
    let tags = vec![
        tag(
            "system",
            "The service index and the platform's environment.",
        ),
        tag("system: session", "Admin login and logout."),
        tag("system: admin", "System administrators."),
        tag(
            "system: user",
            "Users (non-admins): local accounts and those identity providers created, with per-app roles.",
        ),
        tag(
            "system: service",
            "Database services (PostgreSQL connections).",
        ),
        tag(
            "system: role",
            "Roles: access rows (components, verbs, row filters, field rules) and lookups.",
        ),
        tag("system: app", "Apps and their API keys."),
        tag(
            "system: limit",
            "Rate limits: requests per minute, hour, day, 7 or 30 days, of the instance, a user (or each), a role, an app (or each), a service or an endpoint.",
        ),
        tag(
            "system: lookup",
            "Global lookups: values every role's row filters can name as `{name}` (a role's or user's own override them). Private values are never returned.",
        ),
        tag(
            "system: cors",
            "CORS: which browser origins may call which paths, with which verbs and headers. Without an entry, browsers keep other sites' pages out.",
        ),
        tag(
            "system: oauth_client",
            "MCP authorization: clients registered by an admin (public clients with PKCE; no secret). Each lives in an app whose role rules apply; a user signs in and consents, and the client then acts as that user under their role for the app.",
        ),
        tag(
            "system: oauth_grant",
            "MCP authorization: what each user allowed each client (role, scopes, when last used). Revoking a grant holds on the next MCP call.",
        ),
        tag(
            "system: config",
            "Configuration as code: services and roles exported and imported as one document.",
        ),
        tag(
            "system: audit",
            "The audit trail: one event per request, MCP tool call, sign-in and change.",
        ),
    ];
    let get = |op: OperationBuilder| vec![(HttpMethod::Get, op)];
    let index = operation(
        "get_services",
        "system",
        "The services the caller may reach",
    )
    .response(
        "200",
        json_response("Services and service types.", schema_ref("ServiceIndex")),
    );
    let env = operation(
        "system_get_environment",
        "system",
        "Platform facts the console reads before login",
    )
    .securities(Some(Vec::new()))
    .response(
        "200",
        json_response("The environment.", schema_ref("Environment")),
    );

    let session = json_response("The session.", schema_ref("Session"));
    let login = operation(
        "system_login",
        "system: session",
        "Log in as an admin with e-mail and password",
    )
    .securities(Some(Vec::new()))
    .request_body(Some(body(
        schema_ref("Login"),
        "E-mail and password.",
        true,
    )))
    .response("200", session.clone());
    let current = operation(
        "system_get_session",
        "system: session",
        "The current admin session (404 without one)",
    );
    let done = object([("success", prim(Type::Boolean))]);
    let logout = operation(
        "system_logout",
        "system: session",
        "Log out: the session token is revoked",
    );
    let session_ops = vec![
        (HttpMethod::Post, login),
        (HttpMethod::Get, current.response("200", session)),
        (
            HttpMethod::Delete,
            logout.response("200", json_response("Logged out.", done)),
        ),
    ];

    let event = object([
        ("id", prim(Type::Integer)),
        ("time", prim(Type::String).format(format("date-time"))),
        ("request_id", prim(Type::String)),
        (
            "kind",
            described(
                Type::String,
                "request, login, login_failed, logout or change.",
            ),
        ),
        ("transport", described(Type::String, "rest or mcp.")),
        ("tool", nullable(Type::String)),
        (
            "principal",
            described(Type::String, "admin, user, app or anonymous."),
        ),
        ("user_id", nullable(Type::Integer)),
        ("email", nullable(Type::String)),
        ("provider", nullable(Type::String)),
        ("app_id", nullable(Type::Integer)),
        ("role_id", nullable(Type::Integer)),
        ("client", prim(Type::String)),
        ("method", prim(Type::String)),
        ("service", nullable(Type::String)),
        ("resource", nullable(Type::String)),
        (
            "params",
            any().description(Some("The query parameters, secrets replaced by *****.")),
        ),
        ("status", prim(Type::Integer)),
        ("error_code", nullable(Type::String)),
        ("rows", nullable(Type::Integer)),
        ("latency_us", prim(Type::Integer)),
        (
            "changes",
            any().description(Some(
                "For system changes: {before, after}, secrets left out.",
            )),
        ),
        ("hash", prim(Type::String)),
    ]);
    let audit = operation(
        "system_get_audit",
        "system: audit",
        "Audit events (sys-admins only), newest first; every match as NDJSON or CSV with `format`",
    )
    .parameter(query(
        "filter",
        "The filter language over the event fields (`time` takes RFC 3339).",
        prim(Type::String),
    ))
    .parameter(query(
        "limit",
        "Events per page (default 100, at most 1000).",
        prim(Type::Integer),
    ))
    .parameter(query("offset", "Events to skip.", prim(Type::Integer)))
    .parameter(query(
        "cursor",
        "Keyset paging: the `meta.next_cursor` of the previous page (same `filter` and `order`).",
        prim(Type::String),
    ))
    .parameter(query(
        "order",
        "`id desc` (default) or `id asc`.",
        prim(Type::String),
    ))
    .parameter(query(
        "include_count",
        "Add `meta.count`.",
        prim(Type::Boolean),
    ))
    .parameter(query(
        "format",
        "`json` (default), or `ndjson` / `csv` for every matching event, oldest first.",
        prim(Type::String),
    ))
    .response(
        "200",
        json_response(
            "A page of events.",
            envelope(event).property(
                "meta",
                object([
                    (
                        "count",
                        described(Type::Integer, "With `include_count`: every match."),
                    ),
                    (
                        "next_cursor",
                        described(
                            Type::String,
                            "When the page is full: the `cursor` of the next page.",
                        ),
                    ),
                ]),
            ),
        ),
    );

    let config_doc = || -> RefOr<Schema> {
        object::<RefOr<Schema>>([
            (
                "format",
                described(Type::String, "Always rampart-config.").into(),
            ),
            ("version", described(Type::Integer, "Always 1.").into()),
            ("services", array(any()).into()),
            ("roles", array(any()).into()),
        ])
        .into()
    };
    let export = operation(
        "system_export",
        "system: config",
        "Services and roles as one document, by name, without secrets",
    )
    .response("200", json_response("The document.", config_doc()));
    let import = operation(
        "system_import",
        "system: config",
        "Apply an exported document (by name; existing services keep their secrets; all or nothing)",
    )
    .parameter(query(
        "dry_run",
        "Check everything and report, writing nothing.",
        prim(Type::Boolean),
    ))
    .request_body(Some(body(config_doc(), "An exported document.", true)))
    .response(
        "200",
        json_response(
            "What was created and updated.",
            object::<RefOr<Schema>>([
                ("dry_run", prim(Type::Boolean).into()),
                ("created", array(any()).into()),
                ("updated", array(any()).into()),
            ]),
        ),
    );

    let service_test = operation(
        "system_test_service",
        "system: service",
        "Try a connection without storing anything (with `id`, stored secrets stand in for those left out)",
    )
    .request_body(Some(body(
        object::<RefOr<Schema>>([
            ("id", nullable(Type::Integer).into()),
            ("type", prim(Type::String).into()),
            ("config", schema_ref("ServiceConfig")),
        ]),
        "The service as it would be saved.",
        true,
    )))
    .response(
        "200",
        json_response(
            "Connected.",
            object::<RefOr<Schema>>([
                ("success", prim(Type::Boolean).into()),
                ("message", prim(Type::String).into()),
            ]),
        ),
    );
    let service_schema = operation(
        "system_get_service_schema",
        "system: service",
        "Everything the service's login can see: tables and views (fields, keys, relationships) and functions",
    )
    .parameter(path("id", "The service's id.", prim(Type::Integer)))
    .parameter(query(
        "refresh",
        "Introspect the database again first.",
        prim(Type::Boolean),
    ))
    .response(
        "200",
        json_response(
            "The schema.",
            object::<RefOr<Schema>>([
                ("service", prim(Type::String).into()),
                ("table", array(any()).into()),
                ("function", array(any()).into()),
            ]),
        ),
    );

    let test_login = operation(
        "system_test_service_login",
        "system: service",
        "Try a sign-in through a directory service (ldap, adldap): who the directory says the person is, their groups and the role the mapping gives; creates no user and no session",
    )
    .parameter(path("id", "The service's id.", prim(Type::Integer)))
    .request_body(Some(body(
        object::<RefOr<Schema>>([
            ("username", prim(Type::String).into()),
            ("password", prim(Type::String).into()),
            ("app_id", nullable(Type::Integer).into()),
        ]),
        "The person's directory credentials, and the app whose role mapping applies.",
        true,
    )))
    .response(
        "200",
        json_response(
            "Signed in at the directory; `role` is null (and `message` says why) when no mapping gives one.",
            object::<RefOr<Schema>>([
                ("success", prim(Type::Boolean).into()),
                ("email", nullable(Type::String).into()),
                ("name", nullable(Type::String).into()),
                ("groups", array(prim(Type::String)).into()),
                ("role", any().into()),
                ("message", prim(Type::String).into()),
            ]),
        ),
    );
    let role_id = || path("id", "The role's id.", prim(Type::Integer));
    let preview = operation(
        "system_preview_role",
        "system: role",
        "See a table as the role does: the same pipeline as the role's own read (row filter, field rules, lookups), read-only whatever it grants",
    )
    .parameter(role_id())
    .parameter(path("service", "The service's name.", prim(Type::String)))
    .parameter(path("table", "The table or view.", prim(Type::String)))
    .parameter(query(
        "as_user",
        "A user whose `{user.*}` lookups apply (without it, the role reads as an app key would).",
        prim(Type::Integer),
    ))
    .parameter(query("filter", "As on a table read.", prim(Type::String)))
    .parameter(query("fields", "As on a table read.", prim(Type::String)))
    .parameter(query("limit", "As on a table read.", prim(Type::Integer)))
    .parameter(query("order", "As on a table read.", prim(Type::String)))
    .response(
        "200",
        json_response("The rows as the role gets them.", envelope(any())),
    );
    let role_doc = operation(
        "system_get_role_openapi",
        "system: role",
        "The OpenAPI document a caller with this role gets at /api/docs/openapi.json",
    )
    .parameter(role_id())
    .response("200", json_response("An OpenAPI 3.1 document.", any()));
    let review = operation(
        "system_review_role",
        "system: role",
        "Access review: what the role reaches, who holds it, and which grants went unused",
    )
    .parameter(role_id())
    .parameter(query(
        "days",
        "The usage window in days (90 by default).",
        prim(Type::Integer),
    ))
    .response(
        "200",
        json_response(
            "The review: `role`, `days`, `reviewed_at`, `holders` (users per app, apps by \
             default), `permissions` (each access row with its verbs' last use), \
             `related_reach` (tables read only embedded through a relationship of a table the \
             role reads: `service`, `table`, `relationship`, `reaches`) and `unused`.",
            any(),
        ),
    );
    let check_filter = operation(
        "system_check_filter",
        "system: role",
        "Check a row filter with the server's parser (and, given a table, against its columns)",
    )
    .request_body(Some(body(
        object::<RefOr<Schema>>([
            ("filter", prim(Type::String).into()),
            ("service_id", nullable(Type::Integer).into()),
            ("table", nullable(Type::String).into()),
        ]),
        "The filter text; `service_id` and `table` to check field names.",
        true,
    )))
    .response(
        "200",
        json_response(
            "The verdict: valid with the fields it names, or where and why it is not.",
            object::<RefOr<Schema>>([
                ("valid", prim(Type::Boolean).into()),
                ("fields", array(prim(Type::String)).into()),
                ("message", prim(Type::String).into()),
                ("position", prim(Type::Integer).into()),
                ("hint", nullable(Type::String).into()),
            ]),
        ),
    );

    let grants = operation(
        "system_list_oauth_grants",
        "system: oauth_grant",
        "The grants users gave MCP clients, newest first",
    )
    .parameter(query(
        "include_revoked",
        "Also the grants that ended (with when and why).",
        prim(Type::Boolean),
    ))
    .response(
        "200",
        json_response("The grants.", envelope(schema_ref("OAuthGrant"))),
    );
    let revoke_grant = operation(
        "system_revoke_oauth_grant",
        "system: oauth_grant",
        "Revoke a grant: its tokens stop working at the next call",
    )
    .parameter(path("id", "The grant's id.", prim(Type::Integer)))
    .response("200", json_response("The grant revoked.", schema_ref("Id")));

    let mut paths = vec![
        ("/api/v2".to_owned(), path_item(get(index))),
        (
            "/api/v2/system/oauth_grant".to_owned(),
            path_item(get(grants)),
        ),
        (
            "/api/v2/system/oauth_grant/{id}".to_owned(),
            path_item(vec![(HttpMethod::Delete, revoke_grant)]),
        ),
        (
            "/api/v2/system/service/test".to_owned(),
            path_item(vec![(HttpMethod::Post, service_test)]),
        ),
        (
            "/api/v2/system/service/{id}/schema".to_owned(),
            path_item(get(service_schema)),
        ),
        (
            "/api/v2/system/service/{id}/test-login".to_owned(),
            path_item(vec![(HttpMethod::Post, test_login)]),
        ),
        (
            "/api/v2/system/role/{id}/preview/{service}/{table}".to_owned(),
            path_item(get(preview)),
        ),
        (
            "/api/v2/system/role/{id}/openapi".to_owned(),
            path_item(get(role_doc)),
        ),
        (
            "/api/v2/system/role/{id}/review".to_owned(),
            path_item(get(review)),
        ),
        (
            "/api/v2/system/filter".to_owned(),
            path_item(vec![(HttpMethod::Post, check_filter)]),
        ),
        ("/api/v2/system/export".to_owned(), path_item(get(export))),
        (
            "/api/v2/system/import".to_owned(),
            path_item(vec![(HttpMethod::Post, import)]),
        ),
        ("/api/v2/system/audit".to_owned(), path_item(get(audit))),
        ("/api/v2/system/environment".to_owned(), path_item(get(env))),
        (
            "/api/v2/system/admin/session".to_owned(),
            path_item(session_ops),
        ),
    ];
    for r in &RESOURCES {
        paths.extend(crud(r));
    }
    Parts {
        paths,
        components: schemas().build(),
        tags,
    }
}

/// `/system/{name}` (list, create) and `/system/{name}/{id}` (read, update, delete).
fn crud(&Resource(name, schema, required, related): &Resource) -> [(String, PathItem); 2] {
    let tag = format!("system: {name}");
    let record = schema_ref(schema);
    let ids = schema_ref(if name == "app" { "AppKey" } else { "Id" });
    let with_related = |op: OperationBuilder| match related {
        [] => op,
        names => op.parameter(query(
            "related",
            &format!(
                "Related records to include, comma-separated, or `*`: {}.",
                names.join(", ")
            ),
            prim(Type::String),
        )),
    };

    let list = operation(
        &format!("system_get_{name}"),
        &tag,
        &format!("List {name}s"),
    );
    let list = with_related(with_params(
        list,
        &[
            "fields",
            "filter",
            "ids",
            "limit",
            "offset",
            "include_count",
        ],
    ));
    let new: RefOr<Schema> = AllOfBuilder::new()
        .item(record.clone())
        .item(required_all(ObjectBuilder::new(), required))
        .into();
    let records = OneOfBuilder::new()
        .item(envelope(new.clone()))
        .item(array(new.clone()))
        .item(new);
    let created = if name == "app" {
        "The new apps' ids and API keys (shown only here).".into()
    } else {
        format!("The new {name}s' ids.")
    };
    let create = operation(
        &format!("system_post_{name}"),
        &tag,
        &format!("Create {name}s"),
    )
    .request_body(Some(body(
        records,
        "Records in a `resource` envelope, an array, or one record.",
        true,
    )))
    .response("201", json_response(&created, envelope(ids.clone())));
    let collection = vec![
        (
            HttpMethod::Get,
            list.response(
                "200",
                json_response("The records.", envelope(record.clone())),
            ),
        ),
        (HttpMethod::Post, create),
    ];

    let id = path(
        "id",
        &format!("The {name}'s id."),
        prim(Type::Integer).format(format("int64")),
    );
    let get = with_related(with_params(
        operation(
            &format!("system_get_{name}_by_id"),
            &tag,
            &format!("Read one {name}"),
        )
        .parameter(id.clone()),
        &["fields"],
    ));
    let mut one = vec![(
        HttpMethod::Get,
        get.response("200", json_response("The record.", record.clone())),
    )];
    for (method, verb) in [(HttpMethod::Put, "put"), (HttpMethod::Patch, "patch")] {
        let mut update = operation(
            &format!("system_{verb}_{name}_by_id"),
            &tag,
            &format!("Update one {name} (PUT is PATCH)"),
        )
        .parameter(id.clone());
        if name == "app" {
            update = update.parameter(query(
                "regenerate",
                "Issue a new API key; the response carries it, once.",
                prim(Type::Boolean),
            ));
        }
        let changed = json_response(
            "The id (and, after `regenerate`, the new `api_key`).",
            ids.clone(),
        );
        one.push((
            method,
            update
                .request_body(Some(body(record.clone(), "The fields to change.", false)))
                .response("200", changed),
        ));
    }
    let delete = operation(
        &format!("system_delete_{name}_by_id"),
        &tag,
        &format!("Delete one {name}"),
    )
    .parameter(id);
    one.push((
        HttpMethod::Delete,
        delete.response("200", json_response("The id.", schema_ref("Id"))),
    ));
    [
        (format!("/api/v2/system/{name}"), path_item(collection)),
        (format!("/api/v2/system/{name}/{{id}}"), path_item(one)),
    ]
}

fn required_all(o: ObjectBuilder, fields: &[&str]) -> ObjectBuilder {
    fields.iter().fold(o, |o, f| o.required(*f))
}

/// The system API's schemas, after the shared components.
fn schemas() -> ComponentsBuilder {
    let ro = |b: ObjectBuilder| -> RefOr<Schema> { b.read_only(true).into() };
    let s = || -> RefOr<Schema> { prim(Type::String).into() };
    let int = || -> RefOr<Schema> { prim(Type::Integer).into() };
    let boolean = || -> RefOr<Schema> { prim(Type::Boolean).into() };
    let text = |about: &str| -> RefOr<Schema> { described(Type::String, about).into() };
    let maybe = || -> RefOr<Schema> { nullable(Type::String).into() };
    let id = || ro(prim(Type::Integer).format(format("int64")));
    let date = |about: &str| ro(described(Type::String, about).format(format("date-time")));
    let secret = |about: &str| -> RefOr<Schema> {
        described(Type::String, about)
            .format(format("password"))
            .write_only(true)
            .into()
    };
    let email = || -> RefOr<Schema> { prim(Type::String).format(format("email")).into() };

    let login = required_all(
        object([
            ("email", email()),
            ("password", secret("The admin's password.")),
        ]),
        &["email", "password"],
    );
    let session = object([
        (
            "session_token",
            text("The JWT to send as `X-DreamFactory-Session-Token` or `Authorization: Bearer`."),
        ),
        ("session_id", text("The same token (DreamFactory's name).")),
        ("id", int()),
        ("name", s()),
        ("first_name", maybe()),
        ("last_name", maybe()),
        ("email", s()),
        ("is_sys_admin", boolean()),
        (
            "last_login_date",
            nullable(Type::String)
                .description(Some("`YYYY-MM-DD HH:MM:SS`, UTC."))
                .into(),
        ),
        ("host", s()),
        ("token_expiry_date", text("`YYYY-MM-DD HH:MM:SS`, UTC.")),
    ]);
    let session = required_all(
        session,
        &[
            "session_token",
            "session_id",
            "id",
            "email",
            "is_sys_admin",
            "token_expiry_date",
        ],
    );
    let person = || {
        object([
            ("id", id()),
            ("name", s()),
            ("username", maybe()),
            ("first_name", maybe()),
            ("last_name", maybe()),
            ("email", email()),
            (
                "password",
                secret("At least 12 characters. Stored as an Argon2 hash; never returned."),
            ),
            ("is_sys_admin", ro(prim(Type::Boolean))),
            ("is_active", boolean()),
            ("phone", maybe()),
            (
                "last_login_date",
                ro(nullable(Type::String).format(format("date-time"))),
            ),
            ("created_date", date("When the record was created.")),
            ("last_modified_date", date("When the record last changed.")),
        ])
    };
    let admin = person();
    let app_role = object([
        ("id", id()),
        ("user_id", prim(Type::Integer).into()),
        ("app_id", prim(Type::Integer).into()),
        ("role_id", prim(Type::Integer).into()),
    ]);
    let user = person()
        .description(Some(
            "A user who signs in with a password or through an identity provider. Related: `user_to_app_to_role_by_user_id` (the user's role for each app; an id updates, no id creates, `user_id: null` removes) and `lookup_by_user_id`.",
        ))
        .property("user_to_app_to_role_by_user_id", array(schema_ref("AppRole")))
        .property("lookup_by_user_id", array(schema_ref("Lookup")));
    let sslmode = prim(Type::String).enum_values(Some([
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ]));
    let config = object([
        ("host", s()),
        (
            "port",
            prim(Type::Integer).default(Some(5432.into())).into(),
        ),
        ("database", s()),
        ("username", s()),
        (
            "password",
            secret(
                "Stored encrypted; never returned. Leave it out of an update to keep the stored one.",
            ),
        ),
        (
            "url",
            secret(
                "A `postgres://user:password@host:port/database` URL instead of the fields above. Stored encrypted; never returned.",
            ),
        ),
        (
            "schema",
            text(
                "The default schema: its tables are named without a prefix, others as `schema.table`.",
            ),
        ),
        ("sslmode", sslmode.into()),
        (
            "max_records",
            described(
                Type::Integer,
                "The most records one read returns (capped by the server's ceiling).",
            )
            .minimum(Some(1))
            .into(),
        ),
    ]);
    let config = config.description(Some("Connection settings: `url`, or `host`, `port`, `database`, `username` and `password`. The connection is tested before the service is stored."));
    let service = object([
        ("id", id()),
        (
            "name",
            described(
                Type::String,
                "The service's name in URLs (`/api/v2/{name}`).",
            )
            .pattern(Some("^[A-Za-z0-9_-]{1,40}$"))
            .into(),
        ),
        ("label", s()),
        ("description", maybe()),
        ("is_active", boolean()),
        (
            "type",
            prim(Type::String).enum_values(Some(["pgsql"])).into(),
        ),
        ("config", schema_ref("ServiceConfig")),
    ]);

    let filter = required_all(
        object([("name", s()), ("operator", s()), ("value", any().into())]),
        &["name", "operator"],
    );
    let mask = prim(Type::String).enum_values(Some(["full", "last4", "email", "hash", "null"]));
    let rule = OneOfBuilder::new()
        .item(prim(Type::String).enum_values(Some(["hidden", "read_only"])))
        .item(object([("mask", mask)]).required("mask"))
        .description(Some("`\"hidden\"`, `\"read_only\"`, or `{\"mask\": \"full\"|\"last4\"|\"email\"|\"hash\"|\"null\"}`."));
    let field_rules = ObjectBuilder::new()
        .additional_properties(Some(schema_ref("FieldRule")))
        .description(Some(FIELD_RULES_DOC));
    let filters = OneOfBuilder::new().item(array(schema_ref("RoleFilter"))).item(prim(Type::String)).description(Some(
        "Row filter: DreamFactory's list `[{\"name\",\"operator\",\"value\"}]` or a filter string such as `owner_id = {user.id}`. \
         Lookups (`{user.id}`, `{role.name}`…) are bound as parameters. It is ANDed with every client filter and checked on written rows.",
    ));
    let access = object([
        (
            "id",
            described(
                Type::Integer,
                "Set to update this row; leave out to add a row.",
            )
            .into(),
        ),
        (
            "role_id",
            nullable(Type::Integer)
                .description(Some("Send `null` (with `id`) to delete this row."))
                .into(),
        ),
        (
            "service_id",
            nullable(Type::Integer)
                .description(Some("The service; `null` for all services."))
                .into(),
        ),
        (
            "component",
            text(
                "What the row grants: `*`, `_table/*`, `_table/orders`, `_table/orders/*`, `_schema/*`, `_proc/name`, `_func/name`, `_spec`. Exact matches win over wildcards, wildcards over `*`.",
            ),
        ),
        (
            "verb_mask",
            described(
                Type::Integer,
                "Bitmask: GET 1, POST 2, PUT 4, PATCH 8, DELETE 16 (31 = all); Rampart adds 32, deleting every record with `force=true`.",
            )
            .minimum(Some(0))
            .maximum(Some(1023))
            .into(),
        ),
        (
            "requestor_mask",
            described(Type::Integer, "API 1, SCRIPT 2, both 3.")
                .minimum(Some(1))
                .maximum(Some(3))
                .default(Some(1.into()))
                .into(),
        ),
        ("filters", filters.into()),
        (
            "filter_op",
            described(Type::String, "How the list's filters combine.")
                .enum_values(Some(["AND", "OR"]))
                .default(Some("AND".into()))
                .into(),
        ),
        ("field_rules", schema_ref("FieldRules")),
    ]);
    let lookup = object([
        ("id", int()),
        ("name", text("Used as `{name}` in filters.")),
        ("value", text("Returned as `**********` when private.")),
        ("private", boolean()),
        ("description", maybe()),
    ]);
    let role = object([
        ("id", id()),
        ("name", s()),
        ("description", maybe()),
        ("is_active", boolean()),
        ("created_date", date("When the record was created.")),
        ("last_modified_date", date("When the record last changed.")),
        (
            "role_service_access_by_role_id",
            array(schema_ref("RoleServiceAccess"))
                .description(Some("Access rows (with `related`)."))
                .into(),
        ),
        (
            "lookup_by_role_id",
            array(schema_ref("Lookup"))
                .description(Some("The role's lookups (with `related`)."))
                .into(),
        ),
    ]);
    let limit = object([
        ("id", id()),
        ("name", s()),
        ("description", maybe()),
        (
            "type",
            text(
                "instance, instance.user, instance.each_user, instance.user.service, instance.each_user.service, instance.service, instance.service.endpoint, instance.user.service.endpoint, instance.each_user.service.endpoint, instance.role, instance.app or instance.each_app.",
            ),
        ),
        (
            "rate",
            described(Type::Integer, "Requests allowed per period.").into(),
        ),
        (
            "period",
            text("minute, hour, day, 7-day or 30-day (or 0-4)."),
        ),
        ("user_id", nullable(Type::Integer).into()),
        ("role_id", nullable(Type::Integer).into()),
        ("app_id", nullable(Type::Integer).into()),
        ("service_id", nullable(Type::Integer).into()),
        (
            "endpoint",
            nullable(Type::String)
                .description(Some(
                    "The path below the service; a trailing * matches any suffix.",
                ))
                .into(),
        ),
        (
            "verb",
            nullable(Type::String)
                .description(Some(
                    "Only this verb counts (GET, POST, PUT, PATCH, DELETE).",
                ))
                .into(),
        ),
        ("is_active", boolean()),
        ("created_date", date("When the record was created.")),
        ("last_modified_date", date("When the record last changed.")),
    ]);
    let cors = object([
        ("id", id()),
        (
            "path",
            text("The paths it covers: `*`, or a path such as `api/v2/*` where `*` matches anything."),
        ),
        ("description", maybe()),
        (
            "origin",
            text("`*`, or origins separated by commas (`https://app.example.com`)."),
        ),
        (
            "header",
            text("Request headers a page may send, separated by commas (`*`: any)."),
        ),
        (
            "exposed_header",
            text("Response headers a page may read, separated by commas."),
        ),
        (
            "max_age",
            described(Type::Integer, "Seconds a browser may keep a preflight's answer (0-86400).").into(),
        ),
        (
            "method",
            array(prim(Type::String))
                .description(Some("The verbs allowed: GET, POST, PUT, PATCH, DELETE."))
                .into(),
        ),
        (
            "supports_credentials",
            described(Type::Boolean, "Whether pages may send cookies; with origin `*` every site may (`rampart doctor` reports it).").into(),
        ),
        ("enabled", boolean()),
        ("created_date", date("When the record was created.")),
        ("last_modified_date", date("When the record last changed.")),
    ]);
    let app = object([
        ("id", id()),
        ("name", s()),
        ("description", maybe()),
        ("is_active", boolean()),
        (
            "role_id",
            nullable(Type::Integer)
                .description(Some("The app's default role."))
                .into(),
        ),
        (
            "read_only",
            described(
                Type::Boolean,
                "The key may only read: writes and function calls are refused whatever the role, and the MCP bridge offers no write tool.",
            )
            .into(),
        ),
        ("created_date", date("When the record was created.")),
        ("last_modified_date", date("When the record last changed.")),
    ]);
    let app = app.description(Some(
        "An app. Its API key is shown only when the app is created or its key regenerated.",
    ));
    let app_key = object([
        ("id", int()),
        (
            "api_key",
            nullable(Type::String)
                .description(Some("The API key, shown once."))
                .into(),
        ),
    ])
    .required("id");

    let oauth_client = object([
        ("id", id()),
        (
            "client_id",
            text("The OAuth client_id (generated when not given; never a URL)."),
        ),
        ("name", text("Shown on the consent page.")),
        (
            "app_id",
            described(Type::Integer, "The app the client acts through: a user's role for this app (else its default role) governs what it reaches.").into(),
        ),
        (
            "redirect_uris",
            array(prim(Type::String))
                .description(Some("Exact redirect URIs: https, or http on a loopback address (any port is accepted for those, RFC 8252)."))
                .into(),
        ),
        ("is_active", boolean()),
        ("created_date", date("When the record was created.")),
    ]);
    let oauth_grant = object([
        ("id", id()),
        ("user_id", int()),
        ("client_id", s()),
        ("client_name", s()),
        ("app_id", int()),
        (
            "role_id",
            described(
                Type::Integer,
                "The role consented to; a change of the user's role ends the grant.",
            )
            .into(),
        ),
        (
            "scopes",
            array(prim(Type::String))
                .description(Some(
                    "`mcp:read`, and `mcp:write` unless the user chose read-only.",
                ))
                .into(),
        ),
        ("resource", text("The MCP resource its tokens are for.")),
        ("created_date", date("When the user consented.")),
        (
            "last_used_date",
            date("When a token of the grant was last used (to the minute)."),
        ),
        ("revoked_date", date("When it ended, if it did.")),
        ("revoked_reason", maybe()),
    ]);
    let platform = object([("version", s()), ("license", s()), ("product", s())]);
    let providers = || -> RefOr<Schema> { array(any()).into() };
    let auth = object([
        ("allow_open_registration", boolean()),
        ("login_attribute", s()),
        ("adldap", providers()),
        ("oauth", providers()),
        ("saml", providers()),
    ]);
    let service_entry = object([
        ("id", int()),
        ("name", s()),
        ("label", s()),
        ("description", maybe()),
        ("type", s()),
        ("spec_url", text("The service's OpenAPI document.")),
    ]);
    let service_type = object([
        ("name", s()),
        ("label", s()),
        ("group", s()),
        ("description", s()),
    ]);

    base()
        .schema("Login", login)
        .schema("Session", session)
        .schema("Admin", admin)
        .schema("User", user)
        .schema("AppRole", app_role)
        .schema("ServiceConfig", config)
        .schema("Service", service)
        .schema("RoleFilter", filter)
        .schema("FieldRule", rule)
        .schema("FieldRules", field_rules)
        .schema("RoleServiceAccess", access)
        .schema("Lookup", lookup)
        .schema("Role", role)
        .schema("App", app)
        .schema("Limit", limit)
        .schema("Cors", cors)
        .schema("OAuthClient", oauth_client)
        .schema("OAuthGrant", oauth_grant)
        .schema("AppKey", app_key)
        .schema("Id", object([("id", int())]).required("id"))
        .schema(
            "Environment",
            object([("platform", platform), ("authentication", auth)]),
        )
        .schema(
            "ServiceIndex",
            object([
                ("services", array(service_entry)),
                ("service_types", array(service_type)),
            ]),
        )
}
