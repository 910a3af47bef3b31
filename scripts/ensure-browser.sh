#!/usr/bin/env bash
# Sourced by ./dev test: the run console's test drives a real browser, Debian's Chromium (playwright-core
# never downloads one). Installed from Debian's packages when missing (as root), else a clear stop.
set -euo pipefail
MESH_CHROMIUM="${MESH_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$MESH_CHROMIUM" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "mesh: installing Debian's chromium for the console's browser test (once per machine)" >&2
    apt-get install -y --no-install-recommends chromium >&2 ||
      { apt-get update >&2 && apt-get install -y --no-install-recommends chromium >&2; }
  else
    echo "mesh: $MESH_CHROMIUM is missing; install Debian's chromium (apt-get install chromium) or set MESH_CHROMIUM" >&2
    exit 1
  fi
fi
export MESH_CHROMIUM
