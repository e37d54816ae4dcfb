package messages

import (
	"context"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// Key is a message's idempotency key: a resend of the same client message
// from the same device is the same message.
type Key struct {
	Conversation, Sender, SenderDevice, ClientMessageID string
}

// KeyOf is m's idempotency key.
func KeyOf(m events.Message) Key {
	return Key{Conversation: m.ConversationID, Sender: m.SenderID, SenderDevice: m.SenderDevice, ClientMessageID: m.ClientMessageID}
}

// Whose keys a read returns: every read of a message names the device it
// reads for (the device arguments of At, After and ByKey), because
// a sender key distribution (IsDistribution) holds one wrapped key per
// member device — up to e2ee.MaxRecipients, ~200 KB in a group of 1,024 —
// of which a device can use its own only. A read for a device returns a
// distribution with that device's key alone (none when it has none), a
// read for NoDevice with no key at all, a read for AllDevices as it was
// sent (every key, in order). Every other message comes back as stored
// whoever reads it: a direct conversation's v1 envelope is small, and a
// v2 envelope's keys are the agents' (or, from an agent, every device's:
// the connector strips those per delivery).
const (
	NoDevice   = ""
	AllDevices = "*" // never a device id (accounts' ids are "dv-" and hex)
)

// IsDistribution reports whether m is a sender key distribution: a v1
// envelope under a distribution's client message id (e2ee.DistributionID).
func IsDistribution(m events.Message) bool {
	return m.Envelope != nil && m.Envelope.V == e2ee.Version && e2ee.IsDistributionID(m.ClientMessageID)
}

// Store is the message log. No method relies on transactions or on atomic
// read-modify-write updates; Insert's unique indexes are the only
// concurrency guard. A message's Audience is not stored (it is who the
// message was for when persist checked it, not part of the message): every
// read returns messages without one.
type Store interface {
	// Insert stores m (Seq >= 1, StoredAt set), or returns
	// store.ErrDuplicate and writes nothing when m's (conversation, seq) or
	// its idempotency key is stored already. It is atomic on every backend.
	// Callers keep seqs gapless by inserting last+1 only.
	Insert(ctx context.Context, m events.Message) error
	// InsertMany stores ms in order as Insert would, in as few commands as
	// the backend allows, stopping at the first one Insert would refuse:
	// it returns how many were stored — always the first n of ms — and,
	// when n < len(ms), why ms[n] was not (store.ErrDuplicate for a unique
	// index). After any other error n counts what is known stored; more may
	// be (a retry finds them as duplicates).
	InsertMany(ctx context.Context, ms []events.Message) (n int, err error)
	// At returns the message with seq, or store.ErrNotFound, as device
	// reads it (see AllDevices).
	At(ctx context.Context, conversation string, seq int64, device string) (events.Message, error)
	// Has reports whether the conversation has a message with seq, reading
	// no envelope (a lookup by _id: the one read FerretDB answers with an
	// index). Has(s) implies Has(s-1).
	Has(ctx context.Context, conversation string, seq int64) (bool, error)
	// After returns up to limit messages with seq > after, in seq order:
	// fewer only when the conversation has no more, as device reads them
	// (see AllDevices).
	After(ctx context.Context, conversation string, after int64, limit int, device string) ([]events.Message, error)
	// LastSeq returns the conversation's newest seq, 0 when it has none.
	// guess is a seq the caller believes is at or near the last (0: none),
	// missing one it knows is absent (0: none); they only decide where a
	// search by _id starts (FerretDB), so a good guess costs one lookup.
	LastSeq(ctx context.Context, conversation string, guess, missing int64) (int64, error)
	// ByKey returns the message stored under k, or store.ErrNotFound, as
	// device reads it (see AllDevices). On MongoDB it uses the idempotency
	// index; FerretDB scans the whole collection, so callers ask only when
	// a duplicate is certain or a message is about to be refused.
	ByKey(ctx context.Context, k Key, device string) (events.Message, error)
}

// Cursors are the members' receipt cursors.
type Cursors interface {
	// Advance raises user's delivered cursor in the conversation to
	// delivered and the read cursor to read; a value at or below what is
	// stored (0 included) changes nothing: cursors never move back. What
	// was shown was received: delivered is raised to at least read. On
	// FerretDB, whose updates are read-modify-write, concurrent Advance
	// calls for one cursor may let the lower value win until the next
	// Advance: cursors are hints. nil means the values are stored.
	Advance(ctx context.Context, conversation, user string, delivered, read int64) error
	// Get returns the cursors of those of users that have one, in users'
	// order.
	Get(ctx context.Context, conversation string, users []string) ([]events.Cursor, error)
}
