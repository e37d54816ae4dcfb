package function

import (
	"context"
	"fmt"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// moveCursor is the rule for a receipt, checked against what is stored:
// from a member, for a seq the conversation has (at most its last seq), the
// member's delivered (or read) cursor moves forward to the acked seq, never
// back, and persist replies with the receipt (source persist), which is what
// route fans out — a receipt reaches other devices only once it is stored,
// and never one that was refused. Refused, with no cursor moved and nothing
// fanned out, answered to the acking device as message.rejected (an error
// frame, no id): not_member (no such conversation, or not in it) and bad_seq
// (beyond the last message). A malformed receipt gets 400. Membership may
// come from a read at most MEMBERSHIP_CACHE_TTL (≤ 1 s) old. Round trips:
// members (2, none when cached), the seq (1, none when this instance has
// seen it stored), then 1–3 (see mongoStore.AdvanceCursor).
func (f *Function) moveCursor(ctx context.Context, s store, e event.Event) (*event.Event, error) {
	r, err := events.Decode[events.Receipt](e)
	if err != nil {
		return nil, f.refuse(e, err)
	}
	a, _ := actorOf(e) // valid: Decode checked the extensions
	mb, err := f.members.get(ctx, a.conversation, func(ctx context.Context) (membership, error) {
		members, found, err := s.Members(ctx, a.conversation)
		return membership{found: found, members: members}, err
	})
	if err != nil {
		return nil, err
	}
	if !mb.found || !slices.Contains(mb.members, a.user) {
		return f.refuseReceipt(e, a, protocol.CodeNotMember, "you are not a member of this conversation")
	}
	ok, err := f.hasSeq(ctx, s, a.conversation, r.Seq)
	if err != nil {
		return nil, err
	}
	if !ok {
		return f.refuseReceipt(e, a, protocol.CodeBadSeq,
			fmt.Sprintf("no message %d in this conversation: a receipt may not go beyond its last message", r.Seq))
	}
	if err := s.AdvanceCursor(ctx, a.conversation, a.user, r.Seq, e.Type() == events.TypeReceiptRead); err != nil {
		return nil, err
	}
	stored, err := events.New(e.Type(), events.DeriveID("persisted", e.ID()), events.Meta{Source: events.SourcePersist,
		Conversation: a.conversation, Sender: a.user, Device: a.device}, r)
	if err != nil {
		return nil, err
	}
	return &stored, nil
}

// hasSeq reports whether the conversation has a message with seq: at once
// when this instance has seen one at or after it stored (seqs are gapless
// and never deleted), else with one lookup by _id.
func (f *Function) hasSeq(ctx context.Context, s store, conversation string, seq int64) (bool, error) {
	if hint, _ := f.hints.get(conversation); seq <= hint {
		return true, nil
	}
	ok, err := s.HasSeq(ctx, conversation, seq)
	if ok {
		f.hints.raise(conversation, seq)
	}
	return ok, err
}

// refuseReceipt answers a receipt that moves nothing with message.rejected
// for the acking device (no client message id: the error frame names the
// conversation and the code). Its id derives from the receipt's, so a
// redelivered receipt gets the same answer.
func (f *Function) refuseReceipt(e event.Event, a actor, code, reason string) (*event.Event, error) {
	f.log.Info("persist: receipt refused", "conversation", a.conversation, "user", a.user, "device", a.device, "code", code)
	rej, err := events.New(events.TypeMessageRejected, events.DeriveID("rejected-receipt", e.ID()),
		events.Meta{Source: events.SourcePersist, Conversation: a.conversation, Sender: a.user, Device: a.device},
		events.MessageRejected{Code: code, Reason: reason})
	if err != nil {
		return nil, err
	}
	return &rej, nil
}
