package messages

import (
	"context"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
)

// GroupCommit is Cursors whose writes of one cursor are shared (a group
// commit): an Advance that finds no write of its cursor in flight waits
// linger for company, then writes; the calls that arrive meanwhile, or
// while that write is in flight, join one next write, which raises the
// cursor to the highest values among them. So the delivered and read
// receipts of a member's devices that arrive together cost one write.
//
// Durability is the same as without it: every Advance returns nil only
// once a write covering its values has succeeded, or the error of that
// write. A call whose values this process has already written (a receipt
// at or behind the cursor, a redelivery) returns nil at once, writing
// nothing. Writes are not tied to one caller's context: a caller that
// gives up leaves the write to finish for the others (within
// groupWriteTimeout).
type GroupCommit struct {
	next   Cursors
	linger func(ctx context.Context, joined func() int)

	mu      sync.Mutex
	busy    map[string]*cursorQueue // cursors with a write lingering, in flight or due
	written map[string]events.Cursor
	closed  bool           // Close was called: follow-ups are written inline
	wg      sync.WaitGroup // writers of follow-up batches (Add under mu)
}

var _ Cursors = (*GroupCommit)(nil)

// groupWriteTimeout bounds one shared write.
const groupWriteTimeout = 10 * time.Second

// maxWritten bounds what GroupCommit remembers of the cursors it wrote:
// when full it forgets everything (which costs a write, never a wrong
// answer).
const maxWritten = 100_000

// NewGroupCommit writes through next; linger is how long a write that
// starts alone waits for others (0: it does not wait).
func NewGroupCommit(next Cursors, linger time.Duration) *GroupCommit {
	return &GroupCommit{next: next, linger: sleeper(linger),
		busy: map[string]*cursorQueue{}, written: map[string]events.Cursor{}}
}

// cursorQueue is one cursor's writes: due is the batch the next write
// takes (nil when nobody waits for one).
type cursorQueue struct {
	conversation, user string
	due                *batch
}

// batch is the values of the calls one write covers.
type batch struct {
	delivered, read int64
	calls           int
	done            chan struct{} // closed when err is set
	err             error
}

func (q *cursorQueue) join(delivered, read int64) *batch {
	if q.due == nil {
		q.due = &batch{done: make(chan struct{})}
	}
	b := q.due
	b.delivered, b.read, b.calls = max(b.delivered, delivered), max(b.read, read), b.calls+1
	return b
}

// Advance joins (or starts) the next write of the cursor and waits for it.
func (g *GroupCommit) Advance(ctx context.Context, conversation, user string, delivered, read int64) error {
	delivered = max(delivered, read)
	if delivered <= 0 {
		return nil
	}
	key := conversation + "/" + user
	g.mu.Lock()
	if w, ok := g.written[key]; ok && delivered <= w.Delivered && read <= w.Read {
		g.mu.Unlock()
		return nil
	}
	if q := g.busy[key]; q != nil {
		b := q.join(delivered, read)
		g.mu.Unlock()
		return b.wait(ctx)
	}
	q := &cursorQueue{conversation: conversation, user: user}
	g.busy[key] = q
	b := q.join(delivered, read)
	g.mu.Unlock()

	g.linger(ctx, func() int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return b.calls
	})
	g.writeDue(context.WithoutCancel(ctx), key, q)
	return b.err
}

// writeDue writes q's due batch, then hands the batch that gathered
// meanwhile, if any, to a goroutine of its own.
func (g *GroupCommit) writeDue(ctx context.Context, key string, q *cursorQueue) {
	g.mu.Lock()
	b := q.due
	q.due = nil
	g.mu.Unlock()

	wctx, cancel := context.WithTimeout(ctx, groupWriteTimeout)
	b.err = g.next.Advance(wctx, q.conversation, q.user, b.delivered, b.read)
	cancel()

	g.mu.Lock()
	if b.err == nil {
		if len(g.written) >= maxWritten {
			g.written = map[string]events.Cursor{}
		}
		w := g.written[key]
		g.written[key] = events.Cursor{User: q.user, Delivered: max(w.Delivered, b.delivered), Read: max(w.Read, b.read)}
	}
	close(b.done)
	more, async := q.due != nil, !g.closed
	if !more {
		delete(g.busy, key)
	} else if async {
		g.wg.Add(1)
	}
	g.mu.Unlock()
	switch {
	case more && async:
		go func() {
			defer g.wg.Done()
			g.writeDue(ctx, key, q)
		}()
	case more:
		g.writeDue(ctx, key, q)
	}
}

func (b *batch) wait(ctx context.Context) error {
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Get reads through.
func (g *GroupCommit) Get(ctx context.Context, conversation string, users []string) ([]events.Cursor, error) {
	return g.next.Get(ctx, conversation, users)
}

// LingerUntil replaces the linger with wait, which returns when a write
// that started alone may go ahead; joined says how many calls it covers so
// far. It is for tests that need receipts to share a write whatever the
// machine's speed. Call it before the first Advance.
func (g *GroupCommit) LingerUntil(wait func(ctx context.Context, joined func() int)) { g.linger = wait }

// Close waits for the follow-up writes in flight; any later one is written
// by the caller whose write came before it.
func (g *GroupCommit) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}

func sleeper(d time.Duration) func(ctx context.Context, joined func() int) {
	return func(ctx context.Context, _ func() int) {
		if d <= 0 {
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}
