//go:build tools

// Package tools pins Prometheus: promtool checks and unit-tests the alerts mesh renders
// (infra/monitoring/alerts.ts), and the server scrapes a live drill's pods (test/monitoring/). Both are
// built with only the Kubernetes service discovery (-tags remove_all_sd,enable_kubernetes_sd): the
// cloud SDKs the other discoverers need would double the cold build.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
