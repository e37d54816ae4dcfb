package fn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agentchat/agentchat/sdk/events"
)

// scrape reads url's metrics in Prometheus's text format: each sample by
// its name and labels (`name{a="x",b="y"}`, labels sorted), histograms by
// their _count.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %q, want 200 in the text format", MetricsPath, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s is not in Prometheus's text format: %v", MetricsPath, err)
	}
	got := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				got[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				got[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				got[strings.Replace(key, name, name+"_count", 1)] = float64(m.Histogram.GetSampleCount())
			default:
				got[key] = 0
			}
		}
	}
	return got
}

func eventsKey(typ, outcome string) string {
	return fmt.Sprintf("agentchat_function_events_total{outcome=%q,type=%q}", outcome, typ)
}

func redeliveredKey(typ string) string {
	return fmt.Sprintf("agentchat_function_events_redelivered_total{type=%q}", typ)
}

func durationCountKey(typ string) string {
	return fmt.Sprintf("agentchat_function_event_duration_seconds_count{type=%q}", typ)
}

// An ok, a refused and a failing event each move their own counter; a
// second delivery of the same event counts as a redelivery; a type outside
// the catalog and a request that is no event are labelled "other"; no id
// becomes a label value. The registry is the process's, shared with the
// other tests, so the test reads differences, with fresh ids.
func TestServeMetrics(t *testing.T) {
	h := func(ctx context.Context, e event.Event) (*event.Event, error) {
		switch {
		case strings.HasPrefix(e.ID(), "refuse-"):
			return nil, Refuse("refused")
		case strings.HasPrefix(e.ID(), "fail-"):
			return nil, errors.New("storage down")
		case strings.HasPrefix(e.ID(), "busy-"):
			return nil, Unavailable("not started")
		}
		return nil, nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Serve(w, r, h) }))
	defer srv.Close()

	run := uuid.NewString()
	ok, refuse, fail, busy, unknown := "ok-"+run, "refuse-"+run, "fail-"+run, "busy-"+run, "unknown-"+run
	before := scrape(t, srv.URL)
	for _, c := range []struct {
		id, typ string
		want    int
	}{
		{ok, events.TypeMessageSent, 200},
		{refuse, events.TypeReceiptRead, 400},
		{fail, events.TypeSyncRequested, 500},
		{fail, events.TypeSyncRequested, 500}, // the broker's retry
		{busy, events.TypeTyping, 503},
		{unknown, "com.example.unknown", 200},
	} {
		if resp := post(t, srv.URL, testEvent(c.id, c.typ)); resp.StatusCode != c.want {
			t.Fatalf("%s: %d, want %d", c.id, resp.StatusCode, c.want)
		}
	}
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"id":"`+run+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("not an event: %d, want 400", resp.StatusCode)
	}
	after := scrape(t, srv.URL)

	for key, want := range map[string]float64{
		eventsKey(events.TypeMessageSent, "ok"):       1,
		eventsKey(events.TypeReceiptRead, "refused"):  1,
		eventsKey(events.TypeSyncRequested, "failed"): 2,
		eventsKey(events.TypeTyping, "failed"):        1,
		eventsKey("other", "ok"):                      1,
		eventsKey("other", "bad_request"):             1,
		eventsKey(events.TypeMessageSent, "refused"):  0,
		eventsKey(events.TypeMessageSent, "failed"):   0,
		eventsKey(events.TypeReceiptRead, "ok"):       0,
		eventsKey(events.TypeSyncRequested, "ok"):     0,
		redeliveredKey(events.TypeSyncRequested):      1,
		redeliveredKey(events.TypeMessageSent):        0,
		durationCountKey(events.TypeMessageSent):      1,
		durationCountKey(events.TypeSyncRequested):    2,
		durationCountKey("other"):                     1, // the unknown type; bad_request is not timed
	} {
		if got := after[key] - before[key]; got != want {
			t.Errorf("%s moved by %v, want %v", key, got, want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "promhttp_metric_handler_errors_total{cause=\"encoding\"}"} {
		if _, ok := after[name]; !ok {
			t.Errorf("%s is not served: the runtime and process collectors are missing", name)
		}
	}
	for key := range after {
		if strings.Contains(key, run) || strings.Contains(key, "com.example") {
			t.Errorf("a series is labelled with what a sender chose: %s", key)
		}
	}
}

// /metrics is answered to GET and HEAD only; any other path stays POST-only.
func TestServeMetricsRoutes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Serve(w, r, func(context.Context, event.Event) (*event.Event, error) { return nil, nil })
	}))
	defer srv.Close()
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodHead, MetricsPath, 200},
		{http.MethodGet, "/", 405},
		{http.MethodGet, "/metricsx", 405},
		{http.MethodPut, MetricsPath, 405},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}
}

func TestTypeLabel(t *testing.T) {
	for _, typ := range events.AllTypes {
		if got := typeLabel(typ); got != typ {
			t.Errorf("typeLabel(%q) = %q, want the type itself", typ, got)
		}
	}
	for _, typ := range []string{"", "other", "io.agentchat.message.sent.x", events.TypeDeviceRevoked} {
		if got := typeLabel(typ); got != "other" {
			t.Errorf("typeLabel(%q) = %q, want other", typ, got)
		}
	}
}

// seenIDs remembers at least its last per events and forgets older ones.
func TestSeenIDs(t *testing.T) {
	s := newSeenIDs(2)
	for i, c := range []struct {
		source, id string
		want       bool
	}{
		{"s", "a", false},
		{"s", "a", true},
		{"t", "a", false}, // another source: another event
		{"s", "b", false}, // cur full {s/a, t/a}: it becomes prev
		{"s", "a", true},  // from prev, and kept in cur {s/b, s/a}
		{"s", "c", false}, // prev {s/b, s/a}, cur {s/c}
		{"s", "a", true},
		{"s", "d", false}, // prev {s/c, s/a}, cur {s/d}: t/a forgotten
		{"t", "a", false},
		{"sa", "", false}, // source and id are kept apart
		{"", "sa", false},
	} {
		if got := s.seen(c.source, c.id); got != c.want {
			t.Errorf("%d: seen(%q, %q) = %v, want %v", i, c.source, c.id, got, c.want)
		}
	}
}
