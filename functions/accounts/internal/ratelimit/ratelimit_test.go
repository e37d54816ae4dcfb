package ratelimit

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// limiters returns every implementation, so one suite checks them all and
// the in-process twin cannot drift from the Redis one.
func limiters(t *testing.T) map[string]Limiter {
	t.Helper()
	out := map[string]Limiter{"memory": NewMemory()}
	url := os.Getenv("AGENTCHAT_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("AGENTCHAT_TEST_REDIS_URL is not set")
		}
		t.Log("AGENTCHAT_TEST_REDIS_URL not set: testing the in-memory limiter only")
		return out
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	prefix := fmt.Sprintf("test:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		c.Close()
	})
	out["redis"] = NewRedis(c, prefix)
	return out
}

func TestTakeForgiveReset(t *testing.T) {
	ctx := context.Background()
	rule := Rule{Limit: 3, Window: time.Minute}
	for name, l := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			var got []bool
			for range 4 {
				wait, err := l.Take(ctx, "k", rule)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, wait == 0)
				if wait < 0 || wait > rule.Window {
					t.Errorf("wait = %v, want within the window", wait)
				}
			}
			if want := []bool{true, true, true, false}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("allowed = %v, want %v", got, want)
			}
			if wait, _ := l.Take(ctx, "other", rule); wait != 0 {
				t.Error("another key was limited")
			}
			l.Forgive(ctx, "k")
			l.Forgive(ctx, "k")
			if wait, _ := l.Take(ctx, "k", rule); wait != 0 {
				t.Error("after forgiving two attempts the key is still limited")
			}
			l.Reset(ctx, "k")
			for range 3 {
				if wait, _ := l.Take(ctx, "k", rule); wait != 0 {
					t.Fatal("after Reset the key is still limited")
				}
			}
			l.Forgive(ctx, "never-seen")
		})
	}
}

func TestTakeConcurrent(t *testing.T) {
	ctx := context.Background()
	rule := Rule{Limit: 10, Window: time.Minute}
	for name, l := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			var allowed atomic.Int32
			var wg sync.WaitGroup
			for range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if wait, err := l.Take(ctx, "c", rule); err == nil && wait == 0 {
						allowed.Add(1)
					}
				}()
			}
			wg.Wait()
			if got := allowed.Load(); got != 10 {
				t.Errorf("allowed %d of 50 concurrent attempts, want 10", got)
			}
		})
	}
}

func TestWindowExpires(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	now := time.Unix(1000, 0)
	m.now = func() time.Time { return now }
	rule := Rule{Limit: 1, Window: time.Minute}
	m.Take(ctx, "k", rule)
	if wait, _ := m.Take(ctx, "k", rule); wait != time.Minute {
		t.Errorf("wait = %v, want 1m", wait)
	}
	now = now.Add(time.Minute)
	if wait, _ := m.Take(ctx, "k", rule); wait != 0 {
		t.Error("limited after the window passed")
	}
}

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rule
		ok   bool
	}{
		{"5/5m", Rule{5, 5 * time.Minute}, true},
		{" 20/1m ", Rule{20, time.Minute}, true},
		{"0/1m", Rule{}, false}, {"5", Rule{}, false}, {"5/1ms", Rule{}, false}, {"x/1m", Rule{}, false},
	} {
		got, err := ParseRule(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRule(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
