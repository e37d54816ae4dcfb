package backing

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/internal/testenv"
)

// TestEmbeddedRedisExpiresKeys: the dev runner's Redis expires keys with
// the wall clock, as Redis does — a plain TTL, an EXPIRE, and the fixed
// window accounts' rate limiter sets from Lua (INCR, then PEXPIRE on the
// first) — not before their TTL (give or take a tick), and without anyone
// fast-forwarding it.
func TestEmbeddedRedisExpiresKeys(t *testing.T) {
	url, stop, err := startRedis()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()

	const ttl = 400 * time.Millisecond
	take := redis.NewScript(`local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)
	begin := time.Now()
	if err := c.Set(ctx, "plain", "v", ttl).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "expire", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expire(ctx, "expire", time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		n, err := take.Run(ctx, c, []string{"window"}, ttl.Milliseconds()).Int()
		if err != nil || n != i+1 {
			t.Fatalf("take %d = %d, %v", i, n, err)
		}
	}
	left := map[string]bool{"plain": true, "expire": true, "window": true}
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		for k := range left {
			n, err := c.Exists(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				// Early by at most one tick (see redisClockTick).
				if d := time.Since(begin) + redisClockTick; k != "expire" && d < ttl || k == "expire" && d < time.Second {
					t.Errorf("%s gone after %v, before its TTL", k, d)
				}
				delete(left, k)
			}
		}
		return len(left) == 0
	}, "keys with TTLs expire in the embedded Redis")

	// A new window starts after the old one ended.
	if n, err := take.Run(ctx, c, []string{"window"}, ttl.Milliseconds()).Int(); err != nil || n != 1 {
		t.Errorf("first take of a new window = %d, %v; want 1", n, err)
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}
