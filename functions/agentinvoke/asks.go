package function

import (
	"context"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// skip reports whether the invoke's message asks nothing of the agent
// (agent.AskOf) and, if so, finishes the call without calling the model.
// An edit is answered anew only when it is one the members' clients
// apply: by the sender of the message it edits, within e2ee.EditWindow
// (agent.CheckAction against the original, read from the message log). A
// message that does not open is not skipped: prepare fails it visibly.
func (t *turn) skip(ctx context.Context, id agent.Self) bool {
	content, err := id.Open(t.inv.Message)
	if err != nil {
		return false
	}
	ask := agent.AskOf(content)
	why := ""
	switch {
	case ask.Skip:
		why = content.Kind()
	case ask.Edit > 0:
		if err := t.checkEdit(ctx, id, content, ask.Edit); err != nil {
			t.log.Info("agent-invoke: an edit not answered", "ref", ask.Edit, "why", err)
			why = "refused edit"
		}
	}
	if why == "" {
		return false
	}
	t.log.Info("agent-invoke: nothing to answer", "kind", why)
	if err := t.d.ledger.Finish(ctx, t.k, stateSkipped); err != nil {
		t.log.Warn("agent-invoke: ledger: finish a skipped call", "err", err) // a sweep or redelivery skips it again
	}
	return true
}

// checkEdit reads the message an edit refers to and applies the rule.
func (t *turn) checkEdit(ctx context.Context, id agent.Self, edit e2ee.Content, ref int64) error {
	page, err := t.d.msgs.After(ctx, t.k.Conversation, ref-1, 1, id.Device)
	if err != nil {
		t.log.Warn("agent-invoke: read the edited message", "ref", ref, "err", err)
		return nil // unchecked rather than unanswered: clients still judge it
	}
	if len(page) == 0 || page[0].Seq != ref {
		return e2ee.ErrUnknownRef
	}
	orig, err := id.Open(page[0])
	if err != nil {
		return e2ee.ErrUnknownRef // not sealed for the agent: it was not asked
	}
	return agent.CheckAction(t.inv.Message, edit, page[0], orig)
}
