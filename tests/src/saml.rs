//! The test suite's SAML identity provider (`tests/saml/idp.py`): Responses made at run time
//! and signed by xmlsec1 with a throwaway key, honestly or broken on purpose.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The IdP's entity id.
pub const ISSUER: &str = "https://idp.example.test/saml";

/// Keys of one IdP (and of an impostor).
pub struct Idp {
    dir: tempfile::TempDir,
}

fn python() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ci-venv/bin/python3")
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("saml/idp.py")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Default for Idp {
    fn default() -> Self {
        Self::new()
    }
}

impl Idp {
    /// An IdP with a fresh signing key, and an impostor's key.
    #[must_use]
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["idp", "impostor"] {
            run(Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                ])
                .arg(format!("/CN={name}"))
                .arg("-keyout")
                .arg(dir.path().join(format!("{name}.key")))
                .arg("-out")
                .arg(dir.path().join(format!("{name}.crt"))));
        }
        Self { dir }
    }

    /// The IdP's signing certificate (PEM).
    #[must_use]
    pub fn certificate(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("idp.crt")).expect("idp.crt")
    }

    /// The ID of the AuthnRequest an HTTP-Redirect URL carries.
    #[must_use]
    pub fn request_id(&self, url: &str) -> String {
        run(Command::new(python())
            .arg(script())
            .arg("request-id")
            .arg(url))
    }

    /// A base64 SAMLResponse for `person` (`{name_id, email, groups, tenant}`), signed by the
    /// IdP (or, with `impostor`, by another key), in `variant` (see idp.py).
    #[must_use]
    pub fn respond(
        &self,
        acs: &str,
        audience: &str,
        in_response_to: Option<&str>,
        person: &Value,
        variant: &str,
        impostor: bool,
    ) -> String {
        let who = if impostor { "impostor" } else { "idp" };
        let args = json!({
            "key": self.dir.path().join(format!("{who}.key")),
            "cert": self.dir.path().join(format!("{who}.crt")),
            "issuer": ISSUER, "acs": acs, "audience": audience,
            "in_response_to": in_response_to, "person": person, "variant": variant,
        });
        run(Command::new(python())
            .arg(script())
            .arg("respond")
            .arg(args.to_string()))
    }
}

/// The IdP's metadata served over HTTP; stopped when dropped.
pub struct MetadataServer {
    pub url: String,
    child: Child,
}

impl Drop for MetadataServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Idp {
    /// Serves this IdP's metadata (its signing certificate, the impostor's published for
    /// encryption only, and `sso_url` as the HTTP-Redirect endpoint).
    #[must_use]
    pub fn serve_metadata(&self, sso_url: &str) -> MetadataServer {
        let args = json!({
            "issuer": ISSUER, "sso": sso_url,
            "cert": self.dir.path().join("idp.crt"),
            "decoy": self.dir.path().join("impostor.crt"),
        });
        let mut child = Command::new(python())
            .arg(script())
            .arg("serve-metadata")
            .arg(args.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the metadata server");
        let port = crate::announced_port(&mut child, "the metadata server");
        MetadataServer {
            url: format!("http://127.0.0.1:{port}/metadata"),
            child,
        }
    }
}
