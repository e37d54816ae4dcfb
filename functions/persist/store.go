package function

import (
	"context"
	"errors"

	"github.com/agentchat/agentchat/sdk/events"
)

// errDuplicate is returned by store.InsertMessage when a unique index
// refused the message: its seq is taken, or its idempotency key is stored.
var errDuplicate = errors.New("persist: duplicate message")

// idemKey is a message's idempotency key: a resend of the same client
// message from the same device is the same message.
type idemKey struct {
	Conversation, Sender, SenderDevice, ClientMessageID string
}

// store is persist's view of MongoDB. No method relies on transactions or
// on atomic read-modify-write updates (FerretDB has neither): the only
// concurrency guard is InsertMessage's unique indexes.
type store interface {
	// Members returns the member user ids of a conversation, as of the
	// newest membership change accounts has logged; ok is false when the
	// conversation does not exist.
	Members(ctx context.Context, conversation string) (members []string, ok bool, err error)
	// CurrentDevices returns the non-revoked devices of users.
	CurrentDevices(ctx context.Context, users []string) ([]events.DeviceRef, error)
	// HasSeq reports whether a conversation has a message with this seq.
	// It is a lookup by _id, FerretDB's cheapest query (about a tenth of
	// a sorted one). Seqs are gapless and never deleted, so HasSeq(s)
	// implies HasSeq(s-1): allocate searches the last seq with it.
	HasSeq(ctx context.Context, conversation string, seq int64) (bool, error)
	// MessageAt returns the message with this seq; ok is false if none.
	MessageAt(ctx context.Context, conversation string, seq int64) (m events.Message, ok bool, err error)
	// InsertMessage stores m, or returns errDuplicate when (conversation,
	// seq) or m's idempotency key exists. It is atomic on every backend.
	InsertMessage(ctx context.Context, m events.Message) error
	// FindMessage returns the message stored under k; ok is false if none.
	// On MongoDB it uses the idempotency index; FerretDB scans the whole
	// collection for it, so persist only asks when a duplicate is certain
	// or a message is about to be rejected.
	FindMessage(ctx context.Context, k idemKey) (m events.Message, ok bool, err error)
	// AdvanceCursor raises user's delivered cursor in a conversation to
	// seq, and the read cursor too when read is set; it never lowers one
	// that is already at or above seq. Concurrent calls on FerretDB may let
	// a lower value win (see docs/data.md): cursors are hints.
	AdvanceCursor(ctx context.Context, conversation, user string, seq int64, read bool) error
	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
	// Close releases connections.
	Close(ctx context.Context) error
}
