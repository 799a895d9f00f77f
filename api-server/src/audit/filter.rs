//! The filter language over audit fields, as a sea-query condition: field names are checked
//! against the audit columns, every value is a bind parameter, `time` takes RFC 3339.

use sea_query::{Condition, Expr, ExprTrait, Func, LikeExpr, SimpleExpr};

use crate::filter::ast::{CompareOp, Expr as F, Field, Literal, MatchOp, Operand};
use crate::system::audit::AuditEvents as C;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Time,
}

/// The audit fields a filter may name.
pub const FIELDS: &[&str] = &[
    "id",
    "time",
    "request_id",
    "kind",
    "transport",
    "tool",
    "principal",
    "user_id",
    "email",
    "provider",
    "app_id",
    "role_id",
    "client",
    "method",
    "service",
    "resource",
    "params",
    "status",
    "error_code",
    "rows",
    "latency_us",
];

fn column(f: &Field) -> Result<(C, Kind), String> {
    use Kind::{Integer, Text, Time};
    Ok(match f.name.as_str() {
        "id" => (C::Id, Integer),
        "time" => (C::Ts, Time),
        "request_id" => (C::RequestId, Text),
        "kind" => (C::Kind, Text),
        "transport" => (C::Transport, Text),
        "tool" => (C::Tool, Text),
        "principal" => (C::Principal, Text),
        "user_id" => (C::UserId, Integer),
        "email" => (C::Email, Text),
        "provider" => (C::Provider, Text),
        "app_id" => (C::AppId, Integer),
        "role_id" => (C::RoleId, Integer),
        "client" => (C::Client, Text),
        "method" => (C::Method, Text),
        "service" => (C::Service, Text),
        "resource" => (C::Resource, Text),
        "params" => (C::Params, Text),
        "status" => (C::Status, Integer),
        "error_code" => (C::ErrorCode, Text),
        "rows" => (C::RowsCount, Integer),
        "latency_us" => (C::LatencyUs, Integer),
        other => {
            return Err(format!(
                "Unknown audit field '{other}'; use one of: {}.",
                FIELDS.join(", ")
            ));
        }
    })
}

fn value(field: &Field, kind: Kind, op: &Operand) -> Result<SimpleExpr, String> {
    let Operand::Literal(lit) = op else {
        return Err(format!(
            "'{}' takes a literal value here (no placeholders or lookups).",
            field.name
        ));
    };
    let bad = |what: &str| format!("'{}' takes {what}, not {lit}.", field.name);
    Ok(match (kind, lit) {
        (Kind::Text, Literal::String(s) | Literal::Number(s)) => s.clone().into(),
        (Kind::Integer, Literal::Number(n) | Literal::String(n)) => {
            n.parse::<i64>().map_err(|_| bad("a whole number"))?.into()
        }
        (Kind::Time, Literal::String(t)) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|_| bad("an RFC 3339 time such as '2026-12-03T08:00:00Z'"))?
            .timestamp_micros()
            .into(),
        (Kind::Time, Literal::Number(n)) => n
            .parse::<i64>()
            .map_err(|_| bad("an RFC 3339 time"))?
            .into(),
        (_, Literal::Bool(_) | Literal::Null) => return Err(bad("a value")),
    })
}

fn escaped(s: &str) -> String {
    s.chars().fold(String::new(), |mut out, c| {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

fn text_of(field: &Field, op: &Operand) -> Result<String, String> {
    match op {
        Operand::Literal(Literal::String(s) | Literal::Number(s)) => Ok(s.clone()),
        _ => Err(format!("'{}' takes a string to match.", field.name)),
    }
}

/// The condition for a parsed filter.
pub fn condition(expr: &F) -> Result<Condition, String> {
    Ok(match expr {
        F::And(list) => list.iter().try_fold(Condition::all(), |c, e| {
            Ok::<_, String>(c.add(condition(e)?))
        })?,
        F::Or(list) => list.iter().try_fold(Condition::any(), |c, e| {
            Ok::<_, String>(c.add(condition(e)?))
        })?,
        F::Not(inner) => condition(inner)?.not(),
        F::Compare {
            field,
            op,
            value: v,
        } => {
            let (col, kind) = column(field)?;
            let v = value(field, kind, v)?;
            let c = Expr::col(col);
            Condition::all().add(match op {
                CompareOp::Eq => c.eq(v),
                CompareOp::Ne => c.ne(v),
                CompareOp::Gt => c.gt(v),
                CompareOp::Ge => c.gte(v),
                CompareOp::Lt => c.lt(v),
                CompareOp::Le => c.lte(v),
            })
        }
        F::Match {
            field,
            op,
            negated,
            value: v,
        } => {
            let (col, kind) = column(field)?;
            if kind != Kind::Text {
                return Err(format!("'{}' is not text: compare it instead.", field.name));
            }
            let text = text_of(field, v)?;
            let (pattern, lower) = match op {
                MatchOp::Like => (text, false),
                MatchOp::ILike => (text, true),
                MatchOp::Contains => (format!("%{}%", escaped(&text)), false),
                MatchOp::StartsWith => (format!("{}%", escaped(&text)), false),
                MatchOp::EndsWith => (format!("%{}", escaped(&text)), false),
            };
            let like = if lower {
                SimpleExpr::from(Func::lower(Expr::col(col)))
                    .like(LikeExpr::new(pattern.to_lowercase()).escape('\\'))
            } else {
                Expr::col(col).like(LikeExpr::new(pattern).escape('\\'))
            };
            let c = Condition::all().add(like);
            if *negated { c.not() } else { c }
        }
        F::In {
            field,
            negated,
            values,
        } => {
            let (col, kind) = column(field)?;
            let vs = values
                .iter()
                .map(|v| value(field, kind, v))
                .collect::<Result<Vec<_>, _>>()?;
            Condition::all().add(if *negated {
                Expr::col(col).is_not_in(vs)
            } else {
                Expr::col(col).is_in(vs)
            })
        }
        F::Between {
            field,
            negated,
            low,
            high,
        } => {
            let (col, kind) = column(field)?;
            let (lo, hi) = (value(field, kind, low)?, value(field, kind, high)?);
            Condition::all().add(if *negated {
                Expr::col(col).not_between(lo, hi)
            } else {
                Expr::col(col).between(lo, hi)
            })
        }
        F::IsNull { field, negated } => {
            let (col, _) = column(field)?;
            Condition::all().add(if *negated {
                Expr::col(col).is_not_null()
            } else {
                Expr::col(col).is_null()
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_query::{Query, SqliteQueryBuilder};

    fn sql(filter: &str) -> Result<String, String> {
        let expr = crate::filter::parse(filter, &crate::filter::Limits::default())
            .map_err(|e| e.to_string())?;
        let c = condition(&expr)?;
        Ok(Query::select()
            .column(C::Id)
            .from(C::Table)
            .cond_where(c)
            .to_string(SqliteQueryBuilder))
    }

    #[test]
    fn audit_fields_become_columns_and_values_stay_values() {
        let s = sql("status >= 400 and (kind = 'login_failed' or email contains '%x')").unwrap();
        assert!(s.contains(r#""status" >= 400"#), "{s}");
        assert!(s.contains(r#""kind" = 'login_failed'"#), "{s}");
        assert!(s.contains(r"LIKE '%\%x%' ESCAPE '\'"), "{s}");
        let t = sql("time > '2026-12-03T08:00:00Z' and rows is not null").unwrap();
        assert!(t.contains(r#""ts" > 1796284800000000"#), "{t}");
        assert!(t.contains(r#""rows_count" IS NOT NULL"#), "{t}");
    }

    #[test]
    fn unknown_fields_and_wrong_values_are_refused() {
        assert!(
            sql("password = 'x'")
                .unwrap_err()
                .contains("Unknown audit field")
        );
        assert!(sql("status = 'abc'").unwrap_err().contains("whole number"));
        assert!(sql("time > 'yesterday'").unwrap_err().contains("RFC 3339"));
        assert!(sql("email = {user.email}").unwrap_err().contains("literal"));
        assert!(sql("status like '4%'").unwrap_err().contains("not text"));
    }
}
