//! A real MCP client for the bridge: the official Python SDK (`tests/mcp/drive.py`, run
//! with the virtualenv `scripts/setup-test-env.sh` makes), launching `rampart-mcp` over stdio
//! as a desktop agent would, or speaking Streamable HTTP to the server's `/mcp`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The Python that has the MCP SDK: `RAMPART_TEST_PYTHON`, else the CI virtualenv.
#[must_use]
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("RAMPART_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ci-venv/bin/python3");
    assert!(
        venv.exists(),
        "{} is missing: run `bash scripts/setup-test-env.sh` (it installs the MCP SDK)",
        venv.display()
    );
    venv
}

/// What a session saw: the tools listed and each call's result (MCP's JSON shapes).
#[derive(Debug)]
pub struct Session {
    pub tools: Vec<Value>,
    pub results: Vec<Value>,
    pub raw: Value,
}

impl Session {
    /// The names of the tools listed, in order.
    #[must_use]
    pub fn tool_names(&self) -> Vec<String> {
        self.tools
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// A listed tool.
    #[must_use]
    pub fn tool(&self, name: &str) -> &Value {
        self.tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("tool {name} is not listed: {:?}", self.tool_names()))
    }
}

/// Runs `calls` (`[{"tool","args"}]`) through `rampart-mcp` over stdio against the server at
/// `base`, with `env` (the credential) as the bridge's environment.
#[must_use]
pub fn stdio(base: &str, env: &[(&str, &str)], calls: &Value) -> Session {
    let mut cmd = client("stdio", &crate::app::built("rampart-mcp").to_string_lossy());
    cmd.env("RAMPART_URL", base);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, calls)
}

/// Runs `calls` against the server's own `/mcp` endpoint over Streamable HTTP, sending
/// `headers` (the credential) with every request.
#[must_use]
pub fn http(base: &str, headers: &Value, calls: &Value) -> Session {
    let mut cmd = client("http", &format!("{base}/mcp"));
    cmd.env("MCP_HEADERS", headers.to_string());
    run(cmd, calls)
}

/// Runs `calls` against `/mcp` at `url` as a remote agent that knows only that URL: the
/// Python SDK's OAuth client discovers, authorizes (the person's sign-in and consent done by
/// form posts; `env` names the client, redirect URI, login and password, see
/// `tests/mcp/oauth_drive.py`), exchanges and refreshes tokens.
#[must_use]
pub fn oauth(url: &str, env: &[(&str, &str)], calls: &Value) -> Session {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("mcp/oauth_drive.py");
    let mut cmd = Command::new(python());
    cmd.arg(script)
        .arg(url)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, calls)
}

fn client(mode: &str, target: &str) -> Command {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("mcp/drive.py");
    let mut cmd = Command::new(python());
    cmd.arg(script)
        .arg(mode)
        .arg(target)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run(mut cmd: Command, calls: &Value) -> Session {
    let mut child = cmd.spawn().expect("start the MCP client");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(calls.to_string().as_bytes())
        .expect("send the calls");
    let out = child.wait_with_output().expect("MCP client output");
    assert!(
        out.status.success(),
        "the MCP client failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let raw: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the MCP client printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    Session {
        tools: raw["tools"].as_array().cloned().unwrap_or_default(),
        results: raw["results"].as_array().cloned().unwrap_or_default(),
        raw,
    }
}
