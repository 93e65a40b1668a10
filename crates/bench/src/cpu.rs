//! CPU time of server processes, read from `/proc/<pid>/stat`: user and
//! system time of each process plus that of its children it has waited
//! for (`cutime`, `cstime`), so a process-per-connection server's exited
//! processes still count once their master has reaped them.

/// Clock ticks per second of the `/proc` times (`USER_HZ`: 100 on Linux
/// on every architecture the bench runs on).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// The summed CPU time of `pids` in clock ticks; processes that exited
/// meanwhile are left out.
pub fn ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| stat_ticks(&stat))
        .sum()
}

/// utime + stime + cutime + cstime (fields 14 to 17) of one `stat` line.
fn stat_ticks(stat: &str) -> Option<u64> {
    // The command name, in parentheses, may hold spaces: count from its end.
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // After the name: state is field 3, so utime (14) is the 12th word.
    let times: Vec<u64> =
        after_comm.split_whitespace().skip(11).take(4).map(|field| field.parse().ok()).collect::<Option<_>>()?;
    (times.len() == 4).then(|| times.iter().sum())
}

#[cfg(test)]
mod tests;
