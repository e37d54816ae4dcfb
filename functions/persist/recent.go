package function

import (
	"sync"

	"github.com/agentchat/agentchat/store/messages"
)

// recentKeys remembers the seq of messages this instance stored or
// answered recently, by idempotency key. A resend (a client's outbox
// after a slow "stored", a broker redelivery) then costs one lookup by
// _id instead of a failed insert and a search by key — which FerretDB
// answers by scanning the whole messages collection. What it holds can
// never go stale (a stored message keeps its seq), and a miss only means
// the slower path. Two generations bound it: when the current one is
// full it becomes the previous one and the older is dropped.
type recentKeys struct {
	mu        sync.Mutex
	cur, prev map[messages.Key]int64
}

const recentKeysPerGeneration = 50_000

func (r *recentKeys) get(k messages.Key) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq, ok := r.cur[k]; ok {
		return seq, true
	}
	seq, ok := r.prev[k]
	return seq, ok
}

func (r *recentKeys) put(k messages.Key, seq int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil || len(r.cur) >= recentKeysPerGeneration {
		r.prev, r.cur = r.cur, make(map[messages.Key]int64)
	}
	r.cur[k] = seq
}
