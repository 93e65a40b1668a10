//! The failover suite (issue 5, CM-10): a private slapd with durability
//! on (mdb's default: a sync per write transaction, no `dbnosync`) holding
//! N account entries on sv2; then, in one run and timed each:
//!
//! - `rookery cluster reassign --from sv2.test --to sv3.test` (the real
//!   command: LDAP transactions of a few thousand modifies);
//! - `rookery cluster restore --server sv2.test`;
//! - the baseline: one `ldapmodify` client making the same N modifies
//!   (hostServer and oldHostServer) from an LDIF, one request each;
//! - `rookery cluster adopt sv2.test --by sv3.test` and `release`.
//!
//! Loading is not timed: the entries are generated as LDIF and put in
//! with `slapadd` while slapd is stopped.

use anyhow::{Context, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use testkit::slapd::Slapd;

const DOMAIN: &str = "shared.test";

pub struct Settings {
    pub accounts: usize,
    pub rookery_bin: PathBuf,
}

pub fn run(settings: &Settings) -> anyhow::Result<()> {
    let n = settings.accounts;
    println!("# reassign and adopt: {n} accounts, slapd {} with durability on", slapd_version());
    let mut slapd = Slapd::start_durable()?;
    let started = Instant::now();
    load(&mut slapd, n)?;
    println!("loaded {n} entries with slapadd in {:.1} s (not measured)", started.elapsed().as_secs_f64());
    let work = tempfile::Builder::new().prefix("rookery-bench-reassign-").tempdir()?;
    let config = write_config(work.path(), &slapd)?;
    let rookery = |args: &[&str]| rookery(&settings.rookery_bin, &config, args);

    let reassign = rookery(&["cluster", "reassign", "--from", "sv2.test", "--to", "sv3.test"])?;
    expect_line(&reassign.1, &format!("{n} accounts reassigned from sv2.test to sv3.test"))?;
    println!("reassign: {:.1} s", reassign.0.as_secs_f64());
    let restore = rookery(&["cluster", "restore", "--server", "sv2.test"])?;
    expect_line(&restore.1, &format!("{n} accounts restored to sv2.test"))?;
    println!("restore: {:.1} s", restore.0.as_secs_f64());

    // The baseline on the same records, back on sv2 now.
    let ldif = work.path().join("modifies.ldif");
    std::fs::write(&ldif, modifies_ldif(&slapd, n))?;
    let baseline = ldapmodify(&slapd, &ldif)?;
    println!("ldapmodify: {:.1} s", baseline.as_secs_f64());

    let adopt = rookery(&["cluster", "adopt", "sv2.test", "--by", "sv3.test"])?;
    expect_line(&adopt.1, "sv2.test adopted by sv3.test")?;
    let release = rookery(&["cluster", "release", "sv2.test"])?;
    expect_line(&release.1, "sv2.test released by sv3.test")?;

    let rate = |elapsed: Duration| n as f64 / elapsed.as_secs_f64();
    println!();
    println!("| operation ({n} records) | seconds | records/s |");
    println!("|---|---:|---:|");
    for (name, elapsed) in [
        ("rookery cluster reassign", reassign.0),
        ("rookery cluster restore", restore.0),
        ("ldapmodify, 1 client", baseline),
    ] {
        println!("| {name} | {:.1} | {:.0} |", elapsed.as_secs_f64(), rate(elapsed));
    }
    println!("| rookery cluster adopt (1 write) | {:.3} | - |", adopt.0.as_secs_f64());
    println!("| rookery cluster release (1 write) | {:.3} | - |", release.0.as_secs_f64());
    println!();
    println!(
        "ratio ldapmodify / reassign: {:.1}x; reassign {} the 60 s target",
        baseline.as_secs_f64() / reassign.0.as_secs_f64(),
        if reassign.0 < Duration::from_secs(60) { "meets" } else { "misses" }
    );
    println!(
        "(adopt and release include the command's start-up and LDAP connect; the command prints the write's own time)"
    );
    print!("{}{}", adopt.1, release.1);
    slapd.stop()?;
    Ok(())
}

fn slapd_version() -> String {
    let output = Command::new(find("slapd")).arg("-VV").output();
    let text = output.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).unwrap_or_default();
    text.split_whitespace().skip_while(|w| *w != "slapd").nth(1).unwrap_or("(unknown version)").to_owned()
}

/// Stops slapd, adds the domain and `n` accounts on sv2.test (plus the
/// server entries of sv2 and sv3) offline, and starts it again.
fn load(slapd: &mut Slapd, n: usize) -> anyhow::Result<()> {
    slapd.stop()?;
    let base = slapd.base_dn().to_owned();
    let mut ldif = String::with_capacity(n * 260);
    let _ = write!(
        ldif,
        "dn: ou=domains,{base}\nobjectClass: organizationalUnit\nou: domains\n\n\
         dn: ou={DOMAIN},ou=domains,{base}\nobjectClass: organizationalUnit\nobjectClass: rookeryDomain\nou: {DOMAIN}\n\n\
         dn: ou=servers,{base}\nobjectClass: organizationalUnit\nou: servers\n\n"
    );
    for server in ["sv2.test", "sv3.test"] {
        let _ = write!(ldif, "dn: cn={server},ou=servers,{base}\nobjectClass: rookeryServer\ncn: {server}\n\n");
    }
    for i in 0..n {
        let _ = write!(
            ldif,
            "dn: uid=u{i:07},ou={DOMAIN},ou=domains,{base}\nobjectClass: inetOrgPerson\nobjectClass: rookeryAccount\n\
             uid: u{i:07}\ncn: u{i:07}@{DOMAIN}\nsn: u{i:07}\nrookeryAddress: u{i:07}@{DOMAIN}\nhostServer: sv2.test\n\n"
        );
    }
    let file = slapd.path().join("accounts.ldif");
    std::fs::write(&file, ldif)?;
    let output = Command::new(find("slapadd"))
        .arg("-q")
        .arg("-f")
        .arg(slapd.path().join("slapd.conf"))
        .arg("-l")
        .arg(&file)
        .output()
        .context("running slapadd")?;
    if !output.status.success() {
        bail!("slapadd failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    std::fs::remove_file(&file)?;
    slapd.restart()
}

/// The same rewrite as a reassign, as an `ldapmodify` LDIF.
fn modifies_ldif(slapd: &Slapd, n: usize) -> String {
    let base = slapd.base_dn();
    let mut ldif = String::with_capacity(n * 160);
    for i in 0..n {
        let _ = write!(
            ldif,
            "dn: uid=u{i:07},ou={DOMAIN},ou=domains,{base}\nchangetype: modify\nreplace: hostServer\n\
             hostServer: sv3.test\n-\nreplace: oldHostServer\noldHostServer: sv2.test\n\n"
        );
    }
    ldif
}

fn ldapmodify(slapd: &Slapd, ldif: &Path) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = Command::new(find("ldapmodify"))
        .args(["-x", "-H", &slapd.url(), "-D", slapd.admin_dn(), "-w", slapd.admin_password(), "-f"])
        .arg(ldif)
        .stdout(std::process::Stdio::null())
        .output()
        .context("running ldapmodify (Debian package ldap-utils)")?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        bail!("ldapmodify failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(elapsed)
}

/// A configuration with just what `rookery cluster` reads.
fn write_config(dir: &Path, slapd: &Slapd) -> anyhow::Result<PathBuf> {
    let path = dir.join("rookery.toml");
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    std::fs::write(
        &path,
        format!(
            "main_domain = \"admin.test\"\ndata_dir = \"{}\"\n\n[directory]\nkind = \"ldap\"\nurl = \"{}\"\n\
             base_dn = \"{}\"\nbind_dn = \"{}\"\nbind_password = \"{}\"\n",
            data.display(),
            slapd.url(),
            slapd.base_dn(),
            slapd.admin_dn(),
            slapd.admin_password()
        ),
    )?;
    Ok(path)
}

/// Runs a `rookery` command; its wall time and stdout.
fn rookery(binary: &Path, config: &Path, args: &[&str]) -> anyhow::Result<(Duration, String)> {
    let started = Instant::now();
    let output = Command::new(binary)
        .arg("--config")
        .arg(config)
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("rookery {} failed ({}): {stdout}", args.join(" "), output.status);
    }
    Ok((elapsed, stdout))
}

fn expect_line(output: &str, expected: &str) -> anyhow::Result<()> {
    if !output.contains(expected) {
        bail!("expected {expected:?} in the command's output, got {output:?}");
    }
    Ok(())
}

/// The LDAP tools live in /usr/sbin (slapd, slapadd) and /usr/bin.
fn find(name: &str) -> PathBuf {
    ["/usr/sbin", "/usr/bin", "/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}
