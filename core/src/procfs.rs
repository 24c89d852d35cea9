//! What `/proc` and the cgroup files say about a process, with no cooperation from it:
//! CPU time, memory (RSS, PSS), descriptors and threads for `worker.stats()` and the
//! memory limit, and the CPUs this process may really use for
//! `cluster.availableParallelism()`. The parsers are pure functions over the files' text,
//! so they are tested on captured text; `sample` reads the live files.

use crate::sys;
use std::io;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// CPU time in user and kernel mode, in microseconds.
    pub user_us: u64,
    pub system_us: u64,
    /// Resident set size, bytes (`VmRSS`).
    pub rss: u64,
    /// Proportional set size, bytes (`smaps_rollup`), when it was read.
    pub pss: Option<u64>,
    pub fds: u64,
    pub threads: u64,
}

/// utime and stime (clock ticks) and num_threads from `/proc/<pid>/stat`. The command name
/// (field 2) may hold spaces and parentheses, so fields are counted from its last `)`.
pub fn parse_stat(text: &str) -> Option<(u64, u64, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    // After the name: field 3 (state) is index 0, so field n is index n - 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some((field(14)?, field(15)?, field(20)?))
}

/// A `Key:   123 kB` line of `/proc/<pid>/status` or `smaps_rollup`, in bytes.
pub fn parse_kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?.trim();
        let kb = value.strip_suffix("kB").unwrap_or(value).trim();
        kb.parse::<u64>().ok().map(|kb| kb * 1024)
    })
}

/// A CPU list as the kernel writes it (`0-3,8,10-11`); None if it is not one.
pub fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (
                    a.trim().parse::<usize>().ok()?,
                    b.trim().parse::<usize>().ok()?,
                );
                if b < a {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.trim().parse().ok()?),
        }
    }
    Some(cpus)
}

/// This process's cgroup v2 path (the `0::/path` line of `/proc/self/cgroup`).
pub fn parse_cgroup_v2_path(text: &str) -> Option<&str> {
    text.lines().find_map(|line| line.strip_prefix("0::"))
}

/// `cpu.max` (`$MAX $PERIOD`, `max` when unlimited) as a number of CPUs.
pub fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut parts = text.split_whitespace();
    let quota = parts.next()?;
    let period: f64 = parts.next().map_or(Some(100_000.0), |p| p.parse().ok())?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    let quota: f64 = quota.parse().ok()?;
    (quota > 0.0).then_some(quota / period)
}

/// CPUs from `affinity` CPUs and a quota of `quota` CPUs (if any): a fractional quota
/// rounds up (1.5 CPUs of time keep 2 workers busy part of the time), never below 1.
pub fn parallelism(affinity: usize, quota: Option<f64>) -> usize {
    let by_quota = quota.map_or(usize::MAX, |q| q.ceil() as usize);
    affinity.min(by_quota).max(1)
}

/// The smallest `cpu.max` quota from this process's cgroup up to the root of the
/// hierarchy it can see (a parent's limit binds its children too).
fn cgroup_quota() -> Option<f64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = parse_cgroup_v2_path(&cgroups)?;
    let mut dir = std::path::PathBuf::from("/sys/fs/cgroup");
    dir.push(path.trim_start_matches('/'));
    let mut quota: Option<f64> = None;
    loop {
        if let Some(q) = std::fs::read_to_string(dir.join("cpu.max"))
            .ok()
            .and_then(|t| parse_cpu_max(&t))
        {
            quota = Some(quota.map_or(q, |old| old.min(q)));
        }
        if dir.as_os_str() == "/sys/fs/cgroup" || !dir.pop() {
            return quota;
        }
    }
}

/// The CPUs this process may run on (its affinity mask).
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    sys::sched_getaffinity()
}

/// How many CPUs this process may really use: its affinity mask, bounded by the cgroup
/// v2 CPU quota.
pub fn available_parallelism() -> usize {
    let affinity = allowed_cpus().map_or(1, |cpus| cpus.len());
    parallelism(affinity, cgroup_quota())
}

fn ticks_to_us(ticks: u64, hz: u64) -> u64 {
    ticks.saturating_mul(1_000_000) / hz.max(1)
}

fn count_fds(pid: i32) -> io::Result<u64> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("cannot parse {what}"))
}

/// Reads `pid`'s figures now; `with_pss` also reads `smaps_rollup` (the kernel walks the
/// page tables for it, so the periodic memory check reads it only when it is the metric).
pub fn sample(pid: i32, with_pss: bool) -> io::Result<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (utime, stime, threads) = parse_stat(&stat).ok_or_else(|| invalid("stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = parse_kb_field(&status, "VmRSS").unwrap_or(0);
    let pss = if with_pss {
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
        parse_kb_field(&rollup, "Pss")
    } else {
        None
    };
    let hz = sys::clock_ticks_per_second();
    Ok(Sample {
        user_us: ticks_to_us(utime, hz),
        system_us: ticks_to_us(stime, hz),
        rss,
        pss,
        fds: count_fds(pid).unwrap_or(0),
        threads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from a Node worker (the name trimmed to one with a space and a paren).
    const STAT: &str = "4242 (node (my) app) S 4200 4242 4200 0 -1 4194560 6519 0 0 0 \
        37 12 0 0 20 0 11 0 2188321 1129910272 12096 18446744073709551615 1 1 0 0 0 0 0 \
        16781312 134235650 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    const STATUS: &str = "Name:\tnode\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\n\
        VmPeak:\t 1168676 kB\nVmSize:\t 1103428 kB\nVmHWM:\t   48612 kB\nVmRSS:\t   48384 kB\n\
        RssAnon:\t   10752 kB\nThreads:\t11\nCpus_allowed_list:\t0-1\n";

    const SMAPS_ROLLUP: &str = "55d1c0c00000-7ffd4a5fe000 ---p 00000000 00:00 0 [rollup]\n\
        Rss:               48384 kB\nPss:               31337 kB\nPss_Anon:          10700 kB\n\
        Pss_File:          20637 kB\nShared_Clean:      30000 kB\n";

    #[test]
    fn stat_fields_are_counted_after_the_last_paren_of_the_name() {
        assert_eq!(parse_stat(STAT), Some((37, 12, 11)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn kb_fields_become_bytes_and_prefixes_do_not_match() {
        assert_eq!(parse_kb_field(STATUS, "VmRSS"), Some(48384 * 1024));
        assert_eq!(parse_kb_field(SMAPS_ROLLUP, "Pss"), Some(31337 * 1024));
        assert_eq!(parse_kb_field(SMAPS_ROLLUP, "Pss_Anon"), Some(10700 * 1024));
        assert_eq!(parse_kb_field(STATUS, "Vm"), None);
        assert_eq!(parse_kb_field(STATUS, "Missing"), None);
    }

    #[test]
    fn cpu_lists_expand_ranges() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(
            parse_cpu_list("0-3,8,10-11"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list("5"), Some(vec![5]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a"), None);
    }

    #[test]
    fn cgroup_v2_path_and_quota() {
        let v1_and_v2 = "4:memory:/x\n1:cpu:/\n0::/system.slice/app.service\n";
        assert_eq!(
            parse_cgroup_v2_path(v1_and_v2),
            Some("/system.slice/app.service")
        );
        assert_eq!(parse_cgroup_v2_path("4:memory:/x\n"), None);
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
        assert_eq!(parse_cpu_max("50000 100000"), Some(0.5));
        assert_eq!(parse_cpu_max("junk"), None);
    }

    #[test]
    fn parallelism_is_the_tighter_of_mask_and_quota() {
        assert_eq!(parallelism(8, None), 8);
        assert_eq!(parallelism(8, Some(1.5)), 2);
        assert_eq!(parallelism(8, Some(0.5)), 1);
        assert_eq!(parallelism(2, Some(4.0)), 2);
        assert_eq!(parallelism(0, None), 1);
    }

    #[test]
    fn live_sample_of_this_process_agrees_with_proc() {
        let pid = std::process::id() as i32;
        // Burn a little CPU so user time is above zero.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(60) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let s = sample(pid, true).unwrap();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let rss = parse_kb_field(&status, "VmRSS").unwrap();
        // Within 8 MiB of a second reading (the test harness allocates meanwhile).
        assert!(s.rss > 0 && s.rss.abs_diff(rss) < 8 << 20, "{s:?} vs {rss}");
        let pss = s.pss.unwrap();
        assert!(pss > 0 && pss <= s.rss + (8 << 20), "{s:?}");
        assert!(s.user_us + s.system_us >= 10_000, "{s:?}");
        assert!(s.threads >= 1);
        let fds = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
        assert!(s.fds.abs_diff(fds) <= 4, "{} vs {fds}", s.fds);
        let allowed = allowed_cpus().unwrap();
        let listed = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .and_then(parse_cpu_list)
            .unwrap();
        assert_eq!(allowed, listed);
        assert!(available_parallelism() >= 1 && available_parallelism() <= allowed.len());
    }
}
