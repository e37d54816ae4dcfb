package directory

import (
	"slices"
	"time"
)

// User kinds.
const (
	KindUser  = "user"
	KindAgent = "agent"
)

// Conversation kinds.
const (
	Direct = "direct"
	Group  = "group"
)

// User is a person (kind "user": username and password hash) or an agent
// (kind "agent": agentKind, ownerId, and its one device's id and key).
type User struct {
	ID           string    `bson:"_id"`
	Kind         string    `bson:"kind"`
	Username     string    `bson:"username,omitempty"`
	Name         string    `bson:"name"`
	PasswordHash string    `bson:"passwordHash,omitempty"`
	AgentKind    string    `bson:"agentKind,omitempty"`
	OwnerID      string    `bson:"ownerId,omitempty"`
	DeviceID     string    `bson:"deviceId,omitempty"`
	PublicKey    string    `bson:"publicKey,omitempty"`
	CreatedAt    time.Time `bson:"createdAt"`
	// SuspendedAt is set while an admin has suspended the account
	// (SetSuspended): it may not log in, refresh or use its tokens.
	SuspendedAt *time.Time `bson:"suspendedAt,omitempty"`
	// DeletedAt is set once an admin has deleted the account
	// (MarkDeleted): it stays suspended and has no password; the record
	// stays so that the id others' history names still resolves and the
	// username is not taken again.
	DeletedAt *time.Time `bson:"deletedAt,omitempty"`
	// Visibility is who may see the user's presence (events.Visible*;
	// "": events.DefaultVisibility): SetVisibility, Visibilities.
	Visibility string `bson:"visibility,omitempty"`
}

// Suspended reports whether the account is suspended.
func (u User) Suspended() bool { return u.SuspendedAt != nil }

// Device is one key-holding endpoint of a user or agent. Its public key
// (base64 std of a 32-byte X25519 key) is what senders wrap message keys
// for; its signing key (base64 std of a 32-byte Ed25519 key, absent on
// devices registered before signing) is what recipients verify its
// messages with, and Binding (base64 std, 64 bytes) is the device's
// signature of e2ee.BindingBytes(User, PublicKey) under it, checked when
// it was set (SetSigningKey).
type Device struct {
	ID         string     `bson:"_id"`
	User       string     `bson:"user"`
	Name       string     `bson:"name,omitempty"`
	PublicKey  string     `bson:"publicKey"`
	SigningKey string     `bson:"signingKey,omitempty"`
	Binding    string     `bson:"binding,omitempty"`
	CreatedAt  time.Time  `bson:"createdAt"`
	RevokedAt  *time.Time `bson:"revokedAt,omitempty"`
}

// Revoked reports whether the device was revoked.
func (d Device) Revoked() bool { return d.RevokedAt != nil }

// Conversation is a direct (two members, fixed) or group conversation.
// Rev counts membership changes (1 at creation); see Directory.ChangeMembers.
type Conversation struct {
	ID        string    `bson:"_id"`
	Kind      string    `bson:"kind"`
	Members   []string  `bson:"members"`
	Title     string    `bson:"title"`
	CreatedBy string    `bson:"createdBy"`
	CreatedAt time.Time `bson:"createdAt"`
	UpdatedAt time.Time `bson:"updatedAt"`
	Rev       int64     `bson:"rev"`
	// Admins are the members who may add and remove members and make
	// admins (a group's creator first). Empty for a direct conversation,
	// and for a group made before admins existed: there every member may.
	Admins []string `bson:"admins,omitempty"`
}

// IsMember reports whether user is a member.
func (c Conversation) IsMember(user string) bool { return slices.Contains(c.Members, user) }

// IsAdmin reports whether member user may manage the group: an admin, or
// any member of a group without admins (one made before them).
func (c Conversation) IsAdmin(user string) bool {
	if len(c.Admins) == 0 {
		return c.IsMember(user)
	}
	return slices.Contains(c.Admins, user)
}

// Roster is what a membership change sets: the members and the admins
// after it (the admins a subset of the members).
type Roster struct {
	Members []string
	Admins  []string
}

// Roster is c's members and admins.
func (c Conversation) Roster() Roster {
	return Roster{Members: slices.Clone(c.Members), Admins: slices.Clone(c.Admins)}
}

// Membership is who is in a conversation at one revision: what persist
// and route need of it.
type Membership struct {
	Conversation string
	Kind         string
	Members      []string
	Rev          int64
	Title        string // set by MembershipsOf only (a resume names new conversations by it)
}

// IsMember reports whether user is a member.
func (m Membership) IsMember(user string) bool { return slices.Contains(m.Members, user) }

// MemberChange describes one membership change for the change log.
type MemberChange struct {
	Op   string // one of the Op* below
	User string // the member added, removed, leaving, promoted or demoted
	By   string // who did it
	At   time.Time
	// Promoted is the member this same change made an admin (the last
	// admin went; see accounts' rules), if any: accounts' note for its
	// announcement (the log keeps the admins after the change).
	Promoted string
}

// Member change operations (the same words as protocol.MemberChange's).
const (
	OpAdd     = "add"
	OpRemove  = "remove"
	OpLeave   = "leave"
	OpAdmin   = "admin"
	OpUnadmin = "unadmin"
)

// storedTime is t as the storage keeps it: UTC, to the millisecond.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
