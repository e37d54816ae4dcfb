package agent

import (
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// Ask is what a message asks of an agent. Edits, deletes and reactions
// are ordinary messages (e2ee.Edit, e2ee.Delete, e2ee.Reaction), so an
// agent is invoked for them like for any other; AskOf says which need an
// answer (docs/agents.md, "Edits, deletes and reactions").
type Ask struct {
	// Text is what to answer: the message's text, or an edit's new text.
	Text string
	// Edit > 0: the message edits the one at this seq (which the agent
	// was asked, and may have answered): the earlier answer is stale.
	// Answer Text anew — the reply answers the edit's own seq, as for any
	// message. Where the original can be read, CheckAction it first.
	Edit int64
	// Skip: a reaction or a delete — nothing to answer: no model call,
	// no reply, no agent.done.
	Skip bool
}

// AskOf reads an opened message's content (Self.Open).
func AskOf(c e2ee.Content) Ask {
	switch c.Kind() {
	case e2ee.KindEdit:
		return Ask{Text: c.Edit.Text, Edit: c.Edit.Ref}
	case e2ee.KindDelete, e2ee.KindReaction:
		return Ask{Skip: true}
	}
	return Ask{Text: c.Text}
}

// CheckAction applies the receivers' rule (e2ee.CheckAction) to an edit (or a delete)
// the agent is asked to answer, against the message it edits as the agent
// reads it (the stored original and its opened content): only its sender,
// within e2ee.EditWindow. An agent that cannot read the original (it
// keeps no history) answers the edit unchecked; members' clients still
// show a forged edit as ignored, and the agent's answer to it as a reply
// to that entry.
func CheckAction(edit events.Message, c e2ee.Content, original events.Message, originalContent e2ee.Content) error {
	by := e2ee.Entry{Seq: edit.Seq, Sender: edit.SenderID, StoredAt: edit.StoredAt, Kind: c.Kind()}
	orig := e2ee.Entry{Seq: original.Seq, Sender: original.SenderID, StoredAt: original.StoredAt, Kind: originalContent.Kind()}
	return e2ee.CheckAction(c, by, orig)
}
