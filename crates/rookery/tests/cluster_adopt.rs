//! Failover by adoption (issue 5): a backend dies (SIGKILL), its storage is
//! attached to another backend, and `rookery cluster adopt` makes that one
//! serve the dead one's accounts with a single directory write. Through
//! the frontend, the accounts log in by IMAP and see their mail, and mail
//! for them (queued meanwhile, or new) arrives on the adopter; `release`
//! gives the name back. Each member is a `rookery` process on its own
//! loopback address, with a private slapd as the directory.
mod common;

use common::cluster::{Member, Setup, admin_as, copy_tree, messages, read_tagged, send, services, start, wait};
use std::time::{Duration, Instant};
use testkit::slapd::Slapd;
use testkit::{SmtpClient, TestServer};

/// Logs in through the frontend by IMAP and selects INBOX; the login
/// reply, and the SELECT reply when the login succeeded.
fn imap_session(frontend: &TestServer, user: &str, password: &str) -> (String, Option<String>) {
    let mut imap = SmtpClient::connect(frontend.ports.imap()).unwrap();
    assert!(imap.read_line().unwrap().starts_with("* OK"));
    imap.line(&format!("a LOGIN {user} {password}")).unwrap();
    let login = read_tagged(&mut imap, "a");
    if !login.contains("a OK") {
        return (login, None);
    }
    imap.line("b SELECT INBOX").unwrap();
    let select = read_tagged(&mut imap, "b");
    imap.line("c LOGOUT").unwrap();
    (login, Some(select))
}

#[test]
fn an_adopted_backends_accounts_are_served_by_the_adopter_until_released() {
    let slapd = Slapd::start().unwrap();
    let sv2 = Member::new("sv2.test", "backend", "127.0.0.3");
    let sv3 = Member::new("sv3.test", "backend", "127.0.0.5");
    let fe = Member::new("fe.test", "frontend", "127.0.0.4");
    let all = [&sv2, &sv3, &fe];
    let mut failed = start(&slapd, &sv2, &all, Setup::default());
    let standby = start(&slapd, &sv3, &all, Setup::default());
    let extra = services(&failed, "sv2.test") + &services(&standby, "sv3.test");
    let frontend = start(&slapd, &fe, &all, Setup { extra: &extra, ..Setup::default() });

    failed.admin(&["domain", "add", "shared.test", "--shared"]).unwrap();
    failed.admin(&["account", "add", "carol@shared.test", "--password", "pw-carol"]).unwrap();
    failed.admin(&["account", "add", "dave@shared.test", "--password", "pw-dave"]).unwrap();
    standby.admin(&["account", "add", "erin@shared.test", "--password", "pw-erin"]).unwrap();
    send(&frontend, &["carol@shared.test", "dave@shared.test", "erin@shared.test"], "before the failure");
    wait("carol's and dave's first message on sv2", Duration::from_secs(30), || {
        messages(&failed, "carol@shared.test") == 1 && messages(&failed, "dave@shared.test") == 1
    });
    wait("erin's first message on sv3", Duration::from_secs(30), || messages(&standby, "erin@shared.test") == 1);

    // sv2 dies; mail for carol waits on the frontend; her login through
    // the frontend is a clean temporary failure.
    failed.kill();
    send(&frontend, &["carol@shared.test"], "during the failure");
    let (login, _) = imap_session(&frontend, "carol@shared.test", "pw-carol");
    assert!(login.contains("a NO"), "{login}");

    // sv2's storage is attached to sv3, and sv3 takes over sv2's name: one
    // directory write, whatever the number of accounts.
    copy_tree(&failed.data_dir().join("accounts"), &standby.data_dir().join("accounts"));
    let started = Instant::now();
    let out = standby.admin(&["cluster", "adopt", "sv2.test", "--by", "sv3.test"]).unwrap();
    eprintln!("adopt command: {:?} ({out})", started.elapsed());
    assert!(out.contains("sv2.test adopted by sv3.test"), "{out}");

    // Every member follows within seconds: the queued mail arrives on sv3,
    // and sv2's accounts log in through the frontend and see their mail.
    wait("carol's queued mail on sv3", Duration::from_secs(30), || messages(&standby, "carol@shared.test") == 2);
    wait("carol logs in through the frontend and sees both messages", Duration::from_secs(30), || {
        let (_, select) = imap_session(&frontend, "carol@shared.test", "pw-carol");
        select.is_some_and(|s| s.contains("* 2 EXISTS"))
    });
    let (login, select) = imap_session(&frontend, "dave@shared.test", "pw-dave");
    assert!(select.as_deref().is_some_and(|s| s.contains("* 1 EXISTS")), "{login} {select:?}");
    let (login, select) = imap_session(&frontend, "dave@shared.test", "wrong");
    assert!(login.contains("a NO") && select.is_none(), "a wrong password is still refused: {login}");
    send(&frontend, &["dave@shared.test", "erin@shared.test"], "after the adoption");
    wait("dave's new mail on sv3", Duration::from_secs(30), || messages(&standby, "dave@shared.test") == 2);
    wait("erin's new mail on sv3", Duration::from_secs(30), || messages(&standby, "erin@shared.test") == 2);
    wait("the frontend's queue empties", Duration::from_secs(30), || {
        admin_as(&frontend, &standby, &["queue", "list"]).unwrap().trim().is_empty()
    });

    // Refusals name the server concerned.
    let refused = standby.admin_command(&["cluster", "adopt", "nosuch.test", "--by", "sv3.test"]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown server nosuch.test"), "{refused:?}");
    let refused = standby.admin_command(&["cluster", "adopt", "sv3.test", "--by", "sv2.test"]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("sv2.test is itself adopted"), "{refused:?}");

    // Release: sv2's name is its own again. It is still down, so its
    // accounts get the clean temporary failure through the frontend.
    let out = standby.admin(&["cluster", "release", "sv2.test"]).unwrap();
    assert!(out.contains("sv2.test released by sv3.test"), "{out}");
    wait("carol is routed to sv2 again", Duration::from_secs(30), || {
        let (login, select) = imap_session(&frontend, "carol@shared.test", "pw-carol");
        select.is_none() && login.contains("a NO")
    });
    let (login, select) = imap_session(&frontend, "erin@shared.test", "pw-erin");
    assert!(select.is_some_and(|s| s.contains("* 2 EXISTS")), "erin is unaffected: {login}");
    let refused = standby.admin_command(&["cluster", "release", "sv2.test"]).output().unwrap();
    assert!(String::from_utf8_lossy(&refused.stderr).contains("sv2.test is not adopted"), "{refused:?}");

    let help = standby.admin(&["cluster", "--help"]).unwrap();
    assert!(help.contains("reassign/restore") && help.contains("adopt/release"), "{help}");
}
