// Package function is push, the agentchat function that wakes devices
// that are not connected: for every stored message (io.agentchat.message.stored,
// triggers/push.yaml) it sends a Web Push — RFC 8030, the payload
// encrypted per RFC 8291, authenticated with VAPID (RFC 8292) — to each
// device of the message's audience that has a push subscription
// (store/pushsubs, set through accounts), is offline (no presence record,
// store/presence) and does not belong to the sender.
//
// What a push says: {"type":"message","conversation":"<id>"} and nothing
// else — no content, no sender, no seq (docs/e2ee.md, "Push"). The
// device's service worker shows "New message" and syncs when opened.
//
// One push per burst: a device gets a push for the first message that
// finds it offline, then none for PUSH_COLLAPSE_WINDOW or until its user
// comes back (store/seen: the device connects, or the user leaves after
// being online; bursts.go); the
// push carries a Topic, so a push service still holding an undelivered
// one replaces it. A redelivered event sends nothing again (bursts.go).
// A push service's 404 or 410 removes the subscription.
//
// It is an instanced func (New, Start, Stop, Ready, Alive, Handle); it
// never replies.
package function

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/presence"
	"github.com/agentchat/agentchat/store/pushsubs"
	"github.com/agentchat/agentchat/store/seen"
)

// Function is one push instance.
type Function struct {
	level  slog.LevelVar
	log    *slog.Logger
	deps   atomic.Pointer[deps]
	handle fn.Handler
}

type config struct {
	MongoURI    string `env:"MONGODB_URI" required:"true"`
	Database    string `env:"MONGODB_DATABASE" default:"agentchat"`
	RedisURL    string `env:"REDIS_URL" required:"true"`
	RedisPrefix string `env:"REDIS_PREFIX" default:"agentchat:"`
	// VAPIDPrivateKey is the application server's P-256 private key,
	// base64url of the 32-byte scalar; its public key is what accounts
	// hands the clients (VAPID_PUBLIC_KEY there), derived here from it.
	VAPIDPrivateKey string `env:"VAPID_PRIVATE_KEY" required:"true"`
	// VAPIDSubject is the operator's contact in every VAPID token, a
	// mailto: or https: URL (RFC 8292: push services use it to reach the
	// sender; Apple's refuses tokens without one).
	VAPIDSubject string `env:"VAPID_SUBJECT" default:"mailto:push@agentchat.invalid"`
	// Endpoints are the push services it posts to (pushsubs.ParseEndpoints;
	// empty: pushsubs.DefaultEndpoints), the same list accounts checks.
	Endpoints string        `env:"PUSH_ENDPOINTS"`
	Window    time.Duration `env:"PUSH_COLLAPSE_WINDOW" default:"60s" min:"1s" max:"24h"`
	TTL       time.Duration `env:"PUSH_TTL" default:"24h" min:"0s" max:"672h"`
	Timeout   time.Duration `env:"PUSH_TIMEOUT" default:"5s" min:"100ms" max:"1m"`
	LogLevel  slog.Level    `env:"LOG_LEVEL" default:"INFO"`
}

// deps is what Start opens; a test builds one around in-memory stores.
type deps struct {
	subs      pushsubs.Store
	presence  presence.Locator
	seen      lastSeener
	bursts    bursts
	sender    sender
	endpoints pushsubs.Endpoints
	window    time.Duration
	ping      func(context.Context) error
	close     func(context.Context) error
}

// lastSeener is what push reads of store/seen: users' presence, whose
// last seen and arrivals end their devices' bursts (push.go's backs).
type lastSeener interface {
	States(ctx context.Context, users []string) (map[string]seen.State, error)
}

// New is called once by the func runtime.
func New() *Function {
	f := &Function{}
	f.log = fn.NewLogger("push", &f.level)
	f.handle = fn.Logged(f.log, fn.Only(func(ctx context.Context, e event.Event) (*event.Event, error) {
		d := f.deps.Load()
		if d == nil {
			return nil, fn.Unavailable("push: not started")
		}
		return nil, f.stored(ctx, d, e)
	}, events.TypeMessageStored))
	return f
}

// Start reads the configuration and connects to MongoDB and Redis.
func (f *Function) Start(ctx context.Context, m map[string]string) error {
	var c config
	if err := fn.Load(m, &c); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	f.level.Set(c.LogLevel)
	vapid, err := parseVAPID(c.VAPIDPrivateKey, c.VAPIDSubject)
	if err != nil {
		return fmt.Errorf("push: config: %w", err)
	}
	endpoints, err := pushsubs.ParseEndpoints(c.Endpoints)
	if err != nil {
		return fmt.Errorf("push: config: PUSH_ENDPOINTS: %w", err)
	}
	ropt, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return fmt.Errorf("push: config: REDIS_URL: %w", err)
	}
	db, err := store.OpenMongo(c.MongoURI, c.Database, "agentchat-push")
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	rdb := redis.NewClient(ropt)
	f.deps.Store(&deps{
		subs:      pushsubs.NewMongo(db.DB),
		presence:  presence.NewRedis(rdb, c.RedisPrefix),
		seen:      seen.NewRedis(rdb, c.RedisPrefix, 0),
		bursts:    newRedisBursts(rdb, c.RedisPrefix),
		sender:    newWebPush(vapid, c.TTL, c.Timeout),
		endpoints: endpoints,
		window:    c.Window,
		ping: func(ctx context.Context) error {
			if err := rdb.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("push: ping redis: %w", err)
			}
			return db.Ping(ctx)
		},
		close: func(ctx context.Context) error {
			_ = rdb.Close()
			return db.Close(ctx)
		},
	})
	f.log.Info("push: started", "window", c.Window, "endpoints", len(endpoints))
	return nil
}

// vapid is the application server's identity.
type vapid struct {
	private, public string // base64url, as webpush-go takes them
	subject         string
}

// parseVAPID checks the private key and derives its public key.
func parseVAPID(private, subject string) (vapid, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(private, "="))
	if err != nil {
		return vapid{}, fmt.Errorf("VAPID_PRIVATE_KEY: not base64url")
	}
	k, err := ecdh.P256().NewPrivateKey(raw)
	if err != nil {
		return vapid{}, fmt.Errorf("VAPID_PRIVATE_KEY: not a P-256 private key (32 bytes, base64url)")
	}
	if !strings.HasPrefix(subject, "mailto:") && !strings.HasPrefix(subject, "https://") {
		return vapid{}, fmt.Errorf("VAPID_SUBJECT: a mailto: or https:// URL")
	}
	return vapid{
		private: base64.RawURLEncoding.EncodeToString(raw),
		public:  base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
		subject: subject,
	}, nil
}

// Handle serves one event delivered over HTTP by a Trigger with
// HandleEvent (fn.Serve says why not through func-go's cloudevents
// runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { fn.Serve(w, r, f.HandleEvent) }

// HandleEvent handles one io.agentchat.message.stored.
func (f *Function) HandleEvent(ctx context.Context, e event.Event) (*event.Event, error) {
	return f.handle(ctx, e)
}

// Stop disconnects.
func (f *Function) Stop(ctx context.Context) error {
	d := f.deps.Swap(nil)
	if d == nil || d.close == nil {
		return nil
	}
	return d.close(ctx)
}

// Ready is true once Start has finished and MongoDB and Redis answer.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	d := f.deps.Load()
	if d == nil {
		return false, nil
	}
	if d.ping != nil {
		if err := d.ping(ctx); err != nil {
			return false, err
		}
	}
	return true, nil
}

// Alive is true while the process runs.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }
