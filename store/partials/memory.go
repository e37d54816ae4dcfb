package partials

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// Memory is the in-memory twin of Redis, with TTLs on Now. Safe for
// concurrent use.
type Memory struct {
	// Now is the clock of TTLs; default time.Now. Set it before first use.
	Now func() time.Time

	limits  Limits
	mu      sync.Mutex
	answers map[Key]*memAnswer
}

type memAnswer struct {
	partials map[int][]byte
	status   []byte
	statusAt int // the status's index
	bytes    int
	done     bool
	expires  time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory is an empty store within limits (zero fields: DefaultLimits).
func NewMemory(limits Limits) *Memory {
	return &Memory{limits: limits.orDefault(), answers: make(map[Key]*memAnswer)}
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// get returns k's live answer, or nil; m.mu held.
func (m *Memory) get(k Key) *memAnswer {
	a := m.answers[k]
	if a != nil && !m.now().Before(a.expires) {
		delete(m.answers, k)
		return nil
	}
	return a
}

// Keep is Redis.Keep.
func (m *Memory) Keep(_ context.Context, k Key, index int, record []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.get(k)
	if a == nil {
		a = &memAnswer{partials: make(map[int][]byte)}
		m.answers[k] = a
	}
	switch {
	case a.done:
		return false, nil
	case has(a.partials, index):
		return true, nil
	case len(a.partials)+1 > m.limits.MaxPartials || a.bytes+len(record) > m.limits.MaxBytes:
		if len(a.partials) == 0 {
			delete(m.answers, k)
		}
		return false, nil
	}
	a.partials[index] = slices.Clone(record)
	a.bytes += len(record)
	a.expires = m.now().Add(m.limits.TTL)
	return true, nil
}

// KeepStatus is Redis.KeepStatus.
func (m *Memory) KeepStatus(_ context.Context, k Key, index int, record []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.get(k)
	if a == nil {
		a = &memAnswer{partials: make(map[int][]byte)}
		m.answers[k] = a
	}
	if a.done || (a.status != nil && a.statusAt >= index) || len(record) > m.limits.MaxBytes {
		if len(a.partials) == 0 && a.status == nil && !a.done {
			delete(m.answers, k)
		}
		return false, nil
	}
	a.status, a.statusAt = slices.Clone(record), index
	a.expires = m.now().Add(m.limits.TTL)
	return true, nil
}

// Finish is Redis.Finish.
func (m *Memory) Finish(_ context.Context, k Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.answers[k] = &memAnswer{done: true, expires: m.now().Add(m.limits.TTL)}
	return nil
}

// InProgress is Redis.InProgress.
func (m *Memory) InProgress(_ context.Context, conversations []string) ([]Answer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Answer
	for _, c := range conversations {
		var here []Answer
		for k := range m.answers {
			a := m.get(k)
			if k.Conversation != c || a == nil || a.done || (len(a.partials) == 0 && a.status == nil) {
				continue
			}
			ans := Answer{Key: k, Status: slices.Clone(a.status)}
			for i, r := range a.partials {
				ans.Partials = append(ans.Partials, Partial{Index: i, Record: slices.Clone(r)})
			}
			slices.SortFunc(ans.Partials, func(x, y Partial) int { return cmp.Compare(x.Index, y.Index) })
			here = append(here, ans)
		}
		slices.SortFunc(here, func(a, b Answer) int {
			return cmp.Or(cmp.Compare(a.Agent, b.Agent), cmp.Compare(a.ReplyTo, b.ReplyTo))
		})
		out = append(out, here...)
	}
	return out, nil
}

func has(m map[int][]byte, i int) bool { _, ok := m[i]; return ok }
