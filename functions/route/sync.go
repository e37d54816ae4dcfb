package function

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// defaultSyncLimit is the batch size when a sync request names none.
const defaultSyncLimit = protocol.DefaultSyncLimit

// syncBudget caps the messages' JSON in one batch, so that the batch and
// the delivery around it stay under events.MaxDataSize whatever the
// envelopes weigh. A batch always holds at least one message (a stored
// message is far below the cap on its own).
const syncBudget = events.MaxDataSize / 2

// sync answers a device's request for what it missed: messages after its
// seq, in seq order, at most limit of them and at most syncBudget bytes,
// with More when it should ask again and LastSeq the newest seq. The answer
// is one batch, marked End and carrying the request's id (or one refusal
// with that id). The batch
// goes to the requesting device only, and only if it is online. A device
// of a non-member (or a conversation that does not exist) gets the
// not_member error with no message id, which clients read as "you were
// removed: stop syncing this conversation"; a revoked device (its token
// may still be valid for a while) gets unauthorized.
func (f *Function) sync(ctx context.Context, d *deps, e event.Event, a actor) error {
	req, err := events.Decode[events.SyncRequested](e)
	if err != nil {
		return f.refuse(e, err)
	}
	// Nobody to answer, nothing to read.
	where, err := d.presence.Locate(ctx, []events.DeviceRef{a.device()})
	if err != nil || len(where) == 0 {
		return err
	}
	members, found, err := d.dir.Members(ctx, a.conversation)
	if err != nil {
		return err
	}
	refuse := func(code, reason string) error {
		rej, err := events.NewMessageRejected(a.conversation, a.user, a.deviceID,
			events.MessageRejected{Code: code, Reason: reason, ClientMessageID: req.RequestID})
		if err != nil {
			return err
		}
		return f.publish(ctx, d, rej, where)
	}
	if !found || !slices.Contains(members, a.user) {
		return refuse(protocol.CodeNotMember, "you are not a member of this conversation")
	}
	if current, err := d.dir.DeviceCurrent(ctx, a.user, a.deviceID); err != nil || !current {
		if err != nil {
			return err
		}
		return refuse(protocol.CodeUnauthorized, "this device has been revoked")
	}
	batch, err := f.readBatch(ctx, d.dir, a.conversation, req)
	if err != nil {
		return err
	}
	batch.RequestID, batch.End = req.RequestID, true
	if req.Receipts && !batch.More {
		// Receipt events are published at most once; this is how a device
		// that missed one (a reconnect, a Redis restart) still gets its ticks.
		if batch.Cursors, err = d.dir.Cursors(ctx, a.conversation, members); err != nil {
			return err
		}
	}
	out, err := events.NewSyncBatch(a.conversation, a.user, a.deviceID, batch)
	if err != nil {
		return err
	}
	return f.publish(ctx, d, out, where)
}

// readBatch reads one batch: limit+1 messages (the extra one tells
// whether there are more), cut to the limit and to syncBudget.
func (f *Function) readBatch(ctx context.Context, dir directory, conversation string, req events.SyncRequested) (events.SyncBatch, error) {
	limit := req.Limit
	if limit == 0 {
		limit = defaultSyncLimit
	}
	limit = min(limit, events.MaxSyncLimit)
	msgs, err := dir.MessagesAfter(ctx, conversation, req.After, limit+1)
	if err != nil {
		return events.SyncBatch{}, err
	}
	more := len(msgs) > limit
	msgs = msgs[:min(len(msgs), limit)]
	if n := fitBudget(msgs); n < len(msgs) {
		msgs, more = msgs[:n], true
	}
	b := events.SyncBatch{Messages: msgs, More: more}
	switch {
	case more:
		b.LastSeq, err = dir.LastSeq(ctx, conversation, msgs[len(msgs)-1].Seq, 0)
	case len(msgs) > 0:
		b.LastSeq = msgs[len(msgs)-1].Seq // nothing after it when it was read
	default:
		b.LastSeq, err = dir.LastSeq(ctx, conversation, req.After, req.After+1)
	}
	if b.Messages == nil {
		b.Messages = []events.Message{}
	}
	return b, err
}

// fitBudget returns how many of msgs fit in syncBudget (at least one).
func fitBudget(msgs []events.Message) int {
	total := 0
	for i, m := range msgs {
		raw, _ := json.Marshal(m)
		total += len(raw) + 1
		if total > syncBudget && i > 0 {
			return i
		}
	}
	return len(msgs)
}
