//! The document of one database service, pruned to the caller's role: `_table`, `_schema`,
//! `_proc`, `_func` and `_spec` paths for the tables and routines it is given, each table
//! with only the verbs of its mask (and that the table supports: no writes on a read-only
//! view).
//!
//! Pure; reads the role's view (the visible tables with their masks, the callable
//! routines); no I/O. Nothing outside that view is named anywhere in the document.

use rampart_schema::{ArgMode, Function, FunctionKind, Table, ValueType};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, RefBuilder, Schema, Type};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{RefOr, Required, Tag};

use super::components::{
    Names, READ, any, array, base, body, described, envelope, json_response, nullable, object,
    operation, path, path_item, prim, query, schema_ref, segment, with_params,
};
use super::records::{self, Visible};
use super::{Parts, ServiceDoc};
use crate::rbac::Verb;

/// Shared schemas of DreamFactory's `_table` listing and `_schema` shapes.
const TABLE_ENTRY: &str = "TableEntry";
const TABLE_SCHEMA: &str = "TableSchema";

/// Parameters of writes to a table.
const WRITE: [&str; 5] = ["ids", "filter", "fields", "continue", "rollback"];

/// Builds the parts of one service's document.
pub fn build(
    service: &ServiceDoc<'_>,
    tables: &[(&Table, i64)],
    schema_readable: &[&str],
    procs: &[&Function],
    funcs: &[&Function],
) -> Parts {
    let root = format!("/api/v2/{}", segment(service.name));
    let mut b = Builder {
        svc: service.name,
        root,
        ops: Names::default(),
        paths: Vec::new(),
        tags: Vec::new(),
    };
    let mut names = Names::default();
    let named: Vec<(&Table, String, i64)> = tables
        .iter()
        .map(|(t, mask)| {
            (
                *t,
                names.unique(&format!("{}.{}", service.name, t.api_name)),
                *mask,
            )
        })
        .collect();
    let visible = Visible::new(named.iter().cloned());
    let mut components = base()
        .schema(TABLE_ENTRY, table_entry())
        .schema(TABLE_SCHEMA, table_schema());
    b.service_paths(!tables.is_empty());
    for (t, record, mask) in &named {
        let mask = mask & supported(t);
        let mut name_if = |bits: i64, suffix: &str| {
            (mask & bits != 0).then(|| names.unique(&format!("{record}.{suffix}")))
        };
        let schemas = Schemas {
            record: record.clone(),
            new: name_if(Verb::Post.bit(), "new"),
            changes: name_if(Verb::Put.bit() | Verb::Patch.bit(), "changes"),
            keys: name_if(!Verb::Get.bit(), "keys"),
        };
        components = components.schema(record.clone(), records::record(t, &visible));
        let built = [
            (&schemas.new, records::new_record(t, &visible)),
            (&schemas.changes, records::changes(t, &visible)),
            (&schemas.keys, records::keys(t)),
        ];
        for (name, schema) in built {
            if let Some(name) = name {
                components = components.schema(name.clone(), schema);
            }
        }
        b.table_paths(&TableDoc {
            table: t,
            mask,
            schema_readable: schema_readable.contains(&t.api_name.as_str()),
            schemas: &schemas,
            visible: &visible,
        });
    }
    for (family, list) in [("_proc", procs), ("_func", funcs)] {
        for f in list {
            b.routine_paths(family, f);
        }
    }
    Parts {
        paths: b.paths,
        components: components.build(),
        tags: b.tags,
    }
}

/// The verbs a table supports at all.
fn supported(t: &Table) -> i64 {
    let bit = |yes: bool, bits: i64| if yes { bits } else { 0 };
    Verb::Get.bit()
        | bit(t.insertable, Verb::Post.bit())
        | bit(t.updatable, Verb::Put.bit() | Verb::Patch.bit())
        | bit(t.deletable, Verb::Delete.bit())
}

/// The component names of a table's schemas: records as returned, records to create,
/// changes, and the key fields writes return (the last three only when a verb needs them).
struct Schemas {
    record: String,
    new: Option<String>,
    changes: Option<String>,
    keys: Option<String>,
}

/// One table, its verbs and its schemas.
struct TableDoc<'a> {
    table: &'a Table,
    mask: i64,
    /// Whether `_schema/{table}` is granted (a grant of its own, not the table's).
    schema_readable: bool,
    schemas: &'a Schemas,
    visible: &'a Visible<'a>,
}

impl TableDoc<'_> {
    fn allows(&self, verb: Verb) -> bool {
        self.mask & verb.bit() != 0
    }

    /// The changes schema, if `verb` (PUT or PATCH) is allowed.
    fn changes_for(&self, verb: Verb) -> Option<RefOr<Schema>> {
        self.schemas
            .changes
            .as_deref()
            .filter(|_| self.allows(verb))
            .map(schema_ref)
    }

    /// What writes return: the key fields (any object for a table without a key).
    fn keys(&self) -> RefOr<Schema> {
        self.schemas
            .keys
            .as_deref()
            .map_or_else(|| prim(Type::Object).into(), schema_ref)
    }
}

/// The document under construction: paths, tags and the operation ids handed out.
struct Builder<'a> {
    svc: &'a str,
    root: String,
    ops: Names,
    paths: Vec<(String, PathItem)>,
    tags: Vec<Tag>,
}

impl Builder<'_> {
    /// An operation whose id (`{service}_{id}`) is unique in the document.
    fn op(&mut self, id: &str, tag: &str, summary: &str) -> OperationBuilder {
        operation(
            &self.ops.unique(&format!("{}_{id}", self.svc)),
            tag,
            summary,
        )
    }

    fn add(&mut self, path: String, ops: Vec<(HttpMethod, OperationBuilder)>) {
        if !ops.is_empty() {
            self.paths.push((path, path_item(ops)));
        }
    }

    /// Declares a tag once and returns its name.
    fn tag(&mut self, name: String, description: String) -> String {
        if !self.tags.iter().any(|t| t.name == name) {
            self.tags.push(
                TagBuilder::new()
                    .name(name.clone())
                    .description(Some(description))
                    .build(),
            );
        }
        name
    }

    /// `_table` and `_schema` listings and `_spec`.
    fn service_paths(&mut self, any_table: bool) {
        let about = format!(
            "The `{}` service: its tables and its OpenAPI document.",
            self.svc
        );
        let tag = self.tag(self.svc.to_owned(), about);
        if any_table {
            let list = json_response(
                "The tables and views the role may use.",
                envelope(schema_ref(TABLE_ENTRY)),
            );
            let names = query(
                "ids",
                "Comma-separated table names to list.",
                prim(Type::String),
            );
            for (resource, id) in [("_table", "get_tables"), ("_schema", "get_schemas")] {
                let op = self
                    .op(id, &tag, "List the tables the role may use")
                    .parameter(names.clone());
                let op = with_params(op, &["as_list", "refresh"]).response("200", list.clone());
                self.add(
                    format!("{}/{resource}", self.root),
                    vec![(HttpMethod::Get, op)],
                );
            }
        }
        let spec = self.op(
            "get_spec",
            &tag,
            "This service's OpenAPI document, pruned to the role",
        );
        let spec = spec.response(
            "200",
            json_response("An OpenAPI 3.1 document.", prim(Type::Object)),
        );
        self.add(
            format!("{}/_spec", self.root),
            vec![(HttpMethod::Get, spec)],
        );
    }

    /// `/_table/{table}`, `/_table/{table}/{id}` and `/_schema/{table}`.
    fn table_paths(&mut self, d: &TableDoc<'_>) {
        let t = d.table;
        let name = t.api_name.as_str();
        let tag = self.tag(
            format!("{}: {name}", self.svc),
            t.comment.clone().unwrap_or_else(|| records::describe(t)),
        );
        let base = format!("{}/_table/{}", self.root, segment(name));
        let written = json_response(
            "The records written: their key fields, more with `fields`.",
            envelope(d.keys()),
        );
        let related = related_param(d);

        let mut ops = Vec::new();
        if d.allows(Verb::Get) {
            let meta = object([
                (
                    "count",
                    described(
                        Type::Integer,
                        "With `include_count`: the number of matching records.",
                    )
                    .into(),
                ),
                (
                    "next",
                    described(
                        Type::Integer,
                        "The `offset` of the next page, when more records remain.",
                    )
                    .into(),
                ),
                (
                    "next_cursor",
                    described(
                        Type::String,
                        "The `cursor` of the next page, when more records remain.",
                    )
                    .into(),
                ),
                (
                    "schema",
                    RefOr::from(
                        RefBuilder::new()
                            .ref_location_from_schema_name(TABLE_SCHEMA)
                            .description(Some("With `include_schema`: the table's schema.")),
                    ),
                ),
            ]);
            let list = object([
                ("resource", array(schema_ref(&d.schemas.record)).into()),
                ("meta", RefOr::from(meta)),
            ])
            .required("resource");
            let text = "The records (with `as_list`: their ids as strings; with `count_only`: a bare integer).";
            let op = self
                .op(
                    &format!("get_{name}"),
                    &tag,
                    &format!("Read `{name}` records"),
                )
                .parameter(related.clone());
            ops.push((
                HttpMethod::Get,
                with_params(op, &READ).response("200", json_response(text, list)),
            ));
        }
        if let Some(new) = d.schemas.new.as_deref() {
            let records = OneOfBuilder::new()
                .item(envelope(schema_ref(new)))
                .item(array(schema_ref(new)));
            let op = self.op(
                &format!("post_{name}"),
                &tag,
                &format!("Create `{name}` records"),
            );
            let op = with_params(op, &WRITE[2..]).request_body(Some(body(
                records,
                "Records to create, in a `resource` envelope or as an array.",
                true,
            )));
            ops.push((HttpMethod::Post, op.response("200", written.clone())));
        }
        for (verb, method, what) in [
            (Verb::Put, HttpMethod::Put, "Replace"),
            (Verb::Patch, HttpMethod::Patch, "Update"),
        ] {
            let Some(changes) = d.changes_for(verb) else {
                continue;
            };
            let records = OneOfBuilder::new()
                .item(envelope(changes.clone()))
                .item(array(changes.clone()))
                .item(changes);
            let text = "Records with their keys (in a `resource` envelope or an array), or one set of changes for the records chosen by `ids` or `filter`.";
            let op = self.op(
                &format!("{}_{name}", verb.to_string().to_lowercase()),
                &tag,
                &format!("{what} `{name}` records"),
            );
            let op = with_params(op, &WRITE).request_body(Some(body(records, text, true)));
            ops.push((method, op.response("200", written.clone())));
        }
        if d.allows(Verb::Delete) {
            let op = self.op(
                &format!("delete_{name}"),
                &tag,
                &format!("Delete `{name}` records chosen by `ids`, `filter` or their keys"),
            );
            let op = with_params(op, &WRITE).request_body(Some(body(
                envelope(d.keys()),
                "Records to delete, by their key fields.",
                false,
            )));
            ops.push((HttpMethod::Delete, op.response("200", written)));
        }
        self.add(base.clone(), ops);

        if !t.primary_key.is_empty() {
            self.record_paths(d, &tag, &base, related);
        }
        if d.schema_readable {
            let op = self.op(
                &format!("get_schema_{name}"),
                &tag,
                &format!("The schema of `{name}`"),
            );
            let op = op.response(
                "200",
                json_response("DreamFactory's table schema.", schema_ref(TABLE_SCHEMA)),
            );
            self.add(
                format!("{}/_schema/{}", self.root, segment(name)),
                vec![(HttpMethod::Get, op)],
            );
        }
    }

    /// `/_table/{table}/{id}`, for a table with a primary key.
    fn record_paths(&mut self, d: &TableDoc<'_>, tag: &str, base: &str, related: Parameter) {
        let t = d.table;
        let name = t.api_name.as_str();
        let id = match t.primary_key.as_slice() {
            [key] => path(
                "id",
                &format!("The record's `{key}`."),
                t.column(key)
                    .map_or_else(|| prim(Type::String), |c| url_value(c.value_type)),
            ),
            keys => path(
                "id",
                &format!(
                    "The record's key values in key order, comma-separated: `{}`.",
                    keys.join(",")
                ),
                prim(Type::String),
            ),
        };
        let keys = json_response("The record's key fields, more with `fields`.", d.keys());
        let mut ops = Vec::new();
        if d.allows(Verb::Get) {
            let op = self.op(
                &format!("get_{name}_by_id"),
                tag,
                &format!("Read one `{name}` record"),
            );
            let op = with_params(
                op.parameter(id.clone()).parameter(related),
                &["fields", "id_field"],
            );
            ops.push((
                HttpMethod::Get,
                op.response(
                    "200",
                    json_response("The record.", schema_ref(&d.schemas.record)),
                ),
            ));
        }
        for (verb, method, what) in [
            (Verb::Put, HttpMethod::Put, "Replace"),
            (Verb::Patch, HttpMethod::Patch, "Update"),
        ] {
            let Some(changes) = d.changes_for(verb) else {
                continue;
            };
            let op = self.op(
                &format!("{}_{name}_by_id", verb.to_string().to_lowercase()),
                tag,
                &format!("{what} one `{name}` record"),
            );
            let op = with_params(op.parameter(id.clone()), &["fields"]).request_body(Some(body(
                changes,
                "The changes.",
                true,
            )));
            ops.push((method, op.response("200", keys.clone())));
        }
        if d.allows(Verb::Delete) {
            let op = self.op(
                &format!("delete_{name}_by_id"),
                tag,
                &format!("Delete one `{name}` record"),
            );
            ops.push((
                HttpMethod::Delete,
                with_params(op.parameter(id), &["fields"]).response("200", keys),
            ));
        }
        self.add(format!("{base}/{{id}}"), ops);
    }

    /// `/_proc/{name}` or `/_func/{name}`: GET with arguments in the query, POST with a body.
    fn routine_paths(&mut self, family: &str, f: &Function) {
        let name = f.api_name.as_str();
        let kind = if f.kind == FunctionKind::Procedure {
            "procedure"
        } else {
            "function"
        };
        let tag = self.tag(
            format!("{}: {family}", self.svc),
            format!("Callable {kind}s of the `{}` service.", self.svc),
        );
        let summary = f
            .comment
            .clone()
            .unwrap_or_else(|| format!("Call the {kind} `{name}`"));
        let result = json_response(
            &format!("The result (`{}`).", f.return_type),
            routine_result(f),
        );
        let inputs: Vec<_> = f
            .args
            .iter()
            .filter(|a| {
                matches!(a.mode, ArgMode::In | ArgMode::InOut | ArgMode::Variadic)
                    && !a.name.is_empty()
            })
            .collect();

        let mut get = self.op(&format!("get{family}_{name}"), &tag, &summary);
        for a in &inputs {
            let mut p = query(
                &a.name,
                &format!("Argument `{}` ({}).", a.name, a.sql_type),
                url_value(a.value_type),
            );
            p.required = if a.has_default {
                Required::False
            } else {
                Required::True
            };
            get = get.parameter(p);
        }
        let arg_names: Vec<&str> = inputs.iter().map(|a| a.name.as_str()).collect();
        let arg_name = if arg_names.is_empty() {
            prim(Type::String)
        } else {
            prim(Type::String).enum_values(Some(arg_names))
        };
        let params = array(object([("name", arg_name), ("value", any())]).required("name"))
            .description(Some("Arguments by name."));
        let wrapper = described(
            Type::String,
            "Wrap a result set in an object under this key.",
        );
        let args = object([
            ("params", RefOr::<Schema>::from(params)),
            ("wrapper", wrapper.into()),
        ]);
        let post = self
            .op(&format!("post{family}_{name}"), &tag, &summary)
            .request_body(Some(body(args, "Arguments.", false)));
        let ops = vec![
            (HttpMethod::Get, get.response("200", result.clone())),
            (HttpMethod::Post, post.response("200", result)),
        ];
        self.add(format!("{}/{family}/{}", self.root, segment(name)), ops);
    }
}

/// `related`, naming the relationships the role may expand on this table.
fn related_param(d: &TableDoc<'_>) -> Parameter {
    let names: Vec<String> = d
        .table
        .relations
        .iter()
        .filter(|r| d.visible.readable(&r.ref_table).is_some())
        .map(|r| format!("`{}`", r.name))
        .collect();
    let text = if names.is_empty() {
        "Relationships to embed; this table has none the role may expand.".to_owned()
    } else {
        format!(
            "Relationships to embed, comma-separated, or `*`: {}. Per relationship: `{{rel}}.fields`, `{{rel}}.limit`, `{{rel}}.order`.",
            names.join(", ")
        )
    };
    query("related", &text, prim(Type::String))
}

/// The schema of a scalar in a URL (an id or an argument): its JSON type, never null.
fn url_value(vt: ValueType) -> ObjectBuilder {
    match vt {
        ValueType::SmallInt | ValueType::Integer | ValueType::BigInt => prim(Type::Integer),
        ValueType::Real | ValueType::Double | ValueType::Numeric => prim(Type::Number),
        ValueType::Boolean => prim(Type::Boolean),
        _ => prim(Type::String),
    }
}

/// What a routine returns: rows (with their columns when declared), OUT arguments, or a value.
fn routine_result(f: &Function) -> RefOr<Schema> {
    let columns: Vec<_> = f
        .args
        .iter()
        .filter(|a| {
            matches!(a.mode, ArgMode::Out | ArgMode::InOut | ArgMode::Table) && !a.name.is_empty()
        })
        .collect();
    let row = || {
        object(columns.iter().map(|a| {
            (
                a.name.as_str(),
                url_value(a.value_type).description(Some(a.sql_type.clone())),
            )
        }))
    };
    match (f.returns_set, columns.is_empty()) {
        (true, false) => array(row()).into(),
        (true, true) => array(any()).into(),
        (false, false) if f.kind == FunctionKind::Procedure || columns.len() > 1 => row().into(),
        _ => any()
            .description(Some(format!("A value of type `{}`.", f.return_type)))
            .into(),
    }
}

/// An entry of the `_table` listing.
fn table_entry() -> ObjectBuilder {
    let verbs = prim(Type::String).enum_values(Some(["GET", "POST", "PUT", "PATCH", "DELETE"]));
    let access = array(verbs).description(Some("The verbs the role may use on the table."));
    object([
        ("name", prim(Type::String)),
        ("label", prim(Type::String)),
        ("is_view", prim(Type::Boolean)),
    ])
    .property("access", access)
}

/// DreamFactory's table schema (`_schema/{table}`, `include_schema`).
fn table_schema() -> ObjectBuilder {
    let (s, b, maybe) = (
        || prim(Type::String),
        || prim(Type::Boolean),
        || nullable(Type::String),
    );
    let field = object([
        ("name", s()),
        ("label", s()),
        ("description", maybe()),
        ("type", s()),
        ("db_type", s()),
        ("required", b()),
        ("allow_null", b()),
        ("is_primary_key", b()),
        ("is_foreign_key", b()),
        ("ref_table", maybe()),
        ("ref_field", maybe()),
        ("is_read_only", b()),
    ]);
    let relation = object([
        ("name", s()),
        ("type", s()),
        ("field", s()),
        ("ref_table", s()),
        ("ref_field", s()),
    ]);
    object([
        ("name", s()),
        ("label", s()),
        ("description", maybe()),
        ("is_view", b()),
    ])
    .property("primary_key", array(s()))
    .property("field", array(field))
    .property("related", array(relation))
}
