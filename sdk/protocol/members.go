package protocol

import "fmt"

// MemberChange is one change of a group's membership as it appears in the
// conversation: a sequenced entry of its own (a message frame, live or in
// a batch, with System set and no envelope), stored by persist from
// accounts' conversation.changed, and delivered like any message. It is
// metadata the server knows anyway (who is in the group, who may manage
// it), never content: nothing in it is encrypted. docs/protocol.md,
// "Group management".
//
// Clients render it ("Alice added Bob", "Bob left", "Carol is now an
// admin") and key their group-key rotation off it: a sender key is
// replaced after every entry whose Op is MemberRemove or MemberLeave
// (docs/e2ee.md).
type MemberChange struct {
	Op   string `json:"op"`   // one of the Member* ops
	User string `json:"user"` // the member added, removed, leaving, promoted or demoted
	By   string `json:"by"`   // who made the change (the user itself for a leave)
	Rev  int64  `json:"rev"`  // the conversation's membership revision this change made
	// Promoted is the member made an admin by this same change: the last
	// admin left (or was removed) and the longest-standing member left
	// became one, as WhatsApp does.
	Promoted string `json:"promoted,omitempty"`
}

// Member change ops.
const (
	MemberAdd     = "add"     // By added User
	MemberRemove  = "remove"  // By removed User
	MemberLeave   = "leave"   // User left (By == User)
	MemberAdmin   = "admin"   // By made User an admin
	MemberUnadmin = "unadmin" // By made User an ordinary member again
)

// SystemIDPrefix starts the client message id of every membership entry
// ("member.<rev>": one per revision, so a redelivered change is stored
// once). Clients may not use it for their own messages.
const SystemIDPrefix = "member."

// SystemID is the client message id of the entry for revision rev.
func SystemID(rev int64) string { return fmt.Sprintf("%s%d", SystemIDPrefix, rev) }

// Check says what is wrong with c (nil if nothing).
func (c *MemberChange) Check() error {
	switch c.Op {
	case MemberAdd, MemberRemove, MemberLeave, MemberAdmin, MemberUnadmin:
	default:
		return fmt.Errorf("member change: op %q, want add, remove, leave, admin or unadmin", c.Op)
	}
	switch {
	case c.User == "" || c.By == "":
		return fmt.Errorf("member change: user and by are required")
	case c.Rev < 2:
		return fmt.Errorf("member change: rev %d, want >= 2 (1 is the creation)", c.Rev)
	case c.Op == MemberLeave && c.By != c.User:
		return fmt.Errorf("member change: a leave is by the user who leaves")
	}
	return nil
}
