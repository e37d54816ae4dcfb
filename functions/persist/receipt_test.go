package function

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/protocol"
)

func receipt(t *testing.T, typ, conv, user, device string, seq int64) *event.Event {
	t.Helper()
	e, err := events.NewReceipt(typ, events.SourceConnectorPrefix+"test", conv, user, device, seq)
	if err != nil {
		t.Fatal(err)
	}
	return &e
}

// messages stores seqs 1..n in conv directly (a receipt is checked
// against what is stored, not against this instance's memory).
func (fx *fixture) messages(conv string, n int64) {
	fx.t.Helper()
	s := fx.msgs()
	for seq := int64(1); seq <= n; seq++ {
		err := s.Insert(context.Background(), events.Message{ConversationID: conv, Seq: seq, SenderID: "alice",
			SenderDevice: "a1", ClientMessageID: fmt.Sprintf("m-%d", seq), Envelope: envelope("a1"), StoredAt: time.Now()})
		if err != nil {
			fx.t.Fatal(err)
		}
	}
}

// cursorDoc is a document of the cursors collection.
type cursorDoc struct {
	ID           string `bson:"_id"`
	Conversation string `bson:"conversation"`
	User         string `bson:"user"`
	Delivered    int64  `bson:"delivered"`
	Read         int64  `bson:"read"`
}

// cursor reads user's cursor in conv (zero when there is none).
func (fx *fixture) cursor(conv, user string) cursorDoc {
	fx.t.Helper()
	var c cursorDoc
	_ = fx.db.Collection(collCursors).FindOne(context.Background(), bson.M{"_id": conv + "/" + user}).Decode(&c)
	return c
}

// storedReceipt checks that reply is the receipt e as persist stored it:
// same type, actor and seq, from persist (which route fans out).
func storedReceipt(t *testing.T, e event.Event, reply *event.Event) {
	t.Helper()
	if reply == nil || reply.Type() != e.Type() || reply.Source() != events.SourcePersist || reply.ID() == e.ID() {
		t.Fatalf("reply %v, want %s from %s under a new id", reply, e.Type(), events.SourcePersist)
	}
	for _, ext := range []string{events.ExtConversationID, events.ExtSenderID, events.ExtDeviceID} {
		if reply.Extensions()[ext] != e.Extensions()[ext] {
			t.Errorf("reply %s = %v, want %v", ext, reply.Extensions()[ext], e.Extensions()[ext])
		}
	}
	got, err := events.Decode[events.Receipt](*reply)
	want, _ := events.Decode[events.Receipt](e)
	if err != nil || got != want {
		t.Errorf("reply data %+v (%v), want %+v", got, err, want)
	}
}

func TestReceiptsMoveCursorsForwardOnly(t *testing.T) {
	fx := newFixture(t)
	seedTrio(fx)
	fx.messages("c1", 9)
	f := fx.start()
	const d, r = events.TypeReceiptDelivered, events.TypeReceiptRead
	steps := []struct {
		typ                     string
		device                  string
		seq                     int64
		wantDelivered, wantRead int64
	}{
		{d, "a1", 5, 5, 0},
		{d, "a2", 3, 5, 0}, // another device of the same member, behind
		{r, "a1", 4, 5, 4},
		{r, "a2", 7, 7, 7}, // read implies delivered
		{d, "a1", 6, 7, 7},
		{r, "a1", 2, 7, 7},
		{d, "a1", 9, 9, 7}, // the last message
	}
	for i, s := range steps {
		e := *receipt(t, s.typ, "c1", "alice", s.device, s.seq)
		storedReceipt(t, e, handle(t, f, e))
		want := cursorDoc{ID: "c1/alice", Conversation: "c1", User: "alice", Delivered: s.wantDelivered, Read: s.wantRead}
		if got := fx.cursor("c1", "alice"); got != want {
			t.Errorf("step %d (%s %d from %s): cursor %+v, want %+v", i, s.typ, s.seq, s.device, got, want)
		}
	}
}

// TestReceiptsBeyondTheLastSeqAreRefused: a receipt for a seq the
// conversation does not have moves no cursor and is answered with bad_seq
// for the acking device, not with a receipt to fan out — from an instance
// that stored the messages and from one that knows nothing of them.
func TestReceiptsBeyondTheLastSeqAreRefused(t *testing.T) {
	fx := newFixture(t)
	all := seedTrio(fx)
	f, cold := fx.start(), fx.start()
	for i := range 3 {
		decodeReply[events.Message](t, handle(t, f, sent(t, "c1", "alice", "a1", fmt.Sprintf("m%d", i), envelope(all...))), events.TypeMessageStored)
	}
	storedReceipt(t, *receipt(t, events.TypeReceiptRead, "c1", "bob", "b1", 2), handle(t, f, *receipt(t, events.TypeReceiptRead, "c1", "bob", "b1", 2)))
	for _, inst := range []*Function{f, cold} {
		for _, typ := range []string{events.TypeReceiptRead, events.TypeReceiptDelivered} {
			for _, seq := range []int64{4, 1_000_000} {
				e := *receipt(t, typ, "c1", "bob", "b1", seq)
				reply := handle(t, inst, e)
				rej := decodeReply[events.MessageRejected](t, reply, events.TypeMessageRejected)
				if rej.Code != protocol.CodeBadSeq || rej.ClientMessageID != "" || rej.Reason == "" {
					t.Errorf("%s %d: rejected %+v, want bad_seq with a reason", typ, seq, rej)
				}
				if reply.Extensions()[events.ExtDeviceID] != "b1" || reply.Extensions()[events.ExtSenderID] != "bob" ||
					reply.Extensions()[events.ExtConversationID] != "c1" {
					t.Errorf("%s %d: rejection addressed to %v, want bob/b1 in c1", typ, seq, reply.Extensions())
				}
				if again := handle(t, inst, e); again.ID() != reply.ID() {
					t.Errorf("a redelivered receipt is answered under id %s, then %s", reply.ID(), again.ID())
				}
			}
		}
	}
	want := cursorDoc{ID: "c1/bob", Conversation: "c1", User: "bob", Delivered: 2, Read: 2}
	if got := fx.cursor("c1", "bob"); got != want {
		t.Errorf("cursor %+v, want %+v (unmoved)", got, want)
	}
	// The last message itself is fine, from either instance.
	storedReceipt(t, *receipt(t, events.TypeReceiptDelivered, "c1", "bob", "b1", 3), handle(t, cold, *receipt(t, events.TypeReceiptDelivered, "c1", "bob", "b1", 3)))
}

func TestReceiptsFromOutsideAreRefused(t *testing.T) {
	fx := newFixture(t)
	seedTrio(fx)
	fx.messages("c1", 3)
	fx.user("mallory", "m1")
	f := fx.start()
	for _, e := range []*event.Event{
		receipt(t, events.TypeReceiptRead, "c1", "mallory", "m1", 3),
		receipt(t, events.TypeReceiptDelivered, "nope", "alice", "a1", 3),
	} {
		reply, err := f.HandleEvent(context.Background(), *e)
		if err != nil {
			t.Fatal(err)
		}
		if rej := decodeReply[events.MessageRejected](t, reply, events.TypeMessageRejected); rej.Code != protocol.CodeNotMember {
			t.Errorf("%s: rejected %+v, want not_member", e.Extensions(), rej)
		}
	}
	malformed := receipt(t, events.TypeReceiptRead, "c1", "alice", "a1", 3)
	_ = malformed.SetData("application/json", []byte(`{"seq": 0}`))
	if reply, err := f.HandleEvent(context.Background(), *malformed); reply != nil || fn.StatusOf(err) != http.StatusBadRequest {
		t.Errorf("malformed: reply %v, err %v; want no reply and 400", reply, err)
	}
	if n := fx.count(collCursors, bson.M{}); n != 0 {
		t.Errorf("%d cursors, want none", n)
	}
}
