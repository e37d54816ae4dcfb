package userlimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/store/storetest"
)

// fixture is one implementation under test: open returns another limiter
// on the same store (another connector), pttl reads a bucket's expiry
// (nil: the twin has none to read).
type fixture struct {
	open func() Limiter
	pttl func(t *testing.T, kind Kind, user string) time.Duration
}

// TestUserLimit runs one suite against the real Redis, miniredis (the dev
// runner's Redis: the script must run on both — TIME inside Lua, GET/SET
// PX, EVALSHA in pipelines) and the in-memory twin, so the twin cannot
// drift from the real thing.
func TestUserLimit(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		opt, err := redis.ParseURL(storetest.Need(t, storetest.EnvRedisURL))
		if err != nil {
			t.Fatal(err)
		}
		suite(t, redisFixture(t, func() redis.UniversalClient { return redis.NewClient(opt) }, "test:userlimit:"+randomHex(4)+":"))
	})
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		suite(t, redisFixture(t, func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: mr.Addr()}) }, "test:"))
	})
	t.Run("memory", func(t *testing.T) {
		m := NewMemory()
		suite(t, fixture{open: func() Limiter { return m }})
	})
}

// redisFixture opens each limiter on a client of its own, as two
// connectors would.
func redisFixture(t *testing.T, dial func() redis.UniversalClient, prefix string) fixture {
	raw := dial()
	t.Cleanup(func() { raw.Close() })
	return fixture{
		open: func() Limiter {
			c := dial()
			t.Cleanup(func() { c.Close() })
			return NewRedis(c, prefix)
		},
		pttl: func(t *testing.T, kind Kind, user string) time.Duration {
			t.Helper()
			d, err := raw.PTTL(context.Background(), Key(prefix, kind, user)).Result()
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func suite(t *testing.T, fx fixture) {
	ctx := context.Background()
	l := fx.open()
	hourly := func(burst int) Rule { return Rule{Rate: 1.0 / 3600, Burst: burst} } // no refill within a test
	take := func(t *testing.T, l Limiter, reqs ...Request) []time.Duration {
		t.Helper()
		got, err := l.Take(ctx, reqs)
		if err != nil {
			t.Fatalf("Take: %v", err)
		}
		if len(got) != len(reqs) {
			t.Fatalf("Take: %d answers for %d requests", len(got), len(reqs))
		}
		return got
	}
	times := func(n int, q Request) []Request {
		out := make([]Request, n)
		for i := range out {
			out[i] = q
		}
		return out
	}
	user := func() string { return "u-" + randomHex(4) }

	t.Run("a burst is allowed, the next request waits one interval", func(t *testing.T) {
		u := user()
		got := take(t, l, times(5, Request{Send, u, hourly(3)})...)
		for i, w := range got[:3] {
			if w != 0 {
				t.Errorf("request %d: refused (wait %v), want allowed within the burst", i, w)
			}
		}
		for i, w := range got[3:] {
			// Three tokens gone, none back for an hour: the next one is an
			// interval (an hour) away, refused requests took nothing.
			if w <= time.Hour-time.Second || w > time.Hour {
				t.Errorf("request %d: wait %v, want about an hour", 3+i, w)
			}
		}
	})

	t.Run("buckets are per user and per kind", func(t *testing.T) {
		u, v := user(), user()
		take(t, l, Request{Send, u, hourly(1)})
		got := take(t, l, Request{Send, u, hourly(1)}, Request{Send, v, hourly(1)}, Request{Typing, u, hourly(1)})
		if got[0] == 0 || got[1] != 0 || got[2] != 0 {
			t.Errorf("waits %v: want only the second send of %s refused", got, u)
		}
	})

	t.Run("refused requests take nothing", func(t *testing.T) {
		u, rule := user(), Rule{Rate: 1, Burst: 1}
		take(t, l, Request{Send, u, rule})
		prev := time.Second
		for i := range 5 {
			w := take(t, l, Request{Send, u, rule})[0]
			// Each wait is what is left of the same second; had a refusal
			// taken a token, the next wait would be a second longer.
			if w <= 0 || w > prev {
				t.Fatalf("refusal %d: wait %v, want in (0, %v]", i, w, prev)
			}
			prev = w
		}
	})

	t.Run("tokens come back at the rate", func(t *testing.T) {
		u, rule := user(), Rule{Rate: 50, Burst: 1}
		take(t, l, Request{Send, u, rule})
		if w := take(t, l, Request{Send, u, rule})[0]; w <= 0 || w > 20*time.Millisecond {
			t.Fatalf("second request: wait %v, want in (0, 20ms]", w)
		}
		fntest.Eventually(t, "a token back after 20ms", func() bool { return take(t, l, Request{Send, u, rule})[0] == 0 })
	})

	t.Run("many limiters, many goroutines: exactly the burst", func(t *testing.T) {
		u, rule := user(), hourly(10)
		limiters := []Limiter{l, fx.open()}
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				got, err := limiters[i%2].Take(ctx, []Request{{Send, u, rule}})
				if err != nil {
					t.Error(err)
					return
				}
				if got[0] == 0 {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != 10 {
			t.Errorf("allowed %d of 40 concurrent requests, want the burst (10)", got)
		}
	})

	t.Run("a batch larger than one script call", func(t *testing.T) {
		u := user()
		got := take(t, l, times(2*TakeBatch+100, Request{Send, u, hourly(TakeBatch + 7)})...)
		n := 0
		for i, w := range got {
			if (w == 0) != (i < TakeBatch+7) {
				t.Fatalf("request %d: wait %v; want the first %d allowed, in order, the rest refused", i, w, TakeBatch+7)
			}
			if w == 0 {
				n++
			}
		}
		if n != TakeBatch+7 {
			t.Errorf("allowed %d, want %d", n, TakeBatch+7)
		}
	})

	if fx.pttl != nil { // the twin forgets full buckets: no expiry to read
		t.Run("a bucket expires when full again", func(t *testing.T) {
			u := user()
			take(t, l, Request{Typing, u, Rule{Rate: 1, Burst: 5}})
			// One token out at 1/s: full again within a second.
			if d := fx.pttl(t, Typing, u); d <= 0 || d > 1001*time.Millisecond {
				t.Errorf("PTTL %v, want in (0, 1.001s]", d)
			}
		})
	}

	t.Run("invalid rules are refused", func(t *testing.T) {
		for _, r := range []Rule{{0, 1}, {-1, 1}, {1, 0}} {
			if _, err := l.Take(ctx, []Request{{Send, user(), r}}); err == nil {
				t.Errorf("rule %v: no error", r)
			}
		}
	})
}
