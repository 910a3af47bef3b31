#!/usr/bin/env bash
# Sourced by ./dev test and .ci/run: the tools the test suite runs besides Node, built from the Go module
# proxy into .tools/bin (git-ignored). Every version is pinned in one place: the wrapper modules under
# tools/ (go.mod + go.sum) and ACTIONLINT_VERSION below. A tool is rebuilt only when its wrapper module
# changed (a stamp holds the hash), so a warm run is a no-op. A cold machine pays ≈ 40–50 min once (README.md).
#
#   actionlint                    validates .github/workflows
#   pulumi                        the Pulumi CLI/engine (tools/pulumi), driven by the Automation API
#   pulumi-resource-kubernetes    the Kubernetes provider plugin (tools/pulumi-kubernetes)
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok
#                                 the test control plane (tools/etcd, tools/kubernetes, tools/kwok)
#   kubelet, kube-proxy, kubectl  the real nodes (test/real-node), from the same module as the apiserver
#   coredns                       the real nodes' cluster DNS, run as a pod (tools/coredns: only the
#                                 plugins its Corefile uses)
#   kube-router-netpol            the real nodes' NetworkPolicy enforcement (tools/kube-router-netpol:
#                                 kube-router's network-policy controller alone, behind a main of ours)
#   nats-server                   the server mesh's own NATS runs (tools/nats-server): `nats-server -t` on
#                                 the rendered config, and the three-server cluster test
#   keda-operator, keda-adapter   KEDA, scaling the drills' workers on the real queue (tools/keda: KEDA's
#                                 operator and metrics API server with the postgresql scaler alone, trim.sh)
#   metrics-server                the real nodes' metrics API, for the api's CPU HPA (tools/metrics-server)
#   promtool, prometheus          check and unit-test the alerts mesh renders; scrape a live drill's pods
#                                 (tools/prometheus: only the Kubernetes service discovery is compiled in)
set -euo pipefail
MESH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACTIONLINT_VERSION="v1.7.12"
TOOLS_BIN="$MESH_ROOT/.tools/bin"
mkdir -p "$TOOLS_BIN"

# The version a wrapper module pins for a dependency, e.g. module_version tools/pulumi github.com/pulumi/pulumi/pkg/v3
module_version() { (cd "$MESH_ROOT/$1" && go list -m -f '{{.Version}}' "$2"); }

# Where a module the current wrapper module requires lies in the module cache, downloading it first
# (`go list -m` alone prints nothing for a module not yet downloaded, as on a machine with an empty cache).
module_dir() { go mod download "$1" && go list -m -f '{{.Dir}}' "$1"; }

# Hash of everything that decides a tool's build: its wrapper module (every file in it) and this script.
wrapper_hash() {
  (cd "$MESH_ROOT" && find "$1" -type f -print0 | sort -z | xargs -0 cat && cat scripts/ensure-tools.sh) |
    sha256sum | cut -c1-16
}

# build_tool <wrapper dir> <stamp name> <command...>: runs the command in the wrapper module unless the
# stamp says this exact wrapper was built already.
build_tool() {
  local dir=$1 name=$2
  shift 2
  local stamp="$TOOLS_BIN/.$name.stamp" hash
  hash=$(wrapper_hash "$dir")
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then return 0; fi
  local started=$SECONDS
  echo "mesh: building $name from the Go module proxy ($dir; cold builds take minutes, once per machine)" >&2
  (cd "$MESH_ROOT/$dir" && "$@") >&2
  echo "$hash" > "$stamp"
  echo "mesh: built $name in $((SECONDS - started)) s" >&2
}

build_pulumi() {
  local v
  v=$(module_version tools/pulumi github.com/pulumi/pulumi/pkg/v3)
  go build -o "$TOOLS_BIN/pulumi" \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$v" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

# The provider module's cmd/ embeds files its Makefile generates; our main embeds the schema and Terraform
# mapping copied from the module cache. The proxy serves v4.25.0 only as a pseudo-version, so the
# released version number is written here beside the commit it names.
KUBERNETES_PROVIDER_VERSION="4.25.0" # = github.com/pulumi/pulumi-kubernetes/provider/v4 v4.0.0-20260115033456-f47bc2d6f199
build_pulumi_kubernetes() {
  local dir
  dir=$(module_dir github.com/pulumi/pulumi-kubernetes/provider/v4)
  install -m 0644 "$dir/cmd/pulumi-resource-kubernetes/schema.json" "$dir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" .
  go build -o "$TOOLS_BIN/pulumi-resource-kubernetes" \
    -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_PROVIDER_VERSION" .
}

# kwok ships its stages (what its fake node does to pods) as YAML in the module, not in the binary: the
# "fast" set (node initialize + heartbeat with lease, pod ready/complete/delete) goes beside it.
build_kwok() {
  go build -o "$TOOLS_BIN/kwok" sigs.k8s.io/kwok/cmd/kwok
  local dir
  dir=$(module_dir sigs.k8s.io/kwok)
  mkdir -p "$MESH_ROOT/.tools/share"
  for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    echo "---"
    cat "$dir/kustomize/stage/$stage.yaml"
  done > "$MESH_ROOT/.tools/share/kwok-stages.yaml"
}

build_kubernetes() {
  local v
  v=$(module_version tools/kubernetes k8s.io/kubernetes)
  local flags="-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$v" | cut -d. -f2)"
  GOBIN="$TOOLS_BIN" go install -ldflags "$flags" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
}

# promtool and the server, with only the Kubernetes service discovery: the cloud SDKs the other discoverers
# need would double the cold build. The release number is the module's VERSION file (v0.316.0 = 3.16.0).
build_prometheus() {
  local dir
  dir=$(module_dir github.com/prometheus/prometheus)
  go build -tags remove_all_sd,enable_kubernetes_sd \
    -ldflags "-X github.com/prometheus/common/version.Version=$(cat "$dir/VERSION")" -o "$TOOLS_BIN/" \
    github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
}

# KEDA, trimmed (tools/keda/trim.sh) in a copy of its module, built there as its own main module so that
# KEDA's go.mod (its replaces) and go.sum decide every dependency. Its manifests (CRDs, RBAC, Deployments,
# APIService) go to .tools/share/keda for the real nodes' install (test/real-node/keda.ts).
build_keda() {
  local dir version src="$MESH_ROOT/.tools/src/keda"
  dir=$(module_dir github.com/kedacore/keda/v2)
  version=$(module_version tools/keda github.com/kedacore/keda/v2)
  rm -rf "$src" && mkdir -p "$(dirname "$src")" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  bash "$MESH_ROOT/tools/keda/trim.sh" "$src"
  (cd "$src" && CGO_ENABLED=0 go build -ldflags "-X github.com/kedacore/keda/v2/version.Version=$version" -o "$src/bin/" \
    ./cmd/operator ./cmd/adapter)
  install -m 0755 "$src/bin/operator" "$TOOLS_BIN/keda-operator"
  install -m 0755 "$src/bin/adapter" "$TOOLS_BIN/keda-adapter"
  rm -rf "$MESH_ROOT/.tools/share/keda" && mkdir -p "$MESH_ROOT/.tools/share/keda"
  cp -r "$dir/config/crd" "$dir/config/general" "$dir/config/rbac" "$dir/config/service_account" \
    "$dir/config/manager" "$dir/config/metrics-server" "$MESH_ROOT/.tools/share/keda/"
  chmod -R u+w "$MESH_ROOT/.tools/share/keda"
  rm -rf "$src"
}

# metrics-server, static, and its manifests (base, components, overlays: the release overlay is what
# test/real-node/metrics-server.ts builds with kubectl's kustomize and applies).
build_metrics_server() {
  local dir
  dir=$(module_dir sigs.k8s.io/metrics-server)
  CGO_ENABLED=0 go build -o "$TOOLS_BIN/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server
  rm -rf "$MESH_ROOT/.tools/share/metrics-server" && mkdir -p "$MESH_ROOT/.tools/share"
  cp -r "$dir/manifests" "$MESH_ROOT/.tools/share/metrics-server"
  chmod -R u+w "$MESH_ROOT/.tools/share/metrics-server"
}

if command -v go >/dev/null; then
  if [ ! -x "$TOOLS_BIN/actionlint" ]; then
    echo "mesh: installing actionlint $ACTIONLINT_VERSION into .tools/bin" >&2
    GOBIN="$TOOLS_BIN" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >&2
  fi
  # Three lanes. The app lane holds what the app suite runs (nats-server, promtool); the two engine lanes
  # what only the engine suite runs. A build compiles on both cores, but it also waits on downloads and on
  # single-threaded links, and the other lanes' builds fill those gaps. Each lane stops at its first
  # failure (errexit holds in a background subshell); a failed lane ends the others.
  (
    build_tool tools/nats-server nats-server go build -o "$TOOLS_BIN/nats-server" github.com/nats-io/nats-server/v2
    build_tool tools/prometheus prometheus build_prometheus
  ) &
  mesh_app_lane=$!
  (
    build_tool tools/kubernetes kubernetes build_kubernetes
    build_tool tools/pulumi-kubernetes pulumi-resource-kubernetes build_pulumi_kubernetes
    build_tool tools/pulumi pulumi build_pulumi
  ) &
  mesh_engine_lanes="$!"
  (
    build_tool tools/etcd etcd go build -o "$TOOLS_BIN/etcd" go.etcd.io/etcd/server/v3
    build_tool tools/kwok kwok build_kwok
    build_tool tools/coredns coredns env CGO_ENABLED=0 go build -o "$TOOLS_BIN/coredns" .
    build_tool tools/kube-router-netpol kube-router-netpol \
      env CGO_ENABLED=0 go build -o "$TOOLS_BIN/kube-router-netpol" .
    build_tool tools/keda keda build_keda
    build_tool tools/metrics-server metrics-server build_metrics_server
  ) &
  mesh_engine_lanes="$mesh_engine_lanes $!"
  # Waits for the engine lanes; a failed one ends the others. ./dev test calls it after the app suite,
  # which runs while they build (MESH_ENGINE_TOOLS_IN_BACKGROUND=1): on a cold machine that overlap is
  # what keeps CI within its budget. Everyone else waits here.
  mesh_wait_for_engine_tools() {
    local lane
    for lane in $mesh_engine_lanes; do
      if ! wait "$lane"; then
        # shellcheck disable=SC2086 # a list of PIDs
        kill $mesh_engine_lanes 2>/dev/null || true
        echo "mesh: a tool build failed (above)" >&2
        return 1
      fi
    done
  }
  if ! wait "$mesh_app_lane"; then
    # shellcheck disable=SC2086
    kill $mesh_engine_lanes 2>/dev/null || true
    echo "mesh: a tool build failed (above)" >&2
    exit 1
  fi
  if [ "${MESH_ENGINE_TOOLS_IN_BACKGROUND:-}" != 1 ]; then mesh_wait_for_engine_tools || exit 1; fi
else
  echo "mesh: Go is not installed; the real-engine suite and the workflow test will fail" >&2
  mesh_wait_for_engine_tools() { return 0; }
fi

export PATH="$TOOLS_BIN:$PATH"
