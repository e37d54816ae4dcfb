package connector

import "sync"

// outFrame is one encoded frame waiting for a socket; typ is for metrics.
type outFrame struct {
	typ  string
	data []byte
}

// outQueue is a socket's bounded outbound queue, bounded in frames and in
// bytes. push never blocks: it fails when the queue is full (the caller then
// closes the socket as a slow consumer) or closed. Idle sockets hold no
// buffer: the slice is released when a large batch has been written, and the
// queue is a slice rather than a 256-slot channel, which would cost every
// idle socket kilobytes.
//
// The byte count covers every frame from push until the writer reports it
// written or dropped (done), so the frames a writer has taken but not yet
// written count too: it is what one socket's backlog holds in memory. It
// never exceeds maxBytes, except that a queue holding nothing takes any one
// frame (a frame larger than the bound is not a slow consumer's fault).
type outQueue struct {
	mu       sync.Mutex
	items    []outFrame
	limit    int // frames
	maxBytes int
	bytes    int // queued or taken, not yet done
	peak     int // highest bytes ever
	closed   bool
}

func newOutQueue(limit, maxBytes int) outQueue {
	return outQueue{limit: limit, maxBytes: maxBytes}
}

// push appends f. It reports whether f was queued and,
// if not, whether that is because the queue is full (not closed).
func (q *outQueue) push(f outFrame) (queued, full bool) {
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return false, false
	case len(q.items) >= q.limit, q.bytes > 0 && q.bytes+len(f.data) > q.maxBytes:
		q.mu.Unlock()
		return false, true
	}
	q.items = append(q.items, f)
	q.bytes += len(f.data)
	q.peak = max(q.peak, q.bytes)
	q.mu.Unlock()
	return true, false
}

// take moves the queued frames into buf (reused by the writer) and returns
// it. Their bytes still count until the writer calls done for them.
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

// done releases the bytes of taken frames the writer has written or dropped.
func (q *outQueue) done(frames []outFrame) {
	n := 0
	for _, f := range frames {
		n += len(f.data)
	}
	q.mu.Lock()
	q.bytes -= n
	q.mu.Unlock()
}

// empty reports whether nothing is queued (taken frames do not count).
func (q *outQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) == 0
}

// sizes reports the bytes held now and the most ever held.
func (q *outQueue) sizes() (bytes, peak int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes, q.peak
}

// close refuses further pushes; what is queued stays for a final flush.
func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}
