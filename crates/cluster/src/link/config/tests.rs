use super::*;

fn parse(text: &str) -> Result<LinkConfig, toml::de::Error> {
    toml::from_str(text)
}

#[test]
fn full_table_parses_with_defaults() {
    let config = parse(
        r#"
        address = "127.0.0.2:4444"
        allow = ["127.0.0.3", "::1"]
        secret = "0123456789abcdef0123"
        request_timeout = "30s"
        "#,
    )
    .unwrap();
    assert_eq!(config.allow.len(), 2);
    assert_eq!(config.request_timeout, Duration::from_secs(30));
    assert_eq!(config.cache_per_peer, 8);
    assert!(config.validate().is_ok());
    assert!(!format!("{config:?}").contains("0123456789abcdef"));
}

#[test]
fn the_allow_list_takes_addresses_and_networks() {
    let config = parse(
        r#"
        address = "127.0.0.2:4444"
        allow = ["10.0.0.0/24", "192.0.2.7", "2001:db8::/64"]
        secret = "0123456789abcdef0123"
        "#,
    )
    .unwrap();
    let allowed = |ip: &str| config.allow.iter().any(|peers| peers.contains(ip.parse().unwrap()));
    assert!(allowed("10.0.0.200") && allowed("192.0.2.7") && allowed("2001:db8::5"));
    // An IPv4 peer on an IPv6 socket shows up IPv4-mapped.
    assert!(allowed("::ffff:10.0.0.9"));
    assert!(!allowed("10.0.1.1") && !allowed("192.0.2.8") && !allowed("2001:db9::1"));
    let bad = parse("address = \"127.0.0.2:1\"\nallow = [\"10.0.0.0/99\"]\n").unwrap_err();
    assert!(bad.to_string().contains("neither an IP address nor a network"), "{bad}");
}

#[test]
fn unknown_and_bad_keys_are_named() {
    let unknown = parse("address = \"127.0.0.2:1\"\nallow = []\nsecret = \"x\"\ncache = 3\n").unwrap_err();
    assert!(unknown.to_string().contains("cache"), "{unknown}");
    let bad = parse("address = \"127.0.0.2:1\"\nallow = []\nconnect_timeout = \"soon\"\n").unwrap_err();
    assert!(bad.to_string().contains("connect_timeout"), "{bad}");
}

#[test]
fn validation_names_the_key() {
    let key = |config: LinkConfig| config.validate().unwrap_err().key;
    let base = LinkConfig::new("127.0.0.2:1".parse().unwrap(), "0123456789abcdef");
    assert_eq!(key(LinkConfig { cache_per_peer: 0, ..base.clone() }), "cache_per_peer");
    assert_eq!(key(LinkConfig { auth_timeout: Duration::ZERO, ..base.clone() }), "auth_timeout");
    assert_eq!(key(LinkConfig { secret: Some(SecretText("short".into())), ..base.clone() }), "secret");
    assert_eq!(key(LinkConfig { secret: None, ..base.clone() }), "secret");
    assert_eq!(key(LinkConfig { secret_file: Some("/nonexistent/secret".into()), ..base.clone() }), "secret_file");
    assert_eq!(
        key(LinkConfig { secret: None, secret_file: Some("/nonexistent/secret".into()), ..base }),
        "secret_file"
    );
}

#[test]
fn secret_from_file() {
    let dir = std::env::temp_dir().join(format!("cluster-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("secret");
    std::fs::write(&path, "0123456789abcdefXYZ\n").unwrap();
    let config = LinkConfig {
        secret: None,
        secret_file: Some(path),
        ..LinkConfig::new("127.0.0.2:1".parse().unwrap(), "unused")
    };
    assert!(config.validate().is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
