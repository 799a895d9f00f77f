//! Starts the real `rampart` binary (`RAMPART_BIN`, else the workspace's
//! `target/debug/rampart`) on a free port with its own data dir, waits for its
//! "listening on" line, and kills it when dropped. Its log is printed if a test fails.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The first admin of every test app.
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct-horse-battery";

/// A running server.
pub struct TestApp {
    pub base: String,
    pub data_dir: tempfile::TempDir,
    child: Child,
    log: Arc<Mutex<String>>,
    env: Vec<(String, String)>,
}

/// Path of the binary under test.
#[must_use]
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("RAMPART_BIN") {
        return PathBuf::from(p);
    }
    built("rampart")
}

/// A binary of this workspace's debug build.
#[must_use]
pub fn built(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bin rampart --bin rampart-mcp` first",
        path.display()
    );
    path
}

/// Options for a test server.
#[derive(Default, Clone)]
pub struct Options {
    /// Extra environment (e.g. `RAMPART_SYSTEM_DATABASE_URL`).
    pub env: Vec<(String, String)>,
}

/// Two servers on one PostgreSQL system store with one master key of their own, as nodes of
/// one installation run in production; `extra` adds environment to both.
#[must_use]
pub fn two_nodes(store: &crate::TestDb, extra: &[(&str, &str)]) -> (TestApp, TestApp) {
    use base64::Engine;
    let key: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
        .iter()
        .flat_map(|u| *u.as_bytes())
        .collect();
    let mut env = vec![
        ("RAMPART_SYSTEM_DATABASE_URL".to_owned(), store.url()),
        (
            "RAMPART_MASTER_KEY".to_owned(),
            base64::engine::general_purpose::STANDARD.encode(key),
        ),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let options = Options { env };
    (spawn_with(&options), spawn_with(&options))
}

/// Starts a server with default options.
pub fn spawn_app() -> TestApp {
    spawn_with(&Options::default())
}

/// Starts a server.
pub fn spawn_with(options: &Options) -> TestApp {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(binary());
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RAMPART_LISTEN", "127.0.0.1:0")
        .env("RAMPART_DATA_DIR", data_dir.path())
        .env("RAMPART_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("RAMPART_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "info,sqlx=warn")
        .current_dir(data_dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &options.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start rampart");
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().expect("stderr");
    let log_err = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log_err
                .lock()
                .map(|mut l| {
                    l.push_str(&line);
                    l.push('\n');
                })
                .ok();
        }
    });
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut base = None;
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        log.lock()
            .map(|mut l| {
                l.push_str(&line);
                l.push('\n');
            })
            .ok();
        if let Some(url) = line.strip_prefix("Rampart listening on ") {
            base = Some(url.trim().to_owned());
            break;
        }
    }
    let log_out = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            log_out
                .lock()
                .map(|mut l| {
                    l.push_str(&line);
                    l.push('\n');
                })
                .ok();
        }
    });
    let Some(base) = base else {
        let _ = child.wait();
        std::thread::sleep(std::time::Duration::from_millis(200));
        panic!(
            "rampart did not start; its output:\n{}",
            log.lock().map(|l| l.clone()).unwrap_or_default()
        );
    };
    TestApp {
        base,
        data_dir,
        child,
        log,
        env: options.env.clone(),
    }
}

impl TestApp {
    /// Runs another `rampart` command (`keys rotate`, …) on this server's data and config.
    #[must_use]
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(binary())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RAMPART_DATA_DIR", self.data_dir.path())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(self.data_dir.path())
            .output()
            .expect("run rampart")
    }

    /// Stops the server as an operator does (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        self.child.wait().expect("wait for rampart")
    }

    /// Everything the server printed so far.
    #[must_use]
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            std::thread::sleep(std::time::Duration::from_millis(100));
            eprintln!("---- rampart log ----\n{}", self.log());
        }
    }
}
