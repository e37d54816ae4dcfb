package connector

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/agentchat/agentchat/store/seen"
)

// Config is the connector's configuration, read from the environment with
// envconfig (no prefix) by cmd/connector. Zero values are replaced by the
// defaults in withDefaults, so tests can fill only what they need.
type Config struct {
	// ConnectorID names this process in presence keys and its delivery
	// channel. Default: hostname plus a random suffix, unique per process.
	ConnectorID   string `envconfig:"CONNECTOR_ID"`
	ListenAddress string `envconfig:"LISTEN_ADDRESS" default:":8080"`

	// Sink is the broker ingress URL events are posted to. Knative's
	// SinkBinding injects it, and K_CE_OVERRIDES (JSON {"extensions":{...}})
	// with it.
	Sink        string        `envconfig:"K_SINK" required:"true"`
	CEOverrides string        `envconfig:"K_CE_OVERRIDES"`
	SinkTimeout time.Duration `envconfig:"SINK_TIMEOUT" default:"10s"`

	RedisURL    string `envconfig:"REDIS_URL" default:"redis://127.0.0.1:6379/0"`
	RedisPrefix string `envconfig:"REDIS_PREFIX" default:"agentchat:"`

	// JWKSURL is accounts' /.well-known/jwks.json.
	JWKSURL       string `envconfig:"JWKS_URL"`
	TokenAudience string `envconfig:"TOKEN_AUDIENCE" default:"agentchat"`
	TokenIssuer   string `envconfig:"TOKEN_ISSUER" default:"agentchat-accounts"`

	// OutboundQueue bounds the frames waiting to be written to one socket;
	// overflowing it closes the socket with 4008.
	OutboundQueue int `envconfig:"OUTBOUND_QUEUE" default:"256"`
	// OutboundQueueBytes bounds the bytes of the frames queued for one
	// socket, including those its writer holds but has not written yet;
	// overflowing it closes the socket with 4008 too. A socket with nothing
	// queued takes any one frame, so the bound is at least the largest frame.
	OutboundQueueBytes int `envconfig:"OUTBOUND_QUEUE_BYTES" default:"1048576"`
	// RateLimit (frames per second) and RateBurst bound what one socket may
	// send; RateStrikes rate-limited frames within StrikeWindow close it
	// with 4029.
	RateLimit    float64       `envconfig:"RATE_LIMIT" default:"50"`
	RateBurst    int           `envconfig:"RATE_BURST" default:"100"`
	RateStrikes  int           `envconfig:"RATE_STRIKES" default:"100"`
	StrikeWindow time.Duration `envconfig:"RATE_STRIKE_WINDOW" default:"10s"`
	// UserSendRate (sends per second) and UserSendBurst bound the messages
	// of one user across all of their devices and every connector
	// (store/userlimit, in Redis): a send over them is answered
	// rate_limited with its id and afterMs, and not posted. The default,
	// 100/s after a burst of 200, is twice a socket's own limit: one device
	// never meets it before its socket's limit, and no person typing (or
	// test, or benchmark: bench-pipeline sends ~60/s per user) comes near
	// it; it stops a user's many sockets from adding up to many times a
	// socket's rate. UserTypingRate and UserTypingBurst do the same for
	// typing frames (dropped, with the same error). A negative rate turns a
	// limit off.
	UserSendRate    float64 `envconfig:"USER_SEND_RATE" default:"100"`
	UserSendBurst   int     `envconfig:"USER_SEND_BURST" default:"200"`
	UserTypingRate  float64 `envconfig:"USER_TYPING_RATE" default:"10"`
	UserTypingBurst int     `envconfig:"USER_TYPING_BURST" default:"40"`

	// PingInterval is how often the writer pings; a socket that shows no
	// sign of life (no frame, no pong) for two intervals is closed.
	PingInterval time.Duration `envconfig:"PING_INTERVAL" default:"25s"`
	WriteTimeout time.Duration `envconfig:"WRITE_TIMEOUT" default:"10s"`
	// PresenceHeartbeat is how often presence keys are refreshed; default
	// a third of presence.TTL (store/presence), spread over the
	// interval (heartbeat.go).
	PresenceHeartbeat time.Duration `envconfig:"PRESENCE_HEARTBEAT"`
	// PresenceGrace is how long a user still counts as online after their
	// last socket closed here (docs/protocol.md, "Presence"): a reconnect
	// within it is no change at all. At most a third of presence.TTL.
	PresenceGrace time.Duration `envconfig:"PRESENCE_GRACE" default:"5s"`
	// DrainTimeout bounds how long Drain waits for sockets to close.
	DrainTimeout time.Duration `envconfig:"DRAIN_TIMEOUT" default:"30s"`
	// ReconnectSpread is the upper bound of the random delay each client is
	// told to wait before reconnecting during a drain, so that thousands of
	// clients do not arrive at the other connectors in the same instant.
	ReconnectSpread time.Duration `envconfig:"RECONNECT_SPREAD" default:"5s"`

	// AllowedOrigins lists the Origin values a browser may connect from
	// ("*" allows any). Empty: only the connector's own host. Requests
	// without an Origin (non-browser clients) are always allowed.
	AllowedOrigins []string `envconfig:"ALLOWED_ORIGINS"`

	// Web, if set, serves everything outside the connector's own routes
	// (the web client's static files). WebDir, if Web is nil, serves the
	// files of that folder instead.
	Web    http.Handler `ignored:"true"`
	WebDir string       `envconfig:"WEB_DIR"`
	// WebAccountsURL is where the web client finds accounts (served to it
	// as /config.json); empty: the connector's own origin, for a cluster
	// whose ingress routes /v1/ to accounts.
	WebAccountsURL string `envconfig:"WEB_ACCOUNTS_URL"`
	// WebMediaURL is the media store (S3) as browsers reach it, e.g.
	// https://media.example.com: the web client PUTs and GETs encrypted
	// blobs there through presigned URLs, so the page's content security
	// policy must let it connect there. Empty: no media from the web client.
	WebMediaURL string `envconfig:"WEB_MEDIA_URL"`
}

// DefaultOutboundQueueBytes is OUTBOUND_QUEUE_BYTES's default, 1 MiB: two
// of the largest frames (a sync batch or delivery of events.MaxDataSize, 512
// KiB, is the largest there is) or a dozen 80 KB messages.
const DefaultOutboundQueueBytes = 1 << 20

// withDefaults fills what a test or an embedding program left zero.
func (c Config) withDefaults() Config {
	if c.ConnectorID == "" {
		c.ConnectorID = DefaultConnectorID()
	}
	if c.Web == nil && c.WebDir != "" {
		c.Web = http.FileServer(http.Dir(c.WebDir))
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = "agentchat:"
	}
	if c.TokenAudience == "" {
		c.TokenAudience = "agentchat"
	}
	if c.TokenIssuer == "" {
		c.TokenIssuer = "agentchat-accounts"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.SinkTimeout, 10*time.Second)
	def(&c.PingInterval, 25*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.DrainTimeout, 30*time.Second)
	def(&c.PresenceGrace, 5*time.Second)
	c.PresenceGrace = min(c.PresenceGrace, seen.TTL/3)
	def(&c.StrikeWindow, 10*time.Second)
	if c.ReconnectSpread < 0 {
		c.ReconnectSpread = 0
	}
	if c.OutboundQueue <= 0 {
		c.OutboundQueue = 256
	}
	if c.OutboundQueueBytes <= 0 {
		c.OutboundQueueBytes = DefaultOutboundQueueBytes
	}
	if c.RateLimit <= 0 {
		c.RateLimit = 50
	}
	if c.RateBurst <= 0 {
		c.RateBurst = 100
	}
	if c.RateStrikes <= 0 {
		c.RateStrikes = 100
	}
	defRate := func(rate *float64, burst *int, r float64, b int) {
		if *rate == 0 {
			*rate = r
		}
		if *burst <= 0 {
			*burst = b
		}
	}
	defRate(&c.UserSendRate, &c.UserSendBurst, 100, 200)
	defRate(&c.UserTypingRate, &c.UserTypingBurst, 10, 40)
	return c
}

// DefaultConnectorID is the hostname plus a random suffix: two processes on
// one host (or a restarted pod) never share a delivery channel.
func DefaultConnectorID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "connector"
	}
	b := make([]byte, 4)
	rand.Read(b)
	if len(host) > 50 {
		host = host[:50]
	}
	return fmt.Sprintf("%s-%s", host, hex.EncodeToString(b))
}
