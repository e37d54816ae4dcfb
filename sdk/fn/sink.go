package fn

import (
	"context"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentchat/agentchat/sdk/tracing"
)

// Sink posts events to the broker.
type Sink interface {
	// Send returns once the broker has accepted e (2xx), or the error
	// that says why not. The broker then delivers e at least once; an
	// event whose duplicate would matter must have an id stable across
	// sends (events.DeriveID), so that every hop recognises it.
	Send(ctx context.Context, e event.Event) error
}

// SendTimeout bounds one post to the broker.
const SendTimeout = 10 * time.Second

// BrokerSink posts to a broker URL (K_SINK) in binary mode — attributes as
// ce- headers, data as the body — as a Knative SinkBinding expects.
type BrokerSink struct {
	client    cloudevents.Client
	component string
}

var _ Sink = (*BrokerSink)(nil)

// NewSink makes a sink for target; component names the function in errors.
func NewSink(component, target string) (*BrokerSink, error) {
	if target == "" {
		return nil, fmt.Errorf("%s: sink: no broker URL (K_SINK)", component)
	}
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(target))
	if err != nil {
		return nil, fmt.Errorf("%s: sink: %w", component, err)
	}
	return &BrokerSink{client: c, component: component}, nil
}

// Send posts e, waiting at most SendTimeout. When tracing is on, e
// carries the span of ctx (its traceparent): the event belongs to the
// trace of the work that sent it.
func (s *BrokerSink) Send(ctx context.Context, e event.Event) error {
	if tracing.Tracer() != nil && trace.SpanContextFromContext(ctx).IsValid() {
		e = e.Clone() // e's attributes are the caller's
		tracing.Inject(ctx, &e)
	}
	ctx, cancel := context.WithTimeout(ctx, SendTimeout)
	defer cancel()
	if res := s.client.Send(ctx, e); !cloudevents.IsACK(res) {
		return fmt.Errorf("%s: post %s to the broker: %w", s.component, e.Type(), res)
	}
	return nil
}

// SendAll posts each event in order and stops at the first failure.
func SendAll(ctx context.Context, s Sink, es ...event.Event) error {
	for _, e := range es {
		if err := s.Send(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
