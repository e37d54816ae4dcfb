package client

import (
	"context"
	"fmt"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// Replies, edits, deletes for everyone and reactions are ordinary messages
// whose content refers to an earlier message by its seq (e2ee.Edit,
// e2ee.Delete, e2ee.Reaction, Content.ReplyTo): they go through the outbox
// and come back in seq order like any other. What is special is on the
// receiving side: each action is checked against the message it refers to
// (e2ee.CheckAction) and Message.Invalid says when it must not be applied.

// maxEntries bounds what a conversation remembers of its messages for
// checking actions (sender, stored time, kind: a few dozen bytes each): it
// keeps at least the last maxEntries seqs (swept in bulk past a quarter
// more); an action on a message older than those may come with Invalid
// e2ee.ErrUnknownRef. Edits and deletes are bounded by
// their windows anyway; only reactions to very old messages are lost.
const maxEntries = 20000

// Reply sends text as a reply to the message at ref: clients show the
// message it answers as a quote above it.
func (c *Client) Reply(ctx context.Context, conversation string, ref int64, text string) (string, error) {
	if ref < 1 {
		return "", fmt.Errorf("client: reply: ref must be >= 1")
	}
	return c.Send(ctx, conversation, e2ee.Content{Text: text, ReplyTo: ref})
}

// Edit replaces the text of this user's own message at ref, for everyone,
// within e2ee.EditWindow of when it was stored. A message this client has
// seen is checked first (own, in time, not deleted); one it has not is
// sent all the same, and receivers check it.
func (c *Client) Edit(ctx context.Context, conversation string, ref int64, text string) (string, error) {
	return c.sendAction(ctx, conversation, e2ee.Content{Edit: &e2ee.Edit{Ref: ref, Text: text}})
}

// Delete deletes this user's own message at ref for everyone, within
// e2ee.DeleteWindow; receivers show "This message was deleted". Deleting
// for oneself only is the application's: nothing is sent.
func (c *Client) Delete(ctx context.Context, conversation string, ref int64) (string, error) {
	return c.sendAction(ctx, conversation, e2ee.Content{Delete: &e2ee.Delete{Ref: ref}})
}

// React sets this user's reaction to the message at ref (any member's):
// it replaces the user's earlier one; an empty emoji removes it.
func (c *Client) React(ctx context.Context, conversation string, ref int64, emoji string) (string, error) {
	return c.sendAction(ctx, conversation, e2ee.Content{React: &e2ee.Reaction{Ref: ref, Emoji: emoji}})
}

// sendAction checks an action against what this client knows — the same
// rules its receivers apply, as if it were stored now — and sends it.
func (c *Client) sendAction(ctx context.Context, conversation string, a e2ee.Content) (string, error) {
	if _, err := a.Marshal(); err != nil {
		return "", fmt.Errorf("client: %s: %w", a.Kind(), err)
	}
	err, qerr := query(c, func() error {
		cv := c.s.convs[conversation]
		if cv == nil || cv.entries[a.Ref()] == nil {
			return nil // not seen here: the receivers judge
		}
		orig := *cv.entries[a.Ref()]
		by := e2ee.Entry{Seq: max(cv.order.last, orig.Seq) + 1, Sender: c.s.user, StoredAt: c.cfg.clock.Now(), Verified: true}
		return e2ee.CheckAction(a, by, orig)
	})
	if qerr != nil {
		return "", qerr
	}
	if err != nil {
		return "", fmt.Errorf("client: %s: %w", a.Kind(), err)
	}
	return c.Send(ctx, conversation, a)
}

// judge records a delivered message's entry and, for an action, checks it
// against the message it refers to; a delete that applies marks that
// message deleted, so that nothing more applies to it. It runs on the
// loop, in seq order.
func (cv *conv) judge(m *Message) error {
	kind := m.Content.Kind()
	e := &e2ee.Entry{Seq: m.Seq, Sender: m.Sender, StoredAt: m.StoredAt, Kind: kind, Verified: m.Verified}
	if cv.entries == nil {
		cv.entries = make(map[int64]*e2ee.Entry)
	}
	cv.entries[m.Seq] = e
	if len(cv.entries) > maxEntries+maxEntries/4 { // a sweep per maxEntries/4 messages, not one per message
		for s := range cv.entries {
			if s <= m.Seq-maxEntries {
				delete(cv.entries, s)
			}
		}
	}
	if kind == e2ee.KindMessage {
		return nil
	}
	var orig e2ee.Entry
	if o := cv.entries[m.Content.Ref()]; o != nil {
		orig = *o
	}
	err := e2ee.CheckAction(m.Content, *e, orig)
	if err == nil && kind == e2ee.KindDelete {
		cv.entries[orig.Seq].Deleted = true
	}
	return err
}

// judgePage sets Invalid on the actions of a History page, judged against
// the page's own messages (a page is in seq order). An action on a message
// older than the page comes with e2ee.ErrUnknownRef: the application that
// has that message from an earlier page judges it with e2ee.CheckAction.
func judgePage(ms []*Message) {
	var cv conv
	for _, m := range ms {
		m.Invalid = cv.judge(m)
	}
}
