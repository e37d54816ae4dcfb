package directory

import (
	"context"
	"errors"
	"time"
)

// ErrContention: a conversation changed under ChangeMembers too often for
// it to apply its change; the caller may try again later.
var ErrContention = errors.New("directory: too much contention")

// Directory is the whole directory, as accounts (its only writer) uses it.
// Methods return store.ErrNotFound and store.ErrDuplicate as documented;
// any other error is an infrastructure failure (retry later). Where a
// change spans documents, writes are ordered so that a failure in between
// leaves nothing a reader would act on, and repeating the call finishes
// the job.
type Directory interface {
	Reader

	// InsertUser stores a new user or agent; store.ErrDuplicate when the
	// id is taken, or the username is taken by another user (agents have
	// none).
	InsertUser(ctx context.Context, u User) error
	// UserByID finds a user or agent; store.ErrNotFound if none.
	UserByID(ctx context.Context, id string) (User, error)
	// UserByUsername finds a person by username; store.ErrNotFound if none.
	UserByUsername(ctx context.Context, username string) (User, error)
	// ExistingUsers returns which of ids exist (users or agents).
	ExistingUsers(ctx context.Context, ids []string) (map[string]bool, error)
	// Users lists users and agents by id, those after the id after ("":
	// from the first), at most limit: the admin API's pages.
	Users(ctx context.Context, after string, limit int) ([]User, error)
	// SetSuspended suspends the user (at non-nil: the time, kept if it
	// is suspended already) or lifts its suspension (nil), and returns it;
	// store.ErrNotFound if there is no such user or agent.
	SetSuspended(ctx context.Context, id string, at *time.Time) (User, error)
	// MarkDeleted marks the user deleted at at (the first time kept):
	// deletedAt, suspendedAt (if not already), no password hash; and
	// returns it; store.ErrNotFound if there is no such user or agent.
	MarkDeleted(ctx context.Context, id string, at time.Time) (User, error)
	// SetVisibility sets who may see the user's presence (one of
	// events.Visible*, checked by the caller) and returns the user;
	// store.ErrNotFound if there is no such user or agent.
	SetVisibility(ctx context.Context, id, visibility string) (User, error)
	// Visibilities returns the presence setting of those of users that
	// exist: what they chose, or events.DefaultVisibility.
	Visibilities(ctx context.Context, users []string) (map[string]string, error)
	// AllAgents lists every agent, oldest first (then by id), at most limit.
	AllAgents(ctx context.Context, limit int) ([]User, error)

	// InsertDevice stores a new device; store.ErrDuplicate when the id is
	// taken or the user already has a device with this public key.
	InsertDevice(ctx context.Context, d Device) error
	// DeviceByID finds a device, revoked or not; store.ErrNotFound if none.
	DeviceByID(ctx context.Context, id string) (Device, error)
	// DeviceByKey finds the user's device holding publicKey, revoked or
	// not; store.ErrNotFound if none.
	DeviceByKey(ctx context.Context, user, publicKey string) (Device, error)
	// RevokeDevice marks the user's device revoked at at and returns it;
	// store.ErrNotFound if the user has no such device. Revoking a revoked
	// device succeeds and keeps the first revocation time.
	RevokeDevice(ctx context.Context, user, id string, at time.Time) (Device, error)
	// SetSigningKey gives the user's current device its signing key and
	// binding signature (checked by the caller), once: it returns the
	// device; setting the same key again succeeds (a retry) and keeps the
	// first binding; another key when one is set is store.ErrDuplicate;
	// store.ErrNotFound if the user has no such device or it is revoked.
	// A device sets its own key once, so two different keys racing is not
	// a case to order (FerretDB would let the last write win).
	SetSigningKey(ctx context.Context, user, id, signingKey, binding string) (Device, error)
	// RotateKey replaces the public X25519 key of the user's current
	// device id (an agent's one device: the admin API's key rotation) and
	// clears its signing key and binding, which bound the old key; the
	// user's own copy of its key (User.PublicKey, kept for agents) follows.
	// It returns the device; store.ErrNotFound if the user has no such
	// current device.
	RotateKey(ctx context.Context, user, id, publicKey string) (Device, error)

	// InsertConversation stores a new conversation at Rev 1 (whatever c.Rev
	// says); store.ErrDuplicate when the id exists, which for a direct
	// conversation (deterministic id) means it was already created. Every
	// member then lists it in ConversationsOf.
	InsertConversation(ctx context.Context, c Conversation) error
	// Conversation reads a conversation as of the newest logged membership
	// change (it applies any change the stored document lags behind);
	// store.ErrNotFound if none.
	Conversation(ctx context.Context, id string) (Conversation, error)
	// ConversationsOf lists the conversations user is a member of, most
	// recently changed first (then by id), at most limit. It reads the
	// stored documents, which may lag a logged change for a moment.
	ConversationsOf(ctx context.Context, user string, limit int) ([]Conversation, error)
	// ChangeMembers applies one membership change computed by next from
	// the current conversation. next returns the new members and admins
	// and whether anything changed; false writes nothing and returns the
	// current conversation with changed false; an error from next is
	// passed through. next may be called several times (once per attempt)
	// and must not call the directory. On success the conversation is
	// returned at its new revision (Rev+1). Concurrent changes never lose
	// each other: each revision is claimed by a unique insert into the
	// change log. ErrContention after too many lost races;
	// store.ErrNotFound if the conversation does not exist.
	ChangeMembers(ctx context.Context, id string, mc MemberChange, next func(Conversation) (Roster, bool, error)) (c Conversation, changed bool, err error)
}
