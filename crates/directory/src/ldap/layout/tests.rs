use super::*;
use std::collections::HashMap;

fn name(s: &str) -> AccountName {
    s.parse().expect("valid account name")
}

fn entry(attrs: &[(&str, &str)]) -> SearchEntry {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (attribute, value) in attrs {
        map.entry((*attribute).to_owned()).or_default().push((*value).to_owned());
    }
    SearchEntry { dn: "uid=x,ou=example.com,ou=domains,dc=test".into(), attrs: map, bin_attrs: HashMap::new() }
}

#[test]
fn dns_escape_what_rfc_4514_requires() {
    let layout = Layout::new("dc=rookery,dc=test");
    assert_eq!(layout.domains_dn(), "ou=domains,dc=rookery,dc=test");
    assert_eq!(layout.name_dn(&name("alice@example.com")), "uid=alice,ou=example.com,ou=domains,dc=rookery,dc=test");
    // `+`, `=` and `#` are legal in a local part and special in a DN.
    let dn = layout.name_dn(&name("a+b=c#d@example.com"));
    assert!(dn.starts_with(r"uid=a\+b\=c#d,") || dn.starts_with(r"uid=a\2bb\3dc#d,"), "{dn}");
    let leading_hash = layout.name_dn(&name("#x@example.com"));
    assert!(leading_hash.starts_with(r"uid=\#x,") || leading_hash.starts_with(r"uid=\23x,"), "{leading_hash}");
}

#[test]
fn filters_escape_what_rfc_4515_requires() {
    assert_eq!(equals("uid", "a*b(c)"), r"(uid=a\2ab\28c\29)");
    assert_eq!(
        class_and("rookeryAccount", "hostServer", "sv1.example.com"),
        "(&(objectClass=rookeryAccount)(hostServer=sv1.example.com))"
    );
}

#[test]
fn generalized_time_to_unix_seconds() {
    let check = |input: &str, expected: Option<u64>| assert_eq!(unix_seconds(input), expected, "{input}");
    check("19700101000000Z", Some(0));
    check("20000301000000Z", Some(951_868_800));
    check("20261122081721Z", Some(1_795_335_441));
    check("20261122081721.123456Z", Some(1_795_335_441));
    check("2026112208172Z", None);
    check("20261322081721Z", None);
    check("20261122081721", None);
    check("", None);
}

#[test]
fn account_entries_decode_into_records() {
    let record = account_record(&entry(&[
        ("rookeryAddress", "alice@example.com"),
        ("rookeryQuotaBytes", "5000"),
        ("createTimestamp", "19700101000100Z"),
    ]))
    .expect("decodes");
    assert_eq!(record, AccountRecord { name: name("alice@example.com"), quota_bytes: Some(5000), created: 60 });
    // Attribute names are case-insensitive.
    let record = account_record(&entry(&[("rookeryaddress", "bob@example.com")])).expect("decodes");
    assert_eq!(record.quota_bytes, None);
    for broken in [
        entry(&[]),
        entry(&[("rookeryAddress", "not an address")]),
        entry(&[("rookeryAddress", "a@example.com"), ("rookeryQuotaBytes", "-1")]),
    ] {
        assert!(matches!(account_record(&broken), Err(DirectoryError::Backend(_))));
    }
}

#[test]
fn only_argon2_passwords_are_taken() {
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
    assert_eq!(argon2_hash(&entry(&[("userPassword", &format!("{{ARGON2}}{hash}"))])).as_deref(), Some(hash));
    assert_eq!(argon2_hash(&entry(&[("userPassword", &format!("{{argon2}}{hash}"))])).as_deref(), Some(hash));
    assert_eq!(argon2_hash(&entry(&[("userPassword", "{SSHA}abcdef")])), None);
    assert_eq!(argon2_hash(&entry(&[("userPassword", "plain")])), None);
    assert_eq!(argon2_hash(&entry(&[])), None);
}

#[test]
fn object_classes_compare_case_insensitively() {
    let e = entry(&[("objectClass", "inetOrgPerson"), ("objectclass", "ROOKERYACCOUNT")]);
    assert!(has_class(&e, ACCOUNT_CLASS));
    assert!(!has_class(&e, ALIAS_CLASS));
}
