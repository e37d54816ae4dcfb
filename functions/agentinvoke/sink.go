package function

import (
	"context"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
)

// sink posts events to the broker.
type sink interface {
	// Send returns once the broker has accepted e. The broker delivers at
	// least once; every event this runtime sends has an id that is stable
	// across attempts where a duplicate would matter (the reply).
	Send(ctx context.Context, e event.Event) error
}

// brokerSink posts to K_SINK in binary mode, as a Knative SinkBinding
// expects.
type brokerSink struct {
	client cloudevents.Client
}

var _ sink = (*brokerSink)(nil)

// sendTimeout bounds one post to the broker.
const sendTimeout = 10 * time.Second

func newBrokerSink(target string) (*brokerSink, error) {
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(target))
	if err != nil {
		return nil, fmt.Errorf("agent-invoke: sink client: %w", err)
	}
	return &brokerSink{client: c}, nil
}

func (s *brokerSink) Send(ctx context.Context, e event.Event) error {
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	if res := s.client.Send(ctx, e); !cloudevents.IsACK(res) {
		return fmt.Errorf("agent-invoke: post %s to the broker: %w", e.Type(), res)
	}
	return nil
}
