//! Login throttling: failed sign-ins counted per account and per client address over a
//! sliding window. Past a limit, further attempts for that account (or from that address) are
//! refused without checking the password, until the oldest failure leaves the window; other
//! accounts are unaffected. A successful sign-in clears its account's count.
//!
//! Counts live in this process (one instance's view). Pure apart from the clock passed in.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many keys are tracked before old entries are swept.
const SWEEP_AT: usize = 100_000;

/// The limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub window: Duration,
    pub per_account: usize,
    pub per_address: usize,
}

/// Failed sign-ins by key (`account:…` or `address:…`).
#[derive(Debug)]
pub struct Throttle {
    limits: Limits,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn account_key(account: &str) -> String {
    format!("account:{}", account.trim().to_lowercase())
}

fn address_key(address: &str) -> String {
    format!("address:{address}")
}

impl Throttle {
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` to wait when the account or the address is over its limit.
    pub fn check(&self, account: &str, address: &str, now: Instant) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let mut wait = None::<Duration>;
        for (key, limit) in [
            (account_key(account), self.limits.per_account),
            (address_key(address), self.limits.per_address),
        ] {
            if let Some(times) = map.get_mut(&key) {
                prune(times, now, self.limits.window);
                if times.len() >= limit
                    && let Some(oldest) = times.front()
                {
                    let left = self.limits.window.saturating_sub(now - *oldest);
                    wait = Some(wait.map_or(left, |w| w.max(left)));
                }
            }
        }
        match wait {
            // Whole seconds, rounded up, at least one.
            Some(w) => Err((w.as_secs() + u64::from(w.subsec_nanos() > 0)).max(1)),
            None => Ok(()),
        }
    }

    /// Records a failed sign-in.
    pub fn fail(&self, account: &str, address: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= SWEEP_AT {
            let window = self.limits.window;
            map.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
        }
        for key in [account_key(account), address_key(address)] {
            let times = map.entry(key).or_default();
            prune(times, now, self.limits.window);
            times.push_back(now);
        }
    }

    /// Records a successful sign-in: the account starts afresh.
    pub fn succeed(&self, account: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&account_key(account));
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(Limits {
            window: Duration::from_secs(60),
            per_account: 20,
            per_address: 50,
        })
    }

    #[test]
    fn twenty_failures_lock_the_account_until_the_oldest_leaves_the_window() {
        let t = throttle();
        let start = Instant::now();
        for i in 0..20 {
            assert_eq!(t.check("Jane@x.org", "10.0.0.1", start), Ok(()));
            t.fail("jane@x.org", "10.0.0.1", start + Duration::from_secs(i));
        }
        let now = start + Duration::from_secs(30);
        assert_eq!(t.check("jane@x.org", "10.0.0.9", now), Err(30));
        assert_eq!(t.check("john@x.org", "10.0.0.9", now), Ok(()));
        assert_eq!(
            t.check("jane@x.org", "10.0.0.9", start + Duration::from_secs(60)),
            Ok(())
        );
    }

    #[test]
    fn one_address_failing_on_many_accounts_is_held_back_too() {
        let t = throttle();
        let now = Instant::now();
        for i in 0..50 {
            t.fail(&format!("user{i}@x.org"), "10.0.0.1", now);
        }
        assert!(t.check("new@x.org", "10.0.0.1", now).is_err());
        assert_eq!(t.check("new@x.org", "10.0.0.2", now), Ok(()));
    }

    #[test]
    fn a_success_clears_the_account() {
        let t = throttle();
        let now = Instant::now();
        for _ in 0..19 {
            t.fail("jane@x.org", "a", now);
        }
        t.succeed("jane@x.org");
        t.fail("jane@x.org", "a", now);
        assert_eq!(t.check("jane@x.org", "b", now), Ok(()));
    }
}
