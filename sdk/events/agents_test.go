package events_test

import (
	"encoding/base64"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// audienceOf is an audience of users' devices ("user/device" pairs) with
// fresh keys; agents lists the members that are agents, with their kind.
func audienceOf(t *testing.T, agents map[string]string, pairs ...[2]string) *events.Audience {
	t.Helper()
	a := &events.Audience{Keys: map[string]string{}}
	for _, p := range pairs {
		k, err := e2ee.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		a.Devices = append(a.Devices, events.DeviceRef{User: p[0], Device: p[1]})
		a.Keys[p[1]] = base64.StdEncoding.EncodeToString(k.PublicKeyBytes())
	}
	for id, kind := range agents {
		a.Agents = append(a.Agents, events.AgentMember{ID: id, Kind: kind})
	}
	return a
}

// withAudience is msg as persist replies it in a conversation of alice
// (dev-a), bob (dev-b) and the model agent agent-1 (its device agent-dev).
func withAudience(t *testing.T, msg events.Message) events.Message {
	msg.Audience = audienceOf(t, map[string]string{"agent-1": "model"},
		[2]string{"alice", "dev-a"}, [2]string{"bob", "dev-b"}, [2]string{"agent-1", "agent-dev"})
	return msg
}

// An invoke carries the audience with a key for every device, the agent's
// own device among them: anything less cannot be answered.
func TestAgentInvokeNeedsASealableAudience(t *testing.T) {
	msg := events.Message{ConversationID: "conv-1", Seq: 7, SenderID: "alice", SenderDevice: "dev-a",
		ClientMessageID: "m-1", Envelope: envelope("dev-a", "dev-b", "agent-dev"), StoredAt: time.Now()}
	ok := withAudience(t, msg)
	e, err := events.NewAgentInvoke("agent-1", "model", ok)
	if err != nil {
		t.Fatalf("a full audience: %v", err)
	}
	inv, err := events.Decode[events.AgentInvoke](e)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := inv.Message.Audience.Recipients()
	if err != nil || len(rs) != 3 || rs[2].Device != "agent-dev" {
		t.Fatalf("recipients = %v, %v; want the 3 devices in order", rs, err)
	}
	if got := inv.Message.Audience.Members(); !slices.Equal(got, []string{"alice", "bob", "agent-1"}) {
		t.Errorf("members = %v", got)
	}

	noKey := withAudience(t, msg)
	delete(noKey.Audience.Keys, "dev-b")
	badKey := withAudience(t, msg)
	badKey.Audience.Keys["dev-b"] = base64.StdEncoding.EncodeToString([]byte("short"))
	noAgent := withAudience(t, msg)
	noAgent.Audience.Devices = noAgent.Audience.Devices[:2]
	for name, m := range map[string]events.Message{
		"no audience": msg, "a device without a key": noKey, "a malformed key": badKey, "no device of the agent": noAgent,
	} {
		if _, err := events.NewAgentInvoke("agent-1", "model", m); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// persist's answer to an agent's message names the agent (agentid,
// agentkind), so that its runtime's Trigger brings it back; a person's
// message stays unmarked.
func TestStoredMessageOfAnAgentNamesIt(t *testing.T) {
	base := events.Message{ConversationID: "conv-1", Seq: 8, SenderDevice: "agent-dev",
		ClientMessageID: "r-7", Envelope: envelope("dev-a", "dev-b", "agent-dev"), StoredAt: time.Now()}
	for _, c := range []struct {
		sender, wantID, wantKind string
	}{{"agent-1", "agent-1", "model"}, {"alice", "", ""}} {
		m := withAudience(t, base)
		m.SenderID = c.sender
		e, err := events.NewMessageStored(m)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := e.Extensions()[events.ExtAgentID].(string)
		kind, _ := e.Extensions()[events.ExtAgentKind].(string)
		if id != c.wantID || kind != c.wantKind {
			t.Errorf("sender %s: agentid %q agentkind %q, want %q %q", c.sender, id, kind, c.wantID, c.wantKind)
		}
	}
}

// A rejection of an agent's message that carries the audience (for the
// agent to seal again) names the agent too.
func TestRejectionOfAnAgentNamesIt(t *testing.T) {
	aud := withAudience(t, events.Message{}).Audience
	e, err := events.NewMessageRejected("conv-1", "agent-1", "agent-dev", events.MessageRejected{ClientMessageID: "r-7",
		Code: "missing_keys", Reason: "not wrapped for 1 member device", MissingDevices: []string{"dev-b"}, Audience: aud})
	if err != nil {
		t.Fatal(err)
	}
	if e.Extensions()[events.ExtAgentID] != "agent-1" || e.Extensions()[events.ExtAgentKind] != "model" {
		t.Errorf("extensions = %v, want agentid agent-1, agentkind model", e.Extensions())
	}
	rej, err := events.Decode[events.MessageRejected](e)
	if err != nil || len(rej.Audience.Devices) != 3 {
		t.Errorf("decoded %+v, %v", rej, err)
	}
}
