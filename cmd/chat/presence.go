package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/client"
)

// Presence in the CLI (docs/protocol.md, "Presence"): the chat prints a
// line when a member of the open conversation comes online, goes offline
// (with their last seen) or stops showing it; -list shows it beside each
// conversation; -presence and /presence set who sees one's own.

// presenceLine is what the CLI shows of p: "online", "last seen …", or ""
// (nothing to show).
func presenceLine(p client.Presence, now time.Time) string {
	switch {
	case p.Online:
		return "online"
	case p.LastSeen.IsZero():
		return ""
	}
	at := p.LastSeen.Local()
	y, m, d := now.Local().Date()
	if ay, am, ad := at.Date(); ay == y && am == m && ad == d {
		return "last seen today at " + at.Format("15:04")
	}
	return "last seen " + at.Format("2006-01-02 15:04")
}

// presences is what this user may see of others' presence, kept current
// from Presence and PresenceSnapshot events.
type presences struct {
	mu sync.Mutex
	of map[string]client.Presence
}

// apply takes one event; it returns the users whose line changed.
func (ps *presences) apply(ev client.Event) []client.Presence {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.of == nil {
		ps.of = map[string]client.Presence{}
	}
	var changed []client.Presence
	set := func(p client.Presence) {
		if old, ok := ps.of[p.User]; !ok && (p.Online || !p.LastSeen.IsZero()) || ok && old != p {
			changed = append(changed, p)
		}
		if p.Online || !p.LastSeen.IsZero() {
			ps.of[p.User] = p
		} else {
			delete(ps.of, p.User)
		}
	}
	switch e := ev.(type) {
	case *client.Presence:
		set(*e)
	case *client.PresenceSnapshot:
		listed := map[string]bool{}
		for _, p := range e.Users {
			listed[p.User] = true
			set(p)
		}
		for u := range ps.of {
			if !listed[u] {
				set(client.Presence{User: u})
			}
		}
	}
	return changed
}

// get returns user's presence ("" shows nothing).
func (ps *presences) get(user string) client.Presence {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.of[user]
}

// showPresence prints a line for each member of the open conversation
// whose presence changed.
func (v *view) showPresence(ev client.Event, members map[string]bool) {
	for _, p := range v.presence.apply(ev) {
		if !members[p.User] || p.User == v.me {
			continue
		}
		line := presenceLine(p, time.Now())
		if line == "" {
			line = "no longer shows when they are online"
		}
		v.scr.println(fmt.Sprintf("   ● %s %s", v.name(p.User), line))
	}
}

// setPresence sets who sees this user's presence and says so.
func setPresence(ctx context.Context, sess *client.Session, visibility string) (string, error) {
	switch visibility {
	case client.VisibleEveryone, client.VisibleContacts, client.VisibleNobody:
	default:
		return "", fmt.Errorf("chat: presence must be one of everyone, contacts, nobody (not %q)", visibility)
	}
	if err := sess.SetPresenceVisibility(ctx, visibility); err != nil {
		return "", err
	}
	return fmt.Sprintf("your online status and last seen are now shown to %s", visibilityWho(visibility)), nil
}

func visibilityWho(v string) string {
	switch v {
	case client.VisibleEveryone:
		return "everyone who shares a conversation with you"
	case client.VisibleNobody:
		return "nobody (and you see nobody's)"
	}
	return "your contacts (people you have a direct conversation with)"
}

// presenceCommand is /presence [everyone|contacts|nobody].
func presenceCommand(ctx context.Context, sess *client.Session, arg string) string {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		v, err := sess.PresenceVisibility(ctx)
		if err != nil {
			return "   ✗ " + err.Error()
		}
		return "   your online status and last seen are shown to " + visibilityWho(v) + " — /presence everyone|contacts|nobody to change"
	}
	msg, err := setPresence(ctx, sess, arg)
	if err != nil {
		return "   ✗ " + err.Error()
	}
	return "   " + msg
}
