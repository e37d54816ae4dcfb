package function

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// Handle serves one event delivered over HTTP by a Trigger with
// HandleEvent (fn.Serve says why not through func-go's cloudevents
// runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { fn.Serve(w, r, f.HandleEvent) }

// HandleEvent dispatches one event. A bad message gets a message.rejected reply
// (its sender's device is told why); an event that cannot be answered at
// all gets 400 (dead-lettered, never retried); an infrastructure error is
// returned as is, which func turns into a 500 and the broker into a retry.
func (f *Function) HandleEvent(ctx context.Context, e event.Event) (*event.Event, error) {
	d := f.deps.Load()
	if d == nil {
		return nil, errNotStarted
	}
	if f.log.Enabled(ctx, slog.LevelDebug) {
		start := time.Now()
		defer func() {
			f.log.Debug("persist: handled", "type", e.Type(), "event", e.ID(), "conversation", e.Subject(), "ms", time.Since(start).Milliseconds())
		}()
	}
	switch e.Type() {
	case events.TypeMessageSent:
		return f.storeMessage(ctx, d, e)
	case events.TypeReceiptDelivered, events.TypeReceiptRead:
		return f.moveCursor(ctx, d, e)
	case events.TypeConversationChanged, events.TypeDeviceChanged:
		if err := d.dir.Apply(e); err != nil {
			return nil, f.refuse(e, err)
		}
		return nil, nil
	}
	return nil, f.refuse(e, fmt.Errorf("type %q is not persist's", e.Type()))
}

// refuse logs why e can never be handled and returns 400, which brokers
// do not retry: the event goes to the dead-letter sink, where an operator
// sees it. The reason names ids and types, never content.
func (f *Function) refuse(e event.Event, reason error) error {
	f.log.Warn("persist: refused", "event", e.ID(), "type", e.Type(), "source", e.Source(), "reason", reason.Error())
	return cehttp.NewResult(http.StatusBadRequest, "persist: %v", reason)
}

// actor is who caused an event: the authenticated user and device the
// connector stamped, in the conversation the event is about.
type actor struct {
	conversation, user, device string
}

// actorOf reads the actor from e's extensions; ok is false when any of
// them is missing or malformed (no reply can be addressed then).
func actorOf(e event.Event) (actor, bool) {
	ext := func(name string) string { s, _ := e.Extensions()[name].(string); return s }
	a := actor{conversation: ext(events.ExtConversationID), user: ext(events.ExtSenderID), device: ext(events.ExtDeviceID)}
	return a, events.ValidID(a.conversation) && events.ValidID(a.user) && events.ValidID(a.device)
}
