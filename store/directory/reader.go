package directory

import "context"

// Reader is what the message pipeline (persist, route) reads of the
// directory. Implementations: Mongo (reads the storage every time), Memory
// (the twin), Cached (memory kept current by change events).
type Reader interface {
	// Members returns a conversation's kind, members and revision as of
	// the newest membership change accounts has logged: the conversation
	// document may lag its change log for a moment (or until the next
	// change, if accounts died in between), and Members applies the log
	// on top of it. store.ErrNotFound when the conversation does not exist.
	Members(ctx context.Context, conversation string) (Membership, error)
	// CurrentDevices returns the non-revoked devices of users (users
	// without devices, or unknown, contribute none), ordered by user,
	// then creation, then id. Revocation is final: a device once revoked
	// is never current again.
	CurrentDevices(ctx context.Context, users []string) ([]Device, error)
	// MembershipsOf returns up to limit of the conversations user is a
	// member of whose id is above after ("": from the first), in id order,
	// as their stored documents have them (a document may lag a logged
	// change for a moment). Fewer than limit: there are no more.
	MembershipsOf(ctx context.Context, user, after string, limit int) ([]Membership, error)
	// Agents returns those of users that are agents (kind "agent"), in no
	// particular order. A user's kind never changes.
	Agents(ctx context.Context, users []string) ([]User, error)
}
