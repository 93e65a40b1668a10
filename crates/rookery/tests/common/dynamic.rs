//! Dynamic-cluster members for the end-to-end tests: `rookery serve`
//! processes with their cluster links on 127.0.24.x, one storage root
//! (a temporary directory), one private slapd and one private etcd.

use super::cluster::{SECRET, free_port};
use std::path::Path;
use std::time::Duration;
use testkit::etcd::Etcd;
use testkit::slapd::Slapd;
use testkit::{SmtpClient, TestServer, TestServerOptions};

/// The cluster's name: the `hostServer` of its accounts.
pub const CLUSTER: &str = "dc1.test";
/// The shared domain whose accounts the tests use.
pub const DOMAIN: &str = "dyn.example";
/// Short, so that failover tests are quick; the fence margin is 1 s.
pub const LEASE_TTL: Duration = Duration::from_secs(3);

/// Member `n` (1-based): its name and link address.
pub struct DynMember {
    pub name: String,
    pub link: String,
}

impl DynMember {
    pub fn new(n: u8) -> DynMember {
        Self::named(&format!("m{n}.{CLUSTER}"), &format!("127.0.24.{n}"))
    }

    /// `name`, its link on a free port of `ip`.
    pub fn named(name: &str, ip: &str) -> DynMember {
        DynMember { name: name.to_owned(), link: format!("{ip}:{}", free_port(ip)) }
    }

    pub fn ip(&self) -> &str {
        self.link.rsplit_once(':').map_or("", |(ip, _)| ip)
    }
}

/// Starts `me` among `all`, on `storage`, coordinated by `etcd`.
/// `idle_release`: how long an unused account stays open.
pub fn start(
    slapd: &Slapd,
    etcd: &Etcd,
    storage: &Path,
    me: &DynMember,
    all: &[&DynMember],
    idle_release: &str,
) -> TestServer {
    let allow: Vec<&str> = all.iter().filter(|m| m.name != me.name).map(|m| m.ip()).collect();
    let place = Place { cluster: CLUSTER, etcd, storage, directory: (&slapd.url(), &[]), allow: &allow, idle_release };
    start_in(slapd, me, place)
}

/// Where a member stands: its cluster, that cluster's etcd and storage,
/// the directory servers it uses (preferred, then the others), and the
/// addresses on its link's allow-list.
pub struct Place<'a> {
    pub cluster: &'a str,
    pub etcd: &'a Etcd,
    pub storage: &'a Path,
    pub directory: (&'a str, &'a [String]),
    pub allow: &'a [&'a str],
    pub idle_release: &'a str,
}

/// Starts `me` as a member of `place.cluster`; `slapd` gives the base and
/// the credentials.
pub fn start_in(slapd: &Slapd, me: &DynMember, place: Place) -> TestServer {
    let extra_config = format!(
        r#"{directory}
[queue]
retry_schedule = ["1s"]

[cluster]
role = "symmetric"

[cluster.link]
address = "{link}"
allow = [{allow}]
secret = "{SECRET}"

[cluster.dynamic]
name = "{cluster}"
etcd = [{endpoints}]
storage = "{storage}"
lease_ttl = "{ttl}s"
fence_margin = "1s"
idle_release = "{idle_release}"
"#,
        directory = directory_section(slapd, place.directory),
        link = me.link,
        allow = toml_strings(place.allow),
        cluster = place.cluster,
        endpoints = toml_strings(&place.etcd.endpoints()),
        storage = place.storage.display(),
        ttl = LEASE_TTL.as_secs(),
        idle_release = place.idle_release,
    );
    super::server_with(TestServerOptions { main_domain: me.name.clone(), extra_config, ..Default::default() })
}

/// A frontend `me` of dynamic clusters (`clusters`: name and etcd), with
/// its directory servers and the members' addresses on its allow-list.
pub fn start_frontend(
    slapd: &Slapd,
    me: &DynMember,
    directory: (&str, &[String]),
    clusters: &[(&str, &Etcd)],
    allow: &[&str],
) -> TestServer {
    let peers: String = clusters
        .iter()
        .map(|(name, etcd)| {
            format!("[cluster.dynamic_clusters.\"{name}\"]\netcd = [{}]\n", toml_strings(&etcd.endpoints()))
        })
        .collect();
    let extra_config = format!(
        r#"{directory}
[queue]
retry_schedule = ["1s"]

[cluster]
role = "frontend"

[cluster.link]
address = "{link}"
allow = [{allow}]
secret = "{SECRET}"

{peers}"#,
        directory = directory_section(slapd, directory),
        link = me.link,
        allow = toml_strings(allow),
    );
    super::server_with(TestServerOptions { main_domain: me.name.clone(), extra_config, ..Default::default() })
}

/// `"a", "b"`: the inside of a TOML array of strings.
fn toml_strings(items: &[impl AsRef<str>]) -> String {
    items.iter().map(|item| format!("\"{}\"", item.as_ref())).collect::<Vec<_>>().join(", ")
}

fn directory_section(slapd: &Slapd, (url, replicas): (&str, &[String])) -> String {
    format!(
        "[directory]\nkind = \"ldap\"\nurl = \"{url}\"\nreplicas = [{}]\nbase_dn = \"{}\"\nbind_dn = \"{}\"\nbind_password = \"{}\"\n",
        toml_strings(replicas),
        slapd.base_dn(),
        slapd.admin_dn(),
        slapd.admin_password()
    )
}

/// Makes the shared domain and `count` accounts `u1`.. with password
/// `pw-uN`, through `member`'s admin API.
pub fn accounts(member: &TestServer, count: usize) -> Vec<String> {
    accounts_in(member, DOMAIN, count)
}

/// [`accounts`] in `domain`.
pub fn accounts_in(member: &TestServer, domain: &str, count: usize) -> Vec<String> {
    member.admin(&["domain", "add", domain, "--shared"]).unwrap();
    (1..=count)
        .map(|i| {
            let name = format!("u{i}@{domain}");
            member.admin(&["account", "add", &name, "--password", &format!("pw-u{i}")]).unwrap();
            name
        })
        .collect()
}

/// The password the tests give `account`.
pub fn password(account: &str) -> String {
    format!("pw-{}", account.split('@').next().unwrap_or_default())
}

/// Sends one message to `recipient` through `member`'s SMTP; `Err` with
/// the reply when it is not accepted.
pub fn try_send(member: &TestServer, recipient: &str, subject: &str) -> Result<(), String> {
    try_send_to(member.ports.smtp(), recipient, subject)
}

/// [`try_send`] to the SMTP listener at `smtp`.
pub fn try_send_to(smtp: std::net::SocketAddr, recipient: &str, subject: &str) -> Result<(), String> {
    let mut c = SmtpClient::connect(smtp).map_err(|e| e.to_string())?;
    c.reply().map_err(|e| e.to_string())?;
    c.command("EHLO client.example").map_err(|e| e.to_string())?;
    for command in ["MAIL FROM:<sender@remote.example>".to_owned(), format!("RCPT TO:<{recipient}>")] {
        let reply = c.command(&command).map_err(|e| e.to_string())?;
        if !reply.starts_with("250") {
            return Err(reply);
        }
    }
    let reply = c.command("DATA").map_err(|e| e.to_string())?;
    if !reply.starts_with("354") {
        return Err(reply);
    }
    c.send(format!("Subject: {subject}\r\n\r\nhello\r\n.\r\n").as_bytes()).map_err(|e| e.to_string())?;
    let reply = c.reply().map_err(|e| e.to_string())?;
    if !reply.starts_with("250") {
        return Err(reply);
    }
    let _ = c.command("QUIT");
    Ok(())
}

/// Sends until accepted (a member may answer 4xx for a moment).
pub fn send(member: &TestServer, recipient: &str, subject: &str) {
    super::cluster::wait(&format!("{subject} accepted"), Duration::from_secs(30), || {
        try_send(member, recipient, subject).is_ok()
    });
}

/// The subjects, once the account's IMAP login through `member` works and
/// shows at least `at_least` messages.
pub fn read(member: &TestServer, account: &str, at_least: usize) -> Vec<String> {
    testkit::wait_for(Duration::from_secs(40), &format!("{account} readable with {at_least} messages"), || {
        subjects(member, account).ok().filter(|subjects| subjects.len() >= at_least)
    })
}

/// The subjects in `account`'s INBOX, read over IMAP through `member`;
/// `Err` with the server's answer when the login or the reading fails.
pub fn subjects(member: &TestServer, account: &str) -> Result<Vec<String>, String> {
    let args = [
        "--imap".to_owned(),
        member.ports.imap().to_string(),
        "--user".to_owned(),
        account.to_owned(),
        "--password".to_owned(),
        password(account),
    ];
    let output = testkit::python("dynamic_subjects.py", &args).map_err(|e| e.to_string())?;
    Ok(output.lines().filter_map(|line| line.strip_prefix("subject: ")).map(str::to_owned).collect())
}

/// Pauses (SIGSTOP) or resumes (SIGCONT) a member's process.
pub fn signal(member: &TestServer, signal: &str) {
    let pid = member.pid().expect("the member runs");
    let status = std::process::Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}
