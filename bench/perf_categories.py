#!/usr/bin/env python3
"""Where spoold's CPU time went, from a `perf record` of it: the share of samples per
thread, and the self time of every sampled function grouped into a few categories
(engine, codec, kernel TCP, scheduler, page faults, ...). Used by bench/profile.sh.

Usage: perf_categories.py PERF_DATA [--top N]   (--top also lists the N largest
functions, and the largest ones no category matched)."""
import re, sys, subprocess
data = sys.argv[1]
out = subprocess.run(["perf","report","-i",data,"--no-children","--sort","comm,sym","-g","none","--stdio"],
                     capture_output=True, text=True).stdout
cats = [
 ("engine (spool_engine)", r"spool_engine::"),
 ("protocol codec (spool_protocol)", r"spool_protocol::"),
 ("shard loop, routing (spool_server)", r"spool_server::"),
 ("CRC-32", r"crc32fast"),
 ("hash tables", r"hashbrown|hash::sip|BuildHasher|siphasher"),
 ("memcpy / memmove (user)", r"__memmove|__memcpy|__memset|__memcmp"),
 ("allocator (mimalloc)", r"\bmi_|_mi_"),
 ("kernel: page faults, zeroing", r"clear_page|page_fault|handle_mm_fault|folio_zero|do_anonymous|do_huge_pmd|filemap_map|xas_|xa_load|page_cache_ra|read_pages|next_uptodate"),
 ("kernel: scheduler, wakeups", r"finish_task_switch|_raw_spin_unlock_irqrestore|try_to_wake_up|schedule|native_write_msr|_raw_spin_unlock_irq\b|__wake_up|futex|smp_call_function|select_task_rq|enqueue_task|dequeue_task|update_curr|pick_next|psi_"),
 ("kernel: TCP / loopback", r"tcp_|sock_|skb|_copy_to_iter|_copy_from_iter|ip_|__netif|net_rx|__dev_queue|loopback|__sys_sendto|__sys_recvfrom|inet_|release_sock|lock_sock|__inet|dst_|__kfree_skb|napi|__napi|process_backlog|handle_softirqs|validate_xmit|eth_type|__local_bh|kmem_cache|__alloc_skb|ksize|check_heap|__check_object|__virt_addr_valid|gup_fast|iov_iter|copy_page"),
 ("kernel: disk I/O (virtio, block, ext4)", r"iowrite16|blk_|iomap|ext4|virtqueue|vring|jbd2|bio_|submit_bio|nvme|scsi"),
 ("kernel: syscall entry/exit, epoll", r"do_syscall|entry_SYSCALL|syscall_exit|irqentry|exit_to_user|epoll|ep_|fdget|__fget|fput|rseq|syscall_return"),
]
totals = {}
other = {}
threads = {}
for line in out.splitlines():
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$", line)
    if not m: continue
    pct, comm, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
    comm = re.sub(r"-\d+$", "-N", comm)
    threads[comm] = threads.get(comm, 0) + pct
    for name, rx in cats:
        if re.search(rx, sym):
            totals[name] = totals.get(name, 0) + pct
            break
    else:
        key = ("kernel: other" if kind == "k" else "other (user)")
        totals[key] = totals.get(key, 0) + pct
        other[sym] = other.get(sym, 0) + pct
print("| thread | share of spoold's samples |\n|---|---|")
for k, v in sorted(threads.items(), key=lambda x: -x[1]):
    if v >= 0.5: print(f"| {k} | {v:.1f} % |")
print()
print("| where | share |\n|---|---|")
for k, v in sorted(totals.items(), key=lambda x: -x[1]):
    print(f"| {k} | {v:.1f} % |")
if len(sys.argv) > 3 and sys.argv[2] == "--top":
    n = int(sys.argv[3])
    syms = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$", line)
        if m:
            syms[m.group(4)] = syms.get(m.group(4), 0) + float(m.group(1))
    print(f"\n| largest functions (self) | share |\n|---|---|")
    for k, v in sorted(syms.items(), key=lambda x: -x[1])[:n]:
        print(f"| `{k[:90]}` | {v:.1f} % |")
    print("\nlargest uncategorized:")
    for k, v in sorted(other.items(), key=lambda x: -x[1])[:n]:
        print(f"  {v:.2f} {k}")
