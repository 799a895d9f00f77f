//! Permission-change alerts: every change to roles (their access rows, field rules and row
//! filters), apps, users and admins (their roles), services (identity providers included),
//! limits, OAuth clients (each acts for an app) and grants (made at the token endpoint, or
//! ended by an admin, their person, their client or Rampart itself), and imports of roles and
//! services is POSTed as JSON to the configured webhook, signed with HMAC-SHA256, and retried
//! with back-off until the receiver takes it (2xx). Alerts go out one at a time, in order.
//!
//! Signature: `X-Rampart-Signature: sha256=<hex>` over `"{X-Rampart-Timestamp}.{body}"`, so a
//! receiver can refuse old or altered deliveries.

use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// System resources whose changes alter who may do what.
pub const WATCHED: &[&str] = &[
    "role",
    "app",
    "user",
    "admin",
    "service",
    "limit",
    "oauth_client",
    "oauth_grant",
];

/// Alerts waiting for delivery, at most; beyond that they are logged and dropped.
const QUEUE: usize = 10_000;

/// The sending side (absent when no webhook is configured).
#[derive(Default)]
pub struct Alerts {
    tx: Option<mpsc::Sender<Value>>,
    /// The deliverer, awaited by `finish`.
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The signature of a delivery.
#[must_use]
pub fn signature(secret: &[u8], timestamp: i64, body: &str) -> String {
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "sha256={}",
        crate::system::crypto::hex(&mac.finalize().into_bytes())
    )
}

impl Alerts {
    /// Starts the deliverer when `config` names a webhook.
    #[must_use]
    pub fn start(config: &crate::config::Alerts) -> Self {
        let Some(url) = config.webhook_url.clone() else {
            return Self::default();
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(deliver(
            url,
            config.secret.clone(),
            Duration::from_millis(config.retry_initial_ms.max(1)),
            config.max_attempts.max(1),
            rx,
        ));
        Self {
            tx: Some(tx),
            task: Some(task),
        }
    }

    /// Takes no more alerts and waits, at most `within`, until those queued are delivered or
    /// given up (a command that ends right after a change).
    pub async fn finish(mut self, within: Duration) {
        self.tx = None;
        if let Some(task) = self.task.take()
            && tokio::time::timeout(within, task).await.is_err()
        {
            tracing::error!(
                "permission-change alerts were still undelivered when the command ended"
            );
        }
    }

    /// Whether alerts are sent (a webhook is configured).
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues the alert for a change.
    pub fn permission_change(&self, change: &PermissionChange<'_>) {
        let Some(tx) = &self.tx else {
            return;
        };
        let alert = json!({
            "event": "permission_change", "time": chrono::Utc::now().to_rfc3339(),
            "request_id": change.request_id, "method": change.method,
            "resource": change.resource, "ids": change.ids, "actor": change.actor,
            "before": change.before, "after": change.after,
        });
        if tx.try_send(alert).is_err() {
            tracing::error!("the permission-change alert queue is full; an alert was dropped");
        }
    }
}

/// A change to who may do what, as its alert tells it.
pub struct PermissionChange<'a> {
    /// The request that made it (its audit event), if a request made it.
    pub request_id: Option<&'a str>,
    pub method: Option<&'a str>,
    /// The system resource changed (`role`, `oauth_grant`, …) and the records' ids.
    pub resource: &'a str,
    pub ids: &'a [i64],
    /// Who made it (`user_id`, `email`); null when Rampart made it itself, such as ending a
    /// grant whose refresh token was used twice (the grant's `revoked_reason` says why).
    pub actor: Option<Value>,
    /// What the records were and became (null for a record made or deleted).
    pub before: &'a Value,
    pub after: &'a Value,
}

async fn deliver(
    url: String,
    secret: Option<SecretString>,
    first_wait: Duration,
    attempts: u32,
    mut rx: mpsc::Receiver<Value>,
) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "permission-change alerts cannot be sent");
            return;
        }
    };
    while let Some(alert) = rx.recv().await {
        let body = alert.to_string();
        let mut wait = first_wait;
        for attempt in 1..=attempts {
            let timestamp = chrono::Utc::now().timestamp();
            let mut req = http
                .post(&url)
                .header("Content-Type", "application/json")
                .header("X-Rampart-Timestamp", timestamp.to_string())
                .body(body.clone());
            if let Some(s) = &secret {
                req = req.header(
                    "X-Rampart-Signature",
                    signature(s.expose_secret().as_bytes(), timestamp, &body),
                );
            }
            match req.send().await {
                Ok(res) if res.status().is_success() => break,
                Ok(res) => {
                    tracing::warn!(status = %res.status(), attempt, "the alert webhook refused an alert; retrying");
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "the alert webhook is unreachable; retrying");
                }
            }
            if attempt == attempts {
                tracing::error!(
                    attempts,
                    "a permission-change alert was given up after its last attempt"
                );
                break;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(300));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_and_body() {
        // The expected value was computed independently, with Python's hmac module.
        assert_eq!(
            signature(b"key", 1, "{}"),
            "sha256=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
        assert_ne!(signature(b"key", 2, "{}"), signature(b"key", 1, "{}"));
    }
}
