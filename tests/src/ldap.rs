//! A real directory for the LDAP tests: Debian's `slapd`, started per test on free ports with
//! its own database, TLS from a throwaway CA, and a known seed:
//!
//! - `uid=alice` (group `sales`, `departmentNumber: 1`), `uid=bob` (group `support`,
//!   `departmentNumber: 2`), `uid=carol` (no group), each with password `<uid>-password-1`;
//! - groups `cn=sales` and `cn=support` under `ou=groups` (groupOfNames; `memberOf` kept by
//!   the overlay);
//! - the read-only service account `cn=rampart-svc,dc=example,dc=org` / `svc-password-1`.
//!
//! `slapd -d stats` writes every BIND and SRCH to `log()`, so a test can show that a refused
//! login never reached the directory.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The directory's base DN.
pub const BASE_DN: &str = "dc=example,dc=org";
/// The service account.
pub const SERVICE_DN: &str = "cn=rampart-svc,dc=example,dc=org";
pub const SERVICE_PASSWORD: &str = "svc-password-1";

/// A user's password in the seed.
#[must_use]
pub fn password_of(uid: &str) -> String {
    format!("{uid}-password-1")
}

/// How the directory behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Variant {
    /// Answer a DN with an empty password as a successful anonymous bind, as Active
    /// Directory does (`allow bind_anon_dn`).
    pub anonymous_dn_binds: bool,
    /// Offer no TLS at all (no StartTLS, no ldaps listener).
    pub no_tls: bool,
}

/// A running slapd; stopped and wiped when dropped.
pub struct Directory {
    pub port: u16,
    pub tls_port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1/localhost signed by it.
fn make_tls(dir: &Path) {
    let p = |n: &str| dir.join(n);
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=rampart-test-ca",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
        ])
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.crt")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext.cnf");
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial", "-in"])
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.crt"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("server.crt"))
        .arg("-extfile")
        .arg(p("ext.cnf")));
}

fn config(dir: &Path, variant: Variant) -> String {
    let d = dir.display();
    let anon = if variant.anonymous_dn_binds {
        "allow bind_anon_dn\n"
    } else {
        ""
    };
    let tls = if variant.no_tls {
        String::new()
    } else {
        format!(
            "TLSCACertificateFile {d}/ca.crt\nTLSCertificateFile {d}/server.crt\nTLSCertificateKeyFile {d}/server.key\n"
        )
    };
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {d}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload refint
{anon}{tls}database mdb
suffix \"{BASE_DN}\"
rootdn \"cn=admin,{BASE_DN}\"
rootpw admin-pw
directory {d}/db
index objectClass,uid,cn,mail,member eq
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
overlay refint
refint_attributes member
access to dn.base=\"\" by * read
access to attrs=userPassword by self write by anonymous auth by * none
access to * by dn.exact=\"{SERVICE_DN}\" read by users read by * none
"
    )
}

fn person(uid: &str, name: &str, department: u32) -> String {
    format!(
        "dn: uid={uid},ou=people,{BASE_DN}
objectClass: inetOrgPerson
uid: {uid}
cn: {name}
sn: {name}
mail: {uid}@example.org
departmentNumber: {department}
userPassword: {password}

",
        password = password_of(uid)
    )
}

fn seed() -> String {
    let mut s = format!(
        "dn: {BASE_DN}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,{BASE_DN}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{BASE_DN}
objectClass: organizationalUnit
ou: groups

dn: {SERVICE_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: rampart-svc
userPassword: {SERVICE_PASSWORD}

"
    );
    s.push_str(&person("alice", "Alice Archer", 1));
    s.push_str(&person("bob", "Bob Baker", 2));
    s.push_str(&person("carol", "Carol Cook", 1));
    for (group, member) in [("sales", "alice"), ("support", "bob")] {
        s.push_str(&format!(
            "dn: cn={group},ou=groups,{BASE_DN}
objectClass: groupOfNames
cn: {group}
member: uid={member},ou=people,{BASE_DN}

"
        ));
    }
    s
}

impl Directory {
    /// Starts a directory with the seed above.
    #[must_use]
    pub fn start(variant: Variant) -> Self {
        // A port found free can be taken by another test before slapd binds it: then slapd
        // exits at once, and it starts again on other ports.
        let mut attempt = 0;
        let directory = loop {
            attempt += 1;
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path();
            std::fs::create_dir(path.join("db")).expect("db dir");
            make_tls(path);
            std::fs::write(path.join("slapd.conf"), config(path, variant)).expect("slapd.conf");
            let (port, tls_port) = (free_port(), free_port());
            let log = std::fs::File::create(path.join("slapd.log")).expect("slapd.log");
            let child = Command::new("slapd")
                .args(["-d", "stats", "-f"])
                .arg(path.join("slapd.conf"))
                .arg("-h")
                .arg(if variant.no_tls {
                    format!("ldap://127.0.0.1:{port}/")
                } else {
                    format!("ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/")
                })
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start slapd (run scripts/setup-test-env.sh)");
            let directory = Self {
                port,
                tls_port,
                dir,
                child,
            };
            if directory.is_up() {
                break directory;
            }
            let log = directory.log();
            assert!(
                attempt < 3 && log.contains("Address already in use"),
                "slapd did not start:\n{log}"
            );
            // Dropped: slapd stopped, its files removed; the next attempt starts afresh.
        };
        let mut add = Command::new("ldapadd")
            .args([
                "-x",
                "-H",
                &directory.url(),
                "-D",
                &format!("cn=admin,{BASE_DN}"),
                "-w",
                "admin-pw",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ldapadd");
        add.stdin
            .take()
            .expect("stdin")
            .write_all(seed().as_bytes())
            .expect("seed");
        let out = add.wait_with_output().expect("ldapadd");
        assert!(
            out.status.success(),
            "seeding the directory failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            directory.log()
        );
        directory
    }

    /// Whether slapd answers, within five seconds.
    fn is_up(&self) -> bool {
        for _ in 0..100 {
            let ok = Command::new("ldapsearch")
                .args(["-x", "-H", &self.url(), "-b", "", "-s", "base"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// `ldap://127.0.0.1:{port}`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The CA certificate (PEM) that signed the server's.
    #[must_use]
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ca.crt")).expect("ca.crt")
    }

    /// Where the directory's files are.
    #[must_use]
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// slapd's log so far (every connection, BIND and SRCH).
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// The BIND lines of the log.
    #[must_use]
    pub fn binds(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains(" BIND "))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
