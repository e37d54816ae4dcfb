package usage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/storetest"
)

func TestMemory(t *testing.T) {
	runSuite(t, func(*testing.T) (Store, Store) { m := NewMemory(); return m, m })
}

// TestMongo runs the suite on the test MongoDB (FerretDB in the test
// command), with two handles on one database: two processes, each with
// hints of its own.
func TestMongo(t *testing.T) {
	uri := storetest.Need(t, storetest.EnvMongoURI)
	runSuite(t, func(t *testing.T) (Store, Store) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		db, err := store.OpenMongo(uri, "usage_"+hex.EncodeToString(b), "usage-test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = db.DB.Drop(ctx)
			_ = db.Close(ctx)
		})
		a, err := NewMongo(ctx, db.DB)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := NewMongo(ctx, db.DB)
		if err != nil {
			t.Fatal(err)
		}
		return a, b2
	})
}

// runSuite checks the contract of Store (usage.go). fresh returns two
// handles on one new, empty backend (the same one twice for the twin).
func runSuite(t *testing.T, fresh func(t *testing.T) (Store, Store)) {
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 1, 2, 3, 4_000_000, time.UTC)
	turn := func(conv string, seq, prompt, completion int64) Turn {
		return Turn{Conversation: conv, Seq: seq, Agent: "helper", Endpoint: "http://m2/v1", Model: "m",
			PromptTokens: prompt, CompletionTokens: completion, Reported: true, At: at}
	}
	month := PeriodOf(PeriodMonth, at)
	agentC, convC := AgentCounter("helper", month), ConversationCounter("c1", "helper", month)
	total := func(s Store, c Counter) int64 {
		t.Helper()
		n, err := s.Total(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("record, totals, turns", func(t *testing.T) {
		s, other := fresh(t)
		if got := total(s, agentC); got != 0 {
			t.Errorf("total before any turn = %d", got)
		}
		t1, t2 := turn("c1", 1, 30, 12), turn("c1", 3, 50, 8)
		for _, tr := range []Turn{t1, t2} {
			if err := s.Record(ctx, tr, agentC, convC); err != nil {
				t.Fatal(err)
			}
		}
		elsewhere := turn("c2", 1, 100, 0)
		if err := other.Record(ctx, elsewhere, agentC, ConversationCounter("c2", "helper", month)); err != nil {
			t.Fatal(err)
		}
		for _, h := range []Store{s, other} {
			if a, c := total(h, agentC), total(h, convC); a != 200 || c != 100 {
				t.Errorf("totals = agent %d, conversation %d; want 200, 100", a, c)
			}
		}
		// Recording a turn again counts nothing.
		if err := other.Record(ctx, t1, agentC, convC); err != nil {
			t.Fatal(err)
		}
		if a, c := total(s, agentC), total(s, convC); a != 200 || c != 100 {
			t.Errorf("after recording again: agent %d, conversation %d; want 200, 100", a, c)
		}
		// A turn without reported usage is kept and counts nothing.
		unknown := Turn{Conversation: "c1", Seq: 5, Agent: "helper", At: at}
		if err := s.Record(ctx, unknown, agentC, convC); err != nil {
			t.Fatal(err)
		}
		if a := total(other, agentC); a != 200 {
			t.Errorf("after an unreported turn: agent %d, want 200", a)
		}
		got, err := other.Turns(ctx, "c1", 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []Turn{t1, t2, unknown}; !reflect.DeepEqual(got, want) {
			t.Errorf("turns = %+v\nwant    %+v", got, want)
		}
		if got, _ := s.Turns(ctx, "c1", 2); len(got) != 2 || got[1].Seq != 3 {
			t.Errorf("turns, limit 2 = %+v", got)
		}
		if got, _ := s.Turns(ctx, "c3", 10); len(got) != 0 {
			t.Errorf("turns of a conversation without any = %+v", got)
		}
		if got := total(s, AgentCounter("helper", PeriodOf(PeriodMonth, at.AddDate(0, 1, 0)))); got != 0 {
			t.Errorf("next month's total = %d, want 0", got)
		}
	})

	// A call that uses tools sends several requests: each is a turn of its
	// own (Step), counted once however many attempts record it — the
	// attempt that sent it, and a takeover that finds it recorded.
	t.Run("steps of one call", func(t *testing.T) {
		s, other := fresh(t)
		step0, step1 := turn("c1", 7, 20, 3), turn("c1", 7, 40, 9)
		step1.Step = 1
		if step0.ID() != "c1/7/helper" || step1.ID() != "c1/7/helper/1" {
			t.Errorf("ids = %q, %q", step0.ID(), step1.ID())
		}
		if err := s.Record(ctx, step0, agentC, convC); err != nil {
			t.Fatal(err)
		}
		for range 2 { // another instance, then the same once more
			if err := other.Record(ctx, step1, agentC, convC); err != nil {
				t.Fatal(err)
			}
		}
		if err := other.Record(ctx, step0, agentC, convC); err != nil {
			t.Fatal(err)
		}
		if a, c := total(s, agentC), total(other, convC); a != 72 || c != 72 {
			t.Errorf("totals = agent %d, conversation %d; want 72 (both steps, once each)", a, c)
		}
		got, err := s.Turns(ctx, "c1", 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []Turn{step0, step1}; !reflect.DeepEqual(got, want) {
			t.Errorf("turns = %+v\nwant    %+v", got, want)
		}
	})

	// Turns counted at once, through two handles, into the same counters:
	// every one counted exactly once.
	t.Run("concurrent turns", func(t *testing.T) {
		s, other := fresh(t)
		const n = 12
		var wg sync.WaitGroup
		for i := range n {
			h := s
			if i%2 == 1 {
				h = other
			}
			wg.Go(func() {
				if err := h.Record(ctx, turn("c1", int64(i+1), int64(i+1), 1), agentC, convC); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		want := int64(n*(n+1)/2 + n)
		for _, h := range []Store{s, other} {
			if a, c := total(h, agentC), total(h, convC); a != want || c != want {
				t.Errorf("totals = %d, %d; want %d", a, c, want)
			}
		}
		if got, _ := s.Turns(ctx, "c1", 100); len(got) != n {
			t.Errorf("turns = %d, want %d", len(got), n)
		}
	})
}

func TestPeriodOf(t *testing.T) {
	at := time.Date(2026, 12, 31, 23, 30, 0, 0, time.FixedZone("x", -2*3600)) // 01:30 UTC on Jan 1st
	for kind, want := range map[string]string{PeriodMonth: "2027-01", PeriodDay: "2027-01-01", PeriodTotal: "total"} {
		if got := PeriodOf(kind, at); got != want {
			t.Errorf("PeriodOf(%s) = %s, want %s", kind, got, want)
		}
		if !ValidPeriod(kind) {
			t.Errorf("ValidPeriod(%s) = false", kind)
		}
	}
	if ValidPeriod("week") {
		t.Error("ValidPeriod(week) = true")
	}
	if got := fmt.Sprint(ConversationCounter("c1", "helper", "2026-12")); got != "conversation/c1/helper/2026-12" {
		t.Errorf("counter = %s", got)
	}
}
