package ratelimit

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed take.lua
	takeSource string
	//go:embed forgive.lua
	forgiveSource string

	takeScript    = redis.NewScript(takeSource)
	forgiveScript = redis.NewScript(forgiveSource)
)

// Redis is a Limiter shared by every replica: counters are Redis keys
// (prefix + key) with the window as their expiry, updated by Lua scripts so
// that counting and reading are one atomic step.
type Redis struct {
	client redis.Cmdable
	prefix string
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a Limiter on client whose keys start with prefix.
func NewRedis(client redis.Cmdable, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

func (l *Redis) Take(ctx context.Context, key string, rule Rule) (time.Duration, error) {
	ms, err := takeScript.Run(ctx, l.client, []string{l.prefix + key}, rule.Window.Milliseconds(), rule.Limit).Int64()
	if err != nil {
		return 0, fmt.Errorf("ratelimit: redis: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func (l *Redis) Forgive(ctx context.Context, key string) error {
	if err := forgiveScript.Run(ctx, l.client, []string{l.prefix + key}).Err(); err != nil && err != redis.Nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}

func (l *Redis) Reset(ctx context.Context, key string) error {
	if err := l.client.Del(ctx, l.prefix+key).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}
