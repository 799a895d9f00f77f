//! Row filters (RBAC level 5): an access row's `filters` — DreamFactory's list form
//! `[{"name","operator","value"}]` with `filter_op`, or a string in the filter language — as a
//! filter AST. Lookups (`{user.id}`) stay in the AST and are bound as parameters when planned.

use serde_json::Value;

use crate::filter::{self, Expr, ListFilter, LogicalOp};

/// Compiles stored `filters` JSON text; `Ok(None)` when there is no filter.
pub fn compile(filters: &Value, filter_op: &str) -> Result<Option<Expr>, String> {
    match filters {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => filter::parse(s, &filter::Limits::default())
            .map(Some)
            .map_err(|e| e.to_string()),
        Value::Array(items) if items.is_empty() => Ok(None),
        Value::Array(_) => {
            let list: Vec<ListFilter> =
                serde_json::from_value(filters.clone()).map_err(|e| e.to_string())?;
            let op = if filter_op.eq_ignore_ascii_case("OR") {
                LogicalOp::Or
            } else {
                LogicalOp::And
            };
            filter::from_dreamfactory_list(&list, op)
                .map(Some)
                .map_err(|e| e.to_string())
        }
        _ => Err("filters must be a list of {name, operator, value} or a filter string".into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn both_forms_compile_and_empty_means_no_filter() {
        assert!(compile(&json!([]), "AND").unwrap().is_none());
        assert!(compile(&json!(""), "AND").unwrap().is_none());
        let list = compile(&json!([{"name": "tenant_id", "operator": "=", "value": "{user.claims.tenant_id}"}, {"name": "x", "operator": ">", "value": 1}]), "OR").unwrap().unwrap();
        assert!(matches!(list, Expr::Or(_)));
        let text = compile(&json!("tenant_id = {tenant} AND deleted IS NULL"), "AND")
            .unwrap()
            .unwrap();
        assert!(matches!(text, Expr::And(_)));
    }

    #[test]
    fn a_broken_filter_is_an_error() {
        assert!(compile(&json!("a = 1) OR (1 = 1"), "AND").is_err());
        assert!(compile(&json!({"a": 1}), "AND").is_err());
    }
}
