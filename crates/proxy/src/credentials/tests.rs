use super::*;

fn resolve(authzid: Option<&str>, authcid: &str) -> Option<Login> {
    let credentials =
        Credentials { authzid: authzid.map(str::to_owned), authcid: authcid.to_owned(), password: "pw".to_owned() };
    Login::resolve(credentials, &DomainName::parse("main.example").unwrap())
}

fn decoded(login: &Login) -> String {
    String::from_utf8(STANDARD.decode(login.plain_base64()).unwrap()).unwrap()
}

#[test]
fn a_bare_name_takes_the_main_domain() {
    let login = resolve(None, "alice").unwrap();
    assert_eq!(login.account.to_string(), "alice@main.example");
    assert_eq!(decoded(&login), "\0alice@main.example\0pw");
}

#[test]
fn a_full_name_and_an_authzid_are_kept_in_full() {
    let login = resolve(Some("bob"), "alice@other.example").unwrap();
    assert_eq!(login.account.to_string(), "alice@other.example");
    assert_eq!(decoded(&login), "bob@main.example\0alice@other.example\0pw");
}

#[test]
fn a_name_that_is_no_account_name_resolves_to_nothing() {
    assert!(resolve(None, "not an account").is_none());
    assert!(resolve(Some("a b"), "alice").is_none());
}

#[test]
fn debug_output_never_shows_the_password() {
    assert!(!format!("{:?}", resolve(None, "alice").unwrap()).contains("pw"));
}
