//! The demo's directory: a private OpenLDAP slapd in the demo's directory
//! with Rookery's schema (built into the binary), configured in
//! slapd.conf form so that no system-wide slapd state is read or changed.
//! The base entry is loaded with `slapadd` before the first start. slapd
//! runs in the foreground (`-d 0`), so it stays the demo's child and its
//! start-up errors reach its log.
//!
//! A replicated pair (CM-36) is the same server twice: the provider with
//! the syncprov overlay, and a consumer that starts empty and copies
//! everything under the base with syncrepl (base entry included), and
//! refers writes to the provider; `schema/replication/` has the same
//! settings for a real deployment.

use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SCHEMA: &str = include_str!("../../../../schema/rookery.schema");
/// slapd answers within tens of milliseconds; this covers a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One directory server of the demo.
pub struct Spec {
    /// Its directory: config, schema, database and log.
    pub dir: PathBuf,
    pub addr: SocketAddr,
    pub base_dn: String,
    pub bind_dn: String,
    /// The base entry's `dc` (the domain's first label).
    pub first_label: String,
    pub replication: Replication,
}

pub enum Replication {
    None,
    /// Serves its changes to consumers (the syncprov overlay).
    Provider,
    /// Copies this provider (`ldap://addr/`) and refers writes to it.
    Consumer {
        provider_url: String,
    },
}

/// What `spawn` needs: the config written and the database loaded.
pub struct Prepared {
    pub dir: PathBuf,
    pub addr: SocketAddr,
    slapd: PathBuf,
}

/// Writes the schema, the config (root DN password `password`) and,
/// unless it is a consumer (which syncrepl fills), the database with its
/// base entry.
pub async fn prepare(spec: &Spec, password: &str) -> anyhow::Result<Prepared> {
    let slapd = find_binary("slapd")?;
    let dir = spec.dir.clone();
    std::fs::create_dir_all(dir.join("data")).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("rookery.schema"), SCHEMA)?;
    crate::first_start::write_secret(&dir.join("slapd.conf"), &config(spec, password))?;
    if !matches!(spec.replication, Replication::Consumer { .. }) {
        load_base(spec).await?;
    }
    Ok(Prepared { dir, addr: spec.addr, slapd })
}

async fn load_base(spec: &Spec) -> anyhow::Result<()> {
    let slapadd = find_binary("slapadd")?;
    let base = format!(
        "dn: {}\nobjectClass: dcObject\nobjectClass: organization\ndc: {}\no: Rookery demo\n",
        spec.base_dn, spec.first_label
    );
    std::fs::write(spec.dir.join("base.ldif"), base)?;
    let mut command = tokio::process::Command::new(&slapadd);
    command.arg("-q").arg("-f").arg(spec.dir.join("slapd.conf")).arg("-l").arg(spec.dir.join("base.ldif"));
    if matches!(spec.replication, Replication::Provider) {
        // Writes the base entry's contextCSN, which consumers start from.
        command.arg("-w");
    }
    let output = command.output().await.with_context(|| format!("running {}", slapadd.display()))?;
    if !output.status.success() {
        bail!("slapadd failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// Starts slapd and waits until it answers an LDAP bind.
pub async fn spawn(prepared: &Prepared) -> anyhow::Result<tokio::process::Child> {
    let mut command = tokio::process::Command::new(&prepared.slapd);
    command.arg("-d").arg("0").arg("-h").arg(format!("ldap://{}/", prepared.addr));
    command.arg("-f").arg(prepared.dir.join("slapd.conf"));
    let what = format!("slapd on {} ({})", prepared.addr, prepared.slapd.display());
    let log = prepared.dir.join("slapd.log");
    let ready = || answers_bind(prepared.addr);
    super::members::spawn_service(&what, command, &log, ready, Duration::from_millis(20), START_TIMEOUT).await
}

fn config(spec: &Spec, password: &str) -> String {
    let modules = ["/usr/lib/ldap", "/usr/lib/x86_64-linux-gnu/ldap", "/usr/lib/aarch64-linux-gnu/ldap"]
        .into_iter()
        .find(|path| Path::new(path).join("back_mdb.la").exists() || Path::new(path).join("back_mdb.so").exists())
        .unwrap_or("/usr/lib/ldap");
    let dir = spec.dir.display();
    let (base, admin) = (&spec.base_dn, &spec.bind_dn);
    let syncprov = if matches!(spec.replication, Replication::Provider) { "moduleload syncprov\n" } else { "" };
    let replication = replication_config(spec, password);
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {dir}/rookery.schema
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
modulepath {modules}
moduleload back_mdb
{syncprov}loglevel none

database mdb
maxsize 1073741824
suffix \"{base}\"
rootdn \"{admin}\"
rootpw {password}
directory {dir}/data
limits dn.exact=\"{admin}\" size=unlimited time=unlimited
index objectClass eq
index uid eq
index rookeryAddress eq
index rookeryAliasTarget eq
index hostServer eq
index oldHostServer eq
{replication}"
    )
}

/// The replication part of the database section (see the module's doc).
fn replication_config(spec: &Spec, password: &str) -> String {
    match &spec.replication {
        Replication::None => String::new(),
        Replication::Provider => {
            "index entryCSN eq\nindex entryUUID eq\noverlay syncprov\nsyncprov-checkpoint 100 1\n".to_owned()
        }
        // Replicates as the provider's rootdn (the same password here),
        // at once and then as changes happen, retrying every second while
        // the provider is away.
        Replication::Consumer { provider_url } => format!(
            "index entryCSN eq
index entryUUID eq
syncrepl rid=001
  provider={provider_url}
  type=refreshAndPersist
  retry=\"1 +\"
  searchbase=\"{base}\"
  bindmethod=simple
  binddn=\"{admin}\"
  credentials={password}
updateref {provider_url}
",
            base = spec.base_dn,
            admin = spec.bind_dn,
        ),
    }
}

/// Sends an anonymous LDAPv3 bind and waits for any LDAP message back: an
/// open port alone does not mean slapd has opened its database.
async fn answers_bind(addr: SocketAddr) -> bool {
    // SEQUENCE { messageID 1, [APPLICATION 0] { version 3, name "", simple "" } }
    const ANONYMOUS_BIND: [u8; 14] =
        [0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00];
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        stream.write_all(&ANONYMOUS_BIND).await.ok()?;
        let mut first = [0u8; 1];
        stream.read_exact(&mut first).await.ok()?;
        (first[0] == 0x30).then_some(())
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), attempt).await, Ok(Some(())))
}

/// slapd and slapadd live in /usr/sbin, which is not on every PATH.
fn find_binary(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!("{name} not found: the demo runs a private OpenLDAP server; install the Debian package slapd (apt-get install slapd)")
        })
}
