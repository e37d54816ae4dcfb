package function

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/fn"
)

// An agent invoke (events.NewAgentInvoke, built in stored.go) carries the
// stored message as persist answered it, Audience included: every member
// device with its public key — exactly the set the agent must seal its
// reply for. persist puts the keys in message.stored when an agent is a
// member, so neither route nor the agent's runtime reads the directory
// for them; an invoke without them is invalid (NewAgentInvoke refuses
// it). The agent hears persist's answer to its reply through its own
// Trigger (docs/agents.md): route is not involved.

// invoker posts agent invokes to the broker.
type invoker interface {
	// Invoke sends e and returns once the broker has accepted it. The
	// broker delivers at least once; e's id is stable per (conversation,
	// seq, agent), so the agent's runtime recognises a redelivery.
	Invoke(ctx context.Context, e event.Event) error
}

// sinkInvoker posts to K_SINK (fn.BrokerSink: binary mode, as a Knative
// SinkBinding expects, at most fn.SendTimeout per post).
type sinkInvoker struct {
	sink fn.Sink
}

var _ invoker = (*sinkInvoker)(nil)

func newSinkInvoker(sink string) (*sinkInvoker, error) {
	s, err := fn.NewSink("route", sink)
	if err != nil {
		return nil, err
	}
	return &sinkInvoker{sink: s}, nil
}

func (s *sinkInvoker) Invoke(ctx context.Context, e event.Event) error { return s.sink.Send(ctx, e) }
