package connector

import (
	"context"
	"go.opentelemetry.io/otel/trace"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentchat/agentchat/store/presence"
	"github.com/agentchat/agentchat/store/seen"
	"github.com/agentchat/agentchat/store/userlimit"
)

// Sink takes the events the connector emits: the broker's ingress.
type Sink interface {
	// Post delivers e (binary mode) and returns nil only when the sink
	// accepted it (2xx). Any other outcome is an error; the connector then
	// tells the client "unavailable" and the client's outbox resends, with
	// the same event id, so a post that did land is deduplicated later.
	Post(ctx context.Context, e event.Event) error
}

// Presence is the presence store as this connector writes it:
// store/presence's Registry, whose methods state the contract (Admit
// stamps a socket before its upgrade, Claim records it, Refresh is the
// heartbeat of many sockets at once, Release removes a socket's own
// record). Redis: presence.NewRedis(client, prefix).Connector(id); tests
// may use presence.NewMemory().
type Presence = presence.Registry

// Admission is what Presence.Admit knows about a socket before its upgrade.
type Admission = presence.Admission

// Held is a socket that holds its device on this connector.
type Held = presence.Held

// Deliveries is this connector's delivery channel (route → connector).
type Deliveries interface {
	// Run receives until ctx ends. It calls handle with each message's
	// payload (a store/deliveries.Delivery, or an events.DeviceRevoked)
	// and subscribed each
	// time the subscription is (re-)established; first is true the first
	// time. Messages published while the subscription was down are lost
	// (pub/sub is at-most-once): that is why subscribed exists. Both
	// callbacks run on Run's goroutine and must not block.
	Run(ctx context.Context, handle func(payload []byte), subscribed func(first bool)) error
}

// UserLimits are the per-user rate limits every connector shares:
// store/userlimit's Limiter, whose Take states the contract (one token per
// frame from the user's bucket, atomic across connectors, a refused frame
// takes nothing). Redis: userlimit.NewRedis(client, prefix); tests may use
// userlimit.NewMemory().
type UserLimits = userlimit.Limiter

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
// Tokens are required; Logger and Registry have defaults; without Limits
// there are no per-user limits (only each socket's).
type Deps struct {
	Sink       Sink
	Presence   Presence
	Deliveries Deliveries
	Tokens     Verifier
	Limits     UserLimits
	// Seen is users' presence (store/seen): without it the connector
	// announces no presence changes (docs/protocol.md, "Presence").
	Seen seen.Store

	Logger *slog.Logger
	// Tracer traces frames, deliveries and acks (trace.go); nil: tracing
	// is off (cmd/connector sets it from the OTEL_* variables).
	Tracer trace.Tracer
	// Registry receives the connector's metrics; default: a new one, served
	// at /metrics.
	Registry *prometheus.Registry
}
