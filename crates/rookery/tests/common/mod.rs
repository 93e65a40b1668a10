//! Shared by the integration tests: a started server with a few accounts.
#![allow(dead_code)]

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
