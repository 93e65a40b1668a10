//! The private slapd starts, answers with the project's schema loaded,
//! keeps its data across restarts and is gone after drop.

use std::process::Command;
use testkit::slapd::Slapd;

fn ldapsearch(slapd: &Slapd, base: &str, filter: &str) -> std::process::Output {
    Command::new("ldapsearch")
        .args(["-x", "-LLL", "-H", &slapd.url(), "-D", slapd.admin_dn(), "-w", slapd.admin_password()])
        .args(["-b", base, filter, "dn"])
        .output()
        .expect("ldapsearch runs")
}

fn ldapadd(slapd: &Slapd, ldif: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new("ldapadd")
        .args(["-x", "-H", &slapd.url(), "-D", slapd.admin_dn(), "-w", slapd.admin_password()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ldapadd runs");
    child.stdin.take().expect("stdin").write_all(ldif.as_bytes()).expect("write ldif");
    child.wait_with_output().expect("ldapadd finishes")
}

#[test]
fn slapd_starts_with_the_schema_keeps_data_across_restarts_and_stops() {
    let mut slapd = Slapd::start().expect("slapd starts");
    let base = slapd.base_dn().to_owned();
    let found = ldapsearch(&slapd, &base, "(objectClass=*)");
    assert!(found.status.success(), "{found:?}");
    assert!(String::from_utf8_lossy(&found.stdout).contains(&format!("dn: {base}")));

    // Our object class and attribute are known to this slapd.
    let entry = format!(
        "dn: uid=alice,{base}\nobjectClass: inetOrgPerson\nobjectClass: rookeryAccount\nuid: alice\ncn: alice\n\
         sn: alice\nhostServer: sv1.example.com\n"
    );
    let added = ldapadd(&slapd, &entry);
    assert!(added.status.success(), "{added:?}");

    slapd.restart().expect("restart");
    let found = ldapsearch(&slapd, &base, "(hostServer=SV1.example.com)");
    assert!(String::from_utf8_lossy(&found.stdout).contains("uid=alice"), "{found:?}");

    slapd.stop().expect("graceful stop");
    assert!(!slapd.is_running());
    assert!(!ldapsearch(&slapd, &base, "(objectClass=*)").status.success());
    slapd.restart().expect("start after stop");
    assert!(ldapsearch(&slapd, &base, "(uid=alice)").status.success());

    let addr = slapd.addr();
    drop(slapd);
    assert!(std::net::TcpStream::connect(addr).is_err(), "slapd still listening after drop");
}
