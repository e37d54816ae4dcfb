package function

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store/deadletters"
)

// Handle serves one event delivered over HTTP by a Trigger with
// HandleEvent (fn.Serve says why not through func-go's cloudevents
// runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { fn.Serve(w, r, f.HandleEvent) }

// HandleEvent stores one dead letter (without MONGODB_URI it only logs
// and counts it). It accepts any valid CloudEvent,
// even one the catalog would refuse (a malformed event is a common reason
// to be here). It fails only when the letter cannot be stored, so that
// the broker delivers it again.
func (f *Function) HandleEvent(ctx context.Context, e event.Event) (*event.Event, error) {
	k := Key{Type: e.Type(), Dest: fn.Ext(e, events.ExtErrorDest), Code: fn.Ext(e, events.ExtErrorCode)}
	l := letterOf(e, f.cfg.MaxEventBytes)
	l.DeadAt = f.now()
	created, err := false, error(nil)
	if f.letters != nil {
		created, err = f.letters.Put(ctx, l)
	}
	if err != nil {
		f.log.Error("deadletter: not stored; the broker will deliver it again", "type", k.Type, "id", e.ID(), "source", e.Source(), "err", err)
		return nil, fmt.Errorf("deadletter: store: %w", err)
	}
	f.mu.Lock()
	f.counts[k]++
	f.total++
	n, total := f.counts[k], f.total
	f.mu.Unlock()
	f.log.Warn("deadletter: event dead-lettered",
		"type", k.Type, "id", e.ID(), "source", e.Source(),
		"conversation", fn.Ext(e, events.ExtConversationID),
		events.ExtErrorDest, k.Dest, events.ExtErrorCode, k.Code,
		"letter", deadletters.Key(e.Source(), e.ID()), "new", created, "truncated", l.Truncated,
		"count", n, "total", total)
	return nil, nil
}

// letterOf is e as a letter: its metadata, and its JSON when it is at
// most max bytes — never for an event whose data is content in clear
// (events.InClear: a tool call's arguments or result), whose letter keeps
// only the metadata, without the subscriber's error body either (it may
// quote the data).
func letterOf(e event.Event, max int) deadletters.Letter {
	l := deadletters.Letter{
		EventID: e.ID(), Source: e.Source(), Type: e.Type(), Subject: e.Subject(),
		Conversation: fn.Ext(e, events.ExtConversationID),
		ErrorDest:    fn.Ext(e, events.ExtErrorDest), ErrorCode: fn.Ext(e, events.ExtErrorCode),
		ErrorData: fn.Ext(e, events.ExtErrorData),
	}
	if events.InClear(e.Type()) {
		l.ErrorData, l.Truncated = "", true
		return l
	}
	raw, err := e.MarshalJSON()
	switch {
	case err != nil:
		l.Truncated = true
	case len(raw) > max:
		l.Size, l.Truncated = len(raw), true
	default:
		l.Size, l.Event = len(raw), raw
	}
	return l
}
