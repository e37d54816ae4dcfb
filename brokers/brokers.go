// Package brokers holds agentchat's Knative Broker manifests — one per
// variant, broker-<variant>.yaml, all named "agentchat" in namespace
// "agentchat" — and the ConfigMaps they reference, and loads them for Go
// code: the local broker takes its default delivery policy from the dev
// variant, and tests validate every manifest with Knative's API types.
package brokers

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"

	"github.com/agentchat/agentchat/triggers"
)

// Files holds the manifests, for tools that apply or copy them.
//
//go:embed *.yaml
var Files embed.FS

// Variants of the Broker.
const (
	// Dev is Knative's MTChannelBasedBroker: best-effort, for laptop
	// clusters; the local broker applies its delivery policy.
	Dev = "dev"
	// Production is Knative's Kafka broker: durable.
	Production = "production"
)

const brokerFilePrefix = "broker-"

// Variants lists the embedded Broker variants, sorted.
func Variants() []string {
	names, _ := fs.Glob(Files, brokerFilePrefix+"*.yaml")
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(n, brokerFilePrefix), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// LoadBroker decodes and validates the Broker of one variant (Dev, Production).
func LoadBroker(variant string) (eventingv1.Broker, error) {
	name := brokerFilePrefix + variant + ".yaml"
	data, err := Files.ReadFile(name)
	if err != nil {
		return eventingv1.Broker{}, fmt.Errorf("brokers: no variant %q (have %v)", variant, Variants())
	}
	b, err := DecodeBroker(data)
	if err != nil {
		return b, fmt.Errorf("brokers: %s: %w", name, err)
	}
	return b, nil
}

// LoadBrokers decodes and validates every embedded Broker, in Variants order.
func LoadBrokers() ([]eventingv1.Broker, error) {
	var out []eventingv1.Broker
	for _, v := range Variants() {
		b, err := LoadBroker(v)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// LoadConfigMaps decodes every embedded manifest that is not a Broker;
// each must be a ConfigMap (a Broker's spec.config).
func LoadConfigMaps() ([]corev1.ConfigMap, error) {
	names, err := fs.Glob(Files, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("brokers: list: %w", err)
	}
	sort.Strings(names)
	var out []corev1.ConfigMap
	for _, name := range names {
		if strings.HasPrefix(name, brokerFilePrefix) {
			continue
		}
		data, err := Files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("brokers: read %s: %w", name, err)
		}
		cm, err := DecodeConfigMap(data)
		if err != nil {
			return nil, fmt.Errorf("brokers: %s: %w", name, err)
		}
		out = append(out, cm)
	}
	return out, nil
}

// DecodeBroker reads one Broker manifest strictly (unknown fields fail) and
// validates it as the Knative API server would, including the
// eventing.knative.dev/broker.class annotation (defaults are not applied:
// they would fill in a missing class and hide the mistake).
func DecodeBroker(data []byte) (eventingv1.Broker, error) {
	var b eventingv1.Broker
	if err := triggers.DecodeManifest(data, &b); err != nil {
		return b, err
	}
	if b.APIVersion != eventingv1.SchemeGroupVersion.String() || b.Kind != "Broker" {
		return b, fmt.Errorf("want apiVersion %s, kind Broker; got %q, %q",
			eventingv1.SchemeGroupVersion, b.APIVersion, b.Kind)
	}
	if b.Name == "" || b.Namespace == "" {
		return b, fmt.Errorf("metadata.name and metadata.namespace are required")
	}
	ctx := context.Background()
	ctx = feature.ToContext(ctx, feature.FromContextOrDefaults(ctx))
	if ferr := b.DeepCopy().Validate(ctx); ferr != nil {
		return b, fmt.Errorf("Broker %s/%s is invalid: %w", b.Namespace, b.Name, ferr)
	}
	if err := triggers.CheckDurations(b.Spec.Delivery); err != nil {
		return b, fmt.Errorf("Broker %s/%s: %w", b.Namespace, b.Name, err)
	}
	return b, nil
}

// DecodeConfigMap reads one ConfigMap manifest strictly.
func DecodeConfigMap(data []byte) (corev1.ConfigMap, error) {
	var cm corev1.ConfigMap
	if err := triggers.DecodeManifest(data, &cm); err != nil {
		return cm, err
	}
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" {
		return cm, fmt.Errorf("want apiVersion v1, kind ConfigMap; got %q, %q", cm.APIVersion, cm.Kind)
	}
	if cm.Name == "" || cm.Namespace == "" {
		return cm, fmt.Errorf("metadata.name and metadata.namespace are required")
	}
	return cm, nil
}
