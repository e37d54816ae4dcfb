package connector

import "sync"

// recent remembers the last n keys it was asked about, so a delivery that
// arrives twice (route and the broker are at-least-once) reaches a socket
// once. It is bounded (a ring), so it forgets old keys: a very late
// duplicate can get through, and clients drop those by (conversation, seq).
type recent struct {
	mu   sync.Mutex
	set  map[dedupeKey]int // key → its slot in ring
	ring []dedupeKey
	next int
}

// dedupeKey names one frame for one socket: a message by its seq, a
// stored by the client message id it acknowledges.
type dedupeKey struct {
	serial       uint64
	conversation string
	seq          int64
	id           string
	typ          string
}

func newRecent(n int) *recent {
	return &recent{set: make(map[dedupeKey]int, n), ring: make([]dedupeKey, n)}
}

// firstTime records k and reports whether it was new.
func (r *recent) firstTime(k dedupeKey) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.set[k]; seen {
		return false
	}
	// The slot's old key leaves the set, unless it was forgotten and
	// recorded again since (then it lives in a newer slot).
	if old := r.ring[r.next]; old != (dedupeKey{}) && r.set[old] == r.next {
		delete(r.set, old)
	}
	r.ring[r.next] = k
	r.set[k] = r.next
	r.next = (r.next + 1) % len(r.ring)
	return true
}

// forget makes k new again: the next firstTime(k) reports true.
func (r *recent) forget(k dedupeKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.set, k)
}
