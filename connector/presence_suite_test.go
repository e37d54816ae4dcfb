package connector

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
)

// TestRedisPresence runs one suite against the real Redis and against
// miniredis (the dev runner's embedded Redis), so the scripts cannot work
// on one and not the other (TIME inside Lua, GET/SET/EXPIRE, EVALSHA in
// pipelines).
func TestRedisPresence(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		rdb, prefix := testRedis(t)
		presenceSuite(t, rdb, prefix)
	})
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		presenceSuite(t, rdb, "test:")
	})
}

func presenceSuite(t *testing.T, rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	one := NewRedisPresence(rdb, prefix, "c-one")
	two := NewRedisPresence(rdb, prefix, "c-two")
	record := func(t *testing.T, dev events.DeviceRef) string {
		t.Helper()
		v, err := rdb.Get(ctx, one.key(dev)).Result()
		if err == redis.Nil {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	admit := func(t *testing.T, p *RedisPresence, dev events.DeviceRef) uint64 {
		t.Helper()
		a, err := p.Admit(ctx, dev)
		if err != nil {
			t.Fatalf("Admit: %v", err)
		}
		if a.Revoked {
			t.Fatalf("Admit: revoked, want not")
		}
		return a.Stamp
	}
	claim := func(t *testing.T, p *RedisPresence, dev events.DeviceRef, stamp uint64) bool {
		t.Helper()
		ok, err := p.Claim(ctx, dev, stamp)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		return ok
	}
	refresh := func(t *testing.T, p *RedisPresence, held ...Held) []Held {
		t.Helper()
		lost, err := p.Refresh(ctx, held)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		return lost
	}
	dev := func(name string) events.DeviceRef { return events.DeviceRef{User: "u", Device: name} }

	t.Run("stamps grow across connectors and follow Redis's clock", func(t *testing.T) {
		d := dev("stamps")
		before := uint64(time.Now().Add(-time.Minute).UnixMicro())
		a, b, c := admit(t, one, d), admit(t, two, d), admit(t, one, d)
		if !(a < b && b < c) {
			t.Errorf("stamps %d, %d, %d: want increasing", a, b, c)
		}
		if after := uint64(time.Now().Add(time.Minute).UnixMicro()); a < before || c > after {
			t.Errorf("stamps %d..%d: want microseconds of the clock, within [%d, %d]", a, c, before, after)
		}
	})

	t.Run("a stamp is above the recorded one even if the clock is behind it", func(t *testing.T) {
		d := dev("ahead")
		future := uint64(time.Now().Add(time.Hour).UnixMicro())
		rdb.Set(ctx, one.key(d), events.FormatPresence("c-elsewhere", future), time.Minute)
		if got := admit(t, one, d); got != future+1 {
			t.Errorf("stamp: got %d, want %d", got, future+1)
		}
	})

	t.Run("revoked devices are reported", func(t *testing.T) {
		d := dev("revoked")
		rdb.Set(ctx, events.RevokedKey(prefix, d.User, d.Device), "1", time.Minute)
		a, err := one.Admit(ctx, d)
		if err != nil || !a.Revoked || a.Stamp == 0 {
			t.Errorf("Admit: got %+v, %v; want revoked with a stamp", a, err)
		}
	})

	t.Run("the late claim of an older socket leaves the newer record", func(t *testing.T) {
		d := dev("late")
		older, newer := admit(t, one, d), admit(t, two, d)
		if !claim(t, two, d, newer) {
			t.Fatal("newer claim refused")
		}
		if claim(t, one, d, older) {
			t.Error("older claim after the newer one: taken, want refused")
		}
		if got, want := record(t, d), events.FormatPresence("c-two", newer); got != want {
			t.Errorf("record: got %q, want %q", got, want)
		}
		if ttl := rdb.TTL(ctx, one.key(d)).Val(); ttl <= 0 || ttl > one.TTL {
			t.Errorf("TTL %v, want in (0, %v]", ttl, one.TTL)
		}
	})

	t.Run("a newer claim replaces an older record, also a stamp-less one", func(t *testing.T) {
		d := dev("order")
		rdb.Set(ctx, one.key(d), "c-before-stamps", time.Minute)
		older, newer := admit(t, one, d), admit(t, two, d)
		if !claim(t, one, d, older) || !claim(t, one, d, older) {
			t.Fatal("claim over a stamp-less record (twice) refused")
		}
		if !claim(t, two, d, newer) {
			t.Fatal("newer claim refused")
		}
		if got, want := record(t, d), events.FormatPresence("c-two", newer); got != want {
			t.Errorf("record: got %q, want %q", got, want)
		}
	})

	t.Run("refresh keeps, re-records, takes over older and gives up to newer", func(t *testing.T) {
		kept, gone, older, newer, tie := dev("kept"), dev("gone"), dev("older"), dev("newer"), dev("tie")
		sKept, sGone := admit(t, one, kept), admit(t, one, gone)
		claim(t, one, kept, sKept)
		rdb.Expire(ctx, one.key(kept), 2*time.Second)
		// older: another connector's older socket recorded after a restart.
		sOlderThere := admit(t, two, older)
		sOlder := admit(t, one, older)
		claim(t, two, older, sOlderThere)
		// newer: the device connected again on the other connector.
		sNewer := admit(t, one, newer)
		claim(t, one, newer, sNewer)
		claim(t, two, newer, admit(t, two, newer))
		// tie: the same stamp claimed last on the other connector.
		sTie := admit(t, one, tie)
		claim(t, one, tie, sTie)
		claim(t, two, tie, sTie)

		lost := refresh(t, one, Held{kept, sKept}, Held{gone, sGone}, Held{older, sOlder}, Held{newer, sNewer}, Held{tie, sTie})
		want := []Held{{newer, sNewer}, {tie, sTie}}
		if len(lost) != len(want) || lost[0] != want[0] || lost[1] != want[1] {
			t.Errorf("lost: got %v, want %v", lost, want)
		}
		if ttl := rdb.TTL(ctx, one.key(kept)).Val(); ttl <= 2*time.Second {
			t.Errorf("kept: TTL %v, want extended to %v", ttl, one.TTL)
		}
		for d, stamp := range map[events.DeviceRef]uint64{kept: sKept, gone: sGone, older: sOlder} {
			if got, want := record(t, d), events.FormatPresence("c-one", stamp); got != want {
				t.Errorf("%s: record %q, want %q", d.Device, got, want)
			}
		}
		if got := record(t, newer); got == events.FormatPresence("c-one", sNewer) {
			t.Errorf("newer: record %q taken back by the older socket", got)
		}
	})

	t.Run("refresh in batches", func(t *testing.T) {
		held := make([]Held, refreshBatch+3)
		for i := range held {
			held[i] = Held{Dev: dev("batch-" + strconv.Itoa(i)), Stamp: uint64(i + 1)}
		}
		if lost := refresh(t, one, held...); len(lost) != 0 {
			t.Errorf("lost %d, want none", len(lost))
		}
		if got, want := record(t, held[len(held)-1].Dev), events.FormatPresence("c-one", uint64(len(held))); got != want {
			t.Errorf("last of the batch: record %q, want %q", got, want)
		}
	})

	t.Run("release removes only the socket's own record", func(t *testing.T) {
		d := dev("release")
		older, newer := admit(t, one, d), admit(t, one, d)
		claim(t, one, d, newer)
		for _, r := range []func() error{
			func() error { return one.Release(ctx, d, older) }, // the replaced socket of the same connector
			func() error { return two.Release(ctx, d, newer) }, // same stamp, another connector
		} {
			if err := r(); err != nil {
				t.Fatal(err)
			}
			if got, want := record(t, d), events.FormatPresence("c-one", newer); got != want {
				t.Fatalf("record after another socket's release: %q, want %q", got, want)
			}
		}
		if err := one.Release(ctx, d, newer); err != nil {
			t.Fatal(err)
		}
		if got := record(t, d); got != "" {
			t.Errorf("record after its own release: %q, want none", got)
		}
	})
}

// TestRedisPresenceAfterScriptFlush: a Redis that restarted (or was
// flushed) has no scripts cached; the pipelined EVALSHAs load them again.
// On miniredis only: flushing the shared test Redis would disturb others.
func TestRedisPresenceAfterScriptFlush(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	p := NewRedisPresence(rdb, "test:", "c-one")
	d := events.DeviceRef{User: "u", Device: "d"}
	for range 2 {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		a, err := p.Admit(ctx, d)
		if err != nil || a.Stamp == 0 {
			t.Fatalf("Admit after a script flush: %+v, %v", a, err)
		}
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if lost, err := p.Refresh(ctx, []Held{{d, a.Stamp}}); err != nil || len(lost) != 0 {
			t.Fatalf("Refresh after a script flush: lost %v, %v", lost, err)
		}
	}
}
