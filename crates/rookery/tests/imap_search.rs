//! SEARCH on decoded text and dates, ESEARCH and SEARCHRES over a real
//! socket with Python's imaplib.
mod common;

#[test]
fn imaplib_search() {
    let server = common::server();
    let out = common::imap_script_as_alice(&server, "imap_search.py");
    assert!(out.contains("imap search scenario passed"), "{out}");
}
