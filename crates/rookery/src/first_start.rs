//! What the server does the first time it starts on a data directory:
//! create its main domain and the `postmaster` account, whose random
//! password is printed once and kept in `postmaster.password` (mode 0600)
//! so that the admin commands on this machine can read it.

use anyhow::Context;
use directory::Directory;
use rand::Rng;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use types::{AccountName, DomainName};

pub const PASSWORD_FILE: &str = "postmaster.password";

/// Ensures the main domain and its postmaster exist. In a cluster the main
/// domain is local to this member (`server`): never shared (CM-2).
pub async fn ensure_main_domain(
    directory: &dyn Directory,
    main: &DomainName,
    server: Option<&DomainName>,
    data_dir: &Path,
) -> anyhow::Result<()> {
    if !directory.has_domain(main).await? {
        let added = match server {
            Some(server) => directory.add_local_domain(main, server).await,
            None => directory.add_domain(main).await,
        };
        added.with_context(|| format!("creating the main domain {main}"))?;
        tracing::info!(domain = %main, "created the main domain");
    }
    let postmaster = AccountName::parse("postmaster", Some(main)).expect("postmaster is a valid name");
    if directory.account(&postmaster).await?.is_none() {
        let password = random_password();
        write_secret(&data_dir.join(PASSWORD_FILE), &password)?;
        directory.add_account(&postmaster, &password, None).await.context("creating postmaster")?;
        println!("rookery: created {postmaster} with password {password}");
        println!("rookery: (kept in {}, mode 0600)", data_dir.join(PASSWORD_FILE).display());
    }
    Ok(())
}

/// 20 characters from an unambiguous alphabet: about 115 bits.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// Writes a secret readable by this user only, durably.
pub fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(file, "{secret}")?;
    file.sync_all()?;
    Ok(())
}
