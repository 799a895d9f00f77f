//! How long a change made through one node takes to hold on another sharing its PostgreSQL
//! system store: a role is deactivated through node A while a client polls node B with a key
//! of that role, and the time until B refuses is measured (and again after re-activation).
//! Run through `bench/nodes.sh` (release build).
//!
//! Usage: nodes-bench [ROUNDS] (default 20).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark prints its figures and stops at the first surprise"
)]

use std::time::{Duration, Instant};

use rampart_tests::app::two_nodes;
use rampart_tests::{Client, TestDb};
use reqwest::StatusCode;
use serde_json::json;

/// Polls `client` on `path` until the status is (or is not) `refused`; how long it took.
async fn until(client: &Client, path: &str, refused: bool) -> Duration {
    let start = Instant::now();
    loop {
        let status = client.get(path).await.status;
        if (status == StatusCode::FORBIDDEN) == refused {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no change after 10 s"
        );
    }
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let store = TestDb::empty().await;
    let data = TestDb::shop().await;
    let (a, b) = two_nodes(&store, &[]);
    let admin = Client::admin(&a).await;
    let service = admin.create_service("db", data.service_config()).await;
    let role = admin
        .create_role("reader", &[(service, "_table/products/*", 1)])
        .await;
    let (_, key) = admin.create_app("reader", Some(role)).await;
    let on_b = Client::new(&b).with_key(&key);
    let path = "/api/v2/db/_table/products?limit=1";
    until(&on_b, path, false).await;
    let mut revoked = Vec::new();
    for _ in 0..rounds {
        let sent = Instant::now();
        let r = admin
            .patch(
                &format!("/api/v2/system/role/{role}"),
                json!({"is_active": false}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        until(&on_b, path, true).await;
        revoked.push(sent.elapsed());
        let r = admin
            .patch(
                &format!("/api/v2/system/role/{role}"),
                json!({"is_active": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        until(&on_b, path, false).await;
    }
    revoked.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "role deactivated on A → refused on B: min {:.1} ms, median {:.1} ms, max {:.1} ms ({} rounds)",
        ms(revoked[0]),
        ms(revoked[revoked.len() / 2]),
        ms(revoked[revoked.len() - 1]),
        revoked.len()
    );
}
