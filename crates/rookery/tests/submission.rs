//! Submission: authentication rules, sender ownership, remote recipients
//! kept in the queue. Uses swaks (Debian package) as a real client.
mod common;

use testkit::{SmtpClient, TestServer};

fn swaks(server: &TestServer, args: &[&str]) -> std::process::Output {
    std::process::Command::new("swaks")
        .args(["--server", &server.ports.submission().to_string(), "--timeout", "30"])
        .args(args)
        .output()
        .expect("swaks is installed (test.sh installs it)")
}

#[test]
fn swaks_starttls_auth_login_submits_to_local_and_remote() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    let bob = common::account(&server, "bob");
    let out = swaks(
        &server,
        &[
            "--tls",
            "--auth",
            "LOGIN",
            "--auth-user",
            &bob,
            "--auth-password",
            "pw-bob",
            "--from",
            &bob,
            "--to",
            &format!("{alice},friend@remote.example"),
            "--header",
            "Subject: from swaks",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("250 2.0.0"), "{text}");
    // The local recipient is delivered; the remote one waits in the queue
    // for outbound delivery.
    let show = testkit::wait_for(std::time::Duration::from_secs(10), "remote recipient held", || {
        let list = server.admin(&["queue", "list"]).unwrap();
        let id = list.lines().find(|l| l.contains("friend@remote.example"))?.split_whitespace().next()?.to_owned();
        let show = server.admin(&["queue", "show", &id]).unwrap();
        (show.contains("Held") && show.contains("Delivered")).then_some(show)
    });
    assert!(show.contains(&format!("from:     <{bob}>")), "{show}");
}

#[test]
fn wrong_password_gets_535() {
    let server = common::server();
    let bob = common::account(&server, "bob");
    let out =
        swaks(&server, &["--tls", "--auth", "PLAIN", "--auth-user", &bob, "--auth-password", "nope", "--to", &bob]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("535 5.7.8"), "{text}");
}

#[test]
fn sender_must_be_the_account_or_an_alias() {
    let server = common::server();
    let bob = common::account(&server, "bob");
    let alice = common::account(&server, "alice");
    server.admin(&["alias", "add", "robert@test.example", &bob]).unwrap();
    let mut c = SmtpClient::connect(server.ports.submission()).unwrap();
    c.reply().unwrap();
    c.command("EHLO client.example").unwrap();
    // Without authentication nothing is accepted.
    assert!(c.command("MAIL FROM:<bob@test.example>").unwrap().starts_with("530 5.7.0"));
    let plain = common::sasl_plain(&bob, "pw-bob");
    assert!(c.command(&format!("AUTH PLAIN {plain}")).unwrap().starts_with("235 2.7.0"));
    let spoof = c.command(&format!("MAIL FROM:<{alice}>")).unwrap();
    assert!(spoof.starts_with("553 5.7.1"), "{spoof}");
    assert!(c.command("MAIL FROM:<robert@test.example>").unwrap().starts_with("250"));
    c.command("RSET").unwrap();
    assert!(c.command(&format!("MAIL FROM:<{bob}>")).unwrap().starts_with("250"));
}

#[test]
fn auth_with_bad_base64_gets_501() {
    let server = common::server();
    let mut c = SmtpClient::connect(server.ports.submission()).unwrap();
    c.reply().unwrap();
    c.command("EHLO client.example").unwrap();
    let reply = c.command("AUTH PLAIN !!!not-base64!!!").unwrap();
    assert!(reply.starts_with("501"), "{reply}");
    assert!(c.command("AUTH LOGIN").unwrap().starts_with("334"));
    let reply = c.command("%%%").unwrap();
    assert!(reply.starts_with("501"), "{reply}");
    assert!(c.command("NOOP").unwrap().starts_with("250"));
}
