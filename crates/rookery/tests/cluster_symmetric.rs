//! A symmetric static cluster (CM-8): two members that are frontend and
//! backend at once, each a `rookery` process on its own loopback address,
//! sharing a private slapd. Each serves its own accounts' sessions in
//! process and proxies the others' to their host; every protocol and
//! every login form works on both members, over STARTTLS and implicit TLS
//! alike. The proxy's listeners apply the per-IP limits with each
//! protocol's busy reply (CM-18) and take PROXY headers from a trusted
//! load balancer, whose client address reaches the account's host. An
//! IDLE through a member stays up for as long as the host allows.
mod common;

use common::cluster::{SECRET, free_port};
use std::time::Duration;
use testkit::slapd::Slapd;
use testkit::{TestServer, TestServerOptions};

/// The members' `[imap] idle_timeout`: an IDLE ends with the host's
/// `* BYE` after this much silence, not sooner.
const IMAP_IDLE_SECS: u64 = 36;
/// The members' `max_connections_per_ip`.
const PER_IP: usize = 3;
/// The test's load balancer, trusted by both members to send PROXY headers.
const BALANCER: &str = "127.0.0.9";

/// One member's fixed addresses, all on its own loopback address.
struct Member {
    name: &'static str,
    ip: &'static str,
    link: String,
    imap: String,
    imaps: String,
    pop3: String,
    pop3s: String,
    submission: String,
    submissions: String,
}

impl Member {
    fn new(name: &'static str, ip: &'static str) -> Member {
        let addr = || format!("{ip}:{}", free_port(ip));
        Member {
            name,
            ip,
            link: addr(),
            imap: addr(),
            imaps: addr(),
            pop3: addr(),
            pop3s: addr(),
            submission: addr(),
            submissions: addr(),
        }
    }

    fn services(&self) -> String {
        format!(
            "[cluster.services.\"{}\"]\nimap = \"{}\"\npop3 = \"{}\"\nsubmission = \"{}\"\n",
            self.name, self.imap, self.pop3, self.submission
        )
    }
}

/// Starts `me` as a symmetric member. The test kit's config listens on
/// 127.0.0.1 with system-chosen ports; the first start makes the member's
/// data, then the config is rewritten to `me`'s fixed addresses (which the
/// other member's `[cluster.services]` names) and the member restarted.
fn start(slapd: &Slapd, me: &Member, other: &Member) -> TestServer {
    let extra_config = format!(
        r#"[directory]
kind = "ldap"
url = "{url}"
base_dn = "{base}"
bind_dn = "{admin}"
bind_password = "{password}"

[queue]
retry_schedule = ["1s"]

[limits]
max_connections_per_ip = {PER_IP}
proxy_protocol_from = ["{BALANCER}"]

[cluster]
role = "symmetric"

[cluster.members]
"{me_name}" = "{me_link}"
"{other_name}" = "{other_link}"

[cluster.link]
address = "{me_link}"
allow = ["{other_ip}"]
secret = "{SECRET}"

{services}
"#,
        url = slapd.url(),
        base = slapd.base_dn(),
        admin = slapd.admin_dn(),
        password = slapd.admin_password(),
        me_name = me.name,
        me_link = me.link,
        other_name = other.name,
        other_link = other.link,
        other_ip = other.ip,
        services = other.services(),
    );
    let mut server =
        common::server_with(TestServerOptions { main_domain: me.name.to_owned(), extra_config, ..Default::default() });
    let config = std::fs::read_to_string(server.config_path()).unwrap();
    // Plaintext logins only over TLS, loopback or not: every login below
    // goes through STARTTLS or implicit TLS, as from a remote client.
    let listen = |section: &str, plain: &str, tls: &str, idle: &str| {
        format!(
            "[{section}]\nlisten = [\"{plain}\"]\nlisten_tls = [\"{tls}\"]\n{idle}allow_plaintext_auth_on_loopback = false\n"
        )
    };
    let rewritten = config
        .replacen(
            "[submission]\nlisten = [\"127.0.0.1:0\"]\n",
            &listen("submission", &me.submission, &me.submissions, ""),
            1,
        )
        .replacen("[pop3]\nlisten = [\"127.0.0.1:0\"]\n", &listen("pop3", &me.pop3, &me.pop3s, ""), 1)
        .replacen(
            "[imap]\nlisten = [\"127.0.0.1:0\"]\n",
            &listen("imap", &me.imap, &me.imaps, &format!("idle_timeout = \"{IMAP_IDLE_SECS}s\"\n")),
            1,
        );
    assert_eq!(rewritten.matches("listen_tls").count(), 3, "every listener moved:\n{rewritten}");
    std::fs::write(server.config_path(), rewritten).unwrap();
    server.restart().unwrap();
    for (name, addr) in [
        ("imap", &me.imap),
        ("imaps", &me.imaps),
        ("pop3", &me.pop3),
        ("pop3s", &me.pop3s),
        ("submission", &me.submission),
        ("submissions", &me.submissions),
    ] {
        assert_eq!(server.ports.get(name).to_string(), *addr, "{name} on its fixed address");
    }
    server
}

struct Cluster {
    _slapd: Slapd,
    sv1: Member,
    sv2: Member,
    member1: TestServer,
    member2: TestServer,
}

/// Two symmetric members; alice is hosted on sv1, bob on sv2.
fn cluster() -> Cluster {
    let slapd = Slapd::start().unwrap();
    let sv1 = Member::new("sv1.test", "127.0.0.2");
    let sv2 = Member::new("sv2.test", "127.0.0.3");
    let member1 = start(&slapd, &sv1, &sv2);
    let member2 = start(&slapd, &sv2, &sv1);
    member1.admin(&["domain", "add", "shared.test", "--shared"]).unwrap();
    member1.admin(&["account", "add", "alice@shared.test", "--password", "pw-alice"]).unwrap();
    member2.admin(&["account", "add", "bob@shared.test", "--password", "pw-bob"]).unwrap();
    Cluster { _slapd: slapd, sv1, sv2, member1, member2 }
}

/// Runs a scenario of `tests/clients/proxy_scenarios.py`; its output.
fn scenario(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output = testkit::python("proxy_scenarios.py", &args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    println!("{output}");
    output
}

fn answer(output: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix("answer: "))
        .unwrap_or_else(|| panic!("no answer in {output}"))
        .to_owned()
}

/// Waits until `account` has `n` messages on its host.
fn wait_for_messages(host: &TestServer, account: &str, n: usize) {
    testkit::wait_for(Duration::from_secs(30), &format!("{n} messages for {account}"), || {
        let show = host.admin(&["account", "show", account]).ok()?;
        let line = show.lines().find(|l| l.starts_with("used:"))?;
        let count: usize = line.split(" in ").nth(1)?.split_whitespace().next()?.parse().ok()?;
        (count == n).then_some(())
    });
}

#[test]
fn each_account_is_served_on_both_members_by_every_protocol() {
    let c = cluster();
    let users =
        [("alice@shared.test", "pw-alice", "bob@shared.test"), ("bob@shared.test", "pw-bob", "alice@shared.test")];
    // Submission on both members, STARTTLS on one and implicit TLS on the
    // other, to the account hosted on the other member or on this one.
    for (user, password, to) in users {
        for (member, tls) in [(&c.sv1, "--starttls"), (&c.sv2, "--implicit-tls")] {
            let address = if tls == "--starttls" { &member.submission } else { &member.submissions };
            let subject = format!("from {user} via {}", member.name);
            scenario(&[
                "smtp-submit",
                "--submission",
                address,
                tls,
                "--user",
                user,
                "--password",
                password,
                "--sender",
                user,
                "--to",
                to,
                "--subject",
                &subject,
            ]);
        }
    }
    wait_for_messages(&c.member1, "alice@shared.test", 2);
    wait_for_messages(&c.member2, "bob@shared.test", 2);

    // Each account's own mailbox, whichever member the client uses; its
    // own member serves it in process, the other proxies it.
    for (user, password, other) in users {
        for member in [&c.sv1, &c.sv2] {
            let expect = |via: &Member| format!("from {other} via {}", via.name);
            let (expect1, expect2) = (expect(&c.sv1), expect(&c.sv2));
            let common = ["--user", user, "--password", password, "--min-messages", "2"];
            let refuse = format!("from {user}");
            let checks = ["--expect", &expect1, "--expect", &expect2, "--refuse", &refuse];
            let imap_forms: [&[&str]; 3] = [
                &["--imap", &member.imap, "--starttls"],
                &["--imap", &member.imap, "--starttls", "--mechanism", "plain"],
                &["--imap", &member.imaps, "--implicit-tls"],
            ];
            for form in imap_forms {
                scenario(&[&["imap-login"], form, &common, &checks].concat());
            }
            let pop3_forms: [&[&str]; 3] = [
                &["--pop3", &member.pop3, "--starttls"],
                &["--pop3", &member.pop3, "--starttls", "--mechanism", "plain"],
                &["--pop3", &member.pop3s, "--implicit-tls"],
            ];
            for form in pop3_forms {
                scenario(&[&["pop3-login"], form, &common, &checks].concat());
            }
        }
    }

    // Before TLS no login is taken, on either path (the proxy's answers
    // before the login are the sessions' own); a wrong password gets the
    // host's answer, on both members.
    for member in [&c.sv1, &c.sv2] {
        let refused =
            scenario(&["imap-fail", "--imap", &member.imap, "--user", "alice@shared.test", "--password", "pw-alice"]);
        assert!(answer(&refused).contains("PRIVACYREQUIRED"), "{refused}");
        for (user, _, _) in users {
            let args = ["pop3-fail", "--pop3", &member.pop3s, "--implicit-tls", "--user", user, "--password", "wrong"];
            let refused = scenario(&args);
            assert!(answer(&refused).contains("[AUTH] invalid credentials"), "{refused}");
        }
    }
}

#[test]
fn the_proxy_listeners_limit_each_client_and_pass_the_balancers_client_on() {
    let c = cluster();
    // Over the per-IP limit each protocol says so in its own words, on a
    // listener that proxies (CM-18).
    let hold = PER_IP.to_string();
    for (address, busy) in [
        (&c.sv1.imap, "* BYE too many connections"),
        (&c.sv1.pop3, "-ERR [SYS/TEMP] too many connections, try again later"),
        (&c.sv1.submission, "421 4.7.0 too many connections, try again later"),
    ] {
        let refused = scenario(&["busy", "--address", address, "--hold", &hold]);
        assert_eq!(answer(&refused), busy, "{address}");
    }

    // Behind the load balancer the client it names is what is limited:
    // one client over its share is refused, another is served.
    let behind = |client: &str, hold: &str| {
        scenario(&["busy", "--address", &c.sv2.imap, "--hold", hold, "--source", BALANCER, "--proxy-client", client])
    };
    assert_eq!(answer(&behind("192.0.2.50:40000", &hold)), "* BYE too many connections");
    assert!(answer(&behind("192.0.2.51:40000", "0")).starts_with("* OK"), "another client is served");

    // The client address reaches the account's host, proxied (bob is on
    // sv2) or served here (alice is on sv1): its submission session names
    // it in the Received header of the message it takes.
    let through_balancer = |user: &str, password: &str, to: &str, client: &str, subject: &str| {
        scenario(&[
            "smtp-submit",
            "--submission",
            &c.sv1.submission,
            "--starttls",
            "--user",
            user,
            "--password",
            password,
            "--sender",
            user,
            "--to",
            to,
            "--subject",
            subject,
            "--source",
            BALANCER,
            "--proxy-client",
            client,
        ]);
    };
    through_balancer("bob@shared.test", "pw-bob", "alice@shared.test", "192.0.2.77:41000", "bob behind the balancer");
    through_balancer("alice@shared.test", "pw-alice", "bob@shared.test", "192.0.2.78:41000", "alice behind it");
    wait_for_messages(&c.member1, "alice@shared.test", 1);
    wait_for_messages(&c.member2, "bob@shared.test", 1);
    for (user, password, client) in
        [("alice@shared.test", "pw-alice", "[192.0.2.77]"), ("bob@shared.test", "pw-bob", "[192.0.2.78]")]
    {
        scenario(&[
            "imap-login",
            "--imap",
            &c.sv1.imaps,
            "--implicit-tls",
            "--user",
            user,
            "--password",
            password,
            "--min-messages",
            "1",
            "--expect",
            client,
        ]);
    }
}

#[test]
fn an_idle_through_a_member_lasts_as_long_as_the_host_allows() {
    let c = cluster();
    let smtp = c.member1.ports.smtp().to_string();
    // bob's IDLE is proxied by sv1 to sv2, alice's served by sv1 itself;
    // both at once. Each is silent for longer than the proxy's backend
    // timeout (30 s, which must not apply after the splice), sees the new
    // message, and is ended only by its host's own idle timeout.
    let quiet = "31";
    let bye_after = (IMAP_IDLE_SECS - 1).to_string();
    let idles: Vec<_> = [("bob@shared.test", "pw-bob"), ("alice@shared.test", "pw-alice")]
        .into_iter()
        .map(|(user, password)| {
            let args: Vec<String> = [
                "imap-idle-long",
                "--imap",
                &c.sv1.imap,
                "--starttls",
                "--user",
                user,
                "--password",
                password,
                "--smtp",
                &smtp,
                "--to",
                user,
                "--quiet",
                quiet,
                "--bye-after",
                &bye_after,
            ]
            .iter()
            .map(|a| a.to_string())
            .collect();
            std::thread::spawn(move || testkit::python("proxy_scenarios.py", &args))
        })
        .collect();
    for idle in idles {
        let output = idle.join().unwrap().unwrap();
        println!("{output}");
    }
    wait_for_messages(&c.member2, "bob@shared.test", 1);
    wait_for_messages(&c.member1, "alice@shared.test", 1);
}
