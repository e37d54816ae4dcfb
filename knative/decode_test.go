// Package knative_test checks what a platform team applies: every YAML
// under knative/ decodes strictly into its Kubernetes or Knative Go type
// (a misspelt field fails here instead of being dropped by kubectl), the
// kustomize overlays render and their output decodes the same way, the
// Secrets and ConfigMap keys the functions and the connector read exist,
// and the connector Deployment only sets variables connector.Config reads.
package knative_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/agentchat/agentchat/brokers"
	"github.com/agentchat/agentchat/triggers"
)

// object is one decoded YAML document.
type object struct {
	Source    string // file (and document index) or overlay it came from
	Kind      string // apiVersion + "/" + kind, e.g. "apps/v1/Deployment"
	Name      string
	Namespace string
	Value     any // a pointer to the typed object
}

func (o object) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", o.Kind, o.Namespace, o.Name, o.Source)
}

// decoders maps every kind knative/ may contain to a strict decoder. A kind
// not listed is an error: adding one means adding its Go type here.
var decoders = map[string]func(data []byte, complete bool) (any, error){
	"v1/Namespace":                           strict[corev1.Namespace],
	"v1/ConfigMap":                           strict[corev1.ConfigMap],
	"v1/Secret":                              strict[corev1.Secret],
	"v1/Service":                             strict[corev1.Service],
	"v1/ServiceAccount":                      strict[corev1.ServiceAccount],
	"apps/v1/Deployment":                     strict[appsv1.Deployment],
	"policy/v1/PodDisruptionBudget":          strict[policyv1.PodDisruptionBudget],
	"autoscaling/v2/HorizontalPodAutoscaler": strict[autoscalingv2.HorizontalPodAutoscaler],
	"networking.k8s.io/v1/Ingress":           strict[networkingv1.Ingress],
	"sources.knative.dev/v1/SinkBinding":     decodeSinkBinding,
	"eventing.knative.dev/v1/Broker":         decodeBroker,
	"eventing.knative.dev/v1/Trigger":        decodeTrigger,
}

// strict decodes one document into a T twice: with
// sigs.k8s.io/yaml.UnmarshalStrict (unknown and duplicate fields fail),
// and the way the API server reads it, with sigs.k8s.io/json's strict and
// case-sensitive decoder. encoding/json, under sigs.k8s.io/yaml, matches
// field names case-insensitively, so `targetport:` would pass the first
// and be dropped by the API server; the second catches it.
func strict[T any](data []byte, _ bool) (any, error) {
	v := new(T)
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, err
	}
	exact := new(T)
	strictErrs, err := kjson.UnmarshalStrict(js, exact, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, err
	}
	if len(strictErrs) > 0 {
		return nil, errors.Join(strictErrs...)
	}
	return v, nil
}

// decodeSinkBinding decodes strictly and, for a complete manifest (not a
// kustomize patch), validates as Knative's webhook does: defaults on a
// copy, then Validate.
func decodeSinkBinding(data []byte, complete bool) (any, error) {
	v, err := strict[sourcesv1.SinkBinding](data, complete)
	if err != nil || !complete {
		return v, err
	}
	sb := v.(*sourcesv1.SinkBinding).DeepCopy()
	ctx := context.Background()
	sb.SetDefaults(ctx)
	if ferr := sb.Validate(ctx); ferr != nil {
		return nil, fmt.Errorf("SinkBinding %s is invalid: %w", sb.Name, ferr)
	}
	return v, nil
}

// decodeBroker and decodeTrigger add, to the strict decode, the checks of
// the packages that own those manifests (Knative validation, duration
// checks), so knative/ judges them as brokers/ and triggers/ do.
func decodeBroker(data []byte, complete bool) (any, error) {
	v, err := strict[eventingv1.Broker](data, complete)
	if err != nil || !complete {
		return v, err
	}
	b, err := brokers.DecodeBroker(data)
	return &b, err
}

func decodeTrigger(data []byte, complete bool) (any, error) {
	v, err := strict[eventingv1.Trigger](data, complete)
	if err != nil || !complete {
		return v, err
	}
	t, err := triggers.Decode(data)
	return &t, err
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeAll decodes every document of a (multi-document) YAML stream.
// complete is false for kustomize patches, which are partial objects:
// they are decoded strictly but not validated.
func decodeAll(source string, data []byte, complete bool) ([]object, error) {
	var out []object
	for i, doc := range docSeparator.Split(string(data), -1) {
		if !hasContent(doc) {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i, err)
		}
		kind := head.APIVersion + "/" + head.Kind
		dec, ok := decoders[kind]
		if !ok {
			return nil, fmt.Errorf("%s: document %d: kind %q has no decoder in knative/decode_test.go", source, i, kind)
		}
		v, err := dec([]byte(doc), complete)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d (%s %s): %w", source, i, kind, head.Metadata.Name, err)
		}
		out = append(out, object{
			Source: fmt.Sprintf("%s#%d", source, i), Kind: kind,
			Name: head.Metadata.Name, Namespace: head.Metadata.Namespace, Value: v,
		})
	}
	return out, nil
}

func hasContent(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return true
		}
	}
	return false
}

// find returns the objects of one kind, by name.
func find[T any](t *testing.T, objs []object) map[string]*T {
	t.Helper()
	out := map[string]*T{}
	for _, o := range objs {
		if v, ok := o.Value.(*T); ok {
			if _, dup := out[o.Name]; dup {
				t.Errorf("%s is defined twice", o)
			}
			out[o.Name] = v
		}
	}
	return out
}
