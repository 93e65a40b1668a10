use super::RouteTable;
use crate::host::HostSpec;
use std::collections::BTreeMap;

fn table(routes: &[(&str, &[&str])]) -> Result<RouteTable, String> {
    let routes: BTreeMap<String, Vec<String>> =
        routes.iter().map(|(key, hosts)| (key.to_string(), hosts.iter().map(|h| h.to_string()).collect())).collect();
    RouteTable::parse(&routes, 25).map_err(|error| error.to_string())
}

fn first_host(table: &RouteTable, domain: &str) -> Option<String> {
    table.find(domain).map(|hosts| match &hosts[0] {
        HostSpec::Name { name, .. } => name.clone(),
        HostSpec::Address(addr) => addr.to_string(),
    })
}

#[test]
fn exact_then_closest_wildcard() {
    let table = table(&[
        ("example.com", &["exact"]),
        ("*.example.com", &["sub"]),
        ("*.deep.example.com", &["deep"]),
        ("Other.Example", &["other"]),
    ])
    .expect("valid routes");
    assert_eq!(first_host(&table, "example.com").as_deref(), Some("exact"));
    assert_eq!(first_host(&table, "a.example.com").as_deref(), Some("sub"));
    assert_eq!(first_host(&table, "a.b.example.com").as_deref(), Some("sub"));
    assert_eq!(first_host(&table, "deep.example.com").as_deref(), Some("sub"));
    assert_eq!(first_host(&table, "x.deep.example.com").as_deref(), Some("deep"));
    assert_eq!(first_host(&table, "other.example").as_deref(), Some("other"));
    assert_eq!(first_host(&table, "notexample.com"), None);
    assert_eq!(first_host(&table, "com"), None);
}

#[test]
fn errors_name_the_key() {
    assert_eq!(
        table(&[("example.com", &["x:y:z"])]).err().as_deref(),
        Some(r#"outbound.routes."example.com": bad host "x:y:z""#)
    );
    assert_eq!(table(&[("example.com", &[])]).err().as_deref(), Some(r#"outbound.routes."example.com": no hosts"#));
    assert_eq!(
        table(&[("*", &["relay"])]).err().as_deref(),
        Some(r#"outbound.routes."*": the key must be a domain or *.domain"#)
    );
    assert_eq!(
        table(&[("a.*.example", &["relay"])]).err().as_deref(),
        Some(r#"outbound.routes."a.*.example": the key must be a domain or *.domain"#)
    );
    assert_eq!(
        table(&[("example.com", &["a"]), ("EXAMPLE.com", &["b"])]).err().as_deref(),
        Some(r#"outbound.routes."example.com": another key names the same domain"#)
    );
}
