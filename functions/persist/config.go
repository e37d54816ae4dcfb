package function

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// config is what Start reads. func hands Start one map, its ./cfg file
// merged with the process environment, so config is read from that map
// rather than from os.Getenv: several instances in one test process can
// then point at different databases. Empty values mean "default" (a
// ConfigMap key that is present but empty arrives as an empty variable).
type config struct {
	MongoURI string     // MONGODB_URI, required
	Database string     // MONGODB_DATABASE, default "agentchat"
	LogLevel slog.Level // LOG_LEVEL: DEBUG, INFO (default), WARN or ERROR
	// CacheTTL (MEMBERSHIP_CACHE_TTL, default 10s, at most 1m, 0 = off)
	// is how long persist keeps a conversation's members and users'
	// devices in memory (store/directory.Cached, kept current by accounts'
	// change events): the backstop for a lost event. A refusal is always
	// checked against a fresh read.
	CacheTTL time.Duration
	// CursorLinger (CURSOR_LINGER, default 5ms, at most 100ms, 0 = none) is
	// how long a receipt's cursor write that starts alone waits for other
	// receipts of the same member to share it (messages.GroupCommit).
	CursorLinger time.Duration
}

// MEMBERSHIP_CACHE_TTL: the default and the cap. After a member is
// removed or a device revoked, and the change event lost, persist may go
// on accepting their messages and receipts for at most this long.
const (
	DefaultDirectoryTTL = 10 * time.Second
	MaxDirectoryTTL     = time.Minute
)

// Cursor linger: the default and the cap.
const (
	DefaultCursorLinger = 5 * time.Millisecond
	MaxCursorLinger     = 100 * time.Millisecond
)

func configFrom(m map[string]string) (config, error) {
	c := config{MongoURI: m["MONGODB_URI"], Database: cmp.Or(m["MONGODB_DATABASE"], "agentchat")}
	if c.MongoURI == "" {
		return c, fmt.Errorf("persist: config: MONGODB_URI is required")
	}
	ttl, err := time.ParseDuration(cmp.Or(m["MEMBERSHIP_CACHE_TTL"], DefaultDirectoryTTL.String()))
	if err != nil || ttl < 0 || ttl > MaxDirectoryTTL {
		return c, fmt.Errorf("persist: config: MEMBERSHIP_CACHE_TTL %q: want a duration from 0 to %s", m["MEMBERSHIP_CACHE_TTL"], MaxDirectoryTTL)
	}
	c.CacheTTL = ttl
	linger, err := time.ParseDuration(cmp.Or(m["CURSOR_LINGER"], DefaultCursorLinger.String()))
	if err != nil || linger < 0 || linger > MaxCursorLinger {
		return c, fmt.Errorf("persist: config: CURSOR_LINGER %q: want a duration from 0 to %s", m["CURSOR_LINGER"], MaxCursorLinger)
	}
	c.CursorLinger = linger
	if err := c.LogLevel.UnmarshalText([]byte(cmp.Or(m["LOG_LEVEL"], "INFO"))); err != nil {
		return c, fmt.Errorf("persist: config: LOG_LEVEL: %w", err)
	}
	return c, nil
}

// newLogger logs JSON to stderr: ids, codes and counts only, never an
// envelope or anything else a client sent as content.
func newLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("function", "persist")
}
