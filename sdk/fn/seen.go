package fn

import (
	"hash/maphash"
	"sync"
)

// seenIDs remembers which events (by CloudEvents identity: source and id)
// this process was given recently, so that Serve can count redeliveries:
// neither Knative's brokers nor the local one say which attempt a
// delivery is. It keeps a 64-bit hash of each key rather than the key
// (8 bytes instead of some 70; a false "seen" takes a collision among
// ~10^5 hashes, odds of about 1 in 10^14 an event) in two generations of
// up to per keys: when the current one is full it becomes the previous
// one and the older is dropped. So it remembers at least the last per
// events, and forgets older ones: a redelivery that comes after more than
// per other events is not counted.
type seenIDs struct {
	seed maphash.Seed
	per  int

	mu        sync.Mutex
	cur, prev map[uint64]struct{}
}

func newSeenIDs(per int) *seenIDs {
	return &seenIDs{seed: maphash.MakeSeed(), per: per, cur: make(map[uint64]struct{})}
}

// seen records the event (source, id) and reports whether it was
// recorded before.
func (s *seenIDs) seen(source, id string) bool {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(source)
	h.WriteByte(0) // source "a", id "bc" is not source "ab", id "c"
	h.WriteString(id)
	k := h.Sum64()

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cur[k]; ok {
		return true
	}
	_, before := s.prev[k]
	if len(s.cur) >= s.per {
		s.prev, s.cur = s.cur, make(map[uint64]struct{}, s.per)
	}
	s.cur[k] = struct{}{} // seen again: kept for another generation
	return before
}
