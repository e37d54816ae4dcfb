package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/backing"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// jaegerTrace is one trace of Jaeger's HTTP query API (/api/traces), cut to
// what the test reads.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		OperationName string `json:"operationName"`
		ProcessID     string `json:"processID"`
		Tags          []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// has says whether the trace holds a span of service named name (whose
// tag key is value, when key is not "").
func (tr jaegerTrace) has(service, name, key, value string) bool {
	for _, s := range tr.Spans {
		if tr.Processes[s.ProcessID].ServiceName != service || s.OperationName != name {
			continue
		}
		if key == "" {
			return true
		}
		for _, tag := range s.Tags {
			if tag.Key == key && fmt.Sprint(tag.Value) == value {
				return true
			}
		}
	}
	return false
}

// The dev runner's -jaeger, end to end: the cached Jaeger started as the
// runner starts it, the platform's processes exporting to it through the
// standard OTEL_* variables, and one message's trace read back from
// Jaeger's query API with the spans of the connector, persist and route.
func TestTraceInJaeger(t *testing.T) {
	bin := backing.JaegerBinary()
	if bin == "" {
		testenv.Missing(t, "no jaeger %s in the cache (make jaeger)", backing.JaegerVersion)
	}
	ctx := context.Background()
	j, err := backing.StartJaeger(ctx, bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	e := start(t, opts{connectors: 1, functions: spineFunctions, env: map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": j.OTLP,
		"OTEL_TRACES_EXPORTER":        "otlp",
		"OTEL_BSP_SCHEDULE_DELAY":     "100", // ms: the test reads spans soon after they end
	}})
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	conv, err := alice.sess.CreateConversation(ctx, "direct", []string{alice.id, bob.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := alice.sess.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := dialRaw(e.p.ConnectorURLs()[0], tok)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	expectFrame(t, ws, "hello")
	ws.WriteJSON(map[string]any{"type": "send", "id": "m-1", "conversation": conv.ID, "envelope": sealFor(t, ctx, alice, conv.ID, "m-1")})
	expectFrame(t, ws, protocol.TypeStored)

	sendID := events.MessageID(alice.id, alice.sess.DeviceID(), "m-1")
	q := j.UI + "/api/traces?" + url.Values{"service": {"connector"}, "lookback": {"1h"}, "limit": {"100"}}.Encode()
	var last string // what the last look found, for the failure
	found := func() bool {
		resp, err := http.Get(q)
		if err != nil {
			last = err.Error()
			return false
		}
		defer resp.Body.Close()
		var body struct{ Data []jaegerTrace }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
			last = fmt.Sprintf("status %d, %v", resp.StatusCode, err)
			return false
		}
		last = fmt.Sprintf("%d traces of the connector, none with the send, persist and route", len(body.Data))
		for _, tr := range body.Data {
			if tr.has("connector", "frame send", "cloudevents.event_id", sendID) &&
				tr.has("persist", "process "+events.TypeMessageSent, "", "") &&
				tr.has("route", "process "+events.TypeMessageStored, "", "") {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(30 * time.Second); !found(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("jaeger has no trace of message %s within 30s: %s", sendID, last)
		}
	}
}
