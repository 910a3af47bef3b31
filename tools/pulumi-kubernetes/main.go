// Command pulumi-resource-kubernetes is the Pulumi Kubernetes provider plugin, built from the Go module
// proxy. The module's own cmd/ embeds schema files that only its Makefile generates, so this main serves
// the same provider with the schema and Terraform mapping that scripts/ensure-tools.sh copies beside it
// from the module cache before building.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var pulumiSchema []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
