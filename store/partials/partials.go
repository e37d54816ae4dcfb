// Package partials keeps the streamed partials of agents' answers while
// the answers are in progress, so that a device that connects or
// reconnects in the middle of an answer can be given what was streamed so
// far (route replays them after a resume or a sync; docs/protocol.md,
// "Answers in progress").
//
// An answer is an agent's reply to one message (Key). Its partials are the
// io.agentchat.agent.partial events of that reply, index 0, 1, …, each a
// delta sealed for the conversation's devices: the store keeps what the
// caller gives it for each index (route: the partial's delivery) as opaque
// bytes, never anything it could read. It is a short-lived cache, not a
// record: bounded per answer (Limits.MaxPartials, Limits.MaxBytes), gone
// Limits.TTL after the answer's latest partial (or status), and dropped when the answer
// ends (Finish: the reply was stored, or the agent gave up). The stored
// reply stays the truth; a partial the store refused or lost costs a
// reconnecting device the text after it until the reply arrives. With
// the partials it keeps the answer's latest lifecycle status (KeepStatus),
// so that a device that reconnects also sees where the answer stands.
//
// Redis keeps it on the real service (one hash per answer, one set of the
// answers in progress per conversation); Memory is the in-memory twin; one
// suite (suite_test.go) checks both, and miniredis (the dev runner's
// Redis).
package partials

import (
	"context"
	"time"
)

// Key names one answer: Agent's reply to the message at ReplyTo in
// Conversation.
type Key struct {
	Conversation string
	Agent        string
	ReplyTo      int64
}

// Partial is one kept partial: its index in the answer and the bytes kept
// for it.
type Partial struct {
	Index  int
	Record []byte
}

// Answer is an answer in progress with its kept partials, in index order,
// and its latest lifecycle status (nil: none kept).
type Answer struct {
	Key
	Partials []Partial
	Status   []byte
}

// Limits bound what is kept of one answer.
type Limits struct {
	// MaxPartials is how many partials of one answer are kept; later ones
	// are refused. Route replays an answer as that many frames at most,
	// which must stay well inside a socket's outbound queue (256 frames).
	MaxPartials int
	// MaxBytes bounds the records of one answer, together.
	MaxBytes int
	// TTL is how long an answer is kept after its latest partial, and how
	// long a finished answer refuses late partials.
	TTL time.Duration
}

// DefaultLimits are the limits of a zero Limits field.
var DefaultLimits = Limits{MaxPartials: 128, MaxBytes: 256 << 10, TTL: 5 * time.Minute}

func (l Limits) orDefault() Limits {
	if l.MaxPartials <= 0 {
		l.MaxPartials = DefaultLimits.MaxPartials
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.TTL <= 0 {
		l.TTL = DefaultLimits.TTL
	}
	return l
}

// Store keeps the partials of answers in progress.
type Store interface {
	// Keep keeps record as partial index of answer k and reports whether
	// it is kept. A partial kept already (a redelivery) is not kept again:
	// true, nothing changes. Refused (false): a partial of a finished
	// answer (a late or redelivered one, for Limits.TTL after Finish), and
	// one that would take the answer over Limits.MaxPartials or
	// Limits.MaxBytes. Every partial kept renews the answer's TTL. Atomic
	// per answer: concurrent Keeps of one answer never exceed its limits.
	// One round trip.
	Keep(ctx context.Context, k Key, index int, record []byte) (bool, error)
	// KeepStatus keeps record as the answer's latest lifecycle status
	// (io.agentchat.agent.status) when index is above the one kept, and
	// reports whether it did: an older or the same status, one of a
	// finished answer, or a record over Limits.MaxBytes is refused. An
	// answer with a status and no partial is in progress too (a device
	// that reconnects while the agent is queued or thinking sees it). It
	// renews the answer's TTL. Atomic per answer. One round trip.
	KeepStatus(ctx context.Context, k Key, index int, record []byte) (bool, error)
	// Finish drops the answer's partials and status and refuses any that
	// arrive after it for Limits.TTL. Idempotent. One round trip.
	Finish(ctx context.Context, k Key) error
	// InProgress returns the answers in progress in the conversations
	// with what is kept of each, partials in index order, answers ordered
	// by conversation (as given), agent, then ReplyTo. One round trip, and
	// one more when any answer is in progress.
	InProgress(ctx context.Context, conversations []string) ([]Answer, error)
}
