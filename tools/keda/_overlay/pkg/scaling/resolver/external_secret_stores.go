// mesh's trimmed KEDA build: this file replaces KEDA's handlers for secrets held outside Kubernetes
// (HashiCorp Vault, Azure Key Vault, GCP Secret Manager, AWS Secrets Manager). Their SDKs are most of
// KEDA's build; mesh's TriggerAuthentication reads a Kubernetes Secret only. A TriggerAuthentication
// that names one of these stores fails with an error saying why, as KEDA does when a store is unreachable.
package resolver

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/kedacore/keda/v2/pkg/scalers/authentication"
)

// DefaultVaultKubernetesAuthTokenFile keeps the operator's flag default (its Vault login is not built).
const DefaultVaultKubernetesAuthTokenFile = "/var/run/secrets/keda-vault/token"

var errStoreNotBuilt = errors.New("this KEDA build (mesh's test build) has no external secret stores: use secretTargetRef")

type HashicorpVaultHandler struct{}

func NewHashicorpVaultHandler(*kedav1alpha1.HashiCorpVault, *authentication.AuthClientSet, string) *HashicorpVaultHandler {
	return &HashicorpVaultHandler{}
}
func (*HashicorpVaultHandler) Initialize(logr.Logger) error { return errStoreNotBuilt }
func (*HashicorpVaultHandler) Stop()                        {}
func (*HashicorpVaultHandler) ResolveSecrets([]kedav1alpha1.VaultSecret) ([]kedav1alpha1.VaultSecret, error) {
	return nil, errStoreNotBuilt
}

// vaultAddressesEqual keeps KEDA's validation of the outbound allow-list: same scheme and host, http(s).
func vaultAddressesEqual(a, b string) bool {
	ua, erra := url.Parse(strings.TrimSpace(a))
	ub, errb := url.Parse(strings.TrimSpace(b))
	if erra != nil || errb != nil || ua.User != nil || ub.User != nil || ua.Hostname() == "" || ub.Hostname() == "" {
		return false
	}
	httpLike := func(u *url.URL) bool { return u.Scheme == "http" || u.Scheme == "https" }
	return httpLike(ua) && httpLike(ub) && strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host)
}

type AzureKeyVaultHandler struct{}

func NewAzureKeyVaultHandler(*kedav1alpha1.AzureKeyVault) *AzureKeyVaultHandler {
	return &AzureKeyVaultHandler{}
}
func (*AzureKeyVaultHandler) Initialize(context.Context, client.Client, logr.Logger, string, corev1listers.SecretLister) error {
	return errStoreNotBuilt
}
func (*AzureKeyVaultHandler) Read(context.Context, string, string) (string, error) {
	return "", errStoreNotBuilt
}

type GCPSecretManagerHandler struct{}

func NewGCPSecretManagerHandler(*kedav1alpha1.GCPSecretManager) *GCPSecretManagerHandler {
	return &GCPSecretManagerHandler{}
}
func (*GCPSecretManagerHandler) Initialize(context.Context, client.Client, logr.Logger, string, corev1listers.SecretLister) error {
	return errStoreNotBuilt
}
func (*GCPSecretManagerHandler) Read(context.Context, string, string) (string, error) {
	return "", errStoreNotBuilt
}

type AwsSecretManagerHandler struct{}

func NewAwsSecretManagerHandler(*kedav1alpha1.AwsSecretManager) *AwsSecretManagerHandler {
	return &AwsSecretManagerHandler{}
}
func (*AwsSecretManagerHandler) Initialize(context.Context, client.Client, logr.Logger, string, corev1listers.SecretLister, *corev1.PodSpec) error {
	return errStoreNotBuilt
}
func (*AwsSecretManagerHandler) Read(context.Context, logr.Logger, string, string, string, string) (string, error) {
	return "", errStoreNotBuilt
}
func (*AwsSecretManagerHandler) Stop() {}
