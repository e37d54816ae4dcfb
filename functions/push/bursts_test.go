package function

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

	"github.com/agentchat/agentchat/store/storetest"
)

// The bursts contract, against the real Redis and the in-memory twin. The
// window is real time for Redis (PX), so the suite waits for it by
// polling, never by sleeping a guess.
func TestBursts(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		opt, err := redis.ParseURL(storetest.Need(t, storetest.EnvRedisURL))
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { rdb.Close() })
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		burstsSuite(t, newRedisBursts(rdb, "test:push:"+hex.EncodeToString(b)+":"), func(time.Duration) {})
	})
	t.Run("miniredis", func(t *testing.T) { // the dev runner's embedded Redis
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		burstsSuite(t, newRedisBursts(rdb, "test:"), func(d time.Duration) { mr.FastForward(d) })
	})
	t.Run("memory", func(t *testing.T) {
		var mu sync.Mutex
		now := time.Unix(0, 0)
		m := newMemoryBursts(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
		burstsSuite(t, m, func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() })
	})
}

func burstsSuite(t *testing.T, b bursts, advance func(time.Duration)) {
	ctx := context.Background()
	const window = 300 * time.Millisecond
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ok, err := b.Claim(ctx, "dv-1", "ev-"+string(rune('a'+i)), window)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("concurrent claims of one device won %d times, want 1", wins.Load())
	}
	if ok, _ := b.Claim(ctx, "dv-2", "ev-a", window); !ok {
		t.Error("another device's burst was taken")
	}
	// Release by an event that did not start the burst does nothing;
	// by the one that did, ends it.
	if err := b.Release(ctx, "dv-2", "ev-other"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Claim(ctx, "dv-2", "ev-b", window); ok {
		t.Error("a release by another event ended the burst")
	}
	if err := b.Release(ctx, "dv-2", "ev-a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Claim(ctx, "dv-2", "ev-b", window); !ok {
		t.Error("a released burst could not be claimed again")
	}
	// The window ends a burst.
	advance(2 * window)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := b.Claim(ctx, "dv-1", "ev-later", window)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a burst outlived its window")
		}
		time.Sleep(20 * time.Millisecond) // polling the store's clock
	}
	if done, devices, _ := b.Handled(ctx, "ev-a"); done || len(devices) != 0 {
		t.Errorf("an event is handled before Finish: %v %v", done, devices)
	}
	if err := b.FinishDevices(ctx, "ev-a", []string{"dv-1", "dv-2"}); err != nil {
		t.Fatal(err)
	}
	if err := b.FinishDevices(ctx, "ev-a", []string{"dv-3"}); err != nil {
		t.Fatal(err)
	}
	if done, devices, _ := b.Handled(ctx, "ev-a"); done || len(devices) != 3 || !devices["dv-1"] || !devices["dv-3"] {
		t.Errorf("after FinishDevices: handled %v, devices %v; want false and dv-1..3", done, devices)
	}
	if _, devices, _ := b.Handled(ctx, "ev-b"); len(devices) != 0 {
		t.Errorf("another event's devices: %v", devices)
	}
	if err := b.Finish(ctx, "ev-a"); err != nil {
		t.Fatal(err)
	}
	if done, _, _ := b.Handled(ctx, "ev-a"); !done {
		t.Error("Finish was not remembered")
	}
}
