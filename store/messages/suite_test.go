package messages

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store"
)

// backend is one implementation under the suite: a fresh, empty one per
// call.
type backend interface {
	Store
	Cursors
}

// runSuite checks the contract of Store and Cursors (messages.go) against
// a fresh backend per subtest. Mongo (on the test MongoDB: FerretDB here),
// Memory and GroupCommit all run it.
func runSuite(t *testing.T, fresh func(t *testing.T) backend) {
	ctx := context.Background()
	t.Run("insert then read", func(t *testing.T) {
		s := fresh(t)
		m := message("c1", 1, "alice", "a1", "m1")
		m.Audience = &events.Audience{Devices: []events.DeviceRef{{User: "alice", Device: "a1"}}}
		if err := s.Insert(ctx, m); err != nil {
			t.Fatal(err)
		}
		m.Audience = nil // not part of what is stored
		got, err := s.At(ctx, "c1", 1, AllDevices)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("At = %+v, want %+v", got, m)
		}
		if got, err := s.ByKey(ctx, KeyOf(m), AllDevices); err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("ByKey = %+v, %v; want %+v", got, err, m)
		}
		for seq, want := range map[int64]bool{0: false, 1: true, 2: false} {
			if got, err := s.Has(ctx, "c1", seq); err != nil || got != want {
				t.Errorf("Has(%d) = %v, %v; want %v", seq, got, err, want)
			}
		}
		if _, err := s.At(ctx, "c1", 2, AllDevices); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("At(absent) err = %v, want ErrNotFound", err)
		}
		if _, err := s.At(ctx, "c2", 1, AllDevices); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("At(other conversation) err = %v, want ErrNotFound", err)
		}
		if _, err := s.ByKey(ctx, Key{"c1", "alice", "a1", "m2"}, AllDevices); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ByKey(absent) err = %v, want ErrNotFound", err)
		}
	})
	t.Run("a signature is stored as sent, and so is its absence", func(t *testing.T) {
		s := fresh(t)
		signed, unsigned := message("c1", 1, "alice", "a1", "m1"), message("c1", 2, "alice", "a1", "m2")
		signed.Envelope.Sig = make([]byte, e2ee.SignatureSize)
		_, _ = rand.Read(signed.Envelope.Sig)
		for _, m := range []events.Message{signed, unsigned} {
			if err := s.Insert(ctx, m); err != nil {
				t.Fatal(err)
			}
			got, err := s.At(ctx, m.ConversationID, m.Seq, AllDevices)
			if err != nil || !reflect.DeepEqual(got, m) {
				t.Fatalf("At(%d) = %+v, %v; want %+v", m.Seq, got, err, m)
			}
		}
	})
	t.Run("a sender-key envelope (v2) is stored with its epoch and index", func(t *testing.T) {
		s := fresh(t)
		group, withAgent := message("c1", 1, "alice", "a1", "m1"), message("c1", 2, "alice", "a1", "m2")
		group.Envelope.V, group.Envelope.Epoch, group.Envelope.Index, group.Envelope.Keys = e2ee.Version2, 0xfedcba98, 41, nil
		withAgent.Envelope.V, withAgent.Envelope.Epoch, withAgent.Envelope.Index = e2ee.Version2, 0xfedcba98, 0
		withAgent.Envelope.Keys = withAgent.Envelope.Keys[:1] // the agent's device's key alone
		for _, m := range []events.Message{group, withAgent} {
			if err := s.Insert(ctx, m); err != nil {
				t.Fatal(err)
			}
			got, err := s.At(ctx, m.ConversationID, m.Seq, AllDevices)
			if err != nil || !reflect.DeepEqual(got, m) {
				t.Fatalf("At(%d) = %+v, %v; want %+v", m.Seq, got.Envelope, err, m.Envelope)
			}
		}
	})
	t.Run("a distribution is read with the reader's key only", func(t *testing.T) {
		s := fresh(t)
		big, small := distribution("c1", 1, "alice", "a1", 7, 1024), distribution("c1", 2, "alice", "a1", 8, 3)
		direct := message("c1", 3, "alice", "a1", "m3") // a v1 message that is no distribution: whole for anyone
		direct.Envelope.Keys = append(direct.Envelope.Keys, distribution("c1", 0, "", "", 9, 1).Envelope.Keys...)
		ms := []events.Message{big, small, direct}
		for _, m := range ms {
			if err := s.Insert(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		// as device reads m: a distribution with device's key alone
		as := func(m events.Message, device string) events.Message {
			if !IsDistribution(m) || device == AllDevices {
				return m
			}
			env := *m.Envelope
			env.Keys = nil
			for _, k := range m.Envelope.Keys {
				if k.Device == device {
					env.Keys = []e2ee.WrappedKey{k}
				}
			}
			m.Envelope = &env
			return m
		}
		for _, device := range []string{"dv-0513", "dv-0000", "dv-1023", "dv-0002", NoDevice, "dv-nobody", AllDevices} {
			for _, m := range ms {
				want := as(m, device)
				if got, err := s.At(ctx, "c1", m.Seq, device); err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("At(%d, %q): keys %v, %v; want %v", m.Seq, device, got.Envelope.Devices(), err, want.Envelope.Devices())
				}
				if got, err := s.ByKey(ctx, KeyOf(m), device); err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("ByKey(%s, %q): keys %v, %v; want %v", m.ClientMessageID, device, got.Envelope.Devices(), err, want.Envelope.Devices())
				}
			}
			page, err := s.After(ctx, "c1", 0, 10, device)
			if err != nil || len(page) != len(ms) {
				t.Fatalf("After(%q) = %d messages, %v", device, len(page), err)
			}
			for i, m := range ms {
				if want := as(m, device); !reflect.DeepEqual(page[i], want) {
					t.Fatalf("After(%q)[%d]: keys %v, want %v", device, i, page[i].Envelope.Devices(), want.Envelope.Devices())
				}
			}
		}
		if got, _ := s.At(ctx, "c1", 1, "dv-0513"); len(got.Envelope.Keys) != 1 || got.Envelope.Keys[0].Device != "dv-0513" {
			t.Fatalf("dv-0513 reads keys %v", got.Envelope.Devices())
		}
	})
	t.Run("a distribution is stored once whatever its attempts", func(t *testing.T) {
		s := fresh(t)
		d := distribution("c1", 1, "alice", "a1", 7, 1024)
		if err := s.Insert(ctx, message("c1", 1, "bob", "b1", "m1")); err != nil {
			t.Fatal(err)
		}
		// A lost seq race: the keys may be written, the message is not.
		if err := s.Insert(ctx, d); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("at a taken seq: err = %v, want ErrDuplicate", err)
		}
		d.Seq = 2
		if err := s.Insert(ctx, d); err != nil {
			t.Fatalf("at the next seq: %v", err)
		}
		// A resend as sent, and one sealed anew (other keys, same id).
		again, resealed := d, distribution("c1", 3, "alice", "a1", 7, 1024)
		again.Seq = 3
		for name, m := range map[string]events.Message{"resend": again, "resealed": resealed} {
			if err := s.Insert(ctx, m); !errors.Is(err, store.ErrDuplicate) {
				t.Errorf("%s: err = %v, want ErrDuplicate", name, err)
			}
			if n, err := s.InsertMany(ctx, []events.Message{m}); n != 0 || !errors.Is(err, store.ErrDuplicate) {
				t.Errorf("%s in a batch: InsertMany = %d, %v; want 0, ErrDuplicate", name, n, err)
			}
		}
		if ok, _ := s.Has(ctx, "c1", 3); ok {
			t.Fatal("a refused distribution took a seq")
		}
		if got, err := s.At(ctx, "c1", 2, AllDevices); err != nil || !reflect.DeepEqual(got, d) {
			t.Fatalf("At(2, all): %d keys, %v; want the first as sent", len(got.Envelope.Keys), err)
		}
		if got, err := s.ByKey(ctx, KeyOf(d), "dv-0700"); err != nil || got.Seq != 2 ||
			!reflect.DeepEqual(got.Envelope.Keys, d.Envelope.Keys[700:701]) {
			t.Fatalf("ByKey(dv-0700) = seq %d keys %v, %v; want the first's key", got.Seq, got.Envelope.Devices(), err)
		}
	})
	t.Run("a batch with a distribution inside", func(t *testing.T) {
		s := fresh(t)
		batch := []events.Message{message("c1", 1, "bob", "b1", "m1"), distribution("c1", 2, "alice", "a1", 7, 1024),
			message("c1", 3, "bob", "b1", "m3"), distribution("c1", 4, "carol", "c9", 1, 100)}
		if n, err := s.InsertMany(ctx, batch); n != len(batch) || err != nil {
			t.Fatalf("InsertMany = %d, %v", n, err)
		}
		page, err := s.After(ctx, "c1", 0, 10, "dv-0042")
		if err != nil || len(page) != len(batch) {
			t.Fatalf("After = %d messages, %v", len(page), err)
		}
		for i, m := range page {
			switch {
			case m.ClientMessageID != batch[i].ClientMessageID || m.Seq != int64(i+1):
				t.Fatalf("page[%d] = %s at %d", i, m.ClientMessageID, m.Seq)
			case IsDistribution(m) && !reflect.DeepEqual(m.Envelope.Keys, batch[i].Envelope.Keys[42:43]):
				t.Fatalf("page[%d]: keys %v, want dv-0042's", i, m.Envelope.Devices())
			case !IsDistribution(m) && !reflect.DeepEqual(m, batch[i]):
				t.Fatalf("page[%d] = %+v, want %+v", i, m, batch[i])
			}
		}
		if page, err = s.After(ctx, "c1", 0, 10, AllDevices); err != nil || !reflect.DeepEqual(page, batch) {
			t.Fatalf("After(all) is not the batch as sent: %v", err)
		}
		// A batch refused before its distribution: stored at its next attempt.
		d := distribution("c1", 6, "dave", "d1", 3, 1024)
		if n, err := s.InsertMany(ctx, []events.Message{message("c1", 4, "bob", "b1", "m5"), d}); n != 0 || !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("InsertMany at a taken seq = %d, %v; want 0, ErrDuplicate", n, err)
		}
		d.Seq = 5
		if n, err := s.InsertMany(ctx, []events.Message{d}); n != 1 || err != nil {
			t.Fatalf("InsertMany = %d, %v", n, err)
		}
		if got, err := s.At(ctx, "c1", 5, AllDevices); err != nil || !reflect.DeepEqual(got, d) {
			t.Fatalf("At(5, all): %d keys, %v; want as sent", len(got.Envelope.Keys), err)
		}
	})
	t.Run("a membership entry is stored without an envelope", func(t *testing.T) {
		s := fresh(t)
		m := events.Message{ConversationID: "c1", Seq: 1, SenderID: "alice", SenderDevice: "system",
			ClientMessageID: protocol.SystemID(2), StoredAt: time.Now().UTC().Truncate(time.Millisecond),
			System: &protocol.MemberChange{Op: protocol.MemberRemove, User: "bob", By: "alice", Rev: 2, Promoted: "carol"}}
		if err := s.Insert(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := s.Insert(ctx, m); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("the same entry again: err = %v, want ErrDuplicate", err)
		}
		got, err := s.At(ctx, "c1", 1, AllDevices)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("At = %+v, %v; want %+v", got, err, m)
		}
		if got, err := s.After(ctx, "c1", 0, 10, AllDevices); err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], m) {
			t.Fatalf("After = %+v, %v; want [%+v]", got, err, m)
		}
	})
	t.Run("what is read cannot change what is stored", func(t *testing.T) {
		s := fresh(t)
		m := message("c1", 1, "alice", "a1", "m1")
		if err := s.Insert(ctx, m); err != nil {
			t.Fatal(err)
		}
		want := m.Envelope.Ciphertext[0]
		m.Envelope.Ciphertext[0]++
		got, _ := s.At(ctx, "c1", 1, AllDevices)
		got.Envelope.Ciphertext[0]++
		if again, _ := s.At(ctx, "c1", 1, AllDevices); again.Envelope.Ciphertext[0] != want {
			t.Fatal("the stored envelope changed through a caller's copy")
		}
	})
	t.Run("a seq and a key are stored once", func(t *testing.T) {
		s := fresh(t)
		first := message("c1", 1, "alice", "a1", "m1")
		if err := s.Insert(ctx, first); err != nil {
			t.Fatal(err)
		}
		for name, m := range map[string]events.Message{
			"same seq, other message":     message("c1", 1, "bob", "b1", "m9"),
			"same key, next seq (resend)": message("c1", 2, "alice", "a1", "m1"),
			"same message again":          first,
		} {
			if err := s.Insert(ctx, m); !errors.Is(err, store.ErrDuplicate) {
				t.Errorf("%s: err = %v, want ErrDuplicate", name, err)
			}
		}
		if ok, _ := s.Has(ctx, "c1", 2); ok {
			t.Error("a refused insert wrote its seq")
		}
		// The same seq and key in another conversation are another message.
		if err := s.Insert(ctx, message("c2", 1, "alice", "a1", "m1")); err != nil {
			t.Errorf("other conversation: %v", err)
		}
	})
	t.Run("a batch is stored in order up to the first refused", func(t *testing.T) {
		s := fresh(t)
		stored := func(conv string) string {
			t.Helper()
			page, err := s.After(ctx, conv, 0, 10, AllDevices)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for i, m := range page {
				if m.Seq != int64(i+1) {
					t.Fatalf("%s: page[%d].Seq = %d: not gapless", conv, i, m.Seq)
				}
				ids = append(ids, m.ClientMessageID)
			}
			return strings.Join(ids, ",")
		}
		if n, err := s.InsertMany(ctx, []events.Message{message("c0", 1, "alice", "a1", "m1"), message("c0", 2, "bob", "b1", "m2")}); n != 2 || err != nil {
			t.Fatalf("InsertMany = %d, %v; want 2, nil", n, err)
		}
		if got := stored("c0"); got != "m1,m2" {
			t.Errorf("stored %s, want m1,m2", got)
		}
		for conv, batch := range map[string][]events.Message{
			"c1": {message("c1", 2, "bob", "b1", "m2"), message("c1", 3, "alice", "a1", "m1"), message("c1", 4, "bob", "b1", "m4")}, // a resend
			"c2": {message("c2", 2, "bob", "b1", "m2"), message("c2", 1, "bob", "b1", "m3"), message("c2", 4, "bob", "b1", "m4")},   // a seq taken
		} {
			if err := s.Insert(ctx, message(conv, 1, "alice", "a1", "m1")); err != nil {
				t.Fatal(err)
			}
			n, err := s.InsertMany(ctx, batch)
			if n != 1 || !errors.Is(err, store.ErrDuplicate) {
				t.Errorf("%s: InsertMany = %d, %v; want 1, ErrDuplicate", conv, n, err)
			}
			if got := stored(conv); got != "m1,m2" {
				t.Errorf("%s: stored %s, want m1,m2 (nothing past the refused one)", conv, got)
			}
		}
		if n, err := s.InsertMany(ctx, nil); n != 0 || err != nil {
			t.Errorf("InsertMany(nil) = %d, %v", n, err)
		}
	})
	t.Run("concurrent writers get each seq once", func(t *testing.T) {
		s := fresh(t)
		const writers, each = 4, 10
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if err := insertNext(ctx, s, message("c1", 0, "alice", "a1", fmt.Sprintf("w%d-%d", w, i))); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		page, err := s.After(ctx, "c1", 0, 100, AllDevices)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != writers*each {
			t.Fatalf("%d messages, want %d", len(page), writers*each)
		}
		for i, m := range page {
			if m.Seq != int64(i+1) {
				t.Fatalf("page[%d].Seq = %d: not gapless", i, m.Seq)
			}
		}
	})
	t.Run("pages and the last seq", func(t *testing.T) {
		s := fresh(t)
		const n = 40
		for seq := int64(1); seq <= n; seq++ {
			if err := s.Insert(ctx, message("c1", seq, "alice", "a1", fmt.Sprint("m", seq))); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Insert(ctx, message("c2", 1, "alice", "a1", "x")); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			after      int64
			limit      int
			first, cnt int64
		}{{0, 10, 1, 10}, {0, 100, 1, n}, {35, 10, 36, 5}, {n, 10, 0, 0}, {n + 5, 10, 0, 0}, {3, 17, 4, 17}, {0, 0, 0, 0}} {
			page, err := s.After(ctx, "c1", tc.after, tc.limit, AllDevices)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(page)) != tc.cnt {
				t.Errorf("After(%d, %d): %d messages, want %d", tc.after, tc.limit, len(page), tc.cnt)
				continue
			}
			for i, m := range page {
				if m.Seq != tc.first+int64(i) || m.ConversationID != "c1" || m.ClientMessageID != fmt.Sprint("m", m.Seq) {
					t.Errorf("After(%d, %d)[%d] = seq %d %s", tc.after, tc.limit, i, m.Seq, m.ClientMessageID)
				}
			}
		}
		// guess: anywhere; missing: only ever a seq that is absent
		for _, g := range [][2]int64{{0, 0}, {n, 0}, {n, n + 1}, {5, 0}, {0, n + 1}, {n + 10, 0}, {39, 41}, {7, 100}} {
			if last, err := s.LastSeq(ctx, "c1", g[0], g[1]); err != nil || last != n {
				t.Errorf("LastSeq(guess %d, missing %d) = %d, %v; want %d", g[0], g[1], last, err, n)
			}
		}
		if last, err := s.LastSeq(ctx, "c3", 0, 0); err != nil || last != 0 {
			t.Errorf("LastSeq(empty) = %d, %v; want 0", last, err)
		}
		if last, err := s.LastSeq(ctx, "c3", 7, 0); err != nil || last != 0 {
			t.Errorf("LastSeq(empty, guess 7) = %d, %v; want 0", last, err)
		}
	})
	t.Run("cursors move forward only", func(t *testing.T) {
		s := fresh(t)
		if got, err := s.Get(ctx, "c1", []string{"bob"}); err != nil || len(got) != 0 {
			t.Fatalf("Get before any receipt = %v, %v", got, err)
		}
		steps := []struct {
			delivered, read int64
			want            events.Cursor
		}{
			{3, 0, events.Cursor{User: "bob", Delivered: 3}},
			{2, 0, events.Cursor{User: "bob", Delivered: 3}},
			{0, 2, events.Cursor{User: "bob", Delivered: 3, Read: 2}},
			{0, 5, events.Cursor{User: "bob", Delivered: 5, Read: 5}}, // read implies delivered
			{4, 4, events.Cursor{User: "bob", Delivered: 5, Read: 5}},
			{0, 0, events.Cursor{User: "bob", Delivered: 5, Read: 5}},
			{9, 6, events.Cursor{User: "bob", Delivered: 9, Read: 6}},
		}
		for i, st := range steps {
			if err := s.Advance(ctx, "c1", "bob", st.delivered, st.read); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, "c1", []string{"bob"})
			if err != nil || len(got) != 1 || got[0] != st.want {
				t.Fatalf("step %d: Advance(%d, %d): Get = %v, %v; want %v", i, st.delivered, st.read, got, err, st.want)
			}
		}
		if err := s.Advance(ctx, "c1", "carol", 1, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Advance(ctx, "c2", "dave", 7, 7); err != nil {
			t.Fatal(err)
		}
		users := []string{"carol", "nobody", "bob"}
		for i := range 20 { // more than one window of lookups
			users = append(users, fmt.Sprint("x", i))
		}
		got, err := s.Get(ctx, "c1", users)
		want := []events.Cursor{{User: "carol", Delivered: 1}, {User: "bob", Delivered: 9, Read: 6}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Get = %v, %v; want %v", got, err, want)
		}
	})
	t.Run("concurrent first receipts of one member", func(t *testing.T) {
		s := fresh(t)
		var wg sync.WaitGroup
		for seq := range int64(8) {
			wg.Go(func() {
				if err := s.Advance(ctx, "c1", "bob", seq+1, 0); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		// Concurrent raises may leave a lower value on FerretDB (its $max
		// is read-modify-write); one more receipt repairs it.
		if err := s.Advance(ctx, "c1", "bob", 8, 0); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "c1", []string{"bob"})
		if err != nil || len(got) != 1 || got[0].Delivered != 8 {
			t.Fatalf("Get = %v, %v; want delivered 8", got, err)
		}
	})
}

// insertNext stores m under its conversation's next seq the way a writer
// must: insert last+1 and, when refused, look again.
func insertNext(ctx context.Context, s Store, m events.Message) error {
	last := int64(0)
	for range 200 {
		m.Seq = last + 1
		err := s.Insert(ctx, m)
		if !errors.Is(err, store.ErrDuplicate) {
			return err
		}
		var lerr error
		if last, lerr = s.LastSeq(ctx, m.ConversationID, m.Seq, 0); lerr != nil {
			return lerr
		}
	}
	return fmt.Errorf("insertNext: seq kept being taken")
}

// message is a valid stored message with a random envelope for one device.
func message(conv string, seq int64, sender, device, cmid string) events.Message {
	rnd := func(n int) []byte { b := make([]byte, n); _, _ = rand.Read(b); return b }
	return events.Message{ConversationID: conv, Seq: seq, SenderID: sender, SenderDevice: device, ClientMessageID: cmid,
		Envelope: &e2ee.Envelope{V: e2ee.Version, Nonce: rnd(12), Ciphertext: rnd(48),
			Keys: []e2ee.WrappedKey{{Device: device, Ephemeral: rnd(32), Nonce: rnd(12), Wrapped: rnd(48)}}},
		StoredAt: time.Now().UTC().Truncate(time.Millisecond)}
}

// distribution is a sender key distribution (v1, signed) of epoch for n
// devices dv-0000, dv-0001, ...
func distribution(conv string, seq int64, sender, device string, epoch uint32, n int) events.Message {
	rnd := func(n int) []byte { b := make([]byte, n); _, _ = rand.Read(b); return b }
	env := &e2ee.Envelope{V: e2ee.Version, Nonce: rnd(12), Ciphertext: rnd(120), Sig: rnd(e2ee.SignatureSize)}
	for i := range n {
		env.Keys = append(env.Keys, e2ee.WrappedKey{Device: fmt.Sprintf("dv-%04d", i), Ephemeral: rnd(32), Nonce: rnd(12), Wrapped: rnd(48)})
	}
	return events.Message{ConversationID: conv, Seq: seq, SenderID: sender, SenderDevice: device,
		ClientMessageID: e2ee.DistributionID(epoch), Envelope: env, StoredAt: time.Now().UTC().Truncate(time.Millisecond)}
}
