package usage

import (
	"cmp"
	"context"
	"slices"
	"sync"
)

// Memory is the in-memory twin of Mongo, for tests of the functions that
// use a Store; the same suite checks both.
type Memory struct {
	mu     sync.Mutex
	turns  map[string]Turn
	totals map[Counter]int64
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Store.
func NewMemory() *Memory {
	return &Memory{turns: map[string]Turn{}, totals: map[Counter]int64{}}
}

func (m *Memory) Record(_ context.Context, t Turn, counters ...Counter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.turns[t.ID()]; ok {
		return nil
	}
	m.turns[t.ID()] = t
	if t.Reported {
		for _, c := range counters {
			m.totals[c] += t.Tokens()
		}
	}
	return nil
}

func (m *Memory) Total(_ context.Context, c Counter) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.totals[c], nil
}

func (m *Memory) Turns(_ context.Context, conversation string, limit int) ([]Turn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if limit <= 0 {
		return nil, nil
	}
	var out []Turn
	for _, t := range m.turns {
		if t.Conversation == conversation {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Turn) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Agent, b.Agent), cmp.Compare(a.Step, b.Step))
	})
	return out[:min(len(out), limit)], nil
}
