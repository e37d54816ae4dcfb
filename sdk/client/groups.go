package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// MemberEntry is a group's membership change as an entry of the
// conversation ("alice added bob", "bob left", "carol is now an admin"):
// it takes its seq like a message and comes in seq order with them,
// once. Change.Op is one of protocol's Member* ops; Change.Promoted a
// member this same change made an admin (the last admin went). A sender
// key for the group is replaced after an entry that takes a member out
// (docs/e2ee.md).
//
// A removed member's device gets the entry of its own removal too (the
// last it gets of that conversation), outside the order: the
// conversation is no longer followed.
type MemberEntry struct {
	Conversation string
	Seq          int64
	StoredAt     time.Time
	Change       protocol.MemberChange
}

func (*MemberEntry) isEvent() {}

// Text is the entry as a line for a person, naming users by name (the
// user id for one name does not know; you for this user).
func (m *MemberEntry) Text(me string, name func(user string) string) string {
	return MemberChangeText(m.Change, me, name)
}

// MemberChangeText renders a membership change the way every agentchat
// client does ("Alice added Bob", "You left", "Carol is now an admin").
func MemberChangeText(c protocol.MemberChange, me string, name func(user string) string) string {
	who := func(u string) string {
		if u == me {
			return "You"
		}
		if name != nil {
			if n := name(u); n != "" {
				return n
			}
		}
		return u
	}
	obj := func(u string) string {
		if u == me {
			return "you"
		}
		return who(u)
	}
	var s string
	switch c.Op {
	case protocol.MemberAdd:
		s = who(c.By) + " added " + obj(c.User)
	case protocol.MemberRemove:
		s = who(c.By) + " removed " + obj(c.User)
	case protocol.MemberLeave:
		s = who(c.User) + " left"
	case protocol.MemberAdmin:
		if c.User == me {
			s = "You are now an admin"
		} else {
			s = who(c.User) + " is now an admin"
		}
	case protocol.MemberUnadmin:
		if c.User == me {
			s = "You are no longer an admin"
		} else {
			s = who(c.User) + " is no longer an admin"
		}
	default:
		s = who(c.By) + " changed the group"
	}
	if c.Promoted != "" {
		if c.Promoted == me {
			s += "; you are now an admin"
		} else {
			s += "; " + who(c.Promoted) + " is now an admin"
		}
	}
	return s
}

// CreateGroup creates a group named title with members (people and
// agents; the caller is added and is its first admin).
func (s *Session) CreateGroup(ctx context.Context, title string, members ...string) (Conversation, error) {
	return s.CreateConversation(ctx, KindGroup, members, title)
}

// AddMembers adds users to a group the caller is an admin of, one change
// (and one entry) each, stopping at the first refusal. Adding a member
// again changes nothing.
func (s *Session) AddMembers(ctx context.Context, conversation string, users ...string) error {
	for _, u := range users {
		if err := s.AddMember(ctx, conversation, u); err != nil {
			return err
		}
	}
	return nil
}

// Leave takes the caller out of a group (anyone may; when the last admin
// leaves, another member becomes one).
func (s *Session) Leave(ctx context.Context, conversation string) error {
	return s.RemoveMember(ctx, conversation, s.UserID())
}

// SetAdmin makes a member an admin (admin true) or an ordinary member
// again; only an admin may, and a group keeps at least one admin.
func (s *Session) SetAdmin(ctx context.Context, conversation, user string, admin bool) error {
	path := "/v1/conversations/" + url.PathEscape(conversation) + "/admins"
	if admin {
		return s.call(ctx, http.MethodPost, path, map[string]string{"userId": user}, nil)
	}
	return s.call(ctx, http.MethodDelete, path+"/"+url.PathEscape(user), nil, nil)
}

// memberEntry takes a membership entry that is this device's own removal
// (or leave, from another device): told at once, outside the order, and
// the conversation no longer followed. Anything else is false: it is
// ordered like a message.
func (c *Client) memberEntry(f protocol.Frame) bool {
	ch := f.System
	if ch == nil || ch.User != c.s.user || (ch.Op != protocol.MemberRemove && ch.Op != protocol.MemberLeave) {
		return false
	}
	delete(c.s.convs, f.Conversation)
	c.emit(&MemberEntry{Conversation: f.Conversation, Seq: f.Seq, StoredAt: f.StoredAt, Change: *ch})
	return true
}
