//! Assembles tables from catalog rows: columns, keys, and DreamFactory-style relationships.
//!
//! Invariants: only exposed (visible) relations become tables; a foreign key to a relation
//! that is not exposed is kept but yields no relationship; the output is deterministic
//! (tables by API name, keys by index OID / constraint name, relationships by name) and
//! relationship names are unique per table.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use sqlx::postgres::types::Oid;

use super::Namer;
use super::catalog::{ColumnRow, CommentRow, ForeignKeyRow, RelationRow, UniqueKeyRow};
use super::types::{TypeMap, TypeNames, type_limits};
use crate::model::{
    Column, ColumnRef, ForeignKey, Generated, Junction, Relation, RelationKind, Table, TableKind,
};

/// Everything the catalog says about the exposed relations.
pub(super) struct TableRows {
    pub relations: Vec<RelationRow>,
    pub columns: Vec<ColumnRow>,
    pub comments: Vec<CommentRow>,
    pub unique_keys: Vec<UniqueKeyRow>,
    pub foreign_keys: Vec<ForeignKeyRow>,
}

/// A table being assembled, with what the finished model does not keep.
struct TableBuilder {
    oid: Oid,
    table: Table,
    /// Unique keys with their index OID, for a stable order.
    unique_keys: Vec<(Oid, Vec<String>)>,
    /// Foreign keys with the OID of the referenced relation.
    foreign_keys: Vec<(ForeignKey, Oid)>,
}

impl TableBuilder {
    /// Column names for attribute numbers; `None` if any is unknown.
    fn column_names(&self, attnums: &[i16]) -> Option<Vec<String>> {
        let columns = &self.table.columns;
        attnums
            .iter()
            .map(|&n| {
                columns
                    .binary_search_by_key(&n, |c| c.position)
                    .ok()
                    .map(|i| columns[i].name.clone())
            })
            .collect()
    }
}

fn char_code(code: i8) -> u8 {
    code.to_ne_bytes()[0]
}

fn table_kind(relkind: i8) -> TableKind {
    match char_code(relkind) {
        b'p' => TableKind::PartitionedTable,
        b'v' => TableKind::View,
        b'm' => TableKind::MaterializedView,
        b'f' => TableKind::ForeignTable,
        _ => TableKind::Table,
    }
}

fn referential_action(action: i8) -> String {
    match char_code(action) {
        b'r' => "RESTRICT",
        b'c' => "CASCADE",
        b'n' => "SET NULL",
        b'd' => "SET DEFAULT",
        _ => "NO ACTION",
    }
    .to_owned()
}

fn new_builder(names: &Namer<'_>, row: RelationRow) -> TableBuilder {
    let schema = names.schema(row.namespace).to_owned();
    let kind = table_kind(row.relkind);
    let (insertable, updatable, deletable) = match kind {
        TableKind::Table | TableKind::PartitionedTable => (true, true, true),
        TableKind::MaterializedView => (false, false, false),
        TableKind::View | TableKind::ForeignTable => {
            // pg_relation_is_updatable: 4 UPDATE, 8 INSERT, 16 DELETE.
            let bits = row.updatable_bits.unwrap_or(0);
            (bits & 8 != 0, bits & 4 != 0, bits & 16 != 0)
        }
    };
    TableBuilder {
        oid: row.oid,
        table: Table {
            api_name: names.api_name(&schema, &row.name),
            schema,
            name: row.name,
            kind,
            comment: None,
            columns: Vec::new(),
            primary_key: Vec::new(),
            unique_keys: Vec::new(),
            foreign_keys: Vec::new(),
            relations: Vec::new(),
            insertable,
            updatable,
            deletable,
        },
        unique_keys: Vec::new(),
        foreign_keys: Vec::new(),
    }
}

fn new_column(types: &TypeMap, type_names: &TypeNames, row: ColumnRow) -> Column {
    let resolved = types.resolve(row.type_oid, row.typmod);
    let (max_length, precision, scale) = type_limits(resolved.base, resolved.typmod);
    let generated = match (char_code(row.identity), char_code(row.generated)) {
        (b'a', _) => Some(Generated::IdentityAlways),
        (b'd', _) => Some(Generated::IdentityByDefault),
        (_, b's') => Some(Generated::Computed),
        _ if row
            .default
            .as_deref()
            .is_some_and(|d| d.starts_with("nextval(")) =>
        {
            Some(Generated::Serial)
        }
        _ => None,
    };
    let name = type_names.get(row.type_oid, row.typmod);
    Column {
        name: row.name,
        position: row.attnum,
        value_type: resolved.value_type,
        element_type: resolved.element_type,
        sql_type: name.map(|n| n.sql_type.clone()).unwrap_or_default(),
        udt_name: name.map(|n| n.udt_name.clone()).unwrap_or_default(),
        udt_schema: name.map(|n| n.udt_schema.clone()).unwrap_or_default(),
        // Views never carry NOT NULL, so their columns are nullable.
        nullable: !row.not_null,
        default: row.default,
        generated,
        max_length,
        precision,
        scale,
        enum_values: resolved.enum_values.to_vec(),
        comment: None,
        is_primary_key: false,
        is_unique: false,
        references: None,
    }
}

/// Builds the exposed tables, sorted by API name.
pub(super) fn build_tables(
    names: &Namer<'_>,
    types: &TypeMap,
    type_names: &TypeNames,
    rows: TableRows,
) -> Vec<Table> {
    let mut builders: Vec<TableBuilder> = rows
        .relations
        .into_iter()
        .map(|row| new_builder(names, row))
        .collect();
    builders.sort_by(|a, b| a.table.api_name.cmp(&b.table.api_name));
    let by_oid: HashMap<Oid, usize> = builders
        .iter()
        .enumerate()
        .map(|(i, b)| (b.oid, i))
        .collect();

    for row in rows.columns {
        if let Some(&index) = by_oid.get(&row.rel) {
            builders[index]
                .table
                .columns
                .push(new_column(types, type_names, row));
        }
    }
    for builder in &mut builders {
        builder.table.columns.sort_by_key(|c| c.position);
    }

    for row in rows.comments {
        let Some(&index) = by_oid.get(&row.rel) else {
            continue;
        };
        let table = &mut builders[index].table;
        if row.attnum == 0 {
            table.comment = Some(row.text);
        } else if let Ok(attnum) = i16::try_from(row.attnum)
            && let Ok(i) = table.columns.binary_search_by_key(&attnum, |c| c.position)
        {
            table.columns[i].comment = Some(row.text);
        }
    }

    for row in rows.unique_keys {
        let Some(&index) = by_oid.get(&row.rel) else {
            continue;
        };
        let builder = &mut builders[index];
        let Some(columns) = builder.column_names(&row.attnums) else {
            continue;
        };
        if row.is_primary {
            builder.table.primary_key = columns;
        } else {
            builder.unique_keys.push((row.index, columns));
        }
    }

    for row in rows.foreign_keys {
        let Some(&index) = by_oid.get(&row.rel) else {
            continue;
        };
        let Some(columns) = builders[index].column_names(&row.attnums) else {
            continue;
        };
        // The referenced table, from the model when it is exposed, else from the row.
        let referenced = match by_oid.get(&row.ref_rel) {
            Some(&target) => {
                let target = &builders[target];
                target
                    .column_names(&row.ref_attnums)
                    .map(|ref_columns| (target.table.api_name.clone(), ref_columns))
            }
            None => match (row.ref_qualified.as_deref(), row.ref_columns) {
                (Some([schema, table]), Some(ref_columns)) => ref_columns
                    .into_iter()
                    .collect::<Option<Vec<String>>>()
                    .map(|ref_columns| (names.api_name(schema, table), ref_columns)),
                _ => None,
            },
        };
        let Some((ref_table, ref_columns)) = referenced else {
            continue;
        };
        let foreign_key = ForeignKey {
            name: row.name,
            columns,
            ref_table,
            ref_columns,
            on_update: referential_action(row.on_update),
            on_delete: referential_action(row.on_delete),
        };
        builders[index]
            .foreign_keys
            .push((foreign_key, row.ref_rel));
    }

    for builder in &mut builders {
        finish_keys(builder);
    }

    let relations = derive_relations(&builders, &by_oid);
    builders
        .into_iter()
        .zip(relations)
        .map(|(builder, relations)| {
            let mut table = builder.table;
            table.foreign_keys = builder.foreign_keys.into_iter().map(|(fk, _)| fk).collect();
            table.relations = finish_relations(relations);
            table
        })
        .collect()
}

/// Orders and deduplicates keys and copies what they imply onto the columns.
fn finish_keys(builder: &mut TableBuilder) {
    let table = &mut builder.table;

    // A unique constraint and a unique index can cover the same columns, and either can
    // repeat the primary key: keep each column set once, and not the primary key's.
    let primary_set = sorted(&table.primary_key);
    builder.unique_keys.sort_by_key(|(index, _)| index.0);
    let mut seen: HashSet<Vec<String>> = HashSet::new();
    table.unique_keys = std::mem::take(&mut builder.unique_keys)
        .into_iter()
        .map(|(_, key)| key)
        .filter(|key| {
            let set = sorted(key);
            set != primary_set && seen.insert(set)
        })
        .collect();

    builder
        .foreign_keys
        .sort_by(|(a, _), (b, _)| a.name.cmp(&b.name));

    for column in &mut table.columns {
        column.is_primary_key = table.primary_key.contains(&column.name);
        column.is_unique = table
            .unique_keys
            .iter()
            .any(|key| key.len() == 1 && key[0] == column.name);
        column.references = builder
            .foreign_keys
            .iter()
            .find(|(fk, _)| fk.columns.len() == 1 && fk.columns[0] == column.name)
            .and_then(|(fk, _)| {
                fk.ref_columns.first().map(|ref_column| ColumnRef {
                    table: fk.ref_table.clone(),
                    column: ref_column.clone(),
                })
            });
    }
}

fn sorted(names: &[String]) -> Vec<String> {
    let mut names = names.to_vec();
    names.sort();
    names
}

/// Every relationship, per table (in the order of `builders`), names not yet deduplicated.
///
/// - belongs_to on the referencing table: `{ref_table}_by_{fk columns}`;
/// - has_many on the referenced table: `{referencing table}_by_{fk columns}`;
/// - many_many: a table holding foreign keys to A and to B (A may equal B) is a junction
///   between them: A gets `{B}_by_{junction}` and B gets `{A}_by_{junction}`, for every pair
///   of its foreign keys (except ones referencing the junction itself: a hierarchy).
fn derive_relations(builders: &[TableBuilder], by_oid: &HashMap<Oid, usize>) -> Vec<Vec<Relation>> {
    let mut relations: Vec<Vec<Relation>> = builders.iter().map(|_| Vec::new()).collect();
    for (owner, builder) in builders.iter().enumerate() {
        let api_name = &builder.table.api_name;
        // Foreign keys whose referenced table is exposed, with its position.
        let exposed: Vec<(&ForeignKey, usize)> = builder
            .foreign_keys
            .iter()
            .filter_map(|(fk, ref_oid)| by_oid.get(ref_oid).map(|&target| (fk, target)))
            .collect();

        for &(fk, target) in &exposed {
            let fields = fk.columns.join("_");
            relations[owner].push(Relation {
                name: format!("{}_by_{fields}", fk.ref_table),
                kind: RelationKind::BelongsTo,
                columns: fk.columns.clone(),
                ref_table: fk.ref_table.clone(),
                ref_columns: fk.ref_columns.clone(),
                junction: None,
            });
            relations[target].push(Relation {
                name: format!("{api_name}_by_{fields}"),
                kind: RelationKind::HasMany,
                columns: fk.ref_columns.clone(),
                ref_table: api_name.clone(),
                ref_columns: fk.columns.clone(),
                junction: None,
            });
        }

        let outward: Vec<(&ForeignKey, usize)> = exposed
            .into_iter()
            .filter(|&(_, target)| target != owner)
            .collect();
        for (i, &(a_fk, a)) in outward.iter().enumerate() {
            for &(b_fk, b) in &outward[i + 1..] {
                relations[a].push(many_many(api_name, a_fk, b_fk));
                relations[b].push(many_many(api_name, b_fk, a_fk));
            }
        }
    }
    relations
}

/// The many_many relationship on the table `this` references, towards the table `other`
/// references, through `junction`.
fn many_many(junction: &str, this: &ForeignKey, other: &ForeignKey) -> Relation {
    Relation {
        name: format!("{}_by_{junction}", other.ref_table),
        kind: RelationKind::ManyMany,
        columns: this.ref_columns.clone(),
        ref_table: other.ref_table.clone(),
        ref_columns: other.ref_columns.clone(),
        junction: Some(Junction {
            table: junction.to_owned(),
            columns: this.columns.clone(),
            ref_columns: other.columns.clone(),
        }),
    }
}

fn kind_rank(kind: RelationKind) -> u8 {
    match kind {
        RelationKind::BelongsTo => 0,
        RelationKind::HasMany => 1,
        RelationKind::ManyMany => 2,
    }
}

/// A total order on relationships, so that suffixes go to the same ones on every run.
fn relation_order(a: &Relation, b: &Relation) -> Ordering {
    let junction = |r: &Relation| {
        r.junction
            .as_ref()
            .map(|j| (j.table.clone(), j.columns.clone()))
    };
    a.name
        .cmp(&b.name)
        .then_with(|| kind_rank(a.kind).cmp(&kind_rank(b.kind)))
        .then_with(|| a.ref_table.cmp(&b.ref_table))
        .then_with(|| a.columns.cmp(&b.columns))
        .then_with(|| a.ref_columns.cmp(&b.ref_columns))
        .then_with(|| junction(a).cmp(&junction(b)))
}

/// Makes names unique (`_2`, `_3`, … on later duplicates, never taking a name another
/// relationship has by right; belongs_to before has_many before many_many) and sorts by name.
fn finish_relations(mut relations: Vec<Relation>) -> Vec<Relation> {
    relations.sort_by(relation_order);
    let natural: HashSet<String> = relations.iter().map(|r| r.name.clone()).collect();
    let mut used: HashSet<String> = HashSet::with_capacity(relations.len());
    for relation in &mut relations {
        if used.contains(&relation.name) {
            let mut n = 2;
            relation.name = loop {
                let candidate = format!("{}_{n}", relation.name);
                if !used.contains(&candidate) && !natural.contains(&candidate) {
                    break candidate;
                }
                n += 1;
            };
        }
        used.insert(relation.name.clone());
    }
    relations.sort_by(|a, b| a.name.cmp(&b.name));
    relations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relation(name: &str, kind: RelationKind, ref_table: &str) -> Relation {
        Relation {
            name: name.to_owned(),
            kind,
            columns: vec!["id".to_owned()],
            ref_table: ref_table.to_owned(),
            ref_columns: vec!["parent_id".to_owned()],
            junction: None,
        }
    }

    #[test]
    fn colliding_relationship_names_get_numbered_suffixes_that_avoid_existing_names() {
        let relations = finish_relations(vec![
            relation("nodes_by_parent_id", RelationKind::HasMany, "nodes"),
            relation("nodes_by_parent_id", RelationKind::BelongsTo, "nodes"),
            relation("nodes_by_parent_id_2", RelationKind::BelongsTo, "other"),
            relation("nodes_by_parent_id", RelationKind::ManyMany, "nodes"),
        ]);
        let named: Vec<(&str, RelationKind)> = relations
            .iter()
            .map(|r| (r.name.as_str(), r.kind))
            .collect();
        assert_eq!(
            named,
            vec![
                ("nodes_by_parent_id", RelationKind::BelongsTo),
                ("nodes_by_parent_id_2", RelationKind::BelongsTo),
                ("nodes_by_parent_id_3", RelationKind::HasMany),
                ("nodes_by_parent_id_4", RelationKind::ManyMany),
            ]
        );
    }
}
