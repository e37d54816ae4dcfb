package agent_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// conv is a conversation of alice (two devices) and the agent calc.
type conv struct {
	keys     map[string]*e2ee.PrivateKey // by device
	audience *events.Audience
}

func newConv(t *testing.T) *conv {
	t.Helper()
	c := &conv{keys: map[string]*e2ee.PrivateKey{}, audience: &events.Audience{Keys: map[string]string{},
		Agents: []events.AgentMember{{ID: "calc", Kind: "calc"}}}}
	for _, d := range []events.DeviceRef{{User: "alice", Device: "alice-phone"}, {User: "alice", Device: "alice-laptop"}, {User: "calc", Device: "dv-calc"}} {
		k, err := e2ee.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		c.keys[d.Device] = k
		c.audience.Devices = append(c.audience.Devices, d)
		c.audience.Keys[d.Device] = base64.StdEncoding.EncodeToString(k.PublicKeyBytes())
	}
	return c
}

func b64(k *e2ee.PrivateKey) string { return base64.StdEncoding.EncodeToString(k.Bytes()) }

func TestParseKeys(t *testing.T) {
	a, _ := e2ee.GenerateKey()
	b, _ := e2ee.GenerateKey()
	keys, err := agent.ParseKeys("calc:" + b64(a) + ",\n helper:dv-helper:" + b64(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys["calc"].Device != "" || keys["helper"].Device != "dv-helper" ||
		string(keys["helper"].Private.Bytes()) != string(b.Bytes()) {
		t.Errorf("keys = %+v", keys)
	}
	secret := b64(a)
	for _, bad := range []string{"calc", "calc:" + secret + ",calc:" + secret, "bad/id:" + secret, "calc:not-base64!" + secret[:4], "calc:" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		_, err := agent.ParseKeys(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:4]) {
			t.Errorf("error %q repeats the key", err)
		}
	}
	if keys, err := agent.ParseKeys(""); err != nil || len(keys) != 0 {
		t.Errorf("empty: %v %v", keys, err)
	}
}

func TestIdentify(t *testing.T) {
	c := newConv(t)
	other, _ := e2ee.GenerateKey()
	self, err := agent.Identify(agent.Key{Agent: "calc", Private: c.keys["dv-calc"]}, "calc", c.audience)
	if err != nil || self.Device != "dv-calc" || self.ID != "calc" {
		t.Fatalf("Identify = %+v, %v", self, err)
	}
	for _, bad := range []struct {
		name       string
		key        agent.Key
		wantDevice string
	}{
		{"another key", agent.Key{Agent: "calc", Private: other}, "dv-calc"},
		{"another device named", agent.Key{Agent: "calc", Device: "dv-other", Private: c.keys["dv-calc"]}, "dv-calc"},
		{"not in the conversation", agent.Key{Agent: "helper", Private: other}, ""},
	} {
		s, err := agent.Identify(bad.key, "calc", c.audience)
		var ce *agent.ConfigError
		if !errors.As(err, &ce) || s.Device != bad.wantDevice {
			t.Errorf("%s: %+v, %v; want a ConfigError naming device %q", bad.name, s, err, bad.wantDevice)
		}
	}
}

// The agent opens what alice sealed for it, and its reply — sealed for
// the audience — opens on each of alice's devices; every event it sends
// is valid, names it, and has an id fixed by the message it answers.
func TestReplyRoundTrip(t *testing.T) {
	c := newConv(t)
	self, err := agent.Identify(agent.Key{Agent: "calc", Private: c.keys["dv-calc"]}, "calc", c.audience)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.audience.Recipients()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := e2ee.Content{Text: "2+2"}.Marshal()
	env, _ := e2ee.Seal(body, e2ee.AssociatedData{Conversation: "c-1", SenderDevice: "alice-phone", ClientMessageID: "m-1"}, rs)
	m := events.Message{ConversationID: "c-1", Seq: 4, SenderID: "alice", SenderDevice: "alice-phone", ClientMessageID: "m-1", Envelope: env, StoredAt: time.Now()}
	q, err := self.Open(m)
	if err != nil || q.Text != "2+2" {
		t.Fatalf("Open = %+v, %v", q, err)
	}
	renv, err := self.SealReply("c-1", 4, e2ee.Content{Text: "4"}, rs)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := self.Reply("c-1", 4, renv)
	if err != nil {
		t.Fatal(err)
	}
	sent, _ := events.Decode[events.MessageSent](reply)
	// Signed with the key derived from the agent's X25519 key, which is
	// what its owner publishes; the sealed envelope handed in is unchanged.
	if err := e2ee.VerifyEnvelope(sent.Envelope, "c-1", "dv-calc", e2ee.DeriveSigningKey(c.keys["dv-calc"]).PublicKeyBytes()); err != nil {
		t.Errorf("the reply does not verify under the agent's derived signing key: %v", err)
	}
	if renv.Sig != nil {
		t.Error("Reply changed the caller's envelope")
	}
	if sent.ClientMessageID != "r-4" || reply.Extensions()[events.ExtAgentID] != "calc" || reply.Extensions()[events.ExtAgentKind] != "calc" {
		t.Errorf("reply %s with %v", sent.ClientMessageID, reply.Extensions())
	}
	for _, d := range []string{"alice-phone", "alice-laptop"} {
		plain, err := e2ee.Open(sent.Envelope, e2ee.AssociatedData{Conversation: "c-1", SenderDevice: "dv-calc", ClientMessageID: "r-4"}, d, c.keys[d])
		if err != nil {
			t.Fatalf("%s cannot open the reply: %v", d, err)
		}
		if got, _ := e2ee.UnmarshalContent(plain); got.Text != "4" || got.ReplyTo != 4 {
			t.Errorf("%s reads %+v", d, got)
		}
	}
	if own, err := self.OpenReply("c-1", 4, renv); err != nil || !strings.Contains(string(own), `"4"`) {
		t.Errorf("own copy: %s, %v", own, err)
	}
	done1, err1 := self.Done("c-1", 4)
	done2, err2 := self.Done("c-1", 4)
	fail, err3 := self.Error("c-1", 4, agent.CodeNotStored, "could not deliver", true)
	typ, err4 := self.Typing("c-1", events.TypingThinking)
	part, err5 := self.Partial("c-1", 4, 0, renv)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		t.Fatal(err)
	}
	if done1.ID() != done2.ID() || done1.ID() == fail.ID() {
		t.Error("done ids are not fixed per answered message")
	}
	for _, e := range [](interface{ Extensions() map[string]any }){&done1, &fail, &typ, &part} {
		if e.Extensions()[events.ExtSenderID] != "calc" || e.Extensions()[events.ExtDeviceID] != "dv-calc" || e.Extensions()[events.ExtAgentID] != "calc" {
			t.Errorf("event from %v", e.Extensions())
		}
	}
}

func TestReplyTo(t *testing.T) {
	for id, want := range map[string]int64{"r-1": 1, "r-42": 42, "r-0": 0, "r-01": 0, "m-1": 0, "r-": 0, "r-x": 0, "r--1": 0} {
		got, ok := agent.ReplyTo(id)
		if got != want || ok != (want > 0) {
			t.Errorf("ReplyTo(%q) = %d %v, want %d", id, got, ok, want)
		}
		if ok && agent.ReplyID(got) != id {
			t.Errorf("ReplyID(%d) = %s, want %s", got, agent.ReplyID(got), id)
		}
	}
}

// persist's answers to the agent's reply are outcomes; its answer to
// anything else is not.
func TestOutcomeOf(t *testing.T) {
	c := newConv(t)
	rs, _ := c.audience.Recipients()
	env, _ := e2ee.Seal([]byte(`{"text":"4"}`), e2ee.AssociatedData{Conversation: "c-1", SenderDevice: "dv-calc", ClientMessageID: "r-4"}, rs)
	stored := events.Message{ConversationID: "c-1", Seq: 5, SenderID: "calc", SenderDevice: "dv-calc", ClientMessageID: "r-4",
		Envelope: env, StoredAt: time.Now(), Audience: c.audience}
	e, err := events.NewMessageStored(stored)
	if err != nil {
		t.Fatal(err)
	}
	o, ok, err := agent.OutcomeOf(e)
	if err != nil || !ok || o.Agent != "calc" || o.Device != "dv-calc" || o.Conversation != "c-1" || o.ReplyTo != 4 || o.Stored == nil || o.Stored.Seq != 5 {
		t.Errorf("stored: %+v %v %v", o, ok, err)
	}
	rej, _ := events.NewMessageRejected("c-1", "calc", "dv-calc", events.MessageRejected{ClientMessageID: "r-4", Code: "missing_keys",
		Reason: "not wrapped for 1 member device", Audience: c.audience})
	o, ok, err = agent.OutcomeOf(rej)
	if err != nil || !ok || o.ReplyTo != 4 || o.Rejected == nil || o.Rejected.Audience == nil {
		t.Errorf("rejected: %+v %v %v", o, ok, err)
	}
	stored.ClientMessageID = "m-9"
	notReply, _ := events.NewMessageStored(stored)
	typ, _ := events.NewTyping("/x", "c-1", "calc", "dv-calc", events.TypingThinking)
	if _, ok, err := agent.OutcomeOf(notReply); ok || err != nil {
		t.Errorf("a message that is not a reply: ok %v err %v", ok, err)
	}
	if _, ok, err := agent.OutcomeOf(typ); ok || err != nil {
		t.Errorf("typing: ok %v err %v", ok, err)
	}
}

// An edit asks the agent again, with the new text; a reaction or a
// delete asks nothing; an edit by someone else than the sender, or too
// late, does not check.
func TestAskOf(t *testing.T) {
	if a := agent.AskOf(e2ee.Content{Text: "2+2"}); a.Text != "2+2" || a.Edit != 0 || a.Skip {
		t.Errorf("a message: %+v", a)
	}
	edit := e2ee.Content{Edit: &e2ee.Edit{Ref: 4, Text: "2+3"}}
	if a := agent.AskOf(edit); a.Text != "2+3" || a.Edit != 4 || a.Skip {
		t.Errorf("an edit: %+v", a)
	}
	for _, c := range []e2ee.Content{{React: &e2ee.Reaction{Ref: 4, Emoji: "👍"}}, {Delete: &e2ee.Delete{Ref: 4}}} {
		if a := agent.AskOf(c); !a.Skip {
			t.Errorf("%s: %+v, want skipped", c.Kind(), a)
		}
	}
	t0 := time.Now()
	orig := events.Message{Seq: 4, SenderID: "alice", StoredAt: t0}
	q := e2ee.Content{Text: "2+2"}
	if err := agent.CheckAction(events.Message{Seq: 6, SenderID: "alice", StoredAt: t0.Add(time.Minute)}, edit, orig, q); err != nil {
		t.Errorf("alice's own edit: %v", err)
	}
	if err := agent.CheckAction(events.Message{Seq: 6, SenderID: "mallory", StoredAt: t0.Add(time.Minute)}, edit, orig, q); !errors.Is(err, e2ee.ErrNotSender) {
		t.Errorf("mallory's forged edit: %v", err)
	}
	if err := agent.CheckAction(events.Message{Seq: 6, SenderID: "alice", StoredAt: t0.Add(time.Hour)}, edit, orig, q); !errors.Is(err, e2ee.ErrTooLate) {
		t.Errorf("a late edit: %v", err)
	}
}
