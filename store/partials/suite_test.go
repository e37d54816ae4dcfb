package partials

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/store/storetest"
)

// fixture is one implementation under test, made with limits, and how to
// let its TTL pass.
type fixture struct {
	store Store
	// expire lets more than the TTL pass for everything kept so far.
	expire func(t *testing.T)
}

// limits are small, so that the suite reaches them.
var limits = Limits{MaxPartials: 4, MaxBytes: 100, TTL: time.Minute}

// TestPartials runs one suite against the real Redis, miniredis (the dev
// runner's Redis: the scripts must run there too) and the in-memory twin.
func TestPartials(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		opt, err := redis.ParseURL(storetest.Need(t, storetest.EnvRedisURL))
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { rdb.Close() })
		prefix := "test:partials:" + randomHex(4) + ":"
		suite(t, func(l Limits) fixture {
			prefix := prefix + randomHex(2) + ":"
			return fixture{store: NewRedis(rdb, prefix, l), expire: func(t *testing.T) {
				// A real Redis expires keys by itself: wait for it.
				fntest.Eventually(t, "every key expired", func() bool {
					keys, err := rdb.Keys(context.Background(), prefix+"*").Result()
					return err == nil && len(keys) == 0
				})
			}}
		})
	})
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		suite(t, func(l Limits) fixture {
			return fixture{store: NewRedis(rdb, "test:"+randomHex(2)+":", l),
				expire: func(*testing.T) { mr.FastForward(l.TTL + time.Millisecond) }}
		})
	})
	t.Run("memory", func(t *testing.T) {
		suite(t, func(l Limits) fixture {
			var mu sync.Mutex
			now := time.Now()
			m := NewMemory(l)
			m.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			return fixture{store: m, expire: func(*testing.T) { mu.Lock(); now = now.Add(l.TTL + time.Millisecond); mu.Unlock() }}
		})
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func suite(t *testing.T, newFixture func(Limits) fixture) {
	ctx := context.Background()
	keep := func(t *testing.T, s Store, k Key, index int, record string) bool {
		t.Helper()
		ok, err := s.Keep(ctx, k, index, []byte(record))
		if err != nil {
			t.Fatalf("Keep: %v", err)
		}
		return ok
	}
	// show renders answers as "conv/agent/replyTo: index=record,…" lines.
	show := func(t *testing.T, s Store, convs ...string) string {
		t.Helper()
		as, err := s.InProgress(ctx, convs)
		if err != nil {
			t.Fatalf("InProgress: %v", err)
		}
		out := ""
		for _, a := range as {
			out += fmt.Sprintf("%s/%s/%d:", a.Conversation, a.Agent, a.ReplyTo)
			for _, p := range a.Partials {
				out += " " + strconv.Itoa(p.Index) + "=" + string(p.Record)
			}
			out += "\n"
		}
		return out
	}
	k := func(conv, agent string, replyTo int64) Key {
		return Key{Conversation: conv, Agent: agent, ReplyTo: replyTo}
	}

	t.Run("partials come back in index order, answers in conversation, agent, replyTo order", func(t *testing.T) {
		fx := newFixture(limits)
		s := fx.store
		// Out of order, as a broker that delivers concurrently brings them.
		keep(t, s, k("c-2", "bot", 9), 2, "two")
		keep(t, s, k("c-2", "bot", 9), 0, "zero")
		keep(t, s, k("c-2", "bot", 9), 1, "one")
		keep(t, s, k("c-1", "zed", 3), 0, "z")
		keep(t, s, k("c-1", "abe", 4), 0, "a4")
		keep(t, s, k("c-1", "abe", 3), 0, "a3")
		keep(t, s, k("c-3", "bot", 1), 0, "elsewhere")
		got := show(t, s, "c-2", "c-1", "c-none")
		want := "c-2/bot/9: 0=zero 1=one 2=two\nc-1/abe/3: 0=a3\nc-1/abe/4: 0=a4\nc-1/zed/3: 0=z\n"
		if got != want {
			t.Errorf("in progress:\n%s\nwant:\n%s", got, want)
		}
		if got := show(t, s); got != "" {
			t.Errorf("no conversations: got %q", got)
		}
	})

	t.Run("a redelivered partial is kept once, as it was first", func(t *testing.T) {
		fx := newFixture(limits)
		s := fx.store
		a := k("c", "bot", 1)
		if !keep(t, s, a, 0, "first") || !keep(t, s, a, 0, "again") {
			t.Fatal("a redelivery refused, want kept (true)")
		}
		if got, want := show(t, s, "c"), "c/bot/1: 0=first\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})

	t.Run("an answer is bounded in partials and in bytes", func(t *testing.T) {
		fx := newFixture(limits)
		s := fx.store
		many, big := k("c", "bot", 1), k("c", "bot", 2)
		for i := range 4 {
			if !keep(t, s, many, i, "x") {
				t.Fatalf("partial %d of 4 refused", i)
			}
		}
		if keep(t, s, many, 4, "x") {
			t.Error("a 5th partial (limit 4) kept")
		}
		if !keep(t, s, big, 0, string(make([]byte, 60))) {
			t.Fatal("60 bytes (limit 100) refused")
		}
		if keep(t, s, big, 1, string(make([]byte, 41))) {
			t.Error("101 bytes in all (limit 100) kept")
		}
		if !keep(t, s, big, 1, string(make([]byte, 40))) {
			t.Error("100 bytes in all (limit 100) refused")
		}
		if keep(t, s, k("c", "bot", 3), 0, string(make([]byte, 101))) {
			t.Error("one partial over the byte limit kept")
		}
		as, err := s.InProgress(ctx, []string{"c"})
		if err != nil || len(as) != 2 || len(as[0].Partials) != 4 || len(as[1].Partials) != 2 {
			t.Errorf("in progress: %d answers (%v), want 2 (4 and 2 partials)", len(as), err)
		}
	})

	// The latest lifecycle status of an answer is kept beside its
	// partials — an older one arriving later is refused — and an answer
	// with a status only is in progress; Finish drops it.
	t.Run("the latest status is kept, with or without partials", func(t *testing.T) {
		fx := newFixture(limits)
		s := fx.store
		status := func(key Key, index int, record string) bool {
			t.Helper()
			ok, err := s.KeepStatus(ctx, key, index, []byte(record))
			if err != nil {
				t.Fatalf("KeepStatus: %v", err)
			}
			return ok
		}
		statusOf := func(conv string) map[int64]string {
			t.Helper()
			as, err := s.InProgress(ctx, []string{conv})
			if err != nil {
				t.Fatal(err)
			}
			out := map[int64]string{}
			for _, a := range as {
				out[a.ReplyTo] = string(a.Status)
			}
			return out
		}
		queued, streaming := k("c", "bot", 1), k("c", "bot", 2)
		if !status(queued, 1, "queued") || status(queued, 0, "waking") || status(queued, 1, "again") {
			t.Error("status 1 not kept, or an older/same one replaced it")
		}
		keep(t, s, streaming, 0, "text")
		if !status(streaming, 1002, "streaming") || !status(streaming, 1003, "tool") || status(streaming, 2, "thinking") {
			t.Error("a later status refused, or an older one kept")
		}
		if got := statusOf("c"); got[1] != "queued" || got[2] != "tool" || len(got) != 2 {
			t.Errorf("statuses in progress = %v, want queued for 1 (no partial) and tool for 2", got)
		}
		if got := show(t, s, "c"); got != "c/bot/1:\nc/bot/2: 0=text\n" {
			t.Errorf("in progress = %q", got)
		}
		if err := s.Finish(ctx, queued); err != nil {
			t.Fatal(err)
		}
		if status(queued, 5, "late") {
			t.Error("a status after Finish kept")
		}
		if got := statusOf("c"); len(got) != 1 || got[2] != "tool" {
			t.Errorf("after finishing 1: %v", got)
		}
		if status(k("c", "bot", 3), 0, strings.Repeat("x", limits.MaxBytes+1)) {
			t.Error("a status over MaxBytes kept")
		}
		if got := statusOf("c"); len(got) != 1 {
			t.Errorf("a refused status left an answer: %v", got)
		}
	})

	t.Run("finish drops the answer and refuses late partials", func(t *testing.T) {
		fx := newFixture(limits)
		s := fx.store
		done, other := k("c", "bot", 1), k("c", "bot", 2)
		keep(t, s, done, 0, "a")
		keep(t, s, done, 1, "b")
		keep(t, s, other, 0, "o")
		for range 2 { // idempotent
			if err := s.Finish(ctx, done); err != nil {
				t.Fatal(err)
			}
		}
		if keep(t, s, done, 2, "late") || keep(t, s, done, 0, "redelivered") {
			t.Error("a partial after Finish kept")
		}
		if got, want := show(t, s, "c"), "c/bot/2: 0=o\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		// Finishing an answer never seen (a reply without partials) is fine.
		if err := s.Finish(ctx, k("c", "bot", 3)); err != nil {
			t.Fatal(err)
		}
		if got, want := show(t, s, "c"), "c/bot/2: 0=o\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})

	t.Run("answers expire a TTL after their latest partial; so does the finish mark", func(t *testing.T) {
		fx := newFixture(Limits{MaxPartials: 4, MaxBytes: 100, TTL: 300 * time.Millisecond})
		s := fx.store
		a, done := k("c", "bot", 1), k("c", "bot", 2)
		keep(t, s, a, 0, "a")
		if err := s.Finish(ctx, done); err != nil {
			t.Fatal(err)
		}
		fx.expire(t)
		if got := show(t, s, "c"); got != "" {
			t.Errorf("after the TTL: %q, want nothing", got)
		}
		// A new answer under the same key starts afresh.
		if !keep(t, s, done, 0, "again") {
			t.Error("a partial of an answer whose finish mark expired refused")
		}
	})

	t.Run("concurrent keeps of one answer stay within its limits", func(t *testing.T) {
		fx := newFixture(limits)
		s := fx.store
		a := k("c", "bot", 1)
		var wg sync.WaitGroup
		var mu sync.Mutex
		kept := 0
		for i := range 16 {
			wg.Go(func() {
				ok, err := s.Keep(ctx, a, i, []byte("x"))
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					kept++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		as, err := s.InProgress(ctx, []string{"c"})
		if err != nil || kept != 4 || len(as) != 1 || len(as[0].Partials) != 4 {
			t.Errorf("kept %d, in progress %v (%v); want 4 of 16", kept, as, err)
		}
	})
}
