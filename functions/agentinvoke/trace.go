package function

import (
	"context"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentchat/agentchat/sdk/fn"
)

// tracedModel traces each model request in a span that follows
// OpenTelemetry's GenAI semantic conventions — "chat <model>", kind
// client, gen_ai.operation.name, gen_ai.provider.name,
// gen_ai.request.model, gen_ai.request.max_tokens, the usage the endpoint
// reported (gen_ai.usage.input_tokens, gen_ai.usage.output_tokens) and
// server.address — a child of the span the invoke is handled in (the turn
// runs in that trace: spawn). No prompt or answer content: it is
// end-to-end encrypted everywhere else. With tracing off it is the model
// itself, plus one check per request.
type tracedModel struct{ model }

func traced(m model) model { return tracedModel{m} }

func (m tracedModel) Stream(ctx context.Context, req modelRequest, onStart, onDelta func(string)) (answer, error) {
	tr := fn.Tracer()
	if tr == nil {
		return m.model.Stream(ctx, req, onStart, onDelta)
	}
	attrs := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.provider.name", "openai"),
		attribute.String("gen_ai.request.model", req.Endpoint.Model),
	}
	if req.MaxTokens > 0 {
		attrs = append(attrs, attribute.Int("gen_ai.request.max_tokens", req.MaxTokens))
	}
	if u, err := url.Parse(req.Endpoint.BaseURL); err == nil && u.Hostname() != "" {
		attrs = append(attrs, attribute.String("server.address", u.Hostname()))
	}
	ctx, span := tr.Start(ctx, "chat "+req.Endpoint.Model, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()
	first := func(completion string) {
		span.AddEvent("gen_ai.first_chunk")
		if completion != "" {
			span.SetAttributes(attribute.String("gen_ai.response.id", completion))
		}
		if onStart != nil {
			onStart(completion)
		}
	}
	a, err := m.model.Stream(ctx, req, first, onDelta)
	if err != nil {
		typ := "model_error"
		if me, ok := err.(*modelError); ok {
			typ = me.Code
		}
		span.SetAttributes(attribute.String("error.type", typ))
		span.SetStatus(codes.Error, typ)
		return a, err
	}
	if a.Usage.Reported {
		span.SetAttributes(attribute.Int64("gen_ai.usage.input_tokens", a.Usage.Prompt),
			attribute.Int64("gen_ai.usage.output_tokens", a.Usage.Completion))
	}
	return a, nil
}
