package audit

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/store"
)

// runSuite checks Log's contract (audit.go) against a fresh, empty log per
// subtest: Mongo on the test MongoDB and Memory both run it.
func runSuite(t *testing.T, fresh func(t *testing.T) Log) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 123456789, time.FixedZone("x", 3600))

	t.Run("begin, finish once, list", func(t *testing.T) {
		l := fresh(t)
		e := Entry{ID: "e1", At: t0, Actor: "u-admin", ActorDevice: "dv-1", Action: "user.suspend", Target: "u-bob", Outcome: OK}
		if err := l.Begin(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := l.Begin(ctx, e); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("second Begin = %v, want ErrDuplicate", err)
		}
		got, err := l.List(ctx, Query{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		want := e
		want.At, want.Outcome = t0.UTC().Truncate(time.Millisecond), Pending
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Fatalf("List after Begin = %+v, want [%+v]", got, want)
		}
		t1 := t0.Add(time.Second)
		if err := l.Finish(ctx, "e1", OK, 204, "", t1); err != nil {
			t.Fatal(err)
		}
		if err := l.Finish(ctx, "e1", Failed, 500, "late", t1.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := l.Finish(ctx, "nope", OK, 200, "", t1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Finish(absent) = %v, want ErrNotFound", err)
		}
		got, err = l.List(ctx, Query{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		want.Outcome, want.Status, want.FinishedAt = OK, 204, t1.UTC().Truncate(time.Millisecond)
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Fatalf("List after Finish = %+v, want [%+v] (the first outcome kept)", got, want)
		}
	})

	t.Run("filters and pages newest first", func(t *testing.T) {
		l := fresh(t)
		// Five entries, two of them at the same millisecond (the id breaks the tie).
		ats := []time.Duration{0, time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second}
		for i, d := range ats {
			e := Entry{ID: fmt.Sprintf("e%d", i), At: t0.Add(d), Actor: "a" + fmt.Sprint(i%2), Action: "user.list", Target: "t" + fmt.Sprint(i%3)}
			if err := l.Begin(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		var ids []string
		q := Query{Limit: 2}
		for range 4 {
			page, err := l.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				ids = append(ids, e.ID)
			}
			q.Before = CursorOf(page[len(page)-1])
		}
		if want := []string{"e4", "e3", "e2", "e1", "e0"}; !reflect.DeepEqual(ids, want) {
			t.Errorf("pages = %v, want %v", ids, want)
		}
		for _, c := range []struct {
			q    Query
			want []string
		}{
			{Query{Actor: "a1", Limit: 10}, []string{"e3", "e1"}},
			{Query{Target: "t0", Limit: 10}, []string{"e3", "e0"}},
			{Query{Action: "user.suspend", Limit: 10}, nil},
			{Query{Actor: "a0", Target: "t1", Limit: 10}, []string{"e4"}},
		} {
			got, err := l.List(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			if !reflect.DeepEqual(ids, c.want) {
				t.Errorf("List(%+v) = %v, want %v", c.q, ids, c.want)
			}
		}
	})

	t.Run("denied attempts: one entry per actor, action and window", func(t *testing.T) {
		l := fresh(t)
		w0 := t0.UTC().Truncate(DenyWindow)
		deny := func(actor, action, target string, at time.Time) {
			t.Helper()
			e := Entry{ID: "ignored", At: at, Actor: actor, ActorDevice: "dv-" + actor, Action: action, Target: target, Status: 403, Detail: "this needs the admin role"}
			if err := l.Deny(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		// bob floods user.suspend: 50 attempts in one window, the last
		// 10 at once; then one in the next window. And one delete.
		for i := range 40 {
			deny("bob", "user.suspend", fmt.Sprint("u-", i), w0.Add(time.Duration(i)*time.Second))
		}
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() { deny("bob", "user.suspend", "u-x", w0.Add(50*time.Second)) })
		}
		wg.Wait()
		deny("bob", "user.suspend", "u-next", w0.Add(DenyWindow))
		deny("bob", "user.delete", "u-0", w0.Add(time.Second))
		got, err := l.List(ctx, Query{Actor: "bob", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("bob's entries = %+v, want 3", got)
		}
		next, del, flood := got[0], got[1], got[2]
		if next.ID != DenyID("bob", "user.suspend", w0.Add(DenyWindow)) || next.Attempts != 1 || next.Target != "u-next" {
			t.Errorf("the next window's entry = %+v", next)
		}
		if del.Action != "user.delete" || del.Attempts != 1 || del.Outcome != Denied {
			t.Errorf("the delete's entry = %+v", del)
		}
		want := Entry{ID: DenyID("bob", "user.suspend", w0), At: w0, Actor: "bob", ActorDevice: "dv-bob", Action: "user.suspend", Target: "u-0",
			Outcome: Denied, Status: 403, Detail: "this needs the admin role", FinishedAt: w0.Add(50 * time.Second), Attempts: flood.Attempts}
		if !reflect.DeepEqual(flood, want) {
			t.Errorf("the flood's entry = %+v,\nwant %+v", flood, want)
		}
		// Sequential attempts are each counted; concurrent ones may miss
		// some on FerretDB (the contract), never all.
		if flood.Attempts < 41 || flood.Attempts > 50 {
			t.Errorf("the flood's attempts = %d, want 41..50", flood.Attempts)
		}
	})
}

func TestMemory(t *testing.T) { runSuite(t, func(*testing.T) Log { return NewMemory() }) }
