package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/audit"
	"github.com/agentchat/agentchat/store/deadletters"
	"github.com/agentchat/agentchat/store/directory"
	"github.com/agentchat/agentchat/store/pushsubs"
	"github.com/agentchat/agentchat/store/usage"

	"function/internal/password"
	"function/internal/ratelimit"
	"function/internal/refreshstore"
	"function/internal/token"
)

// service is a started accounts: its clients and its HTTP handler.
type service struct {
	cfg   Config
	log   *slog.Logger
	mongo *store.Mongo
	dir   *directory.Mongo
	// keys answers the key directory every sender and reader of a
	// conversation fetches — in a group of 1,024 that is up to 1,024
	// users' devices, asked for by every member at once when a message
	// arrives; one read of MongoDB serves them all (directory.Cached
	// coalesces and keeps it), and announceDevice drops a user's devices
	// on every replica the moment they change.
	keys    *directory.Cached
	unshare func() // ends keys' Redis subscription; nil without Redis
	tokens  *refreshstore.Store
	audit   audit.Log         // the admin API's audit log (admin.go)
	letters deadletters.Store // what the deadletter function stored (admin_deadletters.go)
	usage   usage.Store       // agents' token usage, recorded by agent-invoke (usage.go)
	changes fn.Sink           // the broker: change events, dead-letter replays; nil without K_SINK
	// pushSubs are the devices' Web Push subscriptions (push.go), which
	// may point at pushEndpoints only.
	pushSubs      pushsubs.Store
	pushEndpoints pushsubs.Endpoints
	redis         *redis.Client // nil without REDIS_URL
	limiter       ratelimit.Limiter
	signer        *token.Signer
	hasher        *password.Hasher
	now           func() time.Time
	handler       http.Handler
}

func open(ctx context.Context, c Config, log *slog.Logger) (*service, error) {
	keys, err := signingKeys(c, log)
	if err != nil {
		return nil, err
	}
	signer, err := token.NewSigner(keys, c.AccessTokenTTL)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	hasher, err := password.NewHasher(password.Default, max(2, runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	s := &service{cfg: c, log: log, signer: signer, hasher: hasher, now: time.Now}
	if s.pushEndpoints, err = pushsubs.ParseEndpoints(c.PushEndpoints); err != nil {
		return nil, fmt.Errorf("accounts: config: PUSH_ENDPOINTS: %w", err)
	}
	if err := checkVAPIDPublicKey(c.VAPIDPublicKey); err != nil {
		return nil, fmt.Errorf("accounts: config: VAPID_PUBLIC_KEY: %w", err)
	}
	if s.mongo, err = store.OpenMongo(c.MongoURI, c.MongoDatabase, "accounts"); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	s.dir, s.tokens = directory.NewMongo(s.mongo), refreshstore.New(s.mongo)
	s.pushSubs = pushsubs.NewMongo(s.mongo.DB)
	auditLog, letters := audit.NewMongo(s.mongo), deadletters.NewMongo(s.mongo)
	s.audit, s.letters = auditLog, letters
	if err := ensureIndexes(ctx, log, s.dir.EnsureIndexes, s.tokens.EnsureIndexes, auditLog.EnsureIndexes, letters.EnsureIndexes); err != nil {
		s.mongo.Close(context.Background())
		return nil, fmt.Errorf("accounts: mongo: %w", err)
	}
	if s.usage, err = usage.NewMongo(ctx, s.mongo.DB); err != nil {
		s.mongo.Close(context.Background())
		return nil, fmt.Errorf("accounts: %w", err)
	}
	if c.Sink == "" {
		log.Warn("accounts: K_SINK not set: no change events (persist and route notice changes only when their caches expire)")
	} else if s.changes, err = fn.NewSink("accounts", c.Sink); err != nil {
		s.mongo.Close(context.Background())
		return nil, err
	}
	if c.RedisURL == "" {
		log.Warn("accounts: REDIS_URL not set: login rate limits are per process (not shared by replicas)")
		s.limiter = ratelimit.NewMemory()
	} else {
		opt, err := redis.ParseURL(c.RedisURL)
		if err != nil {
			s.mongo.Close(context.Background())
			return nil, fmt.Errorf("accounts: REDIS_URL: %w", err)
		}
		s.redis = redis.NewClient(opt)
		s.limiter = ratelimit.NewRedis(s.redis, c.RedisPrefix+"accounts:ratelimit:")
	}
	s.keys = directory.NewCached(s.dir, c.DeviceCacheTTL)
	if s.redis != nil {
		if s.unshare, err = s.keys.Share(ctx, directory.NewRedisBroadcast(s.redis, c.RedisPrefix)); err != nil {
			s.redis.Close()
			s.mongo.Close(context.Background())
			return nil, fmt.Errorf("accounts: %w", err)
		}
	}
	s.handler = s.routes()
	return s, nil
}

// signingKeys parses the configured keys, or makes an ephemeral one: tokens
// it signs die with the process and differ between replicas.
func signingKeys(c Config, log *slog.Logger) ([]token.Key, error) {
	if c.SigningKeys != "" {
		keys, err := token.ParseKeys(c.SigningKeys)
		if err != nil {
			return nil, fmt.Errorf("accounts: ACCOUNTS_SIGNING_KEYS: %w", err)
		}
		return keys, nil
	}
	k, err := token.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	log.Warn("accounts: ACCOUNTS_SIGNING_KEYS not set: signing with an ephemeral key (development only)", "kid", k.ID)
	return []token.Key{k}, nil
}

// ensureIndexes retries while MongoDB is still coming up (a function and
// its database often start together) until ctx ends.
func ensureIndexes(ctx context.Context, log *slog.Logger, ensure ...func(context.Context) error) error {
	for delay := 200 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		var err error
		for _, e := range ensure {
			if err = e(ctx); err != nil {
				break
			}
		}
		if err == nil {
			return nil
		}
		log.Warn("accounts: mongo not ready, retrying", "err", err)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(delay):
		}
	}
}

func (s *service) ping(ctx context.Context) error {
	if err := s.mongo.Ping(ctx); err != nil {
		return err
	}
	if s.redis != nil {
		if err := s.redis.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("accounts: redis ping: %w", err)
		}
	}
	return nil
}

func (s *service) close(ctx context.Context) error {
	var errs []error
	if s.unshare != nil {
		s.unshare()
	}
	if s.redis != nil {
		errs = append(errs, s.redis.Close())
	}
	errs = append(errs, s.mongo.Close(ctx))
	return errors.Join(errs...)
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }
