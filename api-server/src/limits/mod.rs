//! Rate limits, DreamFactory's model: a limit counts the requests of the whole instance, of one
//! user (or each user), of a role, of an app, to a service or to an endpoint of it (optionally
//! one verb), per minute, hour, day, week or 30 days. A request over any limit that applies is
//! refused with 429 and `Retry-After`; responses to limited requests carry `X-RateLimit-*`.
//!
//! Counting is a fixed window per period; the counters live in this process or, when several
//! nodes share a budget, in Redis (`counters`). Sys-admins are never limited (as in
//! DreamFactory). The rules here are pure; `Limiter` adds the cached rows and the counters.

pub mod counters;

use std::sync::{Arc, PoisonError, RwLock};

use crate::system::limits::LimitRecord;
use crate::system::{Store, SystemError};
pub use counters::Counters;

/// Limit types (DreamFactory's, plus `instance.app` and `instance.each_app`).
pub const TYPES: &[&str] = &[
    "instance",
    "instance.user",
    "instance.each_user",
    "instance.user.service",
    "instance.each_user.service",
    "instance.service",
    "instance.service.endpoint",
    "instance.user.service.endpoint",
    "instance.each_user.service.endpoint",
    "instance.role",
    "instance.app",
    "instance.each_app",
];

/// Periods by number (as stored) and name (as the API shows them).
pub const PERIODS: &[(i64, &str, u64)] = &[
    (0, "minute", 60),
    (1, "hour", 3600),
    (2, "day", 86_400),
    (3, "7-day", 7 * 86_400),
    (4, "30-day", 30 * 86_400),
];

/// Verbs a limit may be narrowed to.
pub const VERBS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// A period's length in seconds.
#[must_use]
pub fn period_seconds(period: i64) -> u64 {
    PERIODS
        .iter()
        .find(|(n, _, _)| *n == period)
        .map_or(60, |(_, _, s)| *s)
}

/// A period's name.
#[must_use]
pub fn period_name(period: i64) -> &'static str {
    PERIODS
        .iter()
        .find(|(n, _, _)| *n == period)
        .map_or("minute", |(_, name, _)| name)
}

/// A period from its number or name.
#[must_use]
pub fn period_of(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n.as_i64().filter(|n| (0..=4).contains(n)),
        serde_json::Value::String(s) => PERIODS
            .iter()
            .find(|(_, name, _)| name.eq_ignore_ascii_case(s))
            .map(|(n, _, _)| *n),
        _ => None,
    }
}

/// What a limit is matched against.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub user_id: Option<i64>,
    pub role_id: Option<i64>,
    pub app_id: Option<i64>,
    pub service_id: Option<i64>,
    /// The path below the service (`_table/orders/5`).
    pub endpoint: &'a str,
    pub verb: &'a str,
}

fn endpoint_matches(pattern: &str, endpoint: &str) -> bool {
    let pattern = pattern.trim_matches('/');
    let endpoint = endpoint.trim_matches('/');
    match pattern.strip_suffix('*') {
        Some(prefix) => endpoint.starts_with(prefix),
        None => endpoint == pattern,
    }
}

/// The counter a request counts against under `limit`, or `None` when the limit does not
/// apply to it: `""` for a budget shared by everyone it covers, `u{id}`/`a{id}` for one per
/// user or app.
#[must_use]
pub fn subject(limit: &LimitRecord, f: &Facts) -> Option<String> {
    if !limit.is_active {
        return None;
    }
    if let Some(verb) = &limit.verb
        && !verb.eq_ignore_ascii_case(f.verb)
    {
        return None;
    }
    let parts: Vec<&str> = limit.kind.split('.').collect();
    let mut subject = String::new();
    for part in parts.iter().skip(1) {
        let holds = match *part {
            "user" => limit.user_id.is_some() && limit.user_id == f.user_id,
            "each_user" => {
                let u = f.user_id?;
                subject = format!("u{u}");
                true
            }
            "each_app" => {
                let a = f.app_id?;
                subject = format!("a{a}");
                true
            }
            "service" => limit.service_id.is_some() && limit.service_id == f.service_id,
            "endpoint" => limit
                .endpoint
                .as_deref()
                .is_some_and(|e| endpoint_matches(e, f.endpoint)),
            "role" => limit.role_id.is_some() && limit.role_id == f.role_id,
            "app" => limit.app_id.is_some() && limit.app_id == f.app_id,
            _ => false,
        };
        if !holds {
            return None;
        }
    }
    (parts.first() == Some(&"instance")).then_some(subject)
}

/// Checks a limit's fields: a known type, the ids its type needs, a positive rate, a known
/// verb. The reason when they do not hold.
pub fn validate(limit: &LimitRecord) -> Result<(), String> {
    if !TYPES.contains(&limit.kind.as_str()) {
        return Err(format!(
            "Unknown limit type '{}'; use one of: {}.",
            limit.kind,
            TYPES.join(", ")
        ));
    }
    if limit.rate < 1 {
        return Err("Field 'rate' must be a positive whole number.".into());
    }
    let parts: Vec<&str> = limit.kind.split('.').collect();
    let needs = |part: &str, field: &str, present: bool| {
        if parts.contains(&part) && !present {
            Err(format!("A limit of type '{}' needs '{field}'.", limit.kind))
        } else {
            Ok(())
        }
    };
    needs("user", "user_id", limit.user_id.is_some())?;
    needs("service", "service_id", limit.service_id.is_some())?;
    needs("role", "role_id", limit.role_id.is_some())?;
    needs("app", "app_id", limit.app_id.is_some())?;
    needs(
        "endpoint",
        "endpoint",
        limit
            .endpoint
            .as_deref()
            .is_some_and(|e| !e.trim().is_empty()),
    )?;
    if let Some(v) = &limit.verb
        && !VERBS.contains(&v.to_ascii_uppercase().as_str())
    {
        return Err(format!(
            "Unknown verb '{v}'; use one of: {}.",
            VERBS.join(", ")
        ));
    }
    Ok(())
}

/// Where a limited request stands: the tightest limit that applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window ends.
    pub reset: u64,
}

/// A request over a limit.
#[derive(Debug, Clone)]
pub struct Exceeded {
    pub state: RateState,
    /// The limits exceeded: (id, name).
    pub limits: Vec<(i64, String)>,
}

/// The active limits (cached until a system change) and their counters.
pub struct Limiter {
    limits: RwLock<Option<Arc<Vec<LimitRecord>>>>,
    counters: Counters,
}

impl Limiter {
    #[must_use]
    pub fn new(counters: Counters) -> Self {
        Self {
            limits: RwLock::new(None),
            counters,
        }
    }

    /// Forgets the cached limits (after a system change).
    pub fn invalidate(&self) {
        *self.limits.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    async fn active(&self, store: &Store) -> Result<Arc<Vec<LimitRecord>>, SystemError> {
        if let Some(l) = self
            .limits
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Ok(l);
        }
        let l: Arc<Vec<LimitRecord>> = Arc::new(
            crate::system::limits::list(store)
                .await?
                .into_iter()
                .filter(|l| l.is_active)
                .collect(),
        );
        *self.limits.write().unwrap_or_else(PoisonError::into_inner) = Some(l.clone());
        Ok(l)
    }

    /// Whether any limit is active (when none is, a request need not be looked at).
    pub async fn any(&self, store: &Store) -> Result<bool, SystemError> {
        Ok(!self.active(store).await?.is_empty())
    }

    /// Counts a request against every limit that applies at `now` (unix seconds): where it
    /// stands (`None`: no limit applies), or which limits it is over.
    pub async fn check(
        &self,
        store: &Store,
        facts: &Facts<'_>,
        now: u64,
    ) -> Result<Result<Option<RateState>, Exceeded>, SystemError> {
        let limits = self.active(store).await?;
        let mut tightest: Option<RateState> = None;
        let mut over = Vec::new();
        let mut over_state: Option<RateState> = None;
        // Counts this request added to limits it is within: taken back if another refuses it.
        let mut within = Vec::new();
        for limit in limits.iter() {
            let Some(subject) = subject(limit, facts) else {
                continue;
            };
            let secs = period_seconds(limit.period);
            let window = now / secs;
            let reset = (window + 1) * secs - now;
            let key = format!("{}:{}:{}", limit.id, subject, window);
            // Counters unreachable: requests go on (limits protect capacity, not data), and
            // while Redis rests after a failure they are not counted (logged once a rest).
            let count = match self.counters.hit(&key, secs).await {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "rate-limit counters unavailable; requests go uncounted for a second");
                    continue;
                }
            };
            let rate = u64::try_from(limit.rate).unwrap_or(u64::MAX);
            let state = RateState {
                limit: rate,
                remaining: rate.saturating_sub(count),
                reset,
            };
            if count > rate {
                over.push((limit.id, limit.name.clone()));
                if over_state.is_none_or(|s| state.reset > s.reset) {
                    over_state = Some(state);
                }
            } else {
                within.push((key, secs));
            }
            if tightest.is_none_or(|t| state.remaining < t.remaining) {
                tightest = Some(state);
            }
        }
        Ok(match over_state {
            Some(state) => {
                // A refused request uses no other budget: a caller over its own limit must
                // not spend the instance's, or a role's, on everyone else.
                if !within.is_empty() {
                    self.counters.take_back(&within).await;
                }
                Err(Exceeded {
                    state,
                    limits: over,
                })
            }
            None => Ok(tightest),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(kind: &str) -> LimitRecord {
        LimitRecord {
            id: 1,
            name: "l".into(),
            rate: 5,
            ..LimitRecord::blank(kind)
        }
    }

    fn facts() -> Facts<'static> {
        Facts {
            user_id: Some(7),
            role_id: Some(3),
            app_id: Some(2),
            service_id: Some(9),
            endpoint: "_table/orders/5",
            verb: "GET",
        }
    }

    #[test]
    fn each_type_applies_to_what_it_names() {
        let f = facts();
        assert_eq!(subject(&limit("instance"), &f), Some(String::new()));
        assert_eq!(subject(&limit("instance.each_user"), &f), Some("u7".into()));
        assert_eq!(subject(&limit("instance.each_app"), &f), Some("a2".into()));
        let mut user = limit("instance.user");
        assert_eq!(subject(&user, &f), None, "no user named");
        user.user_id = Some(7);
        assert_eq!(subject(&user, &f), Some(String::new()));
        user.user_id = Some(8);
        assert_eq!(subject(&user, &f), None);
        let mut ep = limit("instance.each_user.service.endpoint");
        ep.service_id = Some(9);
        ep.endpoint = Some("_table/orders*".into());
        assert_eq!(subject(&ep, &f), Some("u7".into()));
        ep.endpoint = Some("_table/orders".into());
        assert_eq!(subject(&ep, &f), None, "exact endpoint without *");
        let mut role = limit("instance.role");
        role.role_id = Some(3);
        role.verb = Some("POST".into());
        assert_eq!(subject(&role, &f), None, "another verb");
        role.verb = Some("get".into());
        assert_eq!(subject(&role, &f), Some(String::new()));
        let mut off = limit("instance");
        off.is_active = false;
        assert_eq!(subject(&off, &f), None);
        let anonymous = Facts {
            user_id: None,
            ..facts()
        };
        assert_eq!(subject(&limit("instance.each_user"), &anonymous), None);
    }

    #[test]
    fn limits_need_the_ids_their_type_names() {
        assert!(validate(&limit("instance")).is_ok());
        assert!(
            validate(&limit("instance.user"))
                .unwrap_err()
                .contains("user_id")
        );
        assert!(
            validate(&limit("instance.service.endpoint"))
                .unwrap_err()
                .contains("service_id")
        );
        assert!(
            validate(&limit("nonsense"))
                .unwrap_err()
                .contains("Unknown limit type")
        );
        let mut zero = limit("instance");
        zero.rate = 0;
        assert!(validate(&zero).is_err());
        let mut verb = limit("instance");
        verb.verb = Some("TRACE".into());
        assert!(validate(&verb).unwrap_err().contains("verb"));
    }

    #[tokio::test]
    async fn the_request_after_the_rate_is_refused_until_the_window_ends() {
        let limiter = Limiter::new(Counters::memory());
        *limiter.limits.write().unwrap() = Some(Arc::new(vec![limit("instance")]));
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let f = facts();
        for n in 1..=5 {
            let s = limiter
                .check(&store, &f, 125)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(s.remaining, 5 - n);
            assert_eq!(s.reset, 55);
        }
        let over = limiter.check(&store, &f, 130).await.unwrap().unwrap_err();
        assert_eq!(over.state.reset, 50);
        assert_eq!(over.limits, vec![(1, "l".to_owned())]);
        // The next minute starts a new window.
        assert!(limiter.check(&store, &f, 180).await.unwrap().is_ok());
    }
}
