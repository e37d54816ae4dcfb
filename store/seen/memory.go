package seen

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Memory is the in-memory twin of Redis, for tests: the same rules, on the
// clock Now (default time.Now). Safe for concurrent use.
type Memory struct {
	// Now is the clock of expiries and heartbeats; set it before first use.
	Now func() time.Time
	// TTL is how long a socket counts after its last refresh; 0: TTL.
	TTL time.Duration

	mu       sync.Mutex
	sockets  map[string]map[string]memSocket // user → member → socket
	lastSeen map[string]time.Time
}

type memSocket struct {
	device  string
	stamp   uint64
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory is an empty store.
func NewMemory() *Memory {
	return &Memory{sockets: make(map[string]map[string]memSocket), lastSeen: make(map[string]time.Time)}
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Memory) ttl() time.Duration {
	if m.TTL > 0 {
		return m.TTL
	}
	return TTL
}

// prune drops user's expired sockets (as the scripts that write do) and
// returns the rest; m.mu held.
func (m *Memory) prune(user string, now time.Time) map[string]memSocket {
	set := m.sockets[user]
	for k, s := range set {
		if !now.Before(s.expires) {
			delete(set, k)
		}
	}
	if len(set) == 0 {
		delete(m.sockets, user)
		return nil
	}
	return set
}

func (m *Memory) add(s Socket, now time.Time) {
	set := m.sockets[s.Dev.User]
	if set == nil {
		set = make(map[string]memSocket)
		m.sockets[s.Dev.User] = set
	}
	set[member(s)] = memSocket{device: s.Dev.Device, stamp: s.Stamp, expires: now.Add(m.ttl())}
}

func (m *Memory) Connected(ctx context.Context, s Socket) (bool, error) {
	if err := checkSocket(s); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	set := m.prune(s.Dev.User, now)
	before := len(set)
	for k, o := range set {
		if o.device != s.Dev.Device {
			continue
		}
		if o.stamp > s.Stamp {
			return false, nil
		}
		if o.stamp < s.Stamp {
			delete(set, k)
		}
	}
	m.add(s, now)
	return before == 0, nil
}

func (m *Memory) Refresh(ctx context.Context, sockets []Socket) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for _, s := range sockets {
		m.add(s, now)
	}
	return nil
}

func (m *Memory) Disconnected(ctx context.Context, s Socket, at time.Time) (bool, error) {
	if err := checkSocket(s); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sockets[s.Dev.User], member(s))
	if len(m.prune(s.Dev.User, m.now())) > 0 {
		return false, nil
	}
	// Redis keeps milliseconds.
	at = at.Truncate(time.Millisecond)
	if at.After(m.lastSeen[s.Dev.User]) {
		m.lastSeen[s.Dev.User] = at
	}
	return true, nil
}

func (m *Memory) States(ctx context.Context, users []string) (map[string]State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := make(map[string]State, len(users))
	for _, u := range users {
		var st State
		var heartbeat time.Time // the last of the expired sockets' (reading prunes nothing)
		for _, s := range m.sockets[u] {
			if now.Before(s.expires) {
				st.arrive(s.device, s.stamp)
			} else if hb := s.expires.Add(-m.ttl()); hb.After(heartbeat) {
				heartbeat = hb
			}
		}
		if t, ok := m.lastSeen[u]; ok {
			st.LastSeen = t
		}
		if len(st.Devices) == 0 && heartbeat.After(st.LastSeen) {
			st.LastSeen = heartbeat
		}
		if !st.LastSeen.IsZero() {
			st.LastSeen = st.LastSeen.Truncate(time.Millisecond).UTC()
		}
		if len(st.Devices) == 0 && st.LastSeen.IsZero() {
			continue
		}
		slices.Sort(st.Devices)
		st.Devices = slices.Compact(st.Devices)
		st.Online = len(st.Devices) > 0
		out[u] = st
	}
	return out, nil
}
