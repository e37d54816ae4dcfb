package deadletters

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/agentchat/agentchat/store"
)

// Memory is the Store's in-memory twin, for unit tests: the same contract
// (the suite checks both), including millisecond UTC times. Everything it
// returns is a copy.
type Memory struct {
	mu        sync.Mutex
	letters   map[string]Letter
	retention time.Duration
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{letters: map[string]Letter{}, retention: DefaultRetention} }

// WithRetention is Mongo.WithRetention.
func (m *Memory) WithRetention(d time.Duration) *Memory {
	m.retention = max(d, time.Minute)
	return m
}

func (m *Memory) Put(ctx context.Context, l Letter) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	l = prepare(l, m.retention)
	l.Event = bytes.Clone(l.Event)
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.letters[l.ID]
	if !ok {
		m.letters[l.ID] = l
		return true, nil
	}
	if old.State == Replayed && old.ReplayedAt != nil && old.ReplayedAt.Before(l.DeadAt) {
		old.State, old.LastDeadAt, old.ExpireAt = Dead, l.DeadAt, l.ExpireAt
		old.ErrorDest, old.ErrorCode, old.ErrorData = l.ErrorDest, l.ErrorCode, l.ErrorData
		m.letters[l.ID] = old
	}
	return false, nil
}

func (m *Memory) Get(ctx context.Context, id string) (Letter, error) {
	if err := ctx.Err(); err != nil {
		return Letter{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.letters[id]
	if !ok {
		return Letter{}, store.ErrNotFound
	}
	return clone(l), nil
}

func (m *Memory) List(ctx context.Context, q Query) ([]Letter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	before := Cursor{ID: q.Before.ID}
	if !q.Before.DeadAt.IsZero() {
		before.DeadAt = storedTime(q.Before.DeadAt)
	}
	out := []Letter{}
	for _, l := range m.letters {
		if (q.State == "" || l.State == q.State) && (q.Type == "" || l.Type == q.Type) && older(l, before) {
			l = clone(l)
			l.Event = nil
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b Letter) int { return cmp.Or(b.DeadAt.Compare(a.DeadAt), cmp.Compare(b.ID, a.ID)) })
	return out[:min(len(out), max(1, q.Limit))], nil
}

func (m *Memory) MarkReplayed(ctx context.Context, id, by string, at time.Time) (Letter, error) {
	if err := ctx.Err(); err != nil {
		return Letter{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.letters[id]
	if !ok {
		return Letter{}, store.ErrNotFound
	}
	t := storedTime(at)
	l.State, l.ReplayedAt, l.ReplayedBy, l.Replays = Replayed, &t, by, l.Replays+1
	m.letters[id] = l
	return clone(l), nil
}

func (m *Memory) Expire(ctx context.Context, now time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for id, l := range m.letters {
		if !l.ExpireAt.After(now) {
			delete(m.letters, id)
			n++
		}
	}
	return n, nil
}

func clone(l Letter) Letter {
	l.Event = bytes.Clone(l.Event)
	if l.ReplayedAt != nil {
		t := *l.ReplayedAt
		l.ReplayedAt = &t
	}
	return l
}
