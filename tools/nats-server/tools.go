//go:build tools

// Package tools pins nats-server, the server mesh's NATS component runs (infra/components/nats.ts): the
// suite checks the rendered config with `nats-server -t` and runs a three-server cluster from it.
package tools

import _ "github.com/nats-io/nats-server/v2"
