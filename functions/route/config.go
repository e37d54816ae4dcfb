package function

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// config is what Start reads from func's config map (fn.Load: the
// environment merged with ./cfg, so that several instances in one test
// process can use different databases, prefixes and sinks; an empty
// value means the default).
type config struct {
	MongoURI    string `env:"MONGODB_URI" required:"true"`
	Database    string `env:"MONGODB_DATABASE" default:"agentchat"`
	RedisURL    string `env:"REDIS_URL" required:"true"` // redis://host:port/db
	RedisPrefix string `env:"REDIS_PREFIX"`              // default events.DefaultRedisPrefix
	// Sink is the broker (K_SINK), for agent invokes; unset: no invokes.
	Sink string `env:"K_SINK"`
	// CacheTTL is how long the directory cache that routes receipts,
	// typing and agent activity, and answers a sync's membership check,
	// keeps an entry before refreshing it (cache.go): only a backstop,
	// for a change event that was lost or whose broadcast to the other
	// replicas of route (store/directory.Broadcast) was missed. After a
	// member is removed or a device revoked, such an event may go on
	// reaching them, and a removed member's syncs be answered, for at most
	// twice this long (an expired entry is answered while a read in the
	// background refreshes it).
	CacheTTL time.Duration `env:"MEMBERSHIP_CACHE_TTL" default:"10s" min:"0" max:"1m"`
	LogLevel slog.Level    `env:"LOG_LEVEL" default:"INFO"`
}

func configFrom(m map[string]string) (config, error) {
	var c config
	if err := fn.Load(m, &c); err != nil {
		return c, fmt.Errorf("route: %w", err)
	}
	c.RedisPrefix = cmp.Or(c.RedisPrefix, events.DefaultRedisPrefix)
	return c, nil
}
