package otlptest

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/agentchat/agentchat/sdk/tracing"
	"github.com/agentchat/agentchat/sdk/tracing/otlp"
)

// TestExportedSpansArrive: a provider that otlp.New makes from OTEL_*
// variables exports to the receiver, which reads the protobuf request
// (service, names, ids, parents, attributes) as a collector would.
func TestExportedSpansArrive(t *testing.T) {
	r := Start()
	defer r.Close()
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": r.URL(), "OTEL_SERVICE_NAME": "tester", "OTEL_BSP_SCHEDULE_DELAY": "50"}
	tp, err := otlp.New(func(k string) string { return env[k] }, "fallback")
	if err != nil || tp == nil {
		t.Fatalf("otlp.New: %v, %v", tp, err)
	}
	ctx, parent := tp.Tracer(tracing.Scope).Start(context.Background(), "parent")
	_, child := tp.Tracer(tracing.Scope).Start(ctx, "child", trace.WithSpanKind(trace.SpanKindConsumer))
	child.End()
	parent.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr := r.Trace(parent.SpanContext().TraceID().String())
	if len(tr) != 2 {
		t.Fatalf("%d spans of the trace received, want 2: %+v", len(tr), r.Spans())
	}
	for _, s := range tr {
		if s.Service != "tester" {
			t.Errorf("span %s of service %q, want tester", s.Name, s.Service)
		}
		if s.Name == "child" && s.ParentID != parent.SpanContext().SpanID().String() {
			t.Errorf("child's parent %s, want %s", s.ParentID, parent.SpanContext().SpanID())
		}
	}
}

// TestOffUnlessAsked: no exporter variable, none, or the SDK disabled:
// no provider. A protocol or exporter it cannot honour is an error.
func TestOffUnlessAsked(t *testing.T) {
	for _, c := range []struct {
		env     map[string]string
		on, bad bool
	}{
		{env: map[string]string{}},
		{env: map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces"}, on: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, on: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, bad: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, bad: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "sometimes"}, bad: true},
	} {
		tp, err := otlp.New(func(k string) string { return c.env[k] }, "svc")
		if (err != nil) != c.bad || (tp != nil) != c.on {
			t.Errorf("%v: provider %v, error %v; want on %v, error %v", c.env, tp != nil, err, c.on, c.bad)
		}
		if tp != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = tp.Shutdown(ctx)
			cancel()
		}
	}
}
