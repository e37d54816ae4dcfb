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
// for route to find. Implementations hold this connector's id.
type Presence interface {
	// Claim records that this connector holds dev, taking it over from any
	// other connector (the newest connection wins), with a TTL.
	Claim(ctx context.Context, dev events.DeviceRef) error
	// Refresh extends the TTL of each device still recorded as held here,
	// claims again those whose record expired or vanished (a Redis restart),
	// and returns those now recorded for another connector: their sockets
	// here are stale and should be closed.
	Refresh(ctx context.Context, devs []events.DeviceRef) (lost []events.DeviceRef, err error)
	// Release removes dev's record only if it still names this connector,
	// so a device that already reconnected elsewhere keeps its record.
	Release(ctx context.Context, dev events.DeviceRef) error
	// Revoked reports whether accounts marked dev revoked while tokens
	// issued to it may still be valid (events.RevokedKey).
	Revoked(ctx context.Context, dev events.DeviceRef) (bool, error)
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
