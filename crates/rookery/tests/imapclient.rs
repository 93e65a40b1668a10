//! Every IMAP command through the `imapclient` Python package over a real
//! socket: STARTTLS, mailboxes (with names beyond ASCII, which imapclient
//! sends in modified UTF-7), messages, flags, copy/move, expunge, IDLE
//! with a second connection, quota.
mod common;

#[test]
fn imapclient_scenario() {
    let server = common::server();
    let out = common::imap_script_as_alice(&server, "imapclient_scenario.py");
    assert!(out.contains("imapclient scenario passed"), "{out}");
}
