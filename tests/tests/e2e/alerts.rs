//! Permission-change alerts: a change to a role reaches a real webhook receiver signed with
//! HMAC-SHA256, with before and after, and is retried until a receiver that was down comes up.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use rampart_tests::Options;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::Shop;

const SECRET: &str = "alert-secret-51d0";

/// A running receiver and what it received.
struct Receiver {
    child: Child,
    got: Arc<Mutex<Vec<Value>>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_receiver(port: u16) -> Receiver {
    let mut child = Command::new(rampart_tests::mcp::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/webhook/receiver.py"))
        .arg(port.to_string())
        .arg(SECRET)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the receiver");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.starts_with("listening")),
        "the receiver did not start"
    );
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&got);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                sink.lock().unwrap().push(v);
            }
        }
    });
    Receiver { child, got }
}

async fn received(r: &Receiver, n: usize) -> Vec<Value> {
    for _ in 0..300 {
        let got = r.got.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    r.got.lock().unwrap().clone()
}

#[tokio::test]
async fn a_role_change_reaches_the_webhook_signed_and_is_retried_while_it_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shop = Shop::with(&Options {
        env: vec![
            (
                "RAMPART_ALERTS__WEBHOOK_URL".into(),
                format!("http://127.0.0.1:{port}/hooks/rampart"),
            ),
            ("RAMPART_ALERTS__SECRET".into(), SECRET.into()),
            ("RAMPART_ALERTS__RETRY_INITIAL_MS".into(), "200".into()),
        ],
    })
    .await;
    // The receiver is down: the service created by the fixture is waiting to be delivered.
    let r = shop
        .admin
        .post(
            "/api/v2/system/role",
            json!({"resource": [{"name": "auditors", "description": "reads the trail"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let role = r.body["resource"][0]["id"].as_i64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let receiver = start_receiver(port);
    let got = received(&receiver, 2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|d| d["valid"] == true), "{got:?}");
    assert!(got.iter().all(|d| d["path"] == "/hooks/rampart"));
    assert_eq!(got[0]["body"]["resource"], "service");
    let alert = &got[1]["body"];
    assert_eq!(alert["event"], "permission_change");
    assert_eq!(alert["resource"], "role");
    assert_eq!(alert["ids"], json!([role]));
    assert_eq!(alert["before"], Value::Null);
    assert_eq!(alert["after"]["name"], "auditors");
    assert_eq!(alert["actor"]["email"], rampart_tests::app::ADMIN_EMAIL);

    // An update carries before and after; reads send nothing.
    assert_eq!(
        shop.admin.get("/api/v2/system/role").await.status,
        StatusCode::OK
    );
    let r = shop
        .admin
        .patch(
            &format!("/api/v2/system/role/{role}"),
            json!({"description": "reads and exports the trail"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let got = received(&receiver, 3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[2]["body"]["before"]["description"], "reads the trail");
    assert_eq!(
        got[2]["body"]["after"]["description"],
        "reads and exports the trail"
    );
    assert!(got[2]["valid"] == true);
    // A forged or stale signature would not verify: the receiver checks the HMAC itself.
    assert!(
        got[2]["headers"]["x-rampart-signature"]
            .as_str()
            .unwrap()
            .starts_with("sha256=")
    );
}
