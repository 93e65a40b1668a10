//! Static-cluster members for the end-to-end tests: each a `rookery serve`
//! process on its own loopback address, sharing a private slapd and one
//! cluster secret, and the small clients the tests drive them with.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;
use testkit::slapd::Slapd;
use testkit::{SmtpClient, TestServer, TestServerOptions};

pub const SECRET: &str = "a cluster secret for tests";

/// A free port on `ip`.
pub fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap().port()
}

/// A member's name (its main domain), role, and cluster link address.
pub struct Member {
    pub name: &'static str,
    pub role: &'static str,
    pub link: String,
}

impl Member {
    /// `name` as `role`, its link on a free port of `ip`.
    pub fn new(name: &'static str, role: &'static str, ip: &str) -> Member {
        Member { name, role, link: format!("{ip}:{}", free_port(ip)) }
    }

    pub fn ip(&self) -> &str {
        self.link.rsplit_once(':').map_or("", |(ip, _)| ip)
    }
}

/// How a member is set up beyond its place in the cluster.
#[derive(Default)]
pub struct Setup<'a> {
    /// More of the config after `[cluster.link]` (e.g. `[cluster.services...]`).
    pub extra: &'a str,
    /// The `[outbound]` keys; empty: outbound off.
    pub outbound: &'a str,
    /// Put this member's own address on its allow-list too, for commands
    /// run on it that connect to it over the link (`account move`).
    pub allow_self: bool,
}

/// Starts `me` among `all` (whose frontends become `[cluster] frontends`).
/// Backends take the frontends' sessions with a PROXY header from
/// 127.0.0.1, where the test's clients are.
pub fn start(slapd: &Slapd, me: &Member, all: &[&Member], setup: Setup) -> TestServer {
    let members: String = all.iter().map(|m| format!("\"{}\" = \"{}\"\n", m.name, m.link)).collect();
    let allow: Vec<String> =
        all.iter().filter(|m| setup.allow_self || m.name != me.name).map(|m| format!("\"{}\"", m.ip())).collect();
    let frontends: Vec<String> =
        all.iter().filter(|m| m.role == "frontend").map(|m| format!("\"{}\"", m.name)).collect();
    let proxies = if me.role == "backend" { "[limits]\nproxy_protocol_from = [\"127.0.0.1\"]\n" } else { "" };
    let extra_config = format!(
        r#"[directory]
kind = "ldap"
url = "{url}"
base_dn = "{base}"
bind_dn = "{admin}"
bind_password = "{password}"

[queue]
retry_schedule = ["1s"]

[cluster]
role = "{role}"
frontends = [{frontends}]

[cluster.members]
{members}
[cluster.link]
address = "{link}"
allow = [{allow}]
secret = "{SECRET}"

{extra}
{proxies}"#,
        url = slapd.url(),
        base = slapd.base_dn(),
        admin = slapd.admin_dn(),
        password = slapd.admin_password(),
        role = me.role,
        link = me.link,
        frontends = frontends.join(", "),
        allow = allow.join(", "),
        extra = setup.extra,
    );
    let outbound = if setup.outbound.is_empty() { "enabled = false" } else { setup.outbound };
    super::server_with(TestServerOptions {
        main_domain: me.name.to_owned(),
        extra_config,
        outbound: outbound.to_owned(),
        ..Default::default()
    })
}

/// `[cluster.services."name"]` for a backend's IMAP, POP3 and submission.
pub fn services(backend: &TestServer, name: &str) -> String {
    format!(
        "[cluster.services.\"{name}\"]\nimap = \"{}\"\npop3 = \"{}\"\nsubmission = \"{}\"\n",
        backend.ports.imap(),
        backend.ports.pop3(),
        backend.ports.submission()
    )
}

/// Messages in `account` on `server` (0 when it cannot be asked).
pub fn messages(server: &TestServer, account: &str) -> usize {
    let Ok(show) = server.admin(&["account", "show", account]) else { return 0 };
    let line = show.lines().find(|l| l.starts_with("used:")).unwrap_or_default();
    line.split(" in ").nth(1).and_then(|m| m.split_whitespace().next()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// One message to `recipients` over `frontend`'s SMTP, accepted.
pub fn send(frontend: &TestServer, recipients: &[&str], subject: &str) {
    let mut c = SmtpClient::connect(frontend.ports.smtp()).unwrap();
    c.reply().unwrap();
    c.command("EHLO client.example").unwrap();
    assert!(c.command("MAIL FROM:<sender@remote.example>").unwrap().starts_with("250"));
    for rcpt in recipients {
        let reply = c.command(&format!("RCPT TO:<{rcpt}>")).unwrap();
        assert!(reply.starts_with("250"), "{rcpt}: {reply}");
    }
    assert!(c.command("DATA").unwrap().starts_with("354"));
    c.send(format!("Subject: {subject}\r\n\r\nhello\r\n.\r\n").as_bytes()).unwrap();
    let reply = c.reply().unwrap();
    assert!(reply.starts_with("250"), "{reply}");
}

/// Reads IMAP lines up to the tagged reply.
pub fn read_tagged(c: &mut SmtpClient, tag: &str) -> String {
    let mut all = String::new();
    loop {
        let line = c.read_line().unwrap();
        all.push_str(&line);
        all.push('\n');
        if line.starts_with(&format!("{tag} ")) {
            return all;
        }
    }
}

/// `rookery ARGS` against `frontend` as `backend`'s postmaster: a
/// frontend makes no accounts and keeps no password (CM-15).
pub fn admin_as(frontend: &TestServer, backend: &TestServer, args: &[&str]) -> anyhow::Result<String> {
    let (user, password) = (format!("postmaster@{}", backend.main_domain()), backend.postmaster_password());
    frontend.admin(&[&["--admin-user", user.as_str(), "--admin-password", password.as_str()][..], args].concat())
}

pub fn wait(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    testkit::wait_for(timeout, what, || check().then_some(()));
}

/// Copies a directory tree: a backend's storage "attached" to another.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
