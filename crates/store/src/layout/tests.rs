use super::*;

fn check(input: &str, expected: &str) {
    assert_eq!(encode_component(input), expected, "encoding {input:?}");
}

#[test]
fn component_encoding() {
    check("alice", "alice");
    check("a.b+c_d-e9", "a.b+c_d-e9");
    check(".hidden", "%2Ehidden");
    check("..", "%2E.");
    check("a/b", "a%2Fb");
    check("A", "%41");
    check("100%", "100%25");
    check("é", "%C3%A9");
    check("x y", "x%20y");
}

#[test]
fn account_dir_is_domain_then_local_part() {
    let name: AccountName = "Bob.Smith@Example.COM".parse().unwrap();
    assert_eq!(account_dir(Path::new("/r"), &name), PathBuf::from("/r/example.com/bob.smith"));
}

#[test]
fn file_names_round_trip() {
    assert_eq!(parse_journal_name(&journal_name(42)), Some(42));
    assert_eq!(parse_segment_name(&segment_name(7)), Some(7));
    assert_eq!(parse_segment_name("seg-x.dat"), None);
    assert_eq!(parse_journal_name("journal.tmp"), None);
}
