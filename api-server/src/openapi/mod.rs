//! OpenAPI 3.1 documents generated at runtime from the introspected schema, pruned to what
//! the caller's role may use: one per database service (`/_spec`), the system API's, and the
//! combination of both behind Swagger UI (`/api/docs`).
//!
//! Pure; reads the schema model and the role's view (visible tables with their verb masks,
//! callable routines); no I/O. What the role cannot use is absent, never merely marked: a
//! table outside the view has no path, schema, tag, relationship or foreign-key mention.
//!
//! Layout: `components` (security schemes, errors, shared parameters, names), `records`
//! (a table's record schemas), `tables` (a service's paths), `system` (the system API).

mod components;
mod records;
mod system;
mod tables;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use rampart_schema::{Function, SchemaModel, Table};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{Components, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Tag};

/// The service a document describes.
pub struct ServiceDoc<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub description: Option<&'a str>,
}

/// The OpenAPI document of one database service, for the given visible tables (with their
/// verb masks), the tables whose schema (`_schema/{table}`) the role may read, and routines.
#[must_use]
pub fn service_document(
    service: &ServiceDoc<'_>,
    _schema: &SchemaModel,
    tables: &[(&Table, i64)],
    schema_readable: &[&str],
    procs: &[&Function],
    funcs: &[&Function],
) -> OpenApi {
    // The visible tables carry everything the document needs; `_schema` stays in the
    // signature for callers that may later pass a role-pruned model.
    let parts = tables::build(service, tables, schema_readable, procs, funcs);
    let description = service.description.map_or_else(
        || {
            format!(
                "The `{}` database service, as your role sees it.",
                service.name
            )
        },
        str::to_owned,
    );
    assemble(service.label, &description, parts)
}

/// The system API's document (sessions, services, roles, apps, admins) with the security
/// schemes every document shares.
#[must_use]
pub fn system_document() -> OpenApi {
    let description = "Sessions, services, roles, apps and admins.";
    assemble("Rampart system API", description, system::build())
}

/// Merges documents into one (paths and components of all).
#[must_use]
pub fn combined(parts: Vec<OpenApi>) -> OpenApi {
    let mut doc = assemble(
        "Rampart",
        "A secure REST API over PostgreSQL, compatible with DreamFactory's. This document shows only what your role may use.",
        Parts::default(),
    );
    for part in parts {
        merge(&mut doc, part);
    }
    doc
}

/// A document's paths, components and tags.
#[derive(Default)]
struct Parts {
    paths: Vec<(String, PathItem)>,
    components: Components,
    tags: Vec<Tag>,
}

/// A document with Rampart's info and the global security (any one scheme).
fn assemble(title: &str, description: &str, parts: Parts) -> OpenApi {
    let Parts {
        paths,
        components,
        tags,
    } = parts;
    let paths = paths
        .into_iter()
        .fold(PathsBuilder::new(), |b, (path, item)| b.path(path, item));
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(title)
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(description)),
        )
        .paths(paths)
        .components(Some(components))
        .security(Some(components::security()))
        .tags((!tags.is_empty()).then_some(tags))
        .build()
}

/// Adds `other`'s paths, components (every kind: utoipa's own `merge` keeps only schemas,
/// responses and security schemes), security requirements and tags to `doc`. Names already
/// present win (shared components are identical in every document); an operation id
/// already taken gets a suffix, so ids stay unique across services.
fn merge(doc: &mut OpenApi, mut other: OpenApi) {
    let mut ids = components::Names::default();
    for id in doc.paths.paths.values_mut().flat_map(operations) {
        ids.unique(id.operation_id.as_deref().unwrap_or_default());
    }
    for op in other.paths.paths.values_mut().flat_map(operations) {
        op.operation_id = op.operation_id.as_deref().map(|id| ids.unique(id));
    }
    doc.paths.merge(other.paths);
    if let Some(theirs) = other.components {
        let ours = doc.components.get_or_insert_with(Components::new);
        add(&mut ours.schemas, theirs.schemas);
        add(&mut ours.responses, theirs.responses);
        add(&mut ours.parameters, theirs.parameters);
        add(&mut ours.examples, theirs.examples);
        add(&mut ours.request_bodies, theirs.request_bodies);
        add(&mut ours.headers, theirs.headers);
        add(&mut ours.links, theirs.links);
        add(&mut ours.callbacks, theirs.callbacks);
        add(&mut ours.path_items, theirs.path_items);
        add(&mut ours.media_types, theirs.media_types);
        add(&mut ours.security_schemes, theirs.security_schemes);
    }
    for requirement in other.security.into_iter().flatten() {
        let security = doc.security.get_or_insert_with(Vec::new);
        if !security.contains(&requirement) {
            security.push(requirement);
        }
    }
    for tag in other.tags.into_iter().flatten() {
        let tags = doc.tags.get_or_insert_with(Vec::new);
        if !tags.iter().any(|t| t.name == tag.name) {
            tags.push(tag);
        }
    }
}

/// The operations of a path item.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// Adds the entries of `theirs` whose names `ours` lacks.
fn add<V>(ours: &mut BTreeMap<String, V>, theirs: BTreeMap<String, V>) {
    for (name, value) in theirs {
        ours.entry(name).or_insert(value);
    }
}
