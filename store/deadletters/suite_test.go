package deadletters

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/store"
)

// runSuite checks Store's contract (deadletters.go) against a fresh, empty
// store per subtest: Mongo on the test MongoDB and Memory both run it.
func runSuite(t *testing.T, fresh func(t *testing.T) Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 123456789, time.FixedZone("x", 3600))
	letter := func(id string, at time.Time) Letter {
		return Letter{EventID: id, Source: "/agentchat/connector/c1", Type: "io.agentchat.message.sent", Subject: "m-" + id,
			Conversation: "c1", ErrorDest: "http://persist", ErrorCode: "500", ErrorData: "eyJ0eXBlIjoiYm9vbSJ9",
			Event: []byte(`{"specversion":"1.0","id":"` + id + `"}`), Size: 40, DeadAt: at}
	}

	t.Run("put, get, idempotent by source and id", func(t *testing.T) {
		s := fresh(t)
		l := letter("e1", t0)
		l.ErrorData = strings.Repeat("x", MaxErrorData+10)
		created, err := s.Put(ctx, l)
		if err != nil || !created {
			t.Fatalf("Put = %v, %v; want created", created, err)
		}
		want := l
		want.ID, want.State = Key(l.Source, l.EventID), Dead
		want.DeadAt = t0.UTC().Truncate(time.Millisecond)
		want.LastDeadAt, want.ErrorData = want.DeadAt, l.ErrorData[:MaxErrorData]
		want.ExpireAt = want.DeadAt.Add(DefaultRetention)
		got, err := s.Get(ctx, want.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Get = %+v, %v;\nwant %+v", got, err, want)
		}
		again := letter("e1", t0.Add(time.Minute))
		again.ErrorCode = "503"
		if created, err := s.Put(ctx, again); err != nil || created {
			t.Fatalf("Put again = %v, %v; want not created", created, err)
		}
		if got, _ := s.Get(ctx, want.ID); got.ErrorCode != "500" || !got.LastDeadAt.Equal(want.DeadAt) {
			t.Errorf("a redelivery changed the letter: %+v", got)
		}
		other := letter("e1", t0)
		other.Source = "/agentchat/route"
		if created, err := s.Put(ctx, other); err != nil || !created {
			t.Errorf("same id, other source: %v, %v; want a letter of its own", created, err)
		}
		if _, err := s.Get(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(absent) = %v, want ErrNotFound", err)
		}
		got.Event[0] = 'X' // a copy
		if got, _ := s.Get(ctx, want.ID); !bytes.Equal(got.Event, l.Event) {
			t.Errorf("Get's event is not a copy")
		}
	})

	t.Run("replayed, then dead again", func(t *testing.T) {
		s := fresh(t)
		l := letter("e2", t0)
		if _, err := s.Put(ctx, l); err != nil {
			t.Fatal(err)
		}
		id := Key(l.Source, l.EventID)
		at := t0.Add(time.Minute)
		got, err := s.MarkReplayed(ctx, id, "u-admin", at)
		if err != nil || got.State != Replayed || got.ReplayedBy != "u-admin" || got.Replays != 1 ||
			got.ReplayedAt == nil || !got.ReplayedAt.Equal(at.UTC().Truncate(time.Millisecond)) {
			t.Fatalf("MarkReplayed = %+v, %v", got, err)
		}
		if _, err := s.MarkReplayed(ctx, "nope", "u-admin", at); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MarkReplayed(absent) = %v, want ErrNotFound", err)
		}
		// A late redelivery of the first death changes nothing...
		if _, err := s.Put(ctx, letter("e2", t0)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, id); got.State != Replayed {
			t.Errorf("after a late redelivery: %s, want replayed", got.State)
		}
		// ...a death after the replay makes it dead again.
		died := letter("e2", at.Add(time.Minute))
		died.ErrorCode = "400"
		if created, err := s.Put(ctx, died); err != nil || created {
			t.Fatalf("Put after replay = %v, %v", created, err)
		}
		got, _ = s.Get(ctx, id)
		if got.State != Dead || got.ErrorCode != "400" || !got.LastDeadAt.Equal(died.DeadAt.UTC().Truncate(time.Millisecond)) ||
			!got.DeadAt.Equal(t0.UTC().Truncate(time.Millisecond)) || got.Replays != 1 {
			t.Errorf("dead again = %+v", got)
		}
	})

	t.Run("expire after the retention, counted from the latest death", func(t *testing.T) {
		s := fresh(t)
		old, young, again := letter("x1", t0), letter("x2", t0.Add(time.Hour)), letter("x3", t0)
		for _, l := range []Letter{old, young, again} {
			if _, err := s.Put(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		// x3 replayed, then dead again a day later: kept a day longer.
		if _, err := s.MarkReplayed(ctx, Key(again.Source, again.EventID), "u-admin", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, letter("x3", t0.Add(24*time.Hour))); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Expire(ctx, t0.Add(DefaultRetention-time.Millisecond)); n != 0 || err != nil {
			t.Errorf("Expire before any retention ended = %d, %v; want 0", n, err)
		}
		if n, err := s.Expire(ctx, t0.Add(DefaultRetention+time.Minute)); n != 1 || err != nil {
			t.Errorf("Expire after x1's retention = %d, %v; want 1", n, err)
		}
		for id, want := range map[string]error{"x1": store.ErrNotFound, "x2": nil, "x3": nil} {
			if _, err := s.Get(ctx, Key(old.Source, id)); !errors.Is(err, want) {
				t.Errorf("Get(%s) after the first expiry = %v, want %v", id, err, want)
			}
		}
		if n, err := s.Expire(ctx, t0.Add(DefaultRetention+25*time.Hour)); n != 2 || err != nil {
			t.Errorf("Expire after every retention = %d, %v; want 2", n, err)
		}
		if all, _ := s.List(ctx, Query{Limit: 10}); len(all) != 0 {
			t.Errorf("left after expiry: %+v", all)
		}
	})

	t.Run("list pages newest first, filters, no events", func(t *testing.T) {
		s := fresh(t)
		ats := []time.Duration{0, time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second}
		byKey := map[string]string{}
		for i, d := range ats {
			l := letter(fmt.Sprintf("e%d", i), t0.Add(d))
			if i%2 == 1 {
				l.Type = "io.agentchat.agent.invoke"
			}
			if _, err := s.Put(ctx, l); err != nil {
				t.Fatal(err)
			}
			byKey[Key(l.Source, l.EventID)] = l.EventID
		}
		if _, err := s.MarkReplayed(ctx, Key("/agentchat/connector/c1", "e4"), "u-admin", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var ids []string
		q := Query{Limit: 2}
		for range 4 {
			page, err := s.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, l := range page {
				if l.Event != nil {
					t.Errorf("List returned the event of %s", l.EventID)
				}
				ids = append(ids, l.EventID)
			}
			q.Before = CursorOf(page[len(page)-1])
		}
		// e2 and e3 share a millisecond: the larger key comes first.
		k2, k3 := Key("/agentchat/connector/c1", "e2"), Key("/agentchat/connector/c1", "e3")
		mid := []string{"e2", "e3"}
		if k3 > k2 {
			mid = []string{"e3", "e2"}
		}
		if want := append(append([]string{"e4"}, mid...), "e1", "e0"); !reflect.DeepEqual(ids, want) {
			t.Errorf("pages = %v, want %v", ids, want)
		}
		for _, c := range []struct {
			q    Query
			want int
		}{
			{Query{State: Dead, Limit: 10}, 4},
			{Query{State: Replayed, Limit: 10}, 1},
			{Query{Type: "io.agentchat.agent.invoke", Limit: 10}, 2},
			{Query{Type: "io.agentchat.agent.invoke", State: Replayed, Limit: 10}, 0},
		} {
			got, err := s.List(ctx, c.q)
			if err != nil || len(got) != c.want {
				t.Errorf("List(%+v) = %d letters, %v; want %d", c.q, len(got), err, c.want)
			}
		}
	})
}

func TestMemory(t *testing.T) { runSuite(t, func(*testing.T) Store { return NewMemory() }) }
