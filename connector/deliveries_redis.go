package connector

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/deliveries"
)

// RedisDeliveries subscribes to this connector's delivery channel
// (store/deliveries.Channel) and to the deployment's revocation channel
// (events.RevocationChannel), whose messages it hands to handle as well.
// go-redis re-establishes a broken subscription by
// itself (health-check pings, then reconnect and SUBSCRIBE again); each
// SUBSCRIBE confirmation arrives as a *redis.Subscription, which is how Run
// learns that it was down and deliveries may have been lost.
type RedisDeliveries struct {
	Client  redis.UniversalClient
	Channel string
	// Revocations is the revocation channel ("" for none).
	Revocations string
	// Buffer is the go-redis channel size between its reader and Run.
	Buffer int
}

var _ Deliveries = (*RedisDeliveries)(nil)

// NewRedisDeliveries subscribes to the channel of connectorID under prefix.
func NewRedisDeliveries(c redis.UniversalClient, prefix, connectorID string) *RedisDeliveries {
	return &RedisDeliveries{Client: c, Channel: deliveries.Channel(prefix, connectorID),
		Revocations: events.RevocationChannel(prefix), Buffer: 4096}
}

// Run subscribes and dispatches until ctx ends.
func (d *RedisDeliveries) Run(ctx context.Context, handle func([]byte), subscribed func(first bool)) error {
	channels := []string{d.Channel}
	if d.Revocations != "" {
		channels = append(channels, d.Revocations)
	}
	ps := d.Client.Subscribe(ctx, channels...)
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(max(d.Buffer, 1)))
	first := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-ch:
			if !ok {
				return fmt.Errorf("connector: deliveries: subscription closed")
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" && m.Channel == d.Channel {
					subscribed(first)
					first = false
				}
			case *redis.Message:
				handle([]byte(m.Payload))
			}
		}
	}
}
