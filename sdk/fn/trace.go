package fn

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentchat/agentchat/sdk/tracing"
	"github.com/agentchat/agentchat/sdk/tracing/otlp"
)

// setupTracing sets the function's tracing up once, from the process
// environment (sdk/tracing/otlp.Setup: the OTEL_* variables), the first time
// the function serves an event or asks for its tracer: every function gets
// tracing without a line of its own. The service name defaults to
// Knative's K_SERVICE, else the executable's name.
var setupTracing = sync.OnceFunc(func() {
	if tracing.Tracer() != nil { // set by a test (tracing.Use)
		return
	}
	service := os.Getenv("K_SERVICE")
	if service == "" {
		service = filepath.Base(os.Args[0])
	}
	if _, err := otlp.Setup(service); err != nil {
		slog.Error("fn: tracing is off: "+err.Error(), "service", service)
	}
})

// Tracer is the function's tracer, or nil when tracing is off (no OTEL_*
// exporter configured): a function's own spans (agent-invoke's model
// call) start from it, under the span Serve started for the event.
func Tracer() trace.Tracer {
	setupTracing()
	return tracing.Tracer()
}

// startSpan starts Serve's span for e ("process <type>", a child of the
// event's traceparent), or returns ctx and nil when tracing is off.
func startSpan(ctx context.Context, e *event.Event) (context.Context, trace.Span) {
	tr := Tracer()
	if tr == nil {
		return ctx, nil
	}
	return tracing.StartEvent(ctx, tr, "process "+e.Type(), trace.SpanKindConsumer, e)
}

// endSpan ends s with the answer's status: an error for a failure that
// the broker retries or a refusal, its text as the span's status.
func endSpan(s trace.Span, status int, err error) {
	if s == nil {
		return
	}
	s.SetAttributes(httpStatus(status))
	if err != nil {
		s.SetStatus(codes.Error, errorText(err))
	}
	s.End()
}

func httpStatus(status int) attribute.KeyValue {
	return attribute.Int("http.response.status_code", status)
}
