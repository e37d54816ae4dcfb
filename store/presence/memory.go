package presence

import (
	"context"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
)

// Memory is the in-memory twin of Redis, for tests: the same records (in
// FormatRecord's format), TTLs on the wall clock (Now), stamps from that
// clock in microseconds. Safe for concurrent use. Raw, SetRaw and Revoke
// play what only tests do to Redis directly (read a record, lose or plant
// one, mark a device revoked as accounts does).
type Memory struct {
	// Now is the clock of stamps and TTLs; default time.Now. Set it before
	// first use.
	Now func() time.Time

	mu      sync.Mutex
	records map[events.DeviceRef]memRecord
	revoked map[events.DeviceRef]time.Time // until
	// suspended users, until (events.SuspendedKey)
	suspended map[string]time.Time
	// last is the clock's last reading in stamps: the next is above it
	// even within one microsecond (Redis's clock moves on between two
	// round trips).
	last uint64
}

type memRecord struct {
	value   string
	expires time.Time
}

var (
	_ Store    = (*Memory)(nil)
	_ Registry = (*memRegistry)(nil)
)

// NewMemory is an empty presence store.
func NewMemory() *Memory {
	return &Memory{records: make(map[events.DeviceRef]memRecord), revoked: make(map[events.DeviceRef]time.Time),
		suspended: make(map[string]time.Time)}
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// get returns dev's live record; m.mu held.
func (m *Memory) get(dev events.DeviceRef) (string, bool) {
	r, ok := m.records[dev]
	if !ok {
		return "", false
	}
	if !m.now().Before(r.expires) {
		delete(m.records, dev)
		return "", false
	}
	return r.value, true
}

// set writes dev's record for TTL; m.mu held.
func (m *Memory) set(dev events.DeviceRef, value string) {
	m.records[dev] = memRecord{value: value, expires: m.now().Add(TTL)}
}

// Raw returns dev's record and the time it has left ("" and 0 if none).
func (m *Memory) Raw(dev events.DeviceRef) (string, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.get(dev)
	if !ok {
		return "", 0
	}
	return v, m.records[dev].expires.Sub(m.now())
}

// SetRaw writes value as dev's record for ttl, or removes the record if
// value is "" (what a Redis restart does to it).
func (m *Memory) SetRaw(dev events.DeviceRef, value string, ttl time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if value == "" {
		delete(m.records, dev)
		return
	}
	m.records[dev] = memRecord{value: value, expires: m.now().Add(ttl)}
}

// Revoke marks dev revoked for ttl, as accounts does (events.RevokedKey).
func (m *Memory) Revoke(dev events.DeviceRef, ttl time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revoked[dev] = m.now().Add(ttl)
}

// Suspend marks user suspended for ttl, as accounts does
// (events.SuspendedKey); a ttl of 0 lifts the suspension.
func (m *Memory) Suspend(user string, ttl time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ttl <= 0 {
		delete(m.suspended, user)
		return
	}
	m.suspended[user] = m.now().Add(ttl)
}

// Connector is the Registry of connector id.
func (m *Memory) Connector(id string) Registry { return &memRegistry{m: m, id: id} }

// Locate reads the live records.
func (m *Memory) Locate(_ context.Context, devices []events.DeviceRef) (map[string][]events.DeviceRef, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	where := make(map[string][]events.DeviceRef)
	for _, d := range devices {
		if v, ok := m.get(d); ok {
			if connector, _ := ParseRecord(v); connector != "" {
				where[connector] = append(where[connector], d)
			}
		}
	}
	return where, nil
}

type memRegistry struct {
	m  *Memory
	id string
}

func recordStamp(v string) uint64 { _, s := ParseRecord(v); return s }

func (p *memRegistry) Admit(ctx context.Context, dev events.DeviceRef) (Admission, error) {
	if err := ctx.Err(); err != nil {
		return Admission{}, err
	}
	m := p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.last = max(uint64(now.UnixMicro()), m.last+1)
	stamp := m.last
	if v, ok := m.get(dev); ok {
		if s := recordStamp(v); s >= stamp {
			stamp = s + 1
		}
	}
	until, revoked := m.revoked[dev]
	if revoked && !now.Before(until) {
		delete(m.revoked, dev)
		revoked = false
	}
	until, suspended := m.suspended[dev.User]
	if suspended && !now.Before(until) {
		delete(m.suspended, dev.User)
		suspended = false
	}
	return Admission{Revoked: revoked, Suspended: suspended, Stamp: stamp}, nil
}

func (p *memRegistry) Claim(ctx context.Context, dev events.DeviceRef, stamp uint64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m := p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	mine := FormatRecord(p.id, stamp)
	if v, ok := m.get(dev); ok && v != mine && recordStamp(v) > stamp {
		return false, nil
	}
	m.set(dev, mine)
	return true, nil
}

func (p *memRegistry) Refresh(ctx context.Context, held []Held) ([]Held, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	var lost []Held
	for _, h := range held {
		mine := FormatRecord(p.id, h.Stamp)
		if v, ok := m.get(h.Dev); ok && v != mine && recordStamp(v) >= h.Stamp {
			lost = append(lost, h)
			continue
		}
		m.set(h.Dev, mine)
	}
	return lost, nil
}

func (p *memRegistry) Release(ctx context.Context, held []Held) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m := p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range held {
		if v, ok := m.get(h.Dev); ok && v == FormatRecord(p.id, h.Stamp) {
			delete(m.records, h.Dev)
		}
	}
	return nil
}
