//! The static cluster end to end, on the demo's machinery: `rookery demo
//! static` starts a private slapd, frontends and backends, each member a
//! separate `rookery serve` process on its own loopback address with a
//! config rendered from `examples/`, and makes sample accounts spread over
//! the backends; these tests read its `cluster.json` and drive real
//! clients (imaplib, poplib, smtplib in `tests/clients/cluster_clients.py`)
//! through the frontends, killing members with SIGKILL on the way.
//! `cluster_static.rs` covers reassign/restore and forward-to-*.
//!
//! Each test has its own address range (127.0.41.x, 127.0.42.x), so the
//! tests run side by side and beside the other cluster tests.

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use testkit::SmtpClient;

const BIN: &str = env!("CARGO_BIN_EXE_rookery");
const SCRIPT: &str = "cluster_clients.py";
/// Mail still on its way (a retry interval is 1 s here) arrives within this.
const MAIL_WAIT: &str = "60";

/// A running `rookery demo static`, stopped (SIGTERM) when dropped.
struct Demo {
    process: Child,
    summary: Value,
    dir: tempfile::TempDir,
    /// Everything the demo printed after "ready" (reports of dead members).
    later_output: Arc<Mutex<String>>,
}

struct Account {
    name: String,
    password: String,
    server: String,
}

impl Demo {
    /// `unlisted_backends`: not started, and named in no other member's
    /// config (found through the directory once started, CM-4).
    fn start(first_address: &str, accounts: usize, spare_backends: usize, unlisted_backends: usize) -> Demo {
        let dir = tempfile::Builder::new().prefix("rookery-e2e-").tempdir().unwrap();
        let mut process = Command::new(BIN)
            .args(["demo", "static", "--base-port", "20000", "--retry-interval", "1s"])
            .args(["--first-address", first_address])
            .args(["--accounts", &accounts.to_string(), "--spare-backends", &spare_backends.to_string()])
            .args(["--unlisted-backends", &unlisted_backends.to_string()])
            .arg("--dir")
            .arg(dir.path().join("cluster"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines_tx, lines_rx) = mpsc::channel();
        let stdout = process.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                // The test may have stopped listening; keep draining.
                let _ = lines_tx.send(line);
            }
        });
        let mut printed = String::new();
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let line = lines_rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
            let Ok(line) = line else {
                let _ = process.kill();
                let _ = process.wait();
                panic!("the demo did not become ready; it printed:\n{printed}");
            };
            printed.push_str(&line);
            printed.push('\n');
            if line.starts_with("demo: ready") {
                break;
            }
        }
        let later_output = Arc::new(Mutex::new(String::new()));
        let later = later_output.clone();
        std::thread::spawn(move || {
            while let Ok(line) = lines_rx.recv() {
                let mut later = later.lock().unwrap();
                later.push_str(&line);
                later.push('\n');
            }
        });
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("cluster/cluster.json")).unwrap()).unwrap();
        eprintln!("demo ready; {} accounts made in {} ms", accounts, summary["accounts_made_in_ms"]);
        Demo { process, summary, dir, later_output }
    }

    fn member(&self, name: &str) -> &Value {
        let members = self.summary["members"].as_array().unwrap();
        members.iter().find(|m| m["name"].as_str().unwrap().starts_with(&format!("{name}."))).unwrap()
    }

    fn address(&self, member: &str, service: &str) -> String {
        self.member(member)["listening"][service].as_str().unwrap().to_owned()
    }

    fn path(&self, member: &str, key: &str) -> PathBuf {
        PathBuf::from(self.member(member)[key].as_str().unwrap())
    }

    /// `IMAP,POP3` of a frontend, as the client script takes it.
    fn frontend(&self, name: &str) -> String {
        format!("{},{}", self.address(name, "imap"), self.address(name, "pop3"))
    }

    fn accounts(&self) -> Vec<Account> {
        let list = self.summary["accounts"].as_array().unwrap();
        list.iter()
            .map(|a| Account {
                name: a["name"].as_str().unwrap().to_owned(),
                password: a["password"].as_str().unwrap().to_owned(),
                server: a["server"].as_str().unwrap().to_owned(),
            })
            .collect()
    }

    /// A backend's postmaster, who also administers the frontends.
    fn administrator(&self) -> (String, String) {
        let admin = &self.summary["administrators"][0];
        (admin["name"].as_str().unwrap().to_owned(), admin["password"].as_str().unwrap().to_owned())
    }

    /// SIGKILL, as a crash would.
    fn kill(&self, member: &str) {
        let pid = self.member(member)["pid"].as_u64().unwrap().to_string();
        assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    }

    /// Runs `rookery --config <member's config> ARGS` as the administrator.
    fn admin(&self, member: &str, args: &[&str]) -> String {
        let (user, password) = self.administrator();
        let output = Command::new(BIN)
            .arg("--config")
            .arg(self.path(member, "config"))
            .args(["--admin-user", &user, "--admin-password", &password])
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "rookery {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        stdout
    }

    fn queued(&self, member: &str) -> usize {
        self.admin(member, &["queue", "list"]).lines().count()
    }

    /// Writes the accounts for the client script, each expecting `expect`.
    fn accounts_file(&self, name: &str, accounts: &[&Account], expect: Value) -> String {
        let list: Vec<Value> = accounts
            .iter()
            .map(|a| serde_json::json!({ "name": a.name, "password": a.password, "expect": expect }))
            .collect();
        let path = self.dir.path().join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string(&list).unwrap()).unwrap();
        path.display().to_string()
    }

    fn later_output(&self) -> String {
        self.later_output.lock().unwrap().clone()
    }

    /// SIGTERM; the demo stops every member it still runs and exits.
    fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.process.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = self.process.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.process.kill();
                panic!("the demo did not stop within 90 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if matches!(self.process.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

/// A member the test started itself (a restart, or a backend added
/// later); killed when dropped.
struct Member {
    process: Child,
}

impl Member {
    fn start(config: &Path) -> Member {
        let mut process = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = process.stdout.take().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line.starts_with("rookery: ready") {
                    let _ = ready_tx.send(());
                }
            }
        });
        if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = process.kill();
            panic!("{} did not start again", config.display());
        }
        Member { process }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn clients(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = testkit::python(SCRIPT, &args).unwrap_or_else(|e| panic!("{e:#}"));
    eprintln!("{SCRIPT} {}: {}", args[0], out.trim());
    out
}

/// Every account logs in through every listed frontend by the protocols
/// and sees exactly what its file expects.
fn logins(file: &str, frontends: &[String], protocols: &str) {
    let mut args = vec!["logins", "--accounts", file, "--protocols", protocols, "--wait", MAIL_WAIT];
    for frontend in frontends {
        args.extend(["--frontend", frontend]);
    }
    clients(&args);
}

fn send(demo: &Demo, frontend: &str, file: &str, tag: &str) {
    clients(&["send", "--accounts", file, "--smtp", &demo.address(frontend, "smtp"), "--tag", tag]);
}

fn wait(what: &str, mut check: impl FnMut() -> bool) {
    testkit::wait_for(Duration::from_secs(60), what, || check().then_some(()));
}

/// The account's storage directory under a member's data directory.
fn stored_on(data: &Path, account: &str) -> bool {
    let (local, domain) = account.split_once('@').unwrap();
    data.join("accounts").join(domain).join(local).is_dir()
}

/// Files under `dir` whose bytes contain any of `needles`.
fn files_containing(dir: &Path, needles: &[String], skip: &dyn Fn(&Path) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
                continue;
            }
            if skip(&path) {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            if let Some(needle) = needles.iter().find(|n| text.contains(n.as_str())) {
                found.push(format!("{} holds {needle:?}", path.display()));
            }
        }
    }
    found
}

#[test]
fn three_hundred_accounts_through_two_frontends_survive_a_backend_and_a_frontend_crash() {
    let started = Instant::now();
    let mut demo = Demo::start("127.0.41.2", 300, 0, 0);
    let accounts = demo.accounts();
    let all: Vec<&Account> = accounts.iter().collect();
    let on = |server: &str| -> Vec<&Account> { accounts.iter().filter(|a| a.server.starts_with(server)).collect() };
    assert_eq!((on("sv1").len(), on("sv2").len(), on("sv3").len()), (100, 100, 100));
    let both = [demo.frontend("fe1"), demo.frontend("fe2")];

    // SMTP through each frontend, for accounts on every backend (CM-25):
    // the even ones through fe1, the odd ones through fe2.
    let even: Vec<&Account> = all.iter().step_by(2).copied().collect();
    let odd: Vec<&Account> = all.iter().skip(1).step_by(2).copied().collect();
    send(&demo, "fe1", &demo.accounts_file("even", &even, Value::Null), "first");
    send(&demo, "fe2", &demo.accounts_file("odd", &odd, Value::Null), "first");
    // Every account logs in through both frontends, by IMAP and POP3, and
    // sees its welcome and its message, each addressed to itself: 1,200
    // sessions.
    let two = demo.accounts_file("two", &all, 2.into());
    logins(&two, &both, "imap,pop3");
    // Each message was delivered to the account's host, and only there.
    for account in &accounts {
        for backend in ["sv1", "sv2", "sv3"] {
            let here = account.server.starts_with(backend);
            assert_eq!(stored_on(&demo.path(backend, "data"), &account.name), here, "{} on {backend}", account.name);
        }
    }

    // A backend crashes: only its accounts are unavailable, with the
    // protocols' temporary failures (CM-9).
    demo.kill("sv2");
    wait("the demo to report sv2's death", || demo.later_output().contains("sv2.example.test"));
    assert!(demo.later_output().contains("exited unexpectedly"), "{}", demo.later_output());
    let unavailable = demo.accounts_file("sv2-down", &on("sv2"), "unavailable".into());
    logins(&unavailable, &both, "imap,pop3");
    // Mail for every account is accepted meanwhile; sv2's waits in the
    // frontends' queues, the others' is delivered.
    send(&demo, "fe1", &demo.accounts_file("even", &even, Value::Null), "during");
    send(&demo, "fe2", &demo.accounts_file("odd", &odd, Value::Null), "during");
    let others: Vec<&Account> = on("sv1").into_iter().chain(on("sv3")).collect();
    logins(&demo.accounts_file("others", &others, 3.into()), &both, "imap,pop3");
    wait("sv2's 100 messages queued on the frontends", || demo.queued("fe1") + demo.queued("fe2") == 100);

    // Back up, sv2 gets its queued mail within a retry interval: every
    // account has exactly three messages (none lost, none twice).
    let sv2 = Member::start(&demo.path("sv2", "config"));
    let three = demo.accounts_file("three", &all, 3.into());
    logins(&three, &both, "imap,pop3");
    wait("the frontends' queues to empty", || demo.queued("fe1") + demo.queued("fe2") == 0);

    // A frontend crashes while it holds mail: sv3 is down, so the message
    // fe1 accepts for each of sv3's accounts waits in fe1's queue. A
    // session through fe1 is cut, and its client reconnects through fe2.
    demo.kill("sv3");
    let victim = &accounts[0];
    let mut session = SmtpClient::connect(demo.address("fe1", "imap").parse().unwrap()).unwrap();
    assert!(session.read_line().unwrap().starts_with("* OK"));
    session.line(&format!("a LOGIN {} {}", victim.name, victim.password)).unwrap();
    assert!(read_tagged(&mut session, "a").contains("a OK"));
    send(&demo, "fe1", &demo.accounts_file("all", &all, Value::Null), "last");
    wait("sv3's 100 messages queued on fe1", || demo.queued("fe1") == 100);
    demo.kill("fe1");
    assert!(session.is_closed(), "the session through fe1 is cut");
    let up: Vec<&Account> = on("sv1").into_iter().chain(on("sv2")).collect();
    logins(&demo.accounts_file("four-up", &up, 4.into()), &[demo.frontend("fe2")], "imap");
    // fe1 stays down; its queue is taken over by fe2 (CM-17), which
    // delivers it once sv3 is back: every account has exactly four
    // messages.
    let spool = demo.path("fe1", "data").join("queue");
    let imported = demo.admin("fe2", &["queue", "import", spool.to_str().unwrap()]);
    assert!(imported.starts_with("imported 100 messages"), "{imported}");
    let sv3 = Member::start(&demo.path("sv3", "config"));
    let four = demo.accounts_file("four", &all, 4.into());
    logins(&four, &[demo.frontend("fe2")], "imap,pop3");
    // fe1 back on its data has nothing left to send: still four each.
    let fe1 = Member::start(&demo.path("fe1", "config"));
    logins(&four, &both, "imap,pop3");
    wait("the frontends' queues to empty", || demo.queued("fe1") + demo.queued("fe2") == 0);

    // CM-15: after all this the frontends hold no account names, password
    // hashes or stored mail, their queues included: an idle, drained
    // queue cuts its spool back to nothing (crates/queue), a moment after
    // the last delivery.
    let mut needles: Vec<String> = accounts.iter().map(|a| a.name.clone()).collect();
    needles.push("$argon2".to_owned());
    for frontend in ["fe1", "fe2"] {
        let data = demo.path(frontend, "data");
        wait(&format!("{frontend} holds no account data"), || files_containing(&data, &needles, &|_| false).is_empty());
        let stored = std::fs::read_dir(data.join("accounts")).map(|d| d.flatten().count()).unwrap_or(0);
        assert_eq!(stored, 0, "{frontend} stores no account");
        assert!(!data.join("postmaster.password").exists(), "{frontend} keeps no password");
    }
    drop((sv2, sv3, fe1));
    assert!(demo.stop().success());
    eprintln!("whole test: {:?}", started.elapsed());
}

/// Reads IMAP lines up to the tagged reply.
fn read_tagged(c: &mut SmtpClient, tag: &str) -> String {
    let mut all = String::new();
    loop {
        let line = c.read_line().unwrap();
        all.push_str(&line);
        all.push('\n');
        if line.starts_with(&format!("{tag} ")) {
            return all;
        }
    }
}

#[test]
fn strangers_are_refused_on_the_link_and_a_new_backend_gets_accounts_at_once() {
    let mut demo = Demo::start("127.0.42.2", 3, 0, 1);

    // CM-21: the link closes a connection from an address not on its
    // allow-list before reading or sending anything; from a member's
    // address the same connection stays open for the handshake.
    let link = demo.address("sv1", "cluster");
    let stranger = clients(&["refused", "--source", "127.0.42.250", "--target", &link]);
    assert_eq!(stranger.trim(), "closed");
    let frontend_ip = demo.member("fe1")["ip"].as_str().unwrap().to_owned();
    let member = clients(&["refused", "--source", &frontend_ip, "--target", &link, "--wait", "1"]);
    assert_eq!(member.trim(), "open");

    // CM-4: a backend added to the running cluster takes accounts at once.
    // No other member's config names it ([cluster.services],
    // [cluster.members]); their links admit the members' network. It
    // publishes its addresses in the directory when it starts, where the
    // frontends find them: nothing else is edited or restarted.
    let spare = &demo.summary["spares"][0];
    assert_eq!(spare["unlisted"], Value::Bool(true));
    let (name, config) = (spare["name"].as_str().unwrap().to_owned(), PathBuf::from(spare["config"].as_str().unwrap()));
    for member in demo.summary["members"].as_array().unwrap() {
        let text = std::fs::read_to_string(member["config"].as_str().unwrap()).unwrap();
        assert!(!text.contains(&name), "{} names {name}:\n{text}", member["name"]);
    }
    let sv4 = Member::start(&config);
    let joined = Instant::now();
    let output = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "account", "add", "newcomer@example.test"])
        .args(["--password", "pw-newcomer"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let newcomer = Account { name: "newcomer@example.test".into(), password: "pw-newcomer".into(), server: name };
    let data = PathBuf::from(spare["data"].as_str().unwrap());
    let both = [demo.frontend("fe1"), demo.frontend("fe2")];
    let file = demo.accounts_file("newcomer", &[&newcomer], Value::Null);
    send(&demo, "fe1", &file, "hello");
    send(&demo, "fe2", &file, "again");
    logins(&demo.accounts_file("newcomer-two", &[&newcomer], 2.into()), &both, "imap,pop3");
    assert!(stored_on(&data, &newcomer.name), "the new account's mail is on {}", newcomer.server);
    eprintln!("the new backend's account got mail through both frontends {:?} after it started", joined.elapsed());
    // The frontends' admin API reaches it over the link too (CM-19), by
    // the link address it published.
    for frontend in ["fe1", "fe2"] {
        let listed = demo.admin(frontend, &["--member", &newcomer.server, "account", "list", "example.test"]);
        assert!(listed.contains(&newcomer.name), "{frontend} --member {}: {listed}", newcomer.server);
    }

    // The older accounts are unaffected.
    let accounts = demo.accounts();
    logins(&demo.accounts_file("old", &accounts.iter().collect::<Vec<_>>(), 1.into()), &both, "imap,pop3");

    // Stopping the demo stops everything it started (sv4 is the test's).
    let pids: Vec<u64> = demo.summary["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["pid"].as_u64().unwrap())
        .chain([demo.summary["directory"]["pid"].as_u64().unwrap()])
        .collect();
    assert!(demo.stop().success());
    let alive: BTreeSet<u64> = pids.into_iter().filter(|pid| Path::new(&format!("/proc/{pid}")).exists()).collect();
    assert!(alive.is_empty(), "still running after the demo stopped: {alive:?}");
    drop(sv4);
}
