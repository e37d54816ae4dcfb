package function

import (
	"context"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/directory"
)

// changeSink is where accounts announces the directory changes it
// commits: the broker (K_SINK), whose Triggers bring them to persist and
// route (store/directory.Cached).
type changeSink interface {
	// Send returns once the broker has accepted e.
	Send(ctx context.Context, e event.Event) error
}

// brokerSink posts to K_SINK in binary mode, as a Knative SinkBinding
// expects.
type brokerSink struct{ client cloudevents.Client }

func newBrokerSink(target string) (*brokerSink, error) {
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(target))
	if err != nil {
		return nil, fmt.Errorf("accounts: K_SINK client: %w", err)
	}
	return &brokerSink{client: c}, nil
}

func (b *brokerSink) Send(ctx context.Context, e event.Event) error {
	if res := b.client.Send(ctx, e); !cloudevents.IsACK(res) {
		return fmt.Errorf("accounts: post %s to the broker: %w", e.Type(), res)
	}
	return nil
}

// announceTimeout bounds one announcement; the change is committed
// either way.
const announceTimeout = 3 * time.Second

// announce posts a change event once the change is committed, before the
// request is answered, so that a client told "done" finds the pipeline
// told too (an event is usually there within milliseconds). Best effort:
// if the broker does not take it, the caches notice the change when their
// entries expire (TTL) or when a refusal makes them read again.
func (s *service) announce(ctx context.Context, e event.Event, err error) {
	if err != nil {
		s.log.Error("accounts: build change event", "type", e.Type(), "err", err)
		return
	}
	if s.changes == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), announceTimeout)
	defer cancel()
	if err := s.changes.Send(ctx, e); err != nil {
		s.log.Warn("accounts: announce a change (caches see it when their entries expire)", "type", e.Type(), "subject", e.Subject(), "err", err)
	}
}

// announceConversation: conversation c is now at revision c.Rev, changed
// by p.
func (s *service) announceConversation(ctx context.Context, c directory.Conversation, p principal) {
	e, err := events.NewConversationChanged(c.ID, p.User, p.Device,
		events.ConversationChanged{Kind: c.Kind, Rev: c.Rev, Members: c.Members})
	s.announce(ctx, e, err)
}

// announceDevice: d was registered, or revoked.
func (s *service) announceDevice(ctx context.Context, d directory.Device) {
	e, err := events.NewDeviceChanged(events.DeviceChanged{User: d.User, Device: d.ID, PublicKey: d.PublicKey, Revoked: d.Revoked()})
	s.announce(ctx, e, err)
}
