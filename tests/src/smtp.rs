//! A real SMTP server (aiosmtpd, `tests/mail/smtp_sink.py`) that keeps what it receives.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// A running sink; killed when dropped.
pub struct SmtpSink {
    pub port: u16,
    child: Child,
    received: Arc<Mutex<Vec<Value>>>,
}

impl SmtpSink {
    /// Starts the sink.
    #[must_use]
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts a sink that accepts mail only after this login (`user`, `password`).
    #[must_use]
    pub fn start_with_login(user: &str, password: &str) -> Self {
        Self::start_with(Some(format!("{user}:{password}")))
    }

    fn start_with(login: Option<String>) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("../target/ci-venv/bin/python3");
        let mut child = Command::new(&python)
            .arg(root.join("mail/smtp_sink.py"))
            .args(login)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "start {} (run scripts/setup-test-env.sh): {e}",
                    python.display()
                )
            });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("listening ")
                    .and_then(|p| p.trim().parse().ok())
            })
            .expect("the SMTP sink did not start");
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().map(|mut s| s.push(v)).ok();
                }
            }
        });
        Self {
            port,
            child,
            received,
        }
    }

    /// The server environment that sends mail here.
    #[must_use]
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("RAMPART_SMTP__HOST".into(), "127.0.0.1".into()),
            ("RAMPART_SMTP__PORT".into(), self.port.to_string()),
            ("RAMPART_SMTP__TLS".into(), "none".into()),
            (
                "RAMPART_SMTP__FROM".into(),
                "Rampart <rampart@example.com>".into(),
            ),
        ]
    }

    /// Every message received so far for `to`, as sent (headers and body).
    #[must_use]
    pub fn messages_to(&self, to: &str) -> Vec<String> {
        self.received
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|m| {
                        m["to"]
                            .as_array()
                            .is_some_and(|t| t.iter().any(|x| x == to))
                    })
                    .filter_map(|m| m["data"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits (at most ten seconds) for the `n`-th message to `to`.
    pub async fn wait_for(&self, to: &str, n: usize) -> Option<String> {
        for _ in 0..100 {
            if let Some(m) = self.messages_to(to).get(n - 1) {
                return Some(m.clone());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
