package seen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/storetest"
)

// fixture is one implementation under test, with a short socket TTL and a
// way to wait for time to pass on its clock.
type fixture struct {
	store Store
	ttl   time.Duration
	// pass lets d pass on the store's clock.
	pass func(t *testing.T, d time.Duration)
}

// TestSeen runs one suite against the real Redis, miniredis (the dev
// runner's) and the in-memory twin.
func TestSeen(t *testing.T) {
	const ttl = 600 * time.Millisecond
	t.Run("redis", func(t *testing.T) {
		opt, err := redis.ParseURL(storetest.Need(t, storetest.EnvRedisURL))
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { rdb.Close() })
		b := make([]byte, 4)
		rand.Read(b)
		suite(t, fixture{store: NewRedis(rdb, "test:seen:"+hex.EncodeToString(b)+":", ttl), ttl: ttl,
			pass: func(t *testing.T, d time.Duration) { waitWall(t, d) }})
	})
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		// miniredis's TIME is its own clock, which the test moves.
		now := time.Now()
		mr.SetTime(now)
		var mu sync.Mutex
		suite(t, fixture{store: NewRedis(rdb, "test:", ttl), ttl: ttl, pass: func(_ *testing.T, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			now = now.Add(d)
			mr.SetTime(now)
			mr.FastForward(d) // key TTLs
		}})
	})
	t.Run("memory", func(t *testing.T) {
		var mu sync.Mutex
		now := time.Now()
		m := NewMemory()
		m.TTL = ttl
		m.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		suite(t, fixture{store: m, ttl: ttl, pass: func(_ *testing.T, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			now = now.Add(d)
		}})
	})
}

// waitWall waits until d has passed on the wall clock (what a real Redis's
// TTLs run on): a deadline, not a guess about how long anything takes.
func waitWall(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		time.Sleep(time.Until(deadline))
	}
}

func suite(t *testing.T, fx fixture) {
	ctx := context.Background()
	s := fx.store
	sock := func(user, device string, stamp uint64) Socket {
		return Socket{Dev: events.DeviceRef{User: user, Device: device}, Stamp: stamp}
	}
	connected := func(t *testing.T, so Socket) bool {
		t.Helper()
		ok, err := s.Connected(ctx, so)
		if err != nil {
			t.Fatalf("Connected: %v", err)
		}
		return ok
	}
	disconnected := func(t *testing.T, so Socket, at time.Time) bool {
		t.Helper()
		ok, err := s.Disconnected(ctx, so, at)
		if err != nil {
			t.Fatalf("Disconnected: %v", err)
		}
		return ok
	}
	state := func(t *testing.T, user string) State {
		t.Helper()
		st, err := s.States(ctx, []string{user, "nobody-" + user})
		if err != nil {
			t.Fatalf("States: %v", err)
		}
		if _, ok := st["nobody-"+user]; ok {
			t.Errorf("States: a user never seen has a state: %+v", st)
		}
		return st[user]
	}

	t.Run("first socket comes online, last one leaves", func(t *testing.T) {
		a1, a2 := sock("alice", "a1", 10), sock("alice", "a2", 11)
		if !connected(t, a1) {
			t.Error("first socket: cameOnline false, want true")
		}
		if connected(t, a2) || connected(t, a1) {
			t.Error("second socket, or the first again: cameOnline true, want false")
		}
		if st := state(t, "alice"); !st.Online || len(st.Devices) != 2 ||
			!st.Arrived["a1"].Equal(time.UnixMicro(10)) || !st.Arrived["a2"].Equal(time.UnixMicro(11)) {
			t.Errorf("state: %+v, want online on a1, a2, arrived at their stamps", st)
		}
		at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
		if disconnected(t, a1, at) {
			t.Error("a1 left, a2 still there: wentOffline true, want false")
		}
		if !disconnected(t, a2, at) {
			t.Error("last socket left: wentOffline false, want true")
		}
		if !disconnected(t, a2, at.Add(-time.Hour)) {
			t.Error("the same departure again: wentOffline false, want true (a retry announces the same)")
		}
		st := state(t, "alice")
		if st.Online || !st.LastSeen.Equal(at) || st.Arrived != nil {
			t.Errorf("state: %+v, want offline, last seen %v (an earlier departure does not move it back)", st, at)
		}
	})

	t.Run("a device that moves stays online", func(t *testing.T) {
		old, moved := sock("bob", "b1", 100), sock("bob", "b1", 200)
		connected(t, old)
		if connected(t, moved) {
			t.Error("the device's newer socket: cameOnline true, want false")
		}
		if connected(t, sock("bob", "b1", 50)) {
			t.Error("an older socket of the device: cameOnline true")
		}
		// The old socket's late goodbye does not take bob offline.
		if disconnected(t, old, time.Now()) {
			t.Error("the replaced socket left: wentOffline true, want false")
		}
		if st := state(t, "bob"); !st.Online || len(st.Devices) != 1 || st.Devices[0] != "b1" ||
			len(st.Arrived) != 1 || !st.Arrived["b1"].Equal(time.UnixMicro(200)) {
			t.Errorf("state: %+v, want online on b1, arrived at the newer socket's stamp", st)
		}
		if !disconnected(t, moved, time.Now()) {
			t.Error("the newest socket left: wentOffline false")
		}
	})

	t.Run("a socket without heartbeat expires, a refreshed one does not", func(t *testing.T) {
		dead, kept := sock("carol", "c1", 7), sock("dave", "d1", 8)
		connectedAt := time.Now().Add(time.Second) // the stores' clocks may lead this one a little
		connected(t, dead)
		connected(t, kept)
		for range 3 {
			fx.pass(t, fx.ttl/2)
			if err := s.Refresh(ctx, []Socket{kept}); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
		}
		// carol's connector "died": her socket expired, nobody said
		// goodbye; her last seen is its last heartbeat (the connect).
		if st := state(t, "carol"); st.Online || st.LastSeen.IsZero() || st.LastSeen.After(connectedAt) {
			t.Errorf("carol after 1.5 TTL without heartbeat: %+v, want offline, last seen at her connect (%v) or before", st, connectedAt)
		}
		if st := state(t, "dave"); !st.Online {
			t.Errorf("dave refreshed: %+v, want online", st)
		}
		// Refresh records again a socket whose entry vanished.
		if err := s.Refresh(ctx, []Socket{dead}); err != nil {
			t.Fatal(err)
		}
		if st := state(t, "carol"); !st.Online {
			t.Errorf("carol refreshed again: %+v, want online", st)
		}
		if connected(t, sock("carol", "c2", 9)) {
			t.Error("carol's second device after her refreshed one: cameOnline true")
		}
	})

	t.Run("bad sockets are refused", func(t *testing.T) {
		for _, so := range []Socket{sock("", "d", 1), sock("u", "", 1), sock("u", "d", 0), sock("u v", "d", 1)} {
			if _, err := s.Connected(ctx, so); err == nil {
				t.Errorf("Connected(%+v): no error", so)
			}
			if _, err := s.Disconnected(ctx, so, time.Now()); err == nil {
				t.Errorf("Disconnected(%+v): no error", so)
			}
		}
	})

	t.Run("many users in one read", func(t *testing.T) {
		var users []string
		var socks []Socket
		for i := range 1200 {
			u := "many-" + hex.EncodeToString([]byte{byte(i >> 8), byte(i)})
			users = append(users, u)
			if i%3 == 0 {
				socks = append(socks, sock(u, "d", 1))
			}
		}
		// The sockets live for the TTL after their refresh: a read that
		// ends later (a loaded machine) proves nothing and is made again.
		var st map[string]State
		for try := 0; ; try++ {
			began := time.Now()
			if err := s.Refresh(ctx, socks); err != nil {
				t.Fatal(err)
			}
			var err error
			if st, err = s.States(ctx, users); err != nil {
				t.Fatal(err)
			}
			if time.Since(began) < fx.ttl || try == 20 {
				break
			}
		}
		if len(st) != 400 {
			t.Errorf("States of 1200 users, 400 online: got %d", len(st))
		}
		for i, u := range users {
			if got := st[u].Online; got != (i%3 == 0) {
				t.Fatalf("%s: online %v, want %v", u, got, i%3 == 0)
			}
		}
	})
}
