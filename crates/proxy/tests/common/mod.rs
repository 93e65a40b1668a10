//! Shared by the frontend tests: real `rookery serve` backends, a frontend
//! started in this process, and the client scripts.
#![allow(dead_code)]

use proxy::{Frontend, FrontendConfig, Protocol, StaticBackends};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use testkit::{TestServer, TestServerOptions};
use tokio::sync::watch;
use types::{AccountName, DomainName};

/// The `rookery` binary of this build. A test of a library crate cannot
/// name another package's binary (`CARGO_BIN_EXE_*` is only set in the
/// binary's own package), so it is found beside this test's executable:
/// `target/<profile>/deps/<test>` -> `target/<profile>/rookery`.
/// `ROOKERY_BIN` overrides; `cargo build -p rookery` must run first.
pub fn rookery_binary() -> String {
    if let Ok(path) = std::env::var("ROOKERY_BIN") {
        return path;
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps");
    let binary: PathBuf = profile_dir.join("rookery");
    assert!(binary.exists(), "{} is missing: run `cargo build -p rookery` first", binary.display());
    binary.to_string_lossy().into_owned()
}

/// A backend trusting PROXY headers from 127.0.0.1, where the frontend
/// connects from, with one account `<name>@<domain>` (password
/// `pw-<name>`).
pub fn backend(domain: &str, name: &str) -> TestServer {
    let server = TestServer::start_with(
        &rookery_binary(),
        TestServerOptions {
            main_domain: domain.to_owned(),
            extra_config: "[limits]\nproxy_protocol_from = [\"127.0.0.1\"]\n".to_owned(),
            ..TestServerOptions::default()
        },
    )
    .expect("backend starts");
    let full = format!("{name}@{domain}");
    server.admin(&["account", "add", &full, "--password", &format!("pw-{name}")]).expect("account add");
    server
}

/// A frontend on 127.0.0.3 for the three protocols; stops when dropped.
pub struct TestFrontend {
    pub imap: SocketAddr,
    pub pop3: SocketAddr,
    pub submission: SocketAddr,
    _shutdown: watch::Sender<bool>,
}

pub fn account(full: &str) -> AccountName {
    full.parse().expect("account name")
}

/// The lookup for `backends`: each account to its server's ports.
pub fn lookup(backends: &[(&str, &TestServer)]) -> StaticBackends {
    let mut lookup = StaticBackends::new();
    for (name, server) in backends {
        let name = account(name);
        lookup = lookup
            .with(name.clone(), Protocol::Imap, server.ports.imap())
            .with(name.clone(), Protocol::Pop3, server.ports.pop3())
            .with(name, Protocol::Submission, server.ports.submission());
    }
    lookup
}

pub fn frontend_config(main_domain: &str) -> FrontendConfig {
    let mut config = FrontendConfig::new(DomainName::parse(main_domain).expect("domain"));
    config.hostname = "frontend.example".to_owned();
    config.backend_timeout = Duration::from_secs(10);
    config
}

/// Starts the frontend's three listeners on the current runtime.
pub async fn frontend(
    config: FrontendConfig,
    lookup: StaticBackends,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> TestFrontend {
    let frontend = Arc::new(Frontend::new(config, lookup, tls));
    let (shutdown_tx, shutdown) = watch::channel(false);
    let mut addrs = Vec::new();
    for protocol in [Protocol::Imap, Protocol::Pop3, Protocol::Submission] {
        let busy: &'static [u8] = b"busy\r\n";
        let listener = net::Listener::bind(
            "127.0.0.3:0".parse().expect("address"),
            "proxy",
            net::TlsMode::Off,
            net::ListenerLimits::default(),
            busy,
        )
        .await
        .expect("bind");
        addrs.push(listener.local_addr().expect("local addr"));
        tokio::spawn(frontend.clone().serve(protocol, listener, shutdown.clone()));
    }
    TestFrontend { imap: addrs[0], pop3: addrs[1], submission: addrs[2], _shutdown: shutdown_tx }
}

/// A self-signed TLS identity for the frontend, made now.
pub fn tls(dir: &std::path::Path) -> tokio_rustls::TlsAcceptor {
    net::TlsConfig { cert_path: dir.join("cert.pem"), key_path: dir.join("key.pem") }
        .load_or_create(&["frontend.example".to_owned()])
        .expect("tls identity")
}

/// Runs a scenario of `tests/clients/proxy_scenarios.py`, off the runtime.
pub async fn scenario(args: Vec<String>) -> anyhow::Result<String> {
    let output = tokio::task::spawn_blocking(move || testkit::python("proxy_scenarios.py", &args)).await??;
    // Shown when a test fails: what the script checked.
    println!("{output}");
    Ok(output)
}

/// `--flag value` pairs and bare words as script arguments.
pub fn args(words: &[&dyn std::fmt::Display]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// The `answer: ...` line a failing-login scenario printed.
pub fn answer(output: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix("answer: "))
        .unwrap_or_else(|| panic!("no answer in {output}"))
        .to_owned()
}
