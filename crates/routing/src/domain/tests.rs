use super::canonical_domain;

fn check(input: &str, expected: Option<&str>) {
    assert_eq!(canonical_domain(input).as_deref(), expected, "input {input:?}");
}

#[test]
fn canonical_forms() {
    check("example.com", Some("example.com"));
    check("Example.COM.", Some("example.com"));
    check("mx_1.example.com", Some("mx_1.example.com"));
    check("bücher.example", Some("xn--bcher-kva.example"));
    check("localhost", Some("localhost"));
}

#[test]
fn not_host_names() {
    check("", None);
    check(".", None);
    check("a..b", None);
    check("a b.example", None);
    check("x:y:z", None);
    check("[1.2.3.4]", None);
    check("*.example.com", None);
    check(&format!("{}.example", "a".repeat(64)), None);
    check(&format!("{}example", "abcdefghi.".repeat(26)), None);
}
