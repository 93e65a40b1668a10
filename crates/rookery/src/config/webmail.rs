//! `[webmail]`: the web mail listeners and its sessions.

use anyhow::bail;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebmailSection {
    /// Plain HTTP listeners (put a TLS reverse proxy in front, or use
    /// `listen_tls`). Empty: no web mail.
    pub listen: Vec<SocketAddr>,
    /// HTTPS listeners with the server's certificate; cookies get `Secure`.
    pub listen_tls: Vec<SocketAddr>,
    /// A session unused this long ends.
    #[serde(with = "humantime_serde")]
    pub session_idle: Duration,
    /// A session ends this long after login, however much it is used.
    #[serde(with = "humantime_serde")]
    pub session_max: Duration,
    /// The largest request (a message with its attachments): `"25MB"`,
    /// `"512kB"`, `"1GiB"` or a number of bytes.
    #[serde(deserialize_with = "byte_size")]
    pub max_upload: u64,
    /// HTTP reverse proxies (addresses or networks) whose
    /// `X-Forwarded-For` and `X-Forwarded-Proto` are believed; the cluster
    /// members (`cluster.link.allow`) always are.
    pub trusted_proxies: Vec<String>,
}

impl Default for WebmailSection {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 8100))],
            listen_tls: Vec::new(),
            session_idle: Duration::from_secs(2 * 3600),
            session_max: Duration::from_secs(7 * 24 * 3600),
            max_upload: 25_000_000,
            trusted_proxies: Vec::new(),
        }
    }
}

impl WebmailSection {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.session_idle < Duration::from_secs(60) {
            bail!("webmail.session_idle must be at least 1m");
        }
        if self.session_max < self.session_idle {
            bail!("webmail.session_max must be at least webmail.session_idle");
        }
        if self.max_upload < 1024 {
            bail!("webmail.max_upload must be at least 1kB");
        }
        if usize::try_from(self.max_upload).is_err() {
            bail!("webmail.max_upload is too large for this machine");
        }
        net::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("webmail.trusted_proxies: {e}"))?;
        Ok(())
    }
}

/// A size with an optional unit (kB/MB/GB are powers of 1000, KiB/MiB/GiB
/// of 1024), or a plain number of bytes.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is not a size such as \"25MB\""))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use B, kB, MB, GB, KiB, MiB or GiB)")),
    };
    number.checked_mul(factor).ok_or_else(|| format!("{text:?} is too large"))
}

fn byte_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(bytes) => Ok(bytes),
        Size::Text(text) => parse_byte_size(&text).map_err(|e| serde::de::Error::custom(format!("max_upload: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_byte_size("25MB"), Ok(25_000_000));
        assert_eq!(parse_byte_size("512 kB"), Ok(512_000));
        assert_eq!(parse_byte_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_byte_size("100"), Ok(100));
        assert!(parse_byte_size("MB").is_err());
        assert!(parse_byte_size("5 parsecs").is_err());
        assert!(parse_byte_size("99999999999999999999GB").is_err());
    }

    #[test]
    fn section_parses_and_validates() {
        let section: WebmailSection =
            toml::from_str("listen = [\"127.0.0.5:8100\"]\nsession_idle = \"30m\"\nmax_upload = \"1MB\"").unwrap();
        assert_eq!(section.max_upload, 1_000_000);
        assert_eq!(section.session_idle, Duration::from_secs(1800));
        section.validate().unwrap();
        let bad = WebmailSection { session_max: Duration::from_secs(60), ..section.clone() };
        assert!(bad.validate().unwrap_err().to_string().contains("webmail.session_max"));
        let bad = WebmailSection { trusted_proxies: vec!["nope".into()], ..section };
        assert!(bad.validate().unwrap_err().to_string().contains("webmail.trusted_proxies"));
        let err = toml::from_str::<WebmailSection>("max_upload = \"3 bananas\"").unwrap_err().to_string();
        assert!(err.contains("max_upload"), "{err}");
    }
}
