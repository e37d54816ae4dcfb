package function

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/messages"
)

// moveCursor is the rule for a receipt, checked against what is stored:
// from a member, for a seq the conversation has (at most its last seq), the
// member's delivered (or read, which implies delivered) cursor moves
// forward to the acked seq, never back, and persist replies with the
// receipt (source persist), which is what route fans out — a receipt
// reaches other devices only once it is stored, and never one that was
// refused. Refused, with no cursor moved and nothing fanned out, answered
// to the acking device as message.rejected (an error frame, no id):
// not_member (no such conversation, or not in it, on a fresh read) and
// bad_seq (beyond the last message). A malformed receipt gets 400.
//
// Storage commands with a warm cache, when this instance has seen the seq
// stored: the cursor write, shared by the member's receipts that arrive
// together (messages.GroupCommit), none for a receipt behind what this
// instance wrote. Else + one lookup by _id of the seq.
func (f *Function) moveCursor(ctx context.Context, d *deps, e event.Event) (*event.Event, error) {
	r, err := events.Decode[events.Receipt](e)
	if err != nil {
		return nil, fn.Refuse("persist: %v", err)
	}
	a, _ := fn.ActorOf(e) // valid: Decode checked the extensions
	member, err := isMember(ctx, d.dir, a.Conversation, a.User)
	if err == nil && !member {
		d.dir.Forget(a.Conversation) // the cache may lag: refuse only on a fresh read
		member, err = isMember(ctx, d.dir, a.Conversation, a.User)
	}
	if err != nil {
		return nil, err
	}
	if !member {
		return f.refuseReceipt(e, a, protocol.CodeNotMember, "you are not a member of this conversation")
	}
	ok, err := f.hasSeq(ctx, d.msgs, a.Conversation, r.Seq)
	if err != nil {
		return nil, err
	}
	if !ok {
		return f.refuseReceipt(e, a, protocol.CodeBadSeq,
			fmt.Sprintf("no message %d in this conversation: a receipt may not go beyond its last message", r.Seq))
	}
	read := int64(0)
	if e.Type() == events.TypeReceiptRead {
		read = r.Seq
	}
	if err := d.cursors.Advance(ctx, a.Conversation, a.User, r.Seq, read); err != nil {
		return nil, err
	}
	stored, err := events.New(e.Type(), events.DeriveID("persisted", e.ID()), events.Meta{Source: events.SourcePersist,
		Conversation: a.Conversation, Sender: a.User, Device: a.Device}, r)
	if err != nil {
		return nil, err
	}
	return &stored, nil
}

func isMember(ctx context.Context, dir dirReader, conversation, user string) (bool, error) {
	mb, err := dir.Members(ctx, conversation)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && slices.Contains(mb.Members, user), err
}

// hasSeq reports whether the conversation has a message with seq: at once
// when this instance has seen one at or after it stored (seqs are gapless
// and never deleted), else with one lookup by _id.
func (f *Function) hasSeq(ctx context.Context, msgs messages.Store, conversation string, seq int64) (bool, error) {
	if hint, _ := f.hints.get(conversation); seq <= hint {
		return true, nil
	}
	ok, err := msgs.Has(ctx, conversation, seq)
	if ok {
		f.hints.raise(conversation, seq)
	}
	return ok, err
}

// refuseReceipt answers a receipt that moves nothing with message.rejected
// for the acking device (no client message id: the error frame names the
// conversation and the code). Its id derives from the receipt's, so a
// redelivered receipt gets the same answer.
func (f *Function) refuseReceipt(e event.Event, a fn.Actor, code, reason string) (*event.Event, error) {
	f.log.Info("persist: receipt refused", "conversation", a.Conversation, "user", a.User, "device", a.Device, "code", code)
	rej, err := events.New(events.TypeMessageRejected, events.DeriveID("rejected-receipt", e.ID()),
		events.Meta{Source: events.SourcePersist, Conversation: a.Conversation, Sender: a.User, Device: a.Device},
		events.MessageRejected{Code: code, Reason: reason})
	if err != nil {
		return nil, err
	}
	return &rej, nil
}
