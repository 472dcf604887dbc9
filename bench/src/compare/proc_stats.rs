//! Resource use of a server's process tree, from `/proc`: CPU seconds, anonymous resident
//! memory
//! and bytes written to storage. A tree, because some servers run as a wrapper script
//! with the real server as a child (RabbitMQ's `rabbitmq-server` starts `beam.smp`).
//! A process that exits between reads simply stops counting.

use std::collections::HashMap;

/// `pid` and every descendant of it.
pub(crate) fn tree(pid: u32) -> Vec<u32> {
    let mut parent: HashMap<u32, u32> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(pp) = stat_fields(p).and_then(|f| f.get(1).and_then(|v| v.parse().ok())) {
                parent.insert(p, pp);
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let me = out[i];
        out.extend(parent.iter().filter(|(_, &pp)| pp == me).map(|(&p, _)| p));
        i += 1;
    }
    out
}

/// Fields of /proc/<pid>/stat after the command name: index 0 is the state, 1 the
/// parent pid, 11 and 12 user and system ticks.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// User + system CPU seconds of the tree.
pub(crate) fn tree_cpu_s(pid: u32) -> f64 {
    tree(pid)
        .into_iter()
        .map(crate::daemon::process_cpu_s)
        .sum()
}

/// Sum of RssAnon over the tree: the servers' own memory. (VmRSS would also count the
/// page cache of files a server maps, as Spool does its logs; that memory is the
/// kernel's to reclaim.)
pub(crate) fn tree_rss_bytes(pid: u32) -> u64 {
    tree(pid)
        .into_iter()
        .filter_map(|p| status_kib(p, "RssAnon:"))
        .sum::<u64>()
        * 1024
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
}

/// Sum of `write_bytes` (bytes sent to the storage layer) over the tree.
pub(crate) fn tree_write_bytes(pid: u32) -> u64 {
    tree(pid)
        .into_iter()
        .filter_map(|p| {
            let s = std::fs::read_to_string(format!("/proc/{p}/io")).ok()?;
            let line = s.lines().find(|l| l.starts_with("write_bytes:"))?;
            line["write_bytes:".len()..].trim().parse::<u64>().ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_its_own_tree_and_uses_memory_and_cpu() {
        let me = std::process::id();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let t = tree(me);
        assert_eq!(t[0], me);
        assert!(t.contains(&child.id()), "the child is in the tree");
        let _ = child.kill();
        let _ = child.wait();
        // 8 MiB of touched heap is anonymous resident memory.
        let heap = std::hint::black_box(vec![1u8; 8 << 20]);
        assert!(tree_rss_bytes(me) > 4 << 20);
        drop(heap);
        let spin = std::time::Instant::now();
        while spin.elapsed().as_millis() < 50 {
            std::hint::black_box(spin.elapsed());
        }
        assert!(tree_cpu_s(me) > 0.0);
    }
}
