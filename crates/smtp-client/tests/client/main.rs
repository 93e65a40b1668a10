//! The client against a scripted fake server over loopback sockets.

mod fake_server;
mod pool;
mod robustness;
mod tls;
mod transaction;

use smtp_client::{ClientConfig, Envelope, Timeouts, TlsPolicy};
use std::time::Duration;

/// Short timeouts: a test that waits for one waits this long.
pub fn config() -> ClientConfig {
    let mut config = ClientConfig::new("client.test");
    config.timeouts = Timeouts::all(Duration::from_secs(5));
    config.tls_policy = TlsPolicy::Opportunistic;
    config
}

pub fn envelope(recipients: &[&str]) -> Envelope {
    Envelope {
        mail_from: "sender@example.com".into(),
        recipients: recipients.iter().map(|recipient| recipient.to_string()).collect(),
        smtputf8: false,
        body_8bit: false,
    }
}
