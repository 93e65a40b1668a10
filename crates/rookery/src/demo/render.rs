//! The members' configs, rendered from the commented examples in
//! `examples/` (built into the binary): the same keys, with the demo's
//! addresses, paths and names put in. Nothing else is changed but the
//! frontends' outbound delivery, which is turned off so that the demo
//! never sends mail to the Internet (it stays in their queues), and the
//! retry schedule, made short so that failover can be watched.

use super::layout::{MemberPlan, MemberRole, Plan, Service};
use anyhow::{Context, bail};
use toml::{Table, Value};

pub const FRONTEND_EXAMPLE: &str = include_str!("../../../../examples/frontend.toml");
pub const BACKEND_EXAMPLE: &str = include_str!("../../../../examples/backend.toml");

/// The config of `member` as TOML text.
pub fn render(plan: &Plan, member: &MemberPlan) -> anyhow::Result<String> {
    let example = match member.role {
        MemberRole::Frontend => FRONTEND_EXAMPLE,
        MemberRole::Backend => BACKEND_EXAMPLE,
    };
    let mut config: Table = toml::from_str(example).context("parsing the built-in example config")?;
    let path = |p: &std::path::Path| Value::String(p.display().to_string());
    let string = |s: &str| Value::String(s.to_owned());
    let strings = |items: Vec<String>| Value::Array(items.into_iter().map(Value::String).collect());

    set(&mut config, &["data_dir"], path(&member.data_dir()))?;
    set(&mut config, &["main_domain"], string(&member.name))?;
    for service in Service::ALL {
        if service == Service::Link {
            continue;
        }
        // A listener the example leaves empty (a frontend's LMTP) stays so.
        let listen = [service.section(), "listen"];
        let empty = get(&config, &listen).and_then(Value::as_array).is_some_and(|a| a.is_empty());
        if !empty {
            set(&mut config, &listen, strings(vec![member.addr(service).to_string()]))?;
        }
    }
    set(&mut config, &["queue", "retry_schedule"], strings(vec![plan.retry_interval.clone()]))?;
    if member.role == MemberRole::Frontend {
        set(&mut config, &["outbound", "enabled"], Value::Boolean(false))?;
    }

    set(&mut config, &["directory", "url"], string(&format!("ldap://{}/", plan.ldap)))?;
    set(&mut config, &["directory", "base_dn"], string(&plan.base_dn()))?;
    set(&mut config, &["directory", "bind_dn"], string(&plan.bind_dn()))?;
    set(&mut config, &["directory", "bind_password_file"], path(&plan.ldap_password_path()))?;

    let others: Vec<&MemberPlan> = plan.members.iter().filter(|m| m.name != member.name).collect();
    // An unlisted backend is named in no other config: it is found through
    // the directory (CM-4).
    let named: Vec<&MemberPlan> = others.iter().copied().filter(|m| !m.unlisted).collect();
    set(&mut config, &["cluster", "server_name"], string(&member.name))?;
    // Where a backend's forward_to = ["*"] goes; a frontend has no use for it.
    if get(&config, &["cluster", "frontends"]).is_some() {
        let frontends = plan.frontends().map(|m| m.name.clone()).collect();
        set(&mut config, &["cluster", "frontends"], strings(frontends))?;
    }
    let members: Table =
        named.iter().map(|m| (m.name.clone(), Value::String(m.addr(Service::Link).to_string()))).collect();
    set(&mut config, &["cluster", "members"], Value::Table(members))?;
    if get(&config, &["cluster", "services"]).is_some() {
        let services: Table = named
            .iter()
            .filter(|m| m.role == MemberRole::Backend)
            .map(|m| {
                let table: Table = [Service::Imap, Service::Pop3, Service::Submission]
                    .into_iter()
                    .map(|s| (s.section().to_owned(), Value::String(m.addr(s).to_string())))
                    .collect();
                (m.name.clone(), Value::Table(table))
            })
            .collect();
        set(&mut config, &["cluster", "services"], Value::Table(services))?;
    }
    set(&mut config, &["cluster", "link", "address"], string(&member.addr(Service::Link).to_string()))?;
    let allow = match plan.members.iter().any(|m| m.unlisted) {
        true => vec![plan.members_network()],
        false => others.iter().map(|m| m.ip.to_string()).collect(),
    };
    set(&mut config, &["cluster", "link", "allow"], strings(allow))?;
    set(&mut config, &["cluster", "link", "secret_file"], path(&plan.secret_path()))?;
    // Backends take PROXY headers from the frontends; the frontends have
    // no load balancer in front of them here.
    let proxies = match member.role {
        MemberRole::Backend => plan.frontends().map(|m| m.ip.to_string()).collect(),
        MemberRole::Frontend => Vec::new(),
    };
    set(&mut config, &["limits", "proxy_protocol_from"], strings(proxies))?;

    let header = format!(
        "# {} ({}) of `rookery demo static`, rendered from examples/{}.toml:\n\
         # the same keys with the demo's addresses, names and paths.\n\n",
        member.name,
        member.role.as_str(),
        member.role.as_str()
    );
    Ok(header + &toml::to_string(&config).context("writing the rendered config")?)
}

pub fn get<'a>(table: &'a Table, path: &[&str]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut table = table;
    for key in parents {
        table = table.get(*key)?.as_table()?;
    }
    table.get(*last)
}

/// Replaces a key the example has. Setting a key the example lacks is a
/// bug here (the demo would no longer use the example's keys), so it is
/// an error rather than an insertion.
pub fn set(table: &mut Table, path: &[&str], value: Value) -> anyhow::Result<()> {
    let Some((last, parents)) = path.split_last() else { bail!("empty key path") };
    let mut table = table;
    for key in parents {
        table = table
            .get_mut(*key)
            .and_then(Value::as_table_mut)
            .with_context(|| format!("the example config has no [{}]", path[..path.len() - 1].join(".")))?;
    }
    match table.get_mut(*last) {
        Some(slot) => {
            *slot = value;
            Ok(())
        }
        None => bail!("the example config has no key {}", path.join(".")),
    }
}
