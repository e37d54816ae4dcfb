// Package tracing is the one owner of agentchat's OpenTelemetry tracing:
// whether a process traces at all (the standard OTEL_* variables, read
// once), the tracer every part of that process uses, and how a trace
// travels with an event — the CloudEvents distributed-tracing extension
// (traceparent, tracestate), W3C trace context in event attributes.
//
// Off costs nothing. With no exporter configured, Tracer is nil and every
// helper here returns at once: no span, no context, no string is made on
// the hot path. Callers test Tracer() != nil (one atomic load) before
// anything else.
//
// Turning tracing on is otlp's job (sdk/tracing/otlp: Setup from the
// OTEL_* variables, the exporter); this package holds only the API side,
// so that what merely carries a trace (store/deliveries) depends on no
// exporter. Functions get their tracer from sdk/fn, which sets tracing up
// on its first use; the connector's main calls otlp.Setup; the dev runner
// gives its in-process broker a provider from otlp.New.
package tracing

import (
	"context"
	"sync/atomic"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Scope is the instrumentation scope of every agentchat span.
const Scope = "github.com/agentchat/agentchat"

// Extension names of the CloudEvents distributed-tracing extension.
const (
	ExtTraceParent = "traceparent"
	ExtTraceState  = "tracestate"
)

// current holds the process's tracer; nil while tracing is off.
var current atomic.Pointer[trace.Tracer]

// Tracer is the process's tracer, or nil when tracing is off: the one
// check every instrumented path makes first.
func Tracer() trace.Tracer {
	if t := current.Load(); t != nil {
		return *t
	}
	return nil
}

// Use makes tp the process's provider (nil: tracing off), also as
// OpenTelemetry's global provider, with the W3C trace-context propagator.
// Setup calls it; tests call it with an in-memory provider.
func Use(tp trace.TracerProvider) {
	if tp == nil {
		current.Store(nil)
		return
	}
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t := tp.Tracer(Scope)
	current.Store(&t)
}

// carrier reads and writes trace context in an event's extensions.
type carrier struct{ e *event.Event }

func (c carrier) Get(key string) string {
	s, _ := c.e.Extensions()[key].(string)
	return s
}

func (c carrier) Set(key, value string) { c.e.SetExtension(key, value) }

func (c carrier) Keys() []string { return []string{ExtTraceParent, ExtTraceState} }

var w3c = propagation.TraceContext{}

// Parent is the span context e's traceparent and tracestate carry (remote),
// or an invalid one when e carries none.
func Parent(e *event.Event) trace.SpanContext {
	if _, ok := e.Extensions()[ExtTraceParent]; !ok {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(w3c.Extract(context.Background(), carrier{e}))
}

// ParentOf is the span context a traceparent and tracestate carry, or an
// invalid one (what a delivery holds: store/deliveries).
func ParentOf(traceparent, tracestate string) trace.SpanContext {
	if traceparent == "" {
		return trace.SpanContext{}
	}
	h := propagation.MapCarrier{ExtTraceParent: traceparent}
	if tracestate != "" {
		h[ExtTraceState] = tracestate
	}
	return trace.SpanContextFromContext(w3c.Extract(context.Background(), h))
}

// Inject sets e's traceparent (and tracestate) to the span of ctx, when
// ctx has one; otherwise e is left as it is. e must be the caller's own
// (not a copy sharing another event's attributes).
func Inject(ctx context.Context, e *event.Event) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	if sc.TraceState().Len() == 0 {
		e.SetExtension(ExtTraceState, nil)
	}
	w3c.Inject(ctx, carrier{e})
}

// Headers are the traceparent and tracestate of the span of ctx ("" when
// ctx has none).
func Headers(ctx context.Context) (traceparent, tracestate string) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return "", ""
	}
	h := propagation.MapCarrier{}
	w3c.Inject(ctx, h)
	return h[ExtTraceParent], h[ExtTraceState]
}

// EventAttributes are the CloudEvents semantic conventions' attributes of
// e, for a span about it.
func EventAttributes(e *event.Event) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("cloudevents.event_id", e.ID()),
		attribute.String("cloudevents.event_type", e.Type()),
		attribute.String("cloudevents.event_source", e.Source()),
		attribute.String("cloudevents.event_subject", e.Subject()),
	}
}

// StartEvent starts a span about handling e with tr, as a child of e's
// traceparent when it has one (a new trace otherwise), with e's
// attributes (EventAttributes) and attrs.
func StartEvent(ctx context.Context, tr trace.Tracer, name string, kind trace.SpanKind, e *event.Event, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if p := Parent(e); p.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, p)
	}
	return tr.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(append(EventAttributes(e), attrs...)...))
}

// Detach is ctx with the span of from (nil: ctx unchanged), for work that
// outlives the request that started it but belongs to its trace.
func Detach(ctx, from context.Context) context.Context {
	if Tracer() == nil {
		return ctx
	}
	sc := trace.SpanContextFromContext(from)
	if !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithSpanContext(ctx, sc)
}
