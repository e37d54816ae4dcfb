package fn

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Handler is func-go's Handle: a reply event (sent back into the broker)
// or none, and an error whose status decides redelivery (see Refuse).
type Handler func(ctx context.Context, e event.Event) (*event.Event, error)

// Logged logs what h refused (400s: the event is dead-lettered, so the
// log line is how an operator learns why) at WARN and its other errors
// (retried) at ERROR, naming the event's id, type and source only; at
// DEBUG, also each event handled, with its conversation (the subject)
// and the milliseconds it took.
func Logged(log *slog.Logger, h Handler) Handler {
	return func(ctx context.Context, e event.Event) (*event.Event, error) {
		start := time.Now()
		reply, err := h(ctx, e)
		switch {
		case err == nil:
			if log.Enabled(ctx, slog.LevelDebug) { // spares the hot path the arguments
				log.Debug("handled", "event", e.ID(), "type", e.Type(), "conversation", e.Subject(), "ms", time.Since(start).Milliseconds())
			}
		case IsRefusal(err):
			log.Warn("refused", "event", e.ID(), "type", e.Type(), "source", e.Source(), "reason", errorText(err))
		default:
			log.Error("failed (the broker retries)", "event", e.ID(), "type", e.Type(), "source", e.Source(), "err", errorText(err))
		}
		return reply, err
	}
}

// Only refuses events of any type but types before h sees them.
func Only(h Handler, types ...string) Handler {
	return func(ctx context.Context, e event.Event) (*event.Event, error) {
		if !slices.Contains(types, e.Type()) {
			return nil, Refuse("type %q is not handled here", e.Type())
		}
		return h(ctx, e)
	}
}

// Mux dispatches an event to the handler of its type and refuses any
// other type.
type Mux map[string]Handler

// Handle is the Handler of m.
func (m Mux) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	h, ok := m[e.Type()]
	if !ok {
		return nil, Refuse("type %q is not handled here", e.Type())
	}
	return h(ctx, e)
}
