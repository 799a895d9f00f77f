//! Introspection against the real PostgreSQL (`RAMPART_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`).
//!
//! Each test gets a fresh database loaded with `fixtures/shop.sql`, and drops it (and any
//! login role it created) when it ends, whether it passed or not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rampart_schema::{
    ArgMode, ColumnRef, FunctionKind, Generated, IntrospectError, IntrospectOptions, RelationKind,
    SchemaModel, Table, TableKind, ValueType, Volatility, introspect,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgConnection, PgPool};

const FIXTURE: &str = include_str!("fixtures/shop.sql");

fn admin_options() -> PgConnectOptions {
    std::env::var("RAMPART_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
        .parse::<PgConnectOptions>()
        .expect("RAMPART_TEST_PG_URL is a PostgreSQL URL")
        .disable_statement_logging()
}

/// A throwaway database holding the fixture; dropped with the value, even on panic.
struct TestDb {
    name: String,
    roles: Vec<String>,
    pool: PgPool,
}

impl TestDb {
    async fn new() -> Self {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect_with(&admin_options()).await.expect(
            "PostgreSQL is reachable (pg_ctlcluster --skip-systemctl-redirect 15 main start)",
        );
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .expect("create the test database");
        admin.close().await.expect("close the admin connection");
        // From here on, Drop cleans up.
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_lazy_with(admin_options().database(&name));
        let db = Self {
            name,
            roles: Vec::new(),
            pool,
        };
        sqlx::raw_sql(FIXTURE)
            .execute(&db.pool)
            .await
            .expect("load the fixture");
        db
    }

    /// Creates a login role, runs `grants` (where `{role}` stands for it), and returns a
    /// pool connected as that role.
    async fn login_with(&mut self, grants: &str) -> PgPool {
        let role = format!("{}_reader", self.name);
        self.roles.push(role.clone());
        self.pool
            .execute(AssertSqlSafe(format!("CREATE ROLE \"{role}\" LOGIN")))
            .await
            .expect("create the role");
        sqlx::raw_sql(AssertSqlSafe(
            grants.replace("{role}", &format!("\"{role}\"")),
        ))
        .execute(&self.pool)
        .await
        .expect("grant privileges");
        PgPoolOptions::new()
            .max_connections(2)
            .connect_with(admin_options().database(&self.name).username(&role))
            .await
            .expect("connect as the role")
    }

    async fn model(&self, schema: Option<&str>) -> SchemaModel {
        introspect(
            &mut self.pool.acquire().await.expect("a connection"),
            &IntrospectOptions {
                schema: schema.map(str::to_owned),
            },
        )
        .await
        .expect("introspection succeeds")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let roles = std::mem::take(&mut self.roles);
        // Drop runs inside the test's runtime, which must not be blocked on: clean up from a
        // thread with its own runtime and wait for it.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut admin = PgConnection::connect_with(&admin_options())
                    .await
                    .expect("admin");
                admin
                    .execute(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .await
                    .expect("drop the test database");
                for role in roles {
                    admin
                        .execute(AssertSqlSafe(format!("DROP ROLE IF EXISTS \"{role}\"")))
                        .await
                        .expect("drop the test role");
                }
                admin.close().await.ok();
            });
        });
        if cleanup.join().is_err() && !std::thread::panicking() {
            panic!("cleaning up test database {} failed", self.name);
        }
    }
}

fn table<'a>(model: &'a SchemaModel, api_name: &str) -> &'a Table {
    model
        .table(api_name)
        .unwrap_or_else(|| panic!("table {api_name} is in the model"))
}

fn api_names(model: &SchemaModel) -> Vec<&str> {
    model.tables.iter().map(|t| t.api_name.as_str()).collect()
}

fn relation_names(table: &Table) -> Vec<&str> {
    table.relations.iter().map(|r| r.name.as_str()).collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn every_table_and_view_of_every_usable_schema_is_listed_with_its_kind() {
    let db = TestDb::new().await;
    let model = db.model(None).await;

    assert_eq!(
        api_names(&model),
        vec![
            "categories",
            "customer_totals",
            "customers",
            "events",
            "events_2024",
            "order_items",
            "orders",
            "product_names",
            "products",
            "sales.regions",
            "shipments",
            "shipped_orders",
        ]
    );
    let kind = |name: &str| table(&model, name).kind;
    assert_eq!(kind("customers"), TableKind::Table);
    assert_eq!(kind("events"), TableKind::PartitionedTable);
    assert_eq!(kind("events_2024"), TableKind::Table);
    assert_eq!(kind("shipped_orders"), TableKind::View);
    assert_eq!(kind("product_names"), TableKind::MaterializedView);

    let customers = table(&model, "customers");
    assert_eq!(customers.schema, "public");
    assert_eq!(customers.name, "customers");
    assert_eq!(customers.comment.as_deref(), Some("People who buy things"));
    assert_eq!(table(&model, "orders").comment, None);
}

#[tokio::test]
async fn columns_carry_types_nullability_defaults_and_generation() {
    let db = TestDb::new().await;
    let model = db.model(None).await;
    let customers = table(&model, "customers");

    let names: Vec<&str> = customers.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "email",
            "name",
            "ssn",
            "tenant_id",
            "nickname",
            "created_at"
        ]
    );
    let positions: Vec<i16> = customers.columns.iter().map(|c| c.position).collect();
    assert_eq!(positions, [1, 2, 3, 4, 5, 6, 7]);

    let id = customers.column("id").unwrap();
    assert_eq!(id.value_type, ValueType::Integer);
    assert_eq!(id.sql_type, "integer");
    assert_eq!(
        (id.udt_schema.as_str(), id.udt_name.as_str()),
        ("pg_catalog", "int4")
    );
    assert_eq!(id.generated, Some(Generated::Serial));
    assert_eq!(
        id.default.as_deref(),
        Some("nextval('customers_id_seq'::regclass)")
    );
    assert!(!id.nullable);

    // A domain is its base type, with the domain's length limit.
    let email = customers.column("email").unwrap();
    assert_eq!(email.value_type, ValueType::Text);
    assert_eq!(email.sql_type, "email_address");
    assert_eq!(
        (email.udt_schema.as_str(), email.udt_name.as_str()),
        ("public", "email_address")
    );
    assert_eq!(email.max_length, Some(254));

    let name = customers.column("name").unwrap();
    assert_eq!(name.sql_type, "character varying(100)");
    assert_eq!(name.udt_name, "varchar");
    assert_eq!(name.max_length, Some(100));
    assert!(!name.nullable);

    let ssn = customers.column("ssn").unwrap();
    assert_eq!(
        (ssn.value_type, ssn.sql_type.as_str()),
        (ValueType::Text, "character(11)")
    );
    assert_eq!(ssn.max_length, Some(11));
    assert!(ssn.nullable);
    assert_eq!(ssn.default, None);
    assert_eq!(ssn.generated, None);
    assert_eq!(ssn.comment.as_deref(), Some("Social security number"));

    let nickname = customers.column("nickname").unwrap();
    assert_eq!(
        (nickname.value_type, nickname.sql_type.as_str()),
        (ValueType::Text, "citext")
    );

    let created_at = customers.column("created_at").unwrap();
    assert_eq!(created_at.value_type, ValueType::TimestampTz);
    assert_eq!(created_at.sql_type, "timestamp with time zone");
    assert_eq!(created_at.default.as_deref(), Some("now()"));
    assert_eq!(created_at.generated, None);
    assert!(created_at.has_default());

    let products = table(&model, "products");
    let id = products.column("id").unwrap();
    assert_eq!(id.generated, Some(Generated::IdentityAlways));
    assert!(id.is_read_only());
    assert_eq!(id.default, None);
    let stock = products.column("stock").unwrap();
    assert_eq!(stock.generated, Some(Generated::IdentityByDefault));
    assert!(!stock.is_read_only());
    let gross = products.column("gross_price").unwrap();
    assert_eq!(gross.generated, Some(Generated::Computed));
    assert_eq!(gross.default, None);
    assert!(gross.is_read_only());
    let price = products.column("price").unwrap();
    assert_eq!(price.value_type, ValueType::Numeric);
    assert_eq!(price.sql_type, "numeric(10,2)");
    assert_eq!((price.precision, price.scale), (Some(10), Some(2)));
    assert_eq!((gross.precision, gross.scale), (None, None));
    let sku = products.column("sku").unwrap();
    assert_eq!(sku.value_type, ValueType::Uuid);
    assert_eq!(sku.default.as_deref(), Some("gen_random_uuid()"));
    assert_eq!(sku.generated, None);
    assert_eq!(
        products.column("data").unwrap().value_type,
        ValueType::Jsonb
    );

    let orders = table(&model, "orders");
    let id = orders.column("id").unwrap();
    assert_eq!(
        (id.value_type, id.generated),
        (ValueType::BigInt, Some(Generated::Serial))
    );
    let status = orders.column("status").unwrap();
    assert_eq!(status.default.as_deref(), Some("'pending'::order_status"));
    assert_eq!(
        table(&model, "shipments")
            .column("shipped_on")
            .unwrap()
            .value_type,
        ValueType::Date
    );
}

#[tokio::test]
async fn enum_labels_and_array_elements_are_resolved() {
    let db = TestDb::new().await;
    let model = db.model(None).await;

    let status = table(&model, "orders").column("status").unwrap();
    assert_eq!(status.value_type, ValueType::Enum);
    assert_eq!(status.sql_type, "order_status");
    assert_eq!(
        status.enum_values,
        strings(&["pending", "shipped", "cancelled"])
    );
    assert_eq!(status.element_type, None);

    let products = table(&model, "products");
    let tags = products.column("tags").unwrap();
    assert_eq!(tags.value_type, ValueType::Array);
    assert_eq!(tags.element_type, Some(ValueType::Text));
    assert_eq!(tags.sql_type, "text[]");
    assert_eq!(tags.udt_name, "_text");
    assert!(tags.enum_values.is_empty());

    let statuses = products.column("statuses").unwrap();
    assert_eq!(statuses.value_type, ValueType::Array);
    assert_eq!(statuses.element_type, Some(ValueType::Enum));
    assert_eq!(
        statuses.enum_values,
        strings(&["pending", "shipped", "cancelled"])
    );

    // A type outside the search path is qualified, so it is safe in a cast.
    let tier = table(&model, "sales.regions").column("tier").unwrap();
    assert_eq!(tier.value_type, ValueType::Enum);
    assert_eq!(tier.sql_type, "sales.tier");
    assert_eq!(
        (tier.udt_schema.as_str(), tier.udt_name.as_str()),
        ("sales", "tier")
    );
    assert_eq!(tier.enum_values, strings(&["gold", "silver", "bronze"]));
}

#[tokio::test]
async fn primary_unique_and_foreign_keys_are_read_in_key_order() {
    let db = TestDb::new().await;
    let model = db.model(None).await;

    let customers = table(&model, "customers");
    assert_eq!(customers.primary_key, strings(&["id"]));
    // The partial and expression indexes are not usable keys.
    assert_eq!(
        customers.unique_keys,
        vec![strings(&["email"]), strings(&["tenant_id", "name"])]
    );
    let flags = |t: &Table, c: &str| {
        let column = t.column(c).unwrap();
        (column.is_primary_key, column.is_unique)
    };
    assert_eq!(flags(customers, "id"), (true, false));
    assert_eq!(flags(customers, "email"), (false, true));
    assert_eq!(flags(customers, "tenant_id"), (false, false));
    assert_eq!(flags(customers, "name"), (false, false));

    let orders = table(&model, "orders");
    assert!(
        orders.unique_keys.is_empty(),
        "partial unique index ignored: {:?}",
        orders.unique_keys
    );
    assert_eq!(flags(orders, "customer_id"), (false, false));
    assert_eq!(orders.foreign_keys.len(), 1);
    let fk = &orders.foreign_keys[0];
    assert_eq!(fk.name, "orders_customer_id_fkey");
    assert_eq!(fk.columns, strings(&["customer_id"]));
    assert_eq!(fk.ref_table, "customers");
    assert_eq!(fk.ref_columns, strings(&["id"]));
    assert_eq!(
        (fk.on_update.as_str(), fk.on_delete.as_str()),
        ("NO ACTION", "CASCADE")
    );
    assert_eq!(
        orders.column("customer_id").unwrap().references,
        Some(ColumnRef {
            table: "customers".to_owned(),
            column: "id".to_owned()
        })
    );
    assert_eq!(orders.column("total").unwrap().references, None);

    // Key order, not column order.
    let items = table(&model, "order_items");
    assert_eq!(items.primary_key, strings(&["order_id", "product_id"]));
    assert_eq!(flags(items, "product_id"), (true, false));
    let items_fks: Vec<(&str, &str, &str, &str)> = items
        .foreign_keys
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.ref_table.as_str(),
                f.on_update.as_str(),
                f.on_delete.as_str(),
            )
        })
        .collect();
    assert_eq!(
        items_fks,
        [
            (
                "order_items_order_id_fkey",
                "orders",
                "NO ACTION",
                "CASCADE"
            ),
            (
                "order_items_product_id_fkey",
                "products",
                "CASCADE",
                "RESTRICT"
            ),
        ]
    );

    let shipments = table(&model, "shipments");
    assert_eq!(shipments.foreign_keys.len(), 1);
    let fk = &shipments.foreign_keys[0];
    assert_eq!(fk.columns, strings(&["order_id", "product_id"]));
    assert_eq!(fk.ref_table, "order_items");
    assert_eq!(fk.ref_columns, strings(&["order_id", "product_id"]));
    assert_eq!(fk.on_delete, "SET NULL");
    assert_eq!(shipments.column("order_id").unwrap().references, None);

    assert_eq!(table(&model, "events").primary_key, strings(&["id", "at"]));
    assert!(table(&model, "shipped_orders").primary_key.is_empty());
}

#[tokio::test]
async fn relationships_are_named_as_dreamfactory_names_them() {
    let db = TestDb::new().await;
    let model = db.model(None).await;

    let orders = table(&model, "orders");
    assert_eq!(
        relation_names(orders),
        [
            "customers_by_customer_id",
            "order_items_by_order_id",
            "products_by_order_items"
        ]
    );
    let belongs = orders.relation("customers_by_customer_id").unwrap();
    assert_eq!(belongs.kind, RelationKind::BelongsTo);
    assert_eq!(belongs.columns, strings(&["customer_id"]));
    assert_eq!(belongs.ref_table, "customers");
    assert_eq!(belongs.ref_columns, strings(&["id"]));
    assert!(belongs.junction.is_none());
    let has_many = orders.relation("order_items_by_order_id").unwrap();
    assert_eq!(has_many.kind, RelationKind::HasMany);
    assert_eq!(has_many.columns, strings(&["id"]));
    assert_eq!(has_many.ref_table, "order_items");
    assert_eq!(has_many.ref_columns, strings(&["order_id"]));
    let many = orders.relation("products_by_order_items").unwrap();
    assert_eq!(many.kind, RelationKind::ManyMany);
    assert_eq!(many.columns, strings(&["id"]));
    assert_eq!(many.ref_table, "products");
    assert_eq!(many.ref_columns, strings(&["id"]));
    let junction = many.junction.as_ref().unwrap();
    assert_eq!(junction.table, "order_items");
    assert_eq!(junction.columns, strings(&["order_id"]));
    assert_eq!(junction.ref_columns, strings(&["product_id"]));

    let products = table(&model, "products");
    assert_eq!(
        relation_names(products),
        ["order_items_by_product_id", "orders_by_order_items"]
    );
    let many = products.relation("orders_by_order_items").unwrap();
    assert_eq!(many.kind, RelationKind::ManyMany);
    let junction = many.junction.as_ref().unwrap();
    assert_eq!(junction.columns, strings(&["product_id"]));
    assert_eq!(junction.ref_columns, strings(&["order_id"]));

    // Tables of other schemas keep their qualified name inside relationship names.
    let customers = table(&model, "customers");
    assert_eq!(
        relation_names(customers),
        ["orders_by_customer_id", "sales.regions_by_manager_id"]
    );
    let has_many = customers.relation("orders_by_customer_id").unwrap();
    assert_eq!(
        (has_many.kind, has_many.ref_table.as_str()),
        (RelationKind::HasMany, "orders")
    );
    assert_eq!(has_many.ref_columns, strings(&["customer_id"]));
    assert_eq!(
        relation_names(table(&model, "sales.regions")),
        ["customers_by_manager_id"]
    );

    // Composite foreign keys join their fields.
    let items = table(&model, "order_items");
    assert_eq!(
        relation_names(items),
        [
            "orders_by_order_id",
            "products_by_product_id",
            "shipments_by_order_id_product_id"
        ]
    );
    let shipments = table(&model, "shipments");
    assert_eq!(
        relation_names(shipments),
        ["order_items_by_order_id_product_id"]
    );
    let composite = shipments
        .relation("order_items_by_order_id_product_id")
        .unwrap();
    assert_eq!(composite.columns, strings(&["order_id", "product_id"]));
    assert_eq!(composite.ref_columns, strings(&["order_id", "product_id"]));

    // A self-reference yields a belongs_to and a has_many of the same name: the later one
    // gets a suffix.
    let categories = table(&model, "categories");
    assert_eq!(
        relation_names(categories),
        ["categories_by_parent_id", "categories_by_parent_id_2"]
    );
    assert_eq!(categories.relations[0].kind, RelationKind::BelongsTo);
    assert_eq!(categories.relations[1].kind, RelationKind::HasMany);
}

#[tokio::test]
async fn views_are_writable_only_when_postgres_can_update_them() {
    let db = TestDb::new().await;
    let model = db.model(None).await;
    let writable = |name: &str| {
        let t = table(&model, name);
        (t.insertable, t.updatable, t.deletable)
    };
    assert_eq!(writable("orders"), (true, true, true));
    assert_eq!(writable("events"), (true, true, true));
    assert_eq!(writable("shipped_orders"), (true, true, true));
    assert_eq!(writable("customer_totals"), (false, false, false));
    assert_eq!(writable("product_names"), (false, false, false));

    let shipped = table(&model, "shipped_orders");
    let names: Vec<&str> = shipped.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "customer_id", "total", "placed_at"]);
    assert!(shipped.columns.iter().all(|c| c.nullable));
    assert_eq!(shipped.column("total").unwrap().sql_type, "numeric(12,2)");
    assert!(shipped.relations.is_empty());
}

#[tokio::test]
async fn a_selected_schema_is_exposed_alone_with_unqualified_names() {
    let db = TestDb::new().await;

    let all = db.model(None).await;
    assert!(all.table("sales.regions").is_some());
    assert!(all.table("regions").is_none());
    assert!(all.function("sales.region_count").is_some());

    let sales = db.model(Some("sales")).await;
    assert_eq!(api_names(&sales), ["regions"]);
    let regions = table(&sales, "regions");
    assert_eq!(
        (regions.schema.as_str(), regions.name.as_str()),
        ("sales", "regions")
    );
    // The referenced table is outside the exposed schema: the key stays, the relationship
    // does not.
    assert_eq!(regions.foreign_keys.len(), 1);
    assert_eq!(regions.foreign_keys[0].ref_table, "public.customers");
    assert!(regions.relations.is_empty());
    assert_eq!(
        regions.column("manager_id").unwrap().references,
        Some(ColumnRef {
            table: "public.customers".to_owned(),
            column: "id".to_owned()
        })
    );
    let names: Vec<&str> = sales
        .functions
        .iter()
        .map(|f| f.api_name.as_str())
        .collect();
    assert_eq!(names, ["region_count"]);

    let public = db.model(Some("public")).await;
    assert!(public.table("customers").is_some());
    assert!(public.tables.iter().all(|t| t.schema == "public"));
    assert_eq!(
        relation_names(table(&public, "customers")),
        ["orders_by_customer_id"]
    );
}

#[tokio::test]
async fn an_unknown_schema_is_an_error() {
    let db = TestDb::new().await;
    let error = introspect(
        &mut db.pool.acquire().await.expect("a connection"),
        &IntrospectOptions {
            schema: Some("nowhere".to_owned()),
        },
    )
    .await
    .expect_err("no such schema");
    assert!(
        matches!(&error, IntrospectError::SchemaNotFound(s) if s == "nowhere"),
        "{error}"
    );
    let system = introspect(
        &mut db.pool.acquire().await.expect("a connection"),
        &IntrospectOptions {
            schema: Some("pg_catalog".to_owned()),
        },
    )
    .await
    .expect_err("system schemas are never exposed");
    assert!(matches!(system, IntrospectError::SchemaNotFound(_)));
}

#[tokio::test]
async fn functions_and_procedures_report_arguments_modes_defaults_and_results() {
    let db = TestDb::new().await;
    let model = db.model(None).await;

    // Trigger functions, aggregates and the citext extension's functions are not callable
    // through the API.
    let names: Vec<&str> = model
        .functions
        .iter()
        .map(|f| f.api_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "add_tax",
            "customer_orders",
            "order_stats",
            "order_total",
            "sales.region_count",
            "top_products",
            "touch_customer",
        ]
    );

    let total = model.function("order_total").unwrap();
    assert_eq!(
        (total.schema.as_str(), total.name.as_str()),
        ("public", "order_total")
    );
    assert_eq!(total.kind, FunctionKind::Function);
    assert_eq!(total.return_type, "numeric");
    assert!(!total.returns_set);
    assert_eq!(total.volatility, Volatility::Stable);
    assert_eq!(total.comment.as_deref(), Some("The total of one order"));
    assert_eq!(total.args.len(), 1);
    let arg = &total.args[0];
    assert_eq!((arg.name.as_str(), arg.mode), ("p_order_id", ArgMode::In));
    assert_eq!(
        (arg.value_type, arg.sql_type.as_str()),
        (ValueType::BigInt, "bigint")
    );
    assert_eq!(
        (arg.udt_schema.as_str(), arg.udt_name.as_str()),
        ("pg_catalog", "int8")
    );
    assert!(!arg.has_default);

    let orders = model.function("customer_orders").unwrap();
    assert_eq!(orders.return_type, "SETOF orders");
    assert!(orders.returns_set);

    let touch = model.function("touch_customer").unwrap();
    assert_eq!(touch.kind, FunctionKind::Procedure);
    assert_eq!(touch.return_type, "void");
    assert_eq!(touch.volatility, Volatility::Volatile);
    assert_eq!(touch.args.len(), 1);
    assert_eq!(
        (touch.args[0].name.as_str(), touch.args[0].value_type),
        ("p_id", ValueType::Integer)
    );

    let stats = model.function("order_stats").unwrap();
    assert_eq!(stats.return_type, "record");
    assert!(!stats.returns_set);
    let args: Vec<(&str, ArgMode, ValueType, bool)> = stats
        .args
        .iter()
        .map(|a| (a.name.as_str(), a.mode, a.value_type, a.has_default))
        .collect();
    assert_eq!(
        args,
        [
            ("p_customer_id", ArgMode::In, ValueType::Integer, false),
            ("p_since", ArgMode::In, ValueType::TimestampTz, true),
            ("order_count", ArgMode::Out, ValueType::BigInt, false),
            ("amount", ArgMode::Out, ValueType::Numeric, false),
        ]
    );

    let top = model.function("top_products").unwrap();
    assert_eq!(top.return_type, "TABLE(product_id integer, sold bigint)");
    assert!(top.returns_set);
    let args: Vec<(&str, ArgMode, bool)> = top
        .args
        .iter()
        .map(|a| (a.name.as_str(), a.mode, a.has_default))
        .collect();
    assert_eq!(
        args,
        [
            ("n", ArgMode::In, true),
            ("product_id", ArgMode::Table, false),
            ("sold", ArgMode::Table, false)
        ]
    );

    // Of overloads, the one with the fewest arguments is kept.
    let tax = model.function("add_tax").unwrap();
    assert_eq!(tax.volatility, Volatility::Immutable);
    let args: Vec<&str> = tax.args.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(args, ["amount"]);

    let region_count = model.function("sales.region_count").unwrap();
    assert_eq!(
        (region_count.schema.as_str(), region_count.name.as_str()),
        ("sales", "region_count")
    );
    assert!(region_count.args.is_empty());
    assert_eq!(region_count.return_type, "bigint");
}

#[tokio::test]
async fn only_what_the_login_may_use_is_exposed() {
    let mut db = TestDb::new().await;
    let reader = db
        .login_with(
            "GRANT SELECT ON customers TO {role}; \
             GRANT INSERT ON order_items TO {role}; \
             REVOKE EXECUTE ON FUNCTION order_total(bigint) FROM PUBLIC;",
        )
        .await;

    let model = introspect(
        &mut reader.acquire().await.expect("a connection"),
        &IntrospectOptions::default(),
    )
    .await
    .expect("introspect");
    reader.close().await;

    // No privilege on sales either: its table and function are absent.
    assert_eq!(api_names(&model), ["customers", "order_items"]);
    // Nothing about tables the login cannot see leaks through relationships.
    assert!(table(&model, "customers").relations.is_empty());
    let items = table(&model, "order_items");
    assert!(items.relations.is_empty());
    assert_eq!(items.foreign_keys.len(), 2);
    assert_eq!(items.primary_key, strings(&["order_id", "product_id"]));

    let names: Vec<&str> = model
        .functions
        .iter()
        .map(|f| f.api_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "add_tax",
            "customer_orders",
            "order_stats",
            "top_products",
            "touch_customer"
        ]
    );

    // The owner still sees everything.
    let full = db.model(None).await;
    assert!(full.function("order_total").is_some());
    assert_eq!(full.tables.len(), 12);
}

#[tokio::test]
async fn a_schema_the_login_may_not_use_is_reported_as_not_found() {
    let mut db = TestDb::new().await;
    let reader = db
        .login_with("GRANT SELECT ON sales.regions TO {role};")
        .await;
    let error = introspect(
        &mut reader.acquire().await.expect("a connection"),
        &IntrospectOptions {
            schema: Some("sales".to_owned()),
        },
    )
    .await
    .expect_err("no USAGE on sales");
    reader.close().await;
    assert!(
        matches!(error, IntrospectError::SchemaNotFound(ref s) if s == "sales"),
        "{error}"
    );
}

#[tokio::test]
async fn the_model_survives_a_serde_round_trip() {
    let db = TestDb::new().await;
    let model = db.model(None).await;
    let json = serde_json::to_string(&model).expect("serialise");
    let back: SchemaModel = serde_json::from_str::<SchemaModel>(&json)
        .expect("parse")
        .reindexed();
    assert_eq!(api_names(&back), api_names(&model));
    assert_eq!(
        relation_names(table(&back, "orders")),
        relation_names(table(&model, "orders"))
    );
    assert!(back.function("order_stats").is_some());
}
