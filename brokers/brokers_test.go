package brokers

import (
	"strings"
	"testing"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
)

func TestLoadBrokers(t *testing.T) {
	bs, err := LoadBrokers()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(Variants(), ","), "dev,production"; got != want {
		t.Fatalf("variants %s, want %s", got, want)
	}
	classes := map[string]string{}
	for i, b := range bs {
		if b.Name != "agentchat" || b.Namespace != "agentchat" {
			t.Errorf("%s: got %s/%s, want agentchat/agentchat", Variants()[i], b.Namespace, b.Name)
		}
		d := b.Spec.Delivery
		if d == nil || d.Retry == nil || d.BackoffPolicy == nil || d.BackoffDelay == nil || d.Timeout == nil {
			t.Errorf("%s: incomplete delivery policy %+v", b.Name, d)
			continue
		}
		if d.DeadLetterSink == nil || d.DeadLetterSink.Ref == nil || d.DeadLetterSink.Ref.Name != "deadletter" {
			t.Errorf("%s: want dead-letter sink Service deadletter", Variants()[i])
		}
		classes[Variants()[i]] = b.Annotations[eventingv1.BrokerClassAnnotationKey]
	}
	if got, want := classes[Dev], "MTChannelBasedBroker"; got != want {
		t.Errorf("dev class %q, want %q", got, want)
	}
	if got, want := classes[Production], "Kafka"; got != want {
		t.Errorf("production class %q, want %q", got, want)
	}
}

// A Broker's spec.config must be shipped here or be one Knative installs.
func TestBrokerConfigRefsResolve(t *testing.T) {
	bs, err := LoadBrokers()
	if err != nil {
		t.Fatal(err)
	}
	cms, err := LoadConfigMaps()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, cm := range cms {
		have[cm.Namespace+"/"+cm.Name] = true
	}
	for _, b := range bs {
		c := b.Spec.Config
		if c == nil {
			t.Errorf("%s: no spec.config", b.Annotations[eventingv1.BrokerClassAnnotationKey])
			continue
		}
		if c.Namespace == "knative-eventing" {
			continue
		}
		if !have[c.Namespace+"/"+c.Name] {
			t.Errorf("spec.config %s/%s is not among the manifests", c.Namespace, c.Name)
		}
	}
}

func TestLoadBrokerUnknownVariant(t *testing.T) {
	if _, err := LoadBroker("staging"); err == nil {
		t.Fatal("want an error for an unknown variant")
	}
}

func TestDecodeBrokerRejectsBrokenManifests(t *testing.T) {
	good, err := Files.ReadFile("broker-production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeBroker(good); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, old, new string }{
		{"typo delivery", "  delivery:", "  delivry:"},
		{"typo deadLetterSink", "deadLetterSink:", "deadLeterSink:"},
		{"no class annotation", "  annotations:\n    eventing.knative.dev/broker.class: Kafka\n", ""},
		{"empty class", "broker.class: Kafka", "broker.class: \"\""},
		{"bad delay", "backoffDelay: PT0.2S", "backoffDelay: 200ms"},
		{"sub-tenth timeout", "timeout: PT30S", "timeout: PT0.01S"},
		{"config without kind", "    kind: ConfigMap\n", ""},
		{"second document", "kind: Broker", "kind: Broker\n---\nkind: Broker"},
		{"not a Broker", "kind: Broker", "kind: Trigger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(string(good), tt.old, tt.new, 1)
			if data == string(good) {
				t.Fatalf("%q not found", tt.old)
			}
			if _, err := DecodeBroker([]byte(data)); err == nil {
				t.Fatalf("DecodeBroker accepted a broken manifest:\n%s", data)
			} else {
				t.Logf("rejected: %v", err)
			}
		})
	}
}

func TestDecodeConfigMapRejectsTypos(t *testing.T) {
	good, err := Files.ReadFile("kafka-broker-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeConfigMap(good); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(good), "data:", "dat:", 1)
	if _, err := DecodeConfigMap([]byte(bad)); err == nil {
		t.Fatal("DecodeConfigMap accepted an unknown field")
	}
}
