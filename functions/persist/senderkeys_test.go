package function

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/messages"
)

// groupEnvelope is a sender-key (v2) envelope wrapped for the given agent
// devices only.
func groupEnvelope(epoch, index uint32, agentDevices ...string) *e2ee.Envelope {
	env := envelope(agentDevices...)
	env.V, env.Epoch, env.Index = e2ee.Version2, epoch, index
	return env
}

// TestSenderKeyEnvelopes: a person's v2 envelope carries keys for the
// agent members' devices only — none in a group of people, every agent
// device in a group with agents — and is stored with its epoch and index
// as they came; a key for a person's device is refused as outside the
// rule. An agent's v2 envelope (sealed once, no chain) needs every device.
func TestSenderKeyEnvelopes(t *testing.T) {
	fx := newFixture(t)
	seedTrio(fx)
	fx.insert(collUsers, bson.M{"_id": "calc", "kind": "agent", "agentKind": "model", "name": "calc", "createdAt": time.Now()})
	fx.insert(collDevices, bson.M{"_id": "calc-d", "user": "calc", "publicKey": "CALCKEY", "createdAt": time.Now()})
	fx.conversation("g2", "alice", "bob", "calc")
	f := fx.start()

	env := groupEnvelope(0xa1b2c3d4, 7)
	m := decodeReply[events.Message](t, handle(t, f, sent(t, "c1", "alice", "a1", "g1", env)), events.TypeMessageStored)
	if m.Envelope.V != 2 || m.Envelope.Epoch != 0xa1b2c3d4 || m.Envelope.Index != 7 || len(m.Envelope.Keys) != 0 ||
		!bytes.Equal(m.Envelope.Ciphertext, env.Ciphertext) {
		t.Fatalf("stored %+v", m.Envelope)
	}
	if want := []string{"a1", "a2", "b1", "c1d"}; len(m.Audience.Devices) != len(want) {
		t.Errorf("audience %v, want every member device %v", m.Audience.Devices, want)
	}
	// Read back from MongoDB (store/messages) as it came.
	back, err := fx.msgs().After(context.Background(), "c1", 0, 10, messages.AllDevices)
	if err != nil || len(back) != 1 || back[0].Envelope.V != 2 || back[0].Envelope.Epoch != 0xa1b2c3d4 || back[0].Envelope.Index != 7 {
		t.Fatalf("read back %+v, %v", back, err)
	}

	for _, c := range []struct {
		name, conv, id string
		env            *e2ee.Envelope
		code           string
		missing        []string
	}{
		{"an agent device missing", "g2", "g3", groupEnvelope(5, 0), protocol.CodeMissingKeys, []string{"calc-d"}},
		{"a person's device wrapped", "g2", "g4", groupEnvelope(5, 0, "calc-d", "b1"), protocol.CodeBadEnvelope, nil},
		{"a person's device wrapped, no agents", "c1", "g5", groupEnvelope(5, 0, "b1"), protocol.CodeBadEnvelope, nil},
	} {
		rej := decodeReply[events.MessageRejected](t, handle(t, f, sent(t, c.conv, "alice", "a1", c.id, c.env)), events.TypeMessageRejected)
		if rej.Code != c.code || !slices.Equal(rej.MissingDevices, c.missing) {
			t.Errorf("%s: %s %v, want %s %v", c.name, rej.Code, rej.MissingDevices, c.code, c.missing)
		}
	}
	m = decodeReply[events.Message](t, handle(t, f, sent(t, "g2", "alice", "a1", "g6", groupEnvelope(5, 1, "calc-d"))), events.TypeMessageStored)
	if len(m.Envelope.Keys) != 1 || m.Envelope.Keys[0].Device != "calc-d" {
		t.Errorf("stored keys %+v, want calc-d's", m.Envelope.Keys)
	}
	// An agent seals once for everyone (no chain): all devices, as v1.
	rej := decodeReply[events.MessageRejected](t, handle(t, f, sent(t, "g2", "calc", "calc-d", "r-1", groupEnvelope(9, 0, "calc-d"))), events.TypeMessageRejected)
	if rej.Code != protocol.CodeMissingKeys || !slices.Equal(rej.MissingDevices, []string{"a1", "a2", "b1"}) {
		t.Errorf("an agent's v2 for itself alone: %s %v, want missing_keys [a1 a2 b1]", rej.Code, rej.MissingDevices)
	}
	decodeReply[events.Message](t, handle(t, f, sent(t, "g2", "calc", "calc-d", "r-1", groupEnvelope(9, 0, "a1", "a2", "b1", "calc-d"))), events.TypeMessageStored)
}

// TestDistributionResendIsWhole: a distribution big enough for its keys
// to be stored out of line (store/messages) is answered whole — every
// device's key, in the order sent — when it is stored, when it is sent
// again to the instance that stored it, and to one that did not (found by
// its key): the answer is published again and must reach every device.
func TestDistributionResendIsWhole(t *testing.T) {
	fx := newFixture(t)
	var alice, bob []string
	for i := range 20 {
		alice, bob = append(alice, fmt.Sprintf("a%02d", i)), append(bob, fmt.Sprintf("b%02d", i))
	}
	fx.user("alice", alice...)
	fx.user("bob", bob...)
	fx.conversation("c1", "alice", "bob")
	env := envelope(append(slices.Clone(bob), alice...)...)
	dist := sent(t, "c1", "alice", "a00", e2ee.DistributionID(3), env)
	f, cold := fx.start(), fx.start()
	for i, inst := range []*Function{f, f, cold} {
		m := decodeReply[events.Message](t, handle(t, inst, dist), events.TypeMessageStored)
		if m.Seq != 1 || !reflect.DeepEqual(m.Envelope.Keys, env.Keys) {
			t.Errorf("answer %d: seq %d with keys %v, want seq 1 with %v", i, m.Seq, m.Envelope.Devices(), env.Devices())
		}
	}
	var doc struct {
		Envelope struct {
			Keys    []bson.Raw `bson:"keys"`
			Buckets int        `bson:"buckets"`
		} `bson:"envelope"`
	}
	if err := fx.db.Collection("messages").FindOne(context.Background(), bson.M{"_id": "c1/1"}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Envelope.Keys) != 0 || doc.Envelope.Buckets != 2 {
		t.Errorf("stored with %d keys inline and %d buckets, want none inline and 2 buckets", len(doc.Envelope.Keys), doc.Envelope.Buckets)
	}
}
