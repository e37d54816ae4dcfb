package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis returns the URL of the test Redis and a key prefix no other test
// uses (it ends in ":", like REDIS_PREFIX). Every key under the prefix is
// deleted when the test ends; pub/sub channels need no cleanup.
func Redis(t testing.TB) (url, prefix string) {
	t.Helper()
	url = Env(t, EnvRedisURL)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("testenv: %s=%q: %v", EnvRedisURL, url, err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf("testenv: redis at %s: %v", url, err)
	}
	prefix = "test:" + unique(t, '-', 48) + ":"
	t.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := deleteKeys(ctx, c, prefix); err != nil {
			t.Errorf("testenv: clean up redis keys %s*: %v", prefix, err)
		}
	})
	return url, prefix
}

// deleteKeys removes every key that starts with prefix (which holds no glob
// characters).
func deleteKeys(ctx context.Context, c *redis.Client, prefix string) error {
	iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := c.Del(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return c.Del(ctx, batch...).Err()
	}
	return nil
}
