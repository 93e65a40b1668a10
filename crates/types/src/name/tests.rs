use super::*;

fn check_account(input: &str, expected: Result<&str, NameError>) {
    let main = DomainName::parse("sv1.example.com").unwrap();
    let got = AccountName::parse(input, Some(&main)).map(|a| a.to_string());
    assert_eq!(got, expected.map(str::to_owned), "input {input:?}");
}

#[test]
fn account_names() {
    check_account("alice@Example.COM", Ok("alice@example.com"));
    check_account("Postmaster", Ok("postmaster@sv1.example.com"));
    check_account("first.last+tag@example.com", Ok("first.last+tag@example.com"));
    check_account("josé@exämple.com", Ok("josé@exämple.com"));
    check_account("@example.com", Err(NameError::Empty));
    check_account("alice@", Err(NameError::Empty));
    check_account(".alice@example.com", Err(NameError::BadDot));
    check_account("a..b@example.com", Err(NameError::BadDot));
    check_account("a b@example.com", Err(NameError::BadChar(' ')));
    check_account("alice@exa_mple.com", Err(NameError::BadChar('_')));
    check_account("alice@example..com", Err(NameError::BadDot));
    check_account("alice@-example.com", Err(NameError::BadChar('-')));
    check_account(&format!("{}@example.com", "a".repeat(65)), Err(NameError::TooLong(65)));
    check_account("a\u{0}b@example.com", Err(NameError::BadChar('\u{0}')));
}

#[test]
fn bare_name_needs_a_default_domain() {
    assert_eq!(AccountName::parse("alice", None), Err(NameError::NoDomain));
}

#[test]
fn serde_round_trip() {
    let a: AccountName = "bob@example.org".parse().unwrap();
    let json = serde_json_like(&a);
    assert_eq!(json, "bob@example.org");
}

fn serde_json_like(a: &AccountName) -> String {
    String::from(a.clone())
}
