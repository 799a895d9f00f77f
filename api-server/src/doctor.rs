//! `rampart doctor`: the security posture of an installation. For each database service's
//! login: superuser, `BYPASSRLS`, `CREATEROLE`/`CREATEDB`, membership in the server-file and
//! server-program roles, ownership of exposed tables without forced row-level security, and
//! TLS. For Rampart: roles granting every verb on every service, sensitive-looking columns a
//! non-admin role reads in clear (directly, or embedded through `related`), a master key file others can read, short configured secrets,
//! the bootstrap admin password left in the configuration, admins whose password is one
//! attackers try first, and CORS entries that open credentialed requests to every origin.
//!
//! Findings carry a stable `check` name; the command exits non-zero when any is critical or
//! high.

use std::sync::Arc;

use serde::Serialize;

use crate::config::Config;
use crate::rbac::verbs::{REQUESTOR_API, Verb};
use crate::rbac::{CompiledRole, FieldRule};
use crate::services::Registry;
use crate::system::Store;
use crate::system::crypto::MasterKey;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable name for the check (`superuser_login`, `unmasked_sensitive_column`, …).
    pub check: &'static str,
    /// What it is about (`service db`, `role sales`).
    pub subject: String,
    pub message: String,
}

/// Column names that usually hold something sensitive.
const SENSITIVE: &[&str] = &[
    "ssn",
    "social_security",
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "card_number",
    "cardnumber",
    "credit_card",
    "cvv",
    "cvc",
    "iban",
    "tax_id",
    "national_id",
    "passport",
    "pin",
];

/// Whether a column name looks sensitive (whole words of a snake_case name, or the name
/// containing a multi-word pattern).
#[must_use]
pub fn looks_sensitive(column: &str) -> bool {
    let lower = column.to_ascii_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    SENSITIVE.iter().any(|s| {
        if s.contains('_') {
            lower.contains(s)
        } else {
            words.contains(s)
        }
    })
}

fn finding(severity: Severity, check: &'static str, subject: &str, message: String) -> Finding {
    Finding {
        severity,
        check,
        subject: subject.to_owned(),
        message,
    }
}

/// Runs every check.
pub async fn run(config: &Config, store: &Store, key: &MasterKey) -> Vec<Finding> {
    let mut out = Vec::new();
    let services = match crate::system::services::list(store).await {
        Ok(s) => s,
        Err(e) => {
            out.push(finding(
                Severity::High,
                "system_store",
                "system store",
                format!("cannot be read: {e}"),
            ));
            return out;
        }
    };
    let roles = crate::system::roles::list(store).await.unwrap_or_default();
    let databases: Vec<i64> = services
        .iter()
        .filter(|s| s.is_active && s.is_database())
        .map(|s| s.id)
        .collect();
    let mut compiled = Vec::new();
    for r in &roles {
        let access = crate::system::roles::access_of(store, r.id)
            .await
            .unwrap_or_default();
        if r.is_active && grants_everything(&access, &databases) {
            out.push(finding(
                Severity::High,
                "role_grants_everything",
                &format!("role {}", r.name),
                "grants every verb on every component of every service; give it the services and tables it needs".into(),
            ));
        }
        compiled.push(Arc::new(CompiledRole::compile(r, &access)));
    }

    let registry = Registry::default();
    for s in services.iter().filter(|s| s.is_active && s.is_database()) {
        let subject = format!("service {}", s.name);
        let connected = match registry.get(s, key, &config.limits).await {
            Ok(h) => h
                .pool
                .acquire()
                .await
                .map(|c| (h, c))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let (handle, mut conn) = match connected {
            Ok(both) => both,
            Err(e) => {
                out.push(finding(
                    Severity::High,
                    "service_unreachable",
                    &subject,
                    format!("cannot be checked: {e}"),
                ));
                continue;
            }
        };
        match crate::statement::login_facts(conn.conn()).await {
            Ok(f) => {
                let opts = handle.pool.connect_options();
                let mode = format!("{:?}", opts.get_ssl_mode()).to_ascii_lowercase();
                login_findings(&mut out, &subject, &f, opts.get_host(), &mode);
            }
            Err(e) => out.push(finding(
                Severity::High,
                "service_unreachable",
                &subject,
                format!("its login cannot be inspected: {e}"),
            )),
        }
        // Roles the service's requests switch to (`SET LOCAL ROLE`) act with those roles'
        // powers, whatever the login's.
        let mut switched: Vec<String> = handle.db_roles.values().cloned().collect();
        switched.sort();
        switched.dedup();
        if !switched.is_empty()
            && let Ok(roles) = crate::statement::switched_roles(conn.conn(), &switched).await
        {
            switched_role_findings(&mut out, &subject, &roles);
        }
        let schema = handle.schema();
        let tables: Vec<(String, String)> = schema
            .tables
            .iter()
            .map(|t| (t.schema.clone(), t.name.clone()))
            .collect();
        if let Ok(owned) = crate::statement::owned_unforced(conn.conn(), &tables).await
            && !owned.is_empty()
        {
            let shown: Vec<&str> = owned.iter().take(5).map(String::as_str).collect();
            out.push(finding(
                Severity::High,
                "login_owns_tables",
                &subject,
                format!(
                    "its login owns {} exposed table(s) ({}{}) without FORCE ROW LEVEL SECURITY: an owner bypasses their policies; let another role own them",
                    owned.len(),
                    shown.join(", "),
                    if owned.len() > 5 { ", …" } else { "" }
                ),
            ));
        }
        for role in compiled.iter().filter(|r| r.is_active) {
            for table in &schema.tables {
                let Some(rules) = role.table_rules(s.id, &table.api_name, Verb::Get, REQUESTOR_API)
                else {
                    continue;
                };
                for c in table.columns.iter().filter(|c| looks_sensitive(&c.name)) {
                    if matches!(rules.field(&c.name), None | Some(FieldRule::ReadOnly)) {
                        out.push(finding(
                            Severity::Critical,
                            "unmasked_sensitive_column",
                            &format!("role {}", role.name),
                            format!(
                                "reads {}.{}.{} in clear; hide or mask it in the role's field rules",
                                s.name, table.api_name, c.name
                            ),
                        ));
                    }
                }
            }
        }
        // What a role reads embedded through related, with no rules of its own, is read in
        // clear: every column of the related table.
        let this = [crate::review::ServiceSchema {
            id: s.id,
            name: s.name.clone(),
            schema: std::sync::Arc::clone(&schema),
        }];
        for role in compiled.iter().filter(|r| r.is_active) {
            for reach in crate::review::related_reach(role, &this) {
                let Some(table) = schema.table(&reach.reaches) else {
                    continue;
                };
                for c in table.columns.iter().filter(|c| looks_sensitive(&c.name)) {
                    out.push(finding(
                        Severity::Critical,
                        "unmasked_sensitive_column",
                        &format!("role {}", role.name),
                        format!(
                            "reads {}.{}.{} in clear, embedded in {} records through related ({}); give the role a row for {} that hides or masks it, or one with no verbs to block the table",
                            s.name, table.api_name, c.name, reach.table, reach.relationship, table.api_name
                        ),
                    ));
                }
            }
        }
        conn.release(true).await;
        handle.pool.close();
    }
    key_file_findings(&mut out, config);
    secret_findings(&mut out, config);
    admin_findings(&mut out, config, store).await;
    cors_findings(&mut out, store).await;
    out.sort_by(|a, b| a.severity.cmp(&b.severity).then(a.subject.cmp(&b.subject)));
    out
}

fn login_findings(
    out: &mut Vec<Finding>,
    subject: &str,
    f: &crate::statement::LoginFacts,
    host: &str,
    mode: &str,
) {
    let login = &f.login;
    if f.superuser {
        out.push(finding(Severity::Critical, "superuser_login", subject, format!(
            "logs in as {login}, a superuser: it bypasses row-level security and every grant, and can read and write server files; use a login of its own (see README, \"A least-privilege database login\")")));
    }
    if f.bypass_rls && !f.superuser {
        out.push(finding(Severity::Critical, "bypassrls_login", subject, format!(
            "logs in as {login}, which has BYPASSRLS: the database's row-level security does not apply to it")));
    }
    for (has, role) in [
        (f.read_server_files, "pg_read_server_files"),
        (f.write_server_files, "pg_write_server_files"),
        (f.execute_server_program, "pg_execute_server_program"),
    ] {
        if has && !f.superuser {
            out.push(finding(Severity::Critical, "server_access_role", subject, format!(
                "{login} is a member of {role}: SQL it runs can reach the database server's files or programs")));
        }
    }
    if (f.create_role || f.create_db) && !f.superuser {
        out.push(finding(
            Severity::High,
            "login_creates_roles_or_databases",
            subject,
            format!(
                "{login} has {}: a serving login needs neither",
                match (f.create_role, f.create_db) {
                    (true, true) => "CREATEROLE and CREATEDB",
                    (true, false) => "CREATEROLE",
                    _ => "CREATEDB",
                }
            ),
        ));
    }
    let local = matches!(host, "localhost" | "127.0.0.1" | "::1" | "") || host.starts_with('/');
    let mode = match mode {
        "verifyfull" => "verify-full",
        "verifyca" => "verify-ca",
        other => other,
    };
    if !local && mode == "verify-ca" {
        out.push(finding(
            Severity::High,
            "tls_host_not_verified",
            subject,
            format!(
                "connects to {host} with sslmode=verify-ca: the certificate's host is not checked, and the driver also trusts the public CAs, so a publicly trusted certificate for any name would be taken for the database's: set sslmode=verify-full"
            ),
        ));
    } else if !local && mode != "verify-full" {
        out.push(finding(
            Severity::High,
            "tls_not_verified",
            subject,
            format!(
                "connects to {host} with sslmode={mode}{}: set sslmode=verify-full with the server's CA",
                if f.ssl { " (encrypted, server unverified)" } else { " (not encrypted)" }
            ),
        ));
    }
}

fn key_file_findings(out: &mut Vec<Finding>, config: &Config) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if config.master_key.is_none() {
            let path = config.data_dir.join("master.key");
            if let Ok(meta) = std::fs::metadata(&path)
                && meta.permissions().mode() & 0o077 != 0
            {
                out.push(finding(
                    Severity::High,
                    "master_key_readable",
                    "master key",
                    format!(
                        "{} can be read by other users of this machine (mode {:o}); chmod 600 it",
                        path.display(),
                        meta.permissions().mode() & 0o777
                    ),
                ));
            }
        }
    }
}

fn switched_role_findings(
    out: &mut Vec<Finding>,
    subject: &str,
    roles: &[crate::statement::SwitchedRole],
) {
    for r in roles {
        if r.superuser {
            out.push(finding(Severity::Critical, "db_role_superuser", subject, format!(
                "its db_role_map switches requests to {}, a superuser: row-level security and every grant stop applying to them", r.name)));
        } else if r.bypass_rls {
            out.push(finding(Severity::Critical, "db_role_bypassrls", subject, format!(
                "its db_role_map switches requests to {}, which has BYPASSRLS: the database's row-level security does not apply to them", r.name)));
        }
    }
}

/// Whether access rows grant every verb on every component of every database service: in one
/// row for all services, or service by service.
fn grants_everything(access: &[crate::system::roles::AccessRecord], databases: &[i64]) -> bool {
    let whole = |a: &&crate::system::roles::AccessRecord| {
        Verb::ALL.iter().all(|v| a.verb_mask & v.bit() != 0)
            && matches!(crate::rbac::component::normalise(&a.component), "" | "*")
    };
    let rows: Vec<_> = access.iter().filter(whole).collect();
    rows.iter().any(|a| a.service_id.is_none())
        || (!databases.is_empty()
            && databases
                .iter()
                .all(|d| rows.iter().any(|a| a.service_id == Some(*d))))
}

/// Configured secrets shorter than this are guessable.
const SHORTEST_SECRET: usize = 16;

fn secret_findings(out: &mut Vec<Finding>, config: &Config) {
    use secrecy::ExposeSecret;
    // The password in the Redis URL (shared rate limits), if any.
    let redis_password = config.rate_limit.redis_url.as_ref().and_then(|u| {
        url::Url::parse(u.expose_secret()).ok().and_then(|u| {
            u.password()
                .map(|p| secrecy::SecretString::from(p.to_owned()))
        })
    });
    for (name, secret) in [
        ("alerts.secret", &config.alerts.secret),
        ("metrics.token", &config.metrics.token),
        ("rate_limit.redis_url (its password)", &redis_password),
    ] {
        if let Some(s) = secret
            && s.expose_secret().chars().count() < SHORTEST_SECRET
        {
            out.push(finding(
                Severity::High,
                "weak_secret",
                name,
                format!(
                    "is shorter than {SHORTEST_SECRET} characters; use a long random value (e.g. `openssl rand -hex 32`)"
                ),
            ));
        }
    }
}

/// Passwords an attacker tries first on an admin account: the most common ones and the
/// account's own names. Each try costs one argon2 verification, so the list stays short.
fn guesses(email: &str) -> Vec<String> {
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    let mut out: Vec<String> = [
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "123456789012",
        "qwertyuiop",
        "changeme",
        "changeme123",
        "letmein",
        "welcome",
        "welcome123",
        "admin",
        "admin123",
        "administrator",
        "rampart",
        "rampart123",
        "dreamfactory",
        "secret",
        "iloveyou",
        "trustno1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    out.extend([
        email.to_lowercase(),
        local.clone(),
        format!("{local}123"),
        format!("{local}1234"),
        format!("{local}!"),
    ]);
    out
}

/// Admins checked for guessable passwords, at most (each costs a few dozen hashes).
const ADMINS_CHECKED: usize = 50;

async fn admin_findings(out: &mut Vec<Finding>, config: &Config, store: &Store) {
    let Ok(admins) = crate::system::users::list_admins(store).await else {
        return;
    };
    if config.admin_password.is_some() && !admins.is_empty() {
        out.push(finding(
            Severity::Medium,
            "bootstrap_password_in_config",
            "admin_password",
            "the first admin exists, yet its password is still set in the configuration or RAMPART_ADMIN_PASSWORD; remove it there".into(),
        ));
    }
    for admin in admins.iter().filter(|a| a.is_active).take(ADMINS_CHECKED) {
        let Some(hash) = admin.password_hash.clone() else {
            continue;
        };
        let email = admin.email.clone();
        let guessed = tokio::task::spawn_blocking(move || {
            guesses(&email)
                .iter()
                .any(|g| crate::auth::password::verify(g, Some(&hash)))
        })
        .await
        .unwrap_or(false);
        if guessed {
            out.push(finding(
                Severity::High,
                "weak_admin_password",
                &format!("admin {}", admin.email),
                "has a password attackers try first (a common one, or the account's own name); set a long unique one".into(),
            ));
        }
    }
}

async fn cors_findings(out: &mut Vec<Finding>, store: &Store) {
    let Ok(entries) = crate::system::cors::list(store).await else {
        return;
    };
    for e in entries
        .iter()
        .filter(|e| crate::cors::any_origin_with_credentials(e))
    {
        out.push(finding(
            Severity::High,
            "cors_any_origin_with_credentials",
            &format!("cors entry {} ({})", e.id, e.path),
            "admits every origin with credentials: any web site a signed-in admin or user visits can call the API as them; list the origins that need it".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_configured_secrets_are_high() {
        let mut config = Config::default();
        config.alerts.secret = Some("short".into());
        config.metrics.token = Some("a-long-enough-random-token-4f1c".into());
        let mut out = Vec::new();
        secret_findings(&mut out, &config);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].check, "weak_secret");
        assert_eq!(out[0].subject, "alerts.secret");
        assert_eq!(out[0].severity, Severity::High);
    }

    #[test]
    fn only_verify_full_counts_as_a_verified_server_off_this_machine() {
        let facts = crate::statement::LoginFacts {
            login: "rampart_api".into(),
            ssl: true,
            ..Default::default()
        };
        let checks = |host: &str, mode: &str| {
            let mut out = Vec::new();
            login_findings(&mut out, "db", &facts, host, mode);
            out.iter()
                .map(|f| (f.check, f.severity))
                .collect::<Vec<_>>()
        };
        assert_eq!(checks("db.example.com", "verifyfull"), []);
        assert_eq!(
            checks("db.example.com", "verifyca"),
            [("tls_host_not_verified", Severity::High)]
        );
        assert_eq!(
            checks("db.example.com", "require"),
            [("tls_not_verified", Severity::High)]
        );
        assert_eq!(checks("127.0.0.1", "verifyca"), []);
        assert_eq!(checks("localhost", "prefer"), []);
    }

    #[test]
    fn a_role_granting_everything_service_by_service_is_found_too() {
        let row = |service: Option<i64>, component: &str, mask: i64| {
            crate::system::roles::AccessRecord::example(1, service, component, mask)
        };
        let dbs = [4, 5];
        assert!(grants_everything(&[row(None, "*", 31)], &dbs));
        assert!(grants_everything(
            &[row(Some(4), "*", 31), row(Some(5), "", 31)],
            &dbs
        ));
        assert!(!grants_everything(&[row(Some(4), "*", 31)], &dbs));
        assert!(!grants_everything(
            &[row(Some(4), "*", 31), row(Some(5), "*", 1)],
            &dbs
        ));
        assert!(!grants_everything(
            &[row(Some(4), "*", 31), row(Some(5), "_table/*", 31)],
            &dbs
        ));
        assert!(!grants_everything(&[], &[]));
    }

    #[test]
    fn a_switched_role_that_bypasses_row_security_is_critical() {
        let role = |name: &str, superuser: bool, bypass_rls: bool| crate::statement::SwitchedRole {
            name: name.into(),
            superuser,
            bypass_rls,
        };
        let mut out = Vec::new();
        switched_role_findings(
            &mut out,
            "service db",
            &[
                role("reader", false, false),
                role("postgres", true, true),
                role("etl", false, true),
            ],
        );
        let found: Vec<(&str, Severity)> = out.iter().map(|f| (f.check, f.severity)).collect();
        assert_eq!(
            found,
            [
                ("db_role_superuser", Severity::Critical),
                ("db_role_bypassrls", Severity::Critical)
            ]
        );
    }

    #[test]
    fn a_short_redis_password_is_high() {
        let mut config = Config::default();
        config.rate_limit.redis_url = Some("redis://:pw@127.0.0.1:6379".into());
        let mut out = Vec::new();
        secret_findings(&mut out, &config);
        let subjects: Vec<&str> = out.iter().map(|f| f.subject.as_str()).collect();
        assert_eq!(subjects, ["rate_limit.redis_url (its password)"], "{out:?}");
        assert!(out.iter().all(|f| !f.message.contains("pw@")), "{out:?}");
    }

    #[test]
    fn guesses_include_the_account_s_own_name() {
        let g = guesses("Ops.Lead@example.com");
        assert!(g.contains(&"ops.lead".to_owned()));
        assert!(g.contains(&"ops.lead123".to_owned()));
        assert!(g.contains(&"changeme123".to_owned()));
    }

    #[test]
    fn sensitive_names_are_whole_words_or_known_phrases() {
        for yes in [
            "ssn",
            "customer_ssn",
            "password_hash",
            "api_key",
            "card_number",
            "Token",
        ] {
            assert!(looks_sensitive(yes), "{yes}");
        }
        for no in [
            "name",
            "email",
            "tokenizer_version",
            "spin_count",
            "passing_grade",
        ] {
            assert!(!looks_sensitive(no), "{no}");
        }
    }
}
