package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/prometheus/client_golang/prometheus/testutil"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"

	"github.com/agentchat/agentchat/brokers"
	"github.com/agentchat/agentchat/triggers"
)

// received is one request a test subscriber got.
type received struct {
	event  event.Event
	at     time.Time
	header http.Header
	path   string
}

// subscriber is a real HTTP server on 127.0.0.1:0 that records every
// CloudEvent and answers with handle(n, e): n counts requests from 1.
type subscriber struct {
	srv    *httptest.Server
	handle func(n int, e event.Event) (int, *event.Event)

	mu  sync.Mutex
	got []received
}

func newSubscriber(t *testing.T, handle func(n int, e event.Event) (int, *event.Event)) *subscriber {
	t.Helper()
	s := &subscriber{handle: handle}
	if s.handle == nil {
		s.handle = func(int, event.Event) (int, *event.Event) { return http.StatusOK, nil }
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *subscriber) serve(w http.ResponseWriter, r *http.Request) {
	e, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, received{event: *e, at: time.Now(), header: r.Header.Clone(), path: r.URL.Path})
	n := len(s.got)
	s.mu.Unlock()
	code, reply := s.handle(n, *e)
	if reply != nil {
		if err := cehttp.WriteResponseWriter(r.Context(), binding.ToMessage(reply), code, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return
	}
	w.WriteHeader(code)
	if code >= 300 {
		_, _ = fmt.Fprintf(w, "status %d from test subscriber", code)
	}
}

func (s *subscriber) URL() string { return s.srv.URL }

func (s *subscriber) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *subscriber) all() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// eventually polls cond every few milliseconds until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

const testBrokerYAML = `
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: agentchat
  namespace: agentchat
  annotations:
    eventing.knative.dev/broker.class: MTChannelBasedBroker
spec:
  delivery:
    retry: 0
%s`

// testBroker decodes a Broker whose delivery is retry 0 plus extra YAML
// indented under spec.delivery.
func testBroker(t *testing.T, extraDelivery string) eventingv1.Broker {
	t.Helper()
	b, err := brokers.DecodeBroker([]byte(fmt.Sprintf(testBrokerYAML, extraDelivery)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// trig decodes (and so validates) a Trigger for Broker agentchat: name,
// subscriber Service, filter YAML (indented 2, under spec) and delivery
// YAML (indented 4, under spec.delivery; empty for none).
func trig(t *testing.T, name, subscriber, filter, delivery string) eventingv1.Trigger {
	t.Helper()
	y := fmt.Sprintf(`apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: %s
  namespace: agentchat
spec:
  broker: agentchat
%s
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: %s
`, name, filter, subscriber)
	if delivery != "" {
		y += "  delivery:\n" + delivery
	}
	tr, err := triggers.Decode([]byte(y))
	if err != nil {
		t.Fatalf("trigger %s: %v\n%s", name, err, y)
	}
	return tr
}

// typeFilter is a classic filter on one type.
func typeFilter(typ string) string {
	return "  filter:\n    attributes:\n      type: " + typ
}

// start builds a Broker from cfg, serves it on 127.0.0.1:0 and closes it
// (draining for up to 5 s) when the test ends.
func start(t *testing.T, cfg Config) (*Broker, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Close(ctx)
		srv.Close()
	})
	return b, srv.URL
}

func testLogger() *slog.Logger {
	if os.Getenv("LOCALBROKER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newEvent is a minimal valid CloudEvent.
func newEvent(id, typ string, ext map[string]any) event.Event {
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetSource("/test")
	e.SetType(typ)
	for k, v := range ext {
		e.SetExtension(k, v)
	}
	_ = e.SetData(cloudevents.ApplicationJSON, map[string]string{"id": id})
	return e
}

// post sends e to url in binary mode (structured when asked) and returns
// the status and body.
func post(t *testing.T, url string, e event.Event, structured bool) (int, string) {
	t.Helper()
	ctx := context.Background()
	if structured {
		ctx = binding.WithForceStructured(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func postRaw(t *testing.T, url string, header http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}

// The counters of b, read by their labels.
func delivered(b *Broker, trigger, typ string) int {
	return int(testutil.ToFloat64(b.m.delivered.WithLabelValues(trigger, typ)))
}

func retried(b *Broker, trigger, typ string) int {
	return int(testutil.ToFloat64(b.m.retried.WithLabelValues(trigger, typ)))
}

func deadLettered(b *Broker, trigger, typ string) int {
	return int(testutil.ToFloat64(b.m.deadLettered.WithLabelValues(trigger, typ)))
}

func dropped(b *Broker, reason, trigger, typ string) int {
	return int(testutil.ToFloat64(b.m.dropped.WithLabelValues(reason, trigger, typ)))
}

// discard is a ResponseWriter that throws the answer away, for handlers
// that wrap subscriber.serve only to record.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func newRawServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func parseURI(s string) (*apis.URL, error) { return apis.ParseURL(s) }
