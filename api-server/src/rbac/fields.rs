//! Field rules (RBAC level 4): per role and table, a field is hidden (never returned, filtered,
//! sorted, grouped or written), masked (returned masked; never usable in filter, order, group
//! or aggregates, so values cannot be inferred) or read-only (not writable).
//!
//! Stored on an access row as `field_rules`:
//! `{"ssn":{"mask":"last4"},"email":"hidden","tenant_id":"read_only"}`.

use std::collections::BTreeMap;

use serde_json::Value;

/// How a masked value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mask {
    /// `****`
    Full,
    /// `****6789`
    Last4,
    /// `a***@example.com` (`***` when the value is not an e-mail address)
    Email,
    /// A salted SHA-256 of the value, hex: equal values stay equal, the value is not shown.
    Hash,
    /// `null`
    Null,
}

impl Mask {
    /// The name used in `field_rules`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Last4 => "last4",
            Self::Email => "email",
            Self::Hash => "hash",
            Self::Null => "null",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "full" => Self::Full,
            "last4" => Self::Last4,
            "email" => Self::Email,
            "hash" => Self::Hash,
            "null" => Self::Null,
            _ => return None,
        })
    }
}

/// The rule for one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldRule {
    ReadOnly,
    Masked(Mask),
    Hidden,
}

impl FieldRule {
    /// How restrictive the rule is; when several access rows apply, the strictest wins.
    #[must_use]
    pub fn strictness(self) -> u8 {
        match self {
            Self::ReadOnly => 1,
            Self::Masked(_) => 2,
            Self::Hidden => 3,
        }
    }

    /// Whether the field's value may be read in clear.
    #[must_use]
    pub fn is_clear(rule: Option<Self>) -> bool {
        matches!(rule, None | Some(Self::ReadOnly))
    }
}

/// Field rules of one access row, by field name.
pub type FieldRules = BTreeMap<String, FieldRule>;

/// Parses `field_rules` JSON; the error says which field and why.
pub fn parse(value: &Value) -> Result<FieldRules, String> {
    let Value::Object(map) = value else {
        return Err("field_rules must be an object such as {\"ssn\":{\"mask\":\"last4\"},\"email\":\"hidden\"}".into());
    };
    let mut rules = FieldRules::new();
    for (field, rule) in map {
        let parsed = match rule {
            Value::String(s) => match s.as_str() {
                "hidden" => FieldRule::Hidden,
                "read_only" | "readonly" => FieldRule::ReadOnly,
                "masked" => FieldRule::Masked(Mask::Full),
                other => {
                    return Err(format!(
                        "field '{field}': unknown rule '{other}' (use hidden, read_only or {{\"mask\":\"full|last4|email|hash|null\"}})"
                    ));
                }
            },
            Value::Object(o) => match o.get("mask").and_then(Value::as_str) {
                Some(m) => FieldRule::Masked(Mask::parse(m).ok_or_else(|| {
                    format!(
                        "field '{field}': unknown mask '{m}' (use full, last4, email, hash or null)"
                    )
                })?),
                None => return Err(format!("field '{field}': an object rule needs \"mask\"")),
            },
            _ => {
                return Err(format!(
                    "field '{field}': a rule is \"hidden\", \"read_only\" or {{\"mask\":…}}"
                ));
            }
        };
        rules.insert(field.clone(), parsed);
    }
    Ok(rules)
}

/// Combines rules of several rows: per field, the strictest rule wins.
pub fn strictest(into: &mut FieldRules, other: &FieldRules) {
    for (field, rule) in other {
        match into.get(field) {
            Some(existing) if existing.strictness() >= rule.strictness() => {}
            _ => {
                into.insert(field.clone(), *rule);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_documented_form_parses() {
        let rules = parse(&json!({"ssn": {"mask": "last4"}, "email": "hidden", "tenant_id": "read_only", "card": "masked"})).unwrap();
        assert_eq!(rules["ssn"], FieldRule::Masked(Mask::Last4));
        assert_eq!(rules["email"], FieldRule::Hidden);
        assert_eq!(rules["tenant_id"], FieldRule::ReadOnly);
        assert_eq!(rules["card"], FieldRule::Masked(Mask::Full));
    }

    #[test]
    fn unknown_rules_and_masks_are_errors_naming_the_field() {
        assert!(
            parse(&json!({"ssn": {"mask": "rot13"}}))
                .unwrap_err()
                .contains("ssn")
        );
        assert!(
            parse(&json!({"ssn": "secret"}))
                .unwrap_err()
                .contains("ssn")
        );
        assert!(parse(&json!(["ssn"])).is_err());
    }

    #[test]
    fn the_strictest_rule_wins_when_rows_combine() {
        let mut a = parse(&json!({"ssn": "read_only", "email": "hidden"})).unwrap();
        strictest(
            &mut a,
            &parse(&json!({"ssn": {"mask": "hash"}, "email": "read_only"})).unwrap(),
        );
        assert_eq!(a["ssn"], FieldRule::Masked(Mask::Hash));
        assert_eq!(a["email"], FieldRule::Hidden);
    }
}
