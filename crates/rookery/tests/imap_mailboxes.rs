//! IMAP mailbox extensions over a real socket with Python's imaplib:
//! SPECIAL-USE, CHILDREN, NAMESPACE, QUOTA, APPENDLIMIT, LITERAL+/-,
//! AUTHENTICATE LOGIN, ENABLE.
mod common;

#[test]
fn imaplib_mailbox_extensions() {
    let server = common::server();
    let user = format!("quota@{}", server.main_domain());
    let quota = "20480";
    server.admin(&["account", "add", &user, "--password", "pw-quota", "--quota", quota]).unwrap();
    let args = [
        "--imap".into(),
        server.ports.imap().to_string(),
        "--user".into(),
        user,
        "--password".into(),
        "pw-quota".into(),
        "--quota".into(),
        quota.into(),
    ];
    let out = testkit::python("imap_mailboxes.py", &args).unwrap();
    assert!(out.contains("imap mailboxes scenario passed"), "{out}");
}
