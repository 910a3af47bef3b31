//go:build tools

// Package tools pins KEDA (v2.21.0: v2.21.1 needs Go 1.27.4). scripts/ensure-tools.sh copies this exact
// module (checked against go.sum) out of the module cache, trims it with trim.sh to the one scaler mesh
// renders (postgresql) and builds its operator and metrics API server there, as their own main module
// with KEDA's own go.sum. Importing its API package here keeps the pin when go mod tidy runs.
package tools

import _ "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
