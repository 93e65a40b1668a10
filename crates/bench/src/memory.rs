//! Server memory, read from `/proc`: the processes of a server and their
//! resident set (RSS, `VmRSS`) and proportional set (PSS, from
//! `smaps_rollup`: each shared page divided among the processes that map
//! it, so a sum over processes counts shared libraries once).

use anyhow::Context;
use std::collections::HashMap;

/// Memory of a set of processes, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub processes: usize,
    pub rss_kib: u64,
    pub pss_kib: u64,
}

/// `root` and all its descendants.
pub fn tree(root: u32) -> anyhow::Result<Vec<u32>> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for pid in all_pids()? {
        // The parent is the second field after the `(comm)`, which may hold spaces.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some(after_comm) = stat.rfind(')').map(|at| &stat[at + 1..]) else { continue };
        if let Some(Ok(parent)) = after_comm.split_whitespace().nth(1).map(str::parse::<u32>) {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        found.extend(children.get(&found[next]).into_iter().flatten());
        next += 1;
    }
    Ok(found)
}

/// Processes whose command line contains `needle`.
pub fn with_argument(needle: &str) -> anyhow::Result<Vec<u32>> {
    let mut found = Vec::new();
    for pid in all_pids()? {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        if cmdline.split(|&b| b == 0).any(|argument| argument == needle.as_bytes()) {
            found.push(pid);
        }
    }
    Ok(found)
}

/// The summed RSS and PSS of `pids`; processes that exited meanwhile are
/// left out.
pub fn usage(pids: &[u32]) -> Usage {
    let mut usage = Usage::default();
    for &pid in pids {
        let (Some(rss), Some(pss)) = (
            field_kib(&format!("/proc/{pid}/status"), "VmRSS:"),
            field_kib(&format!("/proc/{pid}/smaps_rollup"), "Pss:"),
        ) else {
            continue;
        };
        usage.processes += 1;
        usage.rss_kib += rss;
        usage.pss_kib += pss;
    }
    usage
}

fn field_kib(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_kib(&text, key)
}

/// The value of the line `key  1234 kB`.
fn parse_kib(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

fn all_pids() -> anyhow::Result<Vec<u32>> {
    Ok(std::fs::read_dir("/proc")
        .context("reading /proc")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}

#[cfg(test)]
mod tests;
