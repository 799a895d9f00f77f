//! Rampart's filter language: the `filter=` query parameter of the DreamFactory-compatible
//! REST API, parsed into an [`ast::Expr`]. It accepts DreamFactory's spellings but never raw
//! SQL. Invariants: parsing never panics on any input, every value ends up as a literal,
//! `:placeholder` or `{lookup}` operand (to be bound as a parameter, never spliced into SQL),
//! and input size, nesting, list length and node count are bounded by [`Limits`].

pub mod ast;
pub mod error;
pub mod eval;
mod lexer;
mod parser;

pub use ast::{CompareOp, Expr, Field, Literal, MatchOp, Operand, Span};
pub use error::FilterError;
use error::err;
use parser::OpSpec;
use serde::Deserialize;
use serde_json::Value;

/// Bounds on what a client may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest filter text, in bytes.
    pub max_length: usize,
    /// Deepest nesting; each `(` group and each prefix `NOT` counts one level.
    pub max_depth: usize,
    /// Most values in one `IN (…)` list.
    pub max_list: usize,
    /// Most expression nodes (conditions, `AND`/`OR` groups and `NOT`s).
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_length: 4096,
            max_depth: 32,
            max_list: 1000,
            max_nodes: 256,
        }
    }
}

/// Parses a filter such as `(age > 21) AND name LIKE 'J%'`.
pub fn parse(input: &str, limits: &Limits) -> Result<Expr, FilterError> {
    parser::parse(input, limits)
}

/// One entry of a DreamFactory role's stored filters:
/// `{"name":"owner_id","operator":"=","value":"{user.id}"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ListFilter {
    pub name: String,
    pub operator: String,
    #[serde(default)]
    pub value: Value,
}

/// How a role's filters combine (DreamFactory's `filter_op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum LogicalOp {
    #[serde(rename = "AND", alias = "and", alias = "And")]
    And,
    #[serde(rename = "OR", alias = "or", alias = "Or")]
    Or,
}

/// Converts a role's stored filter list into one expression, using the same field and
/// operator vocabulary as [`parse`]. String values `{x}` become lookups and `:p`
/// placeholders; other strings stay text; JSON numbers and booleans become literals;
/// `= null` / `!= null` become `IS NULL` / `IS NOT NULL`. `IN` takes a JSON array or a
/// comma list in filter syntax (`"a,b"`, `"(1, 2)"`); `BETWEEN` takes a two-element array
/// or list. Errors name the entry; their position is a byte offset into the entry's
/// operator or value text (0 when the problem is the entry as a whole).
pub fn from_dreamfactory_list(filters: &[ListFilter], op: LogicalOp) -> Result<Expr, FilterError> {
    let mut items = Vec::with_capacity(filters.len());
    for (i, f) in filters.iter().enumerate() {
        let expr = list_entry(f).map_err(|mut e| {
            e.message = format!("role filter {} (field '{}'): {}", i + 1, f.name, e.message);
            e
        })?;
        items.push(expr);
    }
    match (items.len(), op) {
        (0, _) => Err(FilterError::new(0, "the role filter list is empty")),
        (1, _) => Ok(items.remove(0)),
        (_, LogicalOp::And) => Ok(Expr::And(items)),
        (_, LogicalOp::Or) => Ok(Expr::Or(items)),
    }
}

fn list_entry(f: &ListFilter) -> Result<Expr, FilterError> {
    let field = parser::parse_field(&f.name)?;
    let op = parser::parse_operator(&f.operator)?;
    let never = "a comparison with null never matches; use the IS NULL or IS NOT NULL operator";
    let single = |v: &Value| match json_operand(v)? {
        Operand::Literal(Literal::Null) => Err(err(0, "the value cannot be null", never)),
        operand => Ok(operand),
    };
    Ok(match op {
        OpSpec::Compare(op @ (CompareOp::Eq | CompareOp::Ne)) if f.value.is_null() => {
            Expr::IsNull {
                field,
                negated: op == CompareOp::Ne,
            }
        }
        OpSpec::Compare(op) => Expr::Compare {
            field,
            op,
            value: single(&f.value)?,
        },
        OpSpec::Match { op, negated } => Expr::Match {
            field,
            op,
            negated,
            value: single(&f.value)?,
        },
        OpSpec::IsNull { negated } => Expr::IsNull { field, negated },
        OpSpec::In { negated } => Expr::In {
            field,
            negated,
            values: json_list(&f.value)?,
        },
        OpSpec::Between { negated } => match <[Operand; 2]>::try_from(json_list(&f.value)?) {
            Ok([low, high]) => Expr::Between {
                field,
                negated,
                low,
                high,
            },
            Err(_) => {
                let fix = "give the value as [low, high] or \"low,high\"";
                return Err(err(0, "BETWEEN needs exactly two values", fix));
            }
        },
    })
}

/// A scalar JSON value as an operand (`Null` included; callers decide).
fn json_operand(v: &Value) -> Result<Operand, FilterError> {
    Ok(match v {
        Value::String(s) => {
            let lookup = s.strip_prefix('{').and_then(|r| r.strip_suffix('}'));
            let placeholder = s.strip_prefix(':');
            match (lookup, placeholder) {
                (Some(n), _) if !n.is_empty() && n.chars().all(lexer::is_lookup_char) => {
                    Operand::Lookup(n.to_string())
                }
                (_, Some(n)) if !n.is_empty() && n.chars().all(lexer::is_placeholder_char) => {
                    Operand::Placeholder(n.to_string())
                }
                _ => Operand::Literal(Literal::String(s.clone())),
            }
        }
        Value::Number(n) => Operand::Literal(Literal::Number(n.to_string())),
        Value::Bool(b) => Operand::Literal(Literal::Bool(*b)),
        Value::Null => Operand::Literal(Literal::Null),
        Value::Array(_) | Value::Object(_) => {
            let msg = "the value must be a string, number or boolean";
            return Err(err(0, msg, "only IN and BETWEEN take a list of values"));
        }
    })
}

/// The values of an `IN`/`BETWEEN` entry: a JSON array, a comma list string, or one scalar.
fn json_list(v: &Value) -> Result<Vec<Operand>, FilterError> {
    let limits = Limits::default();
    let values = match v {
        Value::String(s) => parser::parse_value_list(s, &limits)?,
        Value::Array(items) if items.len() > limits.max_list => {
            let msg = format!("the list has more than {} values", limits.max_list);
            return Err(FilterError::new(0, msg));
        }
        Value::Array(items) => items.iter().map(json_operand).collect::<Result<_, _>>()?,
        scalar => vec![json_operand(scalar)?],
    };
    if values.is_empty() {
        return Err(FilterError::new(0, "the list of values is empty"));
    }
    if values.contains(&Operand::Literal(Literal::Null)) {
        let fix = "use a separate IS NULL filter with the OR filter operator";
        return Err(err(0, "the list cannot contain null", fix));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::ast::{CompareOp, Field, MatchOp, Span};
    use proptest::prelude::*;

    /// Converts a role filter list of `(name, operator, value JSON or "" for none)` entries
    /// and compares the canonical form (or, for `"error: …"`, part of the error message).
    fn check(entries: &[(&str, &str, &str)], op: LogicalOp, expected: &str) {
        let json: Vec<String> = entries
            .iter()
            .map(|(name, operator, value)| {
                let value = if value.is_empty() {
                    String::new()
                } else {
                    format!(r#","value":{value}"#)
                };
                format!(r#"{{"name":"{name}","operator":"{operator}"{value}}}"#)
            })
            .collect();
        let json = format!("[{}]", json.join(","));
        let actual = match serde_json::from_str::<Vec<ListFilter>>(&json) {
            Err(e) => format!("bad test JSON: {e}"),
            Ok(list) => match from_dreamfactory_list(&list, op) {
                Ok(expr) => expr.to_string(),
                Err(e) => format!("error: {}", e.message),
            },
        };
        match expected.strip_prefix("error: ") {
            Some(msg) => assert!(
                actual.starts_with("error: ") && actual.contains(msg),
                "{json}\n  got:  {actual}\n  want: {expected}"
            ),
            None => assert_eq!(actual, expected, "{json}"),
        }
    }

    #[test]
    fn dreamfactory_role_filter_lists_convert_through_the_same_vocabulary() {
        use LogicalOp::{And, Or};
        for (entries, op, expected) in [
            (
                &[("owner_id", "=", r#""{user.id}""#)][..],
                And,
                "owner_id = {user.id}",
            ),
            (
                &[("a", "EQ", "1"), ("b", "<>", r#""x""#)],
                Or,
                "a = 1 OR b != 'x'",
            ),
            (
                &[("a", "gte", "1.5"), ("b", "=", "false")],
                And,
                "a >= 1.5 AND b = false",
            ),
            (&[("x", "not like", r#"":pat""#)], And, "x NOT LIKE :pat"),
            (
                &[("x", "starts with", r#""{tenant}-%""#)],
                And,
                "x STARTS WITH '{tenant}-%'",
            ),
            (&[("x", "contains", r#""50%""#)], And, "x CONTAINS '50%'"),
            (
                &[("x", "IN", r#"[1, "a", true, "{u.id}"]"#)],
                And,
                "x IN (1, 'a', true, {u.id})",
            ),
            (&[("x", "not in", r#""(a,b)""#)], And, "x NOT IN ('a', 'b')"),
            (&[("x", "in", r#""1, 2""#)], And, "x IN (1, 2)"),
            (&[("x", "in", r#""'a,b', c""#)], And, "x IN ('a,b', 'c')"),
            (&[("x", "in", "7")], And, "x IN (7)"),
            (&[("x", "between", "[1, 5]")], And, "x BETWEEN 1 AND 5"),
            (&[("x", "is null", "null")], And, "x IS NULL"),
            (&[("x", "IS NOT NULL", "")], And, "x IS NOT NULL"),
            (&[("x", "=", "null")], And, "x IS NULL"),
            (&[("x", "!=", "null")], And, "x IS NOT NULL"),
            (
                &[("x", ">", "null")],
                And,
                "error: role filter 1 (field 'x'): the value cannot be",
            ),
            (&[("x", "==", "1")], And, "error: unexpected '='"),
            (&[("x", "nor", "1")], And, "error: unknown operator 'nor'"),
            (
                &[("x", "=", "[1]")],
                And,
                "error: the value must be a string, number or boolean",
            ),
            (
                &[("x", "in", "[]")],
                And,
                "error: the list of values is empty",
            ),
            (
                &[("x", "in", "[1, null]")],
                And,
                "error: the list cannot contain null",
            ),
            (
                &[("x", "in", r#""a b""#)],
                And,
                "error: expected ',' or ')'",
            ),
            (
                &[("x", "between", "[1]")],
                And,
                "error: BETWEEN needs exactly two values",
            ),
            (&[("a; drop", "=", "1")], And, "error: ';' is not allowed"),
            (&[("1", "=", "1")], And, "error: expected a field name"),
            (&[], And, "error: the role filter list is empty"),
        ] {
            check(entries, op, expected);
        }
    }

    #[test]
    fn logical_op_deserializes_from_dreamfactory_spellings() {
        for (json, op) in [
            (r#""AND""#, LogicalOp::And),
            (r#""or""#, LogicalOp::Or),
            (r#""Or""#, LogicalOp::Or),
        ] {
            assert_eq!(serde_json::from_str::<LogicalOp>(json).ok(), Some(op));
        }
    }

    #[test]
    fn and_flattens_and_fields_lists_every_field_in_order() {
        let p = |s: &str| parse(s, &Limits::default()).map_err(|e| e.to_string());
        let (Ok(a), Ok(b)) = (
            p("a = 1 AND NOT (b = 2)"),
            p("c IN (1) AND (d = 1 OR e IS NULL)"),
        ) else {
            panic!("test filters must parse");
        };
        let both = Expr::and(a, b);
        assert_eq!(
            both.to_string(),
            "a = 1 AND NOT (b = 2) AND c IN (1) AND (d = 1 OR e IS NULL)"
        );
        let names: Vec<&str> = both.fields().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        assert_eq!(
            both.fields().next().map(|f| f.span),
            Some(Span { start: 0, end: 1 })
        );
    }

    const TOKENS: &[&str] = &[
        "(", ")", ",", "a", "b.c", "=", "!=", "<>", "<", ">=", "==", "!", "&&", "||", "&", "|",
        "AND", "or", "NOT", "IN", "like", "ILIKE", "contains", "STARTS", "with", "ends", "IS",
        "NULL", "between", "true", "nor", "1", "-2.5e3", "1-", "'x'", "'", "\"y\"", "\"", "''",
        "\\'", "\\", ":p", ":", "{u.id}", "{", "}", ";", "--", "/*", "é", "☃", "\u{0}", "$", ".",
    ];

    fn token_soup() -> impl Strategy<Value = String> {
        prop::collection::vec((prop::sample::select(TOKENS), prop::bool::ANY), 0..40).prop_map(
            |parts| {
                parts
                    .into_iter()
                    .map(|(t, space)| {
                        if space {
                            format!("{t} ")
                        } else {
                            t.to_string()
                        }
                    })
                    .collect()
            },
        )
    }

    fn operand() -> impl Strategy<Value = Operand> {
        prop_oneof![
            any::<String>().prop_map(|s| Operand::Literal(Literal::String(s))),
            "-?[0-9]{1,6}(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?"
                .prop_map(|n| Operand::Literal(Literal::Number(n))),
            any::<bool>().prop_map(|b| Operand::Literal(Literal::Bool(b))),
            "[A-Za-z0-9_]{1,8}".prop_map(Operand::Placeholder),
            "[A-Za-z0-9_.-]{1,10}".prop_map(Operand::Lookup),
        ]
    }

    fn field() -> impl Strategy<Value = Field> {
        "[a-zA-Z_][a-zA-Z0-9_$]{0,6}(\\.[a-z_][a-z0-9_]{0,4})?"
            .prop_filter("keywords are not field names", |s| {
                !parser::KEYWORDS.contains(&s.to_ascii_lowercase().as_str())
            })
            .prop_map(|name| Field {
                name,
                span: Span::default(),
            })
    }

    fn expr() -> impl Strategy<Value = Expr> {
        use CompareOp::*;
        use MatchOp::*;
        let cmp = prop::sample::select(vec![Eq, Ne, Gt, Ge, Lt, Le]);
        let pat = prop::sample::select(vec![Like, ILike, Contains, StartsWith, EndsWith]);
        let leaf = prop_oneof![
            (field(), cmp, operand()).prop_map(|(field, op, value)| Expr::Compare {
                field,
                op,
                value
            }),
            (field(), pat, any::<bool>(), operand()).prop_map(|(field, op, negated, value)| {
                Expr::Match {
                    field,
                    op,
                    negated,
                    value,
                }
            }),
            (
                field(),
                any::<bool>(),
                prop::collection::vec(operand(), 1..4)
            )
                .prop_map(|(field, negated, values)| Expr::In {
                    field,
                    negated,
                    values
                }),
            (field(), any::<bool>(), operand(), operand()).prop_map(
                |(field, negated, low, high)| Expr::Between {
                    field,
                    negated,
                    low,
                    high
                }
            ),
            (field(), any::<bool>()).prop_map(|(field, negated)| Expr::IsNull { field, negated }),
        ];
        leaf.prop_recursive(4, 48, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
                inner.prop_map(|e| Expr::Not(Box::new(e))),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parse_never_panics_and_errors_point_inside_the_input(
            text in prop_oneof![any::<String>(), token_soup()],
            small in any::<bool>(),
        ) {
            let limits = if small {
                Limits { max_length: 60, max_depth: 3, max_list: 2, max_nodes: 5 }
            } else {
                Limits::default()
            };
            match parse(&text, &limits) {
                Err(e) => prop_assert!(e.position <= text.len(), "{e}"),
                // Whatever parses prints to a canonical form that parses to the same tree.
                Ok(expr) => {
                    let again = parse(&expr.to_string(), &Limits::default());
                    let again = again.map(|e| e.without_spans());
                    prop_assert_eq!(again, Ok(expr.without_spans()));
                }
            }
        }

        #[test]
        fn every_generated_tree_round_trips_through_its_display_form(e in expr()) {
            let roomy = Limits {
                max_length: usize::MAX,
                max_depth: 64,
                max_list: usize::MAX,
                max_nodes: usize::MAX,
            };
            let text = e.to_string();
            prop_assert_eq!(parse(&text, &roomy).map(|p| p.without_spans()), Ok(e), "{}", text);
        }
    }
}
