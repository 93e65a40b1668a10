//! The dynamic demos' configs, rendered like the static demo's: members
//! from `examples/dynamic.toml`, frontends from
//! `examples/dynamic-frontend.toml` (both built into the binary), with the
//! demo's addresses, names and paths put in, outbound delivery turned off
//! (nothing leaves the machine) and a short retry schedule.

use super::plan::{ClusterPlan, DynPlan};
use crate::demo::layout::{MemberPlan, Service};
use crate::demo::render::{get, set};
use anyhow::Context;
use toml::{Table, Value};

pub const MEMBER_EXAMPLE: &str = include_str!("../../../../../examples/dynamic.toml");
pub const FRONTEND_EXAMPLE: &str = include_str!("../../../../../examples/dynamic-frontend.toml");

fn strings(items: Vec<String>) -> Value {
    Value::Array(items.into_iter().map(Value::String).collect())
}

fn string(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// The keys every member and frontend has: files, listeners, queue,
/// outbound, the directory (`url` and `replicas`) and the link.
fn common(
    plan: &DynPlan,
    config: &mut Table,
    member: &MemberPlan,
    directory: (String, Vec<String>),
    allow: Vec<String>,
) -> anyhow::Result<()> {
    set(config, &["data_dir"], string(&member.data_dir().display().to_string()))?;
    set(config, &["main_domain"], string(&member.name))?;
    for service in Service::ALL {
        if service == Service::Link {
            continue;
        }
        // A listener the example leaves empty (a frontend's LMTP) stays so.
        let listen = [service.section(), "listen"];
        let empty = get(config, &listen).and_then(Value::as_array).is_some_and(|a| a.is_empty());
        if !empty {
            set(config, &listen, strings(vec![member.addr(service).to_string()]))?;
        }
    }
    set(config, &["queue", "retry_schedule"], strings(vec![plan.retry_interval.clone()]))?;
    set(config, &["outbound", "enabled"], Value::Boolean(false))?;
    let (url, replicas) = directory;
    set(config, &["directory", "url"], string(&url))?;
    set(config, &["directory", "replicas"], strings(replicas))?;
    set(config, &["directory", "base_dn"], string(&plan.base_dn()))?;
    set(config, &["directory", "bind_dn"], string(&plan.bind_dn()))?;
    set(config, &["directory", "bind_password_file"], string(&plan.ldap_password_path().display().to_string()))?;
    set(config, &["cluster", "server_name"], string(&member.name))?;
    set(config, &["cluster", "link", "address"], string(&member.addr(Service::Link).to_string()))?;
    set(config, &["cluster", "link", "allow"], strings(allow))?;
    set(config, &["cluster", "link", "secret_file"], string(&plan.secret_path().display().to_string()))?;
    // No load balancer in front: the link's allow-list covers the members.
    set(config, &["limits", "proxy_protocol_from"], strings(Vec::new()))?;
    Ok(())
}

/// The config of `member` of `cluster` as TOML text.
pub fn member(plan: &DynPlan, cluster: &ClusterPlan, member: &MemberPlan) -> anyhow::Result<String> {
    let mut config: Table = toml::from_str(MEMBER_EXAMPLE).context("parsing the built-in example config")?;
    // The cluster's other members hand over mail and sessions, the
    // frontends pass on theirs.
    let allow = cluster.members.iter().chain(&plan.frontends).filter(|m| m.name != member.name);
    let allow = allow.map(|m| m.ip.to_string()).collect();
    common(plan, &mut config, member, plan.member_directory(), allow)?;
    set(&mut config, &["cluster", "dynamic", "name"], string(&cluster.name))?;
    set(&mut config, &["cluster", "dynamic", "etcd"], strings(plan.etcd_endpoints()))?;
    set(&mut config, &["cluster", "dynamic", "storage"], string(&cluster.storage.display().to_string()))?;
    set(&mut config, &["cluster", "dynamic", "lease_ttl"], string(&plan.lease_ttl))?;
    let header = format!(
        "# {} (a member of the dynamic cluster {}) of the dynamic demo, rendered from\n\
         # examples/dynamic.toml: the same keys with the demo's addresses, names and paths.\n\n",
        member.name, cluster.name
    );
    Ok(header + &toml::to_string(&config).context("writing the rendered config")?)
}

/// The config of frontend number `index` (0-based) as TOML text.
pub fn frontend(plan: &DynPlan, index: usize, frontend: &MemberPlan) -> anyhow::Result<String> {
    let mut config: Table = toml::from_str(FRONTEND_EXAMPLE).context("parsing the built-in example config")?;
    let allow = plan.cluster_members().map(|m| m.ip.to_string()).collect();
    common(plan, &mut config, frontend, plan.frontend_directory(index), allow)?;
    let clusters: Table = plan
        .clusters
        .iter()
        .map(|c| {
            let peer: Table = [("etcd".to_owned(), strings(plan.etcd_endpoints()))].into_iter().collect();
            (c.name.clone(), Value::Table(peer))
        })
        .collect();
    set(&mut config, &["cluster", "dynamic_clusters"], Value::Table(clusters))?;
    let header = format!(
        "# {} (a frontend of the dynamic clusters {}) of the dynamic demo, rendered\n\
         # from examples/dynamic-frontend.toml: the same keys with the demo's addresses,\n\
         # names and paths.\n\n",
        frontend.name,
        plan.clusters.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
    );
    Ok(header + &toml::to_string(&config).context("writing the rendered config")?)
}
