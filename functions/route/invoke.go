package function

import (
	"context"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
)

// invoker posts agent invokes to the broker.
type invoker interface {
	// Invoke sends e and returns once the broker has accepted it. The
	// broker delivers at least once; e's id is stable per (conversation,
	// seq, agent), so the agent's runtime recognises a redelivery.
	Invoke(ctx context.Context, e event.Event) error
}

// sinkInvoker posts to K_SINK in binary mode (the attributes as ce-
// headers, the data as the body), as a Knative SinkBinding expects.
type sinkInvoker struct {
	client cloudevents.Client
	sink   string
}

var _ invoker = (*sinkInvoker)(nil)

// invokeTimeout bounds one post to the broker.
const invokeTimeout = 10 * time.Second

func newSinkInvoker(sink string) (*sinkInvoker, error) {
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(sink))
	if err != nil {
		return nil, fmt.Errorf("route: sink client: %w", err)
	}
	return &sinkInvoker{client: c, sink: sink}, nil
}

func (s *sinkInvoker) Invoke(ctx context.Context, e event.Event) error {
	ctx, cancel := context.WithTimeout(ctx, invokeTimeout)
	defer cancel()
	if res := s.client.Send(ctx, e); !cloudevents.IsACK(res) {
		return fmt.Errorf("route: post %s to the broker: %w", e.Type(), res)
	}
	return nil
}
