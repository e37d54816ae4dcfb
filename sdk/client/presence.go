package client

import (
	"context"
	"net/http"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// Presence is what this user may see of User's presence (a presence
// frame, docs/protocol.md "Presence"): Online, or LastSeen, or neither —
// nothing to show (they hide it, or this user hides their own; forget
// what was shown).
type Presence struct {
	User     string
	Online   bool
	LastSeen time.Time
}

// PresenceSnapshot is the answer to the presence request a client with
// Config.Presence sends at every connect (and what comes after this user
// changes their own setting): everyone with something to show. Anyone not
// listed has nothing to show.
type PresenceSnapshot struct {
	Users []Presence
}

func (*Presence) isEvent()         {}
func (*PresenceSnapshot) isEvent() {}

// Presence visibility settings (Session.SetPresenceVisibility): who sees
// this user's online state and last seen.
const (
	VisibleEveryone = "everyone" // everyone who shares a conversation with them
	VisibleContacts = "contacts" // those who share a direct conversation with them (the default)
	VisibleNobody   = "nobody"   // nobody; and they then see nobody's
)

// askPresence sends the presence request of a fresh connection.
func (c *Client) askPresence() {
	if c.cfg.Presence {
		c.write(protocol.Frame{Type: protocol.TypePresence, ID: "p-" + newMessageID()[:12]})
	}
}

// presence reports a presence frame: one user's, or a snapshot.
func (c *Client) presence(f protocol.Frame) {
	one := func(f protocol.Frame) Presence {
		return Presence{User: f.User, Online: f.Online, LastSeen: f.LastSeen}
	}
	if f.User != "" {
		p := one(f)
		c.emit(&p)
		return
	}
	snap := &PresenceSnapshot{Users: make([]Presence, 0, len(f.Users))}
	for _, u := range f.Users {
		if u.User != "" {
			snap.Users = append(snap.Users, one(u))
		}
	}
	c.emit(snap)
}

type presenceSetting struct {
	Visibility string `json:"visibility"`
}

// PresenceVisibility reads who may see this user's presence.
func (s *Session) PresenceVisibility(ctx context.Context) (string, error) {
	var out presenceSetting
	err := s.call(ctx, http.MethodGet, "/v1/me/presence", nil, &out)
	return out.Visibility, err
}

// SetPresenceVisibility sets who may see this user's presence:
// VisibleEveryone, VisibleContacts or VisibleNobody. It takes effect at
// once: watchers who may no longer see it are told.
func (s *Session) SetPresenceVisibility(ctx context.Context, visibility string) error {
	return s.call(ctx, http.MethodPut, "/v1/me/presence", presenceSetting{Visibility: visibility}, &presenceSetting{})
}
