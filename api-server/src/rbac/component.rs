//! Component patterns and DreamFactory's precedence.
//!
//! An access row grants verbs on a component of a service (`_table/orders/*`, `_table/*`,
//! `*`, `''` for the service root) or of every service (`service_id` null). For a request, the
//! tiers are tried in order — exact match, wildcard match, service-wide `*`, all services —
//! and the first tier with any matching row wins; the verb masks within it are OR-ed.

/// Normalises a stored component: leading and trailing `/` are trimmed (DreamFactory trims
/// them when it caches a role), so `_table/contacts/` is an exact match on the collection.
#[must_use]
pub fn normalise(component: &str) -> &str {
    component.trim_matches('/')
}

/// DreamFactory's wildcard rule: a stored component with `*` at byte `p` matches when the
/// request component plus `/`, cut to `p` bytes, plus `*`, equals it. So `_table/*` covers
/// `_table` and every table and record, and `_table/orders/*` covers `_table/orders` and its
/// records but not `_table/orders_archive`.
#[must_use]
pub fn wildcard_matches(stored: &str, request: &str) -> bool {
    let Some(p) = stored.find('*') else {
        return false;
    };
    if p == 0 {
        // A bare `*` is the service-wide tier, not a wildcard match.
        return false;
    }
    let with_slash = format!("{request}/");
    with_slash
        .get(..p)
        .is_some_and(|prefix| prefix == &stored[..p])
        && stored.len() == p + 1
}

/// Which tier an access row's component falls in for a request component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    Exact = 0,
    Wildcard = 1,
    ServiceWide = 2,
    AllServices = 3,
}

/// The tier at which a row (`row_service` null = every service) applies to a request for
/// `component` of `service`, or `None` if it does not apply.
#[must_use]
pub fn tier(
    row_service: Option<i64>,
    row_component: &str,
    service: i64,
    component: &str,
) -> Option<Tier> {
    let stored = normalise(row_component);
    match row_service {
        None => (stored.is_empty() || stored == "*").then_some(Tier::AllServices),
        Some(id) if id != service => None,
        Some(_) => {
            if stored == "*" {
                Some(Tier::ServiceWide)
            } else if stored == component {
                Some(Tier::Exact)
            } else if wildcard_matches(stored, component) {
                Some(Tier::Wildcard)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(stored: &str, request: &str, expect: Option<Tier>) {
        assert_eq!(
            tier(Some(1), stored, 1, request),
            expect,
            "{stored} vs {request}"
        );
    }

    #[test]
    fn wildcards_follow_dreamfactory() {
        check("_table/*", "_table", Some(Tier::Wildcard));
        check("_table/*", "_table/orders", Some(Tier::Wildcard));
        check("_table/*", "_table/orders/5", Some(Tier::Wildcard));
        check("_table/orders/*", "_table/orders", Some(Tier::Wildcard));
        check("_table/orders/*", "_table/orders/5", Some(Tier::Wildcard));
        check("_table/orders/*", "_table/orders_archive", None);
        check("_table/orders/*", "_table", None);
        check("_table/orders/*", "_table/customers", None);
        check("_table/ord*", "_table/orders", Some(Tier::Wildcard));
    }

    #[test]
    fn exact_and_trailing_slash_components_match_only_themselves() {
        check("_table/orders", "_table/orders", Some(Tier::Exact));
        check("_table/orders/", "_table/orders", Some(Tier::Exact));
        check("_table/orders", "_table/orders/5", None);
        check("", "", Some(Tier::Exact));
    }

    #[test]
    fn star_is_service_wide_and_null_service_covers_all() {
        check("*", "_table/anything", Some(Tier::ServiceWide));
        assert_eq!(tier(None, "*", 9, "_table/x"), Some(Tier::AllServices));
        assert_eq!(tier(None, "", 9, "_table/x"), Some(Tier::AllServices));
        assert_eq!(tier(None, "_table/*", 9, "_table/x"), None);
        assert_eq!(tier(Some(2), "*", 1, "_table/x"), None);
    }

    #[test]
    fn a_star_in_the_middle_is_not_a_wildcard() {
        check("_table/*/x", "_table/a/x", None);
    }
}
