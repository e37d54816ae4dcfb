package connector

import "sync"

// recent remembers the last n keys it was asked about, so a delivery that
// arrives twice (route and the broker are at-least-once) reaches a socket
// once. It is bounded (a ring), so it forgets old keys: a very late
// duplicate can get through, and clients drop those by (conversation, seq).
type recent struct {
	mu   sync.Mutex
	set  map[dedupeKey]struct{}
	ring []dedupeKey
	next int
}

// dedupeKey names one seq-carrying frame for one socket.
type dedupeKey struct {
	serial       uint64
	conversation string
	seq          int64
	typ          string
}

func newRecent(n int) *recent {
	return &recent{set: make(map[dedupeKey]struct{}, n), ring: make([]dedupeKey, n)}
}

// firstTime records k and reports whether it was new.
func (r *recent) firstTime(k dedupeKey) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.set[k]; seen {
		return false
	}
	if old := r.ring[r.next]; old != (dedupeKey{}) {
		delete(r.set, old)
	}
	r.ring[r.next] = k
	r.next = (r.next + 1) % len(r.ring)
	r.set[k] = struct{}{}
	return true
}
