//! Tidy checks: the architecture's import and hygiene rules, enforced by tests.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .display()
        .to_string()
        .trim_start_matches("../")
        .to_owned()
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    for dir in [
        "api-server/src",
        "mcp-bridge/src",
        "schema/src",
        "tests/src",
    ] {
        for f in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(
                text.starts_with("//!"),
                "{} must start with a `//!` paragraph saying its job",
                rel(&f)
            );
        }
    }
}

#[test]
fn raw_sql_lives_only_in_the_statement_module() {
    for f in rust_files(&root().join("api-server/src")) {
        let text = std::fs::read_to_string(&f).unwrap();
        if f.ends_with("statement.rs") {
            continue;
        }
        // `rusqlite::Connection`: the audit writer's own SQLite connection is opened there
        // (`OwnSqlite`), which prepares only rendered templates.
        for banned in [
            "AssertSqlSafe",
            "raw_sql",
            "sqlx::query(",
            "query_with(",
            "rusqlite::Connection",
            "execute_batch(",
        ] {
            if banned == "sqlx::query(" && f.ends_with("system/store.rs") {
                // The store's static migration bookkeeping queries are &'static str.
                continue;
            }
            assert!(
                !text.contains(banned),
                "{} uses {banned}; dynamic SQL goes through statement.rs",
                rel(&f)
            );
        }
    }
}

#[test]
fn only_config_reads_the_environment() {
    for f in rust_files(&root().join("api-server/src")) {
        let text = std::fs::read_to_string(&f).unwrap();
        if f.ends_with("config.rs") {
            continue;
        }
        assert!(
            !text.contains("std::env::var"),
            "{} reads the environment; only config.rs may",
            rel(&f)
        );
    }
}

#[test]
fn pure_modules_import_no_web_framework_database_or_runtime() {
    let pure = [
        "api-server/src/filter",
        "api-server/src/request",
        "api-server/src/rbac",
        "api-server/src/openapi",
        "api-server/src/query/plan.rs",
        "api-server/src/query/sql.rs",
        "api-server/src/query/nested.rs",
        "api-server/src/query/write.rs",
        "api-server/src/query/routine.rs",
    ];
    for p in pure {
        let path = root().join(p);
        let files = if path.is_dir() {
            rust_files(&path)
        } else {
            vec![path]
        };
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for banned in ["actix_web", "sqlx", "tokio"] {
                assert!(
                    !text.contains(banned),
                    "{} is pure and must not use {banned}",
                    rel(&f)
                );
            }
        }
    }
}

#[test]
fn no_todo_without_an_issue_reference() {
    for dir in [
        "api-server/src",
        "mcp-bridge/src",
        "schema/src",
        "tests/src",
    ] {
        for f in rust_files(&root().join(dir)) {
            for (n, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
                if line.contains("TODO") {
                    assert!(
                        line.contains("#"),
                        "{}:{} has a TODO without an issue number",
                        rel(&f),
                        n + 1
                    );
                }
            }
        }
    }
}

#[test]
fn the_mcp_bridge_has_no_database_crate_in_its_tree() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "-p",
            "rampart-mcp",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .current_dir(root())
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("rmcp "), "the tree is the bridge's: {tree}");
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        for banned in [
            "sqlx",
            "postgres",
            "tokio-postgres",
            "libsqlite3-sys",
            "rusqlite",
            "sea-query",
            "rampart-server",
        ] {
            assert!(
                !name.starts_with(banned),
                "the MCP bridge must reach data only through the REST API, but depends on {name}"
            );
        }
    }
}
