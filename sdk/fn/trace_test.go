package fn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/agentchat/agentchat/sdk/tracing"
)

const (
	parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpan  = "00f067aa0ba902b7"
)

// TestServeTraces: with tracing on, Serve handles an event in a span that
// is the child of the event's traceparent, and the reply carries that
// span on (its traceparent), with tracestate kept.
func TestServeTraces(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	setupTracing() // whatever the environment says runs first, then the test's provider wins
	tracing.Use(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { tracing.Use(nil) })

	var handled context.Context
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Serve(w, r, func(ctx context.Context, e event.Event) (*event.Event, error) {
			handled = ctx
			reply := testEvent("re-"+e.ID(), "replied")
			return &reply, nil
		})
	}))
	defer srv.Close()

	e := testEvent("a", "io.agentchat.message.sent")
	e.SetExtension(tracing.ExtTraceParent, "00-"+parentTrace+"-"+parentSpan+"-01")
	e.SetExtension(tracing.ExtTraceState, "vendor=x")
	resp := post(t, srv.URL, e)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	s := spans[0]
	if got, want := s.Name(), "process io.agentchat.message.sent"; got != want {
		t.Errorf("span name %q, want %q", got, want)
	}
	if got := s.SpanContext().TraceID().String(); got != parentTrace {
		t.Errorf("trace %s, want the event's %s", got, parentTrace)
	}
	if got := s.Parent().SpanID().String(); got != parentSpan || !s.Parent().IsRemote() {
		t.Errorf("parent %s (remote %v), want the event's %s", got, s.Parent().IsRemote(), parentSpan)
	}
	if got, want := tracing.ParentOf(resp.Header.Get("ce-traceparent"), resp.Header.Get("ce-tracestate")), s.SpanContext(); got.SpanID() != want.SpanID() || got.TraceID() != want.TraceID() {
		t.Errorf("reply's traceparent %q, want the span %s", resp.Header.Get("ce-traceparent"), want.SpanID())
	}
	if got := resp.Header.Get("ce-tracestate"); got != "vendor=x" {
		t.Errorf("reply's tracestate %q, want vendor=x", got)
	}
	if tp, _ := tracing.Headers(handled); tp == "" {
		t.Error("the handler's context has no span")
	}
}

// TestSinkCarriesTrace: an event sent in a traced context carries its
// span; the caller's event is left alone.
func TestSinkCarriesTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	setupTracing()
	tracing.Use(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { tracing.Use(nil) })

	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("ce-traceparent")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	sink, err := NewSink("test", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := Tracer().Start(context.Background(), "work")
	e := testEvent("b", "t")
	if err := sink.Send(ctx, e); err != nil {
		t.Fatal(err)
	}
	span.End()
	if tp := <-got; tracing.ParentOf(tp, "").SpanID() != span.SpanContext().SpanID() {
		t.Errorf("sent traceparent %q, want the span %s", tp, span.SpanContext().SpanID())
	}
	if _, ok := e.Extensions()[tracing.ExtTraceParent]; ok {
		t.Error("Send stamped the caller's event")
	}
}

// TestTracingOffAllocatesNothing: with tracing off (no OTEL_* exporter),
// what Serve adds for tracing — the span around the handler and the
// reply's traceparent — allocates nothing.
func TestTracingOffAllocatesNothing(t *testing.T) {
	setupTracing()   // whatever the environment says runs first,
	tracing.Use(nil) // then tracing is off, as without OTEL_*
	if Tracer() != nil {
		t.Fatal("tracing.Use(nil) left a tracer")
	}
	e := testEvent("c", "io.agentchat.message.sent")
	e.SetExtension(tracing.ExtTraceParent, "00-"+parentTrace+"-"+parentSpan+"-01")
	reply := testEvent("d", "replied")
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		c, s := startSpan(ctx, &e)
		tracing.Inject(c, &reply)
		endSpan(s, http.StatusOK, nil)
	})
	if allocs != 0 {
		t.Errorf("tracing off: %v allocations per event, want 0", allocs)
	}
}

// BenchmarkServe is one event through Serve with a reply, tracing as the
// environment says (off unless OTEL_* asks for an exporter).
func BenchmarkServe(b *testing.B) {
	h := func(ctx context.Context, e event.Event) (*event.Event, error) {
		r := testEvent("re-"+e.ID(), "replied")
		return &r, nil
	}
	e := testEvent("a", "io.agentchat.message.sent")
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		writeEvent(b, req, e)
		Serve(httptest.NewRecorder(), req, h)
	}
}

func writeEvent(b *testing.B, req *http.Request, e event.Event) {
	if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&e), req); err != nil {
		b.Fatal(err)
	}
}
