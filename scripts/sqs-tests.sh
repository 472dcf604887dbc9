#!/usr/bin/env bash
# Runs the SQS API client test suites against a freshly built spoold:
#   server/tests/sqs_api   Python: boto3 (JSON 1.0 and query protocol), raw HTTP, aws CLI, metrics
#   server/tests/sqs_node  Node.js: @aws-sdk/client-sqs v3 with its MD5 checks on
# Needs python3 (with venv) and node/npm; fetches packages from PyPI and the npm registry only
# on first use or when a requirements/lock file changed. Never prompts; exits non-zero on
# any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 npm_config_yes=true \
    npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

echo "== build spoold"
cargo build -p spool-server
export SPOOLD="${SPOOLD:-$ROOT/target/debug/spoold}"
[[ -x "$SPOOLD" ]] || { echo "spoold not found at $SPOOLD" >&2; exit 1; }

echo "== python venv (target/sqs-venv)"
VENV="$ROOT/target/sqs-venv"
REQ="$ROOT/server/tests/sqs_api/requirements.txt"
STAMP="$VENV/.requirements.sha256"
want=$( (python3 --version; cat "$REQ") | sha256sum | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/python" ]] || [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q -r "$REQ"
    echo "$want" > "$STAMP"
fi

echo "== pytest server/tests/sqs_api"
py_rc=0
"$VENV/bin/python" -m pytest -q -p no:cacheprovider server/tests/sqs_api </dev/null || py_rc=$?

echo "== node server/tests/sqs_node"
NODE_DIR="$ROOT/server/tests/sqs_node"
LOCK_STAMP="$NODE_DIR/node_modules/.spool-lock.sha256"
want_lock=$( (node --version; cat "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json") | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$LOCK_STAMP" 2>/dev/null)" != "$want_lock" ]]; then
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
    echo "$want_lock" > "$LOCK_STAMP"
fi
node_rc=0
(cd "$NODE_DIR" && node --test --test-reporter=spec </dev/null) || node_rc=$?

if [[ $py_rc -ne 0 || $node_rc -ne 0 ]]; then
    echo "== SQS client tests FAILED (pytest rc=$py_rc, node rc=$node_rc)" >&2
    exit 1
fi
echo "== SQS client tests passed"
