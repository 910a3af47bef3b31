#!/usr/bin/env bash
# Sourced by ./dev and .ci/run: puts Node.js 22 first on PATH and installs the project's dependencies.
# The machine's node may be older; then the npm registry package node@22 (it ships the Node 22 binary)
# is installed into .tools/node22, which git ignores.
set -euo pipefail
MESH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE22_VERSION="22.23.3"
NODE22_DIR="$MESH_ROOT/.tools/node22"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major)" != "22" ]; then
  if [ ! -x "$NODE22_DIR/node_modules/.bin/node" ]; then
    echo "mesh: installing Node.js $NODE22_VERSION into .tools/node22 (machine has $(node --version 2>/dev/null || echo none))" >&2
    mkdir -p "$NODE22_DIR"
    echo '{"name":"node22-runtime","private":true}' > "$NODE22_DIR/package.json"
    (cd "$NODE22_DIR" && npm install --no-save --no-audit --no-fund --loglevel=error "node@$NODE22_VERSION" >&2)
  fi
  export PATH="$NODE22_DIR/node_modules/.bin:$PATH"
fi
[ "$(node_major)" = "22" ] || { echo "mesh: Node.js 22 is required (found $(node --version))" >&2; exit 1; }

# npm ci when node_modules is missing or older than the lockfile or a patch in patches/ (postinstall
# applies those with patch-package).
stamp="$MESH_ROOT/node_modules/.package-lock.json"
newest_input=$(ls -t "$MESH_ROOT/package-lock.json" "$MESH_ROOT"/patches/*.patch 2>/dev/null | head -1)
if [ ! -f "$stamp" ] || [ "$newest_input" -nt "$stamp" ]; then
  echo "mesh: npm ci" >&2
  (cd "$MESH_ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

# The policy pack is its own package (`pulumi preview --policy-pack policy` loads its node_modules).
policy_stamp="$MESH_ROOT/policy/node_modules/.package-lock.json"
if [ ! -f "$policy_stamp" ] || [ "$MESH_ROOT/policy/package-lock.json" -nt "$policy_stamp" ]; then
  echo "mesh: npm ci (policy pack)" >&2
  (cd "$MESH_ROOT/policy" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
