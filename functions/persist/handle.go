package function

import (
	"context"
	"errors"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store/directory"
)

// Handle serves one event delivered over HTTP by a Trigger with
// HandleEvent (fn.Serve says why not through func-go's cloudevents
// runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { fn.Serve(w, r, f.HandleEvent) }

// HandleEvent dispatches one event. A bad message gets a message.rejected reply
// (its sender's device is told why); an event that cannot be answered at
// all gets 400 (fn.Refuse: dead-lettered, never retried, logged by
// fn.Logged); an infrastructure error is returned as is, which func turns
// into a 500 and the broker into a retry.
func (f *Function) HandleEvent(ctx context.Context, e event.Event) (*event.Event, error) {
	return f.handle(ctx, e)
}

func (f *Function) dispatch(ctx context.Context, e event.Event) (*event.Event, error) {
	d := f.deps.Load()
	if d == nil {
		return nil, errNotStarted
	}
	switch e.Type() {
	case events.TypeMessageSent:
		return f.storeMessage(ctx, d, e)
	case events.TypeReceiptDelivered, events.TypeReceiptRead:
		return f.moveCursor(ctx, d, e)
	case events.TypeConversationChanged, events.TypeDeviceChanged:
		switch err := d.dir.Apply(ctx, e); {
		case errors.Is(err, directory.ErrNotChange):
			return nil, fn.Refuse("persist: %v", err)
		case err != nil: // not shared with the other replicas: a retry applies and shares it again
			return nil, err
		}
		if e.Type() == events.TypeConversationChanged {
			return f.storeMemberChange(ctx, d, e)
		}
		return nil, nil
	}
	return nil, fn.Refuse("persist: type %q is not persist's", e.Type())
}
