package connector

import "sync"

// outFrame is one encoded frame waiting for a socket; typ is for metrics.
type outFrame struct {
	typ  string
	data []byte
}

// outQueue is a socket's bounded outbound queue. push never blocks: it
// fails when the queue is full (the caller then closes the socket as a slow
// consumer) or closed. Idle sockets hold no buffer: the slice is released
// when a large batch has been written, and the queue is a slice rather than
// a 256-slot channel, which would cost every idle socket kilobytes.
type outQueue struct {
	mu     sync.Mutex
	items  []outFrame
	limit  int
	closed bool
	ready  chan struct{} // one pending wake-up for the writer
}

func newOutQueue(limit int) outQueue {
	return outQueue{limit: limit, ready: make(chan struct{}, 1)}
}

// push appends f and wakes the writer. It reports whether f was queued:
// false when the queue is full or closed.
func (q *outQueue) push(f outFrame) (queued, full bool) {
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return false, false
	case len(q.items) >= q.limit:
		q.mu.Unlock()
		return false, true
	}
	q.items = append(q.items, f)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true, false
}

// take moves the queued frames into buf (reused by the writer) and returns it.
func (q *outQueue) take(buf []outFrame) []outFrame {
	q.mu.Lock()
	buf = append(buf[:0], q.items...)
	clear(q.items)
	if cap(q.items) > 32 {
		q.items = nil
	} else {
		q.items = q.items[:0]
	}
	q.mu.Unlock()
	return buf
}

// close refuses further pushes; what is queued stays for a final flush.
func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}
