//! The round trip with Python's smtplib and poplib, over real sockets.
mod common;

#[test]
fn smtplib_and_poplib_round_trip() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    let bob = common::account(&server, "bob");
    let out = testkit::python(
        "roundtrip.py",
        &[
            "--smtp".into(),
            server.ports.smtp().to_string(),
            "--submission".into(),
            server.ports.submission().to_string(),
            "--pop3".into(),
            server.ports.pop3().to_string(),
            "--user".into(),
            alice,
            "--password".into(),
            "pw-alice".into(),
            "--sender".into(),
            bob,
            "--sender-password".into(),
            "pw-bob".into(),
        ],
    )
    .unwrap();
    assert!(out.contains("deletion kept"), "{out}");
}
