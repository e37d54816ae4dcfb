package main

import (
	"fmt"
	"strings"

	"github.com/agentchat/agentchat/sdk/client"
)

// statusText is what the CLI's status line says of an agent's lifecycle
// receipt (docs/events.md, "Agent lifecycle"); "" for a state it does not
// know (a newer platform's).
func statusText(e *client.AgentActivity) string {
	switch e.State {
	case client.StatusWaking:
		return "is waking up"
	case client.StatusQueued:
		return "is queued (all its model slots are busy)"
	case client.StatusThinking:
		return "is thinking"
	case client.StatusTool:
		return "is using " + strings.Join(e.Tools, ", ")
	case client.StatusStreaming:
		return "is answering"
	}
	return ""
}

// agentLine prints "… <agent> <what>" for conv as the agent's status
// line, unless it is the line shown last for that agent (its typing
// "thinking", a status and its first partial say the same thing).
// end forgets the agent's line: its answer is done.
func (v *view) agentLine(conv, agent, what string) {
	if what == "" || conv != v.conv {
		return
	}
	v.mu.Lock()
	if v.agentLines == nil {
		v.agentLines = map[string]string{}
	}
	same := v.agentLines[agent] == what
	v.agentLines[agent] = what
	v.mu.Unlock()
	if !same {
		v.scr.println(fmt.Sprintf("   … %s %s", v.name(agent), what))
	}
}

func (v *view) endAgentLine(agent string) {
	v.mu.Lock()
	delete(v.agentLines, agent)
	v.mu.Unlock()
}
