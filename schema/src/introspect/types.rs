//! From PostgreSQL types to the model's [`ValueType`]s, names and limits.
//!
//! Invariant: domains are looked through (a domain column is its base type), built-in types
//! are recognised by their fixed OIDs, and anything not recognised is
//! [`ValueType::Other`], never an error.

use std::collections::HashMap;

use sqlx::postgres::types::Oid;

use super::catalog::{TypeNameRow, TypeRow};
use crate::model::ValueType;

/// Fixed OIDs of the built-in types (stable across PostgreSQL versions).
mod oids {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const MONEY: u32 = 790;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const TIMETZ: u32 = 1266;
    pub const BIT: u32 = 1560;
    pub const VARBIT: u32 = 1562;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

/// The database's (non-row) types by OID.
pub(super) struct TypeMap(HashMap<Oid, TypeRow>);

/// What a column's or argument's type amounts to.
pub(super) struct ResolvedType<'a> {
    /// The type after looking through domains.
    pub base: Oid,
    /// The type modifier; the nearest domain's when the column has none.
    pub typmod: i32,
    pub value_type: ValueType,
    pub element_type: Option<ValueType>,
    /// Labels of the enum, or of the array's enum element.
    pub enum_values: &'a [String],
}

fn is(code: i8, expected: u8) -> bool {
    code.to_ne_bytes()[0] == expected
}

impl TypeMap {
    pub(super) fn new(rows: Vec<TypeRow>) -> Self {
        Self(rows.into_iter().map(|t| (t.oid, t)).collect())
    }

    /// Follows domains down to their base type, picking up a domain's typmod on the way.
    fn base_of(&self, mut oid: Oid, mut typmod: i32) -> (Oid, i32) {
        // Domains over domains are rare; the bound only guards against a corrupt catalog.
        for _ in 0..32 {
            match self.0.get(&oid) {
                Some(t) if is(t.typtype, b'd') => {
                    if typmod < 0 {
                        typmod = t.typmod;
                    }
                    oid = t.base;
                }
                _ => break,
            }
        }
        (oid, typmod)
    }

    /// The value type of a type that is not a domain.
    fn value_type(&self, oid: Oid) -> ValueType {
        let builtin = match oid.0 {
            oids::BOOL => Some(ValueType::Boolean),
            oids::INT2 => Some(ValueType::SmallInt),
            oids::INT4 => Some(ValueType::Integer),
            oids::INT8 => Some(ValueType::BigInt),
            oids::FLOAT4 => Some(ValueType::Real),
            oids::FLOAT8 => Some(ValueType::Double),
            oids::NUMERIC => Some(ValueType::Numeric),
            oids::MONEY => Some(ValueType::Money),
            oids::TEXT | oids::VARCHAR | oids::BPCHAR | oids::NAME => Some(ValueType::Text),
            oids::UUID => Some(ValueType::Uuid),
            oids::JSON => Some(ValueType::Json),
            oids::JSONB => Some(ValueType::Jsonb),
            oids::BYTEA => Some(ValueType::Bytea),
            oids::DATE => Some(ValueType::Date),
            oids::TIME => Some(ValueType::Time),
            oids::TIMETZ => Some(ValueType::TimeTz),
            oids::TIMESTAMP => Some(ValueType::Timestamp),
            oids::TIMESTAMPTZ => Some(ValueType::TimestampTz),
            oids::INTERVAL => Some(ValueType::Interval),
            _ => None,
        };
        if let Some(value_type) = builtin {
            return value_type;
        }
        match self.0.get(&oid) {
            Some(t) if is(t.typtype, b'e') => ValueType::Enum,
            Some(t) if is(t.category, b'A') && t.element.0 != 0 => ValueType::Array,
            // The citext extension's type lives in whichever schema it was installed in.
            Some(t) if is(t.typtype, b'b') && t.name == "citext" => ValueType::Text,
            _ => ValueType::Other,
        }
    }

    fn labels(&self, oid: Oid) -> &[String] {
        self.0
            .get(&oid)
            .and_then(|t| t.labels.as_deref())
            .unwrap_or(&[])
    }

    /// Resolves a column's or argument's type (`typmod` -1 when unknown).
    pub(super) fn resolve(&self, oid: Oid, typmod: i32) -> ResolvedType<'_> {
        let (base, typmod) = self.base_of(oid, typmod);
        let value_type = self.value_type(base);
        let (element_type, enum_values) = match value_type {
            ValueType::Enum => (None, self.labels(base)),
            ValueType::Array => {
                let element = self.0.get(&base).map_or(Oid(0), |t| t.element);
                let (element, _) = self.base_of(element, -1);
                let element_type = self.value_type(element);
                let labels = if element_type == ValueType::Enum {
                    self.labels(element)
                } else {
                    &[]
                };
                (Some(element_type), labels)
            }
            _ => (None, &[][..]),
        };
        ResolvedType {
            base,
            typmod,
            value_type,
            element_type,
            enum_values,
        }
    }
}

/// How PostgreSQL names a type used with a given modifier.
#[derive(Default)]
pub(super) struct TypeName {
    /// `format_type`: `numeric(10,2)`, `character varying(80)`, `sales.mood`, `text[]`.
    pub sql_type: String,
    pub udt_name: String,
    pub udt_schema: String,
}

/// Type names by (type OID, typmod).
pub(super) struct TypeNames(HashMap<(Oid, i32), TypeName>);

impl TypeNames {
    pub(super) fn new(rows: Vec<TypeNameRow>) -> Self {
        Self(
            rows.into_iter()
                .map(|r| {
                    let name = TypeName {
                        sql_type: r.sql_type.unwrap_or_default(),
                        udt_name: r.udt_name.unwrap_or_default(),
                        udt_schema: r.udt_schema.unwrap_or_default(),
                    };
                    ((r.type_oid, r.typmod), name)
                })
                .collect(),
        )
    }

    pub(super) fn get(&self, oid: Oid, typmod: i32) -> Option<&TypeName> {
        self.0.get(&(oid, typmod))
    }
}

/// `(max_length, precision, scale)` from a base type and modifier, as
/// `information_schema` reports them.
pub(super) fn type_limits(base: Oid, typmod: i32) -> (Option<i32>, Option<i32>, Option<i32>) {
    if typmod < 0 {
        return (None, None, None);
    }
    match base.0 {
        // The modifier counts the 4-byte varlena header.
        oids::VARCHAR | oids::BPCHAR if typmod >= 4 => (Some(typmod - 4), None, None),
        oids::BIT | oids::VARBIT => (Some(typmod), None, None),
        oids::NUMERIC if typmod >= 4 => {
            let packed = typmod - 4;
            let precision = (packed >> 16) & 0xffff;
            // PostgreSQL 15+ allows a negative scale, stored as 11 signed bits.
            let scale = ((packed & 0x7ff) ^ 1024) - 1024;
            (None, Some(precision), Some(scale))
        }
        oids::TIME | oids::TIMETZ | oids::TIMESTAMP | oids::TIMESTAMPTZ => {
            (None, Some(typmod), None)
        }
        _ => (None, None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_modifiers_decode_to_precision_and_scale() {
        // numeric(10,2): ((10 << 16) | 2) + 4
        assert_eq!(
            type_limits(Oid(oids::NUMERIC), (10 << 16 | 2) + 4),
            (None, Some(10), Some(2))
        );
        // numeric(3,-2) (PostgreSQL 15+): scale stored as 11-bit two's complement.
        assert_eq!(
            type_limits(Oid(oids::NUMERIC), (3 << 16 | (0x800 - 2)) + 4),
            (None, Some(3), Some(-2))
        );
        assert_eq!(type_limits(Oid(oids::NUMERIC), -1), (None, None, None));
    }

    #[test]
    fn character_modifiers_decode_to_a_length() {
        assert_eq!(type_limits(Oid(oids::VARCHAR), 84), (Some(80), None, None));
        assert_eq!(type_limits(Oid(oids::BPCHAR), 5), (Some(1), None, None));
        assert_eq!(type_limits(Oid(oids::TEXT), 84), (None, None, None));
    }
}
