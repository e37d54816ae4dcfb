package connector

import "sync"

// tracker starts every goroutine of a Server, so that shutdown can wait for
// all of them in one place (nats-server's startGoRoutine pattern). Sockets'
// readers and writers, the delivery subscription and the presence heartbeat
// all go through it.
type tracker struct {
	mu     sync.Mutex
	wg     sync.WaitGroup
	closed bool
}

// Go runs fn in a new goroutine, unless the tracker is closed (the server is
// past its shutdown point): then it reports false and runs nothing.
func (t *tracker) Go(fn func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		fn()
	}()
	return true
}

// Close refuses new goroutines and waits for the running ones to return.
// Callers must first make them return (cancel their context, close sockets).
func (t *tracker) Close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}
