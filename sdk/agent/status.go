package agent

import (
	"strconv"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
)

// Status is the index-th lifecycle receipt of the reply to seq: state is
// one of events.StatusStates, tools the tools running for
// events.StatusTool. Its event id is fixed by the index, so a resend is
// the same event; give each status of an answer a higher index than the
// one before (clients show the highest).
func (s Self) Status(conversation string, seq int64, index int, state string, tools ...string) (event.Event, error) {
	return s.stamped(events.New(events.TypeAgentStatus, events.DeriveID("agent-status", s.callID(conversation, seq), strconv.Itoa(index)),
		s.meta(conversation), events.AgentStatus{AgentID: s.ID, ReplyTo: seq, Index: index, State: state, Tools: tools}))
}
