#!/usr/bin/env bash
# Runs every check and test of the workspace. This is the one test command the README
# gives and that .ci/run calls. It installs nothing system-wide: Rust deps come from
# crates.io through cargo, Python packages into target/sqs-venv from PyPI, npm packages
# into server/tests/sqs_node/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== rustfmt"
cargo fmt --all --check

echo "== clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== sizes"
# No non-test source file over 800 lines, no non-test function over 120 lines (issue 16).
python3 scripts/check-sizes.py engine/src protocol/src server/src client/src model/src testkit/src bench/src

echo "== SQS limits defined once"
# Every SQS limit and name rule lives in model/ (spool-model); outside it, non-test code,
# strings and comments name the model's constants instead of writing the values.
python3 scripts/check-sizes.py --sqs-literals engine/src protocol/src server/src client/src bench/src

echo "== tests"
cargo test --workspace

echo "== loom"
# Model-checks the server's cross-shard mailbox (server/tests/loom_mailbox.rs) under every
# interleaving up to 3 preemptions. --cfg loom swaps std atomics for loom's, so it builds in
# its own target dir to keep the normal build cache valid.
RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
    cargo test -p spool-server --release --test loom_mailbox

echo "== fuzz"
# Every cargo-fuzz target for SPOOL_FUZZ_SECONDS (default 60) each; fails on any crash.
./scripts/fuzz.sh

echo "== SQS API client suites"
# boto3/botocore/awscli in a virtual environment (target/sqs-venv) and the AWS SDK for
# JavaScript (npm), against a spoold the suites start themselves: with the default shard
# count (one per core), then with 4 shards, so cross-shard routing (FIFO home shards,
# receive chains, handles of other shards) is exercised on any machine.
./scripts/sqs-tests.sh
SPOOL_SHARDS=4 ./scripts/sqs-tests.sh

echo "== all checks passed"
