//go:build tools

// Package tools pins metrics-server (v0.8.0; v0.9.0 is served but not an approved release), built by
// scripts/ensure-tools.sh for the real nodes' CPU autoscaling (test/real-node/metrics-server.ts). Its
// manifests (RBAC, the APIService v1beta1.metrics.k8s.io, the Deployment) come from the same module.
package tools

import _ "sigs.k8s.io/metrics-server/cmd/metrics-server"
