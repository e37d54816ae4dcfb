package function

import (
	"context"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// Handle serves one event delivered over HTTP by a Trigger with
// HandleEvent (fn.Serve says why not through func-go's cloudevents
// runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { fn.Serve(w, r, f.HandleEvent) }

// HandleEvent records one dead letter. It accepts any event, even one the
// catalog would refuse (a malformed event is a common reason to be here),
// and never fails: a sink that refused would only make the broker retry.
func (f *Function) HandleEvent(_ context.Context, e event.Event) (*event.Event, error) {
	k := Key{Type: e.Type(), Dest: fn.Ext(e, events.ExtErrorDest), Code: fn.Ext(e, events.ExtErrorCode)}
	f.mu.Lock()
	f.counts[k]++
	f.total++
	n, total := f.counts[k], f.total
	f.mu.Unlock()
	f.log.Warn("deadletter: event dead-lettered",
		"type", k.Type, "id", e.ID(), "source", e.Source(),
		"conversation", fn.Ext(e, events.ExtConversationID),
		events.ExtErrorDest, k.Dest, events.ExtErrorCode, k.Code,
		"count", n, "total", total)
	return nil, nil
}
