package function

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	storedir "github.com/agentchat/agentchat/store/directory"
)

// Handle serves one event delivered over HTTP by a Trigger with
// HandleEvent (fn.Serve says why not through func-go's cloudevents
// runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { fn.Serve(w, r, f.HandleEvent) }

// HandleEvent routes one event and never replies. An event that can never be
// routed (malformed, or of a type route does not take) gets 400
// (fn.Refuse, logged by fn.Logged), which brokers dead-letter without
// retrying; an infrastructure error is returned as is (500: the broker
// retries, and every step is idempotent: connectors drop deliveries they
// already have, invokes keep their id).
func (f *Function) HandleEvent(ctx context.Context, e event.Event) (*event.Event, error) {
	return f.handle(ctx, e)
}

func (f *Function) dispatch(ctx context.Context, e event.Event) (*event.Event, error) {
	d := f.deps.Load()
	if d == nil {
		return nil, errNotStarted
	}
	// Each event's data is decoded once: by the handler that needs it
	// (events.Decode validates as it decodes), else here to validate it.
	if !decodedByHandler[e.Type()] {
		if err := events.Validate(e); err != nil {
			return nil, fn.Refuse("route: %v", err)
		}
	}
	// The extensions each type must carry are checked with its data
	// (events.Validate above, or the handler's Decode).
	a, _ := fn.ActorOf(e)
	switch e.Type() {
	case events.TypeMessageStored:
		return nil, f.routeStored(ctx, d, e)
	case events.TypeMessageRejected, events.TypeMediaUploadReady, events.TypeMediaStored,
		events.TypeMediaDownloadReady, events.TypeMediaRejected:
		// For the device that sent the message or made the media request
		// (media checked its membership): members learn of a blob from
		// the message that carries it, not from the bucket.
		return nil, f.deliver(ctx, d, e, []events.DeviceRef{a.DeviceRef()})
	case events.TypeReceiptDelivered, events.TypeReceiptRead:
		// Only receipts persist stored (the route Trigger takes them from
		// persist alone): a member's, for a seq the conversation has.
		return nil, f.receipt(ctx, d, e, a)
	case events.TypeTyping:
		return nil, f.typing(ctx, d, e, a)
	case events.TypeAgentPartial:
		return nil, f.agentPartial(ctx, d, e)
	case events.TypeAgentDone, events.TypeAgentError:
		return nil, f.agentEnded(ctx, d, e)
	case events.TypeAgentStatus:
		return nil, f.agentStatus(ctx, d, e)
	case events.TypeSyncRequested:
		return nil, f.sync(ctx, d, e, a)
	case events.TypeResumeRequested:
		return nil, f.resume(ctx, d, e, a)
	case events.TypeConversationChanged:
		return nil, f.conversationChanged(ctx, d, e)
	case events.TypePresenceChanged:
		return nil, f.presenceChanged(ctx, d, e, a)
	case events.TypePresenceRequested:
		return nil, f.presenceRequested(ctx, d, e, a)
	case events.TypeDeviceChanged:
		if err := d.audiences.Apply(ctx, e); errors.Is(err, storedir.ErrNotChange) {
			return nil, fn.Refuse("route: %v", err)
		} else if err != nil { // not shared with the other replicas: a retry applies and shares it again
			return nil, err
		}
		return nil, nil
	}
	return nil, fn.Refuse("route: type %q is not route's", e.Type())
}

// decodedByHandler are the types whose handler decodes (and so
// validates) the event's data itself, answering 400 when it is invalid.
var decodedByHandler = map[string]bool{
	events.TypeMessageStored: true, events.TypeSyncRequested: true, events.TypeResumeRequested: true,
	events.TypeAgentPartial: true, events.TypeAgentDone: true, events.TypeAgentError: true, events.TypeAgentStatus: true,
	events.TypeConversationChanged: true, events.TypePresenceChanged: true, events.TypePresenceRequested: true,
}

// toMembers delivers e to every current device of the conversation's
// members but skip, if actor is a member; otherwise e is ignored with a
// log line (a removed member's typing, an agent no longer in the
// conversation). Who the members and devices are comes from the cache
// (cache.go): toMembers carries receipts, typing, agent activity and
// media notices, never a stored message.
func (f *Function) toMembers(ctx context.Context, d *deps, e event.Event, actor string, skip events.DeviceRef) error {
	devices, ok, err := f.membersBut(ctx, d, e, actor, skip)
	if err != nil || !ok {
		return err
	}
	return f.deliver(ctx, d, e, devices)
}

// membersBut is toMembers' audience: every current device of the
// conversation's members but skip, and ok, if actor is a member; not ok
// (logged) otherwise.
func (f *Function) membersBut(ctx context.Context, d *deps, e event.Event, actor string, skip events.DeviceRef) ([]events.DeviceRef, bool, error) {
	a, ok, err := f.memberAudience(ctx, d, e, actor)
	if err != nil || !ok {
		return nil, ok, err
	}
	return except(slices.Clone(a.devices), skip), true, nil
}

// memberAudience is e's conversation's audience, and ok, if actor is a
// member; not ok (logged) otherwise.
func (f *Function) memberAudience(ctx context.Context, d *deps, e event.Event, actor string) (audience, bool, error) {
	conv := e.Subject()
	a, err := f.audienceOf(ctx, d, conv)
	if err != nil {
		return audience{}, false, err
	}
	if !a.found || !slices.Contains(a.members, actor) {
		f.log.Info("route: ignoring an event from a non-member", "type", e.Type(), "conversation", conv, "user", actor)
		return audience{}, false, nil
	}
	return a, true, nil
}

// receipt delivers a member's receipt: in a conversation of up to
// maxCursorMembers members to every other device of the members (their
// ticks), in a bigger group to the member's own other devices only (their
// unread counts and read state). Every receipt of every member to every
// member's devices is quadratic: 200 members online in a group of 1,024,
// each acking once a second, made 40,000 receipt frames a second
// (bench-fanout), more than the messages themselves. A big group's ticks
// are the sender's ✓ (stored); who received and read what is not pushed.
func (f *Function) receipt(ctx context.Context, d *deps, e event.Event, a fn.Actor) error {
	au, ok, err := f.memberAudience(ctx, d, e, a.User)
	if err != nil || !ok {
		return err
	}
	devices := except(slices.Clone(au.devices), a.DeviceRef())
	if len(au.members) > maxCursorMembers {
		devices = slices.DeleteFunc(devices, func(r events.DeviceRef) bool { return r.User != a.User })
	}
	return f.deliver(ctx, d, e, devices)
}

// audienceOf is a conversation's audience through the cache.
func (f *Function) audienceOf(ctx context.Context, d *deps, conv string) (audience, error) {
	return cachedAudience(ctx, d.audiences, conv)
}
