package client

import (
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	p := newPacer(10, 3) // 10 frames/s, burst 3
	t0 := time.Unix(0, 0)
	for i := range 3 {
		if d := p.wait(t0); d != 0 {
			t.Fatalf("burst frame %d waits %v", i, d)
		}
		p.take()
	}
	tests := []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, 100 * time.Millisecond},
		{50 * time.Millisecond, 50 * time.Millisecond},
		{100 * time.Millisecond, 0},
	}
	for _, tt := range tests {
		if got := p.wait(t0.Add(tt.at)); (got - tt.want).Abs() > time.Millisecond {
			t.Errorf("wait at %v = %v, want %v", tt.at, got, tt.want)
		}
	}
	p.take()
	// A long pause refills only up to the burst.
	if d := p.wait(t0.Add(time.Hour)); d != 0 || p.tokens != 3 {
		t.Fatalf("after an hour: wait %v, tokens %v", d, p.tokens)
	}
	if d := newPacer(-1, 0).wait(t0); d != 0 {
		t.Fatalf("unlimited pacer waits %v", d)
	}
}

func TestResumeIsPaced(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, nil, fc.URL)
	cfg.FrameRate, cfg.FrameBurst = 100, 10
	c := dial(t, cfg)
	sc := fc.accept()
	start := time.Now()
	const n = 40
	for i := range n {
		c.Track("conv-"+string(rune('a'+i%26))+string(rune('a'+i/26)), 0)
	}
	for range n {
		sc.expect("sync")
	}
	// 10 at once, then 30 at 100/s: at least 0.3 s.
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Fatalf("%d syncs in %v: not paced", n, took)
	}
}
