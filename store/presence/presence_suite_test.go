package presence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/storetest"
)

// fixture is one implementation under test, with what the suite does
// behind its back: read a record and its TTL, plant or lose one, mark a
// device revoked.
type fixture struct {
	store  Store
	raw    func(t *testing.T, dev events.DeviceRef) (string, time.Duration)
	setRaw func(t *testing.T, dev events.DeviceRef, value string, ttl time.Duration)
	revoke func(t *testing.T, dev events.DeviceRef)
	// suspend marks user suspended (on) or lifts it (off).
	suspend func(t *testing.T, user string, on bool)
}

// TestPresence runs one suite against the real Redis, against miniredis
// (the dev runner's embedded Redis: the scripts must run on both — TIME
// inside Lua, MGET/GET/SET/EXPIRE, EVALSHA in pipelines) and against the
// in-memory twin, so the twin cannot drift from the real thing.
func TestPresence(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		opt, err := redis.ParseURL(storetest.Need(t, storetest.EnvRedisURL))
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { rdb.Close() })
		suite(t, redisFixture(rdb, "test:presence:"+randomHex(4)+":"))
	})
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		suite(t, redisFixture(rdb, "test:"))
	})
	t.Run("memory", func(t *testing.T) {
		m := NewMemory()
		suite(t, fixture{
			store:  m,
			raw:    func(_ *testing.T, d events.DeviceRef) (string, time.Duration) { return m.Raw(d) },
			setRaw: func(_ *testing.T, d events.DeviceRef, v string, ttl time.Duration) { m.SetRaw(d, v, ttl) },
			revoke: func(_ *testing.T, d events.DeviceRef) { m.Revoke(d, time.Minute) },
			suspend: func(_ *testing.T, user string, on bool) {
				m.Suspend(user, map[bool]time.Duration{true: time.Minute}[on])
			},
		})
	})
}

func redisFixture(rdb redis.UniversalClient, prefix string) fixture {
	ctx := context.Background()
	key := func(d events.DeviceRef) string { return Key(prefix, d.User, d.Device) }
	return fixture{
		store: NewRedis(rdb, prefix),
		raw: func(t *testing.T, d events.DeviceRef) (string, time.Duration) {
			t.Helper()
			v, err := rdb.Get(ctx, key(d)).Result()
			if err == redis.Nil {
				return "", 0
			}
			if err != nil {
				t.Fatal(err)
			}
			return v, rdb.PTTL(ctx, key(d)).Val()
		},
		setRaw: func(t *testing.T, d events.DeviceRef, v string, ttl time.Duration) {
			t.Helper()
			var err error
			if v == "" {
				err = rdb.Del(ctx, key(d)).Err()
			} else {
				err = rdb.Set(ctx, key(d), v, ttl).Err()
			}
			if err != nil {
				t.Fatal(err)
			}
		},
		revoke: func(t *testing.T, d events.DeviceRef) {
			t.Helper()
			if err := rdb.Set(ctx, events.RevokedKey(prefix, d.User, d.Device), "1", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		},
		suspend: func(t *testing.T, user string, on bool) {
			t.Helper()
			err := rdb.Del(ctx, events.SuspendedKey(prefix, user)).Err()
			if on {
				err = rdb.Set(ctx, events.SuspendedKey(prefix, user), "1", time.Minute).Err()
			}
			if err != nil {
				t.Fatal(err)
			}
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
	one, two := fx.store.Connector("c-one"), fx.store.Connector("c-two")
	record := func(t *testing.T, dev events.DeviceRef) string {
		t.Helper()
		v, _ := fx.raw(t, dev)
		return v
	}
	admit := func(t *testing.T, p Registry, dev events.DeviceRef) uint64 {
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
	claim := func(t *testing.T, p Registry, dev events.DeviceRef, stamp uint64) bool {
		t.Helper()
		ok, err := p.Claim(ctx, dev, stamp)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		return ok
	}
	refresh := func(t *testing.T, p Registry, held ...Held) []Held {
		t.Helper()
		lost, err := p.Refresh(ctx, held)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		return lost
	}
	dev := func(name string) events.DeviceRef { return events.DeviceRef{User: "u", Device: name} }

	t.Run("stamps grow across connectors and follow the store's clock", func(t *testing.T) {
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
		fx.setRaw(t, d, FormatRecord("c-elsewhere", future), time.Minute)
		if got := admit(t, one, d); got != future+1 {
			t.Errorf("stamp: got %d, want %d", got, future+1)
		}
	})

	t.Run("revoked devices are reported", func(t *testing.T) {
		d := dev("revoked")
		fx.revoke(t, d)
		a, err := one.Admit(ctx, d)
		if err != nil || !a.Revoked || a.Stamp == 0 {
			t.Errorf("Admit: got %+v, %v; want revoked with a stamp", a, err)
		}
	})

	t.Run("suspended users are reported, for each of their devices, until lifted", func(t *testing.T) {
		d := events.DeviceRef{User: "u-suspended", Device: "d1"}
		other := events.DeviceRef{User: d.User, Device: "d2"}
		fx.suspend(t, d.User, true)
		for _, x := range []events.DeviceRef{d, other} {
			if a, err := one.Admit(ctx, x); err != nil || !a.Suspended || a.Revoked || a.Stamp == 0 {
				t.Errorf("Admit(%v): got %+v, %v; want suspended with a stamp", x, a, err)
			}
		}
		if a, err := one.Admit(ctx, dev("not-suspended")); err != nil || a.Suspended {
			t.Errorf("Admit(another user): got %+v, %v; want not suspended", a, err)
		}
		fx.suspend(t, d.User, false)
		if a, err := one.Admit(ctx, d); err != nil || a.Suspended {
			t.Errorf("Admit after lifting: got %+v, %v; want not suspended", a, err)
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
		got, ttl := fx.raw(t, d)
		if want := FormatRecord("c-two", newer); got != want {
			t.Errorf("record: got %q, want %q", got, want)
		}
		if ttl <= 0 || ttl > TTL {
			t.Errorf("TTL %v, want in (0, %v]", ttl, TTL)
		}
	})

	t.Run("a newer claim replaces an older record, also a stamp-less one", func(t *testing.T) {
		d := dev("order")
		fx.setRaw(t, d, "c-before-stamps", time.Minute)
		older, newer := admit(t, one, d), admit(t, two, d)
		if !claim(t, one, d, older) || !claim(t, one, d, older) {
			t.Fatal("claim over a stamp-less record (twice) refused")
		}
		if !claim(t, two, d, newer) {
			t.Fatal("newer claim refused")
		}
		if got, want := record(t, d), FormatRecord("c-two", newer); got != want {
			t.Errorf("record: got %q, want %q", got, want)
		}
	})

	t.Run("of concurrent claims the highest stamp holds the record", func(t *testing.T) {
		d := dev("race")
		base := admit(t, one, d)
		var wg sync.WaitGroup
		for i := range 8 {
			p := one
			if i%2 == 1 {
				p = two
			}
			wg.Go(func() {
				if _, err := p.Claim(ctx, d, base+uint64(i)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got, want := record(t, d), FormatRecord("c-two", base+7); got != want {
			t.Errorf("record: got %q, want %q", got, want)
		}
	})

	t.Run("refresh keeps, re-records, takes over older and gives up to newer", func(t *testing.T) {
		kept, gone, older, newer, tie := dev("kept"), dev("gone"), dev("older"), dev("newer"), dev("tie")
		sKept, sGone := admit(t, one, kept), admit(t, one, gone)
		claim(t, one, kept, sKept)
		fx.setRaw(t, kept, FormatRecord("c-one", sKept), 2*time.Second)
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
		if _, ttl := fx.raw(t, kept); ttl <= 2*time.Second {
			t.Errorf("kept: TTL %v, want extended to %v", ttl, TTL)
		}
		for d, stamp := range map[events.DeviceRef]uint64{kept: sKept, gone: sGone, older: sOlder} {
			if got, want := record(t, d), FormatRecord("c-one", stamp); got != want {
				t.Errorf("%s: record %q, want %q", d.Device, got, want)
			}
		}
		if got := record(t, newer); got == FormatRecord("c-one", sNewer) {
			t.Errorf("newer: record %q taken back by the older socket", got)
		}
	})

	t.Run("refresh over several batches reports the lost of each", func(t *testing.T) {
		held := make([]Held, 2*RefreshBatch+3)
		for i := range held {
			held[i] = Held{Dev: dev(fmt.Sprint("batch-", i)), Stamp: uint64(i + 1)}
		}
		// Newer sockets elsewhere: one in the first batch, two in the
		// second, the last of all in the third.
		taken := []int{7, RefreshBatch + 1, 2*RefreshBatch - 1, len(held) - 1}
		for _, i := range taken {
			claim(t, two, held[i].Dev, held[i].Stamp+1000)
		}
		lost := refresh(t, one, held...)
		if len(lost) != len(taken) {
			t.Fatalf("lost %v, want the sockets %v", lost, taken)
		}
		for j, i := range taken {
			if lost[j] != held[i] {
				t.Errorf("lost[%d] = %v, want %v", j, lost[j], held[i])
			}
		}
		if got, want := record(t, held[len(held)-2].Dev), FormatRecord("c-one", uint64(len(held)-1)); got != want {
			t.Errorf("last batch: record %q, want %q", got, want)
		}
	})

	t.Run("refresh of nothing", func(t *testing.T) {
		if lost := refresh(t, one); len(lost) != 0 {
			t.Errorf("lost %v, want none", lost)
		}
	})

	t.Run("release removes only the socket's own record", func(t *testing.T) {
		d := dev("release")
		older, newer := admit(t, one, d), admit(t, one, d)
		claim(t, one, d, newer)
		for _, r := range []func() error{
			func() error { return one.Release(ctx, []Held{{d, older}}) }, // the replaced socket of the same connector
			func() error { return two.Release(ctx, []Held{{d, newer}}) }, // same stamp, another connector
		} {
			if err := r(); err != nil {
				t.Fatal(err)
			}
			if got, want := record(t, d), FormatRecord("c-one", newer); got != want {
				t.Fatalf("record after another socket's release: %q, want %q", got, want)
			}
		}
		if err := one.Release(ctx, []Held{{d, newer}}); err != nil {
			t.Fatal(err)
		}
		if got := record(t, d); got != "" {
			t.Errorf("record after its own release: %q, want none", got)
		}
		if err := one.Release(ctx, []Held{{d, newer}}); err != nil {
			t.Errorf("release again: %v", err)
		}
	})

	t.Run("release over several batches removes only the sockets' own records", func(t *testing.T) {
		held := make([]Held, 2*RefreshBatch+3)
		for i := range held {
			held[i] = Held{Dev: dev(fmt.Sprint("gone-", i)), Stamp: admit(t, one, dev(fmt.Sprint("gone-", i)))}
			claim(t, one, held[i].Dev, held[i].Stamp)
		}
		// Newer sockets elsewhere keep theirs, in the first and the last batch.
		kept := map[int]bool{3: true, len(held) - 1: true}
		for i := range kept {
			claim(t, two, held[i].Dev, held[i].Stamp+1)
		}
		if err := one.Release(ctx, held); err != nil {
			t.Fatal(err)
		}
		for i, h := range held {
			got := record(t, h.Dev)
			if want := FormatRecord("c-two", h.Stamp+1); kept[i] && got != want {
				t.Errorf("%d: record %q, want the newer socket's %q", i, got, want)
			}
			if !kept[i] && got != "" {
				t.Errorf("%d: record %q after its release, want none", i, got)
			}
		}
		if err := one.Release(ctx, nil); err != nil {
			t.Errorf("release of nothing: %v", err)
		}
	})

	t.Run("locate groups devices by the connector their record names", func(t *testing.T) {
		u := func(i int) events.DeviceRef { return events.DeviceRef{User: fmt.Sprint("loc-", i), Device: "d"} }
		// More than one MGET's worth; every third device offline.
		const n = 1003
		devices := make([]events.DeviceRef, n)
		want := map[string]int{}
		for i := range devices {
			devices[i] = u(i)
			switch i % 3 {
			case 0:
				claim(t, one, devices[i], admit(t, one, devices[i]))
				want["c-one"]++
			case 1:
				claim(t, two, devices[i], admit(t, two, devices[i]))
				want["c-two"]++
			}
		}
		fx.setRaw(t, devices[2], "c-before-stamps", time.Minute) // a bare id is a connector too
		want["c-before-stamps"]++
		where, err := fx.store.Locate(ctx, devices)
		if err != nil {
			t.Fatal(err)
		}
		for c, ds := range where {
			if len(ds) != want[c] {
				t.Errorf("%s: %d devices, want %d", c, len(ds), want[c])
			}
			for _, d := range ds {
				var i int
				fmt.Sscanf(d.User, "loc-%d", &i)
				if d != devices[i] || (c == "c-one") != (i%3 == 0) {
					t.Errorf("%s holds %v: its record says otherwise", c, d)
				}
			}
		}
		if len(where) != len(want) {
			t.Errorf("connectors %d, want %d (%v)", len(where), len(want), want)
		}
		if err := one.Release(ctx, []Held{{devices[0], stampOf(t, fx, devices[0])}}); err != nil {
			t.Fatal(err)
		}
		if where, err := fx.store.Locate(ctx, devices[:1]); err != nil || len(where) != 0 {
			t.Errorf("after release: %v, %v; want nowhere", where, err)
		}
		if where, err := fx.store.Locate(ctx, nil); err != nil || len(where) != 0 {
			t.Errorf("no devices: %v, %v", where, err)
		}
	})
}

func stampOf(t *testing.T, fx fixture, d events.DeviceRef) uint64 {
	v, _ := fx.raw(t, d)
	_, s := ParseRecord(v)
	return s
}

// TestRedisAfterScriptFlush: a Redis that restarted (or was flushed) has no
// scripts cached; the pipelined EVALSHAs load them again. On miniredis
// only: flushing the shared test Redis would disturb others.
func TestRedisAfterScriptFlush(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	p := NewRedis(rdb, "test:").Connector("c-one")
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
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := p.Release(ctx, []Held{{d, a.Stamp}}); err != nil || mr.Exists(Key("test:", d.User, d.Device)) {
			t.Fatalf("Release after a script flush: %v, record left: %v", err, mr.Exists(Key("test:", d.User, d.Device)))
		}
	}
}

// TestMemoryRecordsExpire: the twin's TTLs run on its clock, as Redis's do.
func TestMemoryRecordsExpire(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	m := NewMemory()
	m.Now = func() time.Time { return now }
	p := m.Connector("c")
	d := events.DeviceRef{User: "u", Device: "d"}
	a, _ := p.Admit(ctx, d)
	if ok, err := p.Claim(ctx, d, a.Stamp); !ok || err != nil {
		t.Fatalf("Claim: %v, %v", ok, err)
	}
	now = now.Add(TTL - time.Millisecond)
	if where, _ := m.Locate(ctx, []events.DeviceRef{d}); len(where["c"]) != 1 {
		t.Fatalf("before the TTL: %v, want at c", where)
	}
	now = now.Add(time.Millisecond)
	if where, _ := m.Locate(ctx, []events.DeviceRef{d}); len(where) != 0 {
		t.Errorf("at the TTL: %v, want gone", where)
	}
}
