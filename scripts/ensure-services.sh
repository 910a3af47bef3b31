#!/usr/bin/env bash
# Sourced by ./dev test and .ci/run: the tests use the machine's real Postgres (127.0.0.1:5432) and
# NATS with JetStream (127.0.0.1:4222). Starts whichever does not answer, with this machine kind's
# commands, and fails with a clear message if it still does not.
set -euo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local name=$1 port=$2
  for _ in $(seq 1 50); do answers "$port" && return 0; sleep 0.2; done
  echo "mesh: $name is not answering on 127.0.0.1:$port; the tests need it" >&2
  return 1
}

if ! answers 5432; then
  echo "mesh: starting PostgreSQL" >&2
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  wait_for PostgreSQL 5432
fi

if ! answers 4222; then
  echo "mesh: starting NATS with JetStream" >&2
  if [ -x /usr/sbin/nats-server ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
  fi
  wait_for NATS 4222
fi
