package client

import (
	"math/rand/v2"
	"time"
)

// backoff is the delay before retry number attempt (from 1): exponential
// from lo, capped at hi, with "equal jitter" (a random point in the upper
// half), so that many clients cut off at once do not come back in step and
// none retries sooner than half the nominal delay.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + jitter(d/2)
}

// jitter is a random duration in [0, d].
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}
