//! Role-based access: a role's access rows are compiled once into a `CompiledRole`; each
//! request is checked against it — service, component + verb with DreamFactory's precedence
//! and masks, table visibility — and, if allowed, yields a `Permit` carrying the table's
//! field rules and row filter (levels 4 and 5 of DESIGN §4). Pure: no I/O.
//!
//! Architecture invariant: deny by default — no role, an inactive role, or no matching access
//! row refuses the request; nothing outside this module can construct a `Permit`.

pub mod component;
pub mod fields;
pub mod rows;
pub mod verbs;

use rampart_schema::{SchemaModel, Table};

use crate::filter::Expr;
use crate::system::roles::{AccessRecord, RoleRecord};
use component::Tier;
pub use fields::{FieldRule, FieldRules, Mask};
pub use verbs::Verb;

/// A row filter as compiled.
#[derive(Debug, Clone)]
enum RowFilter {
    All,
    Only(Expr),
    /// The stored filter no longer parses: deny rather than guess.
    Nothing,
}

/// One access row, normalised.
#[derive(Debug, Clone)]
struct AccessRow {
    service_id: Option<i64>,
    component: String,
    verb_mask: i64,
    requestor_mask: i64,
    row_filter: RowFilter,
    fields: FieldRules,
}

/// What a role may do with one table for one verb: the rows it reaches and how each field
/// appears. The planner takes every column it touches through this.
#[derive(Debug, Clone, Default)]
pub struct TableRules {
    /// Verbs granted on the table.
    pub mask: i64,
    /// Filters every row must pass (AND-ed); empty means all rows.
    pub row_filters: Vec<Expr>,
    /// No row at all (a stored filter that no longer compiles).
    pub no_rows: bool,
    /// Rules by field; fields without one are plain.
    pub fields: FieldRules,
}

impl TableRules {
    /// The table as the role sees it, for documents and listings: hidden fields removed,
    /// masked ones turned into the nullable text they arrive as (described as masked),
    /// read-only ones marked generated so documents show them read-only.
    #[must_use]
    pub fn view_of(&self, table: &Table) -> Table {
        let mut t = table.clone();
        t.columns.retain(|c| self.is_visible(&c.name));
        t.primary_key.retain(|k| self.is_visible(k));
        for c in &mut t.columns {
            match self.field(&c.name) {
                Some(FieldRule::Masked(m)) => {
                    c.value_type = rampart_schema::ValueType::Text;
                    c.element_type = None;
                    c.enum_values.clear();
                    c.nullable = true;
                    c.references = None;
                    c.comment = Some(format!("Masked for your role ({}).", m.name()));
                }
                Some(FieldRule::ReadOnly) => {
                    c.generated = Some(rampart_schema::Generated::Computed)
                }
                _ => {}
            }
        }
        t
    }

    /// The rule of a field, if any.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<FieldRule> {
        self.fields.get(name).copied()
    }

    /// Whether the field exists for the caller (not hidden).
    #[must_use]
    pub fn is_visible(&self, name: &str) -> bool {
        self.field(name) != Some(FieldRule::Hidden)
    }
}

/// A role compiled for enforcement: every listing, check and OpenAPI document reads this.
#[derive(Debug, Clone)]
pub struct CompiledRole {
    pub id: i64,
    pub name: String,
    pub is_active: bool,
    /// When the role last changed (unix seconds): sessions issued until a deactivation end.
    pub changed_at: i64,
    rows: Vec<AccessRow>,
}

/// Resources whose GET lists things: allowed when the role may GET anything on the service,
/// and then pruned to what it may see (DreamFactory's `_schema` fallback, applied to every
/// listing).
const LISTINGS: &[&str] = &["", "_table", "_schema", "_proc", "_func", "_spec"];

impl CompiledRole {
    /// Compiles a role's access rows.
    #[must_use]
    pub fn compile(role: &RoleRecord, access: &[AccessRecord]) -> Self {
        let rows = access
            .iter()
            .map(|a| {
                let filters = serde_json::from_str(&a.filters).unwrap_or(serde_json::Value::Null);
                let row_filter = match rows::compile(&filters, &a.filter_op) {
                    Ok(None) => RowFilter::All,
                    Ok(Some(expr)) => RowFilter::Only(expr),
                    Err(e) => {
                        tracing::warn!(role = role.id, access = a.id, error = %e, "stored row filter does not compile; the row grants no records");
                        RowFilter::Nothing
                    }
                };
                let rules = serde_json::from_str(&a.field_rules).unwrap_or(serde_json::Value::Null);
                let fields = match fields::parse(&rules) {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!(role = role.id, access = a.id, error = %e, "stored field rules do not parse; the row grants no records");
                        return AccessRow {
                            service_id: a.service_id,
                            component: component::normalise(&a.component).to_owned(),
                            verb_mask: a.verb_mask,
                            requestor_mask: a.requestor_mask,
                            row_filter: RowFilter::Nothing,
                            fields: FieldRules::new(),
                        };
                    }
                };
                AccessRow {
                    service_id: a.service_id,
                    component: component::normalise(&a.component).to_owned(),
                    verb_mask: a.verb_mask,
                    requestor_mask: a.requestor_mask,
                    row_filter,
                    fields,
                }
            })
            .collect();
        Self {
            id: role.id,
            name: role.name.clone(),
            is_active: role.is_active,
            changed_at: role.last_modified_date.timestamp(),
            rows,
        }
    }

    /// The verbs granted on `component` of `service` for a requestor (DreamFactory's tiers:
    /// the first tier with a matching row wins; masks within it are OR-ed).
    #[must_use]
    pub fn mask_for(&self, service: i64, component: &str, requestor: i64) -> i64 {
        self.winning_rows(service, component, requestor)
            .iter()
            .fold(0, |m, r| m | r.verb_mask)
    }

    /// Whether the role grants `verb` on `component` of `service` through rows that name
    /// that service: rows for every service do not count. How the system API's resources
    /// are granted, so a role reaching "everything" never reaches the system API by accident.
    #[must_use]
    pub fn grants_on_named_service(
        &self,
        service: i64,
        component: &str,
        verb: Verb,
        requestor: i64,
    ) -> bool {
        self.is_active
            && self
                .winning_rows_where(service, component, requestor, |r| {
                    r.service_id == Some(service)
                })
                .iter()
                .any(|r| r.verb_mask & verb.bit() != 0)
    }

    /// The rows of the winning tier for a component (DreamFactory's precedence).
    fn winning_rows(&self, service: i64, component: &str, requestor: i64) -> Vec<&AccessRow> {
        self.winning_rows_where(service, component, requestor, |_| true)
    }

    /// The rows of the winning tier among those `considered`.
    fn winning_rows_where(
        &self,
        service: i64,
        component: &str,
        requestor: i64,
        considered: impl Fn(&AccessRow) -> bool,
    ) -> Vec<&AccessRow> {
        let mut best: Option<Tier> = None;
        let mut out = Vec::new();
        for row in self
            .rows
            .iter()
            .filter(|r| r.requestor_mask & requestor != 0 && considered(r))
        {
            let Some(t) = component::tier(row.service_id, &row.component, service, component)
            else {
                continue;
            };
            match best {
                Some(b) if t > b => {}
                Some(b) if t == b => out.push(row),
                _ => {
                    best = Some(t);
                    out = vec![row];
                }
            }
        }
        out
    }

    /// What the role may do with a table for a verb, or `None` when the verb is not granted.
    /// Among the winning tier's rows that grant the verb, every row filter applies (AND) and
    /// the strictest rule per field wins — several grants never widen each other's limits.
    #[must_use]
    pub fn table_rules(
        &self,
        service: i64,
        table: &str,
        verb: Verb,
        requestor: i64,
    ) -> Option<TableRules> {
        let rows = self.winning_rows(service, &format!("_table/{table}"), requestor);
        let mask = rows.iter().fold(0, |m, r| m | r.verb_mask);
        if mask & verb.bit() == 0 {
            return None;
        }
        let mut rules = TableRules {
            mask,
            ..TableRules::default()
        };
        for row in rows.iter().filter(|r| r.verb_mask & verb.bit() != 0) {
            match &row.row_filter {
                RowFilter::All => {}
                RowFilter::Only(expr) => rules.row_filters.push(expr.clone()),
                RowFilter::Nothing => rules.no_rows = true,
            }
            fields::strictest(&mut rules.fields, &row.fields);
        }
        Some(rules)
    }

    /// How the role reads `table` as the target of a relationship expanded from a table it
    /// may read (`related`).
    ///
    /// A table the role has rules for is read under them: without GET it cannot be expanded
    /// (an access row with `verb_mask` 0 is how a role shuts a related table off), with GET its
    /// row filters and field rules apply. A table no rule covers is reached through the
    /// relationship only: the grant on the parent includes its relationships, as in
    /// DreamFactory, while the table itself stays absent from listings and refused when
    /// addressed directly.
    #[must_use]
    pub fn related_rules(&self, service: i64, table: &str, requestor: i64) -> Option<TableRules> {
        if self.reached_only_as_related(service, table, requestor) {
            return Some(TableRules {
                mask: Verb::Get.bit(),
                ..TableRules::default()
            });
        }
        self.table_rules(service, table, Verb::Get, requestor)
    }

    /// Whether no rule of the role covers `table`, so that it is read, unrestricted, wherever
    /// it is related to a table the role reads (see `related_rules`).
    #[must_use]
    pub fn reached_only_as_related(&self, service: i64, table: &str, requestor: i64) -> bool {
        self.winning_rows(service, &format!("_table/{table}"), requestor)
            .is_empty()
    }

    /// Whether any row of the role reaches the service (level 1).
    #[must_use]
    pub fn reaches_service(&self, service: i64, requestor: i64) -> bool {
        self.rows.iter().any(|r| {
            r.requestor_mask & requestor != 0
                && r.verb_mask != 0
                && (r.service_id == Some(service)
                    || (r.service_id.is_none() && matches!(r.component.as_str(), "" | "*")))
        })
    }

    /// The verbs granted on a table (its collection component `_table/{name}`).
    #[must_use]
    pub fn table_mask(&self, service: i64, table: &str, requestor: i64) -> i64 {
        self.mask_for(service, &format!("_table/{table}"), requestor)
    }

    /// Tables and views the role may touch at all, with their verbs (level 3).
    #[must_use]
    pub fn visible_tables<'s>(
        &self,
        service: i64,
        schema: &'s SchemaModel,
        requestor: i64,
    ) -> Vec<(&'s Table, i64)> {
        schema
            .tables
            .iter()
            .filter_map(|t| {
                let mask = self.table_mask(service, &t.api_name, requestor);
                (mask != 0).then_some((t, mask))
            })
            .collect()
    }

    /// Tables the role may touch, each as the role sees it (see `TableRules::view_of`), with
    /// its verbs. Field rules are those of GET when granted, else of the first granted verb.
    #[must_use]
    pub fn table_views(
        &self,
        service: i64,
        schema: &SchemaModel,
        requestor: i64,
    ) -> Vec<(Table, i64)> {
        self.visible_tables(service, schema, requestor)
            .into_iter()
            .filter_map(|(t, mask)| {
                let verb = Verb::in_mask(mask).next()?;
                let rules = self.table_rules(service, &t.api_name, verb, requestor)?;
                Some((rules.view_of(t), mask))
            })
            .collect()
    }

    /// The tables among `tables` whose schema (`_schema/{table}`, a grant of its own) the role
    /// may read.
    #[must_use]
    pub fn schema_readable<'t>(
        &self,
        service: i64,
        tables: impl IntoIterator<Item = &'t str>,
        requestor: i64,
    ) -> Vec<&'t str> {
        tables
            .into_iter()
            .filter(|t| {
                self.mask_for(service, &format!("_schema/{t}"), requestor) & Verb::Get.bit() != 0
            })
            .collect()
    }

    /// Whether the role may call a function or procedure (`_func/name`, `_proc/name`).
    #[must_use]
    pub fn routine_mask(&self, service: i64, family: &str, name: &str, requestor: i64) -> i64 {
        self.mask_for(service, &format!("{family}/{name}"), requestor)
    }
}

/// What a request asks for, as the RBAC engine sees it.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    pub service_id: i64,
    pub service_name: &'a str,
    /// The request's component (`_table/orders`, `_table/orders/5`, `_spec`, ``).
    pub component: &'a str,
    /// The table addressed, for `_table/{table}[/{id}]` requests.
    pub table: Option<&'a str>,
    pub verb: Verb,
    pub requestor: i64,
}

/// Proof that a request passed RBAC. Only `authorize` makes one.
#[derive(Debug, Clone)]
pub struct Permit {
    service_id: i64,
    verb: Verb,
    /// Verbs granted on the component.
    mask: i64,
    /// The role the permit was issued under.
    role_id: i64,
    /// Whether this is a listing allowed by the fallback (results must be pruned).
    pruned_listing: bool,
    /// For table requests: the rows and fields the role reaches with this verb.
    table: Option<TableRules>,
}

impl Permit {
    /// The field rules and row filters of the addressed table (table requests only).
    #[must_use]
    pub fn table_rules(&self) -> Option<&TableRules> {
        self.table.as_ref()
    }

    /// The service the permit is for.
    #[must_use]
    pub fn service_id(&self) -> i64 {
        self.service_id
    }

    /// The verb allowed.
    #[must_use]
    pub fn verb(&self) -> Verb {
        self.verb
    }

    /// The verbs granted on the component.
    #[must_use]
    pub fn mask(&self) -> i64 {
        self.mask
    }

    /// The role it was issued under.
    #[must_use]
    pub fn role_id(&self) -> i64 {
        self.role_id
    }

    /// True when the listing is allowed only because the role reaches something on the
    /// service; results are pruned to what the role may see either way.
    #[must_use]
    pub fn is_pruned_listing(&self) -> bool {
        self.pruned_listing
    }
}

/// Why RBAC refused; says which level refused and nothing more.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Denied {
    #[error("Role not found. A role may not be assigned to you or your application.")]
    NoRole,
    #[error(
        "Access Forbidden. The role assigned to you or your application or the default role of your application is not active."
    )]
    InactiveRole,
    #[error(
        "Access Forbidden. {verb} access to component '{component}' of service '{service}' is not allowed by this user's role."
    )]
    Forbidden {
        verb: Verb,
        component: String,
        service: String,
    },
}

/// Checks a request against the caller's role (levels 1–3).
pub fn authorize(role: Option<&CompiledRole>, access: &Access<'_>) -> Result<Permit, Denied> {
    let role = role.ok_or(Denied::NoRole)?;
    if !role.is_active {
        return Err(Denied::InactiveRole);
    }
    let forbidden = || Denied::Forbidden {
        verb: access.verb,
        component: access.component.to_owned(),
        service: access.service_name.to_owned(),
    };
    if !role.reaches_service(access.service_id, access.requestor) {
        return Err(forbidden());
    }
    let mask = role.mask_for(access.service_id, access.component, access.requestor);
    let permit = |mask, pruned_listing, table| Permit {
        service_id: access.service_id,
        verb: access.verb,
        mask,
        role_id: role.id,
        pruned_listing,
        table,
    };
    if mask & access.verb.bit() != 0 {
        let table = match access.table {
            Some(t) => Some(
                role.table_rules(access.service_id, t, access.verb, access.requestor)
                    .ok_or_else(forbidden)?,
            ),
            None => None,
        };
        return Ok(permit(mask, LISTINGS.contains(&access.component), table));
    }
    if access.verb == Verb::Get && LISTINGS.contains(&access.component) {
        let any_get = role.rows.iter().any(|r| {
            r.verb_mask & Verb::Get.bit() != 0
                && r.requestor_mask & access.requestor != 0
                && (r.service_id == Some(access.service_id) || r.service_id.is_none())
        });
        if any_get {
            return Ok(permit(Verb::Get.bit(), true, None));
        }
    }
    Err(forbidden())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn role(rows: &[(Option<i64>, &str, i64)]) -> CompiledRole {
        let record = RoleRecord {
            id: 1,
            name: "r".into(),
            description: None,
            is_active: true,
            created_date: Utc::now(),
            last_modified_date: Utc::now(),
        };
        let access: Vec<AccessRecord> = rows
            .iter()
            .enumerate()
            .map(|(i, (service_id, component, verb_mask))| AccessRecord {
                id: i64::try_from(i).unwrap_or_default(),
                role_id: 1,
                service_id: *service_id,
                component: (*component).into(),
                verb_mask: *verb_mask,
                requestor_mask: 1,
                filters: "[]".into(),
                filter_op: "AND".into(),
                field_rules: "{}".into(),
            })
            .collect();
        CompiledRole::compile(&record, &access)
    }

    #[test]
    fn the_system_api_is_granted_only_by_rows_naming_it() {
        let all = Verb::ALL.iter().fold(0, |m, v| m | v.bit());
        let api = verbs::REQUESTOR_API;
        let everything = role(&[(None, "*", all), (Some(1), "*", all)]);
        assert!(!everything.grants_on_named_service(0, "audit", Verb::Get, api));
        let auditor = role(&[(Some(0), "audit", Verb::Get.bit())]);
        assert!(auditor.grants_on_named_service(0, "audit", Verb::Get, api));
        assert!(!auditor.grants_on_named_service(0, "audit", Verb::Delete, api));
        assert!(!auditor.grants_on_named_service(0, "role", Verb::Get, api));
        let wide = role(&[(Some(0), "*", Verb::Get.bit())]);
        assert!(wide.grants_on_named_service(0, "audit", Verb::Get, api));
        // An exact row wins over the service-wide one (DreamFactory's tiers).
        let narrowed = role(&[(Some(0), "*", Verb::Get.bit()), (Some(0), "audit", 0)]);
        assert!(!narrowed.grants_on_named_service(0, "audit", Verb::Get, api));
    }

    fn check(role: &CompiledRole, component: &str, verb: Verb) -> Result<Permit, Denied> {
        let table = component
            .strip_prefix("_table/")
            .map(|t| t.split('/').next().unwrap_or(t));
        authorize(
            Some(role),
            &Access {
                service_id: 1,
                service_name: "db",
                component,
                table,
                verb,
                requestor: 1,
            },
        )
    }

    #[test]
    fn a_role_with_get_on_one_table_reads_it_and_nothing_else() {
        let r = role(&[(Some(1), "_table/orders/*", 1)]);
        assert!(check(&r, "_table/orders", Verb::Get).is_ok());
        assert!(check(&r, "_table/orders/5", Verb::Get).is_ok());
        assert!(check(&r, "_table/orders", Verb::Post).is_err());
        assert!(check(&r, "_table/customers", Verb::Get).is_err());
        assert!(check(&r, "_proc/anything", Verb::Get).is_err());
    }

    #[test]
    fn listings_are_allowed_when_anything_is_readable_and_flagged_for_pruning() {
        let r = role(&[(Some(1), "_table/orders/*", 1)]);
        for listing in ["_table", "_schema", "_spec", ""] {
            let p = check(&r, listing, Verb::Get).unwrap();
            assert!(p.is_pruned_listing(), "{listing}");
        }
        let writer = role(&[(Some(1), "_table/orders/*", 2)]);
        assert!(check(&writer, "_table", Verb::Get).is_err());
    }

    #[test]
    fn the_first_matching_tier_wins_and_masks_within_it_are_ored() {
        // Exact beats wildcard even when the wildcard grants more.
        let r = role(&[(Some(1), "_table/*", 31), (Some(1), "_table/orders", 1)]);
        assert!(check(&r, "_table/orders", Verb::Delete).is_err());
        assert!(check(&r, "_table/orders", Verb::Get).is_ok());
        assert!(check(&r, "_table/customers", Verb::Delete).is_ok());
        let ored = role(&[
            (Some(1), "_table/orders/*", 1),
            (Some(1), "_table/orders/*", 2),
        ]);
        assert_eq!(ored.mask_for(1, "_table/orders", 1), 3);
    }

    #[test]
    fn service_wide_and_all_services_rows_apply_in_that_order() {
        let r = role(&[(None, "*", 1), (Some(1), "*", 2)]);
        assert_eq!(r.mask_for(1, "_table/x", 1), 2);
        assert_eq!(r.mask_for(2, "_table/x", 1), 1);
    }

    #[test]
    fn no_role_or_an_inactive_role_is_refused() {
        let access = Access {
            service_id: 1,
            service_name: "db",
            component: "_table/x",
            table: Some("x"),
            verb: Verb::Get,
            requestor: 1,
        };
        assert_eq!(authorize(None, &access).unwrap_err(), Denied::NoRole);
        let mut r = role(&[(Some(1), "*", 31)]);
        r.is_active = false;
        assert_eq!(
            authorize(Some(&r), &access).unwrap_err(),
            Denied::InactiveRole
        );
    }

    #[test]
    fn the_requestor_mask_must_include_the_api() {
        let mut r = role(&[(Some(1), "*", 31)]);
        r.rows[0].requestor_mask = 2;
        assert!(check(&r, "_table/x", Verb::Get).is_err());
    }

    #[test]
    fn a_role_for_another_service_does_not_reach_this_one() {
        let r = role(&[(Some(2), "*", 31)]);
        assert!(check(&r, "", Verb::Get).is_err());
    }
}
