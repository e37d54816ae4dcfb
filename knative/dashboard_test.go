package knative_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/fn"
)

var metricName = regexp.MustCompile(`\bagentchat_function_[a-z_]+`)

// servedFunctionMetrics are the agentchat_function_* names a function
// serves at /metrics once it has answered an event, histograms with their
// _bucket, _sum and _count.
func servedFunctionMetrics(t *testing.T) map[string]bool {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn.Serve(w, r, func(context.Context, event.Event) (*event.Event, error) { return nil, nil })
	}))
	defer srv.Close()
	e := event.New()
	e.SetID("dashboard-test")
	e.SetType("dashboard.test")
	e.SetSource("test")
	body, _ := e.MarshalJSON()
	for range 2 { // twice: the redelivery counter appears
		resp, err := http.Post(srv.URL, "application/cloudevents+json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + fn.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	served := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[1] == "TYPE" && metricName.MatchString(f[2]) {
			served[f[2]] = true
			if f[3] == "histogram" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					served[f[2]+s] = true
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(served) == 0 {
		t.Fatalf("GET %s serves no agentchat_function_* series", fn.MetricsPath)
	}
	return served
}

// Every dashboard under dashboards/ is valid JSON and queries only series
// the functions serve and docs/operations.md documents; every served
// series is documented.
func TestDashboards(t *testing.T) {
	served := servedFunctionMetrics(t)
	docs, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range served {
		if !strings.HasSuffix(name, "_bucket") && !strings.HasSuffix(name, "_sum") && !strings.HasSuffix(name, "_count") &&
			!strings.Contains(string(docs), "`"+name+"`") {
			t.Errorf("%s is served but not documented in docs/operations.md", name)
		}
	}
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no dashboard under knative/dashboards/")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Title  string `json:"title"`
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.Title == "" || len(d.Panels) == 0 {
			t.Errorf("%s: no title or no panels", f)
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q queries nothing", f, p.Title)
			}
			for _, q := range p.Targets {
				names := metricName.FindAllString(q.Expr, -1)
				if len(names) == 0 {
					t.Errorf("%s: panel %q: %q reads no agentchat_function_* series", f, p.Title, q.Expr)
				}
				for _, n := range names {
					if !served[n] {
						t.Errorf("%s: panel %q reads %s, which the functions do not serve", f, p.Title, n)
					}
				}
			}
		}
	}
}
