//! The `rampart` command line: `serve` (the default), `migrate`, `admin create`, `keys rotate`,
//! `audit verify`, `review`, `doctor`.
//! Thin: each
//! command loads the config and calls into a module.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::startup::{Application, master_key, open_store};

/// Rampart: a PostgreSQL database as a secure, documented REST API.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about)]
pub struct Cli {
    /// Config file (default: $RAMPART_CONFIG, else ./rampart.toml if present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default command).
    Serve {
        /// Address to listen on (overrides config and RAMPART_LISTEN).
        #[arg(long)]
        listen: Option<String>,
        /// Data directory (overrides config and RAMPART_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Apply system store migrations and exit.
    Migrate,
    /// Manage admins.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage the keys that sign session tokens.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The security posture: each database service's login (superuser, BYPASSRLS, server
    /// file roles, table ownership, TLS) and Rampart's own roles and keys. Exits 1 when a
    /// finding is critical or high.
    Doctor {
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Access review: for each role (or one), what it reaches, who holds it, and which
    /// permissions went unused in the period (from the audit trail), as JSON.
    Review {
        /// Only this role.
        #[arg(long)]
        role: Option<i64>,
        /// The review period in days.
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// Check the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

/// Audit trail commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain and report the first row that was edited, removed or inserted
    /// (exit status 1 when the chain is broken). Needs the master key the server uses: the
    /// chain's hashes are keyed with it.
    Verify {
        /// The last row of a store kept from a release before the chain was keyed: rows up to
        /// it may carry the plain SHA-256 those releases wrote.
        #[arg(long, default_value_t = 0)]
        unkeyed_through: i64,
    },
}

/// Signing-key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Sign new session tokens with a new key, on every instance. Tokens signed with the
    /// previous key stay valid until they expire.
    Rotate {
        /// Also end every session signed with an older key now (the key leaked).
        #[arg(long)]
        revoke_previous: bool,
    },
}

/// Admin commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a sys-admin.
    Create {
        #[arg(long)]
        email: String,
        /// At least 12 characters. Prefer RAMPART_ADMIN_PASSWORD to keep it out of shell history.
        #[arg(long, env = "RAMPART_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long)]
        name: Option<String>,
    },
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow_free::Result {
    let mut config = Config::load(cli.config.as_deref()).map_err(|e| e.to_string())?;
    crate::telemetry::init(config.log_format);
    match cli.command.unwrap_or(Command::Serve {
        listen: None,
        data_dir: None,
    }) {
        Command::Serve { listen, data_dir } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            if let Some(d) = data_dir {
                config.data_dir = d;
            }
            let app = Application::build(config)
                .await
                .map_err(|e| e.to_string())?;
            app.run_until_stopped().await.map_err(|e| e.to_string())
        }
        Command::Migrate => {
            let store = open_store(&config).await.map_err(|e| e.to_string())?;
            let _ = writeln!(
                std::io::stdout(),
                "system store ({}) is up to date",
                store.backend()
            );
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    password,
                    name,
                },
        } => {
            let store = open_store(&config).await.map_err(|e| e.to_string())?;
            let key = master_key(&config).map_err(|e| e.to_string())?;
            let id = crate::auth::accounts::create_admin(
                &store,
                &email,
                &password,
                config.auth.min_password_length,
            )
            .await
            .map_err(|e| e.to_string())?;
            if let Some(name) = name {
                let mut tx = store.begin().await.map_err(|e| e.to_string())?;
                crate::system::users::update(
                    &mut tx,
                    id,
                    &crate::system::users::UserChanges {
                        name: Some(name),
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())?;
            }
            let after = crate::http::handlers::system::snapshot(&store, "admin", id)
                .await
                .unwrap_or_default();
            record_change(
                &config,
                &store,
                &key,
                Change {
                    command: "admin create",
                    resource: "admin",
                    id: Some(id),
                    before: serde_json::Value::Null,
                    after,
                },
            )
            .await?;
            let _ = writeln!(std::io::stdout(), "created admin {email} (id {id})");
            Ok(())
        }
        Command::Doctor { json } => {
            let store = open_store(&config).await.map_err(|e| e.to_string())?;
            let master = master_key(&config).map_err(|e| e.to_string())?;
            let findings = crate::doctor::run(&config, &store, &master).await;
            let mut out = std::io::stdout();
            if json {
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&findings).unwrap_or_default()
                );
            } else if findings.is_empty() {
                let _ = writeln!(out, "no findings");
            } else {
                for f in &findings {
                    let level = format!("{:?}", f.severity).to_ascii_uppercase();
                    let _ = writeln!(out, "{level:<9} {}: {} [{}]", f.subject, f.message, f.check);
                }
            }
            let serious = findings
                .iter()
                .filter(|f| f.severity <= crate::doctor::Severity::High)
                .count();
            if serious > 0 {
                return Err(format!("{serious} critical or high finding(s)"));
            }
            Ok(())
        }
        Command::Review { role, days } => {
            let store = open_store(&config).await.map_err(|e| e.to_string())?;
            let master = master_key(&config).map_err(|e| e.to_string())?;
            let services = crate::system::services::list(&store)
                .await
                .map_err(|e| e.to_string())?;
            let schemas = crate::review::schemas(
                &crate::services::Registry::default(),
                &services,
                &master,
                &config.limits,
            )
            .await;
            let ids = match role {
                Some(id) => vec![id],
                None => crate::system::roles::list(&store)
                    .await
                    .map_err(|e| e.to_string())?
                    .iter()
                    .map(|r| r.id)
                    .collect(),
            };
            let mut reviews = Vec::new();
            for id in ids {
                reviews.push(
                    crate::review::of_role(&store, id, days, &schemas)
                        .await
                        .map_err(|e| e.to_string())?,
                );
            }
            let text = serde_json::to_string_pretty(&reviews).unwrap_or_default();
            let _ = writeln!(std::io::stdout(), "{text}");
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { unkeyed_through },
        } => {
            // The server's key, never a new one: a key made here would fail every row.
            if config.master_key.is_none() && !config.data_dir.join("master.key").exists() {
                return Err(format!(
                    "no master key: the audit trail is checked with the server's (RAMPART_MASTER_KEY, or master.key in its data dir; {} has none)",
                    config.data_dir.display()
                ));
            }
            let store = open_store(&config).await.map_err(|e| e.to_string())?;
            let key = crate::system::audit::ChainKey::new(
                &master_key(&config).map_err(|e| e.to_string())?,
            );
            match crate::system::audit::verify(&store, &key, unkeyed_through)
                .await
                .map_err(|e| e.to_string())?
            {
                crate::system::audit::Verdict::Intact { checked, unkeyed } => {
                    let plain = if unkeyed > 0 {
                        format!(" ({unkeyed} of them from before the chain was keyed)")
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        std::io::stdout(),
                        "audit trail intact: {checked} events checked{plain}"
                    );
                    Ok(())
                }
                crate::system::audit::Verdict::Broken { id, reason } => {
                    Err(format!("audit trail broken at row {id}: {reason}"))
                }
            }
        }
        Command::Keys {
            command: KeysCommand::Rotate { revoke_previous },
        } => {
            let store = open_store(&config).await.map_err(|e| e.to_string())?;
            let master = master_key(&config).map_err(|e| e.to_string())?;
            let kid = crate::auth::session::rotate(
                &store,
                &master,
                config.jwt_ttl_minutes,
                revoke_previous,
            )
            .await
            .map_err(|e| e.to_string())?;
            record_change(
                &config,
                &store,
                &master,
                Change {
                    command: "keys rotate",
                    resource: "signing_key",
                    id: None,
                    before: serde_json::Value::Null,
                    after: serde_json::json!({"kid": kid, "older_sessions_ended": revoke_previous}),
                },
            )
            .await?;
            let previous = if revoke_previous {
                "sessions signed with older keys have ended"
            } else {
                "sessions signed with the previous key stay valid until they expire"
            };
            let _ = writeln!(
                std::io::stdout(),
                "new session tokens are signed with key {kid}; {previous}"
            );
            Ok(())
        }
    }
}

/// The CLI's result: an error is a message for the user.
pub mod anyhow_free {
    /// Ok, or a message to print before exiting with status 1.
    pub type Result = std::result::Result<(), String>;
}

/// A change made from the command line.
struct Change {
    command: &'static str,
    resource: &'static str,
    /// The record changed, which the permission-change alert names; `None`: no alert (a
    /// change to no one's permissions, such as a new signing key).
    id: Option<i64>,
    before: serde_json::Value,
    after: serde_json::Value,
}

/// Records a change made here rather than through the API, as the API's changes are: one
/// event in the audit trail (transport and principal `cli`, method the command), chained
/// with the server's key, and for a change to who may do what its permission-change alert,
/// delivered before the command ends.
async fn record_change(
    config: &Config,
    store: &crate::system::Store,
    key: &crate::system::crypto::MasterKey,
    change: Change,
) -> Result<(), String> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut event = [Box::new(crate::system::audit::AuditRecord {
        ts: chrono::Utc::now().timestamp_micros(),
        request_id: request_id.as_str().into(),
        kind: "change".into(),
        transport: "cli".into(),
        principal: "cli".into(),
        method: change.command.into(),
        service: Some("system".into()),
        resource: Some(change.resource.into()),
        status: 201,
        changes: Some(
            serde_json::json!({"before": change.before, "after": change.after}).to_string(),
        ),
        ..Default::default()
    })];
    crate::system::audit::append(store, &crate::system::audit::ChainKey::new(key), &mut event)
        .await
        .map_err(|e| format!("the change is made, but its audit event could not be stored: {e}"))?;
    let Some(id) = change.id else {
        return Ok(());
    };
    let alerts = crate::alerts::Alerts::start(&config.alerts);
    alerts.permission_change(&crate::alerts::PermissionChange {
        request_id: Some(&request_id),
        method: Some(change.command),
        resource: change.resource,
        ids: &[id],
        actor: Some(serde_json::json!({"cli": true})),
        before: &change.before,
        after: &change.after,
    });
    alerts.finish(std::time::Duration::from_secs(30)).await;
    Ok(())
}
