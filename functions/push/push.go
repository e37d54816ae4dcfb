package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store/pushsubs"
)

// Payload is all a push says (docs/protocol.md, "Push"): that a message
// waits in a conversation. The device opens it by syncing; nothing of the
// message, not even its sender, leaves the platform this way.
type Payload struct {
	Type         string `json:"type"` // "message"
	Conversation string `json:"conversation"`
}

// parallelPushes bounds the pushes one event sends at once (a group's
// offline devices): each is one HTTP request to a push service.
const parallelPushes = 8

// stored pushes to the offline, subscribed devices of a stored message's
// audience that are not the sender's. Round trips when no device of the
// audience is subscribed (most messages): MongoDB only (pushsubs' Get: an
// _id equality per device for a few, one $in for more). With subscribed
// devices: presence, then, for the offline ones, their users' presence
// (store/seen: when they came back), then one claim per device.
func (f *Function) stored(ctx context.Context, d *deps, e event.Event) error {
	m, err := events.Decode[events.Message](e)
	if err != nil {
		return fn.Refuse("push: %v", err)
	}
	if m.Audience == nil {
		return fn.Refuse("push: a stored message without its audience")
	}
	var ids []string
	for _, dv := range m.Audience.Devices {
		if dv.User != m.SenderID {
			ids = append(ids, dv.Device)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	subs, err := d.subs.Get(ctx, ids)
	if err != nil || len(subs) == 0 {
		return err
	}
	all, dealt, err := d.bursts.Handled(ctx, e.ID())
	switch {
	case err != nil:
		return err
	case all: // a redelivery of an event whose pushes went out
		return nil
	}
	offline, err := f.offline(ctx, d, subs)
	if err != nil {
		return err
	}
	offline = slices.DeleteFunc(offline, func(s pushsubs.Subscription) bool {
		return dealt[s.Device] // an earlier attempt at this event pushed to it
	})
	if len(offline) == 0 {
		return d.bursts.Finish(ctx, e.ID())
	}
	backs, err := f.backs(ctx, d, offline)
	if err != nil {
		return err
	}
	payload, _ := json.Marshal(Payload{Type: "message", Conversation: m.ConversationID})
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, parallelPushes)
		mu   sync.Mutex
		errs []error
		done []string
	)
	for _, s := range offline {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			err := f.pushTo(ctx, d, e.ID(), s, backs[s.Device], payload)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else {
				done = append(done, s.Device)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		// Retried. The devices dealt with are in their bursts, but the
		// broker's later retries come after a burst ends: remember them.
		if ferr := d.bursts.FinishDevices(context.WithoutCancel(ctx), e.ID(), done); ferr != nil {
			f.log.Warn("push: record the devices pushed before a failure", "err", ferr)
		}
		return err
	}
	return d.bursts.Finish(ctx, e.ID())
}

// offline is those of subs whose device has no presence record, and whose
// endpoint is still one the platform posts to.
func (f *Function) offline(ctx context.Context, d *deps, subs []pushsubs.Subscription) ([]pushsubs.Subscription, error) {
	refs := make([]events.DeviceRef, len(subs))
	for i, s := range subs {
		refs[i] = events.DeviceRef{User: s.User, Device: s.Device}
	}
	where, err := d.presence.Locate(ctx, refs)
	if err != nil {
		return nil, err
	}
	online := map[string]bool{}
	for _, devs := range where {
		for _, dv := range devs {
			online[dv.Device] = true
		}
	}
	var out []pushsubs.Subscription
	for _, s := range subs {
		switch {
		case online[s.Device]:
		case !d.endpoints.Allows(s.Endpoint):
			f.log.Warn("push: subscription's endpoint is no longer allowed (PUSH_ENDPOINTS): skipped", "device", s.Device)
		default:
			out = append(out, s)
		}
	}
	return out, nil
}

// backs reads, for each of subs, the last time its user is known to have
// come back for it (store/seen, one round trip): when they were last seen
// (their last socket left), or when that device's live socket arrived,
// whichever is later. A burst that started before is over (bursts.go).
// The device's own arrival counts while it is still live, so a user who
// opened the app and closed it is back at once, not only when the
// connector writes their departure (PRESENCE_GRACE later); another
// device's does not, so a user online elsewhere all along (whose phone
// had its push) gets no push per message there.
func (f *Function) backs(ctx context.Context, d *deps, subs []pushsubs.Subscription) (map[string]time.Time, error) {
	var users []string
	for _, s := range subs {
		if !slices.Contains(users, s.User) {
			users = append(users, s.User)
		}
	}
	states, err := d.seen.States(ctx, users)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(subs))
	for _, s := range subs {
		st := states[s.User]
		back := st.LastSeen
		if a := st.Arrived[s.Device]; a.After(back) {
			back = a
		}
		out[s.Device] = back
	}
	return out, nil
}

// pushTo sends one push unless the device's burst has had one (back: when
// its user came back for it, which ends a burst that started before). A failure
// the push service may get over (a network error, 429, 5xx) ends the burst
// again and is returned, so the broker's redelivery tries once more; a
// subscription the service no longer knows (404, 410) is removed; any
// other refusal is logged and not retried (the same push would fail the
// same way).
func (f *Function) pushTo(ctx context.Context, d *deps, eventID string, s pushsubs.Subscription, back time.Time, payload []byte) error {
	first, err := d.bursts.Claim(ctx, s.Device, eventID, d.window, back)
	if err != nil || !first {
		return err
	}
	status, err := d.sender.Send(ctx, s, payload)
	switch {
	case err == nil && status/100 == 2:
		f.log.Debug("push: sent", "device", s.Device, "status", status)
		return nil
	case err == nil && (status == 404 || status == 410):
		f.log.Info("push: subscription gone: removed", "device", s.Device, "status", status)
		return d.subs.DeleteEndpoint(ctx, s.Device, s.Endpoint)
	case err == nil && status != 429 && status < 500:
		f.log.Warn("push: push service refused the push", "device", s.Device, "status", status)
		return nil
	}
	if rerr := d.bursts.Release(context.WithoutCancel(ctx), s.Device, eventID); rerr != nil {
		f.log.Warn("push: end the burst after a failed push", "device", s.Device, "err", rerr)
	}
	if err != nil {
		return fmt.Errorf("push: send to device %s: %w", s.Device, err)
	}
	return fmt.Errorf("push: send to device %s: the push service answered %d", s.Device, status)
}
