//! Assembles functions and procedures from catalog rows.
//!
//! Invariant: one entry per API name: of overloads, the one with the fewest input
//! arguments is kept (the oldest on a tie), so the choice is stable across runs.

use std::collections::HashMap;

use super::Namer;
use super::catalog::FunctionRow;
use super::types::{TypeMap, TypeNames};
use crate::model::{ArgMode, Function, FunctionArg, FunctionKind, Volatility};

fn char_code(code: i8) -> u8 {
    code.to_ne_bytes()[0]
}

fn arg_mode(mode: Option<i8>) -> ArgMode {
    match mode.map(char_code) {
        Some(b'o') => ArgMode::Out,
        Some(b'b') => ArgMode::InOut,
        Some(b'v') => ArgMode::Variadic,
        Some(b't') => ArgMode::Table,
        _ => ArgMode::In,
    }
}

fn is_input(mode: ArgMode) -> bool {
    matches!(mode, ArgMode::In | ArgMode::InOut | ArgMode::Variadic)
}

fn new_function(
    names: &Namer<'_>,
    types: &TypeMap,
    type_names: &TypeNames,
    row: FunctionRow,
) -> Function {
    let modes: Vec<ArgMode> = (0..row.arg_types.len())
        .map(|i| arg_mode(row.modes.as_ref().and_then(|m| m.get(i).copied())))
        .collect();
    // Defaults belong to the last `pronargdefaults` input arguments.
    let inputs = modes.iter().filter(|&&m| is_input(m)).count();
    let first_default = inputs.saturating_sub(usize::try_from(row.default_count).unwrap_or(0));
    let mut input_no = 0;
    let args: Vec<FunctionArg> = modes
        .iter()
        .zip(&row.arg_types)
        .enumerate()
        .map(|(i, (&mode, &type_oid))| {
            let has_default = is_input(mode) && {
                input_no += 1;
                input_no > first_default
            };
            let type_name = type_names.get(type_oid, -1);
            FunctionArg {
                name: row
                    .arg_names
                    .as_ref()
                    .and_then(|n| n.get(i))
                    .cloned()
                    .unwrap_or_default(),
                mode,
                value_type: types.resolve(type_oid, -1).value_type,
                sql_type: type_name.map(|n| n.sql_type.clone()).unwrap_or_default(),
                udt_schema: type_name.map(|n| n.udt_schema.clone()).unwrap_or_default(),
                udt_name: type_name.map(|n| n.udt_name.clone()).unwrap_or_default(),
                has_default,
            }
        })
        .collect();
    let kind = if char_code(row.kind) == b'p' {
        FunctionKind::Procedure
    } else {
        FunctionKind::Function
    };
    // `pg_get_function_result` is NULL for procedures; CALL returns their OUT/INOUT values.
    let return_type = row.result.unwrap_or_else(|| {
        let outputs = args
            .iter()
            .any(|a| matches!(a.mode, ArgMode::Out | ArgMode::InOut));
        if outputs { "record" } else { "void" }.to_owned()
    });
    let schema = names.schema(row.namespace).to_owned();
    Function {
        api_name: names.api_name(&schema, &row.name),
        schema,
        name: row.name,
        kind,
        args,
        return_type,
        returns_set: row.returns_set,
        volatility: match char_code(row.volatility) {
            b'i' => Volatility::Immutable,
            b's' => Volatility::Stable,
            _ => Volatility::Volatile,
        },
        comment: row.comment,
    }
}

/// Builds the exposed functions and procedures, one per API name.
pub(super) fn build_functions(
    names: &Namer<'_>,
    types: &TypeMap,
    type_names: &TypeNames,
    rows: Vec<FunctionRow>,
) -> Vec<Function> {
    let mut chosen: HashMap<String, ((i16, u32), Function)> = HashMap::new();
    for row in rows {
        let rank = (row.input_count, row.oid.0);
        let function = new_function(names, types, type_names, row);
        match chosen.get(&function.api_name) {
            Some((kept, _)) if *kept <= rank => {}
            _ => {
                chosen.insert(function.api_name.clone(), (rank, function));
            }
        }
    }
    chosen.into_values().map(|(_, function)| function).collect()
}
