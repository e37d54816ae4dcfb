package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/tool"
)

// args are the tool's parameters (the schema an agent declares for it in
// AGENT_CONFIG, docs/agents.md):
//
//	{"type": "object", "properties": {
//	   "count":    {"type": "integer", "description": "how many messages, newest last (default 20, at most 100)"},
//	   "before":   {"type": "integer", "description": "only messages before this seq (default: the question's)"},
//	   "contains": {"type": "string",  "description": "only messages containing this text (any case)"}}}
type args struct {
	Count    int    `json:"count"`
	Before   int64  `json:"before"`
	Contains string `json:"contains"`
}

// Bounds of one call: what it returns, and how far back it reads.
const (
	defaultCount = 20
	maxCount     = 100
	maxScan      = 1000 // messages read back at most, for a "contains" search
	page         = 200
)

// history answers one call: up to count messages before the one the agent
// answers (or before), that contain the text, oldest first, one line each:
// "#<seq> <sender>: <text>".
func (d *deps) history(ctx context.Context, c tool.Call) (string, error) {
	var a args
	dec := json.NewDecoder(bytes.NewReader([]byte(c.Arguments)))
	dec.DisallowUnknownFields()
	if strings.TrimSpace(c.Arguments) != "" {
		if err := dec.Decode(&a); err != nil {
			return "", fmt.Errorf("arguments: %v", err)
		}
	}
	key, ok := d.keys[c.AgentID]
	if !ok {
		return "", errors.New("this tool does not serve this agent")
	}
	self := agent.Self{ID: c.AgentID, Device: c.Device, Key: key.Private}
	count := a.Count
	if count <= 0 {
		count = defaultCount
	}
	count = min(count, maxCount)
	before := c.ReplyTo
	if a.Before > 0 && a.Before < before {
		before = a.Before
	}
	needle := strings.ToLower(strings.TrimSpace(a.Contains))

	// Read pages backwards from before until count lines are found or
	// maxScan messages were read: seqs are gapless, so a page is the
	// messages after from-1, read for the agent's device (a distribution
	// comes with its key alone).
	var lines []string
	for end, scanned := before, 0; end > 1 && len(lines) < count && scanned < maxScan; {
		from := max(1, end-page)
		ms, err := d.msgs.After(ctx, c.Conversation, from-1, int(end-from), self.Device)
		if err != nil {
			return "", errors.New("the conversation could not be read now; try again later")
		}
		var found []string
		for _, m := range ms {
			if m.Seq >= end || !slices.Contains(m.Envelope.Devices(), self.Device) || e2ee.IsDistributionID(m.ClientMessageID) {
				continue
			}
			content, err := self.Open(m)
			if err != nil {
				continue
			}
			text := strings.TrimSpace(content.Text)
			if content.Media != nil {
				text = strings.TrimSpace(text + " [attachment: " + content.Media.Type + "]")
			}
			if needle != "" && !strings.Contains(strings.ToLower(text), needle) {
				continue
			}
			found = append(found, fmt.Sprintf("#%d %s: %s", m.Seq, m.SenderID, text))
		}
		lines = append(found, lines...)
		scanned += len(ms)
		end = from
	}
	if len(lines) > count {
		lines = lines[len(lines)-count:]
	}
	if len(lines) == 0 {
		return "no earlier messages found", nil
	}
	return strings.Join(lines, "\n"), nil
}
