// Package ratelimit counts attempts per key in fixed windows; accounts uses
// it to slow password guessing per username and per client address.
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rule allows Limit attempts per key in each Window.
type Rule struct {
	Limit  int
	Window time.Duration
}

// Limiter counts attempts per key. Take is atomic: under any concurrency at
// most rule.Limit calls in one window return 0. Counts may be lost when the
// backing store restarts (a limiter fails open rather than locking everyone
// out).
type Limiter interface {
	// Take counts one attempt for key and returns how long the caller must
	// wait when the key is over its limit, or 0 when the attempt may go on.
	Take(ctx context.Context, key string, rule Rule) (time.Duration, error)
	// Forgive takes back one attempt (it turned out to be a success).
	Forgive(ctx context.Context, key string) error
	// Reset forgets key's attempts.
	Reset(ctx context.Context, key string) error
}

// ParseRule reads "N/duration", e.g. "5/5m".
func ParseRule(s string) (Rule, error) {
	n, d, ok := strings.Cut(strings.TrimSpace(s), "/")
	limit, err1 := strconv.Atoi(n)
	window, err2 := time.ParseDuration(d)
	if !ok || err1 != nil || err2 != nil || limit < 1 || window < time.Second {
		return Rule{}, fmt.Errorf("ratelimit: rule %q: want N/duration, e.g. 5/5m", s)
	}
	return Rule{Limit: limit, Window: window}, nil
}

func (r Rule) String() string { return fmt.Sprintf("%d/%s", r.Limit, r.Window) }
