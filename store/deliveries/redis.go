package deliveries

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Redis publishes on Redis pub/sub under a key prefix.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

var _ Publisher = (*Redis)(nil)

// NewRedis publishes through c on channels under prefix.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: c, prefix: prefix}
}

// Publish pipelines one PUBLISH per connector.
func (r *Redis) Publish(ctx context.Context, byConnector map[string]Delivery) error {
	payloads := make(map[string][]byte, len(byConnector))
	for connector, d := range traced(ctx, byConnector) {
		p, err := Encode(d)
		if err != nil {
			return err
		}
		payloads[connector] = p
	}
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for connector, payload := range payloads {
			p.Publish(ctx, Channel(r.prefix, connector), payload)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deliveries: publish: %w", err)
	}
	return nil
}
