//! `/metrics`: Prometheus text that the official client's parser reads, with request counts
//! and latency histograms by service, table and status, the audit queue and pool gauges;
//! served to this machine, or to a scraper holding `metrics.token`.

use std::io::Write;
use std::process::{Command, Stdio};

use rampart_tests::Options;
use reqwest::StatusCode;
use serde_json::Value;

use crate::fixture::Shop;

/// The samples of a document, as the Prometheus client library's parser reads them.
fn parse(text: &str) -> Vec<Value> {
    let mut child = Command::new(rampart_tests::mcp::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/metrics/parse.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the parser");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the document: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The server's `/metrics` document (asked from this machine) and its samples.
pub(crate) async fn scrape(base: &str) -> (String, Vec<Value>) {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let samples = parse(&text);
    (text, samples)
}

pub(crate) fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .and_then(|s| s["value"].as_f64())
}

#[tokio::test]
async fn metrics_parse_and_count_requests_by_service_table_and_status() {
    let shop = Shop::new().await;
    let reader = shop.client_with("reader", &[("_table/orders/*", 1)]).await;
    for _ in 0..3 {
        assert_eq!(
            reader.get("/api/v2/db/_table/orders").await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        reader.get("/api/v2/db/_table/customers").await.status,
        StatusCode::FORBIDDEN
    );
    let (text, samples) = scrape(&shop.app.base).await;
    let orders = [("service", "db"), ("table", "orders"), ("status", "200")];
    assert_eq!(
        value(&samples, "rampart_http_requests_total", &orders),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            "rampart_http_request_duration_seconds_count",
            &orders
        ),
        Some(3.0)
    );
    let mut inf = orders.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(
        value(
            &samples,
            "rampart_http_request_duration_seconds_bucket",
            &inf
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &samples,
            "rampart_http_requests_total",
            &[("table", "customers"), ("status", "403")]
        ),
        Some(1.0)
    );
    assert!(value(&samples, "rampart_audit_queue_depth", &[]).is_some());
    assert!(
        value(
            &samples,
            "rampart_db_pool_max_connections",
            &[("service", "db")]
        )
        .is_some(),
        "{text}"
    );
}

#[tokio::test]
async fn with_a_token_metrics_go_only_to_the_scraper_holding_it() {
    let shop = Shop::with(&Options {
        env: vec![("RAMPART_METRICS__TOKEN".into(), "scrape-token-7c1e".into())],
    })
    .await;
    let url = format!("{}/metrics", shop.app.base);
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(&url).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        http.get(&url)
            .bearer_auth("wrong-token")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let ok = http
        .get(&url)
        .bearer_auth("scrape-token-7c1e")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    parse(&ok.text().await.unwrap());
}

#[tokio::test]
async fn requests_refused_because_the_audit_queue_is_full_are_counted() {
    // A queue of one event and `fail_closed`: concurrent requests find it full and are refused
    // with 503 rather than run unaudited; the metrics must still count each refusal.
    let app = rampart_tests::spawn_with(&Options {
        env: vec![
            ("RAMPART_AUDIT__QUEUE".into(), "1".into()),
            ("RAMPART_AUDIT__FAIL_CLOSED".into(), "true".into()),
        ],
    });
    let http = reqwest::Client::new();
    let url = format!("{}/api/v2/system/environment", app.base);
    let mut refused = 0;
    for _ in 0..20 {
        let burst: Vec<_> = (0..32)
            .map(|_| {
                let req = http.get(&url);
                tokio::spawn(async move {
                    let r = req.send().await.unwrap();
                    (r.status(), r.text().await.unwrap())
                })
            })
            .collect();
        for task in burst {
            let (status, body) = task.await.unwrap();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                refused += 1;
                let body: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(body["error"]["status_code"], 503, "{body}");
            }
        }
        if refused > 0 {
            break;
        }
    }
    assert!(
        refused > 0,
        "32 concurrent requests never filled a queue of one"
    );
    let (text, samples) = scrape(&app.base).await;
    let counted: f64 = samples
        .iter()
        .filter(|s| s["name"] == "rampart_http_requests_total" && s["labels"]["status"] == "503")
        .filter_map(|s| s["value"].as_f64())
        .sum();
    assert_eq!(counted, f64::from(refused), "{text}");
}

/// `/ready` is ready when the system store and every active database service answer (one
/// not connected yet is connected), and says which does not: by name to the scraper holding
/// `metrics.token`, by count to anyone else (a 503 takes the node out of a load balancer's
/// rotation); a service switched off is not waited for.
#[tokio::test]
async fn ready_checks_the_store_and_each_active_service() {
    let shop = Shop::with(&Options {
        env: vec![("RAMPART_METRICS__TOKEN".into(), "scrape-token-7c1e".into())],
    })
    .await;
    let anyone = rampart_tests::Client::new(&shop.app);
    let scraper = rampart_tests::Client::new(&shop.app).with_bearer("scrape-token-7c1e");
    let r = scraper.get("/ready").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["checks"]["system_store"], "ready");
    assert_eq!(r.body["checks"]["services"]["db"], "ready", "{}", r.text);

    // A second service is connected by the check; then its database goes away.
    let elsewhere = rampart_tests::TestDb::empty().await;
    let gone = shop
        .admin
        .create_service("gone", elsewhere.service_config())
        .await;
    let r = scraper.get("/ready").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["checks"]["services"]["gone"], "ready", "{}", r.text);
    drop(elsewhere);
    let r = scraper.get("/ready").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.body["status"], "unavailable");
    assert_eq!(r.body["checks"]["services"]["gone"], "unavailable");
    assert_eq!(r.body["checks"]["services"]["db"], "ready");
    assert!(!r.text.contains("password"), "{}", r.text);
    // Anyone else learns that one service is down, not which.
    let r = anyone.get("/ready").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(
        r.body["checks"]["services"],
        serde_json::json!({"ready": 1, "unavailable": 1})
    );
    assert!(!r.text.contains("gone"), "{}", r.text);

    let r = shop
        .admin
        .patch(
            &format!("/api/v2/system/service/{gone}"),
            serde_json::json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = scraper.get("/ready").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["checks"]["services"].get("gone"), None);
}
