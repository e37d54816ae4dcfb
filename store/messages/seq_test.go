package messages

import (
	"errors"
	"testing"
)

func TestSearchLastSeq(t *testing.T) {
	for _, c := range []struct{ last, lo, hi int64 }{
		{0, 0, 0}, {1, 0, 0}, {120, 0, 0}, {120, 100, 0}, {120, 120, 0}, {120, 0, 121}, {120, 0, 500}, {7, 3, 8},
	} {
		lookups := 0
		got, err := SearchLastSeq(c.lo, c.hi, func(k int64) (bool, error) { lookups++; return k >= 1 && k <= c.last, nil })
		if err != nil || got != c.last {
			t.Errorf("last %d from lo %d hi %d: got %d %v", c.last, c.lo, c.hi, got, err)
		}
		if c.lo == c.last && c.hi <= 0 && lookups != 1 {
			t.Errorf("lo already the last: %d lookups, want 1", lookups)
		}
	}
	boom := errors.New("boom")
	if _, err := SearchLastSeq(0, 0, func(int64) (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Errorf("lookup error: got %v", err)
	}
}
