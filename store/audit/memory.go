package audit

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/agentchat/agentchat/store"
)

// Memory is the Log's in-memory twin, for unit tests: the same contract
// (the suite checks both), including millisecond UTC times.
type Memory struct {
	mu      sync.Mutex
	entries map[string]Entry
}

var _ Log = (*Memory)(nil)

// NewMemory returns an empty log.
func NewMemory() *Memory { return &Memory{entries: map[string]Entry{}} }

func (m *Memory) Begin(ctx context.Context, e Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[e.ID]; ok {
		return store.ErrDuplicate
	}
	e.At, e.Outcome, e.FinishedAt = storedTime(e.At), Pending, time.Time{}
	m.entries[e.ID] = e
	return nil
}

func (m *Memory) Finish(ctx context.Context, id, outcome string, status int, detail string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[id]
	if !ok {
		return store.ErrNotFound
	}
	if e.Outcome == Pending {
		e.Outcome, e.Status, e.Detail, e.FinishedAt = outcome, status, detail, storedTime(at)
		m.entries[id] = e
	}
	return nil
}

func (m *Memory) Deny(ctx context.Context, e Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e = denied(e)
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.entries[e.ID]; ok {
		old.Attempts++
		if e.At.After(old.FinishedAt) {
			old.FinishedAt = e.At
		}
		e = old
	}
	m.entries[e.ID] = e
	return nil
}

func (m *Memory) List(ctx context.Context, q Query) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	before := Cursor{At: storedTime(q.Before.At), ID: q.Before.ID}
	if q.Before.At.IsZero() {
		before.At = time.Time{}
	}
	out := []Entry{}
	for _, e := range m.entries {
		if (q.Actor == "" || e.Actor == q.Actor) && (q.Target == "" || e.Target == q.Target) &&
			(q.Action == "" || e.Action == q.Action) && older(e, before) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Or(b.At.Compare(a.At), cmp.Compare(b.ID, a.ID)) })
	return out[:min(len(out), max(1, q.Limit))], nil
}
