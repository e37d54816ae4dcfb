package client

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestAgentStatusesLatestOnly: an answer's lifecycle statuses reach the
// application only when later (a higher index) than the last one handed
// on — a broker may deliver them in any order — with their state and
// tools, and none after the answer's done.
func TestAgentStatusesLatestOnly(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, nil, fc.URL))
	sc := fc.accept()
	sc.expect(protocol.TypeResume)

	status := func(index int, state string, tools ...string) {
		sc.send(protocol.Frame{Type: protocol.TypeAgent, Kind: AgentStatus, Conversation: convID, Agent: "bot",
			Sender: "bot", SenderDevice: "bot-d", ReplyTo: 7, Index: index, State: state, Tools: tools})
	}
	status(1, StatusQueued)
	status(0, StatusWaking) // older: dropped
	status(2, StatusThinking)
	status(2, StatusThinking) // again: dropped
	status(4, StatusTool, "history", "http")
	status(3, StatusThinking) // older: dropped
	status(1000, StatusStreaming)
	sc.send(protocol.Frame{Type: protocol.TypeAgent, Kind: AgentDone, Conversation: convID, Agent: "bot", SenderDevice: "bot-d", ReplyTo: 7, ID: "r-7"})
	status(1001, StatusThinking) // after done: dropped
	sc.send(protocol.Frame{Type: protocol.TypeAgent, Kind: AgentError, Conversation: convID, Agent: "bot", SenderDevice: "bot-d", ReplyTo: 99, Code: "marker"})

	var got []string
	deadline := time.After(waitFor)
	for done := false; !done; {
		select {
		case ev := <-c.Events():
			if a, ok := ev.(*AgentActivity); ok {
				switch {
				case a.Kind == AgentError && a.Code == "marker":
					done = true
				case a.Kind == AgentStatus:
					if a.ReplyTo != 7 || a.Agent != "bot" || a.Conversation != convID {
						t.Errorf("status %+v", a)
					}
					got = append(got, strings.Join(append([]string{a.State}, a.Tools...), ":"))
				}
			}
		case <-deadline:
			t.Fatal("no marker")
		}
	}
	if want := []string{"queued", "thinking", "tool:history:http", "streaming"}; !slices.Equal(got, want) {
		t.Errorf("statuses handed on = %q, want %q", got, want)
	}
}
