package knative_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"sigs.k8s.io/yaml"

	"github.com/agentchat/agentchat/brokers"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/triggers"
)

// render runs `kubectl kustomize dir` (what `kubectl apply -k dir` applies)
// and decodes its output strictly. Without kubectl the test ends through
// testenv.Missing (a failure under CI=true).
func render(t *testing.T, dir string) []object {
	t.Helper()
	kubectl := testenv.Tool(t, "kubectl")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectl, "kustomize", dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	objs, err := decodeAll("kustomize "+dir, out, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Namespace != "agentchat" && o.Kind != "v1/Namespace" {
			t.Errorf("%s: namespace %q, want agentchat", o, o.Namespace)
		}
	}
	return objs
}

// TestOverlays renders each overlay and checks what distinguishes it, and
// what they share: every Trigger of triggers/, the SinkBindings, the
// connector's Service and PodDisruptionBudget selecting its pods.
func TestOverlays(t *testing.T) {
	wantTriggers, err := triggers.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		overlay       string
		broker        string // brokers/ variant the rendered Broker must equal
		replicas      *int32 // nil: left to the HPA
		hpa           bool
		secrets       []string // the Secrets the overlay applies
		kafkaConfig   bool
		backingByName []string // dev-only Deployments
	}{
		{overlay: "dev", broker: brokers.Dev, replicas: ptr(int32(1)),
			secrets:       []string{"agentchat-mongodb", "agentchat-redis", "agentchat-s3"},
			backingByName: []string{"minio", "mongodb", "redis"}},
		{overlay: "production", broker: brokers.Production, hpa: true, kafkaConfig: true},
	} {
		t.Run(tc.overlay, func(t *testing.T) {
			objs := render(t, "overlays/"+tc.overlay)

			// The Broker is exactly brokers/broker-<variant>.yaml.
			bs := find[eventingv1.Broker](t, objs)
			want, err := brokers.LoadBroker(tc.broker)
			if err != nil {
				t.Fatal(err)
			}
			got := bs["agentchat"]
			if len(bs) != 1 || got == nil {
				t.Fatalf("Brokers %v, want only agentchat", keys(bs))
			}
			if !reflect.DeepEqual(got.Spec, want.Spec) || !reflect.DeepEqual(got.Annotations, want.Annotations) {
				t.Errorf("rendered Broker differs from brokers/broker-%s.yaml:\n got %+v %+v\nwant %+v %+v",
					tc.broker, got.Annotations, got.Spec, want.Annotations, want.Spec)
			}

			// Every Trigger, unchanged.
			ts := find[eventingv1.Trigger](t, objs)
			if len(ts) != len(wantTriggers) {
				t.Errorf("%d Triggers, want %d (triggers/)", len(ts), len(wantTriggers))
			}
			for _, w := range wantTriggers {
				if g := ts[w.Name]; g == nil || !reflect.DeepEqual(g.Spec, w.Spec) {
					t.Errorf("Trigger %s missing or changed by the overlay", w.Name)
				}
			}

			// ConfigMaps: agentchat-config always; the Kafka broker's only
			// with the Kafka broker, and then equal to brokers/'s.
			cms := find[corev1.ConfigMap](t, objs)
			if cms["agentchat-config"] == nil {
				t.Error("no ConfigMap agentchat-config")
			}
			kafka := cms["agentchat-kafka-broker-config"]
			if (kafka != nil) != tc.kafkaConfig {
				t.Errorf("ConfigMap agentchat-kafka-broker-config present: %v, want %v", kafka != nil, tc.kafkaConfig)
			}
			if kafka != nil {
				src, err := brokers.LoadConfigMaps()
				if err != nil {
					t.Fatal(err)
				}
				for _, cm := range src {
					if cm.Name == kafka.Name && !reflect.DeepEqual(cm.Data, kafka.Data) {
						t.Errorf("rendered %s differs from brokers/", cm.Name)
					}
				}
			}

			// Secrets: only where their values are throwaway (dev's
			// backing services), and then with no placeholder left; never
			// keys, which an apply would reset.
			secrets := find[corev1.Secret](t, objs)
			if got, want := strings.Join(keys(secrets), ","), strings.Join(tc.secrets, ","); got != want {
				t.Errorf("Secrets [%s], want [%s]: an apply must never overwrite real Secrets", got, want)
			}
			for name, s := range secrets {
				for k, v := range s.StringData {
					if strings.Contains(v, "REPLACE-ME") {
						t.Errorf("Secret %s key %s still holds the template's placeholder", name, k)
					}
				}
			}

			// The connector.
			deps := find[appsv1.Deployment](t, objs)
			d := deps["connector"]
			if d == nil {
				t.Fatal("no connector Deployment")
			}
			if !reflect.DeepEqual(d.Spec.Replicas, tc.replicas) {
				t.Errorf("connector replicas %v, want %v", deref(d.Spec.Replicas), deref(tc.replicas))
			}
			if img := d.Spec.Template.Spec.Containers[0].Image; !strings.Contains(img, "/") {
				t.Errorf("connector image %q: the overlay's images: entry did not apply", img)
			}
			checkConnector(t, d)
			checkSelects(t, objs, d)
			checkSinkBindings(t, find[sourcesv1.SinkBinding](t, objs))

			hpas := find[autoscalingv2.HorizontalPodAutoscaler](t, objs)
			if (hpas["connector"] != nil) != tc.hpa {
				t.Errorf("connector HPA present: %v, want %v", hpas["connector"] != nil, tc.hpa)
			}
			if h := hpas["connector"]; h != nil {
				if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != "connector" {
					t.Errorf("HPA targets %+v, want the connector Deployment", h.Spec.ScaleTargetRef)
				}
				if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 {
					t.Errorf("HPA minReplicas %v: a drain needs another replica to reconnect to", deref(h.Spec.MinReplicas))
				}
			}
			for _, name := range tc.backingByName {
				if deps[name] == nil {
					t.Errorf("no %s Deployment", name)
				}
			}
			if len(deps) != 1+len(tc.backingByName) {
				t.Errorf("Deployments %v, want connector and %v", keys(deps), tc.backingByName)
			}
			checkReferences(t, objs)
		})
	}
}

// checkSelects: the connector's Service, PodDisruptionBudget and selector
// all match its pod labels.
func checkSelects(t *testing.T, objs []object, d *appsv1.Deployment) {
	t.Helper()
	labels := d.Spec.Template.Labels
	matches := func(sel map[string]string) bool {
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	if !matches(d.Spec.Selector.MatchLabels) {
		t.Errorf("connector selector %v does not match its pod labels %v", d.Spec.Selector.MatchLabels, labels)
	}
	svc := find[corev1.Service](t, objs)["connector"]
	if svc == nil || !matches(svc.Spec.Selector) {
		t.Error("no connector Service selecting the connector pods")
	} else if svc.Spec.Ports[0].TargetPort.StrVal != d.Spec.Template.Spec.Containers[0].Ports[0].Name {
		t.Errorf("connector Service targets port %v, not the container's %q", svc.Spec.Ports[0].TargetPort, d.Spec.Template.Spec.Containers[0].Ports[0].Name)
	}
	pdb := find[policyv1.PodDisruptionBudget](t, objs)["connector"]
	if pdb == nil || !matches(pdb.Spec.Selector.MatchLabels) {
		t.Error("no connector PodDisruptionBudget selecting the connector pods")
	}
	if sa := d.Spec.Template.Spec.ServiceAccountName; find[corev1.ServiceAccount](t, objs)[sa] == nil {
		t.Errorf("connector runs as ServiceAccount %q, which is not defined", sa)
	}
}

// checkSinkBindings: the connector Deployment, and the Knative Service of
// every function that posts events to K_SINK, get the agentchat Broker's
// address from a SinkBinding named after them.
func checkSinkBindings(t *testing.T, sbs map[string]*sourcesv1.SinkBinding) {
	t.Helper()
	want := map[string]string{"connector": "apps/v1/Deployment"}
	for _, name := range sinkUsers(t) {
		want[name] = "serving.knative.dev/v1/Service"
	}
	for name, subject := range want {
		sb := sbs[name]
		if sb == nil {
			t.Errorf("no SinkBinding %s: %s %s would not get K_SINK from the Broker", name, subject, name)
			continue
		}
		s := sb.Spec.Subject
		if got := s.APIVersion + "/" + s.Kind; got != subject || s.Name != name {
			t.Errorf("SinkBinding %s binds %s %s, want %s %s", name, got, s.Name, subject, name)
		}
		if r := sb.Spec.Sink.Ref; r == nil || r.Kind != "Broker" || r.Name != "agentchat" {
			t.Errorf("SinkBinding %s sinks to %+v, want Broker agentchat", name, sb.Spec.Sink)
		}
	}
	if len(sbs) != len(want) {
		t.Errorf("SinkBindings %v, want %v", keys(sbs), want)
	}
}

// sinkUsers returns the func names of the functions whose code (not tests)
// reads K_SINK.
func sinkUsers(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("../functions/*/func.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, fy := range dirs {
		dir := filepath.Dir(fy)
		srcs, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		uses := false
		for _, src := range srcs {
			if strings.HasSuffix(src, "_test.go") {
				continue
			}
			raw, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			uses = uses || strings.Contains(string(raw), `"K_SINK"`)
		}
		if !uses {
			continue
		}
		raw, err := os.ReadFile(fy)
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Name string `json:"name"`
		}
		if err := yaml.Unmarshal(raw, &f); err != nil || f.Name == "" {
			t.Fatalf("%s: no name (%v)", fy, err)
		}
		out = append(out, f.Name)
	}
	if len(out) == 0 {
		t.Fatal("no function reads K_SINK: the search is broken (route does)")
	}
	return out
}

func keys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}
