package connector

import (
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/sdk/tracing"
)

// TestTracedFramesDeliveriesAndAcks: with a tracer, a send is posted in a
// "frame send" span its event carries; a delivery is handed out in a
// "deliver" span, the child of the span route published it in; and the
// device's delivered ack continues that message's trace (its frame span
// is the deliver span's child), and its receipt event carries it on.
func TestTracedFramesDeliveriesAndAcks(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	rdb, prefix := testRedis(t)
	e := startConnectorWith(t, rdb, prefix, newIssuer(t), newSink(t), nil, func(s *Server) {
		s.tracer, s.acks = tp.Tracer("test"), newAcks(4)
	})
	bob := e.dial("bob", "b1")

	bob.sendFrame(protocol.Frame{Type: protocol.TypeSend, ID: "m-1", Conversation: "conv-1", Envelope: envelope(32, "a1", "b1")})
	eventually(t, frameWait, "the send's event", func() bool { return len(e.sink.received()) == 1 })
	sent := e.sink.received()[0]
	frame := spanNamed(t, rec, "frame send")
	if got := tracing.Parent(&sent); got.SpanID() != frame.SpanContext().SpanID() || got.TraceID() != frame.SpanContext().TraceID() {
		t.Errorf("the send's event carries %v, want its frame span %v", got, frame.SpanContext())
	}

	const routeTrace, routeSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	inner := stored(t, "conv-1", 7, "alice", "a1", "m-9", envelope(32, "a1", "b1"))
	inner.SetExtension(tracing.ExtTraceParent, "00-"+routeTrace+"-"+routeSpan+"-01")
	e.publish(inner, [2]string{"bob", "b1"})
	if f := bob.nextOfType(protocol.TypeMessage); f.Seq != 7 {
		t.Fatalf("delivered seq %d, want 7", f.Seq)
	}
	deliver := spanNamed(t, rec, "deliver "+events.TypeMessageStored)
	if got := deliver.Parent(); got.TraceID().String() != routeTrace || got.SpanID().String() != routeSpan {
		t.Errorf("deliver span's parent %v, want route's %s/%s", got, routeTrace, routeSpan)
	}

	bob.sendFrame(protocol.Frame{Type: protocol.TypeDelivered, Conversation: "conv-1", Seq: 7})
	eventually(t, frameWait, "the receipt's event", func() bool { return len(e.sink.received()) == 2 })
	ack := spanNamed(t, rec, "frame delivered")
	if got := ack.Parent(); got.SpanID() != deliver.SpanContext().SpanID() || got.TraceID().String() != routeTrace {
		t.Errorf("ack span's parent %v, want the deliver span %v", got, deliver.SpanContext())
	}
	receipt := e.sink.received()[1]
	if got := tracing.Parent(&receipt); got.SpanID() != ack.SpanContext().SpanID() {
		t.Errorf("the receipt carries %v, want the ack span %v", got, ack.SpanContext())
	}

	// An ack for a message this connector never delivered starts a trace.
	bob.sendFrame(protocol.Frame{Type: protocol.TypeDelivered, Conversation: "conv-1", Seq: 99})
	eventually(t, frameWait, "the second receipt", func() bool { return len(e.sink.received()) == 3 })
	var lone sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "frame delivered" && s.SpanContext().SpanID() != ack.SpanContext().SpanID() {
			lone = s
		}
	}
	if lone == nil || lone.Parent().IsValid() {
		t.Errorf("an ack of an unknown message: span %v, want a root span", lone)
	}
}

// spanNamed waits for the ended span called name.
func spanNamed(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found sdktrace.ReadOnlySpan
	eventually(t, frameWait, "span "+name, func() bool {
		for _, s := range rec.Ended() {
			if s.Name() == name {
				found = s
				return true
			}
		}
		return false
	})
	return found
}

// TestUntracedConnectorStampsNothing: without a tracer (OTEL_* unset)
// the connector keeps no ring, starts no span and stamps no traceparent
// on what it posts, even when a delivery carries one.
func TestUntracedConnectorStampsNothing(t *testing.T) {
	e := startConnector(t, nil)
	if e.srv.tracer != nil || e.srv.acks != nil {
		t.Fatal("tracing state made without a tracer")
	}
	bob := e.dial("bob", "b1")
	inner := stored(t, "conv-1", 3, "alice", "a1", "m-3", envelope(32, "a1", "b1"))
	inner.SetExtension(tracing.ExtTraceParent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	e.publish(inner, [2]string{"bob", "b1"})
	bob.nextOfType(protocol.TypeMessage)
	bob.sendFrame(protocol.Frame{Type: protocol.TypeDelivered, Conversation: "conv-1", Seq: 3})
	eventually(t, frameWait, "the receipt's event", func() bool { return len(e.sink.received()) == 1 })
	if got, ok := e.sink.received()[0].Extensions()[tracing.ExtTraceParent]; ok {
		t.Errorf("the receipt carries traceparent %v with tracing off", got)
	}
}
