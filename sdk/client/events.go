package client

import (
	"fmt"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// Event is what Client.Events delivers: one of *Message, *Status, *Receipt,
// *Typing, *AgentActivity, *ConversationChange, *Presence,
// *PresenceSnapshot, *Error or *Connection. Use a type switch.
type Event interface{ isEvent() }

// Message is a stored message, decrypted, delivered strictly in seq order
// per conversation, each (conversation, seq) once. Own is set for messages
// this device sent (from its own outbox or echoed back by a sync); Content is
// then what was sent.
type Message struct {
	Conversation string
	Seq          int64
	ID           string // the sender's client message id
	Sender       string
	SenderDevice string
	StoredAt     time.Time
	Content      e2ee.Content
	Own          bool
	// Verified: the envelope's signature verifies under the signing key
	// the key directory lists for SenderDevice (or this device sent it).
	// False for a message that is unsigned, signed by another key, or
	// whose sender device has no key the directory lists: show it as
	// unverified, never as certainly from Sender (docs/e2ee.md).
	Verified bool
	// Invalid is set for an edit, delete or reaction (Content.Kind) that
	// must not be applied to the message it refers to: a forged edit by
	// someone other than its sender, too late, about a deleted or unknown
	// message (e2ee.CheckAction's errors). Ignore it or show it as
	// invalid. nil for every action that applies and every message.
	Invalid error
}

// State is where an own message is on its way: each message moves forward
// only, Sent → Stored → Delivered → Read, or ends in Failed.
type State int

// States of an own message.
const (
	StateSent      State = iota + 1 // written to a connector, not yet stored (no tick)
	StateStored                     // persisted with a seq (✓)
	StateDelivered                  // another member's device has it (✓✓)
	StateRead                       // another member has shown it (blue ✓✓)
	StateFailed                     // refused for good (not a member, malformed); Err says why
)

func (s State) String() string {
	switch s {
	case StateSent:
		return "sent"
	case StateStored:
		return "stored"
	case StateDelivered:
		return "delivered"
	case StateRead:
		return "read"
	case StateFailed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Status reports that an own message moved to State. Seq is set from
// StateStored on.
type Status struct {
	Conversation string
	ID           string
	Seq          int64
	State        State
	Err          error // for StateFailed
}

// Receipt is another device's cursor moving: it has everything up to Seq
// (Kind "delivered") or has shown it (Kind "read"). Receipts of this user's
// own other devices come through too.
type Receipt struct {
	Conversation string
	User         string
	Device       string
	Kind         string // ReceiptDelivered or ReceiptRead
	Seq          int64
}

// Receipt kinds.
const (
	ReceiptDelivered = "delivered"
	ReceiptRead      = "read"
)

// Typing is someone's typing indicator: State is "typing", "paused" or
// (for an agent at work) "thinking".
type Typing struct {
	Conversation string
	User         string
	Device       string
	State        string
}

// AgentActivity is an agent working on a reply to the message ReplyTo.
// Kind "partial": Content is the Index-th streamed chunk (decrypted; the
// reply itself arrives later as an ordinary Message). Partials of an answer
// come once each, in index order — also when the platform replays them after
// a reconnect — and none after its done, error or reply (answers.go).
// Kind "status": a lifecycle receipt — State is one of the Status*
// states (Tools names the tools running for StatusTool); each status the
// client hands on is later than the one before (Index grows), an older
// one arriving late is dropped, none comes after the answer's done,
// error or reply. Kind "done": the reply
// is stored. Kind "error": Code and Text say why the agent could not answer.
type AgentActivity struct {
	Conversation string
	Agent        string
	Device       string
	ReplyTo      int64
	Kind         string
	Index        int
	Content      e2ee.Content
	State        string   // status: StatusWaking, StatusQueued, …
	Tools        []string // status StatusTool: the tools running
	ID           string   // done: the reply's client message id
	Code         string   // error
	Text         string   // error: a message safe to show
	Retryable    bool     // error
}

// Agent activity kinds.
const (
	AgentPartial = protocol.AgentPartial
	AgentStatus  = protocol.AgentStatus
	AgentDone    = protocol.AgentDone
	AgentError   = protocol.AgentError
)

// Lifecycle states of an answer (AgentActivity kind AgentStatus), in the
// order they usually come: waking (the agent's runtime had been idle or
// was just started), queued (all its model slots busy), thinking, tool
// (Tools run), streaming (partials follow); then done or error.
const (
	StatusWaking    = protocol.StatusWaking
	StatusQueued    = protocol.StatusQueued
	StatusThinking  = protocol.StatusThinking
	StatusTool      = protocol.StatusTool
	StatusStreaming = protocol.StatusStreaming
)

// ConversationChange is a conversation of this user created, or its members
// changed (a conversation frame): Members is the whole list at revision
// Rev, By who made the change. Member false means this user is no longer
// in it (removed, or left from another device): the client stops
// following it. A conversation new to the client is followed (synced)
// from its start. Revisions may come twice or out of order: keep the
// highest.
type ConversationChange struct {
	ID      string
	Kind    string // KindDirect or KindGroup
	Rev     int64
	Members []string
	Title   string
	By      string
	Member  bool
	// Admins are the group's admins at Rev (empty: every member may
	// manage it, a group from before admins).
	Admins []string
}

// Error reports something the application should know about and that is
// not an own message's failure (those are Status StateFailed): a message
// that could not be decrypted (Code CodeUndecryptable or CodeNotRecipient;
// it still takes its place in the seq order, so nothing after it waits), an
// error frame about no message of the outbox, or a connection refused for
// good (Code CodeReplaced).
type Error struct {
	Conversation string
	Seq          int64
	ID           string
	Sender       string
	SenderDevice string
	Code         string
	Err          error
}

func (e *Error) Error() string { return fmt.Sprintf("client: %s: %v", e.Code, e.Err) }

// KeyDistribution says a stored entry of a group was a sender key
// distribution (docs/e2ee.md, "Sender keys"): not a message, nothing to
// show or count as unread, but its seq is taken — for applications that
// account for every seq (Message events skip it). Taken says whether this
// device got a key from it (false: it was this device's own, or did not
// open).
type KeyDistribution struct {
	Conversation string
	Seq          int64
	SenderDevice string
	Taken        bool
}

// Codes of Error events raised by the client itself; the others are the
// protocol's error codes (protocol.Code...).
const (
	CodeUndecryptable = "undecryptable" // tampered, wrong key or wrong associated data
	CodeNotRecipient  = "not_recipient" // not sealed for this device (older than the device, or a stale directory)
	CodeNoSenderKey   = "no_sender_key" // a group message of a sender key this device never got (sent before it joined, or after it left)
	CodeBadContent    = "bad_content"   // decrypted, but not valid content
	CodeReplaced      = "replaced"      // this device connected elsewhere (close 4009): no more reconnects
	CodeRevoked       = "revoked"       // this device was revoked (close 4003): no more reconnects; log in as a new device
	CodeSuspended     = "suspended"     // the account was suspended by an admin (close 4004): no more reconnects
	CodeUnauthorized  = "unauthorized"  // the token was refused at upgrade; reconnects go on
)

// Connection reports the socket going up or down. Up false comes with the
// cause and how long until the next attempt.
type Connection struct {
	Up      bool
	URL     string
	Err     error
	RetryIn time.Duration
}

func (*Message) isEvent()            {}
func (*Status) isEvent()             {}
func (*Receipt) isEvent()            {}
func (*Typing) isEvent()             {}
func (*AgentActivity) isEvent()      {}
func (*ConversationChange) isEvent() {}
func (*Error) isEvent()              {}
func (*Connection) isEvent()         {}
func (*KeyDistribution) isEvent()    {}
