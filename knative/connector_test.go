package knative_test

import (
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/agentchat/agentchat/connector"
)

// runtimeEnv are variables the Go runtime reads, allowed beside
// connector.Config's own.
var runtimeEnv = map[string]bool{"GOMEMLIMIT": true}

// configEnv returns connector.Config's variables and their defaults, from
// its envconfig tags: what cmd/connector reads (envconfig, no prefix).
func configEnv(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	typ := reflect.TypeOf(connector.Config{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Tag.Get("ignored") == "true" {
			continue
		}
		name := f.Tag.Get("envconfig")
		if name == "" {
			t.Fatalf("connector.Config.%s has no envconfig tag: this test cannot tell its variable", f.Name)
		}
		out[name] = f.Tag.Get("default")
	}
	return out
}

// TestConnectorDeployment checks the base manifest (the overlays are
// checked with the same function in TestOverlays).
func TestConnectorDeployment(t *testing.T) {
	d := baseConnector(t)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("base replicas %v, want 2", deref(d.Spec.Replicas))
	}
	checkConnector(t, d)
}

// checkConnector reports connectorProblems as test errors.
func checkConnector(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	for _, p := range connectorProblems(d, configEnv(t)) {
		t.Error(p)
	}
}

// connectorProblems holds the rules every rendering of the connector
// Deployment must keep; known is configEnv's result.
func connectorProblems(d *appsv1.Deployment, known map[string]string) []string {
	var problems []string
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		return []string{fmt.Sprintf("%d containers, want 1", len(spec.Containers))}
	}
	c := spec.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, ok := known[e.Name]; !ok && !runtimeEnv[e.Name] {
			errorf("env %s is not a field of connector.Config: the connector would ignore it", e.Name)
		}
		if _, dup := env[e.Name]; dup {
			errorf("env %s is set twice", e.Name)
		}
		env[e.Name] = e
	}
	for _, name := range []string{"REDIS_URL", "JWKS_URL"} {
		if _, ok := env[name]; !ok {
			errorf("env %s is not set; the connector needs it", name)
		}
	}
	for _, name := range []string{"K_SINK", "K_CE_OVERRIDES"} {
		if _, ok := env[name]; ok {
			errorf("env %s is set: the SinkBinding injects it with the Broker's current address", name)
		}
	}
	if e, ok := env["CONNECTOR_ID"]; ok && e.Value != "" {
		errorf("CONNECTOR_ID=%q: every replica would share one delivery channel", e.Value)
	}
	value := func(name string) string {
		if e, ok := env[name]; ok {
			return e.Value
		}
		return known[name]
	}

	// The port it listens on is the port probed and served.
	_, port, err := net.SplitHostPort(value("LISTEN_ADDRESS"))
	if err != nil {
		return append(problems, fmt.Sprintf("LISTEN_ADDRESS %q: %v", value("LISTEN_ADDRESS"), err))
	}
	if len(c.Ports) != 1 || strconv.Itoa(int(c.Ports[0].ContainerPort)) != port || c.Ports[0].Name != "http" {
		errorf("container ports %+v, want one named http on LISTEN_ADDRESS's port %s", c.Ports, port)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			errorf("no HTTP %s probe", p.name)
			continue
		}
		if g := p.probe.HTTPGet; g.Path != p.path || g.Port.String() != "http" {
			errorf("%s probe %s on port %s, want %s on http", p.name, g.Path, g.Port.String(), p.path)
		}
	}

	// Drain: SIGTERM, no preStop, and enough grace to finish.
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		errorf("preStop hook set: the connector drains on SIGTERM by itself")
	}
	drain, err := time.ParseDuration(value("DRAIN_TIMEOUT"))
	if err != nil {
		return append(problems, fmt.Sprintf("DRAIN_TIMEOUT: %v", err))
	}
	grace := spec.TerminationGracePeriodSeconds
	if grace == nil || time.Duration(*grace)*time.Second < drain+10*time.Second {
		errorf("terminationGracePeriodSeconds %v, want at least DRAIN_TIMEOUT (%s) + 10s: Kubernetes would kill the drain", deref(grace), drain)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		errorf("rolling update without maxUnavailable: 0: clients would be told to reconnect before a new replica is ready")
	}

	// Resources, and GOMEMLIMIT below the memory limit.
	mem, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok || c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		return append(problems, fmt.Sprintf("resources %+v: want cpu and memory requests and a memory limit", c.Resources))
	}
	if e, ok := env["GOMEMLIMIT"]; ok {
		lim, err := parseGoMemLimit(e.Value)
		if err != nil {
			errorf("GOMEMLIMIT: %v", err)
		} else if max := mem.Value() * 9 / 10; lim > max {
			errorf("GOMEMLIMIT %s (%d bytes) is above 90%% of the memory limit %s", e.Value, lim, mem.String())
		}
	}

	// Replicas spread over nodes.
	if a := spec.Affinity; a == nil || a.PodAntiAffinity == nil ||
		len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution)+len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 {
		errorf("no podAntiAffinity: replicas may share a node")
	}
	if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		errorf("pod may run as root")
	}
	return problems
}

// parseGoMemLimit reads GOMEMLIMIT's syntax: an integer with an optional
// B, KiB, MiB, GiB or TiB suffix.
func parseGoMemLimit(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a Go memory limit", s)
	}
	return n * mult, nil
}

func TestParseGoMemLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"900MiB", 900 << 20}, {"1GiB", 1 << 30}, {"1024", 1024}, {"5B", 5}} {
		got, err := parseGoMemLimit(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseGoMemLimit(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseGoMemLimit("1Gi"); err == nil {
		t.Error(`parseGoMemLimit("1Gi") accepted Kubernetes' syntax, which Go refuses`)
	}
}

// TestConnectorRulesCatch breaks the base Deployment one way at a time and
// expects connectorProblems to notice each.
func TestConnectorRulesCatch(t *testing.T) {
	raw, err := os.ReadFile("base/connector-deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll("base/connector-deployment.yaml", raw, true)
	if err != nil {
		t.Fatal(err)
	}
	base := objs[0].Value.(*appsv1.Deployment)
	known := configEnv(t)
	if p := connectorProblems(base, known); len(p) != 0 {
		t.Fatalf("base has problems: %v", p)
	}
	setEnv := func(name, value string) func(*appsv1.Deployment) {
		return func(d *appsv1.Deployment) {
			c := &d.Spec.Template.Spec.Containers[0]
			for i := range c.Env {
				if c.Env[i].Name == name {
					c.Env[i] = corev1.EnvVar{Name: name, Value: value}
					return
				}
			}
			c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.Deployment)
		want   string // in one of the problems
	}{
		{"unknown variable", setEnv("REDIS_ADDR", "x"), "REDIS_ADDR is not a field"},
		{"K_SINK set by hand", setEnv("K_SINK", "http://x"), "SinkBinding"},
		{"shared CONNECTOR_ID", setEnv("CONNECTOR_ID", "c1"), "share one delivery channel"},
		{"drain longer than grace", setEnv("DRAIN_TIMEOUT", "60s"), "terminationGracePeriodSeconds"},
		{"GOMEMLIMIT at the limit", setEnv("GOMEMLIMIT", "1GiB"), "above 90%"},
		{"other port", setEnv("LISTEN_ADDRESS", ":9090"), "LISTEN_ADDRESS's port"},
		{"no readiness probe", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].ReadinessProbe = nil }, "readiness"},
		{"preStop sleep", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}}
		}, "preStop"},
		{"no anti-affinity", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Affinity = nil }, "podAntiAffinity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := base.DeepCopy()
			tc.mutate(d)
			got := connectorProblems(d, known)
			if !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Errorf("problems %q, want one mentioning %q", got, tc.want)
			}
		})
	}
}

// TestConnectorImageCarriesTheWebClient: the connector's image holds the
// web client (ko bundles cmd/connector/kodata, where web is a link to the
// repository's web/, at KO_DATA_PATH=/var/run/ko) and the Deployment
// serves it from there.
func TestConnectorImageCarriesTheWebClient(t *testing.T) {
	if _, err := os.Stat("../cmd/connector/kodata/web/index.html"); err != nil {
		t.Errorf("cmd/connector/kodata/web/index.html: %v (kodata/web must link to ../../../web)", err)
	}
	var webDir string
	for _, e := range baseConnector(t).Spec.Template.Spec.Containers[0].Env {
		if e.Name == "WEB_DIR" {
			webDir = e.Value
		}
	}
	if webDir != "/var/run/ko/web" {
		t.Errorf("WEB_DIR %q, want /var/run/ko/web (ko's KO_DATA_PATH + web)", webDir)
	}
}

// baseConnector decodes the base manifest's connector Deployment.
func baseConnector(t *testing.T) *appsv1.Deployment {
	t.Helper()
	raw, err := os.ReadFile("base/connector-deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll("base/connector-deployment.yaml", raw, true)
	if err != nil {
		t.Fatal(err)
	}
	return objs[0].Value.(*appsv1.Deployment)
}
