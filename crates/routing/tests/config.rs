//! The `[outbound]` section as the binary reads it, and the errors that
//! name the bad key.

use routing::{OutboundConfig, Router};
use std::time::Duration;

#[derive(serde::Deserialize)]
struct File {
    outbound: OutboundConfig,
}

fn parse(toml_text: &str) -> Result<OutboundConfig, String> {
    toml::from_str::<File>(toml_text).map(|file| file.outbound).map_err(|error| error.to_string())
}

fn router_error(toml_text: &str) -> String {
    let config = parse(toml_text).expect("the TOML parses");
    match Router::new(&config) {
        Ok(_) => panic!("config accepted: {toml_text}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn defaults() {
    let config = parse("[outbound]\n").expect("empty section parses");
    assert_eq!(config, OutboundConfig::default());
    assert_eq!(config.smtp_port, 25);
    assert!(config.dns_servers.is_empty() && config.relay.is_empty() && config.forward_to.is_empty());
    assert!(config.routes.is_empty());
    assert_eq!(config.resolve_timeout, Duration::from_secs(30));
}

#[test]
fn every_key() {
    let config = parse(
        r#"
[outbound]
smtp_port = 2525
dns_servers = ["127.0.0.1:5353", "[::1]:53"]
relay = ["smarthost.example:587"]
forward_to = []
resolve_timeout = "5s"

[outbound.routes]
"example.com" = ["[192.0.2.1]:2525", "backup.example.net"]
"*.example.org" = ["mx.example.org"]
"#,
    )
    .expect("parses");
    assert_eq!(config.smtp_port, 2525);
    assert_eq!(config.dns_servers.len(), 2);
    assert_eq!(config.relay, ["smarthost.example:587"]);
    assert_eq!(config.routes["*.example.org"], ["mx.example.org"]);
    assert_eq!(config.resolve_timeout, Duration::from_secs(5));
    Router::new(&config).expect("valid");
}

#[test]
fn unknown_keys_are_refused() {
    let error = parse("[outbound]\nrelays = [\"x\"]\n").expect_err("unknown key");
    assert!(error.contains("relays"), "{error}");
}

#[test]
fn errors_name_the_key() {
    let cases = [
        (
            r#"[outbound.routes]
"example.com" = ["x:y:z"]"#,
            r#"outbound.routes."example.com": bad host "x:y:z""#,
        ),
        (
            r#"[outbound.routes]
"*.*.com" = ["relay"]"#,
            r#"outbound.routes."*.*.com": the key must be a domain or *.domain"#,
        ),
        (
            r#"[outbound.routes]
"example.com" = []"#,
            r#"outbound.routes."example.com": no hosts"#,
        ),
        ("[outbound]\nrelay = [\"relay:0\"]", r#"outbound.relay: bad host "relay:0""#),
        ("[outbound]\nforward_to = [\"fe 1\"]", r#"outbound.forward_to: bad host "fe 1""#),
        (
            "[outbound]\nrelay = [\"a\"]\nforward_to = [\"b\"]",
            "outbound.forward_to: cannot be set together with outbound.relay",
        ),
        ("[outbound]\nsmtp_port = 0", "outbound.smtp_port: must be 1-65535"),
        ("[outbound]\nresolve_timeout = \"0s\"", "outbound.resolve_timeout: must be more than 0"),
    ];
    for (toml_text, expected) in cases {
        assert_eq!(router_error(toml_text), expected);
    }
}

#[test]
fn forward_to_star_is_accepted() {
    let config = parse("[outbound]\nforward_to = [\"*\"]\ndns_servers = [\"127.0.0.1:53\"]").expect("parses");
    Router::new(&config).expect("* is a valid forward target");
}
