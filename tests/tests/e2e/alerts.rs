//! Permission-change alerts: a change to a role reaches a real webhook receiver signed with
//! HMAC-SHA256, with before and after, and is retried until a receiver that was down comes up.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use rampart_tests::Options;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::Shop;

pub(crate) const SECRET: &str = "alert-secret-51d0";

/// A running receiver and what it received.
pub(crate) struct Receiver {
    child: Child,
    got: Arc<Mutex<Vec<Value>>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_receiver(port: u16) -> Receiver {
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

/// A receiver listening, and a shop whose alerts go to it.
async fn shop_with_receiver() -> (Receiver, Shop) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let receiver = start_receiver(port);
    let shop = Shop::with(&Options {
        env: vec![
            (
                "RAMPART_ALERTS__WEBHOOK_URL".into(),
                format!("http://127.0.0.1:{port}/hooks/rampart"),
            ),
            ("RAMPART_ALERTS__SECRET".into(), SECRET.into()),
        ],
    })
    .await;
    (receiver, shop)
}

async fn received(r: &Receiver, n: usize) -> Vec<Value> {
    received_until(r, |got| got.len() >= n).await
}

/// What the receiver got once `enough` holds of it (or after 15 s).
pub(crate) async fn received_until(r: &Receiver, enough: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..300 {
        let got = r.got.lock().unwrap().clone();
        if enough(&got) {
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

/// Every path that changes who may do what alerts, with before and after: limits, OAuth
/// clients (each acts for an app), and imports of roles and services (what the import found
/// and what it left). A dry run changes nothing and sends nothing.
#[tokio::test]
async fn limits_oauth_clients_and_imports_alert_with_before_and_after() {
    let (receiver, shop) = shop_with_receiver().await;
    let admin = &shop.admin;
    let role = admin
        .create_role("support", &[(shop.service_id, "_table/orders/*", 1)])
        .await;
    let (app, _) = admin.create_app("agents", Some(role)).await;
    // The fixture's service, the role, the app.
    assert_eq!(received(&receiver, 3).await.len(), 3);

    let r = admin
        .post(
            "/api/v2/system/limit",
            json!({"resource": [{"name": "agents-per-minute", "type": "instance.app", "app_id": app,
                "rate": 60, "period": "minute"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let limit = r.body["resource"][0]["id"].as_i64().unwrap();
    let r = admin
        .patch(
            &format!("/api/v2/system/limit/{limit}"),
            json!({"rate": 600}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = admin
        .post(
            "/api/v2/system/oauth_client",
            json!({"resource": [{"name": "Desk agent", "app_id": app,
                "redirect_uris": ["http://127.0.0.1:9/callback"]}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let got = received(&receiver, 6).await;
    assert_eq!(got.len(), 6, "{got:?}");
    assert!(got.iter().all(|d| d["valid"] == true), "{got:?}");
    let (created, raised, client) = (&got[3]["body"], &got[4]["body"], &got[5]["body"]);
    assert_eq!(created["resource"], "limit");
    assert_eq!(created["after"]["rate"], 60, "{created}");
    assert_eq!(raised["before"]["rate"], 60, "{raised}");
    assert_eq!(raised["after"]["rate"], 600, "{raised}");
    assert_eq!(client["resource"], "oauth_client");
    assert_eq!(client["after"]["app_id"], app, "{client}");

    // An import that changes the role and adds another: first as a dry run.
    let mut doc = admin.get("/api/v2/system/export").await.body;
    let roles = doc["roles"].as_array_mut().unwrap();
    roles[0]["description"] = json!("imported");
    let mut second = roles[0].clone();
    second["name"] = json!("auditors");
    roles.push(second);
    let dry = admin
        .post("/api/v2/system/import?dry_run=true", doc.clone())
        .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.text);
    let done = admin.post("/api/v2/system/import", doc).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let got = received(&receiver, 7).await;
    let import = &got[6]["body"];
    assert_eq!(
        import["resource"], "import",
        "the dry run sent nothing: {got:?}"
    );
    let names = |side: &str| -> Vec<(Value, Value)> {
        import[side]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].clone(), r["description"].clone()))
            .collect()
    };
    assert_eq!(names("before"), [(json!("support"), Value::Null)]);
    assert_eq!(
        names("after"),
        [
            (json!("support"), json!("imported")),
            (json!("auditors"), json!("imported"))
        ]
    );
    assert_eq!(import["before"]["services"][0]["name"], "db");
    assert!(
        !import.to_string().contains("unused-with-trust-auth"),
        "no secret: {import}"
    );

    // The audit trail holds the same before and after (its events are stored a moment after
    // their responses).
    let mut events = Vec::new();
    for _ in 0..100 {
        let r = admin
            .get_with(
                "/api/v2/system/audit",
                &[("filter", "resource = 'import'"), ("order", "id asc")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        events = r.body["resource"].as_array().unwrap().clone();
        if events.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(events.len(), 2, "the dry run and the import");
    // Alerts go out in order, and the import's came before the last events were stored.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        receiver.got.lock().unwrap().len(),
        7,
        "one alert per import"
    );
    assert_eq!(
        events[0]["changes"],
        Value::Null,
        "a dry run changes nothing"
    );
    assert_eq!(events[1]["changes"]["after"], import["after"]);
}

/// An admin created from the command line is a change like any other: one audit event
/// (transport `cli`) chained with the server's own, and its alert, delivered before the
/// command ends.
#[tokio::test]
async fn an_admin_created_from_the_command_line_is_audited_and_alerted() {
    let (receiver, shop) = shop_with_receiver().await;
    let out = shop.app.run(&[
        "admin",
        "create",
        "--email",
        "night-ops@example.com",
        "--password",
        "quiet-harbour-lantern-58",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = received_until(&receiver, |got| {
        got.iter().any(|d| d["body"]["resource"] == "admin")
    })
    .await;
    let delivery = got
        .iter()
        .find(|d| d["body"]["resource"] == "admin")
        .unwrap_or_else(|| panic!("no alert for the new admin: {got:?}"));
    assert_eq!(delivery["valid"], true, "{delivery}");
    let alert = &delivery["body"];
    assert_eq!(alert["method"], "admin create");
    assert_eq!(alert["before"], Value::Null);
    assert_eq!(alert["after"]["email"], "night-ops@example.com");
    assert_eq!(alert["actor"], json!({"cli": true}));
    assert!(!alert.to_string().contains("quiet-harbour"), "{alert}");

    let event = crate::audit::event_of(&shop.admin, alert["request_id"].as_str().unwrap()).await;
    assert_eq!(event["transport"], "cli");
    assert_eq!(event["kind"], "change");
    assert_eq!(event["resource"], "admin");
    assert_eq!(event["changes"]["after"]["id"], alert["ids"][0]);
    let verify = shop.app.run(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "the command's event is chained with the server's: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
