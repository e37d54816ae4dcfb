package function

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store/deliveries"
	"github.com/agentchat/agentchat/store/partials"
)

// Answers in progress (docs/protocol.md, "Answers in progress"): route
// keeps each agent partial it routes in store/partials (and each answer's
// latest lifecycle status, replayed before its partials) — before it looks
// up where the members' devices are, so that a partial a device was not
// yet online to receive live is kept for its resume — drops an answer's
// partials when the agent says it is done or failed, and replays what is
// kept to a device that resumes — what clients send after every connect.
// Not after a sync: clients sync on gaps and, with receipts as after a
// reconnect, every 20 s when idle; a replay per sync would send every
// answer in progress to every device again and again. A device gets every
// partial of an answer once live, or kept-then-replayed, or both: clients
// drop duplicates by index. None of this touches the stored-message path.

// replayBudget bounds one replay to a device: frames and bytes of the
// records, so that a resumed answer plus its partials stays well inside a
// socket's outbound queue (OUTBOUND_QUEUE 256 frames, 1 MiB).
var replayBudget = struct{ frames, bytes int }{frames: 128, bytes: 256 << 10}

// agentPartial keeps a partial and delivers it to the members' devices.
func (f *Function) agentPartial(ctx context.Context, d *deps, e event.Event) error {
	p, err := events.Decode[events.AgentPartial](e) // validates e, decoding its data once
	if err != nil {
		return fn.Refuse("route: %v", err)
	}
	devices, ok, err := f.membersBut(ctx, d, e, fn.Ext(e, events.ExtAgentID), events.DeviceRef{})
	if err != nil || !ok {
		return err
	}
	record, err := json.Marshal(deliveries.Of(e, nil))
	if err != nil {
		return fmt.Errorf("route: keep partial: %w", err)
	}
	k := partials.Key{Conversation: e.Subject(), Agent: p.AgentID, ReplyTo: p.ReplyTo}
	if kept, err := d.partials.Keep(ctx, k, p.Index, record); err != nil {
		return fmt.Errorf("route: %w", err)
	} else if !kept {
		f.log.Debug("route: partial not kept (answer finished or over its bounds)", "conversation", k.Conversation,
			"agent", k.Agent, "replyTo", k.ReplyTo, "index", p.Index)
	}
	return f.deliver(ctx, d, e, devices)
}

// agentStatus keeps a lifecycle receipt as its answer's latest status
// (an older one arriving later is delivered but not kept) and delivers it
// to the members' devices, as a partial.
func (f *Function) agentStatus(ctx context.Context, d *deps, e event.Event) error {
	st, err := events.Decode[events.AgentStatus](e) // validates e, decoding its data once
	if err != nil {
		return fn.Refuse("route: %v", err)
	}
	devices, ok, err := f.membersBut(ctx, d, e, fn.Ext(e, events.ExtAgentID), events.DeviceRef{})
	if err != nil || !ok {
		return err
	}
	record, err := json.Marshal(deliveries.Of(e, nil))
	if err != nil {
		return fmt.Errorf("route: keep status: %w", err)
	}
	k := partials.Key{Conversation: e.Subject(), Agent: st.AgentID, ReplyTo: st.ReplyTo}
	if _, err := d.partials.KeepStatus(ctx, k, st.Index, record); err != nil {
		return fmt.Errorf("route: %w", err)
	}
	return f.deliver(ctx, d, e, devices)
}

// agentEnded drops the answer's partials (the reply is stored, or the
// agent gave up) and delivers the event to the members' devices.
func (f *Function) agentEnded(ctx context.Context, d *deps, e event.Event) error {
	var k partials.Key
	switch e.Type() {
	case events.TypeAgentDone:
		v, err := events.Decode[events.AgentDone](e)
		if err != nil {
			return fn.Refuse("route: %v", err)
		}
		k = partials.Key{Conversation: e.Subject(), Agent: v.AgentID, ReplyTo: v.ReplyTo}
	default:
		v, err := events.Decode[events.AgentError](e)
		if err != nil {
			return fn.Refuse("route: %v", err)
		}
		k = partials.Key{Conversation: e.Subject(), Agent: v.AgentID, ReplyTo: v.ReplyTo}
	}
	if err := d.partials.Finish(ctx, k); err != nil {
		return fmt.Errorf("route: %w", err)
	}
	return f.toMembers(ctx, d, e, fn.Ext(e, events.ExtAgentID), events.DeviceRef{})
}

// replay publishes the kept partials of the answers in progress in
// conversations to the device where says (one connector, one device), in
// order — answer by answer, index by index — within replayBudget.
func (f *Function) replay(ctx context.Context, d *deps, where map[string][]events.DeviceRef, conversations []string) error {
	answers, err := d.partials.InProgress(ctx, conversations)
	if err != nil {
		return fmt.Errorf("route: %w", err)
	}
	frames, bytes := 0, 0
	for _, a := range answers {
		records := a.Partials
		if a.Status != nil { // where the answer stands, then its text so far
			records = append([]partials.Partial{{Index: -1, Record: a.Status}}, records...)
		}
		for _, p := range records {
			if frames+1 > replayBudget.frames || bytes+len(p.Record) > replayBudget.bytes {
				f.log.Info("route: replay cut at its budget", "conversation", a.Conversation, "agent", a.Agent, "replyTo", a.ReplyTo)
				return nil
			}
			var rec deliveries.Delivery
			if err := json.Unmarshal(p.Record, &rec); err != nil {
				f.log.Warn("route: a kept partial or status that does not decode", "conversation", a.Conversation, "err", err)
				continue
			}
			if err := f.publish(ctx, d, rec.Event(), where); err != nil {
				return err
			}
			frames, bytes = frames+1, bytes+len(p.Record)
		}
	}
	return nil
}
