package function

import (
	"context"
	"fmt"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Handle records one dead letter. It accepts any event, even one the
// catalog would refuse (a malformed event is a common reason to be here),
// and never fails: a sink that refused would only make the broker retry.
func (f *Function) Handle(_ context.Context, e event.Event) (*event.Event, error) {
	k := Key{Type: e.Type(), Dest: extString(e, events.ExtErrorDest), Code: extString(e, events.ExtErrorCode)}
	f.mu.Lock()
	f.counts[k]++
	f.total++
	n, total, log := f.counts[k], f.total, f.log
	f.mu.Unlock()
	log.Warn("deadletter: event dead-lettered",
		"type", k.Type, "id", e.ID(), "source", e.Source(),
		"conversation", extString(e, events.ExtConversationID),
		events.ExtErrorDest, k.Dest, events.ExtErrorCode, k.Code,
		"count", n, "total", total)
	return nil, nil
}

// extString reads an extension attribute as text; brokers may set
// knativeerrorcode as a number.
func extString(e event.Event, name string) string {
	v, ok := e.Extensions()[name]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}
