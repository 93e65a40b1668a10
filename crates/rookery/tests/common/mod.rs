//! Shared by the integration tests: a started server with a few accounts.
#![allow(dead_code)]

pub mod admin_pages;
pub mod cluster;
pub mod dynamic;
pub mod metrics;
pub mod web;

use testkit::{TestServer, TestServerOptions};

pub const BIN: &str = env!("CARGO_BIN_EXE_rookery");

pub fn server() -> TestServer {
    TestServer::start(BIN).expect("server starts")
}

pub fn server_with(options: TestServerOptions) -> TestServer {
    TestServer::start_with(BIN, options).expect("server starts")
}

/// Adds `name@<main domain>` with password `pw-<name>`; returns the full name.
pub fn account(server: &TestServer, name: &str) -> String {
    let full = format!("{name}@{}", server.main_domain());
    server.admin(&["account", "add", &full, "--password", &format!("pw-{name}")]).expect("account add");
    full
}

/// Adds `alice` and runs the IMAP client script `script` (in
/// `tests/clients/`) against the server as her; returns its stdout.
pub fn imap_script_as_alice(server: &TestServer, script: &str) -> String {
    let alice = account(server, "alice");
    let args = [
        "--imap".into(),
        server.ports.imap().to_string(),
        "--user".into(),
        alice,
        "--password".into(),
        "pw-alice".into(),
    ];
    testkit::python(script, &args).unwrap()
}

/// The AUTH PLAIN initial response for `user` and `password`.
pub fn sasl_plain(user: &str, password: &str) -> String {
    let raw = format!("\0{user}\0{password}");
    // Base64 by hand: the test must not depend on the server's crates.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = raw.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &x)| acc | (x as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
