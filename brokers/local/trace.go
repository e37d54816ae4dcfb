package local

import (
	"context"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentchat/agentchat/sdk/tracing"
)

// startAttemptSpan starts the span of one delivery attempt of *e to t's
// subscriber (or dead-letter sink) at url, a child of e's traceparent,
// and makes *e a copy that carries the span: a retry is a sibling span,
// not a child of the attempt before it. Only called with a Tracer.
func (b *Broker) startAttemptSpan(ctx context.Context, t *trigger, url string, e *event.Event) (context.Context, trace.Span) {
	ctx, span := tracing.StartEvent(ctx, b.cfg.Tracer, "deliver "+t.name, trace.SpanKindClient, e,
		attribute.String("knative.trigger", t.name),
		attribute.String("knative.broker", b.name),
		attribute.String("url.full", url))
	*e = e.Clone()
	tracing.Inject(ctx, e)
	return ctx, span
}

// endAttemptSpan ends span with the attempt's status.
func endAttemptSpan(span trace.Span, r result) {
	span.SetAttributes(attribute.Int("http.response.status_code", r.code))
	if !r.ok() {
		span.SetStatus(codes.Error, http.StatusText(r.code))
	}
	span.End()
}
