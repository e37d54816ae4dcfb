package function

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// history is the context of a call: up to n messages before the one
// being answered, oldest first, as the agent can read them. Seqs are
// gapless and the triggering one is stored, so those n are exactly the
// page after trigger.Seq-n-1 (store/messages reads it by _id on FerretDB,
// its one cheap lookup), read for the agent's device: a sender key
// distribution comes with the agent's key alone, not every member's. It skips what was not sealed for the agent's
// device (sent before it joined) or does not open. The agent's own
// messages are the assistant's turns, everyone else's the user's. The
// history is context, not a condition of the call: when it cannot be read
// the model is called without it.
func (t *turn) history(ctx context.Context, id agent.Self, trigger events.Message, n int) []chatMessage {
	if n <= 0 || trigger.Seq <= 1 {
		return nil
	}
	from := max(1, trigger.Seq-int64(n))
	page, err := t.d.msgs.After(ctx, trigger.ConversationID, from-1, int(trigger.Seq-from), id.Device)
	if err != nil {
		t.log.Warn("agent-invoke: history: read", "from", from, "err", err)
		return nil
	}
	// Edits, deletes and reactions are messages too: the model sees
	// what members see — the edited text, no deleted message, no
	// reaction — by the members' rule (e2ee.CheckAction).
	type turnMsg struct {
		m events.Message
		c e2ee.Content
	}
	var read []turnMsg
	bySeq := map[int64]int{}
	for _, m := range page {
		if !slices.Contains(m.Envelope.Devices(), id.Device) || e2ee.IsDistributionID(m.ClientMessageID) {
			continue // not for the agent, or a sender key (nothing to say)
		}
		c, err := id.Open(m)
		if err != nil {
			t.log.Debug("agent-invoke: history: does not open", "seq", m.Seq, "err", err)
			continue
		}
		if c.Kind() == e2ee.KindMessage {
			bySeq[m.Seq] = len(read)
			read = append(read, turnMsg{m, c})
			continue
		}
		i, ok := bySeq[c.Ref()]
		if !ok || c.Kind() == e2ee.KindReaction || agent.CheckAction(m, c, read[i].m, read[i].c) != nil {
			continue
		}
		if c.Edit != nil {
			read[i].c = e2ee.Content{Text: c.Edit.Text, Media: read[i].c.Media}
		} else {
			delete(bySeq, c.Ref())
			read[i].m.Seq = 0 // deleted
		}
	}
	// An edit being answered replaces the message it edits: the model
	// is asked the new text once, not the old one before it.
	if tc, err := id.Open(trigger); err == nil && tc.Edit != nil {
		if i, ok := bySeq[tc.Edit.Ref]; ok {
			read[i].m.Seq = 0
		}
	}
	var out []chatMessage
	for _, r := range read {
		if r.m.Seq == 0 {
			continue
		}
		role := roleUser
		if r.m.SenderID == id.ID {
			role = roleAssistant
		}
		out = append(out, chatMessage{Role: role, Content: contentText(r.c)})
	}
	return out
}

// contentText is what the model sees of a message: its text, and a note
// for an attachment (the model gets no media).
func contentText(c e2ee.Content) string {
	if c.Edit != nil {
		return c.Edit.Text // the message being answered is an edit: its new text
	}
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
