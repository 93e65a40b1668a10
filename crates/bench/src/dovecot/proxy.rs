//! Dovecot as a proxy, the peer of Rookery's frontend: a second private
//! Dovecot whose passdb sends every IMAP login on to one backend Dovecot
//! (`proxy=y host=... port=...`) without checking the password
//! (`nopassword=y`: the backend checks the password the client gave, as
//! Rookery's backend does behind its frontend). No mail is kept here. Its
//! connections to the backend leave from its own listening address
//! (`source_ip`), as Rookery's frontend's leave from its cluster address.
//!
//! The login processes run in Dovecot's high-performance mode
//! (`service_count = 0`, `process_min_avail` = the number of cores): each
//! serves many connections, which is what Dovecot's documentation advises
//! for proxies. In the default high-security mode every proxied session
//! keeps an `imap-login` process of its own for its whole life.

use super::{Instance, MAIL_GROUP, MAIL_USER, free_port};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// A running private Dovecot proxy.
pub struct DovecotProxy {
    instance: Instance,
    pub imap: SocketAddr,
}

impl DovecotProxy {
    /// A proxy listening on `ip` for IMAP, sending every session to
    /// `backend` (a Dovecot IMAP listener).
    pub async fn start(binary: &Path, ip: IpAddr, backend: SocketAddr) -> anyhow::Result<DovecotProxy> {
        let dir = Instance::directory()?;
        let imap = free_port(ip)?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let config = config_text(dir.path(), imap, backend, cores);
        let instance = Instance::start(binary, dir, &config, &[imap]).await?;
        Ok(DovecotProxy { instance, imap })
    }

    pub fn diagnostics(&self) -> String {
        self.instance.diagnostics()
    }

    /// The master process; every other process of the proxy descends from
    /// it.
    pub fn pid(&self) -> Option<u32> {
        self.instance.pid()
    }
}

fn config_text(dir: &Path, imap: SocketAddr, backend: SocketAddr, cores: usize) -> String {
    let dir = dir.display();
    format!(
        r#"# Written by rookery's bench: a private Dovecot proxy for one benchmark run.
instance_name = bench-dovecot-proxy
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = {ip}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = dovenull
default_internal_user = dovecot

# Every login goes to the backend, which checks the password.
passdb {{
  driver = static
  args = proxy=y host={backend_ip} port={backend_port} source_ip={ip} nopassword=y
}}
# Never consulted for a proxied login; Dovecot wants one configured.
userdb {{
  driver = static
  args = uid={MAIL_USER} gid={MAIL_GROUP} home={dir}/mail/%u allow_all_users=yes
}}

service imap-login {{
  inet_listener imap {{
    address = {ip}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  # High-performance mode, advised for proxies.
  service_count = 0
  process_min_avail = {cores}
  client_limit = 12000
}}
default_client_limit = 24000
service anvil {{
  client_limit = 24000
}}
service auth {{
  client_limit = 24000
}}
"#,
        ip = imap.ip(),
        port = imap.port(),
        backend_ip = backend.ip(),
        backend_port = backend.port(),
    )
}
