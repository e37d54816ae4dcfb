package client

import "time"

// clock is where the loop reads the time and gets its timer from: the
// real clock, or in tests one that moves only when the test moves it, so
// that a debounce window or a timeout is decided by the test, never by how
// fast the machine runs. Socket deadlines (read timeout, write timeout) are
// the network's and stay on the real clock.
type clock interface {
	// Now is the current time; it never goes back.
	Now() time.Time
	// NewTimer returns a stopped timer.
	NewTimer() timer
}

// timer is a one-shot timer with time.Timer's contract as of Go 1.23: C
// delivers at most one value per Reset, once d has passed on the timer's
// clock (at once if d <= 0), and a value not yet received when Reset or
// Stop is called is discarded.
type timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// realClock is the wall clock (time.Now, time.Timer): the default.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer() timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return realTimer{t}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) Stop()                 { r.t.Stop() }
