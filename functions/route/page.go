package function

import (
	"context"

	"github.com/agentchat/agentchat/sdk/events"
)

// readPage reads a page of older messages for a sync with Before (a client
// scrolling back): the newest limit of those with After < seq < Before, in
// seq order, cut to syncBudget from the oldest end, so that the page always
// ends right below Before and the next page is asked before its first seq.
// Seqs are gapless, so the page is one range read (messages.Store.After
// from its first seq); More says there are older messages still (above
// After). The conversation's newest seq is not read for a page (LastSeq is
// 0), unless Before lies past it and the range came back empty: then the
// page is re-read below the newest message.
func (f *Function) readPage(ctx context.Context, dir directory, conversation, device string, req events.SyncRequested) (events.SyncBatch, error) {
	limit := req.Limit
	if limit == 0 {
		limit = defaultSyncLimit
	}
	limit = min(limit, events.MaxSyncLimit)
	hi := req.Before - 1 // the page's newest seq
	read := func(hi int64) ([]events.Message, int64, error) {
		lo := max(req.After, hi-int64(limit)) // exclusive
		if hi <= lo {
			return nil, lo, nil
		}
		msgs, err := dir.MessagesAfter(ctx, conversation, lo, int(hi-lo), device)
		return msgs, lo, err
	}
	msgs, lo, err := read(hi)
	if err != nil {
		return events.SyncBatch{}, err
	}
	if len(msgs) == 0 && lo > req.After {
		// Before is beyond the conversation's end: page below its newest.
		last, err := dir.LastSeq(ctx, conversation, 0, 0)
		if err != nil {
			return events.SyncBatch{}, err
		}
		if last > req.After && last < hi {
			if msgs, lo, err = read(last); err != nil {
				return events.SyncBatch{}, err
			}
		}
	}
	if n := fitBudgetFromEnd(msgs); n < len(msgs) {
		msgs = msgs[len(msgs)-n:]
	}
	b := events.SyncBatch{Messages: msgs}
	if len(msgs) > 0 {
		b.More = msgs[0].Seq > req.After+1
	}
	if b.Messages == nil {
		b.Messages = []events.Message{}
	}
	return b, nil
}

// fitBudgetFromEnd returns how many of msgs, counted from the last, fit in
// syncBudget (at least one).
func fitBudgetFromEnd(msgs []events.Message) int {
	total := 0
	for i := len(msgs) - 1; i >= 0; i-- {
		total += jsonSize(msgs[i]) + 1
		if total > syncBudget && i < len(msgs)-1 {
			return len(msgs) - 1 - i
		}
	}
	return len(msgs)
}
