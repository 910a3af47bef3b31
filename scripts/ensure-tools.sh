#!/usr/bin/env bash
# Sourced by ./dev test and .ci/run: tools the test suite runs besides Node. actionlint validates the
# GitHub workflows; it is built from the Go module proxy into .tools/bin (git-ignored).
set -euo pipefail
MESH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACTIONLINT_VERSION="v1.7.12"

if [ ! -x "$MESH_ROOT/.tools/bin/actionlint" ] && ! command -v actionlint >/dev/null; then
  if command -v go >/dev/null; then
    echo "mesh: installing actionlint $ACTIONLINT_VERSION into .tools/bin" >&2
    GOBIN="$MESH_ROOT/.tools/bin" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >&2
  else
    echo "mesh: actionlint is missing and Go is not installed; the workflow test will fail" >&2
  fi
fi
export PATH="$MESH_ROOT/.tools/bin:$PATH"
