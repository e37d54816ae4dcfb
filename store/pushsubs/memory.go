package pushsubs

import (
	"context"
	"sync"
)

// Memory is the in-memory twin, for tests.
type Memory struct {
	mu   sync.Mutex
	subs map[string]Subscription
}

var _ Store = (*Memory)(nil)

// NewMemory is an empty Memory.
func NewMemory() *Memory { return &Memory{subs: map[string]Subscription{}} }

func (m *Memory) Put(_ context.Context, s Subscription) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.UpdatedAt = s.UpdatedAt.UTC()
	m.subs[s.Device] = s
	return nil
}

func (m *Memory) Delete(_ context.Context, device string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.subs, device)
	return nil
}

func (m *Memory) DeleteEndpoint(_ context.Context, device, endpoint string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subs[device].Endpoint == endpoint {
		delete(m.subs, device)
	}
	return nil
}

func (m *Memory) Get(_ context.Context, devices []string) ([]Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Subscription
	for _, d := range devices {
		if s, ok := m.subs[d]; ok {
			out = append(out, s)
		}
	}
	return out, nil
}
