#!/usr/bin/env bash
# Installs the peers `spool-bench compare` runs Spool against, from Debian's packages:
# redis-server (Redis Streams), rabbitmq-server (RabbitMQ) and nats-server (NATS
# JetStream). The harness starts its own instance of each on 127.0.0.1 with a temporary
# data directory, so the services the packages may enable are stopped and disabled here.
# Needs root (or sudo).
set -euo pipefail
sudo=""
if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q redis-server rabbitmq-server nats-server
for svc in redis-server rabbitmq-server nats-server; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
        $sudo systemctl disable --now "$svc" || true
    fi
done
redis-server --version
nats-server --version
dpkg-query -W -f='rabbitmq-server ${Version}\n' rabbitmq-server
