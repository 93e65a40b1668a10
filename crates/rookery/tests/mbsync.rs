//! mbsync (isync) against a real server: a two-way sync of a local Maildir
//! with several folders and a few hundred messages, changes on both sides,
//! a second sync, and a check that both sides agree message by message and
//! flag by flag. The scenario is `tests/clients/mbsync_sync.py`.
mod common;

#[test]
fn mbsync_two_way_sync_agrees_message_by_message_and_flag_by_flag() {
    let server = common::server();
    let out = common::imap_script_as_alice(&server, "mbsync_sync.py");
    assert!(out.contains("mbsync sync passed"), "{out}");
}
