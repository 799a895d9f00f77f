//! Calls of functions (`_func`) and procedures (`_proc`): arguments by name (query string,
//! body `params` as DreamFactory's `[{"name","value"}]` list or an object) or by position
//! (inline `name(a,b)`), typed by the catalog and bound. Pure: no I/O.

use std::collections::HashMap;

use serde_json::Value;

use rampart_schema::{ArgMode, Function, FunctionKind};

use super::plan::{Bound, PlanError};

/// One argument of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallArg {
    Value(Bound),
    Null {
        type_schema: String,
        type_name: String,
    },
}

/// What a call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// A set or table: records.
    Rows,
    /// One value.
    Scalar,
    /// A procedure without OUT arguments.
    Nothing,
    /// A procedure's OUT and INOUT arguments, one object keyed by their names.
    OutArgs,
}

/// A validated call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPlan {
    pub schema: String,
    pub name: String,
    pub args: Vec<CallArg>,
    pub returns: Returns,
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Named arguments from the body's `params` (list or object).
#[must_use]
pub fn body_args(body: Option<&Value>) -> HashMap<String, Value> {
    match body.and_then(|b| b.get("params")) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| {
                Some((
                    i.get("name")?.as_str()?.to_owned(),
                    i.get("value").cloned().unwrap_or(Value::Null),
                ))
            })
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.trim_start_matches(':').to_owned(), v.clone()))
            .collect(),
        _ => HashMap::new(),
    }
}

/// A procedure's `CALL` takes its OUT arguments too, in their places: a typed `NULL` each.
/// Inputs left to their defaults may only come after the last OUT argument.
fn with_out_placeholders(f: &Function, inputs: Vec<CallArg>) -> Result<Vec<CallArg>, PlanError> {
    let mut given = inputs.into_iter();
    let mut args = Vec::new();
    let mut defaulted: Option<&str> = None;
    for a in &f.args {
        match a.mode {
            ArgMode::Out => {
                if let Some(name) = defaulted {
                    return Err(PlanError::Invalid(format!(
                        "Parameter '{name}' of '{}' must be given: OUT parameters follow it.",
                        f.api_name
                    )));
                }
                args.push(CallArg::Null {
                    type_schema: a.udt_schema.clone(),
                    type_name: a.udt_name.clone(),
                });
            }
            // The inputs given are a prefix of the declared ones: once one is left to its
            // default, so are the rest.
            ArgMode::In | ArgMode::InOut | ArgMode::Variadic => match given.next() {
                Some(v) => args.push(v),
                None => defaulted = defaulted.or(Some(&a.name)),
            },
            ArgMode::Table => {}
        }
    }
    Ok(args)
}

/// Plans a call: every IN argument comes from a name, or a position, or its default.
pub fn plan_call(
    f: &Function,
    named: &HashMap<String, Value>,
    positional: Option<&[String]>,
) -> Result<CallPlan, PlanError> {
    let inputs: Vec<_> = f
        .args
        .iter()
        .filter(|a| matches!(a.mode, ArgMode::In | ArgMode::InOut | ArgMode::Variadic))
        .collect();
    let has_out = f
        .args
        .iter()
        .any(|a| matches!(a.mode, ArgMode::Out | ArgMode::InOut | ArgMode::Table));
    if let Some(p) = positional.filter(|p| p.len() > inputs.len()) {
        return Err(PlanError::Invalid(format!(
            "'{}' takes at most {} arguments, not {}.",
            f.api_name,
            inputs.len(),
            p.len()
        )));
    }
    for name in named.keys() {
        if !inputs.iter().any(|a| &a.name == name) {
            return Err(PlanError::Invalid(format!(
                "'{}' has no parameter '{name}'.",
                f.api_name
            )));
        }
    }
    let mut args = Vec::new();
    let mut omitted: Option<&str> = None;
    for (i, a) in inputs.iter().enumerate() {
        let given: Option<Value> = named.get(&a.name).cloned().or_else(|| {
            positional
                .and_then(|p| p.get(i))
                .map(|s| Value::String(s.clone()))
        });
        match (given, omitted) {
            (Some(_), Some(earlier)) => {
                return Err(PlanError::Invalid(format!(
                    "Parameter '{}' cannot be given while the earlier parameter '{earlier}' is left to its default.",
                    a.name
                )));
            }
            (Some(v), None) => args.push(match text_of(&v) {
                Some(text) => CallArg::Value(Bound {
                    text,
                    type_schema: a.udt_schema.clone(),
                    type_name: a.udt_name.clone(),
                    value_type: a.value_type,
                }),
                None => CallArg::Null {
                    type_schema: a.udt_schema.clone(),
                    type_name: a.udt_name.clone(),
                },
            }),
            (None, _) if a.has_default => omitted = Some(&a.name),
            (None, _) => {
                return Err(PlanError::Invalid(format!(
                    "Missing parameter '{}' of '{}'.",
                    if a.name.is_empty() {
                        "(unnamed)"
                    } else {
                        &a.name
                    },
                    f.api_name
                )));
            }
        }
    }
    if f.kind == FunctionKind::Procedure && has_out {
        args = with_out_placeholders(f, args)?;
    }
    let returns = match f.kind {
        FunctionKind::Procedure if has_out => Returns::OutArgs,
        FunctionKind::Procedure => Returns::Nothing,
        FunctionKind::Function if f.returns_set || has_out => Returns::Rows,
        FunctionKind::Function => Returns::Scalar,
    };
    Ok(CallPlan {
        schema: f.schema.clone(),
        name: f.name.clone(),
        args,
        returns,
    })
}
