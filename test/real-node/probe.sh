#!/usr/bin/env bash
# The first step of #19: one real kubelet (k8s.io/kubernetes v1.36.3, as the control plane) on Debian's
# containerd and runc, with a CNI bridge, runs the pause image and then mesh's own image, built from the
# project's Dockerfile unchanged, as the rendered pods run it (uid 1000, read-only root, no
# capabilities), against the machine's Postgres and NATS; a run is posted to the pod and read to `done`.
# Not part of the test suite yet: it is the probe the harness will be built from (README.md here).
#
#   bash test/real-node/probe.sh          # run the probe, then remove everything it created
#   MESH_PROBE_KEEP=1 bash ...            # leave it running (kubelet, containerd, the pods) to look at
#
# Root only. Creates: bridge mesh-probe0 (10.244.0.1/24, the node's address), `unreachable` routes for the
# pod and service ranges (10.244.0.0/16, 10.96.0.0/12), a containerd with its own root under $WORK, a
# kubelet with its own root dir, kube-proxy (iptables KUBE-* chains, as the kubelet's), a client netns
# mesh-probe-client on veth 10.243.0.0/30, database mesh_probe. Removes them all on exit, and at start
# whatever a killed run left (processes, pods' containers and cgroups, mounts, network namespaces).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=${MESH_PROBE_DIR:-/tmp/mesh-real-node-probe}
BRIDGE=mesh-probe0
NODE_IP=10.244.0.1
export PATH="$ROOT/.tools/bin:$ROOT/.tools/node22/node_modules/.bin:$PATH"

[ "$(id -u)" = 0 ] || { echo "probe: needs root (network namespaces, cgroups, mounts)" >&2; exit 1; }
missing=()
for tool in containerd runc ctr buildah debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
if [ ${#missing[@]} -gt 0 ]; then
  echo "probe: installing ${missing[*]} from Debian" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    containerd runc containernetworking-plugins buildah debootstrap >/dev/null
fi

pids=()
cleanup() {
  local - # errexit off in here only
  set +e
  if [ "${MESH_PROBE_KEEP:-}" = 1 ]; then echo "probe: kept everything under $WORK" >&2; return; fi
  # Pods were deleted through the API (probe-pods.ts), so containerd tore their network down through
  # CNI; after a killed run, their shims, mounts and network namespaces are removed below.
  # This run's processes, and a killed run's (found by the folder in their command lines).
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  pkill -TERM -f "probe-cluster.ts $WORK" 2>/dev/null # stops its control plane
  pkill -TERM -f "$WORK/kubelet|$WORK/kube-proxy|containerd --config $WORK" 2>/dev/null
  sleep 2
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  pkill -KILL -f "$WORK/kubelet|$WORK/kube-proxy|containerd --config $WORK" 2>/dev/null
  for shim in $(pgrep -f "containerd-shim-runc-v2 -namespace k8s.io -id .* -address $WORK/containerd/containerd.sock"); do
    kill -9 "$shim" 2>/dev/null
  done
  # Whatever still runs in the pods' cgroups (a container whose shim is gone), then the kubelet's
  # cgroups themselves (kubepods, in every v1 hierarchy).
  for procs in $(find /sys/fs/cgroup/*/kubepods -name cgroup.procs 2>/dev/null); do
    xargs -r kill -9 <"$procs" 2>/dev/null
  done
  sleep 0.5
  find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} \; 2>/dev/null
  grep -o " $WORK/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  for netns in $(ip netns list 2>/dev/null | awk '/^cni-/{print $1}'); do ip netns delete "$netns"; done
  ip netns delete mesh-probe-client 2>/dev/null
  ip link delete mesh-probe-c0 2>/dev/null
  ip link delete "$BRIDGE" 2>/dev/null
  remove_kube_iptables
  ip route delete unreachable 10.244.0.0/16 2>/dev/null
  ip route delete unreachable 10.96.0.0/12 2>/dev/null
  ip route delete unreachable 10.243.0.0/16 2>/dev/null
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS mesh_probe WITH (FORCE)" >/dev/null 2>&1
  find /var/log/containers -maxdepth 1 -name 'probe-*_default_*' -delete 2>/dev/null
  # containerd's CNI result cache (its folder is fixed): the bridge's and the loopback's of each pod.
  for result in /var/lib/cni/results/mesh-probe-*-eth0; do
    [ -e "$result" ] || continue
    id=${result#/var/lib/cni/results/mesh-probe-}
    rm -f "$result" "/var/lib/cni/results/cni-loopback-${id%-eth0}-lo"
  done
  rm -rf "$WORK"
}
# The kubelet (its canary and localnet firewall) and kube-proxy (services) add KUBE-* chains to the
# host's tables: remove the jumps into them, then the chains, in IPv4 and IPv6.
remove_kube_iptables() {
  local cmd table rule chain
  for cmd in iptables ip6tables; do
    for table in filter nat mangle raw; do
      $cmd -t "$table" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -vE '^-A KUBE-' | sed 's/^-A/-D/' |
        while read -r rule; do eval "$cmd -t $table $rule"; done
      for chain in $($cmd -t "$table" -S 2>/dev/null | awk '/^-N KUBE-/{print $2}'); do $cmd -t "$table" -F "$chain"; done
      for chain in $($cmd -t "$table" -S 2>/dev/null | awk '/^-N KUBE-/{print $2}'); do $cmd -t "$table" -X "$chain"; done
    done
  done
}
trap cleanup EXIT
cleanup
mkdir -p "$WORK"/{containerd,cni,kubelet-root,images,pod-logs}

step() { echo "probe: $*" >&2; }

# --- The node's network: the bridge pods join holds the node's address; the pod and service ranges end
# here (more specific routes to the bridge win), so no packet for them ever leaves the machine. Pods get
# routes to the service range and the client's range only, no default route: they cannot address
# anything off the machine either.
ip route add unreachable 10.244.0.0/16
ip route add unreachable 10.96.0.0/12
ip route add unreachable 10.243.0.0/16
ip link add "$BRIDGE" type bridge
ip addr add "$NODE_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
cat > "$WORK/cni/10-mesh-probe.conflist" <<EOF
{ "cniVersion": "1.0.0", "name": "mesh-probe", "plugins": [
  { "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": { "type": "host-local", "dataDir": "$WORK/cni-ipam",
      "ranges": [[{ "subnet": "10.244.0.0/24", "gateway": "$NODE_IP" }]],
      "routes": [{ "dst": "10.96.0.0/12" }, { "dst": "10.243.0.0/16" }] } },
  { "type": "loopback" } ] }
EOF

# --- Images, built here and never pulled.
step "building the pause image (static Go binary, FROM scratch)"
mkdir -p "$WORK/images/pause"
cat > "$WORK/images/pause/main.go" <<'EOF'
package main

import (
	"os"
	"os/signal"
	"syscall"
)

// The pod sandbox's process: holds the namespaces until the kubelet stops the pod.
func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
}
EOF
printf 'module mesh.local/pause\n\ngo 1.26\n' > "$WORK/images/pause/go.mod"
(cd "$WORK/images/pause" && CGO_ENABLED=0 go build -ldflags "-s -w" -o pause .)
ctr_id=$(buildah from scratch)
buildah copy -q "$ctr_id" "$WORK/images/pause/pause" /pause >/dev/null
buildah config --entrypoint '["/pause"]' "$ctr_id"
buildah commit -q --rm "$ctr_id" mesh.local/pause:3.10 >/dev/null

step "building a stand-in for node:22-bookworm-slim (debootstrap minbase + Node from .tools/node22)"
rootfs="$WORK/images/rootfs"
debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1
install -m 0755 "$ROOT/.tools/node22/node_modules/node/bin/node" "$rootfs/usr/local/bin/node"
npm install -g --prefix "$rootfs/usr/local" --no-audit --no-fund --loglevel=error npm@10.9.4 >/dev/null
chroot "$rootfs" /usr/sbin/groupadd -g 1000 node
chroot "$rootfs" /usr/sbin/useradd -u 1000 -g 1000 -m -s /bin/sh node
# This machine reaches the npm registry through a TLS-inspecting proxy: the build stage's npm needs its CA.
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\n' > "$rootfs/usr/local/etc/npmrc"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
ctr_id=$(buildah from scratch)
cp -a "$rootfs/." "$(buildah mount "$ctr_id")/"
buildah umount "$ctr_id" >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node "$ctr_id"
buildah commit -q --rm "$ctr_id" docker.io/library/node:22-bookworm-slim >/dev/null

step "building mesh's image from the Dockerfile, unchanged (buildah bud --pull=never)"
buildah bud -q --pull=never --network=host --layers=false -t mesh.local/mesh:probe -f Dockerfile . >"$WORK/bud.log" 2>&1

# --- containerd with a root of its own; the CRI plugin's sandbox image is ours.
cat > "$WORK/containerd/config.toml" <<EOF
version = 2
root = "$WORK/containerd/root"
state = "$WORK/containerd/state"
[grpc]
  address = "$WORK/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "mesh.local/pause:3.10"
  # This host's root may not lower its processes' oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$WORK/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
EOF
containerd --config "$WORK/containerd/config.toml" >"$WORK/containerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$WORK/containerd/containerd.sock" ] && break; sleep 0.2; done
for image in mesh.local/pause:3.10 mesh.local/mesh:probe; do
  buildah push -q "$image" "oci-archive:$WORK/images/image.tar:$image" >/dev/null
  ctr -a "$WORK/containerd/containerd.sock" -n k8s.io images import "$WORK/images/image.tar" >/dev/null
done

# --- The control plane (test/control-plane, without kwok) and the kubelet.
step "building kubelet (tools/kubernetes) and starting the control plane"
(cd tools/kubernetes && go build -o "$WORK/kubelet" k8s.io/kubernetes/cmd/kubelet &&
  go build -o "$WORK/kube-proxy" k8s.io/kubernetes/cmd/kube-proxy)
node --import tsx test/real-node/probe-cluster.ts "$WORK" >"$WORK/cluster.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do [ -f "$WORK/cluster.json" ] && break; sleep 0.5; done
cp_dir=$(node -p "require('$WORK/cluster.json').dir")
cat > "$WORK/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This host has cgroup v1 only: kubelet 1.36 refuses it unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$WORK/containerd/containerd.sock
failSwapOn: false
podCIDR: 10.244.0.0/24
clusterDomain: cluster.local
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: $cp_dir/ca.crt } }
authorization: { mode: AlwaysAllow }
tlsCertFile: $cp_dir/apiserver.crt
tlsPrivateKeyFile: $cp_dir/apiserver.key
enforceNodeAllocatable: []
# Container logs in the probe's folder, not /var/log/pods (the /var/log/containers links stay: cleaned up).
podLogsDir: $WORK/pod-logs
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
"$WORK/kubelet" --config "$WORK/kubelet.yaml" --kubeconfig "$cp_dir/admin.kubeconfig" \
  --root-dir "$WORK/kubelet-root" --hostname-override mesh-probe-node --node-ip "$NODE_IP" >"$WORK/kubelet.log" 2>&1 &
pids+=($!)

cat > "$WORK/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: 10.244.0.0/16
hostnameOverride: mesh-probe-node
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clientConnection: { kubeconfig: $cp_dir/admin.kubeconfig }
# Leave the host's conntrack sysctls alone.
conntrack: { maxPerCore: 0 }
EOF
"$WORK/kube-proxy" --config "$WORK/kube-proxy.yaml" >"$WORK/kube-proxy.log" 2>&1 &
pids+=($!)

# A client in a network namespace of its own, routed (not bridged) to the node, as a pod on another
# node would be: the Service's ClusterIP is tried from there (the host itself routes 10.96/12 nowhere).
ip netns add mesh-probe-client
ip link add mesh-probe-c0 type veth peer name mesh-probe-c1
ip link set mesh-probe-c1 netns mesh-probe-client
ip addr add 10.243.0.1/30 dev mesh-probe-c0
ip link set mesh-probe-c0 up
ip netns exec mesh-probe-client ip addr add 10.243.0.2/30 dev mesh-probe-c1
ip netns exec mesh-probe-client ip link set mesh-probe-c1 up
ip netns exec mesh-probe-client ip link set lo up
ip netns exec mesh-probe-client ip route add 10.96.0.0/12 via 10.243.0.1
ip netns exec mesh-probe-client ip route add 10.244.0.0/16 via 10.243.0.1

psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE mesh_probe" >/dev/null
step "node Ready, then the pause pod and mesh's pod"
node --import tsx test/real-node/probe-pods.ts "$WORK"
step "done: the kubelet ran mesh's image; logs under $WORK until cleanup"
