package function

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
)

// config is what Start reads. func hands Start one map, its ./cfg file
// merged with the process environment, so config is read from that map
// rather than from os.Getenv: several instances in one test process can
// then use different databases, prefixes and sinks. Empty values mean
// "default" (a ConfigMap key that is present but empty arrives empty).
type config struct {
	MongoURI    string // MONGODB_URI, required
	Database    string // MONGODB_DATABASE, default "agentchat"
	RedisURL    string // REDIS_URL (redis://host:port/db), required
	RedisPrefix string // REDIS_PREFIX, default events.DefaultRedisPrefix
	Sink        string // K_SINK: the broker, for agent invokes; unset = no invokes
	// CacheTTL (MEMBERSHIP_CACHE_TTL, default 10s, at most 1m, 0 = off)
	// is how long the directory cache that routes receipts, typing and
	// agent activity keeps an entry: a backstop for a lost change event
	// (cache.go).
	CacheTTL time.Duration
	LogLevel slog.Level // LOG_LEVEL: DEBUG, INFO (default), WARN or ERROR
}

func configFrom(m map[string]string) (config, error) {
	c := config{
		MongoURI:    m["MONGODB_URI"],
		Database:    cmp.Or(m["MONGODB_DATABASE"], "agentchat"),
		RedisURL:    m["REDIS_URL"],
		RedisPrefix: cmp.Or(m["REDIS_PREFIX"], events.DefaultRedisPrefix),
		Sink:        m["K_SINK"],
	}
	switch {
	case c.MongoURI == "":
		return c, fmt.Errorf("route: config: MONGODB_URI is required")
	case c.RedisURL == "":
		return c, fmt.Errorf("route: config: REDIS_URL is required")
	}
	ttl, err := time.ParseDuration(cmp.Or(m["MEMBERSHIP_CACHE_TTL"], DefaultAudienceTTL.String()))
	if err != nil || ttl < 0 || ttl > MaxAudienceTTL {
		return c, fmt.Errorf("route: config: MEMBERSHIP_CACHE_TTL %q: want a duration from 0 to %s", m["MEMBERSHIP_CACHE_TTL"], MaxAudienceTTL)
	}
	c.CacheTTL = ttl
	if err := c.LogLevel.UnmarshalText([]byte(cmp.Or(m["LOG_LEVEL"], "INFO"))); err != nil {
		return c, fmt.Errorf("route: config: LOG_LEVEL: %w", err)
	}
	return c, nil
}

// newLogger logs JSON to stderr: ids, types and counts only, never an
// envelope or anything else a client sent as content.
func newLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("function", "route")
}
