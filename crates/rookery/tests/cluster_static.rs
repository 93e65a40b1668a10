//! A static cluster on one machine: a private slapd as the shared
//! directory, two backends and a frontend as separate `rookery` processes
//! on their own loopback addresses, linked by the cluster link. Mail for a
//! shared domain sent to the frontend reaches each account's host
//! (CM-6, CM-25); while a host is down it waits in the frontend's queue and
//! arrives once the host is back (CM-9); the frontend stores no accounts
//! (CM-15).
mod common;

use common::cluster::{Member, Setup, admin_as, copy_tree, messages, read_tagged, send, services, start, wait};
use std::time::Duration;
use testkit::SmtpClient;
use testkit::slapd::Slapd;

#[test]
fn shared_domain_mail_reaches_each_accounts_host_through_the_frontend() {
    let slapd = Slapd::start().unwrap();
    let sv1 = Member::new("sv1.test", "backend", "127.0.0.2");
    let sv2 = Member::new("sv2.test", "backend", "127.0.0.3");
    let fe = Member::new("fe.test", "frontend", "127.0.0.4");
    let all = [&sv1, &sv2, &fe];
    // sv1 hands its outbound mail to the frontends (CM-27); the frontend
    // relays it to the sink, the Internet here.
    let sink = testkit::SmtpSink::start("127.0.0.6").unwrap();
    let backend1 = start(&slapd, &sv1, &all, Setup { outbound: "forward_to = [\"*\"]", ..Setup::default() });
    let mut backend2 = start(&slapd, &sv2, &all, Setup::default());
    let extra = services(&backend1, "sv1.test") + &services(&backend2, "sv2.test");
    let relay = format!("relay = [\"{}\"]\ntls = \"disabled\"", sink.addr);
    let frontend = start(&slapd, &fe, &all, Setup { extra: &extra, outbound: &relay, ..Setup::default() });

    // One directory: a domain added on one member is every member's, and
    // an account made on a backend is hosted there.
    backend1.admin(&["domain", "add", "shared.test", "--shared"]).unwrap();
    backend1.admin(&["account", "add", "alice@shared.test", "--password", "pw-alice"]).unwrap();
    backend2.admin(&["account", "add", "bob@shared.test", "--password", "pw-bob"]).unwrap();

    send(&frontend, &["alice@shared.test", "bob@shared.test"], "first");
    wait("alice's mail on her host", Duration::from_secs(30), || messages(&backend1, "alice@shared.test") == 1);
    wait("bob's mail on his host", Duration::from_secs(30), || messages(&backend2, "bob@shared.test") == 1);

    // Logins on the frontend reach each account's host (DESIGN §4).
    for (user, password) in [("alice@shared.test", "pw-alice"), ("bob@shared.test", "pw-bob")] {
        let mut imap = SmtpClient::connect(frontend.ports.imap()).unwrap();
        assert!(imap.read_line().unwrap().starts_with("* OK"));
        imap.line(&format!("a LOGIN {user} {password}")).unwrap();
        let login = read_tagged(&mut imap, "a");
        assert!(login.contains("a OK"), "{login}");
        imap.line("b SELECT INBOX").unwrap();
        let select = read_tagged(&mut imap, "b");
        assert!(select.contains("* 1 EXISTS"), "{user}: {select}");
        imap.line("c LOGIN nobody@shared.test x").unwrap();
        imap.line("d LOGOUT").unwrap();
    }
    // Alice submits through the frontend to her backend, which forwards
    // the outbound message to the frontend, which delivers it.
    let mut submission = SmtpClient::connect(frontend.ports.submission()).unwrap();
    assert!(submission.reply().unwrap().starts_with("220"));
    submission.command("EHLO client.example").unwrap();
    let auth = submission.command(&format!("AUTH PLAIN {}", common::sasl_plain("alice@shared.test", "pw-alice")));
    assert!(auth.unwrap().starts_with("235"));
    assert!(submission.command("MAIL FROM:<alice@shared.test>").unwrap().starts_with("250"));
    assert!(submission.command("RCPT TO:<friend@sink.example>").unwrap().starts_with("250"));
    assert!(submission.command("DATA").unwrap().starts_with("354"));
    submission.send(b"Subject: out through the cluster\r\n\r\nhi\r\n.\r\n").unwrap();
    assert!(submission.reply().unwrap().starts_with("250"));
    wait("alice's outbound mail at the sink", Duration::from_secs(30), || !sink.messages().is_empty());
    let out = &sink.messages()[0];
    assert_eq!(
        (out.mail_from.as_str(), out.recipients.clone()),
        ("alice@shared.test", vec!["friend@sink.example".into()])
    );
    assert!(out.content.contains("Subject: out through the cluster"));

    let mut pop3 = SmtpClient::connect(frontend.ports.pop3()).unwrap();
    assert!(pop3.read_line().unwrap().starts_with("+OK"));
    assert!(pop3.command("USER bob@shared.test").unwrap().starts_with("+OK"));
    assert!(pop3.command("PASS wrong").unwrap().starts_with("-ERR"));
    assert!(pop3.command("USER bob@shared.test").unwrap().starts_with("+OK"));
    assert!(pop3.command("PASS pw-bob").unwrap().starts_with("+OK"));
    assert!(pop3.command("STAT").unwrap().starts_with("+OK 1 "));
    pop3.command("QUIT").unwrap();

    // Bob's host goes down: his mail waits in the frontend's queue, and
    // arrives within a retry interval of the host coming back (CM-9).
    backend2.kill();
    send(&frontend, &["bob@shared.test", "alice@shared.test"], "while down");
    wait("alice is not held up by bob's host", Duration::from_secs(30), || {
        messages(&backend1, "alice@shared.test") == 2
    });
    wait("bob's mail deferred on the frontend", Duration::from_secs(30), || {
        let list = admin_as(&frontend, &backend1, &["queue", "list"]).unwrap();
        let Some(id) = list.lines().find(|l| l.contains("bob@shared.test")).and_then(|l| l.split_whitespace().next())
        else {
            return false;
        };
        admin_as(&frontend, &backend1, &["queue", "show", id]).unwrap().contains("cluster member sv2.test")
    });
    backend2.restart().unwrap();
    wait("bob's mail after his host is back", Duration::from_secs(30), || messages(&backend2, "bob@shared.test") == 2);
    wait("the frontend's queue empties", Duration::from_secs(30), || {
        admin_as(&frontend, &backend1, &["queue", "list"]).unwrap().trim().is_empty()
    });

    // The frontend stores no account (CM-15).
    let accounts = frontend.data_dir().join("accounts");
    let stored: Vec<_> =
        std::fs::read_dir(&accounts).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(stored.is_empty(), "the frontend stored {stored:?}");
    assert!(!frontend.data_dir().join("directory.redb").exists(), "no local directory on the frontend");
}

#[test]
fn reassign_moves_a_failed_backends_accounts_and_restore_undoes_it() {
    let slapd = Slapd::start().unwrap();
    let sv2 = Member::new("sv2.test", "backend", "127.0.0.3");
    let sv3 = Member::new("sv3.test", "backend", "127.0.0.5");
    let fe = Member::new("fe.test", "frontend", "127.0.0.4");
    let all = [&sv2, &sv3, &fe];
    let mut failed = start(&slapd, &sv2, &all, Setup::default());
    let standby = start(&slapd, &sv3, &all, Setup::default());
    let frontend = start(&slapd, &fe, &all, Setup::default());
    failed.admin(&["domain", "add", "shared.test", "--shared"]).unwrap();
    failed.admin(&["account", "add", "carol@shared.test", "--password", "pw-carol"]).unwrap();
    send(&frontend, &["carol@shared.test"], "before the failure");
    wait("carol's first message on sv2", Duration::from_secs(30), || messages(&failed, "carol@shared.test") == 1);

    // sv2 dies; mail for carol waits on the frontend.
    failed.kill();
    send(&frontend, &["carol@shared.test"], "during the failure");
    // sv2's storage is attached to sv3 (a shared disk, CM-10), and the
    // directory is rewritten: carol and sv2's postmaster.
    copy_tree(&failed.data_dir().join("accounts"), &standby.data_dir().join("accounts"));
    let out = standby.admin(&["cluster", "reassign", "--from", "sv2.test", "--to", "sv3.test"]).unwrap();
    assert!(out.contains("2 accounts reassigned from sv2.test to sv3.test"), "{out}");
    wait("carol's mail, old and queued, on sv3", Duration::from_secs(30), || {
        messages(&standby, "carol@shared.test") == 2
    });
    wait("the frontend's queue empties", Duration::from_secs(30), || {
        admin_as(&frontend, &standby, &["queue", "list"]).unwrap().trim().is_empty()
    });

    let out = standby.admin(&["cluster", "restore", "--server", "sv2.test"]).unwrap();
    assert!(out.contains("2 accounts restored to sv2.test"), "{out}");
    let refused = standby.admin_command(&["cluster", "reassign", "--from", "sv2.test", "--to", "not a name"]).output();
    assert!(!refused.unwrap().status.success());
}

/// The admin commands through a frontend (CM-19, CM-20, CM-24): a call
/// about an account runs on its host over the cluster link, a new account
/// goes to the backend it names, and any command runs on a named member.
/// The frontend keeps no password: it is administered with a backend's
/// postmaster login, checked against the shared directory (CM-15, CM-30).
#[test]
fn members_are_administered_through_the_frontend_over_the_link() {
    let slapd = Slapd::start().unwrap();
    let sv1 = Member::new("sv1.test", "backend", "127.0.0.2");
    let sv2 = Member::new("sv2.test", "backend", "127.0.0.3");
    let fe = Member::new("fe.test", "frontend", "127.0.0.4");
    let all = [&sv1, &sv2, &fe];
    let backend1 = start(&slapd, &sv1, &all, Setup::default());
    let mut backend2 = start(&slapd, &sv2, &all, Setup::default());
    let services = services(&backend2, "sv2.test");
    let frontend = start(&slapd, &fe, &all, Setup { extra: &services, ..Setup::default() });
    let password = std::fs::read_to_string(backend1.data_dir().join("postmaster.password")).unwrap();
    let login = ["--admin-user", "postmaster@sv1.test", "--admin-password", password.trim()];
    let through_frontend = |args: &[&str]| frontend.admin(&[&login[..], args].concat());
    backend1.admin(&["domain", "add", "shared.test", "--shared"]).unwrap();

    let out = through_frontend(&["account", "add", "carol@shared.test", "--password", "pw", "--server", "sv2.test"]);
    assert!(out.unwrap().contains("account carol@shared.test added"));
    let err = through_frontend(&["account", "add", "dave@shared.test", "--password", "pw"]).unwrap_err();
    assert!(err.to_string().contains("keeps no accounts"), "{err}");
    let err = through_frontend(&["account", "add", "dave@shared.test", "--server", "sv9.test"]).unwrap_err();
    assert!(err.to_string().contains("sv9.test is not a member"), "{err}");

    // Carol lives on sv2: her mail is counted there, and shown through the
    // frontend, which has no storage of its own.
    send(&frontend, &["carol@shared.test"], "hello carol");
    wait("carol's mail on sv2", Duration::from_secs(30), || messages(&backend2, "carol@shared.test") == 1);
    let show = through_frontend(&["account", "show", "carol@shared.test"]).unwrap();
    assert!(show.contains("in 1 message"), "{show}");

    // The web admin's cluster picture on the frontend: every member, live,
    // with the accounts each backend hosts counted in the shared directory.
    let session = common::admin_pages::log_in(frontend.ports.admin(), "postmaster@sv1.test", password.trim());
    let svg = common::admin_pages::get(frontend.ports.admin(), "/admin/cluster.svg", &session);
    assert_eq!(svg.status, 200, "{}", svg.body);
    let accounts_of = |member: &str| -> u64 {
        let box_text = svg.body.split(&format!(">{member}</text>")).nth(1).unwrap_or_default();
        let figure = box_text.split("accounts: ").nth(1).and_then(|rest| rest.split('<').next());
        figure.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no account count for {member}: {}", svg.body))
    };
    assert!(svg.body.contains(">fe.test</text>") && !svg.body.contains("DEAD"), "{}", svg.body);
    assert!(accounts_of("sv2.test") >= 1, "carol is hosted on sv2: {}", svg.body);

    // Each member's live figures are its own, asked of it over the link:
    // IMAP sessions held open on sv2 are counted on sv2, not on the
    // frontend that draws the picture, and sv2's queue size is known.
    let held: Vec<SmtpClient> = (0..3)
        .map(|_| {
            let mut imap = SmtpClient::connect(backend2.ports.imap()).unwrap();
            // Loopback is a trusted proxy of a backend: it expects a PROXY header first.
            imap.line(&format!("PROXY TCP4 192.0.2.1 127.0.0.3 40000 {}", backend2.ports.imap().port())).unwrap();
            let greeting = imap.read_line().unwrap();
            assert!(greeting.starts_with("* OK"), "{greeting}");
            imap
        })
        .collect();
    let figure_of = |svg: &str, member: &str, label: &str| -> Option<u64> {
        let box_text = svg.split(&format!(">{member}</text>")).nth(1)?.split("</g>").next()?;
        box_text.split(&format!("{label}: ")).nth(1)?.split('<').next()?.parse().ok()
    };
    let mut picture = String::new();
    wait("sv2's held IMAP sessions in the picture", Duration::from_secs(30), || {
        picture = common::admin_pages::get(frontend.ports.admin(), "/admin/cluster.svg", &session).body;
        figure_of(&picture, "sv2.test", "connections").is_some_and(|n| n >= 3)
    });
    assert!(figure_of(&picture, "fe.test", "connections").is_some_and(|n| n < 3), "{picture}");
    assert!(figure_of(&picture, "sv2.test", "queue").is_some(), "sv2's queue size is known: {picture}");
    let sv2_itself = common::admin_pages::get_basic(
        frontend.ports.admin(),
        "/api/v1/cluster/members/sv2.test/server/status",
        "postmaster@sv1.test",
        password.trim(),
    );
    assert_eq!(sv2_itself.status, 200, "{}", sv2_itself.body);
    let sv2_itself: serde_json::Value = serde_json::from_str(&sv2_itself.body).unwrap();
    assert_eq!(sv2_itself["name"], "sv2.test");
    assert_eq!(sv2_itself["role"], "backend");
    assert!(sv2_itself["connections"]["imap"].as_u64().is_some_and(|n| n >= 3), "{sv2_itself}");
    let status = common::admin_pages::get_basic(
        frontend.ports.admin(),
        "/api/v1/cluster/status",
        "postmaster@sv1.test",
        password.trim(),
    );
    let status: serde_json::Value = serde_json::from_str(&status.body).unwrap();
    let sv2 = status["members"].as_array().unwrap().iter().find(|m| m["name"] == "sv2.test").unwrap().clone();
    assert_eq!(sv2["queue_messages"], sv2_itself["queue_messages"], "{status}");
    assert_eq!(sv2["role"], "backend", "a static member's role is what it says of itself: {status}");
    drop(held);

    // A password set through the frontend is the one her host accepts.
    through_frontend(&["account", "passwd", "carol@shared.test", "--password", "new-pw"]).unwrap();
    let mut imap = SmtpClient::connect(frontend.ports.imap()).unwrap();
    assert!(imap.read_line().unwrap().starts_with("* OK"));
    imap.line("a LOGIN carol@shared.test new-pw").unwrap();
    let reply = read_tagged(&mut imap, "a");
    assert!(reply.contains("a OK"), "{reply}");

    // Any command on a named member, through the frontend.
    let domains = through_frontend(&["--member", "sv2.test", "domain", "list"]).unwrap();
    assert!(domains.contains("shared.test\tshared"), "{domains}");
    assert!(domains.contains("sv1.test\tlocal to sv1.test"), "a main domain is its member's (CM-2): {domains}");

    // A domain added without --shared is local to its member: its
    // accounts are made there and nowhere else (CM-1).
    backend1.admin(&["domain", "add", "one.test"]).unwrap();
    assert!(backend2.admin(&["domain", "list"]).unwrap().contains("one.test\tlocal to sv1.test"));
    let err = backend2.admin(&["account", "add", "erin@one.test", "--password", "pw"]).unwrap_err();
    assert!(err.to_string().contains("one.test is local to sv1.test"), "{err}");
    let err = through_frontend(&["account", "add", "erin@one.test", "--server", "sv2.test"]).unwrap_err();
    assert!(err.to_string().contains("one.test is local to sv1.test"), "{err}");
    through_frontend(&["account", "add", "erin@one.test", "--password", "pw", "--server", "sv1.test"]).unwrap();
    let err = through_frontend(&["domain", "add", "two.test"]).unwrap_err();
    assert!(err.to_string().contains("hosts no domain of its own"), "{err}");
    through_frontend(&["domain", "add", "three.test", "--shared"]).unwrap();
    assert!(backend1.admin(&["domain", "list"]).unwrap().contains("three.test\tshared"));
    through_frontend(&["--member", "sv1.test", "queue", "list"]).unwrap();
    let err = through_frontend(&["--member", "sv9.test", "domain", "list"]).unwrap_err();
    assert!(err.to_string().contains("sv9.test is not a member"), "{err}");

    // A host that is down: a clear temporary failure naming it.
    backend2.kill();
    // The picture still comes promptly, with sv2 drawn dead.
    let asked = std::time::Instant::now();
    let svg = common::admin_pages::get(frontend.ports.admin(), "/admin/cluster.svg", &session).body;
    assert!(asked.elapsed() < Duration::from_secs(15), "the picture waited {:?} for a dead member", asked.elapsed());
    let sv2_box = svg.split(">sv2.test</text>").nth(1).and_then(|rest| rest.split("</g>").next()).unwrap_or_default();
    assert!(sv2_box.contains("DEAD") && sv2_box.contains("queue: ?"), "{svg}");
    let err = through_frontend(&["account", "show", "carol@shared.test"]).unwrap_err();
    assert!(err.to_string().contains("sv2.test"), "{err}");
    let stored: Vec<_> = std::fs::read_dir(frontend.data_dir().join("accounts"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(stored.is_empty(), "the frontend stored {stored:?}");
}
