#!/usr/bin/env bash
# Installs moto's server (the SQS emulator `spool-bench sqs --targets moto` compares
# against) into a virtual environment at target/moto-venv, from PyPI, and prints the path
# of its `moto_server` executable. Nothing is installed system-wide.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/moto-venv
if [ ! -x "$venv/bin/moto_server" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.1.18"
fi
echo "$PWD/$venv/bin/moto_server"
