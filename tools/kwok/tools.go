//go:build tools

// Package tools pins kwok, which fakes the control plane's node for pods the process node does not run.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
