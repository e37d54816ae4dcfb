package function

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
)

// room is a conversation of alice (one device), bob (one device) and
// calc, as persist would describe it in an invoke: the audience with keys.
type room struct {
	keys     map[string]*e2ee.PrivateKey // by device
	audience *events.Audience
}

func newRoom(t *testing.T) *room {
	t.Helper()
	r := &room{keys: map[string]*e2ee.PrivateKey{}, audience: &events.Audience{Keys: map[string]string{},
		Agents: []events.AgentMember{{ID: "calc", Kind: "calc"}}}}
	for _, d := range []events.DeviceRef{{User: "alice", Device: "alice-phone"}, {User: "bob", Device: "bob-phone"}, {User: "calc", Device: "dv-calc"}} {
		k, _ := e2ee.GenerateKey()
		r.keys[d.Device] = k
		r.audience.Devices = append(r.audience.Devices, d)
		r.audience.Keys[d.Device] = base64.StdEncoding.EncodeToString(k.PublicKeyBytes())
	}
	return r
}

// invoke is route's invoke of calc for alice's message text at seq.
func (r *room) invoke(t *testing.T, seq int64, text string) event.Event {
	t.Helper()
	return r.invokeContent(t, seq, e2ee.Content{Text: text})
}

// invokeContent is route's invoke of calc for alice's message at seq.
func (r *room) invokeContent(t *testing.T, seq int64, content e2ee.Content) event.Event {
	t.Helper()
	rs, err := r.audience.Recipients()
	if err != nil {
		t.Fatal(err)
	}
	body, err := content.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cm := fmt.Sprintf("m-%d", seq)
	env, _ := e2ee.Seal(body, e2ee.AssociatedData{Conversation: "c-1", SenderDevice: "alice-phone", ClientMessageID: cm}, rs)
	inv, err := events.NewAgentInvoke("calc", "calc", events.Message{ConversationID: "c-1", Seq: seq, SenderID: "alice",
		SenderDevice: "alice-phone", ClientMessageID: cm, Envelope: env, StoredAt: time.Now().UTC(), Audience: r.audience})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func start(t *testing.T, b *fntest.Broker, key *e2ee.PrivateKey) *Function {
	t.Helper()
	f := New()
	if err := f.Start(context.Background(), map[string]string{"K_SINK": b.URL,
		"AGENT_KEYS": "calc:" + base64.StdEncoding.EncodeToString(key.Bytes())}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Stop(context.Background()) })
	return f
}

// The agent answers through the broker: a reply sealed for every device of
// the audience, r-<seq> from its own device, and — once persist says it
// stored it — agent.done; a redelivered invoke sends the same message id
// again; a reply persist refused ends as agent.error.
func TestHandleAnswers(t *testing.T) {
	ctx := context.Background()
	r := newRoom(t)
	b := fntest.NewBroker(t)
	f := start(t, b, r.keys["dv-calc"])

	for range 2 { // the second is a redelivery
		if _, err := f.HandleEvent(ctx, r.invoke(t, 5, "2+3*4")); err != nil {
			t.Fatal(err)
		}
	}
	posted := b.Events()
	if len(posted) != 2 || posted[0].Type() != events.TypeMessageSent || posted[0].ID() != posted[1].ID() {
		t.Fatalf("posted %d events, want the same reply twice (done waits for persist)", len(posted))
	}
	for name, want := range map[string]string{events.ExtSenderID: "calc", events.ExtDeviceID: "dv-calc", events.ExtAgentID: "calc", events.ExtAgentKind: "calc"} {
		if got := fn.Ext(posted[0], name); got != want {
			t.Errorf("reply %s = %q, want %q", name, got, want)
		}
	}
	sent, err := events.Decode[events.MessageSent](posted[0])
	if err != nil || sent.ClientMessageID != "r-5" {
		t.Fatalf("reply = %+v %v", sent, err)
	}
	for _, d := range []string{"alice-phone", "bob-phone"} {
		plain, err := e2ee.Open(sent.Envelope, e2ee.AssociatedData{Conversation: "c-1", SenderDevice: "dv-calc", ClientMessageID: "r-5"}, d, r.keys[d])
		if err != nil {
			t.Fatalf("%s cannot open the reply: %v", d, err)
		}
		if c, _ := e2ee.UnmarshalContent(plain); c.Text != "2+3*4 = 14" || c.ReplyTo != 5 {
			t.Errorf("%s reads %+v", d, c)
		}
	}
	if got := len(sent.Envelope.Keys); got != 3 {
		t.Errorf("wrapped for %d devices, want 3 (the audience)", got)
	}

	// persist stored it (and says so twice: at least once delivery).
	stored, err := events.NewMessageStored(events.Message{ConversationID: "c-1", Seq: 6, SenderID: "calc", SenderDevice: "dv-calc",
		ClientMessageID: "r-5", Envelope: sent.Envelope, StoredAt: time.Now().UTC(), Audience: r.audience})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := f.HandleEvent(ctx, stored); err != nil {
			t.Fatal(err)
		}
	}
	done := b.OfType(events.TypeAgentDone)
	if len(done) != 2 || done[0].ID() != done[1].ID() {
		t.Fatalf("agent.done events = %d, want one id twice", len(done))
	}
	if d, _ := events.Decode[events.AgentDone](done[0]); d.ReplyTo != 5 || d.ClientMessageID != "r-5" || d.AgentID != "calc" {
		t.Errorf("agent.done = %+v", d)
	}

	// A reply persist refused (the members' devices changed meanwhile).
	rej, _ := events.NewMessageRejected("c-1", "calc", "dv-calc", events.MessageRejected{ClientMessageID: "r-7",
		Code: "missing_keys", Reason: "not wrapped for 1 member device(s)", MissingDevices: []string{"carol-phone"}})
	if _, err := f.HandleEvent(ctx, rej); err != nil {
		t.Fatal(err)
	}
	errs := b.OfType(events.TypeAgentError)
	if len(errs) != 1 {
		t.Fatalf("agent.error events = %d, want 1", len(errs))
	}
	if d, _ := events.Decode[events.AgentError](errs[0]); d.ReplyTo != 7 || d.Code != "not_stored" || !d.Retryable {
		t.Errorf("agent.error = %+v", d)
	}
}

// "who is here?" is answered from the invoke's audience alone.
func TestHandleWhoIsHere(t *testing.T) {
	r := newRoom(t)
	b := fntest.NewBroker(t)
	f := start(t, b, r.keys["dv-calc"])
	if _, err := f.HandleEvent(context.Background(), r.invoke(t, 2, "who is here?")); err != nil {
		t.Fatal(err)
	}
	sent, _ := events.Decode[events.MessageSent](b.Events()[0])
	plain, err := e2ee.Open(sent.Envelope, e2ee.AssociatedData{Conversation: "c-1", SenderDevice: "dv-calc", ClientMessageID: "r-2"}, "bob-phone", r.keys["bob-phone"])
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := e2ee.UnmarshalContent(plain); c.Text != "3 members: alice, bob, calc." {
		t.Errorf("answer = %q", c.Text)
	}
}

// A key that is not the agent's registered device key answers nothing but
// a visible not_configured; a broker that refuses the reply makes Handle
// fail (retried); malformed events are refused (400).
func TestHandleFailures(t *testing.T) {
	ctx := context.Background()
	r := newRoom(t)
	other, _ := e2ee.GenerateKey()
	b := fntest.NewBroker(t)
	f := start(t, b, other)
	if _, err := f.HandleEvent(ctx, r.invoke(t, 3, "1+1")); err != nil {
		t.Fatal(err)
	}
	if got := b.Events(); len(got) != 1 || got[0].Type() != events.TypeAgentError {
		t.Fatalf("posted %v, want one agent.error", got)
	}
	if d, _ := events.Decode[events.AgentError](b.Events()[0]); d.Code != "not_configured" {
		t.Errorf("agent.error = %+v", d)
	}

	b2 := fntest.NewBroker(t)
	f2 := start(t, b2, r.keys["dv-calc"])
	b2.Refuse(1)
	if _, err := f2.HandleEvent(ctx, r.invoke(t, 3, "1+1")); err == nil || fn.IsRefusal(err) {
		t.Errorf("refused reply: %v, want a retried failure", err)
	}
	wrong := r.invoke(t, 3, "1+1")
	wrong.SetType(events.TypeAgentDone)
	otherAgent := r.invoke(t, 3, "1+1")
	otherAgent.SetExtension(events.ExtAgentID, "someone")
	for name, e := range map[string]event.Event{"wrong type": wrong, "agentid mismatch": otherAgent} {
		if _, err := f2.HandleEvent(ctx, e); !fn.IsRefusal(err) {
			t.Errorf("%s: %v, want 400", name, err)
		}
	}
	if ready, _ := New().Ready(ctx); ready {
		t.Error("ready before Start")
	}
}

// An edit of a question is answered with its new text, as a reply to the
// edit; a reaction and a delete are answered with nothing at all.
func TestHandleEditsAndReactions(t *testing.T) {
	ctx := context.Background()
	r := newRoom(t)
	b := fntest.NewBroker(t)
	f := start(t, b, r.keys["dv-calc"])
	for seq, c := range map[int64]e2ee.Content{
		8: {React: &e2ee.Reaction{Ref: 5, Emoji: "👍"}},
		9: {Delete: &e2ee.Delete{Ref: 5}},
	} {
		if _, err := f.HandleEvent(ctx, r.invokeContent(t, seq, c)); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.Events(); len(got) != 0 {
		t.Fatalf("a reaction and a delete made calc post %d events, want none", len(got))
	}
	if _, err := f.HandleEvent(ctx, r.invokeContent(t, 10, e2ee.Content{Edit: &e2ee.Edit{Ref: 5, Text: "2+3"}})); err != nil {
		t.Fatal(err)
	}
	sent, err := events.Decode[events.MessageSent](b.Events()[0])
	if err != nil || sent.ClientMessageID != "r-10" {
		t.Fatalf("reply to the edit = %+v %v", sent, err)
	}
	plain, err := e2ee.Open(sent.Envelope, e2ee.AssociatedData{Conversation: "c-1", SenderDevice: "dv-calc", ClientMessageID: "r-10"}, "alice-phone", r.keys["alice-phone"])
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := e2ee.UnmarshalContent(plain); c.Text != "2+3 = 5" || c.ReplyTo != 10 {
		t.Errorf("the answer to the edit reads %+v", c)
	}
}
