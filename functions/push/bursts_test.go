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
		burstsSuite(t, newRedisBursts(rdb, "test:push:"+hex.EncodeToString(b)+":"), time.Now, func(time.Duration) {})
	})
	t.Run("miniredis", func(t *testing.T) { // the dev runner's embedded Redis
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		// Its TIME is the wall clock; FastForward moves only expiries.
		burstsSuite(t, newRedisBursts(rdb, "test:"), time.Now, func(d time.Duration) { mr.FastForward(d) })
	})
	t.Run("memory", func(t *testing.T) {
		var mu sync.Mutex
		now := time.Unix(0, 0)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		burstsSuite(t, newMemoryBursts(clock), clock, func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() })
	})
}

// now is the store's clock (what a claim's start is read from); advance
// moves expiries (and, for the twin, that clock).
func burstsSuite(t *testing.T, b bursts, now func() time.Time, advance func(time.Duration)) {
	ctx := context.Background()
	const window = 300 * time.Millisecond
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ok, err := b.Claim(ctx, "dv-1", "ev-"+string(rune('a'+i)), window, time.Time{})
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
	if ok, _ := b.Claim(ctx, "dv-2", "ev-a", window, time.Time{}); !ok {
		t.Error("another device's burst was taken")
	}
	// Release by an event that did not start the burst does nothing;
	// by the one that did, ends it.
	if err := b.Release(ctx, "dv-2", "ev-other"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Claim(ctx, "dv-2", "ev-b", window, time.Time{}); ok {
		t.Error("a release by another event ended the burst")
	}
	if err := b.Release(ctx, "dv-2", "ev-a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Claim(ctx, "dv-2", "ev-b", window, time.Time{}); !ok {
		t.Error("a released burst could not be claimed again")
	}
	// The window ends a burst.
	advance(2 * window)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := b.Claim(ctx, "dv-1", "ev-later", window, time.Time{})
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

	// A user who has been online since the burst started ends it: the
	// next claim with their last seen after its start starts a new one,
	// atomically (one of many wins); a last seen before it, or none, does
	// not; nor does one after it for the event that started it (a
	// redelivery); nor the same last seen for the new burst.
	const long = time.Minute // nothing below waits for it
	if ok, _ := b.Claim(ctx, "dv-4", "ev-1", long, time.Time{}); !ok {
		t.Fatal("a first claim failed")
	}
	if ok, _ := b.Claim(ctx, "dv-4", "ev-2", long, now().Add(-time.Hour)); ok {
		t.Error("a last seen before the burst's start ended it")
	}
	back := now().Add(time.Millisecond) // after the claim's start (milliseconds)
	waitPast(t, now, back, advance)
	if ok, _ := b.Claim(ctx, "dv-4", "ev-1", long, back); ok {
		t.Error("the event that started the burst started another (a redelivery would push again)")
	}
	wins.Store(0)
	for i := range 8 {
		wg.Go(func() {
			ok, err := b.Claim(ctx, "dv-4", "ev-back-"+string(rune('a'+i)), long, back)
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
		t.Fatalf("claims after the user came back won %d times, want 1", wins.Load())
	}
	if ok, _ := b.Claim(ctx, "dv-4", "ev-3", long, back); ok {
		t.Error("a last seen before the new burst's start ended it")
	}
	// The new burst is an ordinary one: its event (unknown here: one of
	// the eight) releases it, another does not.
	if err := b.Release(ctx, "dv-4", "ev-1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Claim(ctx, "dv-4", "ev-4", long, time.Time{}); ok {
		t.Error("a release by the old burst's event ended the new one")
	}
	for i := range 8 {
		if err := b.Release(ctx, "dv-4", "ev-back-"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := b.Claim(ctx, "dv-4", "ev-5", long, time.Time{}); !ok {
		t.Error("the new burst's event did not release it")
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

// waitPast waits until the store's clock is past t (polling it, as the
// window's expiry is polled above).
func waitPast(t *testing.T, now func() time.Time, at time.Time, advance func(time.Duration)) {
	t.Helper()
	advance(2 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for !now().After(at) {
		if time.Now().After(deadline) {
			t.Fatal("the store's clock did not move")
		}
		time.Sleep(time.Millisecond)
	}
}
