package events

import (
	"fmt"
	"slices"
	"strings"
)

// TypeAgentStatus is an agent runtime's lifecycle receipt for one answer:
// where the answer to the message at ReplyTo stands (docs/events.md,
// "Agent lifecycle"). Ephemeral like a partial — route delivers it to the
// members' devices and keeps an answer's latest one with its partials,
// for a device that resumes mid-answer — and it ends with the agent's done
// or error. Its data is metadata, not content: the server sees it (the
// tool names included) as it sees "thinking" (docs/e2ee.md).
const TypeAgentStatus = "io.agentchat.agent.status"

// Lifecycle states of an answer, roughly in the order they occur; done and
// error are the agent's done and error events, not statuses.
const (
	StatusWaking    = "waking"    // the runtime was idle or just started (a scale from zero): expect a slower start
	StatusQueued    = "queued"    // every model call slot of the runtime is busy: the answer waits for one
	StatusThinking  = "thinking"  // the model has the request (again, after tools) and has not streamed yet
	StatusTool      = "tool"      // the model asked for tools (Tools names them) and they run
	StatusStreaming = "streaming" // the model's answer is streaming (agent.partial follow)
)

// StatusStates lists the lifecycle states.
var StatusStates = []string{StatusWaking, StatusQueued, StatusThinking, StatusTool, StatusStreaming}

// MaxStatusTools bounds the tool names one status carries.
const MaxStatusTools = 16

func init() {
	catalog[TypeAgentStatus] = spec{actor: true, agent: true, data: func() dataer { return new(AgentStatus) }}
	AllTypes = append(AllTypes, TypeAgentStatus)
}

// AgentStatus is the data of TypeAgentStatus. Index orders the statuses
// of one answer — a later one has a higher index, across the runtime's
// attempts at the answer too — since the broker may deliver them out of
// order: a client shows the status with the highest index it has seen,
// until the answer's done, error or reply.
type AgentStatus struct {
	AgentID string   `json:"agentId"`
	ReplyTo int64    `json:"replyTo"`
	Index   int      `json:"index"`
	State   string   `json:"state"`
	Tools   []string `json:"tools,omitempty"` // StatusTool: the tools running
}

func (d *AgentStatus) check() error {
	switch {
	case !ValidID(d.AgentID) || d.ReplyTo < 1 || d.Index < 0:
		return fmt.Errorf("agentId, replyTo and index are required")
	case !slices.Contains(StatusStates, d.State):
		return fmt.Errorf("state %q, want one of %s", d.State, strings.Join(StatusStates, ", "))
	case d.State == StatusTool && (len(d.Tools) == 0 || len(d.Tools) > MaxStatusTools):
		return fmt.Errorf("state tool needs 1 to %d tools, got %d", MaxStatusTools, len(d.Tools))
	case d.State != StatusTool && len(d.Tools) > 0:
		return fmt.Errorf("tools are for state tool only")
	}
	for _, t := range d.Tools {
		if !ValidToolName(t) {
			return fmt.Errorf("tool %q is not a tool name", t)
		}
	}
	return nil
}
