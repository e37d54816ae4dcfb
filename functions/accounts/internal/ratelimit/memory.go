package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Memory is a Limiter for one process: what accounts uses without Redis.
// With several replicas each counts on its own, so the effective limit is
// multiplied by the replica count.
type Memory struct {
	mu       sync.Mutex
	counters map[string]*counter
	now      func() time.Time
}

type counter struct {
	n       int
	expires time.Time
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an empty in-process Limiter.
func NewMemory() *Memory {
	return &Memory{counters: map[string]*counter{}, now: time.Now}
}

func (l *Memory) Take(_ context.Context, key string, rule Rule) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	c := l.counters[key]
	if c == nil || !now.Before(c.expires) {
		c = &counter{expires: now.Add(rule.Window)}
		l.counters[key] = c
	}
	c.n++
	if c.n <= rule.Limit {
		return 0, nil
	}
	return c.expires.Sub(now), nil
}

func (l *Memory) Forgive(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.counters[key]; c != nil && c.n > 0 {
		c.n--
	}
	return nil
}

func (l *Memory) Reset(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.counters, key)
	return nil
}

// sweep drops expired counters once the map has grown, so that a flood of
// distinct keys cannot grow it without bound. Caller holds l.mu.
func (l *Memory) sweep(now time.Time) {
	if len(l.counters) < 10000 {
		return
	}
	for k, c := range l.counters {
		if !now.Before(c.expires) {
			delete(l.counters, k)
		}
	}
}
