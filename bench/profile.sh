#!/usr/bin/env bash
# Profiles spoold during one cell of `spool-bench compare` (Spool over the binary protocol
# alone) and prints where its CPU time went (bench/perf_categories.py) and the group-commit
# durations from its /metrics. Needs perf (Debian: linux-perf) and a release build:
#   cargo build --release -p spool-server -p spool-bench
#   bench/profile.sh sync standard 1KiB
# Arguments: durability (sync|batch), kind (standard|fifo), size (100, 1KiB, ...).
set -euo pipefail
dur=${1:-sync}; kind=${2:-standard}; size=${3:-1KiB}
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/spool-profile-XXXX)
admin=127.0.0.1:9429
./target/release/spool-bench compare --targets spool-binary --sizes "$size" --kinds "$kind" \
    --durabilities "$dur" --half-peak false --duration 12 --warmup 1 \
    --spool-args "--admin-listen $admin" --out "$out/compare" > "$out/compare.log" 2>&1 &
bench=$!
# The spoold this run starts (a child of spool-bench): wait for it, then 3 s into the run.
for _ in $(seq 1 50); do
    pid=$(pgrep -n -x -P "$bench" spoold || true)
    [ -n "$pid" ] && break
    sleep 0.1
done
[ -n "$pid" ] || { echo "spoold did not start"; cat "$out/compare.log"; exit 1; }
sleep 3
curl -s "http://$admin/metrics" | grep '^spool_commit_seconds' > "$out/metrics.before" || true
perf record -F 1999 -g -p "$pid" -o "$out/perf.data" -- sleep 5 > /dev/null 2>&1
curl -s "http://$admin/metrics" | grep '^spool_commit_seconds' > "$out/metrics.after" || true
wait "$bench"
grep -E '^\| [0-9]' "$out/compare/results.md" | head -1
python3 bench/perf_categories.py "$out/perf.data" --top 15
echo
echo "group commits (write + fdatasync) from the start of the run to the end of the profile, per shard:"
grep -E 'quantile="0.5"|quantile="0.99"|_count' "$out/metrics.after" || true
echo "(perf data and the run's results are in $out)"
