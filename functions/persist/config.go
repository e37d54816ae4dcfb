package function

import (
	"log/slog"
	"time"
)

// config is what Start reads from func's config map (fn.Load: the
// environment merged with ./cfg, so that several instances in one test
// process can point at different databases; an empty value means the
// default).
type config struct {
	MongoURI string     `env:"MONGODB_URI" required:"true"`
	Database string     `env:"MONGODB_DATABASE" default:"agentchat"`
	LogLevel slog.Level `env:"LOG_LEVEL" default:"INFO"`
	// RedisURL (redis://host:port/db), optional, is where the replicas of
	// persist share the directory changes each applies
	// (store/directory.Broadcast): a Trigger brings each change event to
	// one replica only. Unset: the others learn of it when their entry's
	// TTL ends (fine with one replica).
	RedisURL    string `env:"REDIS_URL"`
	RedisPrefix string `env:"REDIS_PREFIX"` // default events.DefaultRedisPrefix; must equal route's and the connector's
	// CacheTTL is how long persist keeps a conversation's members and
	// users' devices in memory (store/directory.Cached, kept current by
	// accounts' change events, shared among replicas with REDIS_URL): the
	// backstop for a lost event. After a
	// member is removed or a device revoked, and the change event lost,
	// persist may go on accepting their messages and receipts for at most
	// twice this long (an expired entry is answered while a read in the
	// background refreshes it). A refusal is always checked against a
	// fresh read.
	CacheTTL time.Duration `env:"MEMBERSHIP_CACHE_TTL" default:"10s" min:"0" max:"1m"`
	// CursorLinger is how long a receipt's cursor write that starts alone
	// waits for other receipts of the same member to share it
	// (messages.GroupCommit); 0: none.
	CursorLinger time.Duration `env:"CURSOR_LINGER" default:"5ms" min:"0" max:"100ms"`
}
