use super::*;

#[test]
fn example_config_is_the_defaults() {
    let example: Config = toml::from_str(include_str!("../../../../rookery.example.toml")).unwrap();
    let defaults = Config::default();
    assert_eq!(format!("{example:?}"), format!("{defaults:?}"));
}

#[test]
fn unknown_keys_are_errors() {
    let err = toml::from_str::<Config>("[smtp]\nlisten_on = []\n").unwrap_err();
    assert!(err.to_string().contains("listen_on"), "{err}");
}

#[test]
fn bad_main_domain_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "main_domain = \"bad domain\"\n").unwrap();
    let err = format!("{:#}", Config::load(Some(&path)).unwrap_err());
    assert!(err.contains("main_domain"), "{err}");
}

#[test]
fn durations_parse() {
    let c: Config = toml::from_str("[queue]\nretry_schedule = [\"10s\", \"2m\"]\n").unwrap();
    assert_eq!(c.queue.retry_schedule, vec![Duration::from_secs(10), Duration::from_secs(120)]);
}

/// Loads `text` as a config file and returns the whole error chain.
fn load_error(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    format!("{:#}", Config::load(Some(&path)).unwrap_err())
}

const LDAP: &str = "[directory]\nkind = \"ldap\"\nurl = \"ldap://127.0.0.1:389\"\nbase_dn = \"dc=test\"\n";
const LINK: &str =
    "[cluster.link]\naddress = \"127.0.0.2:4090\"\nallow = []\nsecret = \"a long enough cluster secret\"\n";

#[test]
fn dynamic_cluster_errors_name_their_key() {
    let member = |role: &str, dynamic: &str| {
        format!("{LDAP}[cluster]\nrole = \"{role}\"\nserver_name = \"m1.dc.test\"\n{LINK}[cluster.dynamic]\n{dynamic}")
    };
    let good = "name = \"dc.test\"\netcd = [\"127.0.0.1:2379\"]\nstorage = \"/srv/shared\"\n";
    let cases = [
        (member("frontend", good), "cluster.dynamic needs cluster.role"),
        (member("symmetric", "name = \"dc test\"\netcd = [\"e:1\"]\nstorage = \"/s\"\n"), "cluster.dynamic.name"),
        (member("symmetric", "name = \"m1.dc.test\"\netcd = [\"e:1\"]\nstorage = \"/s\"\n"), "cluster.dynamic.name"),
        (member("symmetric", "name = \"dc.test\"\netcd = []\nstorage = \"/s\"\n"), "cluster.dynamic.etcd"),
        (member("symmetric", "name = \"dc.test\"\netcd = [\"e:1\"]\n"), "storage"),
        (member("backend", &format!("{good}lease_ttl = \"1s\"\n")), "cluster.dynamic.lease_ttl"),
        (member("backend", &format!("{good}fence_margin = \"3s\"\n")), "cluster.dynamic.fence_margin"),
        (member("backend", &format!("{good}colour = \"red\"\n")), "colour"),
        (format!("{LDAP}[cluster.dynamic_clusters.\"dc 2\"]\netcd = [\"e:1\"]\n"), "cluster.dynamic_clusters.\"dc 2\""),
        (
            format!("{LDAP}[cluster.dynamic_clusters.\"dc2.test\"]\netcd = []\n"),
            "cluster.dynamic_clusters.\"dc2.test\".etcd",
        ),
    ];
    for (text, key) in cases {
        let err = load_error(&text);
        assert!(err.contains(key), "expected {key:?} in the error for\n{text}\ngot: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, member("symmetric", good)).unwrap();
    let config = Config::load(Some(&path)).unwrap();
    let dynamic = config.cluster.dynamic.as_ref().unwrap();
    assert_eq!(
        (dynamic.lease_ttl.as_secs(), dynamic.fence_margin.as_secs(), dynamic.idle_release.as_secs()),
        (5, 1, 60)
    );
    assert_eq!(config.hosted_name(), "dc.test");
    assert_eq!(config.server_name(), "m1.dc.test");
}

#[test]
fn cluster_errors_name_their_key() {
    let cases = [
        ("[cluster]\nrole = \"backend\"\n".to_owned(), "directory.kind"),
        (format!("{LDAP}[cluster]\nrole = \"backend\"\n"), "cluster.link"),
        ("[directory]\nkind = \"ldap\"\nbase_dn = \"dc=test\"\n".to_owned(), "directory.url"),
        (format!("{LDAP}[cluster]\nrole = \"leader\"\n"), "role"),
        (format!("{LDAP}[cluster]\nrole = \"backend\"\nserver_name = \"a b\"\n{LINK}"), "cluster.server_name"),
        (
            format!("{LDAP}[cluster]\nrole = \"backend\"\nfrontends = [\"fe.test\"]\n{LINK}"),
            "cluster.frontends: \"fe.test\" is not in cluster.members",
        ),
        (
            format!(
                "{LDAP}[cluster]\nrole = \"backend\"\n[cluster.members]\n\"bad name\" = \"127.0.0.3:4090\"\n{LINK}"
            ),
            "cluster.members.\"bad name\"",
        ),
        (
            format!(
                "{LDAP}[cluster]\nrole = \"frontend\"\n[cluster.services.\"sv 1\"]\nimap = \"127.0.0.3:143\"\n{LINK}"
            ),
            "cluster.services.\"sv 1\"",
        ),
        (
            format!("{LDAP}[cluster]\nrole = \"backend\"\n{LINK}[outbound]\nforward_to = [\"*\"]\n"),
            "outbound.forward_to",
        ),
        (
            format!("{LDAP}[cluster]\nrole = \"backend\"\n[cluster.link]\naddress = \"127.0.0.2:4090\"\nallow = []\n"),
            "cluster.link.secret",
        ),
        ("[cluster.services.\"sv1.test\"]\nimaps = \"127.0.0.3:993\"\n".to_owned(), "imaps"),
        ("[log]\nfilter = \"info,cluster::admin=loud\"\n".to_owned(), "log.filter"),
    ];
    for (text, key) in cases {
        let err = load_error(&text);
        assert!(err.contains(key), "expected {key:?} in the error for\n{text}\ngot: {err}");
    }
}

#[test]
fn directory_replicas_parse_and_bad_ones_are_named() {
    let text = format!("{LDAP}replicas = [\"ldap://127.0.0.2:389\", \"ldaps://dir2.example/\"]\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, &text).unwrap();
    let config = Config::load(Some(&path)).unwrap();
    assert_eq!(config.directory.replicas, vec!["ldap://127.0.0.2:389", "ldaps://dir2.example/"]);
    assert!(Config::default().directory.replicas.is_empty());

    let cases = [
        (format!("{LDAP}replicas = [\"127.0.0.2:389\"]\n"), "directory.replicas[0] \"127.0.0.2:389\": not an LDAP URL"),
        (format!("{LDAP}replicas = [\"ldap://127.0.0.2/\", \"http://x/\"]\n"), "directory.replicas[1]"),
        (format!("{LDAP}replicas = [\"ldap://127.0.0.1:389/\"]\n"), "the same server as \"ldap://127.0.0.1:389\""),
        (format!("{LDAP}replicas = \"ldap://127.0.0.2/\"\n"), "replicas"),
        ("[directory]\nkind = \"ldap\"\nurl = \"dir.example\"\nbase_dn = \"dc=test\"\n".to_owned(), "directory.url"),
    ];
    for (text, expected) in cases {
        let err = load_error(&text);
        assert!(err.contains(expected), "expected {expected:?} in the error for\n{text}\ngot: {err}");
    }
}

#[test]
fn each_cluster_log_target_takes_its_own_level() {
    let text = "[log]\nfilter = \"warn,cluster::delivery=info,cluster::admin=debug,cluster::mailbox=trace\"\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    let config = Config::load(Some(&path)).unwrap();
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.filter).unwrap();
    let shown = filter.to_string();
    for directive in ["cluster::delivery=info", "cluster::admin=debug", "cluster::mailbox=trace"] {
        assert!(shown.contains(directive), "{shown}");
    }
}
