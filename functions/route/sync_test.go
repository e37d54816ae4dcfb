package function

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/messages"
)

// syncOnce asks for what follows after and returns the batch delivered.
func syncOnce(t *testing.T, f *Function, w *watch, conv string, after int64, limit int) events.SyncBatch {
	t.Helper()
	return syncReq(t, f, w, conv, events.SyncRequested{After: after, Limit: limit})
}

// syncReq sends req as alice/a1 and returns the batch delivered.
func syncReq(t *testing.T, f *Function, w *watch, conv string, req events.SyncRequested) events.SyncBatch {
	t.Helper()
	handle(t, f, must(events.NewSyncRequested(events.SourceConnectorPrefix+"A", conv, "alice", "a1", req)))
	got := w.drain()
	if len(got) != 1 || got[0].connector != "A" || len(got[0].targets) != 1 || got[0].targets[0] != dev("alice", "a1") {
		t.Fatalf("deliveries %q, want one to A for alice/a1", summary(got))
	}
	b, err := events.Decode[events.SyncBatch](got[0].inner)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSyncPages runs with both message read strategies: FerretDB's
// (lookups by _id first) and MongoDB's (queries only).
func TestSyncPages(t *testing.T) {
	for _, ferret := range []bool{true, false} {
		name := map[bool]string{true: "ferretdb", false: "mongodb"}[ferret]
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t)
			seedGroup(fx)
			fx.messages("c1", 250, 32)
			w := fx.watch()
			f := fx.start(nil)
			f.deps.Load().dir.(*mongoDirectory).ferret = ferret

			var after int64
			var sizes []int
			var mores []bool
			for range 3 {
				b := syncOnce(t, f, w, "c1", after, 0)
				sizes, mores = append(sizes, len(b.Messages)), append(mores, b.More)
				for i, m := range b.Messages {
					if m.Seq != after+int64(i)+1 {
						t.Fatalf("after %d: messages[%d].seq = %d, want %d", after, i, m.Seq, after+int64(i)+1)
					}
				}
				if b.LastSeq != 250 {
					t.Errorf("after %d: lastSeq %d, want 250", after, b.LastSeq)
				}
				after += int64(len(b.Messages))
			}
			if got, want := sizes, []int{100, 100, 50}; !equal(got, want) {
				t.Errorf("batch sizes %v, want %v", got, want)
			}
			if got, want := mores, []bool{true, true, false}; !equal(got, want) {
				t.Errorf("more %v, want %v", got, want)
			}

			tests := []struct {
				after        int64
				limit        int
				wantN        int
				wantMore     bool
				wantLastSeq  int64
				wantFirstSeq int64
			}{
				{250, 0, 0, false, 250, 0},   // up to date
				{300, 0, 0, false, 250, 0},   // ahead of the server (a confused client)
				{245, 3, 3, true, 250, 246},  // an explicit limit
				{0, 500, 250, false, 250, 1}, // the maximum limit
			}
			for _, tt := range tests {
				b := syncOnce(t, f, w, "c1", tt.after, tt.limit)
				if len(b.Messages) != tt.wantN || b.More != tt.wantMore || b.LastSeq != tt.wantLastSeq {
					t.Errorf("after %d limit %d: %d messages, more %v, lastSeq %d; want %d, %v, %d",
						tt.after, tt.limit, len(b.Messages), b.More, b.LastSeq, tt.wantN, tt.wantMore, tt.wantLastSeq)
				}
				if tt.wantN > 0 && b.Messages[0].Seq != tt.wantFirstSeq {
					t.Errorf("after %d: first seq %d, want %d", tt.after, b.Messages[0].Seq, tt.wantFirstSeq)
				}
			}
		})
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSyncBatchesStayUnderTheEventSizeLimit: 10 messages of 60 KiB of
// ciphertext (80 KiB in JSON) cannot go in one event.
func TestSyncBatchesStayUnderTheEventSizeLimit(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.messages("c1", 10, 60<<10)
	w := fx.watch()
	f := fx.start(nil)
	var after int64
	var sizes []int
	for after < 10 {
		b := syncOnce(t, f, w, "c1", after, 0)
		if len(b.Messages) == 0 {
			t.Fatal("empty batch before the end")
		}
		if b.More != (after+int64(len(b.Messages)) < 10) {
			t.Errorf("after %d: more %v", after, b.More)
		}
		sizes = append(sizes, len(b.Messages))
		after += int64(len(b.Messages))
	}
	if len(sizes) < 3 {
		t.Errorf("batch sizes %v: want the 800 KiB split in 3 or more batches", sizes)
	}
}

func TestSyncByANonMemberOrARevokedDeviceIsRefused(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.messages("c1", 3, 16)
	w := fx.watch()
	f := fx.start(nil)
	for _, conv := range []string{"c1", "nope"} {
		handle(t, f, must(events.NewSyncRequested(events.SourceConnectorPrefix+"A", conv, "eve", "e1", events.SyncRequested{})))
		got := w.drain()
		if summary(got) != "A: eve/e1" {
			t.Fatalf("%s: deliveries %q, want one for eve/e1", conv, summary(got))
		}
		rej, err := events.Decode[events.MessageRejected](got[0].inner)
		if err != nil || rej.Code != protocol.CodeNotMember || rej.ClientMessageID != "" {
			t.Errorf("%s: got %+v (%v), want not_member without a message id", conv, rej, err)
		}
	}
	// dave's d1 is revoked (but still connected: its token has not expired).
	handle(t, f, must(events.NewSyncRequested(events.SourceConnectorPrefix+"B", "c1", "dave", "d1", events.SyncRequested{})))
	got := w.drain()
	if summary(got) != "B: dave/d1" {
		t.Fatalf("revoked device: deliveries %q, want one for dave/d1", summary(got))
	}
	if rej, err := events.Decode[events.MessageRejected](got[0].inner); err != nil || rej.Code != protocol.CodeUnauthorized {
		t.Errorf("revoked device: got %+v (%v), want unauthorized", rej, err)
	}
	// An offline device's request costs nothing and delivers nothing.
	handle(t, f, must(events.NewSyncRequested(events.SourceConnectorPrefix+"A", "c1", "carol", "c1d", events.SyncRequested{})))
	if got := summary(w.drain()); got != "" {
		t.Errorf("deliveries %q for an offline device", got)
	}
}

// A sync that asks for receipts gets the members' cursors with its last
// batch only (and none without asking).
func TestSyncCarriesCursors(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.messages("c1", 150, 16)
	fx.insert(collCursors, bson.M{"_id": "c1/bob", "conversation": "c1", "user": "bob", "delivered": int64(150), "read": int64(120)},
		bson.M{"_id": "c1/carol", "conversation": "c1", "user": "carol", "delivered": int64(90), "read": int64(0)},
		bson.M{"_id": "c2/dave", "conversation": "c2", "user": "dave", "delivered": int64(7), "read": int64(7)})
	w := fx.watch()
	f := fx.start(nil)
	if b := syncReq(t, f, w, "c1", events.SyncRequested{After: 0, Receipts: true}); !b.More || len(b.Cursors) != 0 {
		t.Errorf("first batch: more %v, %d cursors; want more and none yet", b.More, len(b.Cursors))
	}
	b := syncReq(t, f, w, "c1", events.SyncRequested{After: 100, Receipts: true})
	want := []events.Cursor{{User: "bob", Delivered: 150, Read: 120}, {User: "carol", Delivered: 90}}
	if b.More || len(b.Cursors) != 2 || b.Cursors[0] != want[0] || b.Cursors[1] != want[1] {
		t.Errorf("last batch: more %v, cursors %+v; want %+v", b.More, b.Cursors, want)
	}
	if b := syncReq(t, f, w, "c1", events.SyncRequested{After: 100}); len(b.Cursors) != 0 {
		t.Errorf("cursors without asking: %+v", b.Cursors)
	}
}

// Every answer to a sync carries the request's id, so a device with two
// syncs out can tell them apart; the batch is marked as the end of its
// answer (route answers each request with one batch).
func TestSyncAnswersCarryTheRequestID(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.messages("c1", 3, 16)
	w := fx.watch()
	f := fx.start(nil)
	for _, id := range []string{"sync:7", ""} {
		b := syncReq(t, f, w, "c1", events.SyncRequested{After: 0, Limit: 2, RequestID: id})
		if b.RequestID != id || !b.End || !b.More || len(b.Messages) != 2 {
			t.Errorf("request %q: batch id %q, end %v, more %v, %d messages; want its id, end, more, 2", id, b.RequestID, b.End, b.More, len(b.Messages))
		}
	}
	handle(t, f, must(events.NewSyncRequested(events.SourceConnectorPrefix+"A", "c1", "eve", "e1", events.SyncRequested{RequestID: "sync:8"})))
	got := w.drain()
	if summary(got) != "A: eve/e1" {
		t.Fatalf("deliveries %q, want one for eve/e1", summary(got))
	}
	if rej, err := events.Decode[events.MessageRejected](got[0].inner); err != nil || rej.Code != protocol.CodeNotMember || rej.ClientMessageID != "sync:8" {
		t.Errorf("refused sync: got %+v (%v), want not_member with the request's id", rej, err)
	}
}

// TestReadsCarryTheDevicesOwnDistributionKey: a sender key distribution
// to 1,024 devices reaches a device that syncs, pages back or resumes
// with that device's wrapped key alone, as store/messages reads it for
// the device (no whole distribution goes through Redis), and the messages
// around it whole.
func TestReadsCarryTheDevicesOwnDistributionKey(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	ctx := context.Background()
	s, err := messages.NewMongoDB(ctx, fx.db)
	if err != nil {
		t.Fatal(err)
	}
	dist := message("c1", 2, "alice", "a2", 64)
	dist.ClientMessageID, dist.Audience = e2ee.DistributionID(5), nil
	dist.Envelope.Keys = nil
	for i := range 1022 {
		dist.Envelope.Keys = append(dist.Envelope.Keys, e2ee.WrappedKey{Device: fmt.Sprintf("dv-%04d", i), Ephemeral: rnd(32), Nonce: rnd(12), Wrapped: rnd(48)})
	}
	own := map[string]e2ee.WrappedKey{}
	for _, d := range []string{"a1", "b1"} {
		k := e2ee.WrappedKey{Device: d, Ephemeral: rnd(32), Nonce: rnd(12), Wrapped: rnd(48)}
		dist.Envelope.Keys, own[d] = append(dist.Envelope.Keys, k), k
	}
	for _, m := range []events.Message{message("c1", 1, "bob", "b1", 16), dist, message("c1", 3, "bob", "b1", 16)} {
		m.Audience = nil
		if err := s.Insert(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	w := fx.watch()
	f := fx.start(nil)
	check := func(how, device string, ms []events.Message) {
		t.Helper()
		if len(ms) != 3 {
			t.Fatalf("%s: %d messages, want 3", how, len(ms))
		}
		if keys := ms[1].Envelope.Keys; len(keys) != 1 || !reflect.DeepEqual(keys[0], own[device]) {
			t.Errorf("%s: the distribution carries keys %v, want %s's alone", how, ms[1].Envelope.Devices(), device)
		}
		for _, i := range []int{0, 2} {
			if ms[i].Envelope.Devices()[0] != "b1" {
				t.Errorf("%s: message %d carries keys %v, want as stored", how, ms[i].Seq, ms[i].Envelope.Devices())
			}
		}
	}
	check("sync", "a1", syncOnce(t, f, w, "c1", 0, 0).Messages)
	check("a page back", "a1", syncReq(t, f, w, "c1", events.SyncRequested{Before: 4}).Messages)
	b := resumeReq(t, f, w, "bob", "b1", events.ResumeRequested{Positions: positions("c1", 0)})
	if len(b.Conversations) != 1 {
		t.Fatalf("resume: %d conversations, want 1", len(b.Conversations))
	}
	check("resume", "b1", b.Conversations[0].Messages)
}

// In a group above maxCursorMembers, a sync's and a resume's cursors are
// the requesting user's own: every member's would be a storage read each.
func TestBigGroupSyncCarriesOwnCursor(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	members := seedBigGroup(fx)
	fx.messages("big", 3, 16)
	fx.insert(collCursors, bson.M{"_id": "big/alice", "conversation": "big", "user": "alice", "delivered": int64(3), "read": int64(2)},
		bson.M{"_id": "big/bob", "conversation": "big", "user": "bob", "delivered": int64(3), "read": int64(3)})
	w := fx.watch()
	f := fx.start(nil)
	want := events.Cursor{User: "alice", Delivered: 3, Read: 2}
	if b := syncReq(t, f, w, "big", events.SyncRequested{Receipts: true}); len(b.Cursors) != 1 || b.Cursors[0] != want {
		t.Errorf("sync of a group of %d: cursors %+v, want alice's alone %+v", len(members), b.Cursors, want)
	}
	b := resumeReq(t, f, w, "alice", "a1", events.ResumeRequested{RequestID: "resume:1", Receipts: true, Positions: positions("big", 0)})
	i := slices.IndexFunc(b.Conversations, func(c events.ResumedConversation) bool { return c.ConversationID == "big" })
	if i < 0 {
		t.Fatalf("resume: no batch for the big group in %v", convIDs(b))
	}
	if c := b.Conversations[i]; len(c.Cursors) != 1 || c.Cursors[0] != want {
		t.Errorf("resume of a group of %d: cursors %+v, want alice's alone %+v", len(members), c.Cursors, want)
	}
}

// In a group above maxCursorMembers a receipt goes to the acking member's
// own other devices only; in a smaller one to every other member device.
func TestBigGroupReceiptsStayWithTheirMember(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	members := seedBigGroup(fx)
	w := fx.watch()
	f := fx.start(nil)
	handle(t, f, must(events.NewReceipt(events.TypeReceiptRead, events.SourceConnectorPrefix+"A", "big", "alice", "a1", 1)))
	if got, want := summary(w.drain()), "B: alice/a2"; got != want {
		t.Errorf("a receipt in a group of %d went to %q, want %q (alice's other device)", len(members), got, want)
	}
	handle(t, f, must(events.NewReceipt(events.TypeReceiptRead, events.SourceConnectorPrefix+"A", "c1", "alice", "a1", 1)))
	if got := summary(w.drain()); !strings.Contains(got, "bob/b1") || !strings.Contains(got, "alice/a2") {
		t.Errorf("a receipt in a group of 4 went to %q, want every other member device", got)
	}
}

// seedBigGroup adds the conversation "big": alice, bob and others, one
// member more than maxCursorMembers. It returns the members.
func seedBigGroup(fx *fixture) []string {
	members := []string{"alice", "bob"}
	for i := len(members); i <= maxCursorMembers; i++ {
		members = append(members, fmt.Sprintf("m%03d", i))
	}
	fx.conversation("big", members...)
	return members
}
