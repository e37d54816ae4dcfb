package function

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/directory"
)

// TestLargeGroupMessages: groups of 200 and 1,024 members (accounts' most;
// with one device each, e2ee.MaxRecipients wrapped keys), seeded as
// accounts writes them, are messaged through persist on the test MongoDB
// (FerretDB on PostgreSQL in make test). A message wrapped for every
// member device is stored in seq order with all its keys, and answered
// with an audience of every device, which route fans out from; one that
// misses a device is refused and nothing is stored; a member removed as
// accounts removes one stops counting with the next message.
func TestLargeGroupMessages(t *testing.T) {
	for _, n := range []int{200, 1024} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { testLargeGroupMessages(t, n) })
	}
}

func testLargeGroupMessages(t *testing.T, n int) {
	fx := newFixture(t)
	people := fx.people(n)
	fx.group("big", usersOf(people)...)
	f := fx.start()
	start := time.Now()
	// stored checks the reply to a message that was stored as seq.
	stored := func(from events.DeviceRef, cmid string, env *e2ee.Envelope, seq int64, audience []events.DeviceRef) {
		t.Helper()
		reply := handle(t, f, sent(t, "big", from.User, from.Device, cmid, env))
		m := decodeReply[events.Message](t, reply, events.TypeMessageStored)
		if m.Seq != seq {
			t.Errorf("%s: seq %d, want %d", cmid, m.Seq, seq)
		}
		if m.Audience == nil {
			t.Fatalf("%s: no audience", cmid)
		}
		if got, want := sortedRefs(m.Audience.Devices), sortedRefs(audience); !slices.Equal(got, want) {
			t.Errorf("%s: audience of %d devices, want the %d member devices", cmid, len(got), len(want))
		}
		if m.Audience.Agents != nil || m.Audience.Keys != nil {
			t.Errorf("%s: audience names agents %v or keys (%d) in a group of people", cmid, m.Audience.Agents, len(m.Audience.Keys))
		}
		if got := storedKeys(t, fx, fmt.Sprintf("big/%d", seq)); !slices.Equal(got, devicesOf(sortedRefs(audience))) {
			t.Errorf("%s: the stored document has %d wrapped keys, want the %d member devices'", cmid, len(got), len(audience))
		}
		t.Logf("%s: seq %d, message.stored data %d bytes (events.MaxDataSize %d)", cmid, m.Seq, len(reply.Data()), events.MaxDataSize)
	}

	all := devicesOf(people)
	stored(people[0], "m1", envelope(all...), 1, people)
	// The largest content an envelope may carry: the stored event, with
	// n wrapped keys and an audience of n devices, still fits an event.
	largest := envelope(all...)
	largest.Ciphertext = make([]byte, e2ee.MaxCiphertext)
	_, _ = rand.Read(largest.Ciphertext)
	stored(people[n-1], "m2", largest, 2, people)

	// Wrapped for all but one member device: refused, naming it.
	rej := rejected(t, f, people[1], "m3", envelope(all[:n-1]...))
	if rej.Code != protocol.CodeMissingKeys || !slices.Equal(rej.MissingDevices, all[n-1:]) {
		t.Errorf("a key missing: %s %v, want missing_keys %v", rej.Code, rej.MissingDevices, all[n-1:])
	}
	if got := fx.count(collMessages, bson.M{"conversation": "big"}); got != 2 {
		t.Errorf("%d messages stored, want 2", got)
	}

	// A member is removed as accounts removes one: the change logged and
	// applied (store/directory), then its conversation.changed event.
	gone := people[n/2]
	c, ok, err := directory.NewMongoDB(fx.db).ChangeMembers(context.Background(), "big",
		directory.MemberChange{Op: directory.OpRemove, User: gone.User, By: people[0].User, At: time.Now()},
		func(c directory.Conversation) (directory.Roster, bool, error) {
			return directory.Roster{Members: slices.DeleteFunc(slices.Clone(c.Members), func(u string) bool { return u == gone.User })}, true, nil
		})
	if err != nil || !ok {
		t.Fatalf("removing a member: changed %v, err %v", ok, err)
	}
	ev, err := events.NewConversationChanged("big", people[0].User, people[0].Device,
		events.ConversationChanged{Kind: c.Kind, Rev: c.Rev, Members: c.Members})
	if err != nil {
		t.Fatal(err)
	}
	if reply := handle(t, f, ev); reply != nil {
		t.Fatalf("reply to a change event: %v", reply)
	}
	rest := slices.DeleteFunc(slices.Clone(people), func(d events.DeviceRef) bool { return d == gone })
	// Its device is no longer needed...
	stored(people[1], "m4", envelope(devicesOf(rest)...), 3, rest)
	// ...nor allowed...
	if rej := rejected(t, f, people[1], "m5", envelope(all...)); rej.Code != protocol.CodeBadEnvelope {
		t.Errorf("wrapped for the removed member: %s (%s), want bad_envelope", rej.Code, rej.Reason)
	}
	// ...and the removed member cannot send.
	if rej := rejected(t, f, gone, "m6", envelope(devicesOf(rest)...)); rej.Code != protocol.CodeNotMember {
		t.Errorf("the removed member's message: %s, want not_member", rej.Code)
	}
	if got := fx.count(collMessages, bson.M{"conversation": "big"}); got != 3 {
		t.Errorf("%d messages stored, want 3", got)
	}
	t.Logf("%d members: 6 messages and a removal handled in %v", n, time.Since(start).Round(time.Millisecond))
}

// rejected sends a message that persist must refuse, and returns why.
func rejected(t *testing.T, f *Function, from events.DeviceRef, cmid string, env *e2ee.Envelope) events.MessageRejected {
	t.Helper()
	return decodeReply[events.MessageRejected](t, handle(t, f, sent(t, "big", from.User, from.Device, cmid, env)), events.TypeMessageRejected)
}

// storedKeys reads the devices of a stored message's wrapped keys, sorted.
func storedKeys(t *testing.T, fx *fixture, id string) []string {
	t.Helper()
	var doc struct {
		Envelope struct {
			Keys []struct {
				Device string `bson:"device"`
			} `bson:"keys"`
		} `bson:"envelope"`
	}
	if err := fx.db.Collection(collMessages).FindOne(context.Background(), bson.M{"_id": id}).Decode(&doc); err != nil {
		t.Fatalf("message %s: %v", id, err)
	}
	out := make([]string, len(doc.Envelope.Keys))
	for i, k := range doc.Envelope.Keys {
		out[i] = k.Device
	}
	slices.Sort(out)
	return out
}

func sortedRefs(refs []events.DeviceRef) []events.DeviceRef {
	out := slices.Clone(refs)
	slices.SortFunc(out, func(a, b events.DeviceRef) int {
		return cmp.Or(cmp.Compare(a.Device, b.Device), cmp.Compare(a.User, b.User))
	})
	return out
}

func usersOf(refs []events.DeviceRef) []string {
	out := make([]string, len(refs))
	for i, d := range refs {
		out[i] = d.User
	}
	return out
}

func devicesOf(refs []events.DeviceRef) []string {
	out := make([]string, len(refs))
	for i, d := range refs {
		out[i] = d.Device
	}
	return out
}
