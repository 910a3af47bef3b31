// Command coredns is the cluster DNS of the real nodes (test/real-node): CoreDNS with only the plugins
// its Corefile there uses, so the build does not compile every cloud provider's DNS client. The plugin
// order is CoreDNS's own (core/dnsserver/zdirectives.go), filtered to these.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

var used = map[string]bool{"errors": true, "log": true, "health": true, "ready": true, "kubernetes": true, "cache": true}

func init() {
	directives := []string{}
	for _, name := range dnsserver.Directives {
		if used[name] {
			directives = append(directives, name)
		}
	}
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
