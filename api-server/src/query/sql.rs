//! A plan → sea-query statements. Pure and infallible: every identifier comes from the plan
//! (which took it from the schema model) and is quoted by sea-query; every value is a bind
//! parameter cast to the column's catalog type.
//!
//! Reads return one row per record: column `c{i}` is the JSON text of output key `i`
//! (PostgreSQL's `to_json`, so numbers keep their precision, timestamps are ISO-8601 and
//! related records arrive already built), and `k{j}` the text of keyset column `j`.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use rampart_schema::ValueType;
use sea_query::extension::postgres::PgBinOper;
use sea_query::{
    Alias, Asterisk, BinOper, Condition, DeleteStatement, Expr, ExprTrait, Func, InsertStatement,
    NullOrdering, OnConflict, Order, Query, QueryStatementBuilder, ReturningClause,
    SelectStatement, UpdateStatement, Value,
};

use super::nested::{Step, StepAction};
use super::plan::{
    Bound, ColumnOut, Cond, Encoding, Join, OrderBy, OutExpr, ReadPlan, RelatedSelect, TableTarget,
};
use super::routine::{CallArg, CallPlan, Returns};
use super::write::{WriteOp, WritePlan, WriteValue};
use crate::filter::CompareOp;
use crate::rbac::Mask;
use crate::request::{Aggregate, Nulls};
use crate::statement;

const OUTER: &str = "_t";
const RELATED: &str = "_r";
const JUNCTION: &str = "_j";
const SUB: &str = "_c";

fn col(table_alias: &str, column: &str) -> Expr {
    Expr::col((qualifier(table_alias), Alias::new(column)))
}

/// A table's name or alias as a qualifier: the aliases Rampart's statements use written once,
/// a table's own name (writes) copied.
fn qualifier(alias: &str) -> sea_query::DynIden {
    use sea_query::IntoIden;
    match [OUTER, RELATED, JUNCTION, SUB]
        .into_iter()
        .find(|a| *a == alias)
    {
        Some(a) => a.into_iden(),
        None => Alias::new(alias).into_iden(),
    }
}

/// A bound value. In its own type where Rust reads the text exactly as PostgreSQL would, so
/// the parameter needs no cast; otherwise as text cast to the type by PostgreSQL, which reads
/// it (and rejects it) as it reads any input. A cast of a parameter is evaluated again for
/// every row a filter looks at (see [`statement::inferred`]); a parameter of the column's own
/// type is read once. The SQL text differs between the two (`$n` against `CAST($n AS …)`), so
/// a statement prepared for one is never reused for the other.
fn bound(b: &Bound) -> Expr {
    if b.value_type == ValueType::Enum {
        return cast(Expr::val(statement::inferred(b.text.clone())), b);
    }
    match native(b) {
        Some(v) => Expr::val(v),
        None => cast(Expr::val(b.text.clone()), b),
    }
}

fn cast(value: Expr, b: &Bound) -> Expr {
    Func::cast_as_quoted(
        value,
        (
            Alias::new(b.type_schema.clone()),
            Alias::new(b.type_name.clone()),
        ),
    )
    .into()
}

/// The value in the column's own built-in type, when the text is in a form Rust and
/// PostgreSQL read alike (no blanks, no out-of-range numbers: those go to PostgreSQL).
fn native(b: &Bound) -> Option<Value> {
    if b.type_schema != "pg_catalog" {
        return None;
    }
    let t = b.text.as_str();
    Some(match b.type_name.as_str() {
        "int2" => Value::SmallInt(Some(t.parse().ok()?)),
        "int4" => Value::Int(Some(t.parse().ok()?)),
        "int8" => Value::BigInt(Some(t.parse().ok()?)),
        "float4" => Value::Float(Some(float(t)?)),
        "float8" => Value::Double(Some(float(t)?)),
        "numeric" => return statement::numeric(t),
        "bool" => Value::Bool(Some(match t.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "on" | "1" => true,
            "false" | "f" | "no" | "n" | "off" | "0" => false,
            _ => return None,
        })),
        "uuid" => {
            let hyphens = t.len() == 36
                && t.char_indices()
                    .all(|(i, ch)| matches!(i, 8 | 13 | 18 | 23) == (ch == '-'));
            let plain = t.len() == 32;
            if !(hyphens || plain) {
                return None;
            }
            Value::Uuid(Some(uuid::Uuid::try_parse(t).ok()?))
        }
        "date" if iso_shape(t) == Some(false) && t.len() == 10 => {
            Value::ChronoDate(Some(NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()?))
        }
        // Without a zone: a `timestamptz` without one is in the session's time zone, which
        // PostgreSQL knows.
        "timestamp" if iso_shape(t) == Some(false) && t.len() > 10 => Value::ChronoDateTime(Some(
            NaiveDateTime::parse_from_str(&t.replacen(' ', "T", 1), "%Y-%m-%dT%H:%M:%S%.f").ok()?,
        )),
        "timestamptz" if iso_shape(t) == Some(true) => Value::ChronoDateTimeWithTimeZone(Some(
            DateTime::parse_from_rfc3339(&t.replacen(' ', "T", 1)).ok()?,
        )),
        _ => return None,
    })
}

/// `YYYY-MM-DD`, then optionally `[ T]HH:MM:SS` with at most six decimals, then optionally
/// `Z` or `±HH:MM` up to 15:59: the forms PostgreSQL and chrono read alike (no year 0, no
/// leap seconds, no hour 24, no years beyond four digits, no offset PostgreSQL refuses).
/// `Some(true)` when it names a zone.
fn iso_shape(t: &str) -> Option<bool> {
    let b = t.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r)
            .is_some_and(|d| !d.is_empty() && d.iter().all(u8::is_ascii_digit))
    };
    let date = b.len() >= 10
        && digits(0..4)
        && &b[0..4] != b"0000"
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10);
    if !date {
        return None;
    }
    if b.len() == 10 {
        return Some(false);
    }
    let time = b.len() >= 19
        && matches!(b[10], b' ' | b'T')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[17] < b'6';
    if !time {
        return None;
    }
    let mut zone = &t[19..];
    if let Some(frac) = zone.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 6 {
            return None;
        }
        zone = &frac[n..];
    }
    let z = zone.as_bytes();
    if zone.is_empty() {
        Some(false)
    } else if zone == "Z"
        || (z.len() == 6
            && matches!(z[0], b'+' | b'-')
            && z[1..3].iter().all(u8::is_ascii_digit)
            && z[1..3] <= b"15"[..]
            && z[3] == b':'
            && z[4..6].iter().all(u8::is_ascii_digit)
            && z[4] < b'6')
    {
        Some(true)
    } else {
        None
    }
}

/// A finite float written in digits (PostgreSQL rejects what overflows or underflows to zero,
/// and names its infinities in words: those go to PostgreSQL as text).
fn float<T: std::str::FromStr + Into<f64> + Copy>(t: &str) -> Option<T> {
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return None;
    }
    let v: T = t.parse().ok()?;
    let f: f64 = v.into();
    let mantissa = t.split(['e', 'E']).next().unwrap_or_default();
    let underflow = f == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    (f.is_finite() && !underflow).then_some(v)
}

fn text(e: impl Into<Expr>) -> Expr {
    Func::cast_as(e, "text").into()
}

fn to_json(e: impl Into<Expr>) -> Expr {
    Func::cust("to_json").arg(e).into()
}

fn table_ref(t: &TableTarget) -> (Alias, Alias) {
    (Alias::new(t.schema.clone()), Alias::new(t.name.clone()))
}

/// Renders a resolved condition over the table aliased `alias`.
pub fn condition(c: &Cond, alias: &str) -> Condition {
    match c {
        Cond::And(items) => items
            .iter()
            .fold(Condition::all(), |acc, i| acc.add(condition(i, alias))),
        Cond::Or(items) => items
            .iter()
            .fold(Condition::any(), |acc, i| acc.add(condition(i, alias))),
        Cond::Not(inner) => condition(inner, alias).not(),
        Cond::Compare { column, op, value } => {
            let op = match op {
                CompareOp::Eq => BinOper::Equal,
                CompareOp::Ne => BinOper::NotEqual,
                CompareOp::Gt => BinOper::GreaterThan,
                CompareOp::Ge => BinOper::GreaterThanOrEqual,
                CompareOp::Lt => BinOper::SmallerThan,
                CompareOp::Le => BinOper::SmallerThanOrEqual,
            };
            Condition::all().add(col(alias, column).binary(op, bound(value)))
        }
        Cond::Match {
            column,
            text_cast,
            case_insensitive,
            negated,
            pattern,
        } => {
            let lhs = if *text_cast {
                text(col(alias, column))
            } else {
                col(alias, column)
            };
            let op = match (case_insensitive, negated) {
                (false, false) => BinOper::Like,
                (false, true) => BinOper::NotLike,
                (true, false) => BinOper::PgOperator(PgBinOper::ILike),
                (true, true) => BinOper::PgOperator(PgBinOper::NotILike),
            };
            Condition::all().add(lhs.binary(op, Expr::val(pattern.clone())))
        }
        Cond::In {
            column,
            negated,
            values,
        } => {
            let values: Vec<Expr> = values.iter().map(bound).collect();
            let e = if *negated {
                col(alias, column).is_not_in(values)
            } else {
                col(alias, column).is_in(values)
            };
            Condition::all().add(e)
        }
        Cond::Between {
            column,
            negated,
            low,
            high,
        } => {
            let e = if *negated {
                col(alias, column).not_between(bound(low), bound(high))
            } else {
                col(alias, column).between(bound(low), bound(high))
            };
            Condition::all().add(e)
        }
        Cond::Never => Condition::all().add(Expr::cust("FALSE")),
        Cond::IsNull { column, negated } => Condition::all().add(if *negated {
            col(alias, column).is_not_null()
        } else {
            col(alias, column).is_null()
        }),
    }
}

fn order_by(q: &mut SelectStatement, alias: &str, order: &[OrderBy]) {
    for o in order {
        let dir = if o.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        match o.nulls {
            None => q.order_by_expr(col(alias, &o.column), dir),
            Some(Nulls::First) => {
                q.order_by_expr_with_nulls(col(alias, &o.column), dir, NullOrdering::First)
            }
            Some(Nulls::Last) => {
                q.order_by_expr_with_nulls(col(alias, &o.column), dir, NullOrdering::Last)
            }
        };
    }
}

fn concat(a: Expr, b: Expr) -> Expr {
    a.binary(BinOper::Custom("||"), b)
}

/// A masked value: the mask is applied by PostgreSQL, so the clear value never leaves it.
/// Each form is NULL when the value is NULL.
fn masked(value: Expr, mask: Mask, salt: &str) -> Expr {
    let value = text(value);
    match mask {
        Mask::Full => concat(
            Expr::val("****"),
            Func::cust("left").arg(value).arg(Expr::val(0)).into(),
        ),
        Mask::Last4 => concat(
            Expr::val("****"),
            Func::cust("right").arg(value).arg(Expr::val(4)).into(),
        ),
        Mask::Email => Func::cust("regexp_replace")
            .arg(value)
            .arg(Expr::val("^(?:(.)[^@]*(@.*)|.*)$"))
            .arg(Expr::val("\\1***\\2"))
            .into(),
        Mask::Hash => {
            let salted = Func::cust("convert_to")
                .arg(concat(Expr::val(salt.to_owned()), value))
                .arg(Expr::val("UTF8"));
            Func::cust("encode")
                .arg(Func::cust("sha256").arg(salted))
                .arg(Expr::val("hex"))
                .into()
        }
        Mask::Null => Expr::cust("CAST(NULL AS text)"),
    }
}

fn column_expr(alias: &str, c: &ColumnOut, salt: &str) -> Expr {
    if let Some(mask) = c.mask {
        return masked(col(alias, &c.column), mask, salt);
    }
    if c.encoding == Encoding::Base64 {
        Func::cust("encode")
            .arg(col(alias, &c.column))
            .arg(Expr::val("base64"))
            .into()
    } else {
        col(alias, &c.column)
    }
}

/// The text of a selected column, in the form its `ColumnOut::text_form` says.
fn column_json(alias: &str, c: &ColumnOut, salt: &str) -> Expr {
    match (c.mask, c.encoding) {
        // Masks and base64 are text already.
        (Some(_), _) | (None, Encoding::Base64) => column_expr(alias, c, salt),
        (None, Encoding::Json) => text(to_json(column_expr(alias, c, salt))),
        (None, Encoding::Bare | Encoding::Text | Encoding::Number) => text(col(alias, &c.column)),
    }
}

/// The sub-select of a `related` expansion, producing JSON (an object or an array).
fn related(r: &RelatedSelect, salt: &str) -> Expr {
    let mut inner = Query::select();
    for c in &r.columns {
        inner.expr_as(column_expr(RELATED, c, salt), Alias::new(c.column.clone()));
    }
    inner.from_as(table_ref(&r.table), RELATED);
    match &r.join {
        Join::Direct(pairs) => {
            for (outer, inner_col) in pairs {
                inner.and_where(col(RELATED, inner_col).equals((OUTER, Alias::new(outer.clone()))));
            }
        }
        Join::Junction {
            table,
            outer,
            inner: inner_pairs,
        } => {
            let mut exists = Query::select();
            exists
                .expr(Expr::val(1))
                .from_as(table_ref(table), JUNCTION);
            for (outer_col, j) in outer {
                exists.and_where(col(JUNCTION, j).equals((OUTER, Alias::new(outer_col.clone()))));
            }
            for (inner_col, j) in inner_pairs {
                exists.and_where(col(JUNCTION, j).equals((RELATED, Alias::new(inner_col.clone()))));
            }
            inner.and_where(Expr::exists(exists));
        }
    }
    if let Some(c) = &r.condition {
        inner.cond_where(condition(c, RELATED));
    }
    order_by(&mut inner, RELATED, &r.order);
    if let Some(limit) = r.limit {
        inner.limit(limit);
    }
    let whole_row = Expr::col((SUB, Asterisk));
    let json: Expr = if r.many {
        Func::coalesce([
            Func::cust("json_agg").arg(whole_row).into(),
            Expr::cust("'[]'::json"),
        ])
        .into()
    } else {
        Func::cust("row_to_json").arg(whole_row).into()
    };
    let mut outer = Query::select();
    outer.expr(json).from_subquery(inner, SUB);
    Expr::SubQuery(None, Box::new(outer.into_sub_query_statement()))
}

fn output_expr(e: &OutExpr, salt: &str) -> Expr {
    match e {
        OutExpr::Column(c) => column_json(OUTER, c, salt),
        OutExpr::Aggregate(agg, column) => {
            let arg = match column {
                Some(c) => col(OUTER, c),
                None => Expr::cust("*"),
            };
            let f = match agg {
                Aggregate::Count => Func::count(arg),
                Aggregate::Sum => Func::sum(arg),
                Aggregate::Avg => Func::avg(arg),
                Aggregate::Min => Func::min(arg),
                Aggregate::Max => Func::max(arg),
            };
            text(to_json(f))
        }
        OutExpr::Related(r) => text(related(r, salt)),
    }
}

/// Keyset: rows strictly after the cursor position in the plan's order.
fn after(columns: &[(String, bool)], values: &[Bound]) -> Condition {
    let mut any = Condition::any();
    for i in 0..columns.len() {
        let mut all = Condition::all();
        for j in 0..i {
            all = all.add(col(OUTER, &columns[j].0).binary(BinOper::Equal, bound(&values[j])));
        }
        let op = if columns[i].1 {
            BinOper::SmallerThan
        } else {
            BinOper::GreaterThan
        };
        all = all.add(col(OUTER, &columns[i].0).binary(op, bound(&values[i])));
        any = any.add(all);
    }
    any
}

/// The names of a read's outputs (`c0`, `c1`…) and keyset columns (`k0`…), written once for
/// the usual counts, since every read names each of its columns.
const OUTPUT_NAMES: [&str; 32] = [
    "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12", "c13", "c14",
    "c15", "c16", "c17", "c18", "c19", "c20", "c21", "c22", "c23", "c24", "c25", "c26", "c27",
    "c28", "c29", "c30", "c31",
];
const KEY_NAMES: [&str; 4] = ["k0", "k1", "k2", "k3"];

/// The `i`th of `usual`, or `{prefix}{i}` beyond them.
fn numbered(usual: &[&'static str], prefix: char, i: usize) -> sea_query::DynIden {
    use sea_query::IntoIden;
    usual.get(i).map_or_else(
        || Alias::new(format!("{prefix}{i}")).into_iden(),
        |name| name.into_iden(),
    )
}

/// The statement of a read. It asks for `limit + 1` rows so the caller knows if more remain.
#[must_use]
pub fn read(plan: &ReadPlan) -> SelectStatement {
    let mut q = Query::select();
    for (i, o) in plan.output.iter().enumerate() {
        q.expr_as(
            output_expr(&o.expr, &plan.mask_salt),
            numbered(&OUTPUT_NAMES, 'c', i),
        );
    }
    if let Some(k) = &plan.keyset {
        for (j, (column, _)) in k.columns.iter().enumerate() {
            q.expr_as(text(col(OUTER, column)), numbered(&KEY_NAMES, 'k', j));
        }
    }
    q.from_as(table_ref(&plan.table), OUTER);
    if let Some(c) = &plan.condition {
        q.cond_where(condition(c, OUTER));
    }
    if let Some(values) = plan.keyset.as_ref().and_then(|k| k.after.as_ref()) {
        q.cond_where(after(
            &plan
                .keyset
                .as_ref()
                .map(|k| k.columns.clone())
                .unwrap_or_default(),
            values,
        ));
    }
    for g in &plan.group {
        q.add_group_by([col(OUTER, g)]);
    }
    order_by(&mut q, OUTER, &plan.order);
    q.limit(plan.limit.saturating_add(1));
    if plan.offset > 0 {
        q.offset(plan.offset);
    }
    q
}

/// `SELECT COUNT(*)` with the read's condition (no paging).
#[must_use]
pub fn count(table: &TableTarget, cond: Option<&Cond>) -> SelectStatement {
    let mut q = Query::select();
    q.expr(Func::count(Expr::cust("*")))
        .from_as(table_ref(table), OUTER);
    if let Some(c) = cond {
        q.cond_where(condition(c, OUTER));
    }
    q
}

/// `CAST(NULL AS "schema"."type")`.
fn typed_null(type_schema: &str, type_name: &str) -> Expr {
    Func::cast_as_quoted(
        Expr::cust("NULL"),
        (
            Alias::new(type_schema.to_owned()),
            Alias::new(type_name.to_owned()),
        ),
    )
    .into()
}

fn write_value(v: &WriteValue) -> Expr {
    match v {
        WriteValue::Null {
            type_schema,
            type_name,
        } => typed_null(type_schema, type_name),
        WriteValue::Text(b) => bound(b),
        WriteValue::Base64(text) => Func::cust("decode")
            .arg(Expr::val(text.clone()))
            .arg(Expr::val("base64"))
            .into(),
    }
}

/// What a written row returns: each output's JSON text, then (for inserts and updates) whether
/// the new row passes the role's row filter.
fn returning(plan: &WritePlan, with_check: bool) -> ReturningClause {
    Query::returning().exprs(returning_exprs(plan, with_check))
}

fn returning_exprs(plan: &WritePlan, with_check: bool) -> Vec<Expr> {
    let alias = plan.table.name.as_str();
    let mut exprs: Vec<Expr> = plan
        .returning
        .iter()
        .map(|o| match &o.expr {
            OutExpr::Column(c) => column_json(alias, c, &plan.mask_salt),
            _ => Expr::cust("NULL"),
        })
        .collect();
    if with_check {
        exprs.push(
            plan.check
                .as_ref()
                .map_or_else(|| Expr::cust("TRUE"), |c| Expr::from(condition(c, alias))),
        );
    }
    exprs
}

/// The statement of one write operation. Columns are qualified by the table's own name,
/// which PostgreSQL accepts in `UPDATE`, `DELETE` and `RETURNING`.
#[must_use]
pub fn write(plan: &WritePlan, op: &WriteOp) -> WriteStatement {
    let target = table_ref(&plan.table);
    let alias = plan.table.name.as_str();
    match op {
        WriteOp::Insert { values, nested } => {
            let mut q = insert(target, values);
            let mut exprs = returning_exprs(plan, true);
            exprs.extend(nested.record_columns().iter().map(|c| text(col(alias, c))));
            q.returning(Query::returning().exprs(exprs));
            WriteStatement::Insert(q)
        }
        WriteOp::Update {
            values,
            target: cond,
            nested,
            ..
        } => {
            let mut exprs = returning_exprs(plan, true);
            exprs.extend(nested.record_columns().iter().map(|c| text(col(alias, c))));
            if values.is_empty() {
                // Only related records change: the record is read (and locked) for its key.
                let mut q = Query::select();
                q.exprs(exprs)
                    .from(target)
                    .cond_where(condition(cond, alias))
                    .lock(sea_query::LockType::Update);
                return WriteStatement::Select(q);
            }
            let mut q = Query::update();
            q.table(target);
            for (c, v) in values {
                q.value(Alias::new(c.clone()), write_value(v));
            }
            q.cond_where(condition(cond, alias));
            q.returning(Query::returning().exprs(exprs));
            WriteStatement::Update(q)
        }
        WriteOp::Upsert {
            insert,
            keys,
            update,
            target: cond,
            ..
        } => {
            let mut q = Query::insert();
            q.into_table(target);
            q.columns(insert.iter().map(|(c, _)| Alias::new(c.clone())));
            let _ = q.values(insert.iter().map(|(_, v)| write_value(v)));
            let mut on_conflict = OnConflict::columns(keys.iter().map(|k| Alias::new(k.clone())));
            on_conflict.values(
                update
                    .iter()
                    .map(|(c, v)| (Alias::new(c.clone()), write_value(v))),
            );
            if let Some(c) = cond {
                on_conflict.action_and_where(Expr::from(condition(c, alias)));
            }
            q.on_conflict(on_conflict);
            q.returning(returning(plan, true));
            WriteStatement::Insert(q)
        }
        WriteOp::Delete { target: cond, .. } => {
            let mut q = Query::delete();
            q.from_table(target);
            q.cond_where(condition(cond, alias));
            q.returning(returning(plan, false));
            WriteStatement::Delete(q)
        }
    }
}

/// `INSERT` of values (default values when there are none).
fn insert(target: (Alias, Alias), values: &[(String, WriteValue)]) -> InsertStatement {
    let mut q = Query::insert();
    q.into_table(target);
    if values.is_empty() {
        q.or_default_values();
    } else {
        q.columns(values.iter().map(|(c, _)| Alias::new(c.clone())));
        // Column and value counts match by construction.
        let _ = q.values(values.iter().map(|(_, v)| write_value(v)));
    }
    q
}

/// The statement of a nested step, with `linked` the values its links took from other rows.
/// It returns whether the row passes the step's check, then the text of `returns`.
#[must_use]
pub fn step(step: &Step, linked: &[(String, WriteValue)]) -> WriteStatement {
    let target = table_ref(&step.table);
    let alias = step.table.name.as_str();
    let mut exprs = vec![
        step.check
            .as_ref()
            .map_or_else(|| Expr::cust("TRUE"), |c| Expr::from(condition(c, alias))),
    ];
    exprs.extend(step.returns.iter().map(|c| text(col(alias, c))));
    let with_links = |values: &[(String, WriteValue)]| -> Vec<(String, WriteValue)> {
        values.iter().chain(linked).cloned().collect()
    };
    match &step.action {
        StepAction::Insert(values) => {
            let mut q = insert(target, &with_links(values));
            q.returning(Query::returning().exprs(exprs));
            WriteStatement::Insert(q)
        }
        StepAction::Link => {
            let mut q = insert(target, linked);
            q.on_conflict(OnConflict::new().do_nothing().to_owned());
            q.returning(Query::returning().exprs(exprs));
            WriteStatement::Insert(q)
        }
        StepAction::Update {
            values,
            target: cond,
            keyed,
            ..
        } => {
            let mut q = Query::update();
            q.table(target);
            for (c, v) in with_links(values) {
                q.value(Alias::new(c), write_value(&v));
            }
            let mut matched = Condition::all().add(condition(cond, alias));
            for (c, v) in linked.iter().filter(|(c, _)| keyed.contains(c)) {
                matched = matched.add(col(alias, c).eq(write_value(v)));
            }
            q.cond_where(matched);
            q.returning(Query::returning().exprs(exprs));
            WriteStatement::Update(q)
        }
        StepAction::Find { target: cond, .. } => {
            let mut q = Query::select();
            q.exprs(exprs)
                .from(target)
                .cond_where(condition(cond, alias));
            WriteStatement::Select(q)
        }
    }
}

/// A rendered write.
#[derive(Debug, Clone)]
pub enum WriteStatement {
    Insert(InsertStatement),
    Update(UpdateStatement),
    Delete(DeleteStatement),
    Select(SelectStatement),
}

impl WriteStatement {
    /// The statement for the driver.
    #[must_use]
    pub fn statement(&self) -> crate::statement::Statement {
        match self {
            Self::Insert(q) => crate::statement::Statement::postgres(q),
            Self::Update(q) => crate::statement::Statement::postgres(q),
            Self::Delete(q) => crate::statement::Statement::postgres(q),
            Self::Select(q) => crate::statement::Statement::postgres(q),
        }
    }
}

/// The statement of a call. The function is named unqualified: the call runs with its schema
/// as the only `search_path` (see `exec::call`). Procedures render as `SELECT proc(…)`, which
/// `exec::call` sends as `CALL proc(…)`.
#[must_use]
pub fn call(plan: &CallPlan) -> SelectStatement {
    let args: Vec<Expr> = plan
        .args
        .iter()
        .map(|a| match a {
            CallArg::Value(b) => bound(b),
            CallArg::Null {
                type_schema,
                type_name,
            } => typed_null(type_schema, type_name),
        })
        .collect();
    let call = Func::cust(Alias::new(plan.name.clone())).args(args);
    let mut q = Query::select();
    match plan.returns {
        Returns::Rows => {
            q.expr(text(to_json(Expr::col(ROUTINE_ROW))))
                .from_function(call, ROUTINE_ROW);
        }
        Returns::Scalar => {
            q.expr(text(to_json(call)));
        }
        Returns::Nothing | Returns::OutArgs => {
            q.expr(call);
        }
    }
    q
}

/// The alias of a routine's rows (unlikely to collide with a column of its result).
const ROUTINE_ROW: &str = "_rampart_row";

#[cfg(test)]
mod tests {
    use sea_query::PostgresQueryBuilder;

    use super::*;
    use crate::query::plan::{Output, TextForm};

    fn target(name: &str) -> TableTarget {
        TableTarget {
            schema: "public".into(),
            name: name.into(),
        }
    }

    fn int(v: &str) -> Bound {
        Bound {
            text: v.into(),
            type_schema: "pg_catalog".into(),
            type_name: "int4".into(),
            value_type: ValueType::Integer,
        }
    }

    fn plan() -> ReadPlan {
        ReadPlan {
            table: target("orders"),
            output: vec![
                Output {
                    key: "id".into(),
                    expr: OutExpr::Column(ColumnOut {
                        column: "id".into(),
                        encoding: Encoding::Bare,
                        mask: None,
                    }),
                },
                Output {
                    key: "blob".into(),
                    expr: OutExpr::Column(ColumnOut {
                        column: "blob".into(),
                        encoding: Encoding::Base64,
                        mask: None,
                    }),
                },
            ],
            condition: Some(Cond::And(vec![
                Cond::Compare {
                    column: "status".into(),
                    op: CompareOp::Eq,
                    value: Bound {
                        text: "shipped".into(),
                        type_schema: "public".into(),
                        type_name: "order_status".into(),
                        value_type: ValueType::Enum,
                    },
                },
                Cond::Compare {
                    column: "total".into(),
                    op: CompareOp::Gt,
                    value: int("100"),
                },
            ])),
            order: vec![OrderBy {
                column: "id".into(),
                descending: false,
                nulls: None,
            }],
            group: vec![],
            limit: 25,
            offset: 0,
            keyset: None,
            is_list: true,
            pipelined: false,
            mask_salt: "salt".into(),
        }
    }

    #[test]
    fn a_read_binds_every_value_and_quotes_every_identifier() {
        let s = statement::Statement::postgres(&read(&plan()));
        assert_eq!(
            s.sql(),
            r#"SELECT CAST("_t"."id" AS text) AS "c0", encode("_t"."blob", $1) AS "c1" FROM "public"."orders" AS "_t" WHERE "_t"."status" = CAST($2 AS "public"."order_status") AND "_t"."total" > $3 ORDER BY "_t"."id" ASC LIMIT 26"#
        );
        // The enum's text is read by PostgreSQL in the cast's type; the integer is sent as one.
        let values = s.values();
        assert_eq!(values.len(), 3);
        assert!(matches!(&values[1], Value::Enum(_)), "{:?}", values[1]);
        assert_eq!(values[2], Value::Int(Some(100)));
    }

    #[test]
    fn values_rust_cannot_read_as_postgresql_would_are_cast_by_postgresql() {
        let value = |b: Bound| {
            let mut q = Query::select();
            q.expr(bound(&b));
            let s = statement::Statement::postgres(&q);
            (s.sql().to_owned(), s.values().to_vec())
        };
        // Out of range, blanks, words: PostgreSQL reads them (and says what is wrong).
        for text in ["99999999999", " 7", "1_000", "0x10"] {
            let (sql, values) = value(int(text));
            assert_eq!(sql, r#"SELECT CAST($1 AS "pg_catalog"."int4")"#, "{text}");
            assert_eq!(values, vec![Value::String(Some(text.into()))]);
        }
        let typed = |name: &str, text: &str| Bound {
            text: text.into(),
            type_schema: "pg_catalog".into(),
            type_name: name.into(),
            value_type: ValueType::Other,
        };
        for (name, text) in [
            ("float8", "1e400"),
            ("float8", "1e-400"),
            ("float8", "Infinity"),
            ("numeric", "1e3"),
            ("numeric", "NaN"),
            ("bool", "maybe"),
            ("uuid", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"),
            ("timestamptz", "2026-01-01"),
            ("timestamptz", "2026-01-01 10:00:00.1234567Z"),
            ("timestamp", "2026-01-01T10:00:00Z"),
            ("timestamptz", "2026-01-01T10:00:00+16:00"),
            ("timestamp", "2026-01-01 24:00:00"),
            ("timestamp", "2026-01-01 10:00:60"),
            ("date", "0000-01-01"),
            ("date", "2026-1-1"),
            ("date", "2026"),
            ("date", "20260101"),
        ] {
            assert!(
                value(typed(name, text)).0.starts_with("SELECT CAST($1"),
                "{name} {text}"
            );
        }
        for (name, text, expected) in [
            ("float8", "2.5e3", Value::Double(Some(2500.0))),
            ("float4", "-0.5", Value::Float(Some(-0.5))),
            ("float8", "0e7", Value::Double(Some(0.0))),
            ("bool", "Yes", Value::Bool(Some(true))),
            (
                "int8",
                "-9223372036854775808",
                Value::BigInt(Some(i64::MIN)),
            ),
        ] {
            assert_eq!(
                value(typed(name, text)),
                ("SELECT $1".to_owned(), vec![expected])
            );
        }
        assert_eq!(value(typed("numeric", "-12.50")).0, "SELECT $1");
        for (name, text) in [
            ("date", "2026-03-01"),
            ("timestamp", "2026-03-01 10:00:00.5"),
            ("timestamp", "2026-03-01T10:00:00"),
            ("timestamptz", "2026-03-01T10:00:00+02:00"),
            ("timestamptz", "2026-03-01 10:00:00.123456Z"),
        ] {
            assert_eq!(value(typed(name, text)).0, "SELECT $1", "{name} {text}");
        }
        assert_eq!(
            value(typed("uuid", "a0eebc999c0b4ef8bb6d6bb9bd380a11")).0,
            "SELECT $1"
        );
    }

    #[test]
    fn hostile_identifiers_from_a_model_are_quoted_not_executed() {
        let mut p = plan();
        p.table = target("orders\"; DROP TABLE x; --");
        let (sql, _) = read(&p).build(PostgresQueryBuilder);
        assert!(
            sql.contains(r#"FROM "public"."orders""; DROP TABLE x; --" AS "_t""#),
            "{sql}"
        );
    }

    #[test]
    fn related_records_are_built_by_postgres_as_json() {
        let mut p = plan();
        p.condition = None;
        p.output.push(Output {
            key: "customers_by_customer_id".into(),
            expr: OutExpr::Related(Box::new(RelatedSelect {
                table: target("customers"),
                columns: vec![ColumnOut {
                    column: "id".into(),
                    encoding: Encoding::Json,
                    mask: None,
                }],
                join: Join::Direct(vec![("customer_id".into(), "id".into())]),
                many: false,
                order: vec![],
                limit: Some(1),
                condition: None,
            })),
        });
        let (sql, _) = read(&p).build(PostgresQueryBuilder);
        assert!(
            sql.contains(r#"CAST((SELECT row_to_json("_c".*) FROM (SELECT "_r"."id" AS "id" FROM "public"."customers" AS "_r" WHERE "_r"."id" = "_t"."customer_id" LIMIT $2) AS "_c") AS text) AS "c2""#),
            "{sql}"
        );
    }

    #[test]
    fn keyset_continues_strictly_after_the_cursor() {
        let mut p = plan();
        p.condition = None;
        p.keyset = Some(crate::query::plan::Keyset {
            columns: vec![("total".into(), true), ("id".into(), false)],
            after: Some(vec![int("5"), int("9")]),
        });
        let (sql, _) = read(&p).build(PostgresQueryBuilder);
        assert!(
            sql.contains(r#"WHERE "_t"."total" < $2 OR ("_t"."total" = $3 AND "_t"."id" > $4)"#),
            "{sql}"
        );
    }

    #[test]
    fn masked_columns_are_masked_by_postgres_and_never_selected_in_clear() {
        let mut p = plan();
        p.condition = None;
        p.output = vec![Output {
            key: "ssn".into(),
            expr: OutExpr::Column(ColumnOut {
                column: "ssn".into(),
                encoding: Encoding::Json,
                mask: Some(Mask::Last4),
            }),
        }];
        let (sql, values) = read(&p).build(PostgresQueryBuilder);
        assert!(
            sql.starts_with(r#"SELECT $1 || right(CAST("_t"."ssn" AS text), $2) AS "c0""#),
            "{sql}"
        );
        assert_eq!(values.0.len(), 3);
        p.output[0].expr = OutExpr::Column(ColumnOut {
            column: "ssn".into(),
            encoding: Encoding::Json,
            mask: Some(Mask::Hash),
        });
        let (sql, _) = read(&p).build(PostgresQueryBuilder);
        assert!(
            sql.contains(r#"encode(sha256(convert_to($1 || CAST("_t"."ssn" AS text), $2)), $3)"#),
            "{sql}"
        );
        // A masked integer is text now: Rampart quotes it.
        let pin = ColumnOut {
            column: "pin".into(),
            encoding: Encoding::Bare,
            mask: Some(Mask::Full),
        };
        assert_eq!(pin.text_form(), TextForm::Quoted);
        p.output[0].expr = OutExpr::Column(pin);
        let (sql, _) = read(&p).build(PostgresQueryBuilder);
        assert!(sql.starts_with("SELECT $1 || left("), "{sql}");
    }
}
