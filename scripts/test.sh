#!/usr/bin/env bash
# Runs every check and test of the workspace. This is the one test command the README
# gives and that .ci/run calls. It installs nothing system-wide: Rust deps come from
# crates.io through cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== rustfmt"
cargo fmt --all --check

echo "== clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== tests"
cargo test --workspace

echo "== all checks passed"
