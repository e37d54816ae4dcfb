package connector

import (
	"context"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/sdk/tracing"
	"github.com/agentchat/agentchat/store/deliveries"
)

// Tracing (Deps.Tracer; nil: off, and then nothing below runs — no span,
// no map entry, no string per frame or delivery):
//
//   - a client frame that becomes an event is posted in a span
//     "frame <type>", which the event carries on (traceparent);
//   - a delivery from route is handed to the sockets in a span
//     "deliver <type>", a child of the span route published it in;
//   - a delivered or read receipt continues the trace of the message it
//     acknowledges: the connector remembers the "deliver" span of each
//     message it delivered, by (conversation, seq), in a bounded ring
//     (acks), and a receipt's "frame" span is that span's child — when
//     the message was delivered by this connector not too long ago;
//     otherwise the receipt starts a trace of its own. The client sends
//     nothing for this: the protocol has no trace field.

// ackMemory is how many delivered messages the connector remembers the
// trace of, for their receipts.
const ackMemory = 1 << 14

// ackKey names a delivered message.
type ackKey struct {
	conversation string
	seq          int64
}

// acks remembers the deliver span of the latest ackMemory messages.
type acks struct {
	mu   sync.Mutex
	m    map[ackKey]trace.SpanContext
	ring []ackKey
	next int
}

func newAcks(n int) *acks {
	return &acks{m: make(map[ackKey]trace.SpanContext, n), ring: make([]ackKey, n)}
}

func (a *acks) put(k ackKey, sc trace.SpanContext) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.m[k]; ok {
		return // the first delivery of a message is the one its ack belongs to
	}
	if old := a.ring[a.next]; old != (ackKey{}) {
		delete(a.m, old)
	}
	a.ring[a.next] = k
	a.m[k] = sc
	a.next = (a.next + 1) % len(a.ring)
}

func (a *acks) get(k ackKey) trace.SpanContext {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m[k]
}

// startFrameSpan starts the span in which frame f's event e is posted and
// stamps e with it. Only called when tracing is on.
func (s *Server) startFrameSpan(ctx context.Context, c *conn, f protocol.Frame, e *event.Event) (context.Context, trace.Span) {
	if f.Type == protocol.TypeDelivered || f.Type == protocol.TypeRead {
		if sc := s.acks.get(ackKey{f.Conversation, f.Seq}); sc.IsValid() {
			ctx = trace.ContextWithSpanContext(ctx, sc)
		}
	}
	ctx, span := s.tracer.Start(ctx, "frame "+f.Type, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(append(tracing.EventAttributes(e),
			attribute.String("agentchat.frame.type", f.Type),
			attribute.String("agentchat.connector", s.cfg.ConnectorID),
			attribute.String("agentchat.user", c.dev.User),
			attribute.String("agentchat.device", c.dev.Device))...))
	tracing.Inject(ctx, e)
	return ctx, span
}

// endSpan ends span (nil: tracing is off) with err as its status.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// startDeliverSpan starts the span in which delivery d goes to the
// sockets here, as the child of the span route published it in; a
// message's span is remembered for its receipts. Only called when
// tracing is on.
func (s *Server) startDeliverSpan(d *deliveries.Delivery, fr *frames) trace.Span {
	ctx := s.ctx
	if p := tracing.ParentOf(d.TraceParent, d.TraceState); p.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, p)
	}
	_, span := s.tracer.Start(ctx, "deliver "+d.Type, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("cloudevents.event_id", d.ID),
			attribute.String("cloudevents.event_type", d.Type),
			attribute.String("cloudevents.event_source", d.Source),
			attribute.String("cloudevents.event_subject", d.Conversation),
			attribute.String("agentchat.connector", s.cfg.ConnectorID),
			attribute.Int("agentchat.targets", len(d.Targets))))
	if f := fr.other; f.Type == protocol.TypeMessage {
		span.SetAttributes(attribute.Int64("agentchat.seq", f.Seq))
		s.acks.put(ackKey{f.Conversation, f.Seq}, span.SpanContext())
	}
	return span
}
