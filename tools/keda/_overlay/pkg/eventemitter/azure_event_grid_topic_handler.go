// mesh's trimmed KEDA build: no Azure Event Grid sink for CloudEventSources (mesh renders none).
package eventemitter

import (
	"context"
	"errors"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventingv1alpha1 "github.com/kedacore/keda/v2/apis/eventing/v1alpha1"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/kedacore/keda/v2/pkg/eventemitter/eventdata"
)

type AzureEventGridTopicHandler struct{}

func NewAzureEventGridTopicHandler(context.Context, string, *eventingv1alpha1.AzureEventGridTopicSpec, map[string]string, kedav1alpha1.AuthPodIdentity, logr.Logger) (*AzureEventGridTopicHandler, error) {
	return nil, errors.New("this KEDA build (mesh's test build) has no Azure Event Grid sink")
}
func (*AzureEventGridTopicHandler) CloseHandler()                          {}
func (*AzureEventGridTopicHandler) SetActiveStatus(metav1.ConditionStatus) {}
func (*AzureEventGridTopicHandler) GetActiveStatus() metav1.ConditionStatus {
	return metav1.ConditionFalse
}
func (*AzureEventGridTopicHandler) EmitEvent(eventdata.EventData, func(eventdata.EventData, error)) {}
