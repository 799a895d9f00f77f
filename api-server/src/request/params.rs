//! DreamFactory's read parameters, with their aliases, from the query string or the JSON
//! body (the query string wins). Names stay unchecked strings here; the planner resolves them
//! through the caller's permit.

use std::collections::HashMap;

use serde_json::Value;

use super::{ParseLimits, RequestError};
use crate::filter::{self, Expr};

/// `fields` entries: a column, or an aggregate (`SUM(total)`, `COUNT(*)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSelector {
    Column(String),
    Aggregate(Aggregate, Option<String>),
}

/// Aggregate functions allowed in `fields`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl Aggregate {
    /// DreamFactory's alias prefix (`SUM_total`, `COUNT_ALL`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Count => "COUNT",
            Self::Sum => "SUM",
            Self::Avg => "AVG",
            Self::Min => "MIN",
            Self::Max => "MAX",
        }
    }
}

/// `NULLS FIRST` / `NULLS LAST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    First,
    Last,
}

/// One `order` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub field: String,
    pub descending: bool,
    pub nulls: Option<Nulls>,
}

/// One `related` entry with its sub-options (`{rel}.fields`, `{rel}.limit`, `{rel}.order`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedRequest {
    /// A relationship name, or `*` for all.
    pub name: String,
    pub fields: Option<Vec<String>>,
    pub limit: Option<u64>,
    pub order: Vec<OrderItem>,
}

/// Parameters of a read (and, later, of writes).
#[derive(Debug, Clone, Default)]
pub struct ReadParams {
    /// `None` means every visible field (`*`) on reads, the key on writes.
    pub fields: Option<Vec<FieldSelector>>,
    /// `fields=*` was sent (on writes: return every visible field).
    pub fields_star: bool,
    pub ids: Option<Vec<String>>,
    pub id_field: Option<Vec<String>>,
    pub filter: Option<Expr>,
    /// Values for `:name` placeholders, keyed without the colon.
    pub params: HashMap<String, Value>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub order: Vec<OrderItem>,
    pub group: Vec<String>,
    pub include_count: bool,
    pub count_only: bool,
    pub include_schema: bool,
    pub as_list: bool,
    pub refresh: bool,
    pub related: Vec<RelatedRequest>,
    pub cursor: Option<String>,
    /// Batch writes: keep going after a failed record.
    pub continue_on_error: bool,
    /// Batch writes: all or nothing.
    pub rollback: bool,
    /// DELETE without ids, filter or records: every record the role reaches.
    pub force: bool,
    /// Writes: refuse (and undo) the request when it would change more records than this.
    pub max_affected: Option<u64>,
    /// The parameters read from the JSON body (not the query string), by the name sent: the
    /// audit trail records them with the query string's.
    pub from_body: Vec<(String, Value)>,
}

/// Looks a parameter up by any of its names: query string first, then the JSON body
/// (noting what it took from there).
struct Source<'a> {
    query: &'a [(String, String)],
    body: Option<&'a serde_json::Map<String, Value>>,
    from_body: std::cell::RefCell<Vec<(String, Value)>>,
}

impl Source<'_> {
    fn get(&self, names: &[&str]) -> Option<Value> {
        for name in names {
            if let Some((_, v)) = self.query.iter().find(|(k, _)| k == name) {
                return Some(Value::String(v.clone()));
            }
        }
        let body = self.body?;
        let (name, value) = names.iter().find_map(|n| body.get_key_value(*n))?;
        self.from_body
            .borrow_mut()
            .push((name.clone(), value.clone()));
        Some(value.clone())
    }
}

fn bad(name: &str, message: impl Into<String>) -> RequestError {
    RequestError::Param {
        name: name.to_owned(),
        message: message.into(),
    }
}

fn as_text(name: &str, v: &Value) -> Result<String, RequestError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(bad(name, "expected a string")),
    }
}

fn as_bool(name: &str, v: Option<Value>) -> Result<bool, RequestError> {
    match v {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(Value::Number(n)) => Ok(n.as_i64() != Some(0)),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "" | "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(bad(name, "expected true or false")),
        },
        Some(_) => Err(bad(name, "expected true or false")),
    }
}

fn as_u64(name: &str, v: Option<Value>) -> Result<Option<u64>, RequestError> {
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(name, "expected a non-negative integer")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| bad(name, "expected a non-negative integer")),
        Some(_) => Err(bad(name, "expected a non-negative integer")),
    }
}

/// A CSV string or a JSON array of strings/numbers; empty entries dropped.
fn as_list(name: &str, v: Option<Value>, max: usize) -> Result<Option<Vec<String>>, RequestError> {
    let items: Vec<String> = match v {
        None => return Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| as_text(name, i))
            .collect::<Result<_, _>>()?,
        Some(other) => as_text(name, &other)?
            .split(',')
            .map(|s| s.trim().to_owned())
            .collect(),
    };
    let items: Vec<String> = items.into_iter().filter(|s| !s.is_empty()).collect();
    if items.len() > max {
        return Err(bad(name, format!("at most {max} entries are allowed")));
    }
    Ok(Some(items))
}

/// `SUM(total)` → aggregate; `name` → column. Anything else with parentheses is refused.
fn parse_field(raw: &str) -> Result<FieldSelector, RequestError> {
    let Some(open) = raw.find('(') else {
        return Ok(FieldSelector::Column(raw.to_owned()));
    };
    let func = raw[..open].trim().to_ascii_uppercase();
    let inner = raw[open + 1..]
        .strip_suffix(')')
        .ok_or_else(|| bad("fields", format!("'{raw}' is not a field or an aggregate")))?
        .trim();
    let agg = match func.as_str() {
        "COUNT" => Aggregate::Count,
        "SUM" => Aggregate::Sum,
        "AVG" => Aggregate::Avg,
        "MIN" => Aggregate::Min,
        "MAX" => Aggregate::Max,
        _ => {
            return Err(bad(
                "fields",
                format!("'{func}' is not an allowed aggregate (COUNT, SUM, AVG, MIN, MAX)"),
            ));
        }
    };
    let field = match inner {
        "*" if agg == Aggregate::Count => None,
        "" | "*" => return Err(bad("fields", format!("{func} needs a field"))),
        f => Some(f.to_owned()),
    };
    Ok(FieldSelector::Aggregate(agg, field))
}

/// `a desc nulls last, b` → order items.
pub fn parse_order(name: &str, text: &str) -> Result<Vec<OrderItem>, RequestError> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let words: Vec<&str> = part.split_whitespace().collect();
        let field = words[0].to_owned();
        let rest: Vec<String> = words[1..].iter().map(|w| w.to_ascii_lowercase()).collect();
        let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
        let (descending, tail) = match rest.as_slice() {
            ["asc", tail @ ..] => (false, tail),
            ["desc", tail @ ..] => (true, tail),
            tail => (false, tail),
        };
        let nulls = match tail {
            [] => None,
            ["nulls", "first"] => Some(Nulls::First),
            ["nulls", "last"] => Some(Nulls::Last),
            _ => {
                return Err(bad(
                    name,
                    format!("'{part}' is not `field [asc|desc] [nulls first|last]`"),
                ));
            }
        };
        out.push(OrderItem {
            field,
            descending,
            nulls,
        });
    }
    Ok(out)
}

impl ReadParams {
    /// Parses the parameters from the query string and body.
    pub fn parse(
        query: &[(String, String)],
        body: Option<&Value>,
        limits: &ParseLimits,
    ) -> Result<Self, RequestError> {
        let src = Source {
            query,
            body: body.and_then(Value::as_object),
            from_body: std::cell::RefCell::default(),
        };
        let raw_fields = as_list("fields", src.get(&["fields", "select"]), limits.max_list)?;
        let fields_star = raw_fields
            .as_ref()
            .is_some_and(|l| l.iter().any(|f| f == "*"));
        let fields = match raw_fields {
            Some(list) if list.iter().any(|f| f == "*") => None,
            Some(list) => Some(
                list.iter()
                    .map(|f| parse_field(f))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let filter = match src.get(&["filter", "where"]) {
            None => None,
            Some(v) => {
                let text = as_text("filter", &v)?;
                if text.trim().is_empty() {
                    None
                } else {
                    Some(filter::parse(&text, &limits.filter)?)
                }
            }
        };
        let params = match src.get(&["params"]) {
            None => HashMap::new(),
            Some(Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| (k.trim_start_matches(':').to_owned(), v))
                .collect(),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Object(map)) => map
                    .into_iter()
                    .map(|(k, v)| (k.trim_start_matches(':').to_owned(), v))
                    .collect(),
                _ => {
                    return Err(bad(
                        "params",
                        "expected a JSON object such as {\":status\":\"shipped\"}",
                    ));
                }
            },
            // DreamFactory's routine form `[{"name","value"}]` is read by the routine planner.
            Some(Value::Array(_)) => HashMap::new(),
            Some(_) => return Err(bad("params", "expected a JSON object")),
        };
        let order = match src.get(&["order", "sort", "order_by"]) {
            None => Vec::new(),
            Some(v) => parse_order("order", &as_text("order", &v)?)?,
        };
        let group =
            as_list("group", src.get(&["group", "group_by"]), limits.max_list)?.unwrap_or_default();
        let related = parse_related(&src, limits)?;
        let cursor = src
            .get(&["cursor"])
            .map(|v| as_text("cursor", &v))
            .transpose()?;
        Ok(Self {
            fields,
            fields_star,
            ids: as_list("ids", src.get(&["ids"]), limits.max_list)?,
            id_field: as_list("id_field", src.get(&["id_field"]), 16)?,
            filter,
            params,
            limit: as_u64("limit", src.get(&["limit", "top"]))?,
            offset: as_u64("offset", src.get(&["offset", "skip"]))?,
            order,
            group,
            include_count: as_bool("include_count", src.get(&["include_count"]))?,
            count_only: as_bool("count_only", src.get(&["count_only"]))?,
            include_schema: as_bool("include_schema", src.get(&["include_schema"]))?,
            as_list: as_bool("as_list", src.get(&["as_list"]))?,
            refresh: as_bool("refresh", src.get(&["refresh"]))?,
            related,
            cursor,
            continue_on_error: as_bool("continue", src.get(&["continue"]))?,
            rollback: as_bool("rollback", src.get(&["rollback"]))?,
            // From the query string only: a body key `force` is a field like any other.
            max_affected: match src.query.iter().find(|(k, _)| k == "max_affected") {
                None => None,
                Some((_, v)) => Some(
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| bad("max_affected", "expected a whole number of records"))?,
                ),
            },
            force: as_bool(
                "force",
                src.query
                    .iter()
                    .find(|(k, _)| k == "force")
                    .map(|(_, v)| Value::String(v.clone())),
            )?,
            from_body: src.from_body.take(),
        })
    }
}

fn parse_related(
    src: &Source<'_>,
    limits: &ParseLimits,
) -> Result<Vec<RelatedRequest>, RequestError> {
    let Some(names) = as_list("related", src.get(&["related"]), 64)? else {
        return Ok(Vec::new());
    };
    names
        .into_iter()
        .map(|name| {
            // `{rel}.fields` and PHP's mangled `{rel}_fields` are both accepted.
            let key = |opt: &str| [format!("{name}.{opt}"), format!("{name}_{opt}")];
            let [a, b] = key("fields");
            let fields = as_list(&a, src.get(&[&a, &b]), limits.max_list)?;
            let [a, b] = key("limit");
            let limit = as_u64(&a, src.get(&[&a, &b]))?;
            let [a, b] = key("order");
            let order = match src.get(&[&a, &b]) {
                None => Vec::new(),
                Some(v) => parse_order(&a, &as_text(&a, &v)?)?,
            };
            Ok(RelatedRequest {
                name,
                fields: fields.filter(|f| !f.iter().any(|x| x == "*")),
                limit,
                order,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<ReadParams, RequestError> {
        let q: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        ReadParams::parse(
            &q,
            None,
            &ParseLimits {
                filter: filter::Limits::default(),
                max_list: 5,
            },
        )
    }

    #[test]
    fn aliases_are_accepted() {
        let p = parse(&[
            ("select", "a,b"),
            ("top", "5"),
            ("skip", "10"),
            ("sort", "a desc"),
            ("where", "a = 1"),
        ])
        .unwrap();
        assert_eq!(
            p.fields,
            Some(vec![
                FieldSelector::Column("a".into()),
                FieldSelector::Column("b".into())
            ])
        );
        assert_eq!((p.limit, p.offset), (Some(5), Some(10)));
        assert_eq!(
            p.order,
            vec![OrderItem {
                field: "a".into(),
                descending: true,
                nulls: None
            }]
        );
        assert!(p.filter.is_some());
    }

    #[test]
    fn order_takes_directions_and_nulls_placement() {
        let items = parse_order("order", "a desc nulls last, b NULLS FIRST, c asc").unwrap();
        assert_eq!(
            items[0],
            OrderItem {
                field: "a".into(),
                descending: true,
                nulls: Some(Nulls::Last)
            }
        );
        assert_eq!(
            items[1],
            OrderItem {
                field: "b".into(),
                descending: false,
                nulls: Some(Nulls::First)
            }
        );
        assert!(parse_order("order", "a; drop table x").is_err());
        assert!(parse_order("order", "a desc, b sideways").is_err());
    }

    #[test]
    fn aggregates_parse_and_other_functions_are_refused() {
        let p = parse(&[("fields", "status,SUM(total),COUNT(*)")]).unwrap();
        assert_eq!(
            p.fields.unwrap(),
            vec![
                FieldSelector::Column("status".into()),
                FieldSelector::Aggregate(Aggregate::Sum, Some("total".into())),
                FieldSelector::Aggregate(Aggregate::Count, None),
            ]
        );
        assert!(parse(&[("fields", "pg_sleep(10)")]).is_err());
        assert!(parse(&[("fields", "SUM(*)")]).is_err());
    }

    #[test]
    fn related_sub_options_in_both_spellings() {
        let p = parse(&[
            ("related", "customers_by_customer_id"),
            ("customers_by_customer_id.fields", "id,name"),
            ("customers_by_customer_id_limit", "3"),
        ])
        .unwrap();
        assert_eq!(p.related[0].fields, Some(vec!["id".into(), "name".into()]));
        assert_eq!(p.related[0].limit, Some(3));
    }

    #[test]
    fn bad_numbers_booleans_and_long_lists_are_400s() {
        assert!(parse(&[("limit", "-1")]).is_err());
        assert!(parse(&[("limit", "ten")]).is_err());
        assert!(parse(&[("include_count", "maybe")]).is_err());
        assert!(parse(&[("ids", "1,2,3,4,5,6")]).is_err());
        assert!(parse(&[("filter", "a = (SELECT 1)")]).is_err());
    }

    #[test]
    fn body_options_apply_when_the_query_string_lacks_them() {
        let body = serde_json::json!({"filter": "a = :x", "params": {":x": 5}, "limit": 3});
        let q = vec![("limit".to_owned(), "7".to_owned())];
        let p = ReadParams::parse(
            &q,
            Some(&body),
            &ParseLimits {
                filter: filter::Limits::default(),
                max_list: 5,
            },
        )
        .unwrap();
        assert_eq!(p.limit, Some(7));
        assert_eq!(p.params.get("x"), Some(&serde_json::json!(5)));
        assert!(p.filter.is_some());
    }
}
