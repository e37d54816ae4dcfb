package function

import (
	"context"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/events"
)

func receipt(t *testing.T, typ, conv, user, device string, seq int64) *event.Event {
	t.Helper()
	e, err := events.NewReceipt(typ, events.SourceConnectorPrefix+"test", conv, user, device, seq)
	if err != nil {
		t.Fatal(err)
	}
	return &e
}

func TestReceiptsMoveCursorsForwardOnly(t *testing.T) {
	fx := newFixture(t)
	seedTrio(fx)
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
		{d, "a1", 9, 9, 7},
	}
	for i, s := range steps {
		if reply := handle(t, f, *receipt(t, s.typ, "c1", "alice", s.device, s.seq)); reply != nil {
			t.Fatalf("step %d: reply %v, want none", i, reply)
		}
		var got cursorDoc
		if err := fx.db.Collection(collCursors).FindOne(context.Background(), bson.M{"_id": "c1/alice"}).Decode(&got); err != nil {
			t.Fatal(err)
		}
		want := cursorDoc{ID: "c1/alice", Conversation: "c1", User: "alice", Delivered: s.wantDelivered, Read: s.wantRead}
		if got != want {
			t.Errorf("step %d (%s %d from %s): cursor %+v, want %+v", i, s.typ, s.seq, s.device, got, want)
		}
	}
}

func TestReceiptsFromOutsideAreIgnored(t *testing.T) {
	fx := newFixture(t)
	seedTrio(fx)
	fx.user("mallory", "m1")
	f := fx.start()
	for _, e := range []*event.Event{
		receipt(t, events.TypeReceiptRead, "c1", "mallory", "m1", 3),
		receipt(t, events.TypeReceiptDelivered, "nope", "alice", "a1", 3),
	} {
		reply, err := f.Handle(context.Background(), *e)
		if reply != nil || err != nil {
			t.Errorf("reply %v, err %v; want neither", reply, err)
		}
	}
	malformed := receipt(t, events.TypeReceiptRead, "c1", "alice", "a1", 3)
	_ = malformed.SetData("application/json", []byte(`{"seq": 0}`))
	if reply, err := f.Handle(context.Background(), *malformed); reply != nil || !refused(err) {
		t.Errorf("malformed: reply %v, err %v; want no reply and 400", reply, err)
	}
	if n := fx.count(collCursors, bson.M{}); n != 0 {
		t.Errorf("%d cursors, want none", n)
	}
}
