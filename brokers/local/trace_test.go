package local

import (
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"github.com/agentchat/agentchat/sdk/tracing"
)

const (
	ingressParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	replyParent   = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
)

// Without a tracer, the distributed-tracing extension travels as it came:
// on a delivery, and on a reply, which keeps the reply's own.
func TestTraceExtensionsTravelUnchanged(t *testing.T) {
	first := newSubscriber(t, func(_ int, e event.Event) (int, *event.Event) {
		r := newEvent("reply-of-"+e.ID(), "test.b", nil)
		r.SetExtension(tracing.ExtTraceParent, replyParent)
		return http.StatusOK, &r
	})
	second := newSubscriber(t, nil)
	b, url := start(t, Config{
		Broker: testBroker(t, ""),
		Triggers: []eventingv1.Trigger{
			trig(t, "first", "first", typeFilter("test.a"), ""),
			trig(t, "second", "second", typeFilter("test.b"), ""),
		},
		Subscribers: map[string]string{"first": first.URL(), "second": second.URL()},
	})
	e := newEvent("e1", "test.a", nil)
	e.SetExtension(tracing.ExtTraceParent, ingressParent)
	e.SetExtension(tracing.ExtTraceState, "vendor=x")
	if code, body := post(t, url, e, false); code != http.StatusAccepted {
		t.Fatalf("ingress: %d %s", code, body)
	}
	eventually(t, 5*time.Second, "the reply's delivery", func() bool { return delivered(b, "second", "test.b") == 1 })
	got := first.all()[0].event.Extensions()
	if got[tracing.ExtTraceParent] != ingressParent || got[tracing.ExtTraceState] != "vendor=x" {
		t.Errorf("delivered with traceparent %v, tracestate %v; want them as posted", got[tracing.ExtTraceParent], got[tracing.ExtTraceState])
	}
	if got := second.all()[0].event.Extensions()[tracing.ExtTraceParent]; got != replyParent {
		t.Errorf("the reply delivered with traceparent %v, want the reply's own %s", got, replyParent)
	}
}

// With a tracer, each attempt is a span "deliver <trigger>", the child
// of the event's traceparent, and the subscriber gets the event carrying
// that span; a retry is a sibling, not a child of the failed attempt.
func TestDeliveryAttemptsAreTraced(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	sub := newSubscriber(t, func(n int, e event.Event) (int, *event.Event) {
		if n == 1 {
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusOK, nil
	})
	trg := trig(t, "persist", "persist", typeFilter("test.a"), "    retry: 2\n    backoffPolicy: linear\n    backoffDelay: PT0.1S\n")
	b, url := start(t, Config{
		Broker:      testBroker(t, ""),
		Triggers:    []eventingv1.Trigger{trg},
		Subscribers: map[string]string{"persist": sub.URL()},
		Tracer:      tp.Tracer("test"),
	})
	e := newEvent("e1", "test.a", nil)
	e.SetExtension(tracing.ExtTraceParent, ingressParent)
	if code, body := post(t, url, e, false); code != http.StatusAccepted {
		t.Fatalf("ingress: %d %s", code, body)
	}
	eventually(t, 10*time.Second, "the retried delivery", func() bool { return delivered(b, "persist", "test.a") == 1 })
	eventually(t, 5*time.Second, "two attempt spans", func() bool { return len(rec.Ended()) == 2 })
	spans := rec.Ended()
	for i, s := range spans {
		if s.Name() != "deliver persist" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
			t.Errorf("attempt %d: span %q with parent %s, want \"deliver persist\" under the event's span", i, s.Name(), s.Parent().SpanID())
		}
		got := tracing.Parent(&sub.all()[i].event)
		if got.SpanID() != s.SpanContext().SpanID() {
			t.Errorf("attempt %d reached the subscriber with span %s, want its own %s", i, got.SpanID(), s.SpanContext().SpanID())
		}
	}
}
