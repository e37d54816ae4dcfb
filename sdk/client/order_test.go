package client

import (
	"slices"
	"testing"
	"time"
)

func TestOrderOffer(t *testing.T) {
	tests := []struct {
		name     string
		start    int64
		offers   []int64
		want     []int64 // delivered, in order
		wantLast int64
		wantGap  bool
	}{
		{"in order", 0, []int64{1, 2, 3}, []int64{1, 2, 3}, 3, false},
		{"duplicates dropped", 0, []int64{1, 1, 2, 1, 2, 3, 3}, []int64{1, 2, 3}, 3, false},
		{"out of order is reordered", 0, []int64{2, 3, 1}, []int64{1, 2, 3}, 3, false},
		{"reverse", 0, []int64{5, 4, 3, 2, 1}, []int64{1, 2, 3, 4, 5}, 5, false},
		{"gap is held back", 0, []int64{1, 3, 4}, []int64{1}, 1, true},
		{"gap filled later", 0, []int64{1, 3, 4, 2}, []int64{1, 2, 3, 4}, 4, false},
		{"buffered duplicate", 0, []int64{1, 3, 3, 2}, []int64{1, 2, 3}, 3, false},
		{"before the start is old", 10, []int64{9, 10, 11}, []int64{11}, 11, false},
		{"start gap", 10, []int64{13, 12}, nil, 10, true},
		{"batch after a gap", 0, []int64{1, 4, 2, 3, 4, 5}, []int64{1, 2, 3, 4, 5}, 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrder[int64](tt.start)
			var got []int64
			for _, s := range tt.offers {
				ready, _ := o.offer(s, s)
				got = append(got, ready...)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("delivered %v, want %v", got, tt.want)
			}
			if o.last != tt.wantLast {
				t.Errorf("last %d, want %d", o.last, tt.wantLast)
			}
			if g := o.gap(0); g != tt.wantGap {
				t.Errorf("gap %v, want %v", g, tt.wantGap)
			}
		})
	}
}

func TestOrderFresh(t *testing.T) {
	o := newOrder[int](0)
	for _, tc := range []struct {
		seq  int64
		want bool
	}{{2, true}, {2, false}, {1, true}, {1, false}, {2, false}, {3, true}} {
		if _, got := o.offer(tc.seq, 0); got != tc.want {
			t.Errorf("offer(%d) fresh = %v, want %v", tc.seq, got, tc.want)
		}
	}
}

func TestOrderGapFromSeen(t *testing.T) {
	o := newOrder[int](0)
	o.offer(1, 1)
	tests := []struct {
		seen int64
		want bool
	}{{0, false}, {1, false}, {2, true}, {100, true}}
	for _, tt := range tests {
		if got := o.gap(tt.seen); got != tt.want {
			t.Errorf("gap(seen=%d) = %v, want %v", tt.seen, got, tt.want)
		}
	}
}

func TestOrderSkipTo(t *testing.T) {
	tests := []struct {
		name     string
		offers   []int64
		skip     int64
		want     []int64
		wantLast int64
	}{
		{"forward over nothing", nil, 5, nil, 5},
		{"drops buffered below", []int64{3, 4}, 4, nil, 4},
		{"releases what follows", []int64{3, 6, 7}, 5, []int64{6, 7}, 7},
		{"backwards is ignored", []int64{1, 2}, 1, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrder[int64](0)
			for _, s := range tt.offers {
				o.offer(s, s)
			}
			got := o.skipTo(tt.skip)
			if !slices.Equal(got, tt.want) {
				t.Errorf("released %v, want %v", got, tt.want)
			}
			if o.last != tt.wantLast {
				t.Errorf("last %d, want %d", o.last, tt.wantLast)
			}
		})
	}
}

func TestOrderPendingIsBounded(t *testing.T) {
	o := newOrder[int](0)
	for s := int64(2); s < maxPending+100; s++ {
		o.offer(s, 0)
	}
	if got := len(o.pending); got != maxPending {
		t.Fatalf("pending %d, want the cap %d", got, maxPending)
	}
	ready, _ := o.offer(1, 0)
	if got, want := len(ready), maxPending+1; got != want {
		t.Fatalf("released %d, want %d", got, want)
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, time.Second
	for attempt := 1; attempt < 10; attempt++ {
		nominal := min(lo<<(attempt-1), hi)
		for range 50 {
			d := backoff(attempt, lo, hi)
			if d < nominal/2 || d > nominal {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", attempt, d, nominal/2, nominal)
			}
		}
	}
}

func TestOrderHole(t *testing.T) {
	o := newOrder[int](3)
	if h := o.hole(3); h != 0 {
		t.Errorf("no gap: hole %d", h)
	}
	if h := o.hole(9); h != 6 {
		t.Errorf("nothing buffered, seen 9: hole %d, want 6", h)
	}
	o.offer(7, 7)
	o.offer(6, 6)
	if h := o.hole(9); h != 2 {
		t.Errorf("6 and 7 buffered: hole %d, want 2 (4, 5)", h)
	}
}
