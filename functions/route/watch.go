package function

import (
	"context"
	"slices"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	storedir "github.com/agentchat/agentchat/store/directory"
	"github.com/agentchat/agentchat/store/seen"
)

// Presence (docs/protocol.md, "Presence"): who may see whom, and telling
// them. A user's watchers are the people who share a conversation with
// them: their contacts (a direct conversation together) and the members of
// their groups of at most maxWatchGroup members. The relation is
// symmetric, so the users a device may watch are its user's watchers.
// Whether a watcher sees a user's state is mayWatch's rule.

// maxWatchGroup: a group larger than this makes nobody a watcher (a
// user coming online in a 5,000-member group would otherwise tell 5,000
// people who mostly never talk to them).
const maxWatchGroup = 256

// maxWatchConversations caps the conversations read to find a user's
// watchers (pages of watchPage).
const (
	maxWatchConversations = 2000
	watchPage             = 500
)

// watchDirectory is what presence reads of accounts' directory
// (store/directory.Mongo; Memory in tests).
type watchDirectory interface {
	// MembershipsOf pages the user's conversations (storedir.Reader).
	MembershipsOf(ctx context.Context, user, after string, limit int) ([]storedir.Membership, error)
	// Visibilities returns the users' presence settings (storedir.Directory).
	Visibilities(ctx context.Context, users []string) (map[string]string, error)
}

// mayWatch is the rule: owner's setting decides who sees their state —
// nobody; their contacts only; or everyone who shares a conversation with
// them. Like WhatsApp's last seen, it is reciprocal for nobody: a watcher
// who shows nobody their own sees nobody's.
func mayWatch(ownerVis, watcherVis string, contact bool) bool {
	switch {
	case ownerVis == events.VisibleNobody || watcherVis == events.VisibleNobody:
		return false
	case ownerVis == events.VisibleEveryone:
		return true
	default: // contacts, and anything unknown: the default
		return contact
	}
}

// watchersOf returns who shares a conversation with user, each with
// whether they are a contact (a direct conversation together). Agents
// are members like people; they hold no sockets, so they are never online
// and never told.
func watchersOf(ctx context.Context, dir watchDirectory, user string) (map[string]bool, error) {
	out := make(map[string]bool)
	after := ""
	for read := 0; read < maxWatchConversations; {
		page, err := dir.MembershipsOf(ctx, user, after, watchPage)
		if err != nil {
			return nil, err
		}
		for _, m := range page {
			direct := m.Kind == storedir.Direct
			if !direct && len(m.Members) > maxWatchGroup {
				continue
			}
			for _, w := range m.Members {
				if w != user {
					out[w] = out[w] || direct
				}
			}
		}
		read += len(page)
		if len(page) < watchPage {
			break
		}
		after = page[len(page)-1].Conversation
	}
	return out, nil
}

// visible is owner's state as one watcher may see it: all of it, or
// nothing (no online, no last seen).
func visible(owner string, st seen.State, may bool) events.UserPresence {
	p := events.UserPresence{User: owner}
	if !may {
		return p
	}
	if st.Online {
		p.Online = true
	} else if !st.LastSeen.IsZero() {
		t := st.LastSeen.UTC().Truncate(time.Second) // what a person reads; no finer clock leaks
		p.LastSeen = &t
	}
	return p
}

// presenceChanged tells the online watchers of the event's user what they
// may now see of them: read afresh (state and settings), so a late or
// repeated event ends in the same frames. A change of the user's own
// setting also gives each of their online devices a fresh snapshot: the
// rule is reciprocal, so what they may see has changed too.
func (f *Function) presenceChanged(ctx context.Context, d *deps, e event.Event, a fn.Actor) error {
	c, err := events.Decode[events.PresenceChanged](e)
	if err != nil {
		return fn.Refuse("route: %v", err)
	}
	owner := a.User
	watchers, err := watchersOf(ctx, d.watch, owner)
	if err != nil {
		return err
	}
	users := append(keys(watchers), owner)
	states, err := d.seen.States(ctx, users)
	if err != nil {
		return err
	}
	// Settings are read for the owner and the watchers online now (the
	// others are told nothing), unless the owner's snapshot needs them
	// all: a user's contacts are mostly offline, and the settings are a
	// read of the users collection per event.
	settingsOf := users
	if c.Cause != events.PresenceVisibility {
		settingsOf = []string{owner}
		for _, w := range users[:len(users)-1] {
			if states[w].Online {
				settingsOf = append(settingsOf, w)
			}
		}
	}
	vis, err := d.watch.Visibilities(ctx, settingsOf)
	if err != nil {
		return err
	}
	// Two frames at most: the state for those who may see it, and — on a
	// change of setting — "nothing to show" for those who may not (they
	// may have been shown it before). Only online watchers are told; the
	// others get a snapshot when they connect.
	var see, hide []events.DeviceRef
	for w, contact := range watchers {
		st := states[w]
		if !st.Online {
			continue
		}
		targets := &hide
		if mayWatch(vis[owner], vis[w], contact) {
			targets = &see
		}
		for _, dev := range st.Devices {
			*targets = append(*targets, events.DeviceRef{User: w, Device: dev})
		}
	}
	if c.Cause != events.PresenceVisibility {
		hide = nil // nothing they were shown changed
	}
	for _, group := range []struct {
		targets []events.DeviceRef
		may     bool
	}{{see, true}, {hide, false}} {
		if len(group.targets) == 0 {
			continue
		}
		pe, err := events.NewPresenceState(owner, a.Device, events.PresenceState{Users: []events.UserPresence{visible(owner, states[owner], group.may)}})
		if err != nil {
			return err
		}
		if err := f.deliver(ctx, d, pe, group.targets); err != nil {
			return err
		}
	}
	if c.Cause == events.PresenceVisibility {
		for _, dev := range states[owner].Devices {
			if err := f.snapshot(ctx, d, events.DeviceRef{User: owner, Device: dev}, "", watchers, states, vis); err != nil {
				return err
			}
		}
	}
	return nil
}

// presenceRequested answers a device with the presence of everyone its
// user may watch.
func (f *Function) presenceRequested(ctx context.Context, d *deps, e event.Event, a fn.Actor) error {
	r, err := events.Decode[events.PresenceRequested](e)
	if err != nil {
		return fn.Refuse("route: %v", err)
	}
	watched, err := watchersOf(ctx, d.watch, a.User)
	if err != nil {
		return err
	}
	users := append(keys(watched), a.User)
	states, err := d.seen.States(ctx, users)
	if err != nil {
		return err
	}
	vis, err := d.watch.Visibilities(ctx, users)
	if err != nil {
		return err
	}
	return f.snapshot(ctx, d, a.DeviceRef(), r.RequestID, watched, states, vis)
}

// snapshot delivers to device the state of each of watched it may see
// (the others are left out: nothing to show).
func (f *Function) snapshot(ctx context.Context, d *deps, device events.DeviceRef, requestID string,
	watched map[string]bool, states map[string]seen.State, vis map[string]string) error {
	ps := events.PresenceState{RequestID: requestID, Snapshot: true, Users: []events.UserPresence{}}
	for _, u := range keys(watched) {
		if len(ps.Users) == events.MaxPresenceUsers {
			break
		}
		if !mayWatch(vis[u], vis[device.User], watched[u]) {
			continue
		}
		if p := visible(u, states[u], true); p.Online || p.LastSeen != nil {
			ps.Users = append(ps.Users, p)
		}
	}
	pe, err := events.NewPresenceState(device.User, device.Device, ps)
	if err != nil {
		return err
	}
	return f.deliver(ctx, d, pe, []events.DeviceRef{device})
}

// keys returns m's keys, sorted (the same event gives the same frames).
func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
