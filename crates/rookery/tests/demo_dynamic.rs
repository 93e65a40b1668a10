//! `rookery demo dynamic` and `rookery demo cluster-of-clusters` as a
//! user runs them: a child process whose printout and `cluster.json` give
//! the addresses, process ids and credentials; real clients (imaplib
//! through `tests/clients/dynamic_subjects.py`, SMTP, `rookery cluster
//! status`) use them; SIGINT (Ctrl-C) must stop every process the demo
//! started and remove its temporary directory.
//!
//! Each test has its own address range (127.0.43.x, 127.0.44.x).

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use testkit::SmtpClient;

const BIN: &str = env!("CARGO_BIN_EXE_rookery");
/// Starting slapd, etcd and every member, and making the accounts, takes
/// seconds; a loaded 2-core machine may take much longer.
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// Mail and logins that go through another member or a frontend.
const MAIL_WAIT: Duration = Duration::from_secs(40);

/// A running dynamic demo in a temporary directory of its own (TMPDIR),
/// killed when dropped if the test did not stop it.
struct Demo {
    process: Child,
    summary: Value,
    /// The demo's own temporary directory, printed by it.
    dir: PathBuf,
    /// Members the test killed (SIGKILL).
    killed: Vec<u64>,
    /// Everything the demo printed after "ready".
    later_output: Arc<Mutex<String>>,
    _tmp: tempfile::TempDir,
}

impl Demo {
    fn start(command: &str, first_address: &str, base_port: &str) -> Demo {
        let tmp = tempfile::Builder::new().prefix("rookery-demo-test-").tempdir().unwrap();
        let mut process = Command::new(BIN)
            .args(["demo", command, "--first-address", first_address, "--base-port", base_port])
            .args(["--retry-interval", "1s"])
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = process.stdout.take().unwrap();
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                // The test may have stopped listening; keep draining.
                let _ = lines_tx.send(line);
            }
        });
        let started = Instant::now();
        let mut printed = String::new();
        loop {
            let Ok(line) = lines_rx.recv_timeout(READY_TIMEOUT.saturating_sub(started.elapsed())) else {
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
        eprintln!("demo {command} ready in {:?}", started.elapsed());
        let later_output = Arc::new(Mutex::new(String::new()));
        let later = later_output.clone();
        std::thread::spawn(move || {
            while let Ok(line) = lines_rx.recv() {
                let mut later = later.lock().unwrap();
                later.push_str(&line);
                later.push('\n');
            }
        });
        // "... (configs, data and logs in DIR)"
        let dir = printed
            .lines()
            .find_map(|line| line.split_once("configs, data and logs in ").map(|(_, rest)| rest.trim_end_matches(')')))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no directory in the printout:\n{printed}"));
        assert!(dir.starts_with(tmp.path()), "{} is the demo's temporary directory", dir.display());
        let summary: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("cluster.json")).unwrap()).unwrap();
        // What the printout shows is what cluster.json holds.
        for member in all_members(&summary) {
            let (name, pid) = (member["name"].as_str().unwrap(), member["pid"].as_u64().unwrap());
            assert!(printed.contains(&format!("{name}  pid {pid}")), "{name} pid {pid} not printed:\n{printed}");
        }
        for account in summary["accounts"].as_array().unwrap().iter().take(6) {
            let line =
                format!("{}  password {}", account["name"].as_str().unwrap(), account["password"].as_str().unwrap());
            assert!(printed.contains(&line), "{line} not printed:\n{printed}");
        }
        Demo { process, summary, dir, killed: Vec::new(), later_output, _tmp: tmp }
    }

    fn frontends(&self) -> Vec<&Value> {
        self.summary["frontends"].as_array().unwrap().iter().collect()
    }

    fn members_of(&self, cluster: usize) -> Vec<&Value> {
        self.summary["clusters"][cluster]["members"].as_array().unwrap().iter().collect()
    }

    /// The first sample account of `cluster` (by name), with its password.
    fn account_of(&self, cluster: &str) -> (String, String) {
        let accounts = self.summary["accounts"].as_array().unwrap();
        let account = accounts.iter().find(|a| a["server"] == cluster).unwrap();
        (account["name"].as_str().unwrap().to_owned(), account["password"].as_str().unwrap().to_owned())
    }

    /// Every process id the demo printed: directories, etcd, members.
    fn pids(&self) -> Vec<u64> {
        let mut pids: Vec<u64> = all_members(&self.summary).iter().map(|m| m["pid"].as_u64().unwrap()).collect();
        pids.extend(self.summary["directories"].as_array().unwrap().iter().map(|d| d["pid"].as_u64().unwrap()));
        pids.push(self.summary["etcd"]["pid"].as_u64().unwrap());
        pids
    }

    /// Ctrl-C: the demo stops everything it started and removes its
    /// directory.
    fn interrupt(mut self) {
        let pids = self.pids();
        let alive: Vec<u64> = pids.iter().copied().filter(|pid| !self.killed.contains(pid)).collect();
        assert!(alive.iter().all(|pid| running(*pid)), "every printed process runs: {alive:?}");
        let status = Command::new("kill").args(["-INT", &self.process.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        let exit = loop {
            if let Some(exit) = self.process.try_wait().unwrap() {
                break exit;
            }
            assert!(Instant::now() < deadline, "the demo did not exit within 60 s of SIGINT");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(exit.success(), "the demo exited with {exit}");
        let left: Vec<u64> = pids.into_iter().filter(|pid| running(*pid)).collect();
        assert!(left.is_empty(), "processes left running after SIGINT: {left:?}");
        assert!(!self.dir.exists(), "{} is not removed", self.dir.display());
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if matches!(self.process.try_wait(), Ok(None)) {
            // A failed test: SIGTERM stops the demo's children too.
            let _ = Command::new("kill").args(["-TERM", &self.process.id().to_string()]).status();
            let _ = self.process.wait();
        }
    }
}

/// Frontends and every cluster's members.
fn all_members(summary: &Value) -> Vec<&Value> {
    let frontends = summary["frontends"].as_array().unwrap().iter();
    let clusters = summary["clusters"].as_array().unwrap().iter();
    frontends.chain(clusters.flat_map(|c| c["members"].as_array().unwrap().iter())).collect()
}

/// A process that exists and is not a zombie.
fn running(pid: u64) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // "<pid> (<comm>) <state> ...": the state follows the last ')'.
    stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
}

fn address(member: &Value, service: &str) -> String {
    member["listening"][service].as_str().unwrap().to_owned()
}

/// The subjects in the account's INBOX, read over IMAP at `imap`.
fn subjects(imap: &str, account: &(String, String)) -> Result<Vec<String>, String> {
    let args = ["--imap", imap, "--user", &account.0, "--password", &account.1].map(str::to_owned);
    let output = testkit::python("dynamic_subjects.py", &args).map_err(|e| e.to_string())?;
    Ok(output.lines().filter_map(|line| line.strip_prefix("subject: ")).map(str::to_owned).collect())
}

/// Waits until the login at `imap` works and the INBOX holds `subject`.
fn wait_for_subject(imap: &str, account: &(String, String), subject: &str) {
    testkit::wait_for(MAIL_WAIT, &format!("{subject} in {}'s INBOX through {imap}", account.0), || {
        subjects(imap, account).ok().filter(|s| s.iter().any(|s| s == subject))
    });
}

/// Sends one message over SMTP at `smtp`; panics unless it is accepted.
fn send(smtp: &str, recipient: &str, subject: &str) {
    let mut c = SmtpClient::connect(smtp.parse().unwrap()).unwrap();
    assert!(c.reply().unwrap().starts_with("220"));
    c.command("EHLO client.example").unwrap();
    for command in ["MAIL FROM:<sender@remote.example>".to_owned(), format!("RCPT TO:<{recipient}>")] {
        let reply = c.command(&command).unwrap();
        assert!(reply.starts_with("250"), "{command}: {reply}");
    }
    assert!(c.command("DATA").unwrap().starts_with("354"));
    c.send(format!("Subject: {subject}\r\n\r\nhello\r\n.\r\n").as_bytes()).unwrap();
    let reply = c.reply().unwrap();
    assert!(reply.starts_with("250"), "DATA: {reply}");
    let _ = c.command("QUIT");
}

/// `rookery ARGS` with the printed admin URL and login.
fn admin_command(admin: &Value, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(["--admin-url", admin["admin_url"].as_str().unwrap()])
        .args(["--admin-user", admin["name"].as_str().unwrap()])
        .args(["--admin-password", admin["password"].as_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// `rookery cluster status --json` with the printed admin URL and login.
fn cluster_status(admin: &Value) -> Value {
    serde_json::from_str(&admin_command(admin, &["--json", "cluster", "status"])).unwrap()
}

#[test]
fn demo_dynamic_serves_every_account_through_the_frontend_and_every_member_then_stops_on_sigint() {
    let mut demo = Demo::start("dynamic", "127.0.43.2", "23000");
    let members: Vec<Value> = demo.members_of(0).into_iter().cloned().collect();
    assert_eq!(members.len(), 3);
    assert_eq!(demo.frontends().len(), 1);
    let cluster = demo.summary["clusters"][0]["name"].as_str().unwrap().to_owned();
    let account = demo.account_of(&cluster);

    // The welcome message, through the frontend and through each member.
    let welcome = format!("Welcome, {}", account.0);
    for member in demo.frontends().into_iter().chain(&members) {
        wait_for_subject(&address(member, "imap"), &account, &welcome);
    }
    // Mail to one member, read through another.
    send(&address(&members[0], "smtp"), &account.0, "through m1");
    wait_for_subject(&address(&members[1], "imap"), &account, "through m1");
    // A wrong password is refused, through the frontend too.
    let wrong = (account.0.clone(), "not-the-password".to_owned());
    assert!(subjects(&address(demo.frontends()[0], "imap"), &wrong).is_err());

    let status = cluster_status(&demo.summary["administrators"][0]);
    assert_eq!(status["kind"], "dynamic");
    assert_eq!(status["name"].as_str(), Some(cluster.as_str()));
    let listed: Vec<&str> = status["members"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    let printed: Vec<&str> = members.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(listed, printed, "{status}");
    let controller = status["controller"].as_str().unwrap_or_default();
    assert!(printed.contains(&controller), "controller {controller:?}: {status}");

    // kill -9 of the member that has the account open: the demo reports
    // it, and the account opens on another member, with its mail, through
    // the same frontend once the lease has expired.
    let owner = admin_command(&demo.summary["administrators"][0], &["cluster", "owner", &account.0]);
    let owner = members.iter().find(|m| m["name"].as_str() == Some(owner.trim())).unwrap().clone();
    let pid = owner["pid"].as_u64().unwrap();
    assert!(Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
    demo.killed.push(pid);
    wait_for_subject(&address(demo.frontends()[0], "imap"), &account, "through m1");
    let survivor = members.iter().find(|m| m["pid"].as_u64() != Some(pid)).unwrap().clone();
    let reported = format!("{} (pid {pid}) exited unexpectedly", owner["name"].as_str().unwrap());
    testkit::wait_for(Duration::from_secs(10), "the demo's report of the killed member", || {
        demo.later_output.lock().unwrap().contains(&reported).then_some(())
    });
    let admin = demo.summary["administrators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["admin_url"].as_str().unwrap().contains(survivor["ip"].as_str().unwrap()))
        .unwrap()
        .clone();
    let new_owner = admin_command(&admin, &["cluster", "owner", &account.0]);
    assert_ne!(new_owner.trim(), owner["name"].as_str().unwrap());

    demo.interrupt();
}

#[test]
fn demo_cluster_of_clusters_serves_both_clusters_through_both_frontends_then_stops_on_sigint() {
    let demo = Demo::start("cluster-of-clusters", "127.0.44.2", "24000");
    let frontends = demo.frontends();
    assert_eq!(frontends.len(), 2);
    let clusters: Vec<String> =
        (0..2).map(|c| demo.summary["clusters"][c]["name"].as_str().unwrap().to_owned()).collect();
    assert_ne!(clusters[0], clusters[1]);
    let directories = demo.summary["directories"].as_array().unwrap();
    assert_eq!(directories.iter().map(|d| d["role"].as_str().unwrap()).collect::<Vec<_>>(), ["provider", "consumer"]);
    // Members write to the provider; the first frontend reads the consumer
    // first, the second the provider.
    let url = |member: &Value| directory_url(&PathBuf::from(member["config"].as_str().unwrap()));
    assert_eq!(url(demo.members_of(0)[0]), directories[0]["url"].as_str().unwrap());
    assert_eq!(url(frontends[0]), directories[1]["url"].as_str().unwrap());
    assert_eq!(url(frontends[1]), directories[0]["url"].as_str().unwrap());

    for (c, cluster) in clusters.iter().enumerate() {
        assert_eq!(demo.members_of(c).len(), 2);
        let account = demo.account_of(cluster);
        let welcome = format!("Welcome, {}", account.0);
        for frontend in &frontends {
            wait_for_subject(&address(frontend, "imap"), &account, &welcome);
        }
        // Mail through one frontend, read through the other.
        let subject = format!("to {cluster} through fe1");
        send(&address(frontends[0], "smtp"), &account.0, &subject);
        wait_for_subject(&address(frontends[1], "imap"), &account, &subject);
        // Each cluster's status names its own members only.
        let admin = demo.summary["administrators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"].as_str().unwrap().ends_with(&format!(".{cluster}")))
            .unwrap();
        let status = cluster_status(admin);
        assert_eq!(status["name"].as_str(), Some(cluster.as_str()));
        assert_eq!(status["members"].as_array().unwrap().len(), 2, "{status}");
    }

    demo.interrupt();
}

/// `[directory] url` of a rendered config.
fn directory_url(config: &Path) -> String {
    let table: toml::Table = toml::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    table["directory"]["url"].as_str().unwrap().to_owned()
}
