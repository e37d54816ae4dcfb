package e2ee

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Edits, deletes and reactions are ordinary messages whose content refers
// to an earlier message of the conversation by its seq: the server stores,
// sequences and routes them like any other and learns nothing of their
// kind (docs/e2ee.md, "Edits, deletes and reactions"). Every receiver
// applies them by the same rules (CheckAction), so that a member's client
// cannot edit or delete what someone else said.

// Edit replaces the text of the message at Ref (its sender's own, within
// EditWindow). Later valid edits win over earlier ones.
type Edit struct {
	Ref  int64  `json:"ref"`
	Text string `json:"text"`
}

// Delete removes the message at Ref for everyone (its sender's own, within
// DeleteWindow). "Delete for me" is not a message: it stays on the device.
type Delete struct {
	Ref int64 `json:"ref"`
}

// Reaction is one member's reaction to the message at Ref: one per member
// and message, the latest replacing the earlier; an empty Emoji removes it.
type Reaction struct {
	Ref   int64  `json:"ref"`
	Emoji string `json:"emoji"`
}

// Content kinds (Content.Kind).
const (
	KindMessage  = "message"  // text and/or media, maybe a reply (ReplyTo)
	KindEdit     = "edit"     // Content.Edit
	KindDelete   = "delete"   // Content.Delete
	KindReaction = "reaction" // Content.React
)

// Windows within which an edit or a delete for everyone applies, counted
// between the two messages' stored times (as WhatsApp: 15 minutes to edit,
// about two days to delete for everyone).
const (
	EditWindow   = 15 * time.Minute
	DeleteWindow = 48 * time.Hour
)

// MaxEmoji bounds a reaction's emoji in bytes: one emoji, however many code
// points its skin tone and joiners take.
const MaxEmoji = 32

// Kind says what the content is: a message, or an action on another one.
func (c Content) Kind() string {
	switch {
	case c.Edit != nil:
		return KindEdit
	case c.Delete != nil:
		return KindDelete
	case c.React != nil:
		return KindReaction
	}
	return KindMessage
}

// Ref is the seq of the message an edit, delete or reaction is about (0
// for a message: a reply's is ReplyTo).
func (c Content) Ref() int64 {
	switch {
	case c.Edit != nil:
		return c.Edit.Ref
	case c.Delete != nil:
		return c.Delete.Ref
	case c.React != nil:
		return c.React.Ref
	}
	return 0
}

// checkAction checks an action's own fields: one action, nothing else in
// the content, a positive ref.
func (c Content) checkAction() error {
	n := 0
	for _, set := range []bool{c.Edit != nil, c.Delete != nil, c.React != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return nil
	case n > 1:
		return fmt.Errorf("e2ee: content: at most one of edit, delete and react")
	case c.Text != "" || c.Media != nil || c.ReplyTo != 0:
		return fmt.Errorf("e2ee: content: an %s carries no text, media or replyTo of its own", c.Kind())
	case c.Ref() < 1:
		return fmt.Errorf("e2ee: content: %s: ref must be >= 1", c.Kind())
	case c.Edit != nil && (c.Edit.Text == "" || !utf8.ValidString(c.Edit.Text)):
		return fmt.Errorf("e2ee: content: edit: text must be non-empty UTF-8")
	case c.React != nil && (len(c.React.Emoji) > MaxEmoji || !utf8.ValidString(c.React.Emoji)):
		return fmt.Errorf("e2ee: content: react: emoji must be UTF-8 of at most %d bytes", MaxEmoji)
	}
	return nil
}

// Entry is what a receiver knows of a stored message when it checks an
// action against it: who sent it (the user, as the server stamps it),
// when it was stored, its kind, whether its signature verified, and
// whether a valid delete has removed it.
type Entry struct {
	Seq      int64
	Sender   string
	StoredAt time.Time
	Kind     string
	Verified bool
	Deleted  bool
}

// Why CheckAction refuses an action.
var (
	// ErrUnknownRef: the receiver does not have the message referred to
	// (not yet received, before what it keeps, or no such seq).
	ErrUnknownRef = errors.New("e2ee: action: the message it refers to is unknown")
	// ErrNotAMessage: the ref names an edit, delete or reaction, or comes
	// at or after the action itself.
	ErrNotAMessage = errors.New("e2ee: action: it refers to no earlier message")
	// ErrNotSender: an edit or delete for everyone by someone other than
	// the message's sender (a forged edit), or an unverified one of a
	// verified message.
	ErrNotSender = errors.New("e2ee: action: only the sender may edit or delete a message")
	// ErrTooLate: outside EditWindow or DeleteWindow.
	ErrTooLate = errors.New("e2ee: action: the time to edit or delete it has passed")
	// ErrDeleted: the message was deleted for everyone: nothing more applies.
	ErrDeleted = errors.New("e2ee: action: the message was deleted")
)

// CheckAction says whether the action content a (an edit, delete or
// reaction), stored as entry by, applies to the message original (the
// receiver's Entry for a.Ref(); the zero Entry if it has none). Every
// client applies exactly the actions it accepts, so that all members'
// devices show the same: an edit or delete only by the message's sender —
// and, if the message verified, only a verified one — within its window
// of the original's stored time; a reaction by any member, to a message
// not deleted. Content that is not an action is accepted (nil).
func CheckAction(a Content, by, original Entry) error {
	kind := a.Kind()
	if kind == KindMessage {
		return nil
	}
	switch {
	case original.Seq == 0:
		return ErrUnknownRef
	case original.Kind != KindMessage || original.Seq >= by.Seq:
		return ErrNotAMessage
	case original.Deleted:
		return ErrDeleted
	case kind == KindReaction:
		return nil
	case by.Sender == "" || by.Sender != original.Sender || (original.Verified && !by.Verified):
		return ErrNotSender
	}
	window := EditWindow
	if kind == KindDelete {
		window = DeleteWindow
	}
	if by.StoredAt.Sub(original.StoredAt) > window {
		return ErrTooLate
	}
	return nil
}
