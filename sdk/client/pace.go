package client

import "time"

// pacer is a token bucket on the frames a client writes. Connectors limit
// each socket (50 frames/s, burst 100 by default) and close one that keeps
// going over; a client resuming a few hundred conversations would otherwise
// trip it with its syncs alone. Frames beyond the pace wait in order.
type pacer struct {
	rate   float64 // tokens per second; <= 0: no limit
	burst  float64
	tokens float64
	last   time.Time
}

func newPacer(rate float64, burst int) *pacer {
	return &pacer{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// wait is how long until one frame may go (0: now).
func (p *pacer) wait(now time.Time) time.Duration {
	if p.rate <= 0 {
		return 0
	}
	if !p.last.IsZero() {
		p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	}
	p.last = now
	if p.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - p.tokens) / p.rate * float64(time.Second))
}

// take spends one token; call it after wait said 0.
func (p *pacer) take() {
	if p.rate > 0 {
		p.tokens--
	}
}
