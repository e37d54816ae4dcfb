// Package triggers holds agentchat's Knative Trigger manifests — the routing
// table of the whole platform, one file per binding — and loads them for Go
// code: the local broker routes with these very files, and tests check them
// against Knative's own validation and against the function folders.
//
// A Trigger is decoded strictly (an unknown or misspelt field is an error,
// where kubectl would drop it silently or the API server would refuse it
// only at deploy time) and validated with Knative eventing's API types.
package triggers

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"
	"sigs.k8s.io/yaml"
)

// Files holds the Trigger manifests, for tools that apply or copy them.
//
//go:embed *.yaml
var Files embed.FS

// Load decodes and validates every embedded Trigger, in file name order.
func Load() ([]eventingv1.Trigger, error) {
	names, err := fs.Glob(Files, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("triggers: list: %w", err)
	}
	sort.Strings(names)
	out := make([]eventingv1.Trigger, 0, len(names))
	seen := map[string]string{}
	for _, name := range names {
		data, err := Files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("triggers: read %s: %w", name, err)
		}
		t, err := Decode(data)
		if err != nil {
			return nil, fmt.Errorf("triggers: %s: %w", name, err)
		}
		key := t.Namespace + "/" + t.Name
		if prev, ok := seen[key]; ok {
			return nil, fmt.Errorf("triggers: %s: Trigger %s already defined in %s", name, key, prev)
		}
		seen[key] = name
		out = append(out, t)
	}
	return out, nil
}

// Decode reads one Trigger manifest strictly and validates it as the
// Knative API server would. It returns the Trigger as written (defaults are
// applied only to the copy that is validated).
func Decode(data []byte) (eventingv1.Trigger, error) {
	var t eventingv1.Trigger
	if err := DecodeManifest(data, &t); err != nil {
		return t, err
	}
	if t.APIVersion != eventingv1.SchemeGroupVersion.String() || t.Kind != "Trigger" {
		return t, fmt.Errorf("want apiVersion %s, kind Trigger; got %q, %q",
			eventingv1.SchemeGroupVersion, t.APIVersion, t.Kind)
	}
	if t.Name == "" || t.Namespace == "" {
		return t, fmt.Errorf("metadata.name and metadata.namespace are required")
	}
	ctx := ValidationContext(context.Background())
	v := t.DeepCopy()
	v.SetDefaults(ctx)
	if ferr := v.Validate(ctx); ferr != nil {
		return t, fmt.Errorf("Trigger %s/%s is invalid: %w", t.Namespace, t.Name, ferr)
	}
	if err := CheckDurations(t.Spec.Delivery); err != nil {
		return t, fmt.Errorf("Trigger %s/%s: %w", t.Namespace, t.Name, err)
	}
	return t, nil
}

// ValidationContext carries Knative's default feature flags. Without them
// Validate refuses fields that are on by default in a cluster (for
// example delivery.timeout).
func ValidationContext(ctx context.Context) context.Context {
	return feature.ToContext(ctx, feature.FromContextOrDefaults(ctx))
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// DecodeManifest unmarshals exactly one YAML document, failing on unknown
// fields (brokers decodes its manifests with it too). sigs.k8s.io/yaml
// would silently read only the first of several documents, so a second
// one is an error here.
func DecodeManifest(data []byte, v any) error {
	docs := 0
	for _, d := range docSeparator.Split(string(data), -1) {
		if hasContent(d) {
			docs++
		}
	}
	if docs != 1 {
		return fmt.Errorf("want exactly one YAML document, got %d", docs)
	}
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

func hasContent(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return true
		}
	}
	return false
}
