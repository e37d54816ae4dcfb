package triggers

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// funcYAML is the part of a func.yaml this test needs, and whether the
// function serves CloudEvents (its Go source answers with fn.Serve).
type funcYAML struct {
	Name     string `json:"name"`
	Invoke   string `json:"invoke"`
	servesCE bool
}

// DeadLetterService is the Service that receives events no subscriber
// could take. It is referenced by the Brokers and Triggers and may be a
// function folder of its own.
const deadLetterService = "deadletter"

func loadFunctions(t *testing.T) map[string]funcYAML {
	t.Helper()
	paths, err := filepath.Glob("../functions/*/func.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]funcYAML{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f funcYAML
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if f.Name == "" {
			t.Fatalf("%s: no name", p)
		}
		srcs, _ := filepath.Glob(filepath.Join(filepath.Dir(p), "*.go"))
		for _, src := range srcs {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			// fn.Serve directly, or through sdk/tool's Function (a tool
			// function's whole lifecycle: tool.New).
			if !strings.HasSuffix(src, "_test.go") && (strings.Contains(string(b), "fn.Serve(") || strings.Contains(string(b), "tool.New(")) {
				f.servesCE = true
			}
		}
		out[f.Name] = f
	}
	return out
}

// Every function that serves CloudEvents (through sdk/fn's Serve, on
// func-go's http runtime: see fn.Serve) is bound by at least one Trigger,
// as its subscriber or its dead-letter sink: a function nobody routes to
// would scale to zero and never run. And a function that does not serve
// them is bound by none.
func TestEveryCloudEventFunctionHasATrigger(t *testing.T) {
	fns := loadFunctions(t)
	if len(fns) == 0 {
		t.Fatal("no functions/*/func.yaml found")
	}
	ts, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	bound := map[string]bool{}
	for _, tr := range ts {
		bound[tr.Spec.Subscriber.Ref.Name] = true
		if d := tr.Spec.Delivery; d != nil && d.DeadLetterSink != nil && d.DeadLetterSink.Ref != nil {
			bound[d.DeadLetterSink.Ref.Name] = true
		}
	}
	for name, f := range fns {
		if f.servesCE && !bound[name] {
			t.Errorf("function %s serves CloudEvents but has no Trigger", name)
		}
		if !f.servesCE && bound[name] {
			t.Errorf("function %s is bound by a Trigger but does not serve CloudEvents (fn.Serve)", name)
		}
		if f.servesCE && f.Invoke != "http" {
			t.Errorf("function %s serves CloudEvents with fn.Serve: its invoke must be http (func-go's http runtime), not %q", name, f.Invoke)
		}
	}
}

// Every Trigger points at a function folder (or the dead-letter sink), so
// a renamed function cannot leave its Trigger pointing at nothing. This
// holds only once all function folders exist; until then it lists which
// subscribers are missing.
func TestEveryTriggerSubscriberIsAFunction(t *testing.T) {
	fns := loadFunctions(t)
	ts, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, tr := range ts {
		refs := map[string]string{"subscriber": tr.Spec.Subscriber.Ref.Name}
		if d := tr.Spec.Delivery; d != nil && d.DeadLetterSink != nil && d.DeadLetterSink.Ref != nil {
			refs["deadLetterSink"] = d.DeadLetterSink.Ref.Name
		}
		for field, name := range refs {
			if _, ok := fns[name]; !ok && name != deadLetterService {
				missing = append(missing, tr.Name+"."+field+"="+name)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("Triggers reference Services that are neither a function folder nor %q: %v", deadLetterService, missing)
	}
}
