package function

import (
	"testing"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestTypingFromOutsideIsAnsweredNotMember: typing from a device outside
// the conversation reaches no member; its own device gets not_member with
// no id, addressed to it. An agent's typing from outside is only dropped.
func TestTypingFromOutsideIsAnsweredNotMember(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	w := fx.watch()
	f := fx.start(nil)
	src := events.SourceConnectorPrefix + "A"
	for _, tt := range []struct{ conv, user, device string }{{"c1", "eve", "e1"}, {"nope", "alice", "a1"}} {
		handle(t, f, must(events.NewTyping(src, tt.conv, tt.user, tt.device, events.TypingStarted)))
		got := w.drain()
		if len(got) != 1 || len(got[0].targets) != 1 || got[0].targets[0] != dev(tt.user, tt.device) {
			t.Fatalf("%s/%s in %s: deliveries %q, want one to its own device", tt.user, tt.device, tt.conv, summary(got))
		}
		rej, err := events.Decode[events.MessageRejected](got[0].inner)
		if got[0].inner.Type() != events.TypeMessageRejected || err != nil || rej.Code != protocol.CodeNotMember || rej.ClientMessageID != "" {
			t.Errorf("%s in %s: got %s %+v (%v), want message.rejected not_member with no id", tt.user, tt.conv, got[0].inner.Type(), rej, err)
		}
		if c, _ := got[0].inner.Extensions()[events.ExtConversationID].(string); c != tt.conv {
			t.Errorf("rejection for conversation %q, want %q", c, tt.conv)
		}
	}
	thinking := must(events.New(events.TypeTyping, events.RandomID(), events.Meta{Source: events.SourceAgentPrefix + "bot",
		Conversation: "c1", Sender: "eve", Device: "e1", AgentID: "bot"}, events.Typing{State: events.TypingThinking}))
	handle(t, f, thinking)
	if got := summary(w.drain()); got != "" {
		t.Errorf("an outside agent's typing: deliveries %q, want none", got)
	}
}
