//! Verbs and DreamFactory's verb and requestor bitmasks.

use std::fmt;

/// An HTTP verb after tunnelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    /// The verb's bit in `verb_mask` (GET 1, POST 2, PUT 4, PATCH 8, DELETE 16).
    #[must_use]
    pub fn bit(self) -> i64 {
        match self {
            Self::Get => 1,
            Self::Post => 2,
            Self::Put => 4,
            Self::Patch => 8,
            Self::Delete => 16,
        }
    }

    /// Parses a method name (case-insensitive); `MERGE` is PATCH, as in DreamFactory.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "GET" => Some(Self::Get),
            "POST" => Some(Self::Post),
            "PUT" => Some(Self::Put),
            "PATCH" | "MERGE" => Some(Self::Patch),
            "DELETE" => Some(Self::Delete),
            _ => None,
        }
    }

    /// All verbs, in mask order.
    pub const ALL: [Verb; 5] = [Self::Get, Self::Post, Self::Put, Self::Patch, Self::Delete];

    /// The verbs set in a mask.
    pub fn in_mask(mask: i64) -> impl Iterator<Item = Verb> {
        Self::ALL.into_iter().filter(move |v| mask & v.bit() != 0)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        })
    }
}

/// The requestor bit of calls made through the API (REST and MCP alike).
pub const REQUESTOR_API: i64 = 1;
/// The requestor bit of calls made by scripts.
pub const REQUESTOR_SCRIPT: i64 = 2;
/// Rampart's extra bit in `verb_mask`: DELETE of every record of a table (`force=true` with
/// no ids, filter or records). Never implied by the five verbs, so `31` does not grant it.
pub const FORCE_DELETE_BIT: i64 = 32;
/// Every verb Rampart serves.
pub const ALL_VERBS_MASK: i64 = 31;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_follow_dreamfactory() {
        let cases = [
            (Verb::Get, 1),
            (Verb::Post, 2),
            (Verb::Put, 4),
            (Verb::Patch, 8),
            (Verb::Delete, 16),
        ];
        for (verb, bit) in cases {
            assert_eq!(verb.bit(), bit, "{verb}");
        }
        assert_eq!(
            Verb::in_mask(3).collect::<Vec<_>>(),
            vec![Verb::Get, Verb::Post]
        );
    }

    #[test]
    fn merge_is_patch_and_unknown_methods_are_refused() {
        assert_eq!(Verb::parse("merge"), Some(Verb::Patch));
        assert_eq!(Verb::parse("TRACE"), None);
    }
}
