package function

import (
	"sync"

	"github.com/agentchat/agentchat/sdk/events"
)

// batches lets one goroutine per conversation store at a time inside this
// instance, and lets it store every message of the conversation that
// queued meanwhile in one insert command (a group commit): a busy
// conversation — a big group, a sender with many messages in flight —
// costs one insert per batch instead of one per message, and its messages
// no longer wait in line for each other's round trip. It is not needed for
// correctness (the unique indexes are), but goroutines of one instance
// racing for the same seq would each lose and retry (measured on FerretDB
// before turns were taken: 8 goroutines on one conversation stored 11
// messages/s, one goroutine 83/s), and the seq hint would go stale.
//
// The goroutine whose message arrives first for an idle conversation
// leads: it takes up to maxBatch queued messages (its own first), stores
// them, then hands the lead to the oldest message still queued. Waiting
// ignores the request's context so that a lead is never dropped; the
// leader stores with a deadline of its own (storeBatch).
type batches struct {
	mu    sync.Mutex
	convs map[string][]*pending // queued, oldest first; present while a leader runs
}

// maxBatch bounds one insert command's messages (the driver also splits a
// command that outgrows MongoDB's size limit).
const maxBatch = 64

// pending is one message waiting to be stored.
type pending struct {
	m    events.Message
	lead chan struct{} // closed when this request is to store the next batch
	done chan struct{} // closed when out and err are set
	out  events.Message
	err  error
}

func (p *pending) finish(out events.Message, err error) {
	p.out, p.err = out, err
	close(p.done)
}

func newBatches() *batches { return &batches{convs: make(map[string][]*pending)} }

// join queues m. Wait on the result's lead (then take, store, handOff)
// and done.
func (b *batches) join(m events.Message) *pending {
	p := &pending{m: m, lead: make(chan struct{}), done: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	q, busy := b.convs[m.ConversationID]
	b.convs[m.ConversationID] = append(q, p)
	if !busy {
		close(p.lead)
	}
	return p
}

// take removes the leader's batch from the head of the conversation's
// queue: the leader's own message first.
func (b *batches) take(conversation string) []*pending {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.convs[conversation]
	n := min(len(q), maxBatch)
	batch := q[:n:n]
	b.convs[conversation] = q[n:]
	return batch
}

// handOff passes the lead to the oldest message still queued, or marks the
// conversation idle.
func (b *batches) handOff(conversation string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.convs[conversation]
	if len(q) == 0 {
		delete(b.convs, conversation)
		return
	}
	close(q[0].lead)
}
