package connector

import (
	"context"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentchat/agentchat/sdk/events"
)

// Sink takes the events the connector emits: the broker's ingress.
type Sink interface {
	// Post delivers e (binary mode) and returns nil only when the sink
	// accepted it (2xx). Any other outcome is an error; the connector then
	// tells the client "unavailable" and the client's outbox resends, with
	// the same event id, so a post that did land is deduplicated later.
	Post(ctx context.Context, e event.Event) error
}

// Presence records in a shared store which connector holds which device,
// for route to find, and orders each device's sockets so that the newest
// one wins on every connector. Implementations hold this connector's id.
//
// A socket's stamp comes from Admit, before its upgrade is answered: it is
// above the stamp of every socket of the device admitted before it (by any
// connector sharing the store), so a higher stamp means a newer socket,
// whatever order the goroutines then run in. A device's record names one
// socket (connector id and stamp) and is only ever replaced by a socket
// with a stamp at least as high.
type Presence interface {
	// Admit is called before a socket of dev is upgraded, in one round
	// trip: it reports whether accounts marked dev revoked while tokens
	// issued to it may still be valid (events.RevokedKey), and the
	// socket's stamp.
	Admit(ctx context.Context, dev events.DeviceRef) (Admission, error)
	// Claim records that the socket with stamp on this connector holds
	// dev, with a TTL, unless a newer socket (a higher stamp, on any
	// connector) holds it already: then it reports false and the caller
	// closes this socket (4009). Claiming again is harmless.
	Claim(ctx context.Context, dev events.DeviceRef, stamp uint64) (bool, error)
	// Refresh extends the TTL of each socket's record that is still its
	// own, records again those whose record expired or vanished (a Redis
	// restart) or names an older socket, and returns those whose record
	// names a newer socket (or another connector's socket with the same
	// stamp): they are stale here and should be closed.
	Refresh(ctx context.Context, held []Held) (lost []Held, err error)
	// Release removes dev's record only if it still names this socket
	// (this connector and stamp), so a newer socket of the device, here or
	// elsewhere, keeps its record. Releasing a socket that never claimed,
	// or lost its record, is harmless.
	Release(ctx context.Context, dev events.DeviceRef, stamp uint64) error
}

// Admission is what Presence.Admit knows about a socket before its upgrade.
type Admission struct {
	Revoked bool
	Stamp   uint64 // microseconds of the store's clock (or above, see Presence)
}

// Held is a socket that holds its device on this connector.
type Held struct {
	Dev   events.DeviceRef
	Stamp uint64
}

// Deliveries is this connector's delivery channel (route → connector).
type Deliveries interface {
	// Run receives until ctx ends. It calls handle with each message's
	// payload (a structured io.agentchat.delivery event, or an
	// events.DeviceRevoked) and subscribed each
	// time the subscription is (re-)established; first is true the first
	// time. Messages published while the subscription was down are lost
	// (pub/sub is at-most-once): that is why subscribed exists. Both
	// callbacks run on Run's goroutine and must not block.
	Run(ctx context.Context, handle func(payload []byte), subscribed func(first bool)) error
}

// Identity is who a verified token speaks for.
type Identity struct {
	User    string
	Device  string
	Expires time.Time
}

// Verifier checks a bearer token.
type Verifier interface {
	// Verify returns the identity of a valid token, or an error for a
	// missing, malformed, forged, expired or misaddressed one. Errors are
	// safe to log but are not shown to clients.
	Verify(ctx context.Context, token string) (Identity, error)
}

// Deps are the connector's collaborators. Sink, Presence, Deliveries and
// Tokens are required; Logger and Registry have defaults.
type Deps struct {
	Sink       Sink
	Presence   Presence
	Deliveries Deliveries
	Tokens     Verifier

	Logger *slog.Logger
	// Registry receives the connector's metrics; default: a new one, served
	// at /metrics.
	Registry *prometheus.Registry
}
