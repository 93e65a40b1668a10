//! First start and the admin commands, as an operator uses them.
mod common;

use std::os::unix::fs::PermissionsExt;

#[test]
fn first_start_creates_postmaster_with_private_password_file() {
    let server = common::server();
    let password = server.postmaster_password();
    assert_eq!(password.len(), 20);
    assert!(server.startup_output.contains(&password), "password printed once at first start");
    let mode = std::fs::metadata(server.data_dir().join("postmaster.password")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let domains = server.admin(&["domain", "list"]).unwrap();
    assert_eq!(domains.trim(), "test.example");
    let accounts = server.admin(&["account", "list"]).unwrap();
    assert!(accounts.starts_with("postmaster@test.example"), "{accounts}");
}

#[test]
fn restart_keeps_data_and_does_not_print_the_password_again() {
    let mut server = common::server();
    let password = server.postmaster_password();
    common::account(&server, "alice");
    server.restart().unwrap();
    assert!(!server.startup_output.contains(&password));
    assert_eq!(server.postmaster_password(), password);
    assert!(server.admin(&["account", "show", "alice@test.example"]).unwrap().contains("alice@test.example"));
}

#[test]
fn domain_account_alias_commands() {
    let server = common::server();
    server.admin(&["domain", "add", "Other.Example"]).unwrap();
    let domains = server.admin(&["domain", "list"]).unwrap();
    assert_eq!(domains.lines().collect::<Vec<_>>(), ["other.example", "test.example"]);

    let out = server.admin(&["account", "add", "bob@other.example", "--quota", "1M"]).unwrap();
    assert!(out.contains("password: "), "a generated password is printed: {out}");
    let show = server.admin(&["account", "show", "bob@other.example"]).unwrap();
    assert!(show.contains("1048576 bytes") && show.contains("used:     0 bytes in 0 messages"), "{show}");
    server.admin(&["account", "passwd", "bob@other.example", "--password", "new-secret"]).unwrap();

    server.admin(&["alias", "add", "robert@other.example", "bob@other.example"]).unwrap();
    let aliases = server.admin(&["alias", "list", "other.example"]).unwrap();
    assert_eq!(aliases.trim(), "robert@other.example -> bob@other.example");
    let show = server.admin(&["account", "show", "bob@other.example"]).unwrap();
    assert!(show.contains("aliases:  robert@other.example"), "{show}");

    let err = server.admin(&["domain", "remove", "other.example"]).unwrap_err().to_string();
    assert!(err.contains("still has accounts"), "{err}");
    server.admin(&["alias", "remove", "robert@other.example"]).unwrap();
    server.admin(&["account", "remove", "bob@other.example"]).unwrap();
    server.admin(&["domain", "remove", "other.example"]).unwrap();
    assert_eq!(server.admin(&["domain", "list"]).unwrap().trim(), "test.example");
}

#[test]
fn admin_errors_are_clear() {
    let server = common::server();
    let err = |args: &[&str]| server.admin(args).unwrap_err().to_string();
    assert!(err(&["account", "add", "x@nowhere.example"]).contains("unknown domain nowhere.example"));
    common::account(&server, "carol");
    assert!(err(&["account", "add", "carol@test.example"]).contains("already exists"));
    assert!(err(&["account", "add", "bad name@test.example"]).contains("bad name"));
    assert!(err(&["account", "show", "nobody@test.example"]).contains("unknown account"));
    assert!(err(&["domain", "add", "not_a_domain"]).contains("bad name"));
    assert!(err(&["domain", "add", "shared.example", "--shared"]).contains("a shared domain needs a cluster"));
    assert!(err(&["alias", "add", "carol@test.example", "carol@test.example"]).contains("already an account"));
    assert!(err(&["queue", "show", "zz"]).contains("bad queue id"));
    let wrong = server.admin_command(&["--admin-password", "wrong", "domain", "list"]).output().unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("refused the credentials"));
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let server = common::server();
    let output = std::process::Command::new(common::BIN)
        .arg("--config")
        .arg(server.config_path())
        .arg("serve")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("another rookery is running"));
}
