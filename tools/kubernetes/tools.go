//go:build tools

// Package tools pins the Kubernetes binaries the tests build from the Go module proxy: the control plane
// of the real-engine suite, and the kubelet, kube-proxy and kubectl of the real nodes (test/real-node).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
