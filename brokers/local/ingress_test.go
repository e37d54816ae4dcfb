package local

import (
	"net/http"
	"strings"
	"testing"
	"time"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
)

func TestIngress(t *testing.T) {
	sub := newSubscriber(t, nil)
	b, url := start(t, Config{
		Broker:        testBroker(t, ""),
		Triggers:      []eventingv1.Trigger{trig(t, "t1", "sub", typeFilter("test.a"), "")},
		Subscribers:   map[string]string{"sub": sub.URL()},
		MaxEventBytes: 4096,
	})
	binary := http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"1"}, "Ce-Source": {"/x"}, "Ce-Type": {"test.a"}, "Content-Type": {"application/json"}}
	noID := binary.Clone()
	noID.Del("Ce-Id")
	structured := http.Header{"Content-Type": {"application/cloudevents+json"}}
	tests := []struct {
		name    string
		path    string
		header  http.Header
		body    string
		code    int
		bodyHas string
	}{
		{"binary at /", "/", binary, `{"a":1}`, http.StatusAccepted, ""},
		{"binary at /ns/broker", "/agentchat/agentchat", binary, `{}`, http.StatusAccepted, ""},
		{"structured", "/", structured, `{"specversion":"1.0","id":"2","source":"/x","type":"test.a","data":{"a":1}}`, http.StatusAccepted, ""},
		{"event no Trigger wants", "/", structured, `{"specversion":"1.0","id":"3","source":"/x","type":"test.none"}`, http.StatusAccepted, ""},
		{"plain JSON", "/", http.Header{"Content-Type": {"application/json"}}, `{"a":1}`, http.StatusBadRequest, "not a CloudEvent"},
		{"no content type", "/", http.Header{}, `hello`, http.StatusBadRequest, "not a CloudEvent"},
		{"binary without id", "/", noID, `{}`, http.StatusBadRequest, "id"},
		{"structured without type", "/", structured, `{"specversion":"1.0","id":"4","source":"/x"}`, http.StatusBadRequest, "type"},
		{"structured garbage", "/", structured, `{"specversion":`, http.StatusBadRequest, "malformed"},
		{"too large", "/", binary, `"` + strings.Repeat("x", 5000) + `"`, http.StatusRequestEntityTooLarge, "larger than 4096"},
		{"ttl exhausted", "/", http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"5"}, "Ce-Source": {"/x"}, "Ce-Type": {"test.a"}, "Ce-Knativebrokerttl": {"1"}}, ``, http.StatusBadRequest, "knativebrokerttl"},
		{"other broker", "/agentchat/other", binary, `{}`, http.StatusNotFound, "no Broker agentchat/other"},
		{"unknown path", "/a/b/c", binary, `{}`, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := postRaw(t, url+tt.path, tt.header, tt.body)
			if code != tt.code || !strings.Contains(body, tt.bodyHas) {
				t.Errorf("got %d %q, want %d containing %q", code, body, tt.code, tt.bodyHas)
			}
		})
	}
	eventually(t, 5*time.Second, "deliveries", func() bool { return delivered(b, "t1", "test.a") == 3 })

	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /: got %d, want 405", resp.StatusCode)
	}
	for path, want := range map[string]string{
		"/metrics": `agentchat_localbroker_deliveries_total{trigger="t1",type="test.a"} 3`,
		"/healthz": "ok",
		"/readyz":  "ok",
	} {
		code, body := get(t, url+path)
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s: got %d, want 200 with %q in:\n%s", path, code, want, body)
		}
	}
	code, body := get(t, url+"/metrics")
	for _, want := range []string{
		`agentchat_localbroker_events_accepted_total{source="ingress",type="test.a"} 3`,
		`agentchat_localbroker_events_rejected_total{reason="invalid"}`,
		`agentchat_localbroker_events_rejected_total{reason="too_large"} 1`,
		`agentchat_localbroker_events_dropped_total{reason="ttl",trigger="",type="test.a"} 1`,
		`agentchat_localbroker_queue_depth{trigger="t1"} 0`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}
