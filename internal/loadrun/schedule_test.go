package loadrun

import (
	"context"
	"testing"
	"time"
)

// An open loop's intended send times are start + i/rate, handed round-robin
// to the clients, and handed out whether or not the clients take them (a
// client that never reads does not hold the schedule back).
func TestScheduleIntendedTimes(t *testing.T) {
	const messages, clients, rate = 10, 3, 1e6 // 1 µs apart: no real waiting
	due := make([]chan time.Time, clients)
	for i := range due {
		due[i] = make(chan time.Time, messages)
	}
	start := time.Now()
	schedule(context.Background(), start, rate, messages, due) // returns: nobody reads yet
	for c, ch := range due {
		i := c
		for got := range ch { // closed when the schedule is done
			want := start.Add(time.Duration(i) * time.Microsecond)
			if !got.Equal(want) {
				t.Errorf("client %d, message %d: due %v after start, want %v", c, i, got.Sub(start), want.Sub(start))
			}
			i += clients
		}
		if i < messages {
			t.Errorf("client %d got messages up to %d, want all below %d", c, i-clients, messages)
		}
	}
}

// A schedule whose run ends stops handing out times and closes every
// client's channel, so that the senders return.
func TestScheduleStopsWithItsContext(t *testing.T) {
	due := []chan time.Time{make(chan time.Time, 5)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		schedule(ctx, time.Now(), 0.001, 5, due) // message 1 is due in 1000 s
	}()
	if _, ok := <-due[0]; !ok {
		t.Fatal("message 0 (due at start) was not handed out")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(time.Minute): // a liveness bound
		t.Fatal("schedule did not return after its context ended")
	}
	if _, ok := <-due[0]; ok {
		t.Fatal("a time was handed out after the context ended")
	}
}
