package function

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// historyReaders bounds the lookups history runs at once.
const historyReaders = 8

// history is the context of a call: up to n messages before the one
// being answered, oldest first, as the agent can read them. It reads them
// by _id (conversation/seq) going back from the triggering seq — the one
// cheap lookup on FerretDB — and skips what was not sealed for the
// agent's device (sent before it joined) or does not open. The agent's
// own messages are the assistant's turns, everyone else's the user's.
func (t *turn) history(ctx context.Context, id agent.Self, trigger events.Message, n int) []chatMessage {
	if n <= 0 || trigger.Seq <= 1 {
		return nil
	}
	from := max(1, trigger.Seq-int64(n))
	found := make([]*events.Message, trigger.Seq-from)
	var wg sync.WaitGroup
	sem := make(chan struct{}, historyReaders)
	for seq := from; seq < trigger.Seq; seq++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			m, ok, err := t.d.msgs.Message(ctx, trigger.ConversationID, seq)
			if err != nil {
				t.log.Debug("agent-invoke: history: read", "seq", seq, "err", err)
				return
			}
			if ok {
				found[seq-from] = &m
			}
		})
	}
	wg.Wait()
	var out []chatMessage
	for _, m := range found {
		if m == nil || !slices.Contains(m.Envelope.Devices(), id.Device) {
			continue
		}
		c, err := id.Open(*m)
		if err != nil {
			t.log.Debug("agent-invoke: history: does not open", "seq", m.Seq, "err", err)
			continue
		}
		role := roleUser
		if m.SenderID == id.ID {
			role = roleAssistant
		}
		out = append(out, chatMessage{Role: role, Content: contentText(c)})
	}
	return out
}

// contentText is what the model sees of a message: its text, and a note
// for an attachment (the model gets no media).
func contentText(c e2ee.Content) string {
	if c.Media == nil {
		return c.Text
	}
	note := fmt.Sprintf("[attachment: %s", c.Media.Type)
	if c.Media.Name != "" {
		note += " " + c.Media.Name
	}
	note += "]"
	return strings.TrimSpace(c.Text + "\n" + note)
}
