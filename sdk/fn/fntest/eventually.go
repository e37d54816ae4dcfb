package fntest

import (
	"testing"
	"time"
)

// EventuallyWithin bounds Eventually: a liveness bound (something that
// never happens), far above how long any condition takes on a loaded
// machine — the verdict is the condition's, never the clock's.
const EventuallyWithin = 10 * time.Second

// Eventually waits until cond holds, checking it every millisecond, and
// fails the test naming what it waited for when it has not held within
// EventuallyWithin.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(EventuallyWithin)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
