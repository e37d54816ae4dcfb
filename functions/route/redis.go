package function

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
)

// redisHub is presence and publisher on Redis, under a key prefix.
type redisHub struct {
	client *redis.Client
	prefix string
}

var (
	_ presence  = (*redisHub)(nil)
	_ publisher = (*redisHub)(nil)
)

func openRedis(ctx context.Context, url, prefix string) (*redisHub, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("route: redis url: %w", err)
	}
	h := &redisHub{client: redis.NewClient(opts), prefix: prefix}
	if err := h.Ping(ctx); err != nil {
		_ = h.client.Close()
		return nil, err
	}
	return h, nil
}

// Locate reads every device's presence record with one MGET and keeps the
// connector it names (events.ParsePresence). (MGET needs
// all keys in one slot on Redis Cluster: use a single Redis, or Sentinel.)
func (h *redisHub) Locate(ctx context.Context, devices []events.DeviceRef) (map[string][]events.DeviceRef, error) {
	keys := make([]string, len(devices))
	for i, d := range devices {
		keys[i] = events.PresenceKey(h.prefix, d.User, d.Device)
	}
	vals, err := h.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("route: read presence: %w", err)
	}
	where := make(map[string][]events.DeviceRef)
	for i, v := range vals {
		record, _ := v.(string)
		if connector, _ := events.ParsePresence(record); connector != "" {
			where[connector] = append(where[connector], devices[i])
		}
	}
	return where, nil
}

// Publish pipelines one PUBLISH per connector.
func (h *redisHub) Publish(ctx context.Context, byConnector map[string][]byte) error {
	_, err := h.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for connector, payload := range byConnector {
			p.Publish(ctx, events.DeliveryChannel(h.prefix, connector), payload)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("route: publish deliveries: %w", err)
	}
	return nil
}

func (h *redisHub) Ping(ctx context.Context) error {
	if err := h.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("route: ping redis: %w", err)
	}
	return nil
}

func (h *redisHub) Close() error { return h.client.Close() }
