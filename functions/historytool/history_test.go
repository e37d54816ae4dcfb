package function

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/tool"
	"github.com/agentchat/agentchat/store/messages"
	"github.com/agentchat/agentchat/store/toolruns"
)

// The tool reads what the agent's device can open, before the question,
// filtered and bounded as asked; runs once per call id; refuses bad
// arguments with an error result the model reads.
func TestHistory(t *testing.T) {
	ctx := context.Background()
	agentKey, _ := e2ee.GenerateKey()
	aliceKey, _ := e2ee.GenerateKey()
	both := []e2ee.Recipient{{Device: "dv-helper", PublicKey: agentKey.PublicKey()}, {Device: "alice-phone", PublicKey: aliceKey.PublicKey()}}
	log := messages.NewMemory()
	say := func(seq int64, text string, rs []e2ee.Recipient) {
		b, _ := e2ee.Content{Text: text}.Marshal()
		id := "m-" + text[:3]
		env, err := e2ee.Seal(b, e2ee.AssociatedData{Conversation: "c-1", SenderDevice: "alice-phone", ClientMessageID: id}, rs)
		if err != nil {
			t.Fatal(err)
		}
		if err := log.Insert(ctx, events.Message{ConversationID: "c-1", Seq: seq, SenderID: "alice", SenderDevice: "alice-phone",
			ClientMessageID: id, Envelope: env, StoredAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	say(1, "one: the plan is blue", both)
	say(2, "two: before the agent joined", both[1:]) // not sealed for the agent
	say(3, "three: the plan changed to green", both)
	say(4, "four: what is the plan?", both) // the question

	f := New()
	d := &deps{keys: map[string]agent.Key{"helper": {Agent: "helper", Private: agentKey}}, msgs: log}
	f.Use(tool.Parts{Run: d.history, Runs: toolruns.NewMemory()})
	ask := func(callID, arguments string) events.ToolResult {
		t.Helper()
		e, err := events.NewToolCalled("c-1", "dv-helper", "model", events.ToolCalled{CallID: callID, Tool: "history", AgentID: "helper", ReplyTo: 4, Arguments: arguments})
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.HandleEvent(ctx, e)
		if err != nil || r == nil {
			t.Fatalf("%s: %v %v", callID, r, err)
		}
		d, err := events.Decode[events.ToolResult](*r)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if got := ask("tc-1", `{}`); got.Error || got.Content != "#1 alice: one: the plan is blue\n#3 alice: three: the plan changed to green" {
		t.Errorf("all = %+v", got)
	}
	if got := ask("tc-2", `{"contains": "GREEN", "count": 5}`); got.Content != "#3 alice: three: the plan changed to green" {
		t.Errorf("contains = %+v", got)
	}
	if got := ask("tc-3", `{"count": 1}`); got.Content != "#3 alice: three: the plan changed to green" {
		t.Errorf("count 1 = %+v", got)
	}
	if got := ask("tc-4", `{"before": 2}`); got.Content != "#1 alice: one: the plan is blue" {
		t.Errorf("before 2 = %+v", got)
	}
	if got := ask("tc-5", `{"limit": 3}`); !got.Error || !strings.Contains(got.Content, "arguments") {
		t.Errorf("unknown argument = %+v, want an error result", got)
	}
	// The same call again: not run, no reply.
	e, _ := events.NewToolCalled("c-1", "dv-helper", "model", events.ToolCalled{CallID: "tc-1", Tool: "history", AgentID: "helper", ReplyTo: 4, Arguments: `{}`})
	if r, err := f.HandleEvent(ctx, e); r != nil || err != nil {
		t.Errorf("a redelivery: %v %v, want no reply", r, err)
	}
}
