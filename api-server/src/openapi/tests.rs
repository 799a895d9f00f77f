//! Tests of the OpenAPI documents, over a small hand-built schema: orders (with a foreign key
//! to customers), customers (with an ssn), a view, a composite-key table, and routines.

use std::collections::HashSet;

use rampart_schema::{
    ArgMode, Column, ColumnRef, Function, FunctionArg, FunctionKind, Generated, Relation,
    RelationKind, SchemaModel, Table, TableKind, ValueType, Volatility,
};
use serde_json::{Value, json};

use super::{ServiceDoc, combined, service_document, system_document};

fn col(name: &str, value_type: ValueType, sql_type: &str) -> Column {
    Column {
        name: name.into(),
        position: 0,
        value_type,
        element_type: None,
        sql_type: sql_type.into(),
        udt_name: sql_type.into(),
        udt_schema: "pg_catalog".into(),
        nullable: false,
        default: None,
        generated: None,
        max_length: None,
        precision: None,
        scale: None,
        enum_values: Vec::new(),
        comment: None,
        is_primary_key: false,
        is_unique: false,
        references: None,
    }
}

fn nullable(c: Column) -> Column {
    Column {
        nullable: true,
        ..c
    }
}

fn table(name: &str, kind: TableKind, columns: Vec<Column>, relations: Vec<Relation>) -> Table {
    let primary_key = columns
        .iter()
        .filter(|c| c.is_primary_key)
        .map(|c| c.name.clone())
        .collect();
    let writable = kind == TableKind::Table;
    Table {
        schema: "public".into(),
        name: name.rsplit('.').next().unwrap_or(name).into(),
        api_name: name.into(),
        kind,
        comment: None,
        columns,
        primary_key,
        unique_keys: Vec::new(),
        foreign_keys: Vec::new(),
        relations,
        insertable: writable,
        updatable: writable,
        deletable: writable,
    }
}

fn relation(
    name: &str,
    kind: RelationKind,
    column: &str,
    ref_table: &str,
    ref_column: &str,
) -> Relation {
    Relation {
        name: name.into(),
        kind,
        columns: vec![column.into()],
        ref_table: ref_table.into(),
        ref_columns: vec![ref_column.into()],
        junction: None,
    }
}

fn arg(name: &str, mode: ArgMode, value_type: ValueType, sql_type: &str) -> FunctionArg {
    FunctionArg {
        name: name.into(),
        mode,
        value_type,
        sql_type: sql_type.into(),
        udt_schema: "pg_catalog".into(),
        udt_name: sql_type.into(),
        has_default: false,
    }
}

fn routine(name: &str, kind: FunctionKind, args: Vec<FunctionArg>, return_type: &str) -> Function {
    Function {
        schema: "public".into(),
        name: name.into(),
        api_name: name.into(),
        kind,
        args,
        return_type: return_type.into(),
        returns_set: false,
        volatility: Volatility::Volatile,
        comment: None,
    }
}

fn shop() -> SchemaModel {
    let customers = table(
        "customers",
        TableKind::Table,
        vec![
            Column {
                is_primary_key: true,
                generated: Some(Generated::IdentityAlways),
                ..col("id", ValueType::BigInt, "bigint")
            },
            col("name", ValueType::Text, "text"),
            Column {
                comment: Some("Social security number".into()),
                ..nullable(col("ssn", ValueType::Text, "text"))
            },
            Column {
                max_length: Some(120),
                is_unique: true,
                ..col("email", ValueType::Text, "character varying(120)")
            },
        ],
        vec![relation(
            "orders_by_customer_id",
            RelationKind::HasMany,
            "id",
            "orders",
            "customer_id",
        )],
    );
    let orders = table(
        "orders",
        TableKind::Table,
        vec![
            Column {
                is_primary_key: true,
                generated: Some(Generated::Serial),
                default: Some("nextval('orders_id_seq'::regclass)".into()),
                ..col("id", ValueType::Integer, "integer")
            },
            Column {
                references: Some(ColumnRef {
                    table: "customers".into(),
                    column: "id".into(),
                }),
                ..col("customer_id", ValueType::BigInt, "bigint")
            },
            Column {
                enum_values: vec!["pending".into(), "shipped".into()],
                default: Some("'pending'::order_status".into()),
                ..col("status", ValueType::Enum, "order_status")
            },
            Column {
                precision: Some(12),
                scale: Some(2),
                ..col("total", ValueType::Numeric, "numeric(12,2)")
            },
            Column {
                generated: Some(Generated::Computed),
                ..nullable(col("total_with_tax", ValueType::Numeric, "numeric"))
            },
            Column {
                default: Some("now()".into()),
                ..col(
                    "placed_at",
                    ValueType::TimestampTz,
                    "timestamp with time zone",
                )
            },
            nullable(col(
                "shipped_on",
                ValueType::Timestamp,
                "timestamp without time zone",
            )),
            nullable(col("notes", ValueType::Jsonb, "jsonb")),
            nullable(col("attachment", ValueType::Bytea, "bytea")),
            Column {
                element_type: Some(ValueType::Text),
                ..nullable(col("tags", ValueType::Array, "text[]"))
            },
            nullable(col("fee", ValueType::Money, "money")),
        ],
        vec![relation(
            "customers_by_customer_id",
            RelationKind::BelongsTo,
            "customer_id",
            "customers",
            "id",
        )],
    );
    let totals = table(
        "order_totals",
        TableKind::View,
        vec![
            nullable(col("customer_id", ValueType::BigInt, "bigint")),
            nullable(col("total", ValueType::Numeric, "numeric")),
        ],
        Vec::new(),
    );
    let items = table(
        "order_items",
        TableKind::Table,
        vec![
            Column {
                is_primary_key: true,
                ..col("order_id", ValueType::Integer, "integer")
            },
            Column {
                is_primary_key: true,
                ..col("line_no", ValueType::SmallInt, "smallint")
            },
            col("quantity", ValueType::Integer, "integer"),
        ],
        Vec::new(),
    );
    let dotted = table(
        "sales.orders",
        TableKind::Table,
        vec![Column {
            is_primary_key: true,
            ..col("id", ValueType::Uuid, "uuid")
        }],
        Vec::new(),
    );
    let clash = table(
        "sales_orders",
        TableKind::Table,
        vec![Column {
            is_primary_key: true,
            ..col("id", ValueType::Uuid, "uuid")
        }],
        Vec::new(),
    );
    let count = routine(
        "order_count",
        FunctionKind::Function,
        vec![arg("customer", ArgMode::In, ValueType::BigInt, "bigint")],
        "integer",
    );
    let archive = routine(
        "archive_orders",
        FunctionKind::Procedure,
        vec![arg("before", ArgMode::In, ValueType::Date, "date")],
        "void",
    );
    SchemaModel::new(
        vec![customers, orders, totals, items, dotted, clash],
        vec![count, archive],
    )
}

const DB: ServiceDoc<'static> = ServiceDoc {
    name: "db",
    label: "Shop",
    description: None,
};

/// The service document as JSON, for the named tables with their masks, and every routine.
fn doc(schema: &SchemaModel, grants: &[(&str, i64)]) -> Value {
    let tables: Vec<(&Table, i64)> = grants
        .iter()
        .filter_map(|(name, mask)| schema.table(name).map(|t| (t, *mask)))
        .collect();
    let procs: Vec<&Function> = schema
        .functions
        .iter()
        .filter(|f| f.kind == FunctionKind::Procedure)
        .collect();
    let funcs: Vec<&Function> = schema
        .functions
        .iter()
        .filter(|f| f.kind == FunctionKind::Function)
        .collect();
    // As for a role whose rows grant `_schema/*` too.
    let readable: Vec<&str> = tables.iter().map(|(t, _)| t.api_name.as_str()).collect();
    serde_json::to_value(service_document(
        &DB, schema, &tables, &readable, &procs, &funcs,
    ))
    .expect("the document serialises")
}

fn full(schema: &SchemaModel) -> Value {
    let grants: Vec<(&str, i64)> = schema
        .tables
        .iter()
        .map(|t| (t.api_name.as_str(), 31))
        .collect();
    doc(schema, &grants)
}

fn methods(doc: &Value, path: &str) -> Vec<String> {
    let mut m: Vec<String> = doc["paths"][path]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    m.sort();
    m
}

fn schema_of<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

#[test]
fn a_role_that_sees_only_orders_with_get_gets_no_customers_and_no_writes() {
    let schema = shop();
    let d = doc(&schema, &[("orders", 1)]);
    assert_eq!(methods(&d, "/api/v2/db/_table/orders"), ["get"]);
    assert_eq!(methods(&d, "/api/v2/db/_table/orders/{id}"), ["get"]);
    let paths: Vec<&String> = d["paths"].as_object().expect("paths").keys().collect();
    assert!(
        paths
            .iter()
            .all(|p| !p.contains("customers") && !p.contains("order_items")),
        "{paths:?}"
    );
    assert!(schema_of(&d, "db.customers").is_null());
    assert!(
        schema_of(&d, "db.orders.new").is_null(),
        "no create body without POST"
    );
    assert!(
        !d.to_string().contains("customers"),
        "an invisible table is never named"
    );
}

#[test]
fn a_full_mask_role_gets_every_verb_the_table_supports() {
    let schema = shop();
    let d = full(&schema);
    assert_eq!(
        methods(&d, "/api/v2/db/_table/orders"),
        ["delete", "get", "patch", "post", "put"]
    );
    assert_eq!(
        methods(&d, "/api/v2/db/_table/orders/{id}"),
        ["delete", "get", "patch", "put"]
    );
    assert_eq!(methods(&d, "/api/v2/db/_schema/orders"), ["get"]);
    assert_eq!(methods(&d, "/api/v2/db/_table"), ["get"]);
    // A table's schema is a grant of its own: without it, no `_schema/{table}`.
    let orders = schema.table("orders").expect("orders");
    let without = serde_json::to_value(service_document(
        &DB,
        &schema,
        &[(orders, 31)],
        &[],
        &[],
        &[],
    ))
    .expect("serialises");
    assert!(methods(&without, "/api/v2/db/_schema/orders").is_empty());
    assert_eq!(
        methods(&without, "/api/v2/db/_table/orders/{id}"),
        ["delete", "get", "patch", "put"]
    );
    assert_eq!(methods(&d, "/api/v2/db/_spec"), ["get"]);
    assert_eq!(
        methods(&d, "/api/v2/db/_table/order_totals"),
        ["get"],
        "a read-only view takes no writes"
    );
    assert!(
        d["paths"]["/api/v2/db/_table/order_totals/{id}"].is_null(),
        "no by-id path without a primary key"
    );
    let get = &d["paths"]["/api/v2/db/_table/orders"]["get"];
    let params: Vec<&str> = get["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["$ref"].as_str().or(p["name"].as_str()))
        .collect();
    for name in [
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
    ] {
        assert!(
            params.contains(&format!("#/components/parameters/{name}").as_str()),
            "{name} missing from {params:?}"
        );
    }
    assert!(params.contains(&"related"));
    let filter = &d["components"]["parameters"]["filter"]["description"];
    assert!(filter.as_str().is_some_and(|s| {
        s.starts_with("Rampart filter language, e.g. `(status = 'shipped') AND (total > 100)`")
    }));
    assert!(get["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["meta"]["properties"]["next_cursor"].is_object());
    assert_eq!(
        get["responses"]["404"]["$ref"],
        "#/components/responses/NotFound"
    );
}

#[test]
fn column_schemas_carry_json_types_formats_nullability_and_keys() {
    let schema = shop();
    let d = full(&schema);
    let orders = schema_of(&d, "db.orders");
    let p = &orders["properties"];
    assert_eq!(
        p["id"],
        json!({"type": "integer", "format": "int32", "readOnly": true, "x-db-type": "integer", "x-primary-key": true})
    );
    assert_eq!(p["customer_id"]["format"], "int64");
    assert_eq!(p["customer_id"]["x-foreign-key"], "customers.id");
    assert_eq!(p["status"]["enum"], json!(["pending", "shipped"]));
    assert_eq!(p["total"]["type"], "number");
    assert!(
        p["total"]["description"]
            .as_str()
            .is_some_and(|s| s.contains("precision"))
    );
    assert_eq!(p["total_with_tax"]["readOnly"], true);
    assert_eq!(p["placed_at"]["format"], "date-time");
    assert!(
        p["shipped_on"]["format"].is_null(),
        "a timestamp without time zone is no RFC 3339 date-time"
    );
    assert_eq!(p["notes"].get("type"), None, "json is any value");
    assert_eq!(p["attachment"]["type"], json!(["string", "null"]));
    assert_eq!(p["attachment"]["contentEncoding"], "base64");
    assert_eq!(p["tags"]["type"], json!(["array", "null"]));
    assert_eq!(p["tags"]["items"]["type"], "string");
    assert_eq!(
        p["fee"]["type"],
        json!(["string", "null"]),
        "PostgreSQL renders money as text"
    );
    let required: HashSet<&str> = orders["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        required,
        HashSet::from(["id", "customer_id", "status", "total", "placed_at"])
    );
    assert_eq!(orders["x-primary-key"], json!(["id"]));
    let new = schema_of(&d, "db.orders.new");
    assert!(
        new["properties"]["id"].is_null() && new["properties"]["total_with_tax"].is_null(),
        "read-only columns are not written"
    );
    assert_eq!(
        new["required"],
        json!(["customer_id", "total"]),
        "NOT NULL columns without a default"
    );
    let customers = &schema_of(&d, "db.customers")["properties"];
    assert_eq!(customers["ssn"]["description"], "Social security number");
    assert_eq!(customers["email"]["maxLength"], 120);
    assert_eq!(customers["id"]["readOnly"], true);
}

#[test]
fn relationships_point_only_at_tables_the_role_may_read() {
    let schema = shop();
    let both = doc(&schema, &[("orders", 31), ("customers", 1)]);
    let rel = &schema_of(&both, "db.orders")["properties"]["customers_by_customer_id"];
    assert_eq!(rel["oneOf"][0]["$ref"], "#/components/schemas/db.customers");
    let has_many = &schema_of(&both, "db.customers")["properties"]["orders_by_customer_id"];
    assert_eq!(has_many["items"]["$ref"], "#/components/schemas/db.orders");

    let write_only = doc(&schema, &[("orders", 1), ("customers", 2)]);
    assert!(
        schema_of(&write_only, "db.orders")["properties"]["customers_by_customer_id"].is_null(),
        "related needs GET on the target"
    );
    let alone = doc(&schema, &[("orders", 1)]);
    assert!(schema_of(&alone, "db.orders")["properties"]["customers_by_customer_id"].is_null());
    assert!(schema_of(&alone, "db.orders")["properties"]["customer_id"]["x-foreign-key"].is_null());
}

#[test]
fn operation_ids_and_component_names_are_unique_and_safe() {
    let schema = shop();
    let d = full(&schema);
    let mut seen = HashSet::new();
    for (path, item) in d["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "{id}"
            );
            assert!(
                seen.insert(id.to_owned()),
                "{method} {path}: duplicate operationId {id}"
            );
        }
    }
    assert!(
        seen.contains("db_get_orders")
            && seen.contains("db_get_sales.orders")
            && seen.contains("db_get_sales_orders"),
        "{seen:?}"
    );
    for name in d["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
    {
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
            "{name}"
        );
    }
}

#[test]
fn composite_keys_and_routines_have_their_paths() {
    let schema = shop();
    let d = full(&schema);
    let id = &d["paths"]["/api/v2/db/_table/order_items/{id}"]["get"]["parameters"][0];
    assert_eq!(id["in"], "path");
    assert!(
        id["description"]
            .as_str()
            .is_some_and(|s| s.contains("order_id,line_no"))
    );
    assert_eq!(methods(&d, "/api/v2/db/_func/order_count"), ["get", "post"]);
    assert_eq!(
        methods(&d, "/api/v2/db/_proc/archive_orders"),
        ["get", "post"]
    );
    let customer = &d["paths"]["/api/v2/db/_func/order_count"]["get"]["parameters"][0];
    assert_eq!(
        (
            customer["name"].as_str(),
            customer["schema"]["type"].as_str()
        ),
        (Some("customer"), Some("integer"))
    );
}

#[test]
fn documents_are_openapi_3_1_with_the_shared_security_and_error() {
    let schema = shop();
    let d = full(&schema);
    assert_eq!(d["openapi"], "3.1.0");
    assert_eq!(d["info"]["title"], "Shop");
    let schemes = &d["components"]["securitySchemes"];
    assert_eq!(
        schemes["ApiKeyHeader"],
        json!({"type": "apiKey", "in": "header", "name": "X-DreamFactory-API-Key", "description": "An app's API key."})
    );
    assert_eq!(schemes["ApiKeyQuery"]["name"], "api_key");
    assert_eq!(
        schemes["SessionTokenHeader"]["name"],
        "X-DreamFactory-Session-Token"
    );
    assert_eq!(
        (
            schemes["BearerAuth"]["scheme"].as_str(),
            schemes["BearerAuth"]["bearerFormat"].as_str()
        ),
        (Some("bearer"), Some("JWT"))
    );
    assert_eq!(d["security"].as_array().map(Vec::len), Some(4));
    let error = &schema_of(&d, "Error")["properties"]["error"]["properties"];
    for field in ["code", "context", "message", "status_code"] {
        assert!(error[field].is_object(), "{field}");
    }
}

#[test]
fn the_system_document_has_the_session_and_documents_field_rules() {
    let d = serde_json::to_value(system_document()).expect("serialises");
    assert_eq!(
        methods(&d, "/api/v2/system/admin/session"),
        ["delete", "get", "post"]
    );
    assert_eq!(
        d["paths"]["/api/v2/system/admin/session"]["post"]["security"],
        json!([]),
        "login needs no credentials"
    );
    for resource in ["admin", "service", "role", "app"] {
        assert_eq!(
            methods(&d, &format!("/api/v2/system/{resource}")),
            ["get", "post"],
            "{resource}"
        );
        assert_eq!(
            methods(&d, &format!("/api/v2/system/{resource}/{{id}}")),
            ["delete", "get", "patch", "put"],
            "{resource}"
        );
    }
    assert_eq!(methods(&d, "/api/v2/system/environment"), ["get"]);
    assert_eq!(methods(&d, "/api/v2"), ["get"]);
    let rules = schema_of(&d, "FieldRules")["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for word in [
        "hidden",
        "read_only",
        "full",
        "last4",
        "email",
        "hash",
        "null",
        "\"ssn\":{\"mask\":\"last4\"}",
    ] {
        assert!(rules.contains(word), "field rules do not mention {word}");
    }
    assert_eq!(
        schema_of(&d, "FieldRule")["oneOf"][1]["properties"]["mask"]["enum"],
        json!(["full", "last4", "email", "hash", "null"])
    );
    assert_eq!(
        schema_of(&d, "ServiceConfig")["properties"]["password"]["writeOnly"],
        true
    );
    assert_eq!(
        schema_of(&d, "ServiceConfig")["properties"]["url"]["writeOnly"],
        true
    );
    assert_eq!(
        schema_of(&d, "Admin")["properties"]["password"]["writeOnly"],
        true
    );
    let regenerate = &d["paths"]["/api/v2/system/app/{id}"]["patch"]["parameters"][1];
    assert_eq!(regenerate["name"], "regenerate");
    let access = &schema_of(&d, "RoleServiceAccess")["properties"];
    assert_eq!(access["filter_op"]["enum"], json!(["AND", "OR"]));
    assert_eq!(
        access["field_rules"]["$ref"],
        "#/components/schemas/FieldRules"
    );
}

#[test]
fn combined_keeps_every_path_schema_parameter_and_security_scheme() {
    let schema = shop();
    let tables: Vec<(&Table, i64)> = schema.tables.iter().map(|t| (t, 31)).collect();
    let other = ServiceDoc {
        name: "crm",
        label: "CRM",
        description: Some("Customer data"),
    };
    let d = serde_json::to_value(combined(vec![
        system_document(),
        service_document(&DB, &schema, &tables, &[], &[], &[]),
        service_document(&other, &schema, &tables[..1], &[], &[], &[]),
    ]))
    .expect("serialises");
    assert_eq!(d["info"]["title"], "Rampart");
    assert_eq!(d["info"]["version"], env!("CARGO_PKG_VERSION"));
    for path in [
        "/api/v2/system/admin/session",
        "/api/v2/db/_table/orders/{id}",
        "/api/v2/crm/_table/customers",
        "/api/v2/crm/_spec",
    ] {
        assert!(d["paths"][path].is_object(), "{path} missing");
    }
    for name in ["Error", "FieldRules", "db.orders", "crm.customers"] {
        assert!(schema_of(&d, name).is_object(), "schema {name} missing");
    }
    assert_eq!(
        d["components"]["securitySchemes"]
            .as_object()
            .map(serde_json::Map::len),
        Some(4)
    );
    assert!(
        d["components"]["parameters"]["filter"].is_object()
            && d["components"]["responses"]["NotFound"].is_object()
    );
    assert_eq!(d["security"].as_array().map(Vec::len), Some(4));
    assert!(
        serde_json::to_value(combined(Vec::new())).is_ok_and(|v| v["info"]["title"] == "Rampart")
    );
}

#[test]
fn operation_ids_stay_unique_across_services_in_the_combined_document() {
    let key = || Column {
        is_primary_key: true,
        ..col("id", ValueType::Integer, "integer")
    };
    let schema = SchemaModel::new(
        vec![
            table("x_get_y", TableKind::Table, vec![key()], Vec::new()),
            table("y", TableKind::Table, vec![key()], Vec::new()),
        ],
        Vec::new(),
    );
    let (a, b) = (
        ServiceDoc {
            name: "a",
            label: "A",
            description: None,
        },
        ServiceDoc {
            name: "a_get_x",
            label: "B",
            description: None,
        },
    );
    let first = [(schema.table("x_get_y").expect("table"), 31)];
    let second = [(schema.table("y").expect("table"), 31)];
    let d = serde_json::to_value(combined(vec![
        service_document(&a, &schema, &first, &[], &[], &[]),
        service_document(&b, &schema, &second, &[], &[], &[]),
    ]))
    .expect("serialises");
    let mut seen = HashSet::new();
    for item in d["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(seen.insert(id.clone()), "duplicate operationId {id}");
        }
    }
    assert!(
        seen.contains("a_get_x_get_y") && seen.contains("a_get_x_get_y_2"),
        "{seen:?}"
    );
}

/// Runs `python3 -m openapi_spec_validator` on a document.
fn validate(label: &str, doc: &Value) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join(format!("{label}.json"));
    std::fs::write(&file, doc.to_string()).expect("the document is written");
    let out = std::process::Command::new("python3")
        .arg("-m")
        .arg("openapi_spec_validator")
        .arg(&file)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{label}: openapi-spec-validator refused the document:\n{text}"
    );
}

#[test]
fn documents_pass_openapi_spec_validator() {
    let available = std::process::Command::new("python3")
        .arg("-c")
        .arg("import openapi_spec_validator")
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        available,
        "openapi-spec-validator is missing: pip install openapi-spec-validator"
    );
    let schema = shop();
    let full_doc = full(&schema);
    validate("full", &full_doc);
    validate(
        "pruned",
        &doc(&schema, &[("orders", 1), ("order_totals", 1)]),
    );
    validate(
        "system",
        &serde_json::to_value(system_document()).expect("serialises"),
    );
    let tables: Vec<(&Table, i64)> = schema.tables.iter().map(|t| (t, 31)).collect();
    let all = combined(vec![
        system_document(),
        service_document(&DB, &schema, &tables, &[], &[], &[]),
    ]);
    validate("combined", &serde_json::to_value(all).expect("serialises"));
}
