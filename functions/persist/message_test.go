package function

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/directory"
)

// tryHandle is handle for goroutines: a broker's retries, errors returned.
func tryHandle(f *Function, e event.Event) (*event.Event, error) {
	var err error
	for range 10 {
		var reply *event.Event
		if reply, err = f.HandleEvent(context.Background(), e); err == nil {
			return reply, nil
		}
	}
	return nil, err
}

// seedTrio seeds a conversation c1 of alice (a1, a2), bob (b1) and carol (c1d).
func seedTrio(fx *fixture) []string {
	fx.user("alice", "a1", "a2")
	fx.user("bob", "b1")
	fx.user("carol", "c1d")
	fx.conversation("c1", "alice", "bob", "carol")
	return []string{"a1", "a2", "b1", "c1d"}
}

func TestConcurrentStoresAreGapless(t *testing.T) {
	fx := newFixture(t)
	all := seedTrio(fx)
	instances := []*Function{fx.start(), fx.start(), fx.start(), fx.start()}
	senders := []events.DeviceRef{{User: "alice", Device: "a1"}, {User: "alice", Device: "a2"},
		{User: "bob", Device: "b1"}, {User: "carol", Device: "c1d"}}

	const n = 200
	seqs := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			s := senders[i%len(senders)]
			e := sent(t, "c1", s.User, s.Device, fmt.Sprintf("m%d", i), envelope(all...))
			reply, err := tryHandle(instances[i%len(instances)], e)
			if err != nil {
				errs[i] = err
				return
			}
			if reply == nil || reply.Type() != events.TypeMessageStored {
				errs[i] = fmt.Errorf("message %d: reply %v", i, reply)
				return
			}
			m, err := events.Decode[events.Message](*reply)
			errs[i], seqs[i] = err, m.Seq
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("sorted seqs[%d] = %d, want %d (gap or duplicate)", i, s, i+1)
		}
	}
	if got := fx.count(collMessages, bson.M{"conversation": "c1"}); got != n {
		t.Errorf("stored %d documents, want %d", got, n)
	}
	var conflicts, probes int64
	for _, f := range instances {
		conflicts += f.stats.conflicts.Load()
		probes += f.stats.probes.Load()
	}
	t.Logf("%d messages from 4 instances in %v: %d seq conflicts retried, %d seq probes",
		n, time.Since(start).Round(time.Millisecond), conflicts, probes)
}

func TestResendIsTheSameMessage(t *testing.T) {
	fx := newFixture(t)
	all := seedTrio(fx)
	instances := []*Function{fx.start(), fx.start(), fx.start(), fx.start()}
	// Something already stored, so the resend cannot get seq 1 by luck.
	handle(t, instances[0], sent(t, "c1", "bob", "b1", "first", envelope(all...)))

	e := sent(t, "c1", "alice", "a1", "hello", envelope(all...))
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for i := range 5 { // five concurrent deliveries of the same event
		wg.Go(func() {
			reply, err := tryHandle(instances[i%len(instances)], e)
			if err != nil || reply == nil || reply.Type() != events.TypeMessageStored {
				t.Errorf("delivery %d: reply %v, err %v", i, reply, err)
				return
			}
			m, _ := events.Decode[events.Message](*reply)
			mu.Lock()
			got = append(got, m.Seq)
			mu.Unlock()
		})
	}
	wg.Wait()
	// ...and five more later, after other messages.
	handle(t, instances[1], sent(t, "c1", "bob", "b1", "second", envelope(all...)))
	var first events.Message
	for i := range 5 {
		m := decodeReply[events.Message](t, handle(t, instances[i%4], e), events.TypeMessageStored)
		if i == 0 {
			first = m
		} else if !m.StoredAt.Equal(first.StoredAt) {
			t.Errorf("resend %d: storedAt %v, want %v", i, m.StoredAt, first.StoredAt)
		}
		got = append(got, m.Seq)
	}
	for i, s := range got {
		if s != 2 {
			t.Errorf("reply %d: seq %d, want 2", i, s)
		}
	}
	if n := fx.count(collMessages, bson.M{"clientMessageId": "hello"}); n != 1 {
		t.Errorf("%d documents for the message, want 1", n)
	}
}

func TestRejections(t *testing.T) {
	fx := newFixture(t)
	fx.user("alice", "a1", "a2")
	fx.user("bob", "b1")
	fx.user("mallory", "m1")
	fx.user("dave", "d1") // removed from the conversation below
	fx.conversation("c1", "alice", "bob")
	fx.revoke("a2")
	f := fx.start()
	current := []string{"a1", "b1"}

	tests := []struct {
		name         string
		e            func() event.Event
		code         string
		wantMissing  []string
		reasonSubstr string
	}{
		{"not a member", func() event.Event { return sent(t, "c1", "mallory", "m1", "x1", envelope(append(current, "m1")...)) },
			protocol.CodeNotMember, nil, ""},
		{"no such conversation", func() event.Event { return sent(t, "nope", "alice", "a1", "x2", envelope(current...)) },
			protocol.CodeNotMember, nil, ""},
		{"a member device missing", func() event.Event { return sent(t, "c1", "alice", "a1", "x3", envelope("a1")) },
			protocol.CodeMissingKeys, []string{"b1"}, ""},
		{"the sender's own device missing", func() event.Event { return sent(t, "c1", "bob", "b1", "x4", envelope("b1")) },
			protocol.CodeMissingKeys, []string{"a1"}, ""},
		{"wrapped for a removed member's device", func() event.Event { return sent(t, "c1", "alice", "a1", "x5", envelope("a1", "b1", "d1")) },
			protocol.CodeBadEnvelope, nil, "outside the conversation"},
		{"wrapped for a revoked device", func() event.Event { return sent(t, "c1", "alice", "a1", "x6", envelope("a1", "a2", "b1")) },
			protocol.CodeBadEnvelope, nil, "outside the conversation"},
		{"sent from a revoked device", func() event.Event { return sent(t, "c1", "alice", "a2", "x7", envelope(current...)) },
			protocol.CodeUnauthorized, nil, ""},
		{"malformed envelope", func() event.Event {
			env := envelope(current...)
			env.Nonce = env.Nonce[:5]
			e := sent(t, "c1", "alice", "a1", "x8", envelope(current...))
			_ = e.SetData("application/json", events.MessageSent{ClientMessageID: "x8", Envelope: env})
			return e
		}, protocol.CodeBadEnvelope, nil, "nonce"},
		{"malformed data", func() event.Event {
			e := sent(t, "c1", "alice", "a1", "x9", envelope(current...))
			_ = e.SetData("application/json", []byte(`{"clientMessageId": 7}`))
			return e
		}, protocol.CodeBadFrame, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.e()
			rej := decodeReply[events.MessageRejected](t, handle(t, f, e), events.TypeMessageRejected)
			if rej.Code != tt.code {
				t.Errorf("code %q (%s), want %q", rej.Code, rej.Reason, tt.code)
			}
			if !slices.Equal(rej.MissingDevices, tt.wantMissing) {
				t.Errorf("missingDevices %v, want %v", rej.MissingDevices, tt.wantMissing)
			}
			if tt.reasonSubstr != "" && !strings.Contains(rej.Reason, tt.reasonSubstr) {
				t.Errorf("reason %q, want it to mention %q", rej.Reason, tt.reasonSubstr)
			}
		})
	}
	if n := fx.count(collMessages, bson.M{}); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}
}

func TestUnanswerableEventsAreRefused(t *testing.T) {
	fx := newFixture(t)
	seedTrio(fx)
	f := fx.start()
	noSender := sent(t, "c1", "alice", "a1", "y1", envelope("a1"))
	noSender.SetExtension(events.ExtSenderID, nil)
	unknown := sent(t, "c1", "alice", "a1", "y2", envelope("a1"))
	unknown.SetType("io.agentchat.nonsense")
	for _, e := range []event.Event{noSender, unknown} {
		reply, err := f.HandleEvent(context.Background(), e)
		if reply != nil || fn.StatusOf(err) != http.StatusBadRequest {
			t.Errorf("%s: reply %v, err %v; want no reply and 400", e.ID(), reply, err)
		}
	}
}

func TestResendAfterKeyChangeIsStillStored(t *testing.T) {
	fx := newFixture(t)
	all := seedTrio(fx)
	f := fx.start()
	e := sent(t, "c1", "alice", "a1", "early", envelope(all...))
	want := decodeReply[events.Message](t, handle(t, f, e), events.TypeMessageStored)
	fx.user("erin", "e1")
	_, err := fx.db.Collection(collConversations).UpdateOne(context.Background(), bson.M{"_id": "c1"},
		bson.M{"$set": bson.M{"members": []string{"alice", "bob", "carol", "erin"}}})
	if err != nil {
		t.Fatal(err)
	}
	changed(f, "c1") // accounts' conversation.changed event
	got := decodeReply[events.Message](t, handle(t, f, e), events.TypeMessageStored)
	if got.Seq != want.Seq {
		t.Errorf("resend seq %d, want %d", got.Seq, want.Seq)
	}
	// A new message must now include erin's device.
	rej := decodeReply[events.MessageRejected](t, handle(t, f, sent(t, "c1", "alice", "a1", "late", envelope(all...))), events.TypeMessageRejected)
	if rej.Code != protocol.CodeMissingKeys || !slices.Equal(rej.MissingDevices, []string{"e1"}) {
		t.Errorf("got %s %v, want missing_keys [e1]", rej.Code, rej.MissingDevices)
	}
}

func TestStoredDocument(t *testing.T) {
	fx := newFixture(t)
	all := seedTrio(fx)
	f := fx.start()
	env := envelope(all...)
	m := decodeReply[events.Message](t, handle(t, f, sent(t, "c1", "bob", "b1", "doc", env)), events.TypeMessageStored)
	var raw bson.Raw
	if err := fx.db.Collection(collMessages).FindOne(context.Background(), bson.M{"_id": "c1/1"}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	ct := raw.Lookup("envelope", "ct")
	if ct.Type != bson.TypeBinary {
		t.Errorf("envelope.ct stored as %v, want binary", ct.Type)
	}
	if _, data := ct.Binary(); string(data) != string(env.Ciphertext) {
		t.Errorf("stored ciphertext differs")
	}
	got := []any{raw.Lookup("conversation").StringValue(), raw.Lookup("seq").Int64(), raw.Lookup("sender").StringValue(),
		raw.Lookup("senderDevice").StringValue(), raw.Lookup("clientMessageId").StringValue()}
	want := []any{"c1", int64(1), "bob", "b1", "doc"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("document %v, want %v", got, want)
	}
	if m.Seq != 1 || m.Envelope.Keys[0].Device != "a1" {
		t.Errorf("reply %+v", m)
	}
}

func TestStartNeedsMongoURI(t *testing.T) {
	f := New()
	if err := f.Start(context.Background(), map[string]string{}); err == nil {
		t.Fatal("Start without MONGODB_URI succeeded")
	}
	if ok, _ := f.Ready(context.Background()); ok {
		t.Error("Ready before a successful Start")
	}
	if _, err := f.HandleEvent(context.Background(), event.New()); err == nil {
		t.Error("Handle before Start did not fail")
	}
}

// TestMembershipFollowsTheChangeLog: accounts logs a membership change
// before it updates the conversation document; persist must already go by
// the log.
func TestMembershipFollowsTheChangeLog(t *testing.T) {
	fx := newFixture(t)
	seedTrio(fx)
	fx.insert(collChanges, bson.M{"_id": "c1/1", "conversation": "c1", "rev": 1, "op": "remove", "user": "carol",
		"members": []string{"alice", "bob"}})
	f := fx.start()
	rej := decodeReply[events.MessageRejected](t, handle(t, f, sent(t, "c1", "carol", "c1d", "z1", envelope("a1", "a2", "b1", "c1d"))),
		events.TypeMessageRejected)
	if rej.Code != protocol.CodeNotMember {
		t.Errorf("a removed member's message: %s, want not_member", rej.Code)
	}
	rej = decodeReply[events.MessageRejected](t, handle(t, f, sent(t, "c1", "alice", "a1", "z2", envelope("a1", "a2", "b1", "c1d"))),
		events.TypeMessageRejected)
	if rej.Code != protocol.CodeBadEnvelope {
		t.Errorf("wrapped for the removed member: %s, want bad_envelope", rej.Code)
	}
	decodeReply[events.Message](t, handle(t, f, sent(t, "c1", "alice", "a1", "z3", envelope("a1", "a2", "b1"))), events.TypeMessageStored)
}

// TestStoredCarriesTheAudience: persist's reply names who the message is
// for, as it checked it — every current device of the members, the agent
// members, and their devices' keys and signing keys when an agent is in
// (its runtime seals its reply for them) — so that route fans out without
// reading anything.
func TestStoredCarriesTheAudience(t *testing.T) {
	fx := newFixture(t)
	fx.user("alice", "a1", "a2")
	fx.user("bob", "b1")
	fx.revoke("a2")
	fx.insert(collUsers, bson.M{"_id": "calc", "kind": "agent", "agentKind": "model", "name": "calc", "createdAt": time.Now()})
	fx.insert(collDevices, bson.M{"_id": "calc-d", "user": "calc", "publicKey": "CALCKEY", "signingKey": "CALCSIG", "createdAt": time.Now()})
	fx.conversation("plain", "alice", "bob")
	fx.conversation("withagent", "alice", "calc")
	f := fx.start()

	signed := envelope("a1", "b1")
	signed.Sig = bytes.Repeat([]byte{0x5a}, e2ee.SignatureSize) // persist cannot check it (no key), only pass it on
	m := decodeReply[events.Message](t, handle(t, f, sent(t, "plain", "alice", "a1", "p1", signed)), events.TypeMessageStored)
	if !bytes.Equal(m.Envelope.Sig, signed.Sig) {
		t.Errorf("stored envelope's sig %x, want the sender's %x", m.Envelope.Sig, signed.Sig)
	}
	want := &events.Audience{Devices: []events.DeviceRef{{User: "alice", Device: "a1"}, {User: "bob", Device: "b1"}}}
	if !reflect.DeepEqual(m.Audience, want) {
		t.Errorf("audience %+v, want %+v", m.Audience, want)
	}
	reply := handle(t, f, sent(t, "withagent", "alice", "a1", "w1", envelope("a1", "calc-d")))
	m = decodeReply[events.Message](t, reply, events.TypeMessageStored)
	want = &events.Audience{Devices: []events.DeviceRef{{User: "alice", Device: "a1"}, {User: "calc", Device: "calc-d"}},
		Agents: []events.AgentMember{{ID: "calc", Kind: "model"}}, Keys: map[string]string{"a1": "AAAA", "calc-d": "CALCKEY"},
		SigningKeys: map[string]string{"calc-d": "CALCSIG"}} // a1 has none (a client from before signing)
	if !reflect.DeepEqual(m.Audience, want) {
		t.Errorf("audience %+v, want %+v", m.Audience, want)
	}
	if reply.Extensions()[events.ExtAgentID] != nil {
		t.Errorf("a person's message is stamped with agent %v", reply.Extensions()[events.ExtAgentID])
	}
	// The agent's own message: its answer names it, so its runtime hears it.
	reply = handle(t, f, sent(t, "withagent", "calc", "calc-d", "w2", envelope("a1", "calc-d")))
	decodeReply[events.Message](t, reply, events.TypeMessageStored)
	if reply.Extensions()[events.ExtAgentID] != "calc" || reply.Extensions()[events.ExtAgentKind] != "model" {
		t.Errorf("agent's stored message: extensions %v, want agentid calc, agentkind model", reply.Extensions())
	}
	// A refused message of the agent's carries the audience to seal for.
	rej := decodeReply[events.MessageRejected](t, handle(t, f, sent(t, "withagent", "calc", "calc-d", "w3", envelope("calc-d"))),
		events.TypeMessageRejected)
	if rej.Code != protocol.CodeMissingKeys || !reflect.DeepEqual(rej.Audience, want) {
		t.Errorf("agent's refused message: %s, audience %+v; want missing_keys with %+v", rej.Code, rej.Audience, want)
	}
	// A person's refusal carries none.
	rej = decodeReply[events.MessageRejected](t, handle(t, f, sent(t, "withagent", "alice", "a1", "w4", envelope("a1"))),
		events.TypeMessageRejected)
	if rej.Audience != nil {
		t.Errorf("a person's refusal carries an audience: %+v", rej.Audience)
	}
}

// TestRefusalsReadAfresh: the directory cache may not know a member or a
// device yet (its change event still on the way); persist refuses only
// what a fresh read refuses.
func TestRefusalsReadAfresh(t *testing.T) {
	fx := newFixture(t)
	all := seedTrio(fx)
	f := fx.start()
	handle(t, f, sent(t, "c1", "alice", "a1", "warm", envelope(all...))) // the cache holds c1 now
	// No change events reach f: bob gets a device, dave joins.
	fx.insert(collDevices, bson.M{"_id": "b2", "user": "bob", "publicKey": "AAAA", "createdAt": time.Now()})
	fx.user("dave", "d1")
	_, err := fx.db.Collection(collConversations).UpdateOne(context.Background(), bson.M{"_id": "c1"},
		bson.M{"$set": bson.M{"members": []string{"alice", "bob", "carol", "dave"}}})
	if err != nil {
		t.Fatal(err)
	}
	now := append(slices.Clone(all), "b2", "d1")
	decodeReply[events.Message](t, handle(t, f, sent(t, "c1", "bob", "b2", "from-new-device", envelope(now...))), events.TypeMessageStored)
	decodeReply[events.Message](t, handle(t, f, sent(t, "c1", "dave", "d1", "from-new-member", envelope(now...))), events.TypeMessageStored)
	decodeReply[events.Receipt](t, handle(t, f, *receipt(t, events.TypeReceiptRead, "c1", "dave", "d1", 1)), events.TypeReceiptRead)
}

// TestChangeEventsKeepTheCacheCurrent: accounts' conversation.changed and
// device.changed events reach persist's directory cache, so a removed
// member or a revoked device stops counting with the next message, long
// before the cache's TTL.
func TestChangeEventsKeepTheCacheCurrent(t *testing.T) {
	fx := newFixture(t)
	all := seedTrio(fx)
	f := fx.start()
	handle(t, f, sent(t, "c1", "carol", "c1d", "before", envelope(all...))) // the cache holds c1 now

	fx.insert(collChanges, bson.M{"_id": "c1/1", "conversation": "c1", "rev": 1, "op": "remove", "user": "carol",
		"members": []string{"alice", "bob"}})
	ev, err := events.NewConversationChanged("c1", "alice", "a1", events.ConversationChanged{Kind: "group", Rev: 1, Members: []string{"alice", "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	if reply := handle(t, f, ev); reply != nil {
		t.Fatalf("reply to a change event: %v", reply)
	}
	rej := decodeReply[events.MessageRejected](t, handle(t, f, sent(t, "c1", "carol", "c1d", "after", envelope(all...))), events.TypeMessageRejected)
	if rej.Code != protocol.CodeNotMember {
		t.Errorf("a removed member's message: %s, want not_member", rej.Code)
	}

	fx.revoke("a2")
	ev, err = events.NewDeviceChanged(events.DeviceChanged{User: "alice", Device: "a2", Revoked: true})
	if err != nil {
		t.Fatal(err)
	}
	handle(t, f, ev)
	rej = decodeReply[events.MessageRejected](t, handle(t, f, sent(t, "c1", "alice", "a1", "revoked", envelope("a1", "a2", "b1"))), events.TypeMessageRejected)
	if rej.Code != protocol.CodeBadEnvelope {
		t.Errorf("wrapped for a revoked device: %s, want bad_envelope", rej.Code)
	}
}

// TestReplicasShareChangeEvents: a Trigger brings each change event to one
// replica. Two persist instances on one database and one Redis: A gets the
// events; B, never given them, follows through the Redis broadcast
// (store/directory.Broadcast) — with a TTL of a minute, only the broadcast
// can explain B refusing the removed member and the revoked device.
func TestReplicasShareChangeEvents(t *testing.T) {
	fx := newFixture(t)
	fx.cfg["REDIS_URL"] = fntest.Need(t, "AGENTCHAT_TEST_REDIS_URL")
	fx.cfg["REDIS_PREFIX"] = "test:persist:" + randomHex(4) + ":"
	fx.cfg["MEMBERSHIP_CACHE_TTL"] = "1m"
	all := seedTrio(fx)
	a, b := fx.start(), fx.start()
	handle(t, b, sent(t, "c1", "carol", "c1d", "before", envelope(all...))) // B's cache holds c1 and the devices
	ctx := context.Background()

	fx.insert(collChanges, bson.M{"_id": "c1/1", "conversation": "c1", "rev": 1, "op": "remove", "user": "carol",
		"members": []string{"alice", "bob"}})
	handle(t, a, must(events.NewConversationChanged("c1", "alice", "a1", events.ConversationChanged{Kind: "group", Rev: 1, Members: []string{"alice", "bob"}})))
	fntest.Eventually(t, "B's cache without carol", func() bool {
		m, err := b.deps.Load().dir.Members(ctx, "c1")
		return err == nil && m.Rev == 1 && !m.IsMember("carol")
	})
	rej := decodeReply[events.MessageRejected](t, handle(t, b, sent(t, "c1", "carol", "c1d", "after", envelope("a1", "a2", "b1"))), events.TypeMessageRejected)
	if rej.Code != protocol.CodeNotMember {
		t.Errorf("B, a removed member's message: %s, want not_member", rej.Code)
	}

	fx.revoke("a2")
	handle(t, a, must(events.NewDeviceChanged(events.DeviceChanged{User: "alice", Device: "a2", Revoked: true})))
	fntest.Eventually(t, "B's cache without a2", func() bool {
		ds, err := b.deps.Load().dir.CurrentDevices(ctx, []string{"alice"})
		return err == nil && !slices.ContainsFunc(ds, func(d directory.Device) bool { return d.ID == "a2" })
	})
	rej = decodeReply[events.MessageRejected](t, handle(t, b, sent(t, "c1", "alice", "a1", "revoked", envelope("a1", "a2", "b1"))), events.TypeMessageRejected)
	if rej.Code != protocol.CodeBadEnvelope {
		t.Errorf("B, wrapped for a revoked device: %s, want bad_envelope", rej.Code)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
