package triggers

import (
	"strings"
	"testing"
)

func TestLoadDecodesAndValidatesEveryManifest(t *testing.T) {
	ts, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ts), 17; got != want {
		t.Fatalf("got %d Triggers, want %d", got, want)
	}
	for _, tr := range ts {
		if got, want := tr.Spec.Broker, "agentchat"; got != want {
			t.Errorf("%s: broker %q, want %q", tr.Name, got, want)
		}
		if tr.Spec.Delivery == nil {
			t.Errorf("%s: no delivery policy", tr.Name)
		}
		if tr.Spec.Subscriber.Ref == nil || tr.Spec.Subscriber.Ref.Kind != "Service" {
			t.Errorf("%s: subscriber must be a ref to a Service", tr.Name)
		}
	}
}

// Both filter dialects are in use: a regression that drops one would
// leave a whole class of manifests untested by the local broker.
func TestBothFilterDialectsAreUsed(t *testing.T) {
	ts, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var classic, filters int
	for _, tr := range ts {
		if len(tr.Spec.Filters) > 0 {
			filters++
		} else if tr.Spec.Filter != nil && len(tr.Spec.Filter.Attributes) > 0 {
			classic++
		}
	}
	if classic == 0 || filters == 0 {
		t.Fatalf("got %d classic and %d filters Triggers, want both > 0", classic, filters)
	}
}

func TestDecodeRejectsBrokenManifests(t *testing.T) {
	good, err := Files.ReadFile("persist.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(good); err != nil {
		t.Fatalf("the unmodified manifest must decode: %v", err)
	}
	tests := []struct {
		name, old, new string
	}{
		{"typo filters", "  filters:", "  filtres:"},
		{"typo subscriber", "  subscriber:", "  subscribr:"},
		{"typo in delivery", "backoffDelay:", "backofDelay:"},
		{"unknown metadata field", "  namespace: agentchat", "  namespace: agentchat\n  nmae: x"},
		{"no broker", "  broker: agentchat\n", ""},
		{"no subscriber", "  subscriber:\n    ref:\n      apiVersion: serving.knative.dev/v1\n      kind: Service\n      name: persist\n", ""},
		{"bad backoff policy", "backoffPolicy: exponential", "backoffPolicy: fibonacci"},
		{"bad timeout", "timeout: PT10S", "timeout: 10s"},
		{"sub-tenth backoff", "backoffDelay: PT0.2S", "backoffDelay: PT0.05S"},
		{"negative retry", "retry: 10", "retry: -1"},
		{"wrong kind", "kind: Trigger", "kind: Broker"},
		{"no namespace", "  namespace: agentchat\n", ""},
		{"second document", "apiVersion: eventing.knative.dev/v1", "apiVersion: eventing.knative.dev/v1\n---\napiVersion: eventing.knative.dev/v1"},
		{"bad extension name in exact", "type: io.agentchat.message.sent", "type: io.agentchat.message.sent\n            agentKind: model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(string(good), tt.old, tt.new, 1)
			if data == string(good) {
				t.Fatalf("test does not change the manifest: %q not found", tt.old)
			}
			if _, err := Decode([]byte(data)); err == nil {
				t.Fatalf("Decode accepted a broken manifest:\n%s", data)
			} else {
				t.Logf("rejected: %v", err)
			}
		})
	}
}

func TestDecodeRejectsBadClassicFilter(t *testing.T) {
	good, err := Files.ReadFile("agent-invoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, old, new string }{
		{"typo attributes", "    attributes:", "    atributes:"},
		{"upper-case attribute name", "agentkind: model", "agentKind: model"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(string(good), tt.old, tt.new, 1)
			if data == string(good) {
				t.Fatalf("%q not found", tt.old)
			}
			if _, err := Decode([]byte(data)); err == nil {
				t.Fatal("Decode accepted a broken manifest")
			}
		})
	}
}
