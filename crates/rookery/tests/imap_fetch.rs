//! FETCH of MIME structure (ENVELOPE, BODYSTRUCTURE, part sections,
//! BINARY) over a real socket with Python's imaplib.
mod common;

#[test]
fn imaplib_fetch_structure() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    let out = testkit::python(
        "imap_fetch.py",
        &[
            "--imap".into(),
            server.ports.imap().to_string(),
            "--user".into(),
            alice,
            "--password".into(),
            "pw-alice".into(),
        ],
    )
    .unwrap();
    assert!(out.contains("imap fetch scenario passed"), "{out}");
}
