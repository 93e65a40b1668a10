//! CONDSTORE and QRESYNC over a real socket: imapclient and imaplib.
mod common;

#[test]
fn condstore_and_qresync_with_real_clients() {
    let server = common::server();
    let out = common::imap_script_as_alice(&server, "imap_condstore.py");
    assert!(out.contains("imap condstore scenario passed"), "{out}");
}
