package deliveries

import (
	"context"
	"sync"
)

// Memory is the in-memory twin of Redis: Publish hands each connector's
// encoded delivery to the handlers subscribed to it, in the caller's
// goroutine, and drops it when none is (as pub/sub does).
type Memory struct {
	mu   sync.Mutex
	subs map[string]map[int]func(payload []byte)
	next int
}

var _ Publisher = (*Memory)(nil)

// NewMemory returns a twin with no subscribers.
func NewMemory() *Memory { return &Memory{subs: map[string]map[int]func([]byte){}} }

// Subscribe calls handle with every payload published to connector until
// the returned cancel is called.
func (m *Memory) Subscribe(connector string, handle func(payload []byte)) (cancel func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subs[connector] == nil {
		m.subs[connector] = map[int]func([]byte){}
	}
	id := m.next
	m.next++
	m.subs[connector][id] = handle
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.subs[connector], id)
	}
}

func (m *Memory) Publish(ctx context.Context, byConnector map[string]Delivery) error {
	type out struct {
		handles []func([]byte)
		payload []byte
	}
	var outs []out
	for connector, d := range traced(ctx, byConnector) {
		p, err := Encode(d)
		if err != nil {
			return err
		}
		m.mu.Lock()
		var hs []func([]byte)
		for _, h := range m.subs[connector] {
			hs = append(hs, h)
		}
		m.mu.Unlock()
		outs = append(outs, out{hs, p})
	}
	for _, o := range outs {
		for _, h := range o.handles {
			h(o.payload)
		}
	}
	return nil
}
