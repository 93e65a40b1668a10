//! The commented configs in `examples/` are real configs: each parses with
//! the config loader (unknown keys are errors), and the demo's renderings
//! of them load and validate, so neither can rot.

use super::dynamic::plan::{DynPlan, DynPlanOptions};
use super::dynamic::render as dynamic_render;
use super::layout::{MemberRole, Plan, PlanOptions, Service};
use super::render;
use crate::config::{Config, Role};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn plan(dir: &Path) -> Plan {
    let plan = Plan::new(&PlanOptions {
        dir,
        domain: "example.test",
        first_address: Ipv4Addr::new(127, 0, 0, 2),
        base_port: 10000,
        frontends: 2,
        backends: 3,
        spare_backends: 1,
        unlisted_backends: 0,
        retry_interval: "3s",
    })
    .unwrap();
    std::fs::write(plan.secret_path(), "a demo cluster secret of enough bytes\n").unwrap();
    std::fs::write(plan.ldap_password_path(), "ldap\n").unwrap();
    plan
}

/// Every key path of a TOML table (`cluster.link.allow`), with the names
/// under the maps of members and services left out.
fn keys(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        if matches!(prefix, "cluster.members" | "cluster.services" | "cluster.dynamic_clusters") {
            out.insert(format!("{prefix}.*"));
            continue;
        }
        match value.as_table() {
            Some(inner) => keys(inner, &path, out),
            None => {
                out.insert(path);
            }
        }
    }
}

#[test]
fn every_example_loads_with_the_real_config_loader() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("cluster.secret");
    std::fs::write(&secret, "a cluster secret of enough bytes\n").unwrap();
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        // The file as it is: every key known and well typed.
        let config: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let expected = match name.as_str() {
            "frontend" => Role::Frontend,
            "backend" => Role::Backend,
            "symmetric" | "dynamic" => Role::Symmetric,
            "dynamic-frontend" => Role::Frontend,
            other => panic!("examples/{other}.toml: no test knows this role"),
        };
        assert_eq!(config.cluster.role, expected, "{}", path.display());
        // Validated as at start-up, with the secret file it names present.
        let mut table: toml::Table = toml::from_str(&text).unwrap();
        let link = table["cluster"]["link"].as_table().cloned().unwrap();
        let mut link = link;
        link.insert("secret_file".into(), secret.display().to_string().into());
        table.get_mut("cluster").unwrap().as_table_mut().unwrap().insert("link".into(), link.into());
        let copy = dir.path().join(format!("{name}.toml"));
        std::fs::write(&copy, toml::to_string(&table).unwrap()).unwrap();
        Config::load(Some(&copy)).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        seen.insert(name);
    }
    let all = ["backend", "frontend", "symmetric", "dynamic", "dynamic-frontend"];
    assert_eq!(seen, all.into_iter().map(str::to_owned).collect());
}

#[test]
fn the_demo_renders_the_examples_with_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path());
    for member in &plan.members {
        let rendered = render::render(&plan, member).unwrap();
        let path = dir.path().join(format!("{}.toml", member.name));
        std::fs::write(&path, &rendered).unwrap();
        let config = Config::load(Some(&path)).unwrap_or_else(|e| panic!("{}: {e:#}\n{rendered}", member.name));

        let example = match member.role {
            MemberRole::Frontend => render::FRONTEND_EXAMPLE,
            MemberRole::Backend => render::BACKEND_EXAMPLE,
        };
        let (mut want, mut got) = (BTreeSet::new(), BTreeSet::new());
        keys(&toml::from_str(example).unwrap(), "", &mut want);
        keys(&toml::from_str(&rendered).unwrap(), "", &mut got);
        assert_eq!(got, want, "{}: the rendered config has other keys than its example", member.name);

        assert_eq!(config.server_name(), member.name);
        assert_eq!(config.imap.listen, vec![member.addr(Service::Imap)]);
        let link = config.cluster.link.as_ref().unwrap();
        assert_eq!(link.address, member.addr(Service::Link));
        // Every other member, spares included, may connect; itself is not listed.
        assert_eq!(link.allow.len(), plan.members.len() - 1);
        assert!(!link.allow.iter().any(|peers| peers.contains(std::net::IpAddr::V4(member.ip))));
        assert_eq!(config.cluster.members.len(), plan.members.len() - 1);
        match member.role {
            MemberRole::Frontend => {
                assert_eq!(config.cluster.role, Role::Frontend);
                // Every backend's services, the spare's too (CM-4, CM-22).
                assert_eq!(config.cluster.services.len(), plan.backends().count());
                assert!(!config.outbound.enabled, "the demo never sends mail to the Internet");
                assert!(config.lmtp.listen.is_empty());
            }
            MemberRole::Backend => {
                assert_eq!(config.cluster.role, Role::Backend);
                assert_eq!(config.outbound.forward_to, vec!["*".to_owned()]);
                let frontends: Vec<String> = plan.frontends().map(|f| f.ip.to_string()).collect();
                assert_eq!(config.limits.proxy_protocol_from, frontends);
            }
        }
    }
}

#[test]
fn plans_refuse_addresses_and_ports_that_cannot_work() {
    let dir = Path::new("/nonexistent");
    let options = |first_address, base_port| PlanOptions {
        dir,
        domain: "example.test",
        first_address,
        base_port,
        frontends: 2,
        backends: 3,
        spare_backends: 0,
        unlisted_backends: 0,
        retry_interval: "3s",
    };
    let err = Plan::new(&options(Ipv4Addr::new(10, 0, 0, 1), 10000)).unwrap_err();
    assert!(err.to_string().contains("not a loopback"), "{err}");
    let err = Plan::new(&options(Ipv4Addr::new(127, 0, 0, 2), 65000)).unwrap_err();
    assert!(err.to_string().contains("--base-port"), "{err}");
    let err = Plan::new(&options(Ipv4Addr::new(127, 255, 255, 253), 10000)).unwrap_err();
    assert!(err.to_string().contains("--first-address"), "{err}");
    let plan = Plan::new(&options(Ipv4Addr::new(127, 0, 0, 2), 10000)).unwrap();
    let names: Vec<(&str, String)> = plan.members.iter().map(|m| (m.name.as_str(), m.ip.to_string())).collect();
    assert_eq!(names[0], ("fe1.example.test", "127.0.0.2".to_owned()));
    assert_eq!(names[4], ("sv3.example.test", "127.0.0.6".to_owned()));
    assert_eq!(plan.members[2].addr(Service::Imap).to_string(), "127.0.0.4:10143");
    assert_eq!(plan.ldap.to_string(), "127.0.0.2:10389");
    assert_eq!(plan.base_dn(), "dc=example,dc=test");
}

#[test]
fn an_unlisted_backend_is_named_in_no_other_config_and_admitted_by_network() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::new(&PlanOptions {
        dir: dir.path(),
        domain: "example.test",
        first_address: Ipv4Addr::new(127, 0, 42, 2),
        base_port: 10000,
        frontends: 2,
        backends: 3,
        spare_backends: 0,
        unlisted_backends: 1,
        retry_interval: "3s",
    })
    .unwrap();
    std::fs::write(plan.secret_path(), "a demo cluster secret of enough bytes\n").unwrap();
    std::fs::write(plan.ldap_password_path(), "ldap\n").unwrap();
    // 127.0.42.2 .. 127.0.42.7: the smallest network holding them, and
    // nothing far outside (127.0.42.250 stays a stranger).
    assert_eq!(plan.members_network(), "127.0.42.0/29");
    let newcomer = plan.members.iter().find(|m| m.unlisted).unwrap();
    assert!(newcomer.spare, "an unlisted backend is not started with the cluster");
    for member in &plan.members {
        let path = dir.path().join(format!("{}.toml", member.name));
        std::fs::write(&path, render::render(&plan, member).unwrap()).unwrap();
        let config = Config::load(Some(&path)).unwrap_or_else(|e| panic!("{}: {e:#}", member.name));
        let link = config.cluster.link.as_ref().unwrap();
        let admits = |ip: Ipv4Addr| link.allow.iter().any(|peers| peers.contains(std::net::IpAddr::V4(ip)));
        assert!(plan.members.iter().all(|m| admits(m.ip)), "{}: every member is admitted", member.name);
        assert!(!admits(Ipv4Addr::new(127, 0, 42, 250)));
        if member.unlisted {
            // It knows the others, as any member does.
            assert_eq!(config.cluster.members.len(), plan.members.len() - 1);
        } else {
            assert!(!config.cluster.members.contains_key(&newcomer.name), "{} names it", member.name);
            assert!(!config.cluster.services.contains_key(&newcomer.name), "{} names it", member.name);
        }
    }
}

fn dynamic_plan(dir: &Path, clusters: usize, frontends: usize, replicated: bool) -> DynPlan {
    let plan = DynPlan::new(&DynPlanOptions {
        dir,
        domain: "example.test",
        first_address: Ipv4Addr::new(127, 0, 0, 2),
        base_port: 11000,
        clusters,
        members_per_cluster: 3,
        frontends,
        replicated,
        retry_interval: "3s",
        lease_ttl: "5s",
    })
    .unwrap();
    std::fs::write(plan.secret_path(), "a demo cluster secret of enough bytes\n").unwrap();
    std::fs::write(plan.ldap_password_path(), "ldap\n").unwrap();
    plan
}

/// Loads a rendering with the real loader and checks it has exactly the
/// keys of its example.
fn load_rendered(dir: &Path, name: &str, rendered: &str, example: &str) -> Config {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, rendered).unwrap();
    let config = Config::load(Some(&path)).unwrap_or_else(|e| panic!("{name}: {e:#}\n{rendered}"));
    let (mut want, mut got) = (BTreeSet::new(), BTreeSet::new());
    keys(&toml::from_str(example).unwrap(), "", &mut want);
    keys(&toml::from_str(rendered).unwrap(), "", &mut got);
    assert_eq!(got, want, "{name}: the rendered config has other keys than its example");
    config
}

#[test]
fn the_cluster_of_clusters_renders_the_dynamic_examples_with_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dynamic_plan(dir.path(), 2, 2, true);
    let (provider, consumer) = (plan.directories[0].url(), plan.directories[1].url());
    assert_eq!(provider, "ldap://127.0.0.2:11389/");
    assert_eq!(consumer, "ldap://127.0.0.3:11389/");
    let frontend_ips: Vec<std::net::IpAddr> = plan.frontends.iter().map(|f| f.ip.into()).collect();
    for cluster in &plan.clusters {
        for member in &cluster.members {
            let rendered = dynamic_render::member(&plan, cluster, member).unwrap();
            let config = load_rendered(dir.path(), &member.name, &rendered, dynamic_render::MEMBER_EXAMPLE);
            assert_eq!(config.cluster.role, Role::Symmetric);
            assert_eq!(config.server_name(), member.name);
            let dynamic = config.cluster.dynamic.as_ref().unwrap();
            assert_eq!(dynamic.name, cluster.name);
            assert_eq!(dynamic.storage, cluster.storage);
            assert_eq!(dynamic.etcd, vec!["127.0.0.2:11379".to_owned()]);
            // Writes go to the provider, reads fail over to the consumer.
            assert_eq!(config.directory.url, provider);
            assert_eq!(config.directory.replicas, vec![consumer.clone()]);
            assert!(!config.outbound.enabled, "the demo never sends mail to the Internet");
            // Its cluster's other members and the frontends, nobody else.
            let link = config.cluster.link.as_ref().unwrap();
            let admits = |ip: std::net::IpAddr| link.allow.iter().any(|peers| peers.contains(ip));
            for other in plan.cluster_members() {
                let same_cluster = cluster.members.iter().any(|m| m.name == other.name);
                assert_eq!(admits(other.ip.into()), same_cluster && other.name != member.name, "{}", other.name);
            }
            assert!(frontend_ips.iter().all(|ip| admits(*ip)));
        }
    }
    for (index, frontend) in plan.frontends.iter().enumerate() {
        let rendered = dynamic_render::frontend(&plan, index, frontend).unwrap();
        let config = load_rendered(dir.path(), &frontend.name, &rendered, dynamic_render::FRONTEND_EXAMPLE);
        assert_eq!(config.cluster.role, Role::Frontend);
        assert!(config.lmtp.listen.is_empty());
        let names: Vec<&String> = config.cluster.dynamic_clusters.keys().collect();
        assert_eq!(names, plan.clusters.iter().map(|c| &c.name).collect::<Vec<_>>());
        // The first frontend reads the consumer first, the second the
        // provider; each has the other as its replica.
        let (url, replica) = if index == 0 { (&consumer, &provider) } else { (&provider, &consumer) };
        assert_eq!(&config.directory.url, url);
        assert_eq!(&config.directory.replicas, &vec![replica.clone()]);
        let link = config.cluster.link.as_ref().unwrap();
        assert!(plan.cluster_members().all(|m| link.allow.iter().any(|p| p.contains(m.ip.into()))));
    }
}

#[test]
fn the_dynamic_demo_has_one_directory_and_names_members_after_their_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dynamic_plan(dir.path(), 1, 1, false);
    assert_eq!(plan.directories.len(), 1);
    assert_eq!(plan.frontend_directory(0), (plan.directories[0].url(), Vec::new()));
    assert_eq!(plan.member_directory(), (plan.directories[0].url(), Vec::new()));
    let names: Vec<(&str, String)> =
        plan.frontends.iter().chain(plan.cluster_members()).map(|m| (m.name.as_str(), m.ip.to_string())).collect();
    assert_eq!(names[0], ("fe1.example.test", "127.0.0.2".to_owned()));
    assert_eq!(names[3], ("m3.dc1.example.test", "127.0.0.5".to_owned()));
    let err = DynPlan::new(&DynPlanOptions {
        dir: dir.path(),
        domain: "example.test",
        first_address: Ipv4Addr::new(10, 0, 0, 1),
        base_port: 11000,
        clusters: 1,
        members_per_cluster: 3,
        frontends: 1,
        replicated: false,
        retry_interval: "3s",
        lease_ttl: "5s",
    })
    .err()
    .unwrap();
    assert!(err.to_string().contains("not a loopback"), "{err}");
}
