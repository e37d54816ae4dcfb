package userlimit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Memory is the in-memory twin of Redis, for tests and a single process:
// the same buckets and arithmetic (TATs in microseconds of Now). Safe for
// concurrent use. Full buckets are forgotten, so it holds only users who
// sent recently.
type Memory struct {
	// Now is the clock; default time.Now. Set it before first use.
	Now func() time.Time

	mu   sync.Mutex
	tats map[string]int64 // Key("", kind, user) → TAT (µs)
}

var _ Limiter = (*Memory)(nil)

// NewMemory is a limiter with every bucket full.
func NewMemory() *Memory { return &Memory{tats: make(map[string]int64)} }

// Take is Redis's script, under one lock.
func (m *Memory) Take(ctx context.Context, reqs []Request) ([]time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, q := range reqs {
		if !q.Rule.Valid() {
			return nil, fmt.Errorf("userlimit: take: invalid rule %v for %s", q.Rule, q.Kind)
		}
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := now().UnixMicro()
	if len(m.tats) > 10000 { // forget full buckets, as Redis expires them
		for k, tat := range m.tats {
			if tat <= t {
				delete(m.tats, k)
			}
		}
	}
	out := make([]time.Duration, len(reqs))
	for i, q := range reqs {
		k := Key("", q.Kind, q.User)
		interval := q.Rule.interval()
		after := max(m.tats[k], t) + interval
		if over := after - t - interval*int64(q.Rule.Burst); over > 0 {
			out[i] = time.Duration(over) * time.Microsecond
			continue
		}
		m.tats[k] = after
	}
	return out, nil
}
