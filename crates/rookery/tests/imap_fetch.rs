//! FETCH of MIME structure (ENVELOPE, BODYSTRUCTURE, part sections,
//! BINARY) over a real socket with Python's imaplib.
mod common;

#[test]
fn imaplib_fetch_structure() {
    let server = common::server();
    let out = common::imap_script_as_alice(&server, "imap_fetch.py");
    assert!(out.contains("imap fetch scenario passed"), "{out}");
}
