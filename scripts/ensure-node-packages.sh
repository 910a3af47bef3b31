#!/usr/bin/env bash
# Sourced by ./dev test and .ci/run: what the real nodes (test/real-node) take from Debian: containerd and
# runc (the container runtime), the CNI plugins, buildah and debootstrap (the images, built here), socat
# (the forwarders to the machine's Postgres, NATS and apiserver), ipset (the network-policy controller's peer
# sets). Installed only when missing (≈ 1 min).
set -euo pipefail
mesh_node_packages_missing=()
for mesh_command in containerd runc buildah debootstrap socat ipset; do
  command -v "$mesh_command" >/dev/null || mesh_node_packages_missing+=("$mesh_command")
done
[ -x /usr/lib/cni/bridge ] || mesh_node_packages_missing+=(containernetworking-plugins)
if [ ${#mesh_node_packages_missing[@]} -gt 0 ]; then
  echo "mesh: installing ${mesh_node_packages_missing[*]} from Debian (the real nodes' runtime)" >&2
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      containerd runc containernetworking-plugins buildah debootstrap socat ipset >/dev/null
  else
    echo "mesh: not root: the real-node tests will fail naming what is missing" >&2
  fi
fi
unset mesh_node_packages_missing mesh_command
