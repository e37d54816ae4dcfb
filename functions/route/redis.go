package function

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/deliveries"
	storepresence "github.com/agentchat/agentchat/store/presence"
)

// redisHub is presence (store/presence) and the delivery channels
// (store/deliveries) on Redis, under a key prefix.
type redisHub struct {
	client    *redis.Client
	prefix    string
	where     *storepresence.Redis
	publisher *deliveries.Redis
}

var _ presence = (*redisHub)(nil)

func openRedis(ctx context.Context, url, prefix string) (*redisHub, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("route: redis url: %w", err)
	}
	c := redis.NewClient(opts)
	h := &redisHub{client: c, prefix: prefix, where: storepresence.NewRedis(c, prefix), publisher: deliveries.NewRedis(c, prefix)}
	if err := h.Ping(ctx); err != nil {
		_ = h.client.Close()
		return nil, err
	}
	return h, nil
}

// Locate reads the devices' presence records (storepresence.Redis.Locate:
// pipelined MGETs, so a single Redis or Sentinel, not Cluster).
func (h *redisHub) Locate(ctx context.Context, devices []events.DeviceRef) (map[string][]events.DeviceRef, error) {
	where, err := h.where.Locate(ctx, devices)
	if err != nil {
		return nil, fmt.Errorf("route: %w", err)
	}
	return where, nil
}

func (h *redisHub) Ping(ctx context.Context) error {
	if err := h.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("route: ping redis: %w", err)
	}
	return nil
}

func (h *redisHub) Close() error { return h.client.Close() }
