//! The server started in-process (`Application::build` on port 0), as embedders and quick
//! debugging sessions use it.

use rampart_server::config::Config;
use rampart_server::startup::Application;

#[tokio::test]
async fn the_application_builds_and_serves_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_sources(
        "",
        &[
            ("RAMPART_LISTEN".into(), "127.0.0.1:0".into()),
            ("RAMPART_DATA_DIR".into(), dir.path().display().to_string()),
        ],
    )
    .unwrap();
    let app = Application::build(config).await.unwrap();
    let port = app.port();
    let server = tokio::spawn(app.run_until_stopped());
    let body: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/api/v2"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["services"], serde_json::json!([]));
    assert_eq!(
        reqwest::get(format!("http://127.0.0.1:{port}/health"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        dir.path().join("master.key").exists(),
        "a master key was generated"
    );
    server.abort();
}
