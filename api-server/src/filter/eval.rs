//! Evaluates a filter against an in-memory JSON record: used for the system API's small
//! tables (roles, apps, services, admins), where no SQL is involved. Unknown fields are
//! errors, as they are for database tables.

use serde_json::Value;

use super::{CompareOp, Expr, Literal, MatchOp, Operand};

fn operand(op: &Operand) -> Result<Value, String> {
    match op {
        Operand::Literal(Literal::String(s)) => Ok(Value::String(s.clone())),
        Operand::Literal(Literal::Number(n)) => {
            Ok(serde_json::from_str(n).unwrap_or(Value::String(n.clone())))
        }
        Operand::Literal(Literal::Bool(b)) => Ok(Value::Bool(*b)),
        Operand::Literal(Literal::Null) => Ok(Value::Null),
        Operand::Placeholder(p) => Err(format!("placeholder ':{p}' is not supported here")),
        Operand::Lookup(l) => Err(format!("lookup '{{{l}}}' is not supported here")),
    }
}

fn field<'a>(record: &'a Value, name: &str) -> Result<&'a Value, String> {
    record
        .get(name)
        .ok_or_else(|| format!("Invalid or unparsable field in filter request: '{name}'"))
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::Number(x), Value::String(y)) => x.as_f64()?.partial_cmp(&y.parse::<f64>().ok()?),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, _) | (_, Value::Null) => None,
        _ => Some(as_text(a).cmp(&as_text(b))),
    }
}

fn like(text: &str, pattern: &str, ci: bool) -> bool {
    let (t, p): (Vec<char>, Vec<char>) = if ci {
        (
            text.to_lowercase().chars().collect(),
            pattern.to_lowercase().chars().collect(),
        )
    } else {
        (text.chars().collect(), pattern.chars().collect())
    };
    fn go(t: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(&t[i..], rest)),
            Some(('_', rest)) => !t.is_empty() && go(&t[1..], rest),
            Some(('\\', rest)) if !rest.is_empty() => {
                t.first() == Some(&rest[0]) && go(&t[1..], &rest[1..])
            }
            Some((c, rest)) => t.first() == Some(c) && go(&t[1..], rest),
        }
    }
    go(&t, &p)
}

/// Whether the record satisfies the filter.
pub fn matches(expr: &Expr, record: &Value) -> Result<bool, String> {
    Ok(match expr {
        Expr::And(items) => {
            for i in items {
                if !matches(i, record)? {
                    return Ok(false);
                }
            }
            true
        }
        Expr::Or(items) => {
            for i in items {
                if matches(i, record)? {
                    return Ok(true);
                }
            }
            false
        }
        Expr::Not(inner) => !matches(inner, record)?,
        Expr::Compare {
            field: f,
            op,
            value,
        } => {
            let ord = compare(field(record, &f.name)?, &operand(value)?);
            match (op, ord) {
                (_, None) => false,
                (CompareOp::Eq, Some(o)) => o.is_eq(),
                (CompareOp::Ne, Some(o)) => o.is_ne(),
                (CompareOp::Gt, Some(o)) => o.is_gt(),
                (CompareOp::Ge, Some(o)) => o.is_ge(),
                (CompareOp::Lt, Some(o)) => o.is_lt(),
                (CompareOp::Le, Some(o)) => o.is_le(),
            }
        }
        Expr::Match {
            field: f,
            op,
            negated,
            value,
        } => {
            let text = as_text(field(record, &f.name)?);
            let v = as_text(&operand(value)?);
            let hit = match op {
                MatchOp::Like => like(&text, &v, false),
                MatchOp::ILike => like(&text, &v, true),
                MatchOp::Contains => text.contains(&v),
                MatchOp::StartsWith => text.starts_with(&v),
                MatchOp::EndsWith => text.ends_with(&v),
            };
            hit != *negated
        }
        Expr::In {
            field: f,
            negated,
            values,
        } => {
            let v = field(record, &f.name)?;
            let mut hit = false;
            for candidate in values {
                if compare(v, &operand(candidate)?).is_some_and(std::cmp::Ordering::is_eq) {
                    hit = true;
                }
            }
            hit != *negated
        }
        Expr::Between {
            field: f,
            negated,
            low,
            high,
        } => {
            let v = field(record, &f.name)?;
            let inside = compare(v, &operand(low)?).is_some_and(std::cmp::Ordering::is_ge)
                && compare(v, &operand(high)?).is_some_and(std::cmp::Ordering::is_le);
            inside != *negated
        }
        Expr::IsNull { field: f, negated } => field(record, &f.name)?.is_null() != *negated,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::filter::{Limits, parse};

    fn check(filter: &str, record: &Value) -> bool {
        matches(&parse(filter, &Limits::default()).unwrap(), record).unwrap()
    }

    #[test]
    fn records_match_the_filter_language() {
        let r = json!({"id": 3, "name": "Sales Role", "is_active": true, "description": null});
        assert!(check("id = 3", &r));
        assert!(check("id > 2 AND name like 'Sales%'", &r));
        assert!(check("name contains 'les R'", &r));
        assert!(check("id in (1,3)", &r));
        assert!(check("description is null", &r));
        assert!(check("is_active = true", &r));
        assert!(!check("name ilike 'x%' OR id between 4 and 9", &r));
    }

    #[test]
    fn unknown_fields_are_errors() {
        let e = parse("secret = 1", &Limits::default()).unwrap();
        assert!(matches(&e, &json!({"id": 1})).is_err());
    }
}
