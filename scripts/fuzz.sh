#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time and reports, per target, the
# executions, executions per second, the corpus it ended with and whether it crashed.
# Exits non-zero if any target crashed (panic, timeout, out of memory); the input that
# did it is in fuzz/artifacts/<target>/ (git-ignored), to be replayed with
#   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -a <target> artifacts/<target>/<file>
#
# Settings (environment):
#   SPOOL_FUZZ_SECONDS   seconds per target (default 60)
#   SPOOL_FUZZ_TARGETS   space-separated targets (default: every target in fuzz/Cargo.toml)
#   SPOOL_FUZZ_RSS_MB    libFuzzer's -rss_limit_mb (default 2048)
#   SPOOL_FUZZ_TIMEOUT   libFuzzer's -timeout, seconds for one input (default 30)
#   SPOOL_FUZZ_TMPDIR    where targets put their data directories (default /dev/shm when
#                        writable: the recovery target runs ~36x faster on tmpfs)
#
# The seed corpora in fuzz/corpus/<target>/ are only read: each run starts from a copy in
# fuzz/target/fuzz-corpus/<target>/ (git-ignored), where libFuzzer adds what it finds.
# Builds without a sanitizer (the code has no unsafe; this doubles the executions) and
# with debug assertions (overflow checks). cargo-fuzz needs nightly features;
# RUSTC_BOOTSTRAP=1 enables them on the stable toolchain.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET=${SPOOL_FUZZ_SECONDS:-60}
RSS_MB=${SPOOL_FUZZ_RSS_MB:-2048}
TIMEOUT=${SPOOL_FUZZ_TIMEOUT:-30}
export RUSTC_BOOTSTRAP=1
FLAGS=(--sanitizer none --debug-assertions)
RUN_TMPDIR=${SPOOL_FUZZ_TMPDIR:-${TMPDIR:-/tmp}}
if [[ -z "${SPOOL_FUZZ_TMPDIR:-}" && -d /dev/shm && -w /dev/shm ]]; then
    RUN_TMPDIR=/dev/shm
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

if [[ -n "${SPOOL_FUZZ_TARGETS:-}" ]]; then
    read -r -a TARGETS <<<"$SPOOL_FUZZ_TARGETS"
else
    mapfile -t TARGETS < <(cargo fuzz list)
fi

build_start=$(date +%s)
cargo fuzz build "${FLAGS[@]}"
echo "built ${#TARGETS[@]} targets in $(($(date +%s) - build_start)) s"

logs=target/fuzz-logs
mkdir -p "$logs"
failed=()
printf '%-16s %12s %10s %8s %10s %s\n' target executions exec/s seconds corpus result
for t in "${TARGETS[@]}"; do
    work=target/fuzz-corpus/$t
    rm -rf "$work"
    mkdir -p "$work" "artifacts/$t"
    start=$(date +%s)
    status=0
    TMPDIR=$RUN_TMPDIR cargo fuzz run "${FLAGS[@]}" "$t" "$work" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT" \
        -print_final_stats=1 >"$logs/$t.log" 2>&1 || status=$?
    secs=$(($(date +%s) - start))
    # A crashed run may lack any of these lines: never let a missing one stop the script.
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1) || true
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1) || true
    # The last status line, e.g. "#123456 DONE cov: 1234 ft: 5678 corp: 321/45Kb ...".
    corp=$({ grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$logs/$t.log" || true; } | tail -1 |
        cut -d' ' -f2)
    if [[ $status -eq 0 ]]; then
        result=ok
    else
        result="CRASHED (exit $status; log $PWD/$logs/$t.log; input in $PWD/artifacts/$t/)"
        failed+=("$t")
    fi
    printf '%-16s %12s %10s %8s %10s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$secs" \
        "${corp:-?}" "$result"
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzzing found crashes in: ${failed[*]}"
    for t in "${failed[@]}"; do
        echo "--- $t (tail of the log)"
        tail -n 40 "$logs/$t.log"
    done
    exit 1
fi
echo "fuzzing: no crashes in ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET} s each"
