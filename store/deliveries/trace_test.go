package deliveries

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/tracing"
)

// The distributed-tracing extension is one of the attributes a delivery
// carries: it survives Of, Encode, Decode and Event.
func TestTraceContextSurvives(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	e := storedEvent(t)
	e.SetExtension(tracing.ExtTraceParent, tp)
	e.SetExtension(tracing.ExtTraceState, "vendor=x")
	p, err := Encode(Of(e, []events.DeviceRef{{User: "alice", Device: "a1"}}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(p)
	if err != nil {
		t.Fatal(err)
	}
	got := d.Event()
	if got.Extensions()[tracing.ExtTraceParent] != tp || got.Extensions()[tracing.ExtTraceState] != "vendor=x" {
		t.Errorf("after the round trip: %v", got.Extensions())
	}
}

// When the publisher traces, each delivery goes in the trace of the span
// it was published in (route's), not the event's.
func TestPublishInTheSpansTrace(t *testing.T) {
	tracing.Use(sdktrace.NewTracerProvider())
	t.Cleanup(func() { tracing.Use(nil) })
	ctx, span := tracing.Tracer().Start(context.Background(), "route")
	defer span.End()
	m := NewMemory()
	got := make(chan []byte, 1)
	t.Cleanup(m.Subscribe("A", func(p []byte) { got <- p }))
	e := storedEvent(t)
	e.SetExtension(tracing.ExtTraceParent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if err := m.Publish(ctx, map[string]Delivery{"A": Of(e, []events.DeviceRef{{User: "a", Device: "b"}})}); err != nil {
		t.Fatal(err)
	}
	d, err := Decode(<-got)
	if err != nil {
		t.Fatal(err)
	}
	if sc := tracing.ParentOf(d.TraceParent, d.TraceState); sc.SpanID() != span.SpanContext().SpanID() {
		t.Errorf("delivery's traceparent %q, want the publisher's span %s", d.TraceParent, span.SpanContext().SpanID())
	}
}
